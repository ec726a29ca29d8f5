//! Surrogate gradients for the spike non-linearity.
//!
//! The forward pass is always the exact Heaviside step `H(x) = 1[x > 0]` (strict, so `x = 0` does
//! not spike). The backward pass replaces the Dirac delta `H'(x)` by a smooth surrogate `g(x)`:
//! the returned tensor is `H(x) + (x − sg(x))·sg(g(x))` where `sg` stops gradients, whose value is
//! exactly `H(x)` and whose derivative is exactly `g(x)` times the upstream gradient. Any surrogate
//! (including a user-supplied one) therefore only needs its derivative.
//!
//! Conventions follow snnTorch 1.0.0 (`x = U − θ`), except where snnTorch is numerically unsound
//! (its logistic surrogate overflows to NaN for `x < −3.55` in fp32; here the logistic is evaluated
//! stably). Every function takes and returns tensors of any shape, dtype and device.

use std::fmt;
use std::sync::Arc;

use tch::Tensor;

use crate::{Error, Result};

/// A user-supplied surrogate derivative `x ↦ g(x)` (elementwise, same shape as `x`).
pub type SurrogateFn = Arc<dyn Fn(&Tensor) -> Tensor + Send + Sync>;

/// The surrogate derivative used in place of the Heaviside step's Dirac delta.
#[derive(Clone)]
pub enum Surrogate {
    /// Arctangent (Fang et al. 2021): `g(x) = (α/2) / (1 + (π α x / 2)²)`; snnTorch's default, α = 2.
    Atan {
        /// Sharpness α.
        alpha: f64,
    },
    /// Fast sigmoid (Zenke & Ganguli 2018, SuperSpike): `g(x) = 1 / (k|x| + 1)²`; default k = 25.
    FastSigmoid {
        /// Slope k.
        slope: f64,
    },
    /// Logistic: `g(x) = k σ(kx)(1 − σ(kx))`, evaluated without overflow; default k = 25.
    Sigmoid {
        /// Slope k.
        slope: f64,
    },
    /// Straight-through estimator (Bengio et al. 2013): `g(x) = 1`.
    StraightThrough,
    /// snnTorch's `heaviside` surrogate: the gradient passes only where the neuron fired,
    /// `g(x) = H(x)`.
    Heaviside,
    /// Triangular (Esser et al. 2016), snnTorch form: `g(x) = θ` for `x < 0`, `−θ` for `x ≥ 0`
    /// (the sign flip is snnTorch's; see the crate guide). Default θ = 1.
    Triangular {
        /// Height θ.
        threshold: f64,
    },
    /// Spike-rate escape (Gerstner's escape noise): `g(x) = k e^{−β|x − 1|}`; defaults β = 1,
    /// k = 25 (the shift by 1 is snnTorch's).
    SpikeRateEscape {
        /// Decay β.
        beta: f64,
        /// Slope k.
        slope: f64,
    },
    /// Sparse fast sigmoid (Perez-Nieves & Goodman 2021): the fast-sigmoid derivative masked to
    /// `x > B`, so neurons far below the cut-off get no gradient and the backward pass is sparse.
    /// snnTorch's default is `B = 1` (gradient only for `U > θ + 1`); the paper's sub-threshold
    /// cut-off corresponds to a negative `B`. Defaults k = 25, B = 1.
    Sfs {
        /// Slope k.
        slope: f64,
        /// Cut-off B (in units of `U − θ`).
        cutoff: f64,
    },
    /// A user-supplied derivative, with a name for reports.
    Custom {
        /// Display name.
        name: String,
        /// The derivative `g`.
        grad: SurrogateFn,
    },
}

impl fmt::Debug for Surrogate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Surrogate::Custom { name, .. } => write!(f, "Custom({name})"),
            Surrogate::Atan { alpha } => write!(f, "Atan(alpha={alpha})"),
            Surrogate::FastSigmoid { slope } => write!(f, "FastSigmoid(slope={slope})"),
            Surrogate::Sigmoid { slope } => write!(f, "Sigmoid(slope={slope})"),
            Surrogate::StraightThrough => write!(f, "StraightThrough"),
            Surrogate::Heaviside => write!(f, "Heaviside"),
            Surrogate::Triangular { threshold } => write!(f, "Triangular(threshold={threshold})"),
            Surrogate::SpikeRateEscape { beta, slope } => {
                write!(f, "SpikeRateEscape(beta={beta}, slope={slope})")
            }
            Surrogate::Sfs { slope, cutoff } => write!(f, "Sfs(slope={slope}, cutoff={cutoff})"),
        }
    }
}

