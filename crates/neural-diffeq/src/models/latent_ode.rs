//! Latent ODE with an ODE-RNN encoder (Rubanova, Chen & Duvenaud 2019): a variational model of
//! irregularly sampled time series whose latent state follows a neural ODE.
//!
//! - **Encoder (ODE-RNN)**, run backwards in time over the batch's union grid `ts`: between
//!   observation times the hidden state follows `dh/dt = f_enc(h)`; at `t_k` a GRU cell reads
//!   `[x_k, mask_k]` (missing values as 0) and updates `h` for the sequences that observed
//!   anything there (the others keep their evolved `h`). `q(z0) = N(μ(h(t_0)), σ(h(t_0))²)`.
//! - **Decoder**: `dz/dt = f_dec(z)` from `z0 ~ q(z0)`, solved once with the adaptive solver and
//!   saved at every `t_k` (dense output, no grid); `x̂_k = W z(t_k) + b`.
//! - **ELBO** `= Σ_{observed} log N(x; x̂, σ²) − KL(q(z0) ‖ N(0, I))`.

use super::latent_sde::ElboOutput;
use super::observations::Observed;
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt};
use crate::solver::ExplicitRk;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, nn::RNN, Tensor};

/// The configuration of a [`LatentOde`] (`context_dim` is the ODE-RNN's hidden state).
pub type LatentOdeConfig = super::latent_sde::LatentConfig;

/// The model.
#[derive(Debug)]
pub struct LatentOde {
    cfg: LatentOdeConfig,
    enc_field: Mlp,
    enc_cell: nn::GRU,
    qz0: nn::Linear,
    dec_field: Mlp,
    decoder: nn::Linear,
}

