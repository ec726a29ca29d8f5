//! FullyNN's cumulative-hazard network (Omi et al. 2019).

use super::{check_tau, per_interval, Decoder};
use crate::error::Result;
use crate::neural::encoder::History;
use tch::{nn, Tensor};

/// A network monotone in the elapsed time models the cumulative hazard:
/// `u₁ = tanh(softplus(a) τ + A h + b₁)`, `u₂ = tanh(u₁ softplus(W₂) + b₂)`,
/// `g(τ) = softplus(u₂ · softplus(a₃) + b₃)` and
/// `Φ(τ) = g(τ) − g(0) + softplus(c) τ` (the last term keeps `Φ → ∞`, so the next event is
/// certain). Every weight on the τ path is positive, so `Φ` increases; `λ(τ) = ∂Φ/∂τ` by automatic
/// differentiation (kept in the graph for training). Marks: `p(k | h) = softmax(V h)_k`,
/// `λ_k = p(k | h) λ`. `h [B, N, H]`, hidden width `D`.
///
/// Compensator (exact): `Λ(τ) = Φ(τ)`.
#[derive(Debug)]
pub struct CumulativeHazardDecoder {
    a: Tensor,
    proj: nn::Linear,
    w2: Tensor,
    b2: Tensor,
    a3: Tensor,
    b3: Tensor,
    c: Tensor,
    marks: nn::Linear,
    k: usize,
}

impl CumulativeHazardDecoder {
    /// Decoder over contexts of width `h`, `k` marks and hidden width `d`.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize, d: i64) -> Self {
        let u = nn::Init::Uniform { lo: -1.0, up: 0.5 };
        CumulativeHazardDecoder {
            a: path.var("a", &[d], u),
            proj: nn::linear(path / "proj", h, d, Default::default()),
            w2: path.var("w2", &[d, d], nn::Init::Uniform { lo: -3.0, up: -1.0 }),
            b2: path.zeros("b2", &[d]),
            a3: path.var("a3", &[d], u),
            b3: path.zeros("b3", &[1]),
            c: path.var("c", &[1], nn::Init::Const(-2.0)),
            marks: nn::linear(path / "marks", h, k as i64, Default::default()),
            k,
        }
    }

    /// `g(τ)` for `tau [..]` with projected contexts `hp [.., D]` broadcastable.
    fn g(&self, hp: &Tensor, tau: &Tensor) -> Tensor {
        let u1 = (tau.unsqueeze(-1) * self.a.softplus() + hp).tanh();
        let u2 = (u1.matmul(&self.w2.softplus()) + &self.b2).tanh();
        (u2.matmul(&self.a3.softplus()) + &self.b3).softplus()
    }

    fn phi(&self, hp: &Tensor, tau: &Tensor) -> Tensor {
        self.g(hp, tau) - self.g(hp, &tau.zeros_like()) + self.c.softplus() * tau
    }
}

impl Decoder for CumulativeHazardDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let hp = per_interval(h.ctx.apply(&self.proj));
        let lam = tch::with_grad(|| {
            let t = tau.detach().set_requires_grad(true);
            let phi = self.phi(&hp, &t);
            let g = Tensor::run_backward(&[phi.sum(phi.kind())], &[&t], true, true);
            g.into_iter().next().expect("one input")
        });
        let log_p = per_interval(h.ctx.apply(&self.marks).log_softmax(-1, h.ctx.kind()));
        Ok(lam.clamp_min(1e-30).log().unsqueeze(-1) + log_p)
    }
    fn compensator(&self, h: &History, tau: &Tensor) -> Option<Result<Tensor>> {
        let hp = h.ctx.apply(&self.proj);
        Some(Ok(self.phi(&hp, tau)))
    }
}
