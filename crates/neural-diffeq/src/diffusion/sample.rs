//! Samplers of a diffusion model given its score `s(x, t)` (Song et al. 2021; Ho et al. 2020;
//! Song, Meng & Ermon 2021), all from the prior `N(0, σ_prior² I)` at `t = 1` down to `t_min`:
//!
//! - [`Sampler::ReverseSde`]: `dx = [f(t) x − g(t)² s(x, t)] dt + g(t) dW̄` integrated backwards
//!   through the crate's SDE solver in reversed time `τ = 1 − t`, with constant steps or adaptive
//!   step doubling, on a Brownian interval (exact at every queried time).
//! - [`Sampler::ProbabilityFlow`]: the ODE `dx/dt = f(t) x − ½ g(t)² s(x, t)` with any ODE
//!   solver (Dopri5, Tsit5, …), constant or adaptive steps.
//! - [`Sampler::Ancestral`]: DDPM's ancestral steps on `N` equal time steps, for VP:
//!   `x ← (x + β_i s(x, t_i)) / √(1 − β_i) + √β_i z` with `β_i = 1 − (m(t_i)/m(t_{i−1}))²`.
//! - [`Sampler::Ddim`]: deterministic DDIM (η = 0) on `N` equal steps, any process:
//!   `x̂_0 = (x + σ² s)/m`, `ε̂ = −σ s`, `x ← m' x̂_0 + σ' ε̂`.

use super::Process;
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::sde::{sdeint, BrownianInterval, EulerMaruyama, Noise, SdeTerm};
use crate::solve::{solve, SaveAt};
use crate::solver::{Solver, Stats};
use tch::{Device, Kind, Tensor};

/// A score model `s(x [B, D], t) → [B, D]`.
pub use super::likelihood::ScoreFn;

/// How to sample.
#[derive(Clone, Copy)]
pub enum Sampler<'a> {
    /// The reverse-time SDE with Euler–Maruyama under `control` (in reversed time).
    ReverseSde {
        /// Constant steps or adaptive step doubling.
        control: &'a StepControl,
    },
    /// The probability-flow ODE with `solver` under `control`.
    ProbabilityFlow {
        /// The ODE solver.
        solver: &'a dyn Solver<Tensor>,
        /// Constant or adaptive steps.
        control: &'a StepControl,
    },
    /// DDPM ancestral sampling with `steps` steps (VP only).
    Ancestral {
        /// Number of steps.
        steps: usize,
    },
    /// DDIM (η = 0) with `steps` steps.
    Ddim {
        /// Number of steps.
        steps: usize,
    },
}

impl std::fmt::Debug for Sampler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sampler::ReverseSde { control } => write!(f, "ReverseSde({control:?})"),
            Sampler::ProbabilityFlow { solver, control } => {
                write!(f, "ProbabilityFlow({}, {control:?})", solver.name())
            }
            Sampler::Ancestral { steps } => write!(f, "Ancestral({steps})"),
            Sampler::Ddim { steps } => write!(f, "Ddim({steps})"),
        }
    }
}

/// The reverse SDE in reversed time `τ = 1 − t`: drift `−[f x − g² s]`, diffusion `g`.
struct Reverse<'a> {
    process: &'a Process,
    score: &'a ScoreFn<'a>,
}

impl SdeTerm for Reverse<'_> {
    fn drift(&self, tau: f64, y: &Tensor) -> Result<Tensor> {
        let t = 1.0 - tau;
        let (f, g2) = (self.process.drift_coefficient(t), self.process.diffusion_squared(t));
        Ok((self.score)(y, t)? * g2 - y * f)
    }
    fn diffusion(&self, tau: f64, y: &Tensor) -> Result<Tensor> {
        Ok(y.ones_like() * self.process.diffusion_squared(1.0 - tau).sqrt())
    }
    fn noise(&self) -> Noise {
        Noise::Diagonal
    }
}

