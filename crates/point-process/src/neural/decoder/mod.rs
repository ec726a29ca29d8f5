//! Decoders: conditional intensities `λ_k(t_{i−1} + τ | history)` of the next event given an
//! interval's context, with closed-form compensators where the parameterisation has one.

mod attention;
mod cumhazard;
mod exponential;
mod intensity;
mod lognormal;

pub use attention::ContinuousAttentionDecoder;
pub use cumhazard::CumulativeHazardDecoder;
pub use exponential::ExponentialDecoder;
pub use intensity::{CtLstmDecoder, NeuralIntensityDecoder, SahpDecoder, ThpDecoder};
pub use lognormal::LogNormalMixtureDecoder;

use super::config::{DecoderKind, TppConfig};
use super::encoder::{Encoder, History};
use crate::error::Result;
use tch::{nn, Tensor};

/// A decoder of the next event.
///
/// Shapes: contexts `[B, N, H]` in the [`History`], elapsed times `τ ≥ 0` since each interval's
/// start, `[B, N, S]` (`S` evaluation points per interval) or `[B, N]`.
pub trait Decoder: std::fmt::Debug + Send {
    /// Number of marks K.
    fn num_marks(&self) -> usize;
    /// `ln λ_k(t_{i−1} + τ)` for every mark: `tau [B, N, S]` → `[B, N, S, K]`.
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor>;
    /// Closed-form compensator `Λ(τ) = ∫_0^τ Σ_k λ_k`, `tau [B, N]` → `[B, N]`; `None` when the
    /// decoder has none (it is then integrated numerically).
    fn compensator(&self, _h: &History, _tau: &Tensor) -> Option<Result<Tensor>> {
        None
    }
    /// An upper bound of `Σ_k λ_k(t_{i−1} + τ)` valid for every `τ ∈ [a, b]`, `a, b [B, N]` →
    /// `[B, N]`; `None` when the decoder has no cheap valid bound (sampling then inverts the
    /// compensator instead of thinning).
    fn intensity_bound(&self, _h: &History, _a: &Tensor, _b: &Tensor) -> Option<Result<Tensor>> {
        None
    }
}

/// Builds the decoder of `cfg` on top of `encoder`.
pub(crate) fn build(path: &nn::Path<'_>, cfg: &TppConfig, encoder: &dyn Encoder) -> Result<Box<dyn Decoder>> {
    let (h, k) = (encoder.out_dim(), cfg.num_marks);
    Ok(match cfg.decoder {
        DecoderKind::Exponential => Box::new(ExponentialDecoder::new(path, h, k)),
        DecoderKind::LogNormalMixture => Box::new(LogNormalMixtureDecoder::new(path, h, k, cfg.components)),
        DecoderKind::CumulativeHazard => Box::new(CumulativeHazardDecoder::new(path, h, k, cfg.hidden)),
        DecoderKind::NeuralIntensity => Box::new(NeuralIntensityDecoder::new(path, h, k, cfg.hidden)?),
        DecoderKind::Sahp => Box::new(SahpDecoder::new(path, h, k)),
        DecoderKind::Thp => Box::new(ThpDecoder::new(path, h, k)),
        DecoderKind::CtLstm => Box::new(CtLstmDecoder::new(path, h / 4, k)),
        DecoderKind::ContinuousAttention => {
            Box::new(ContinuousAttentionDecoder::new(path, h, encoder.event_dim(), k, cfg.hidden)?)
        }
    })
}

/// Checks that `tau` is `[B, N, S]` for contexts `[B, N, H]`.
pub(crate) fn check_tau(h: &History, tau: &Tensor) -> Result<()> {
    let (b, n, _) = h.ctx.size3().map_err(core_tensor::Error::from)?;
    match tau.size3() {
        Ok((tb, tn, _)) if tb == b && tn == n => Ok(()),
        _ => Err(crate::Error::Core(core_tensor::Error::shape("tau", format!("[{b}, {n}, S]"), tau.size()))),
    }
}

/// `[B, N, X]` → `[B, N, 1, X]` for broadcasting against `[B, N, S]` times.
pub(crate) fn per_interval(x: Tensor) -> Tensor {
    x.unsqueeze(2)
}

/// `ln softplus(x)`, accurate for very negative `x` (where `softplus(x) ≈ eˣ`).
pub(crate) fn log_softplus(x: &Tensor) -> Tensor {
    x.softplus().clamp_min(1e-30).log().where_self(&x.gt(-20.0), x)
}

/// Scaled softplus with a learned scale per mark (NHP's `f_k(x) = s_k ln(1 + e^{x/s_k})`, EasyTPP's
/// `ScaledSoftplus`): the intensity floor of a bounded input shrinks with `s_k`.
#[derive(Debug)]
pub(crate) struct ScaledSoftplus {
    log_s: Tensor,
}

impl ScaledSoftplus {
    pub(crate) fn new(path: &nn::Path<'_>, k: usize) -> Self {
        ScaledSoftplus { log_s: path.zeros("log_scale", &[k as i64]) }
    }
    /// `ln f_k(x)` for `x [..., K]`.
    pub(crate) fn log_apply(&self, x: &Tensor) -> Tensor {
        let s = self.log_s.exp();
        log_softplus(&(x / &s)) + &self.log_s
    }
    /// `f_k(x)` for `x [..., K]`.
    pub(crate) fn apply(&self, x: &Tensor) -> Tensor {
        let s = self.log_s.exp();
        (x / &s).softplus() * s
    }
}
