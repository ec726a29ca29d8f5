//! Hamiltonian Monte Carlo over network weights (Neal 2011), for Bayesian neural operators.
//!
//! The target is `π(θ) ∝ exp(log_prob(θ))` over the given parameter tensors (leaf tensors that
//! require gradients, e.g. a `VarStore`'s trainable variables). Each iteration draws a momentum
//! `p ~ N(0, I)`, runs `L` leapfrog steps of size ε on `H(θ, p) = −log_prob(θ) + ½|p|²`, and accepts
//! with probability `min(1, exp(H₀ − H₁))`; a rejected proposal restores the previous weights.

use core_tensor::seed::rng;
use rand::Rng;
use tch::{Kind, Tensor};

use crate::error::{invalid, Result};

/// Settings of [`hmc`].
#[derive(Debug, Clone, Copy)]
pub struct HmcConfig {
    /// Leapfrog step size ε.
    pub step_size: f64,
    /// Leapfrog steps per iteration L.
    pub leapfrog: usize,
    /// Iterations discarded before collecting.
    pub burn_in: usize,
    /// Samples collected after burn-in.
    pub samples: usize,
    /// Keep every `thin`-th iteration after burn-in.
    pub thin: usize,
    /// Seed of the momenta (libtorch generator) and of the accept/reject draws.
    pub seed: u64,
    /// Tune ε: first halve it until a one-step trajectory is accepted with probability ≥ 0.5, then
    /// during burn-in move it towards this acceptance probability (`log ε += 0.2 (a − target)` after
    /// each iteration); `None` keeps ε fixed.
    pub target_accept: Option<f64>,
}

impl Default for HmcConfig {
    fn default() -> Self {
        HmcConfig {
            step_size: 1e-3,
            leapfrog: 10,
            burn_in: 50,
            samples: 20,
            thin: 5,
            seed: 0,
            target_accept: Some(0.65),
        }
    }
}

/// Posterior samples and diagnostics of [`hmc`].
#[derive(Debug)]
pub struct HmcResult {
    /// Collected samples: one copy of every parameter tensor per sample.
    pub samples: Vec<Vec<Tensor>>,
    /// Fraction of accepted proposals (all iterations).
    pub acceptance: f64,
    /// `log_prob` after every iteration.
    pub log_probs: Vec<f64>,
    /// Step size used after burn-in.
    pub step_size: f64,
}

fn value_and_grad(
    params: &[Tensor],
    log_prob: &mut impl FnMut() -> Result<Tensor>,
) -> Result<(f64, Vec<Tensor>)> {
    let lp = log_prob()?;
    let v = lp.double_value(&[]);
    if !v.is_finite() {
        return Err(invalid("log_prob", v, "the log-density must be finite along the trajectory"));
    }
    let g = Tensor::run_backward(&[lp], params, false, false);
    Ok((v, g))
}

/// A state's log-density and its gradient.
type Point = (f64, Vec<Tensor>);

/// One leapfrog trajectory of `steps` steps from the current parameters (left at the proposal).
/// Returns the acceptance probability and, unless the trajectory left the support, the proposal's
/// log-density and gradient.
fn propose(
    params: &[Tensor],
    log_prob: &mut impl FnMut() -> Result<Tensor>,
    lp: f64,
    grad: &[Tensor],
    eps: f64,
    steps: usize,
) -> Result<(f64, Option<Point>)> {
    // summed on the device and read back once (a read per tensor syncs a GPU each time)
    let kinetic = |m: &[Tensor]| {
        let sq = m.iter().map(|t| t.square().sum(Kind::Double)).reduce(|a, b| &a + b.to_device(a.device()));
        sq.map_or(0.0, |s| s.double_value(&[])) / 2.0
    };
    let mut mom: Vec<Tensor> = params.iter().map(|p| p.randn_like()).collect();
    let h0 = -lp + kinetic(&mom);
    // Half momentum step, alternating full steps, half momentum step (∇ log π = −∇U).
    for (m, g) in mom.iter_mut().zip(grad) {
        *m = &*m + g * (eps / 2.0);
    }
    let mut last = None;
    for l in 0..steps {
        tch::no_grad(|| {
            for (p, m) in params.iter().zip(&mom) {
                let _ = p.shallow_clone().f_add_(&(m * eps));
            }
        });
        match value_and_grad(params, log_prob) {
            Ok((v, g)) => {
                let scale = if l + 1 == steps { eps / 2.0 } else { eps };
                for (m, gi) in mom.iter_mut().zip(&g) {
                    *m = &*m + gi * scale;
                }
                last = Some((v, g));
            }
            Err(_) => return Ok((0.0, None)),
        }
    }
    let Some((v, g)) = last else { return Ok((0.0, None)) };
    let h1 = -v + kinetic(&mom);
    let a = if h1.is_finite() { (h0 - h1).min(0.0).exp() } else { 0.0 };
    Ok((a, Some((v, g))))
}