/// What to draw: `n` samples of dimension `dim`, integrated from `t = 1` down to `t_min`, as
/// `options = (kind, device)`, with the prior noise and the sampler's noise from `seed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// Number of samples.
    pub n: i64,
    /// Data dimension.
    pub dim: i64,
    /// The time the samplers stop at (`0 < t_min < 1`).
    pub t_min: f64,
    /// Kind and device of the samples.
    pub options: (Kind, Device),
    /// Seed of the prior draw and of the sampler's noise.
    pub seed: u64,
}

/// Samples `[n, dim]` from the model with score `score`, integrating from `t = 1` to `t_min`;
/// returns them and the number of score evaluations.
///
/// # Errors
/// `n` or `dim` zero, `t_min` outside `(0, 1)`, zero steps, a non-VP process for ancestral
/// sampling, errors of the score and the solvers.
pub fn sample(
    process: &Process,
    score: &ScoreFn<'_>,
    sampler: Sampler<'_>,
    draw: &Draw,
) -> Result<(Tensor, Stats)> {
    sample_observed(process, score, sampler, draw, &mut |_, _, _, _| Ok(()))
}

/// What a discrete sampler shows its observer at each step: the step index, the time `t`, the
/// state `x_t` before the step and the score there.
pub type StepObserver<'a> = dyn FnMut(usize, f64, &Tensor, &Tensor) -> Result<()> + 'a;