impl Default for Surrogate {
    /// snnTorch's default: arctangent with α = 2.
    fn default() -> Self {
        Surrogate::Atan { alpha: 2.0 }
    }
}

/// Names accepted by [`Surrogate::from_name`].
pub const SURROGATE_NAMES: [&str; 8] = [
    "atan",
    "fast_sigmoid",
    "sigmoid",
    "straight_through",
    "heaviside",
    "triangular",
    "spike_rate_escape",
    "sfs",
];

impl Surrogate {
    /// The surrogate called `name` with its default parameters (see [`SURROGATE_NAMES`]).
    ///
    /// # Errors
    /// An unknown name gives [`Error::InvalidArgument`] listing the accepted names.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "atan" => Surrogate::Atan { alpha: 2.0 },
            "fast_sigmoid" => Surrogate::FastSigmoid { slope: 25.0 },
            "sigmoid" => Surrogate::Sigmoid { slope: 25.0 },
            "straight_through" | "ste" => Surrogate::StraightThrough,
            "heaviside" => Surrogate::Heaviside,
            "triangular" => Surrogate::Triangular { threshold: 1.0 },
            "spike_rate_escape" => Surrogate::SpikeRateEscape { beta: 1.0, slope: 25.0 },
            "sfs" => Surrogate::Sfs { slope: 25.0, cutoff: 1.0 },
            other => {
                return Err(Error::invalid(
                    "surrogate",
                    format!("{other:?}"),
                    format!("unknown surrogate; expected one of {SURROGATE_NAMES:?}"),
                ))
            }
        })
    }

    /// A user-supplied surrogate derivative.
    pub fn custom(name: impl Into<String>, grad: impl Fn(&Tensor) -> Tensor + Send + Sync + 'static) -> Self {
        Surrogate::Custom { name: name.into(), grad: Arc::new(grad) }
    }

    /// Checks the parameters (finite, positive where a slope or width).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the parameter.
    pub fn validate(&self) -> Result<()> {
        let pos = |name: &str, v: f64| core_tensor::error::ensure_positive(name, v);
        match self {
            Surrogate::Atan { alpha } => pos("atan.alpha", *alpha),
            Surrogate::FastSigmoid { slope } => pos("fast_sigmoid.slope", *slope),
            Surrogate::Sigmoid { slope } => pos("sigmoid.slope", *slope),
            Surrogate::StraightThrough | Surrogate::Heaviside | Surrogate::Custom { .. } => Ok(()),
            Surrogate::Triangular { threshold } => pos("triangular.threshold", *threshold),
            Surrogate::SpikeRateEscape { beta, slope } => {
                pos("spike_rate_escape.beta", *beta)?;
                pos("spike_rate_escape.slope", *slope)
            }
            Surrogate::Sfs { slope, cutoff } => {
                pos("sfs.slope", *slope)?;
                core_tensor::error::ensure_finite("sfs.cutoff", &[*cutoff])
            }
        }
    }

    /// The surrogate derivative at one point, `g(x)` (`None` for [`Surrogate::Custom`], whose
    /// derivative is only known on tensors). Same formulas as [`Surrogate::derivative`].
    pub fn derivative_at(&self, x: f64) -> Option<f64> {
        let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
        Some(match self {
            Surrogate::Atan { alpha } => {
                let u = x * std::f64::consts::FRAC_PI_2 * alpha;
                (alpha / 2.0) / (1.0 + u * u)
            }
            Surrogate::FastSigmoid { slope } => 1.0 / (slope * x.abs() + 1.0).powi(2),
            Surrogate::Sigmoid { slope } => sigmoid(slope * x) * sigmoid(-slope * x) * slope,
            Surrogate::StraightThrough => 1.0,
            Surrogate::Heaviside => f64::from(u8::from(x > 0.0)),
            Surrogate::Triangular { threshold } => {
                if x < 0.0 {
                    *threshold
                } else {
                    -threshold
                }
            }
            Surrogate::SpikeRateEscape { beta, slope } => (-(x - 1.0).abs() * beta).exp() * slope,
            Surrogate::Sfs { slope, cutoff } => {
                if x > *cutoff {
                    1.0 / (slope * x.abs() + 1.0).powi(2)
                } else {
                    0.0
                }
            }
            Surrogate::Custom { .. } => return None,
        })
    }

    /// The surrogate derivative `g(x)` (no autograd graph is built).
    pub fn derivative(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| match self {
            Surrogate::Atan { alpha } => {
                let u = x * (std::f64::consts::FRAC_PI_2 * alpha);
                (u.square() + 1.0).reciprocal() * (alpha / 2.0)
            }
            Surrogate::FastSigmoid { slope } => (x.abs() * *slope + 1.0).square().reciprocal(),
            Surrogate::Sigmoid { slope } => {
                // σ(kx)(1 − σ(kx)) = σ(kx) σ(−kx): both factors are in [0, 1], no overflow.
                let kx = x * *slope;
                kx.sigmoid() * (-kx).sigmoid() * *slope
            }
            Surrogate::StraightThrough => x.ones_like(),
            Surrogate::Heaviside => x.gt(0.0).to_kind(x.kind()),
            Surrogate::Triangular { threshold } => {
                // θ below zero, −θ at and above zero.
                let neg = x.lt(0.0).to_kind(x.kind());
                (neg * 2.0 - 1.0) * *threshold
            }
            Surrogate::SpikeRateEscape { beta, slope } => (-(x - 1.0).abs() * *beta).exp() * *slope,
            Surrogate::Sfs { slope, cutoff } => {
                let fs = (x.abs() * *slope + 1.0).square().reciprocal();
                fs * x.gt(*cutoff).to_kind(x.kind())
            }
            Surrogate::Custom { grad, .. } => grad(x).detach(),
        })
    }

    /// The spike `H(x)` whose gradient is `g(x)`: exact step forward, surrogate backward.
    pub fn spike(&self, x: &Tensor) -> Tensor {
        let h = heaviside(x);
        if !x.requires_grad() {
            return h;
        }
        let g = self.derivative(x);
        h + (x - x.detach()) * g
    }
}

