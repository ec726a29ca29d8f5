//! Decoders that parameterise the mark intensities directly; their compensators are integrated
//! numerically.

use super::{check_tau, log_softplus, per_interval, Decoder, ScaledSoftplus};
use crate::error::Result;
use crate::neural::encoder::History;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, Tensor};

/// A general neural intensity: `λ_k(τ) = softplus(MLP([h, τ]))_k` with a two-layer tanh MLP of
/// width `D` (`h [B, N, H]`, `τ` in the data's time unit). No closed-form compensator: it is
/// integrated by Monte Carlo or Gauss–Legendre quadrature.
#[derive(Debug)]
pub struct NeuralIntensityDecoder {
    mlp: Mlp,
    k: usize,
}

impl NeuralIntensityDecoder {
    /// Decoder over contexts of width `h`, `k` marks, hidden width `d`.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize, d: i64) -> Result<Self> {
        let mlp = Mlp::new(
            &(path / "mlp"),
            &[h + 1, d, d, k as i64],
            MlpConfig::default().activation(Activation::Tanh),
        )?;
        Ok(NeuralIntensityDecoder { mlp, k })
    }
}

impl Decoder for NeuralIntensityDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let s = tau.size()[2];
        let (b, n, hd) = h.ctx.size3().map_err(core_tensor::Error::from)?;
        let ctx = per_interval(h.ctx.shallow_clone()).expand([b, n, s, hd], false);
        let x = Tensor::cat(&[ctx, tau.unsqueeze(-1)], -1);
        Ok(log_softplus(&self.mlp.try_forward(&x, false)?))
    }
}

/// SAHP's intensity (Zhang et al. 2020): `λ_k(τ) = f_k(μ_k + (η_k − μ_k) e^{−γ_k τ})` with
/// `μ = GELU(W_μ h)`, `η = GELU(W_η h)`, `γ = softplus(W_γ h)` (`h [B, N, H]`, γ in 1/time) and
/// the scaled softplus `f_k(x) = s_k ln(1 + e^{x/s_k})` with learned `s_k` (GELU ≥ −0.17 would
/// otherwise floor every λ_k at softplus(−0.17) ≈ 0.61).
///
/// Each `λ_k` moves monotonically from `f_k(η_k)` at `τ = 0` to `f_k(μ_k)`, so
/// `Σ_k f_k(max(μ_k, η_k))` bounds the total intensity on every window.
#[derive(Debug)]
pub struct SahpDecoder {
    mu: nn::Linear,
    eta: nn::Linear,
    gamma: nn::Linear,
    f: ScaledSoftplus,
    k: usize,
}

impl SahpDecoder {
    /// Decoder over contexts of width `h` and `k` marks.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize) -> Self {
        let lin = |n: &str| nn::linear(path / n, h, k as i64, Default::default());
        SahpDecoder {
            mu: lin("mu"),
            eta: lin("eta"),
            gamma: lin("gamma"),
            f: ScaledSoftplus::new(path, k),
            k,
        }
    }

    fn params(&self, h: &History) -> (Tensor, Tensor, Tensor) {
        (
            h.ctx.apply(&self.mu).gelu("none"),
            h.ctx.apply(&self.eta).gelu("none"),
            h.ctx.apply(&self.gamma).softplus(),
        )
    }
}

impl Decoder for SahpDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let (mu, eta, gamma) = self.params(h);
        let (mu, eta, gamma) = (per_interval(mu), per_interval(eta), per_interval(gamma));
        let x = &mu + (eta - &mu) * (-(gamma * tau.unsqueeze(-1))).exp();
        Ok(self.f.log_apply(&x))
    }
    fn intensity_bound(&self, h: &History, _a: &Tensor, _b: &Tensor) -> Option<Result<Tensor>> {
        let (mu, eta, _) = self.params(h);
        Some(Ok(self.f.apply(&mu.maximum(&eta)).sum_dim_intlist(-1, false, mu.kind())))
    }
}

