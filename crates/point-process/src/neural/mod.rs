//! Neural temporal point processes on libtorch: a history encoder followed by an intensity or
//! density decoder ([`NeuralTpp`]), the seven models of the EasyTPP zoo as presets ([`Model`]),
//! exact or numerical likelihoods, sampling, metrics and training.
//!
//! Conventions. A batch holds `B` sequences padded to `L` events ([`TppBatch`]); they define
//! `N = L + 1` intervals per sequence: interval `i < len` runs from the previous event (or the
//! window start) to event `i`, interval `len` is the *tail* from the last event to the window end.
//! The encoder gives each interval a context that depends only on the events strictly before
//! it. The log-likelihood of a sequence on `[0, T]` is
//!
//! `log L = Σ_i ln λ_{m_i}(t_i) − ∫_0^T Σ_k λ_k(t) dt`,
//!
//! split per event into a *time* part `ln λ(t_i) − Λ(t_{i−1}, t_i)` (`λ = Σ_k λ_k`; the tail's
//! compensator is added to it) and a *mark* part `ln λ_{m_i}(t_i) − ln λ(t_i) = ln p(m_i | t_i)`.
//! Compensators are exact for the exponential, log-normal-mixture and cumulative-hazard decoders
//! and integrated by Gauss–Legendre quadrature or Monte Carlo otherwise.
//!
//! ```
//! use point_process::neural::{Model, NeuralTpp, TppBatch, TppConfig};
//! use point_process::data::EventSequence;
//! use tch::{nn, Kind};
//!
//! # fn main() -> point_process::Result<()> {
//! let vs = nn::VarStore::new(core_tensor::device::device());
//! let model = NeuralTpp::new(&vs.root(), TppConfig::new(Model::Rmtpp, 2).hidden(8))?;
//! let seq = EventSequence::new(vec![0.5, 1.2, 2.0], Some(vec![0, 1, 0]), 2, 0.0, 3.0)?;
//! let batch = TppBatch::from_sequences(&[seq], Kind::Float, vs.device())?;
//! let ll = model.log_likelihood(&batch, model.config().eval_integration, false)?;
//! assert!(ll.total().is_finite());
//! # Ok(())
//! # }
//! ```

pub mod batch;
pub mod benchmark;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod metrics;
pub(crate) mod real_data;
pub mod sample;
pub(crate) mod suite;
pub mod train;

#[cfg(test)]
mod tests;

pub use batch::TppBatch;
pub use config::{DecoderKind, EncoderKind, Integration, Model, TppConfig};
pub use decoder::Decoder;
pub use encoder::{Encoder, History};
pub use metrics::{evaluate, EvalConfig, TppMetrics};
pub use sample::{generate, sample_next, SampleConfig};
pub use train::{train, SequenceLoader, TppTrainConfig};

use crate::error::{invalid, Error, Result};
use tch::{nn, Kind, Tensor};

/// A neural temporal point process: [`Encoder`] → [`Decoder`].
#[derive(Debug)]
pub struct NeuralTpp {
    config: TppConfig,
    encoder: Box<dyn Encoder>,
    decoder: Box<dyn Decoder>,
}

/// Per-interval terms of the log-likelihood of a batch (`[B, N]`, `N = L + 1`).
#[derive(Debug)]
pub struct LogLikelihood {
    /// Time part: `ln λ(t_i) − Λ` over the scored part of each interval (tail included), 0 at
    /// inactive intervals.
    pub time: Tensor,
    /// Mark part `ln p(m_i | t_i, history)` at scored events, 0 elsewhere.
    pub mark: Tensor,
    /// Compensator over the scored part of each interval.
    pub compensator: Tensor,
    /// `ln λ_k` at the end of every interval, `[B, N, K]` (meaningful where `scored_event`).
    pub log_intensity: Tensor,
    /// `true` where the interval ends at a scored event.
    pub scored_event: Tensor,
    /// Number of scored events in the batch.
    pub events: i64,
}

impl LogLikelihood {
    /// Log-likelihood of each sequence `[B]`.
    pub fn per_sequence(&self) -> Tensor {
        (&self.time + &self.mark).sum_dim_intlist(1, false, self.time.kind())
    }
    /// Total log-likelihood of the batch.
    pub fn total(&self) -> f64 {
        self.per_sequence().sum(Kind::Double).double_value(&[])
    }
    /// Mean negative log-likelihood per scored event (a scalar tensor, graph attached).
    pub fn nll_per_event(&self) -> Tensor {
        -(&self.time + &self.mark).sum(self.time.kind()) / (self.events.max(1) as f64)
    }
}

impl NeuralTpp {
    /// Builds the encoder and decoder of `config` under `path` (variables `encoder.*`,
    /// `decoder.*`).
    pub fn new(path: &nn::Path<'_>, config: TppConfig) -> Result<Self> {
        config.validate()?;
        let encoder = encoder::build(&(path / "encoder"), &config)?;
        let decoder = decoder::build(&(path / "decoder"), &config, encoder.as_ref())?;
        Ok(NeuralTpp { config, encoder, decoder })
    }

