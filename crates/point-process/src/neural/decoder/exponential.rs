//! RMTPP's exponential intensity (Du et al. 2016).

use super::{check_tau, per_interval, Decoder};
use crate::error::Result;
use crate::neural::encoder::History;
use tch::{nn, Tensor};

/// `λ(τ) = exp(v·h + b + w τ)` for the total intensity and `p(k | h) = softmax(V h + c)_k` for
/// the mark, so `λ_k(τ) = p(k | h) λ(τ)`. `h [B, N, H]`, `w` a learned scalar (units 1/time).
///
/// Compensator (exact): `Λ(τ) = e^{v·h + b} (e^{wτ} − 1) / w`, evaluated as
/// `e^{v·h+b} τ · expm1(wτ)/(wτ)` (→ `e^{v·h+b} τ` as `w → 0`). The intensity is monotone in τ,
/// so `max(λ(a), λ(b))` bounds it on `[a, b]`.
#[derive(Debug)]
pub struct ExponentialDecoder {
    base: nn::Linear,
    w: Tensor,
    marks: nn::Linear,
    k: usize,
}

impl ExponentialDecoder {
    /// Decoder over contexts of width `h` and `k` marks.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize) -> Self {
        ExponentialDecoder {
            base: nn::linear(path / "base", h, 1, Default::default()),
            w: path.var("w", &[1], nn::Init::Const(-0.1)),
            marks: nn::linear(path / "marks", h, k as i64, Default::default()),
            k,
        }
    }

    fn log_base(&self, h: &History) -> Tensor {
        h.ctx.apply(&self.base).squeeze_dim(-1)
    }
}

impl Decoder for ExponentialDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let log_total = self.log_base(h).unsqueeze(-1) + &self.w * tau; // [B, N, S]
        let log_p = per_interval(h.ctx.apply(&self.marks).log_softmax(-1, h.ctx.kind()));
        Ok(log_total.unsqueeze(-1) + log_p)
    }
    fn compensator(&self, h: &History, tau: &Tensor) -> Option<Result<Tensor>> {
        let wt = &self.w * tau;
        let small = wt.abs().lt(1e-6);
        let ratio = wt.expm1() / wt.where_self(&small.logical_not(), &wt.ones_like());
        let ratio = ratio.where_self(&small.logical_not(), &(1.0 + &wt * 0.5));
        Some(Ok(self.log_base(h).exp() * tau * ratio))
    }
    fn intensity_bound(&self, h: &History, a: &Tensor, b: &Tensor) -> Option<Result<Tensor>> {
        let base = self.log_base(h);
        let la = &base + &self.w * a;
        let lb = base + &self.w * b;
        Some(Ok(la.maximum(&lb).exp()))
    }
}