/// THP's intensity (Zuo et al. 2020): `λ_k(τ) = f_k(α_k τ + w_k·h + b_k)` (scaled softplus
/// `f_k(x) = s_k ln(1 + e^{x/s_k})`, learned `s_k`) with `h [B, N, H]`
/// the attention state of the last event and `α_k` learned (1/time). The paper scales the
/// elapsed time by the last event time, `α_k τ / t_j`, which is undefined for the first interval;
/// like common implementations we use `τ` itself.
///
/// Each `λ_k` is monotone in τ, so the larger endpoint of a window bounds it there.
#[derive(Debug)]
pub struct ThpDecoder {
    alpha: Tensor,
    lin: nn::Linear,
    f: ScaledSoftplus,
    k: usize,
}

impl ThpDecoder {
    /// Decoder over contexts of width `h` and `k` marks.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize) -> Self {
        ThpDecoder {
            alpha: path.var("alpha", &[k as i64], nn::Init::Const(-0.1)),
            lin: nn::linear(path / "lin", h, k as i64, Default::default()),
            f: ScaledSoftplus::new(path, k),
            k,
        }
    }
}

impl Decoder for ThpDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let base = per_interval(h.ctx.apply(&self.lin));
        Ok(self.f.log_apply(&(base + tau.unsqueeze(-1) * &self.alpha)))
    }
    fn intensity_bound(&self, h: &History, a: &Tensor, b: &Tensor) -> Option<Result<Tensor>> {
        let base = h.ctx.apply(&self.lin);
        let xa = &base + a.unsqueeze(-1) * &self.alpha;
        let xb = base + b.unsqueeze(-1) * &self.alpha;
        Some(Ok(self.f.apply(&xa.maximum(&xb)).sum_dim_intlist(-1, false, xa.kind())))
    }
}

/// NHP's intensity (Mei & Eisner 2017): `λ_k(τ) = f_k(w_k·h(τ) + b_k)`, `f_k(x) = s_k ln(1 + e^{x/s_k})`
/// with learned `s_k`, and the decaying
/// continuous-time LSTM state `h(τ) = o ⊙ tanh(c̄ + (c − c̄) e^{−δ τ})`; the context is
/// `[c, c̄, δ, o]` (`[B, N, 4H]`) from [`CtLstmEncoder`](crate::neural::encoder::CtLstmEncoder).
///
/// Bound: every coordinate of `h(τ)` moves monotonically between `h(0)` and `h(∞) = o ⊙ tanh(c̄)`,
/// so `f_k(b_k + Σ_d max(w_kd h_d(0), w_kd h_d(∞)))` bounds `λ_k` for all τ ≥ 0.
#[derive(Debug)]
pub struct CtLstmDecoder {
    lin: nn::Linear,
    f: ScaledSoftplus,
    k: usize,
}

impl CtLstmDecoder {
    /// Decoder over CT-LSTM states of width `h` and `k` marks.
    pub fn new(path: &nn::Path<'_>, h: i64, k: usize) -> Self {
        CtLstmDecoder {
            lin: nn::linear(path / "lin", h, k as i64, Default::default()),
            f: ScaledSoftplus::new(path, k),
            k,
        }
    }

    fn state(h: &History) -> Vec<Tensor> {
        h.ctx.chunk(4, -1)
    }
}

impl Decoder for CtLstmDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let s = Self::state(h);
        let (c, cb, d, o) = (
            per_interval(s[0].shallow_clone()),
            per_interval(s[1].shallow_clone()),
            per_interval(s[2].shallow_clone()),
            per_interval(s[3].shallow_clone()),
        );
        let ct = &cb + (c - &cb) * (-(d * tau.unsqueeze(-1))).exp();
        let ht = o * ct.tanh();
        Ok(self.f.log_apply(&ht.apply(&self.lin)))
    }
    fn intensity_bound(&self, h: &History, _a: &Tensor, _b: &Tensor) -> Option<Result<Tensor>> {
        let s = Self::state(h);
        let h0 = &s[3] * s[0].tanh();
        let hinf = &s[3] * s[1].tanh();
        let w = &self.lin.ws; // [K, H]
        let ta = h0.unsqueeze(-2) * w; // [B, N, K, H]
        let tb = hinf.unsqueeze(-2) * w;
        let mut x = ta.maximum(&tb).sum_dim_intlist(-1, false, h0.kind());
        if let Some(bias) = &self.lin.bs {
            x += bias;
        }
        Some(Ok(self.f.apply(&x).sum_dim_intlist(-1, false, h0.kind())))
    }
}