    /// Combines any encoder and decoder (for components outside the presets); `config` supplies
    /// the mark count and integration settings.
    pub fn from_parts(
        config: TppConfig,
        encoder: Box<dyn Encoder>,
        decoder: Box<dyn Decoder>,
    ) -> Result<Self> {
        config.train_integration.validate()?;
        config.eval_integration.validate()?;
        if decoder.num_marks() != config.num_marks {
            return Err(invalid(
                "decoder",
                format!("{} marks", decoder.num_marks()),
                &format!("config has num_marks = {}", config.num_marks),
            ));
        }
        Ok(NeuralTpp { config, encoder, decoder })
    }

    /// The configuration.
    pub fn config(&self) -> &TppConfig {
        &self.config
    }

    /// Number of marks K.
    pub fn num_marks(&self) -> usize {
        self.config.num_marks
    }

    /// The decoder.
    pub fn decoder(&self) -> &dyn Decoder {
        self.decoder.as_ref()
    }

    fn check_batch(&self, batch: &TppBatch) -> Result<()> {
        if batch.num_marks != self.num_marks() {
            return Err(invalid(
                "batch.num_marks",
                batch.num_marks,
                &format!("the model has {} marks", self.num_marks()),
            ));
        }
        if let Some(k) = self.encoder.kind() {
            if k != batch.kind() {
                return Err(invalid(
                    "batch",
                    format!("{:?} tensors", batch.kind()),
                    &format!("the model's parameters are {k:?}"),
                ));
            }
        }
        Ok(())
    }

    /// Encodes the history of every interval.
    pub fn encode(&self, batch: &TppBatch, train: bool) -> Result<History> {
        self.check_batch(batch)?;
        self.encoder.encode(batch, train)
    }

    /// `Λ(a, b) = ∫_a^b Σ_k λ_k(t_{i−1} + τ) dτ` per interval (`a, b [B, N]`, elapsed times):
    /// exact when the decoder has a closed form, else by `integration`.
    pub fn compensator(
        &self,
        h: &History,
        a: &Tensor,
        b: &Tensor,
        integration: Integration,
    ) -> Result<Tensor> {
        match self.decoder.compensator(h, b) {
            Some(cb) => {
                let ca = self.decoder.compensator(h, a).expect("closed form at both ends")?;
                Ok(cb? - ca)
            }
            None => self.integrate(h, a, b, integration),
        }
    }

    /// Numerical compensator `∫_a^b Σ_k λ_k` by `integration`, whatever the decoder.
    pub fn integrate(&self, h: &History, a: &Tensor, b: &Tensor, integration: Integration) -> Result<Tensor> {
        integration.validate()?;
        if a.dim() != 2 || b.size() != a.size() {
            return Err(Error::Core(core_tensor::Error::shape(
                "a, b",
                "two [batch, events] tensors",
                (a.size(), b.size()),
            )));
        }
        let (kind, dev) = (a.kind(), a.device());
        let width = b - a;
        let (u, w) = match integration {
            Integration::GaussLegendre { panels } => {
                let mut u = Vec::with_capacity(16 * panels);
                let mut w = Vec::with_capacity(16 * panels);
                for p in 0..panels {
                    let c = (p as f64 + 0.5) / panels as f64;
                    for &(x, wx) in &crate::poisson::GL16 {
                        for sgn in [-1.0, 1.0] {
                            u.push(c + sgn * 0.5 * x / panels as f64);
                            w.push(0.5 * wx / panels as f64);
                        }
                    }
                }
                let s = u.len() as i64;
                (
                    Tensor::from_slice(&u).to_kind(kind).to(dev).view([1, 1, s]),
                    Some(Tensor::from_slice(&w).to_kind(kind).to(dev).view([1, 1, s])),
                )
            }
            Integration::MonteCarlo { samples } => {
                let size = [a.size()[0], a.size()[1], samples as i64];
                (Tensor::rand(size, (kind, dev)), None)
            }
        };
        let tau = a.unsqueeze(-1) + width.unsqueeze(-1) * u;
        let lam = self.decoder.log_intensity(h, &tau)?.logsumexp(-1, false).exp(); // [B, N, S]
        let mean = match w {
            Some(w) => (lam * w).sum_dim_intlist(-1, false, kind),
            None => lam.mean_dim(-1, false, kind),
        };
        Ok(width * mean)
    }

