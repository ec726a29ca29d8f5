//! IntensityFree's log-normal mixture (Shchur et al. 2020).

use super::{check_tau, per_interval, Decoder};
use crate::error::Result;
use crate::neural::encoder::History;
use tch::{nn, Tensor};

/// The gap `τ` to the next event has the density of a mixture of `M` log-normals,
/// `p(τ) = Σ_m w_m LogNormal(τ; μ_m, s_m)` with `w = softmax(V_w h)`, `μ = V_μ h`,
/// `ln s = clamp(V_s h, −5, 3)` (`h [B, N, H]`, `τ` in the data's time unit); the mark is drawn
/// independently, `p(k | h) = softmax(V h)_k`.
///
/// Intensity `λ(τ) = p(τ) / S(τ)` and exact compensator `Λ(τ) = −ln S(τ)` with
/// `S(τ) = Σ_m w_m Φ(−(ln τ − μ_m)/s_m)`, evaluated in log space (`log_ndtr`, `logsumexp`).
#[derive(Debug)]
pub struct LogNormalMixtureDecoder {
    params: nn::Linear,
    marks: nn::Linear,
    m: i64,
    k: usize,
}

impl LogNormalMixtureDecoder {
    /// Decoder over contexts of width `h`, `k` marks and `m` components.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize, m: i64) -> Self {
        LogNormalMixtureDecoder {
            params: nn::linear(path / "params", h, 3 * m, Default::default()),
            marks: nn::linear(path / "marks", h, k as i64, Default::default()),
            m,
            k,
        }
    }

    /// `(ln w, μ, ln s, z)` broadcast against `tau [..]`, each `[.., M]`.
    fn parts(&self, h: &History, tau: &Tensor, extra_dim: bool) -> (Tensor, Tensor, Tensor, Tensor) {
        let p = h.ctx.apply(&self.params);
        let p = if extra_dim { per_interval(p) } else { p };
        let c = p.split(self.m, -1);
        let log_w = c[0].log_softmax(-1, p.kind());
        let mu = c[1].shallow_clone();
        let log_s = c[2].clamp(-5.0, 3.0);
        let log_tau = tau.clamp_min(1e-12).log().unsqueeze(-1);
        let z = (log_tau - &mu) * (-&log_s).exp();
        (log_w, mu, log_s, z)
    }

    fn log_survival(log_w: &Tensor, z: &Tensor) -> Tensor {
        (log_w + (-z).special_log_ndtr()).logsumexp(-1, false)
    }
}

impl Decoder for LogNormalMixtureDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let (log_w, _mu, log_s, z) = self.parts(h, tau, true);
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let log_pdf_log = (&log_w - &log_s - half_log_2pi - z.square() * 0.5).logsumexp(-1, false); // density of ln τ
        let log_pdf = log_pdf_log - tau.clamp_min(1e-12).log();
        let log_total = log_pdf - Self::log_survival(&log_w, &z);
        let log_p = per_interval(h.ctx.apply(&self.marks).log_softmax(-1, h.ctx.kind()));
        Ok(log_total.unsqueeze(-1) + log_p)
    }
    fn compensator(&self, h: &History, tau: &Tensor) -> Option<Result<Tensor>> {
        let (log_w, _, _, z) = self.parts(h, tau, false);
        Some(Ok(-Self::log_survival(&log_w, &z)))
    }
}