/// The strict Heaviside step `1[x > 0]` in `x`'s dtype, without gradient.
pub fn heaviside(x: &Tensor) -> Tensor {
    tch::no_grad(|| x.gt(0.0).to_kind(x.kind()))
}

/// How the stochastic binary neuron propagates gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryEstimator {
    /// Straight-through: the sample's gradient is taken as that of its mean `σ(x)`, i.e.
    /// `∂s/∂x := σ'(x)` (the "sigmoid-adjusted" straight-through estimator of Bengio et al. 2013).
    StraightThrough,
    /// REINFORCE: the sample carries no gradient; [`StochasticBinary::sample`] returns the
    /// log-probability `log p(s | x)` so that `(L − b)·log p` is a score-function surrogate loss.
    Reinforce,
}

/// A stochastic binary neuron (Bengio, Léonard & Courville 2013): `s ~ Bernoulli(σ(x))`.
#[derive(Debug, Clone, Copy)]
pub struct StochasticBinary {
    /// Gradient estimator.
    pub estimator: BinaryEstimator,
}

/// A sample of [`StochasticBinary`].
#[derive(Debug)]
pub struct BinarySample {
    /// Binary sample `s ∈ {0, 1}`, shape of the input.
    pub spikes: Tensor,
    /// Elementwise `log p(s | x) = s log σ(x) + (1 − s) log σ(−x)`, differentiable in `x`.
    pub log_prob: Tensor,
}

impl StochasticBinary {
    /// Samples `s ~ Bernoulli(σ(x))` with libtorch's global generator (seed it with
    /// `core_tensor::seed::seed_torch`).
    pub fn sample(&self, x: &Tensor) -> BinarySample {
        let p = x.sigmoid();
        let s = tch::no_grad(|| p.detach().bernoulli());
        let log_prob = &s * x.log_sigmoid() + (1.0 - &s) * (-x).log_sigmoid();
        let spikes = match self.estimator {
            BinaryEstimator::StraightThrough => &s + (&p - p.detach()),
            BinaryEstimator::Reinforce => s,
        };
        BinarySample { spikes, log_prob }
    }