/// Runs HMC on `params` (modified in place; they hold the last state on return).
///
/// # Errors
/// Invalid settings, a non-finite log-density at the start (a non-finite value inside a
/// trajectory is treated as a rejection).
pub fn hmc(
    params: &[Tensor],
    mut log_prob: impl FnMut() -> Result<Tensor>,
    cfg: &HmcConfig,
) -> Result<HmcResult> {
    core_tensor::error::ensure_positive("step_size", cfg.step_size)?;
    for (n, v) in [("leapfrog", cfg.leapfrog), ("samples", cfg.samples), ("thin", cfg.thin)] {
        if v == 0 {
            return Err(invalid(n, v, "must be ≥ 1"));
        }
    }
    if params.is_empty() {
        return Err(invalid("params", 0, "need at least one parameter tensor"));
    }
    let _seed_scope = core_tensor::seed::TorchSeedScope::enter(cfg.seed);
    let mut r = rng(cfg.seed);
    let mut eps = cfg.step_size;
    let (mut lp, mut grad) = value_and_grad(params, &mut log_prob)?;
    let total = cfg.burn_in + cfg.samples * cfg.thin;
    let mut samples = Vec::with_capacity(cfg.samples);
    let mut log_probs = Vec::with_capacity(total);
    let mut accepted = 0usize;
    let restore = |saved: &[Tensor]| {
        tch::no_grad(|| {
            for (p, s) in params.iter().zip(saved) {
                p.shallow_clone().copy_(s);
            }
        })
    };
    // Step-size search (as in NUTS's heuristic): halve ε until a one-step trajectory would be
    // accepted with probability ≥ 0.5, so adaptation starts in the right range even for very
    // concentrated posteriors.
    if cfg.target_accept.is_some() {
        for _ in 0..60 {
            let saved: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
            let (a, _) = propose(params, &mut log_prob, lp, &grad, eps, 1)?;
            restore(&saved);
            if a >= 0.5 {
                break;
            }
            eps /= 2.0;
        }
    }
    for it in 0..total {
        let saved: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
        let (a, prop) = propose(params, &mut log_prob, lp, &grad, eps, cfg.leapfrog)?;
        let accept = match prop {
            Some((v, g)) if r.gen::<f64>() < a => {
                lp = v;
                grad = g;
                true
            }
            _ => false,
        };
        if accept {
            accepted += 1;
        } else {
            restore(&saved);
        }
        if let (Some(target), true) = (cfg.target_accept, it < cfg.burn_in) {
            eps *= (0.2 * (a - target)).exp();
        }
        log_probs.push(lp);
        if it >= cfg.burn_in && (it - cfg.burn_in) % cfg.thin == cfg.thin - 1 {
            samples.push(params.iter().map(|p| p.detach().copy()).collect());
        }
    }
    Ok(HmcResult { samples, acceptance: accepted as f64 / total as f64, log_probs, step_size: eps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn samples_a_gaussian_with_the_right_moments() {
        let x = Tensor::zeros([2], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let mean = Tensor::from_slice(&[1.0f64, -2.0]);
        let var = Tensor::from_slice(&[0.5f64, 2.0]);
        let cfg = HmcConfig {
            step_size: 0.3,
            leapfrog: 8,
            burn_in: 100,
            samples: 3000,
            thin: 1,
            seed: 3,
            target_accept: None,
        };
        let res = hmc(
            std::slice::from_ref(&x),
            || Ok(-((&x - &mean).square() / &var).sum(Kind::Double) / 2.0),
            &cfg,
        )
        .unwrap();
        assert!(res.acceptance > 0.7, "acceptance {}", res.acceptance);
        let s = Tensor::stack(&res.samples.iter().map(|v| v[0].shallow_clone()).collect::<Vec<_>>(), 0);
        let m: Vec<f64> = Vec::try_from(s.mean_dim([0i64].as_slice(), false, Kind::Double)).unwrap();
        let v: Vec<f64> = Vec::try_from(s.var_dim([0i64].as_slice(), true, false)).unwrap();
        // HMC draws are nearly independent for this target; allow for some autocorrelation.
        assert!((m[0] - 1.0).abs() < 0.08 && (m[1] + 2.0).abs() < 0.15, "means {m:?}");
        assert!((v[0] - 0.5).abs() < 0.1 && (v[1] - 2.0).abs() < 0.4, "variances {v:?}");
    }

    #[test]
    fn bad_settings_are_errors() {
        let x = Tensor::zeros([1], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let f = || Ok(-x.square().sum(Kind::Double));
        assert!(
            hmc(std::slice::from_ref(&x), f, &HmcConfig { step_size: 0.0, ..HmcConfig::default() }).is_err()
        );
        assert!(hmc(&[], || Ok(Tensor::from(0.0)), &HmcConfig::default()).is_err());
    }

    #[test]
    fn step_size_tuning_handles_stiff_posteriors() {
        let x = Tensor::zeros([3], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let var = Tensor::from_slice(&[1e-6f64, 1e-4, 1e-2]);
        let cfg = HmcConfig {
            step_size: 1.0,
            leapfrog: 5,
            burn_in: 100,
            samples: 400,
            thin: 1,
            seed: 5,
            target_accept: Some(0.7),
        };
        let res =
            hmc(std::slice::from_ref(&x), || Ok(-(x.square() / &var).sum(Kind::Double) / 2.0), &cfg).unwrap();
        assert!(res.acceptance > 0.4, "acceptance {} (ε = {})", res.acceptance, res.step_size);
        let s = Tensor::stack(&res.samples.iter().map(|v| v[0].shallow_clone()).collect::<Vec<_>>(), 0);
        let sd0 = s.select(1, 0).std(true).double_value(&[]);
        assert!((sd0 / 1e-3 - 1.0).abs() < 0.3, "sd {sd0}");
    }
}