/// [`sample`] with an observer called at every step of the discrete samplers (ancestral, DDIM) —
/// to follow the predicted `x̂_0 = (x + σ² s)/m` along a trajectory, say; the ODE and SDE
/// samplers do not call it.
///
/// # Errors
/// As [`sample`]; the observer's errors.
pub fn sample_observed(
    process: &Process,
    score: &ScoreFn<'_>,
    sampler: Sampler<'_>,
    draw: &Draw,
    observer: &mut StepObserver<'_>,
) -> Result<(Tensor, Stats)> {
    let Draw { n, dim, t_min, options: (kind, device), seed } = *draw;
    process.check()?;
    if n <= 0 || dim <= 0 || !(t_min > 0.0 && t_min < 1.0) {
        return Err(invalid(
            "n, dim, t_min",
            format!("{n}, {dim}, {t_min}"),
            "need n, dim > 0 and 0 < t_min < 1",
        ));
    }
    let _scope = core_tensor::seed::TorchSeedScope::enter(seed);
    let x1 = Tensor::randn([n, dim], (kind, device)) * process.prior_std();
    let mut stats = Stats::default();
    let x = match sampler {
        Sampler::ReverseSde { control } => {
            let span = 1.0 - t_min;
            let bm = BrownianInterval::new(0.0, span, span / 64.0, &[n, dim], seed, kind, device)?;
            let sol = tch::no_grad(|| {
                sdeint(
                    &Reverse { process, score },
                    &EulerMaruyama,
                    (0.0, span),
                    &x1,
                    &bm,
                    control,
                    &SaveAt::t1(),
                )
            })?;
            stats = sol.stats;
            sol.ys.last().expect("t1 saved").shallow_clone()
        }
        Sampler::ProbabilityFlow { solver, control } => {
            let field = |t: f64, x: &Tensor| -> Result<Tensor> {
                let (f, g2) = (process.drift_coefficient(t), process.diffusion_squared(t));
                Ok(x * f - score(x, t)? * (0.5 * g2))
            };
            let sol = tch::no_grad(|| solve(&field, solver, (1.0, t_min), &x1, control, &SaveAt::t1()))?;
            stats = sol.stats;
            sol.ys.last().expect("t1 saved").shallow_clone()
        }
        Sampler::Ancestral { steps } | Sampler::Ddim { steps } => {
            if steps == 0 {
                return Err(invalid("steps", 0, "must be > 0"));
            }
            let ancestral = matches!(sampler, Sampler::Ancestral { .. });
            if ancestral && !matches!(process, Process::Vp { .. } | Process::VpCosine { .. }) {
                return Err(invalid("sampler", "Ancestral", "DDPM's ancestral steps need the VP process"));
            }
            let dt = (1.0 - t_min) / steps as f64;
            let mut x = x1;
            for i in 0..steps {
                let t = 1.0 - i as f64 * dt;
                let t_next = t - dt;
                let s = tch::no_grad(|| score(&x, t))?;
                observer(i, t, &x, &s)?;
                stats.nfe += 1;
                stats.steps += 1;
                let (m, sig) = process.marginal(t);
                let (m_next, sig_next) = process.marginal(t_next);
                x = if ancestral {
                    let beta = 1.0 - (m / m_next).powi(2);
                    let mean = (&x + s * beta) / (1.0 - beta).sqrt();
                    if i + 1 < steps {
                        mean + Tensor::randn(x.size(), (kind, device)) * beta.sqrt()
                    } else {
                        mean
                    }
                } else {
                    let x0 = (&x + &s * (sig * sig)) / m;
                    let eps = s * -sig;
                    x0 * m_next + eps * sig_next
                };
            }
            x
        }
    };
    Ok((x, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::density::Gmm;
    use crate::solver::ExplicitRk;

    /// With the exact score of the eight Gaussians every sampler reproduces the mixture: each mode
    /// holds 1/8 of the samples (within 4 standard errors) and the spread about the nearest mode
    /// is the components' `0.5/√2` (within 8 %).
    #[test]
    fn exact_scores_sample_the_mixture() {
        let gmm = Gmm::eight_gaussians();
        let p = Process::VP;
        let score = |x: &Tensor, t: f64| {
            let (m, s) = p.marginal(t);
            gmm.perturbed(m, s).score(x)
        };
        let adaptive = StepControl::adaptive(1e-5, 1e-5);
        let constant = StepControl::constant(1.0 / 500.0);
        let dopri5 = ExplicitRk::dopri5();
        let doubling = StepControl::adaptive(1e-2, 1e-2);
        let samplers = [
            Sampler::ReverseSde { control: &constant },
            Sampler::ReverseSde { control: &doubling },
            Sampler::ProbabilityFlow { solver: &dopri5, control: &adaptive },
            Sampler::Ancestral { steps: 500 },
            Sampler::Ddim { steps: 200 },
        ];
        let n = 2000;
        for sampler in samplers {
            let draw = Draw { n, dim: 2, t_min: 1e-3, options: (Kind::Double, Device::Cpu), seed: 3 };
            let (x, stats) = sample(&p, &score, sampler, &draw).unwrap();
            let xs = crate::density::toy2d::points(&x).unwrap();
            let r = 4.0 / std::f64::consts::SQRT_2;
            let mut counts = [0usize; 8];
            let mut sq = 0.0;
            for p in &xs {
                let a = p[1].atan2(p[0]).rem_euclid(std::f64::consts::TAU);
                let k = ((a / std::f64::consts::FRAC_PI_4).round() as usize) % 8;
                counts[k] += 1;
                let c = std::f64::consts::FRAC_PI_4 * k as f64;
                sq += (p[0] - r * c.cos()).powi(2) + (p[1] - r * c.sin()).powi(2);
            }
            let se = (n as f64 * 0.125 * 0.875).sqrt();
            for c in counts {
                assert!((c as f64 - n as f64 / 8.0).abs() < 4.0 * se, "{sampler:?}: counts {counts:?}");
            }
            let spread = (sq / (2.0 * n as f64)).sqrt();
            let target = 0.5 / std::f64::consts::SQRT_2;
            assert!(
                (spread - target).abs() < 0.08 * target,
                "{sampler:?}: spread {spread} vs {target} ({} NFE)",
                stats.nfe
            );
            eprintln!(
                "{sampler:?}: mode counts {counts:?}, spread {spread:.4} (target {target:.4}), {} NFE",
                stats.nfe
            );
        }
        let small = Draw { n: 4, dim: 2, t_min: 1e-3, options: (Kind::Double, Device::Cpu), seed: 0 };
        assert!(sample(&Process::ve(10.0), &score, Sampler::Ancestral { steps: 10 }, &small).is_err());
        assert!(sample(&p, &score, Sampler::Ddim { steps: 0 }, &small).is_err());
        assert!(sample(&p, &score, Sampler::Ddim { steps: 5 }, &Draw { t_min: 1.0, ..small }).is_err());
    }
}