    /// The REINFORCE surrogate loss `Σ (L − b) log p(s|x)` for a per-sample reward-free loss `loss`
    /// (detached) and baseline `baseline`; its gradient is an unbiased estimate of `∇ E[L]`.
    pub fn reinforce_loss(sample: &BinarySample, loss: &Tensor, baseline: f64) -> Tensor {
        let adv = (loss.detach() - baseline).reshape([-1, 1]);
        let lp = sample.log_prob.reshape([loss.numel() as i64, -1]);
        let kind = lp.kind();
        (adv * lp).sum(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn grid() -> Tensor {
        Tensor::linspace(-3.0, 3.0, 61, (Kind::Double, tch::Device::Cpu))
    }

    fn autograd_of(s: &Surrogate, x: &Tensor) -> Tensor {
        let xv = x.detach().set_requires_grad(true);
        let y = s.spike(&xv);
        let g = Tensor::run_backward(&[y.sum(Kind::Double)], &[&xv], false, false);
        g[0].shallow_clone()
    }

    #[test]
    fn forward_is_strict_heaviside() {
        let x = Tensor::from_slice(&[-1.0f64, 0.0, 1e-12, 2.0]).set_requires_grad(true);
        for name in SURROGATE_NAMES {
            let s = Surrogate::from_name(name).unwrap();
            let y: Vec<f64> = Vec::try_from(s.spike(&x).detach()).unwrap();
            assert_eq!(y, vec![0.0, 0.0, 1.0, 1.0], "{name}");
        }
    }

    #[test]
    fn backward_matches_closed_forms() {
        let x = grid();
        let xs: Vec<f64> = Vec::try_from(&x).unwrap();
        let pi = std::f64::consts::PI;
        type Closed = Box<dyn Fn(f64) -> f64>;
        let cases: Vec<(Surrogate, Closed)> = vec![
            (Surrogate::Atan { alpha: 2.0 }, Box::new(move |x| 1.0 / (1.0 + (pi * x).powi(2)))),
            (Surrogate::FastSigmoid { slope: 25.0 }, Box::new(|x: f64| 1.0 / (25.0 * x.abs() + 1.0).powi(2))),
            (
                Surrogate::Sigmoid { slope: 25.0 },
                Box::new(|x: f64| {
                    let s = 1.0 / (1.0 + (-25.0 * x).exp());
                    25.0 * s * (1.0 - s)
                }),
            ),
            (Surrogate::StraightThrough, Box::new(|_| 1.0)),
            (
                Surrogate::SpikeRateEscape { beta: 1.0, slope: 25.0 },
                Box::new(|x: f64| 25.0 * (-(x - 1.0).abs()).exp()),
            ),
        ];
        for (s, f) in cases {
            let g: Vec<f64> = Vec::try_from(autograd_of(&s, &x)).unwrap();
            for (xi, gi) in xs.iter().zip(&g) {
                assert!((gi - f(*xi)).abs() <= 1e-12 * (1.0 + f(*xi).abs()), "{s:?} at {xi}: {gi}");
            }
        }
    }

    #[test]
    fn sigmoid_is_stable_in_f32() {
        let x = Tensor::from_slice(&[-200.0f32, -5.0, 0.0, 5.0, 200.0]).set_requires_grad(true);
        let s = Surrogate::Sigmoid { slope: 25.0 };
        let y = s.spike(&x);
        let g = Tensor::run_backward(&[y.sum(Kind::Float)], &[&x], false, false);
        let g: Vec<f32> = Vec::try_from(&g[0]).unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert!((g[2] - 6.25).abs() < 1e-6);
    }

    #[test]
    fn custom_and_unknown() {
        let s = Surrogate::custom("box", |x: &Tensor| x.abs().le(0.5).to_kind(x.kind()));
        let g: Vec<f64> = Vec::try_from(autograd_of(&s, &Tensor::from_slice(&[-1.0f64, 0.2]))).unwrap();
        assert_eq!(g, vec![0.0, 1.0]);
        let err = Surrogate::from_name("tanhh").unwrap_err().to_string();
        assert!(err.contains("tanhh") && err.contains("atan"), "{err}");
        assert!(Surrogate::Atan { alpha: -1.0 }.validate().is_err());
    }

    #[test]
    fn stochastic_binary_estimators() {
        core_tensor::seed::seed_torch(3);
        let x = Tensor::full([20000], 0.4, (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
        let st = StochasticBinary { estimator: BinaryEstimator::StraightThrough }.sample(&x);
        let mean = st.spikes.mean(Kind::Double).double_value(&[]);
        let p = 1.0 / (1.0 + (-0.4f64).exp());
        assert!((mean - p).abs() < 4.0 * (p * (1.0 - p) / 20000.0).sqrt());
        // REINFORCE with L = s: E[∂] = σ'(x); averaged over samples it is close.
        let rf = StochasticBinary { estimator: BinaryEstimator::Reinforce }.sample(&x);
        let loss = rf.spikes.shallow_clone();
        let sur = StochasticBinary::reinforce_loss(&rf, &loss, 0.0);
        let g = Tensor::run_backward(&[sur], &[&x], false, false);
        let est = g[0].mean(Kind::Double).double_value(&[]);
        let exact = p * (1.0 - p);
        assert!((est - exact).abs() < 0.02, "{est} vs {exact}");
    }
}