impl LatentOde {
    /// Builds the model under `path`.
    ///
    /// # Errors
    /// A dimension or `obs_std` that is not > 0.
    pub fn new(path: &nn::Path<'_>, cfg: LatentOdeConfig) -> Result<Self> {
        cfg.check()?;
        let field = |p: nn::Path<'_>, d: i64| {
            Mlp::new(&p, &[d, cfg.hidden, cfg.hidden, d], MlpConfig::default().activation(Activation::Tanh))
        };
        Ok(LatentOde {
            enc_field: field(path / "enc_field", cfg.context_dim)?,
            enc_cell: nn::gru(path / "enc_cell", 2 * cfg.obs_dim, cfg.context_dim, Default::default()),
            qz0: nn::linear(path / "qz0", cfg.context_dim, 2 * cfg.latent_dim, Default::default()),
            dec_field: field(path / "dec_field", cfg.latent_dim)?,
            decoder: nn::linear(path / "decoder", cfg.latent_dim, cfg.obs_dim, Default::default()),
            cfg,
        })
    }

    /// The ODE-RNN's summary `h(t_0)` `[B, context_dim]` of the observations, read from the last time
    /// back to the first.
    fn encode(&self, obs: &Observed<'_>, control: &StepControl) -> Result<Tensor> {
        let (b, t) = (obs.values.size()[0], obs.values.size()[1]);
        let field = |_t: f64, h: &Tensor| Ok(self.enc_field.forward_t(h, false));
        let mut h = Tensor::zeros([b, self.cfg.context_dim], (obs.values.kind(), obs.values.device()));
        for k in (0..t as usize).rev() {
            if k + 1 < t as usize {
                let span = (obs.ts[k + 1], obs.ts[k]);
                h = solve(&field, &ExplicitRk::dopri5(), span, &h, control, &SaveAt::t1())?
                    .ys
                    .pop()
                    .expect("t1 saved");
            }
            let (x, m) = (obs.values.select(1, k as i64), obs.mask.select(1, k as i64));
            let updated = self
                .enc_cell
                .step(&Tensor::cat(&[&x, &m], 1), &nn::GRUState(h.unsqueeze(0)))
                .0
                .squeeze_dim(0);
            // sequences without any value at t_k keep their state
            let any = m.amax([1].as_slice(), true).gt(0.5);
            h = updated.where_self(&any, &h);
        }
        Ok(h)
    }

    /// Decoded means `[B, T, obs_dim]` at the times `ts` (strictly increasing) from latent initial
    /// states `z0 [B, latent_dim]`, by one adaptive Dopri5 solve saved at every time.
    ///
    /// # Errors
    /// `ts` shorter than 2 or not increasing, `z0` of the wrong width, errors of the solve.
    pub fn decode(&self, z0: &Tensor, ts: &[f64], control: &StepControl) -> Result<Tensor> {
        if ts.len() < 2 || ts.windows(2).any(|w| !(w[0] < w[1])) || ts.iter().any(|t| !t.is_finite()) {
            return Err(invalid(
                "ts",
                format!("{ts:?}"),
                "need at least two finite, strictly increasing times",
            ));
        }
        match z0.size().as_slice() {
            [_, l] if *l == self.cfg.latent_dim => {}
            s => {
                return Err(invalid(
                    "z0",
                    format!("{s:?}"),
                    &format!("expected [batch, {}]", self.cfg.latent_dim),
                ))
            }
        }
        let field = |_t: f64, z: &Tensor| Ok(self.dec_field.forward_t(z, false));
        let span = (ts[0], ts[ts.len() - 1]);
        let sol = solve(&field, &ExplicitRk::dopri5(), span, z0, control, &SaveAt::ts(ts.to_vec()))?;
        Ok(Tensor::stack(&sol.ys, 1).apply(&self.decoder))
    }

    /// The ELBO of `xs [B, T, obs_dim]` at the times `ts` (strictly increasing, any spacing; NaN
    /// marks a value a sequence did not observe), one sample of `z0`, every solve adaptive Dopri5
    /// under `control`.
    ///
    /// # Errors
    /// `ts` not finite and strictly increasing or shorter than 2; `xs` not `[B, T, obs_dim]` or
    /// with infinite entries; errors of the solves.
    pub fn elbo(&self, ts: &[f64], xs: &Tensor, control: &StepControl) -> Result<ElboOutput> {
        let obs = Observed::new(ts, xs, self.cfg.obs_dim)?;
        let l = self.cfg.latent_dim;
        let q = self.encode(&obs, control)?.apply(&self.qz0);
        let (qm, qls) = (q.narrow(1, 0, l), q.narrow(1, l, l));
        let z0 = &qm + qls.exp() * Tensor::randn(qm.size(), (qm.kind(), qm.device()));
        let recon = self.decode(&z0, ts, control)?;
        let ll = obs.gaussian_log_likelihood(&recon, self.cfg.obs_std);
        let kl = ((qls.exp().square() + qm.square()) * 0.5 - &qls - 0.5).sum_dim_intlist(
            [1].as_slice(),
            false,
            qm.kind(),
        );
        Ok(ElboOutput::new(&ll, &kl, recon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn model() -> (nn::VarStore, LatentOde) {
        core_tensor::seed::seed_torch(2);
        let mut vs = nn::VarStore::new(Device::Cpu);
        let m = LatentOde::new(&vs.root(), LatentOdeConfig::default()).unwrap();
        vs.double();
        (vs, m)
    }

    /// The decoder's one solve saved at irregular times agrees with separate solves to each time,
    /// so observations are read at their own times, never moved onto a grid.
    #[test]
    fn decoding_at_irregular_times_matches_separate_solves() {
        let (_vs, m) = model();
        let ts = [0.0, 0.03, 0.4, 0.41, 1.7];
        let z0 = Tensor::randn([3, 4], (Kind::Double, Device::Cpu));
        let c = StepControl::adaptive(1e-10, 1e-10);
        let all = m.decode(&z0, &ts, &c).unwrap();
        for (k, &t) in ts.iter().enumerate().skip(1) {
            let one = m.decode(&z0, &[0.0, t], &c).unwrap().select(1, 1);
            let d = (all.select(1, k as i64) - one).abs().max().double_value(&[]);
            assert!(d < 1e-8, "t = {t}: {d}");
        }
        assert!(m.decode(&z0, &[0.0, 0.0, 1.0], &c).is_err());
        assert!(m.decode(&Tensor::zeros([3, 2], (Kind::Double, Device::Cpu)), &ts, &c).is_err());
    }

    /// A value the mask hides changes nothing, the likelihood covers the observed values only, a
    /// time point nobody observed leaves the encoder's state as the ODE carried it, and the ELBO
    /// has gradients for every parameter.
    #[test]
    fn the_elbo_honours_the_mask_and_differentiates() {
        let (vs, m) = model();
        let ts = [0.0, 0.2, 0.25, 0.9];
        let c = StepControl::adaptive(1e-7, 1e-7);
        let base = Tensor::randn([2, 4, 1], (Kind::Double, Device::Cpu));
        let with = |x: &Tensor, v: f64| {
            let x = x.copy();
            let _ = x.get(0).get(2).fill_(v);
            x
        };
        let run = |x: &Tensor| {
            core_tensor::seed::seed_torch(9);
            m.elbo(&ts, x, &c).unwrap()
        };
        let (a, b) = (run(&with(&base, f64::NAN)), run(&with(&with(&base, 3.0), f64::NAN)));
        assert_eq!(a.elbo.double_value(&[]), b.elbo.double_value(&[]));
        assert_ne!(a.elbo.double_value(&[]), run(&with(&base, 3.0)).elbo.double_value(&[]));
        // the likelihood by hand from the reconstruction
        let x = with(&base, f64::NAN);
        let s = 0.1;
        let per = (x.nan_to_num(0.0, None, None) - &a.reconstruction).square() * (-0.5 / (s * s))
            - (s * (2.0 * std::f64::consts::PI).sqrt()).ln();
        let ll = per.masked_fill(&x.isnan(), 0.0).sum(Kind::Double).double_value(&[]) / 2.0;
        assert!((ll - a.log_likelihood).abs() < 1e-9 * ll.abs().max(1.0), "{ll} vs {}", a.log_likelihood);
        // a time nobody observed: the encoder carries its state through it by the ODE alone, so
        // the ELBO equals that of the batch without that time (to the solver's tolerance)
        let column = base.copy();
        let _ = column.select(1, 2).fill_(f64::NAN);
        let gap = run(&column).elbo.double_value(&[]);
        core_tensor::seed::seed_torch(9);
        let short = Tensor::cat(&[base.narrow(1, 0, 2), base.narrow(1, 3, 1)], 1);
        let without = m.elbo(&[0.0, 0.2, 0.9], &short, &c).unwrap().elbo.double_value(&[]);
        assert!((gap - without).abs() < 1e-5 * without.abs(), "{gap} vs {without}");
        (-&a.elbo).backward();
        assert!(vs.trainable_variables().iter().all(|v| v.grad().defined()));
        assert!(m.elbo(&ts, &Tensor::zeros([2, 3, 1], (Kind::Double, Device::Cpu)), &c).is_err());
        assert!(LatentOde::new(
            &vs.root().sub("y"),
            LatentOdeConfig { context_dim: 0, ..Default::default() }
        )
        .is_err());
    }
}