    /// Log-likelihood terms of a batch. Compensators without closed form use `integration`.
    pub fn log_likelihood(
        &self,
        batch: &TppBatch,
        integration: Integration,
        train: bool,
    ) -> Result<LogLikelihood> {
        let h = self.encode(batch, train)?;
        let iv = batch.intervals();
        let safe = iv.length.where_self(&iv.active, &iv.length.ones_like());
        let logl = self.decoder.log_intensity(&h, &safe.unsqueeze(-1))?.squeeze_dim(2); // [B, N, K]
        let log_total = logl.logsumexp(-1, false);
        let log_mark = logl.gather(-1, &iv.marks.unsqueeze(-1), false).squeeze_dim(-1) - &log_total;
        let zero = log_total.zeros_like();
        let comp = self.compensator(&h, &iv.lower, &iv.length, integration)?.where_self(&iv.active, &zero);
        let time = log_total.where_self(&iv.scored_event, &zero) - &comp;
        let mark = log_mark.where_self(&iv.scored_event, &zero);
        let events = iv.scored_event.sum(Kind::Int64).int64_value(&[]);
        Ok(LogLikelihood {
            time,
            mark,
            compensator: comp,
            log_intensity: logl,
            scored_event: iv.scored_event,
            events,
        })
    }

    /// Training loss: mean NLL per scored event with the training integration.
    pub fn loss(&self, batch: &TppBatch, train: bool) -> Result<Tensor> {
        Ok(self.log_likelihood(batch, self.config.train_integration, train)?.nll_per_event())
    }

    /// Point predictions of the next event of every interval from its start: the expected gap
    /// `E[τ] = ∫_0^H S(τ) dτ` (`[B, N]`, truncated at the horizon `H`) and the mark distribution
    /// marginalised over the time of the event, `P(k) = ∫_0^H S(τ) λ_k(τ) dτ` normalised
    /// (`[B, N, K]`), with `S(τ) = exp(−Λ(τ))`, all by the trapezoid rule on `grid` points of
    /// `[0, H]`.
    pub fn predict_next(&self, h: &History, horizon: f64, grid: usize) -> Result<(Tensor, Tensor)> {
        if !(horizon.is_finite() && horizon > 0.0) {
            return Err(invalid("horizon", horizon, "must be finite and > 0"));
        }
        if grid < 2 {
            return Err(invalid("grid", grid, "must be >= 2"));
        }
        let (kind, dev) = (h.prev_times.kind(), h.prev_times.device());
        let (b, n) = (h.prev_times.size()[0], h.prev_times.size()[1]);
        let taus = Tensor::linspace(0.0, horizon, grid as i64, (kind, dev));
        let mut parts = Vec::new();
        for c in taus.split(64, 0) {
            let s = c.size()[0];
            let tau = c.view([1, 1, s]).expand([b, n, s], false).contiguous();
            parts.push(self.decoder.log_intensity(h, &tau)?.exp().detach());
        }
        let lam_k = Tensor::cat(&parts, 2); // [B, N, G, K]
        let lam = lam_k.sum_dim_intlist(-1, false, kind);
        let dx = horizon / (grid - 1) as f64;
        let g = grid as i64;
        let trapz = |y: &Tensor| {
            let ends = y.narrow(2, 0, 1) + y.narrow(2, g - 1, 1);
            (y.sum_dim_intlist(2, false, kind) - ends.squeeze_dim(2) * 0.5) * dx
        };
        let mid = (lam.narrow(-1, 0, g - 1) + lam.narrow(-1, 1, g - 1)) * (0.5 * dx);
        let cum = Tensor::cat(&[Tensor::zeros([b, n, 1], (kind, dev)), mid.cumsum(-1, kind)], -1);
        let surv = (-cum).exp(); // [B, N, G]
        let gap = trapz(&surv);
        let pk = trapz(&(surv.unsqueeze(-1) * lam_k));
        let pk = &pk / pk.sum_dim_intlist(-1, true, kind).clamp_min(1e-30);
        Ok((gap, pk))
    }

    /// Intensities `λ_k(t)` at query times `query [B, Q]` (relative to each window's start, any
    /// order), each conditioned only on the events strictly before it: `[B, Q, K]`.
    pub fn intensity(&self, batch: &TppBatch, query: &Tensor) -> Result<Tensor> {
        let b = batch.batch_size();
        let (qb, _q) = query
            .size2()
            .map_err(|_| crate::Error::Core(core_tensor::Error::shape("query", "[B, Q]", query.size())))?;
        if qb != b {
            return Err(crate::Error::Core(core_tensor::Error::shape(
                "query",
                format!("[{b}, Q]"),
                query.size(),
            )));
        }
        let qd = query.to_kind(batch.kind());
        let finite = qd.isfinite().all().int64_value(&[]) == 1;
        if !finite || qd.lt(0.0).any().int64_value(&[]) == 1 {
            return Err(invalid(
                "query",
                "non-finite or negative time",
                "query times must be finite and >= 0",
            ));
        }
        let h = self.encode(batch, false)?;
        let before =
            batch.times.unsqueeze(1).lt_tensor(&qd.unsqueeze(-1)).logical_and(&batch.mask.unsqueeze(1));
        let idx = before.sum_dim_intlist(-1, false, Kind::Int64); // [B, Q] interval index
        let g = h.gather(&idx)?;
        let tau = &qd - &g.prev_times;
        Ok(self.decoder.log_intensity(&g, &tau.unsqueeze(-1))?.squeeze_dim(2).exp())
    }
}
