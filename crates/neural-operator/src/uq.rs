//! Scores for probabilistic predictions with a Gaussian predictive distribution `N(μ, σ²)` per
//! point, and the moments of an ensemble (deep ensembles, MC-dropout passes).
//!
//! All functions take tensors of one common shape and average over every element.

use crate::error::{invalid, Error, Result};
use tch::{Kind, Tensor};

fn check(mean: &Tensor, std: &Tensor, y: &Tensor) -> Result<()> {
    if mean.size() != y.size() || std.size() != y.size() {
        return Err(Error::Core(core_tensor::Error::shape(
            "mean/std/y",
            y.size(),
            (mean.size(), std.size()),
        )));
    }
    core_tensor::error::ensure_finite_tensor("mean", mean)?;
    core_tensor::error::ensure_finite_tensor("y", y)?;
    core_tensor::error::ensure_finite_tensor("std", std)?;
    let min = std.min().double_value(&[]);
    if min <= 0.0 {
        return Err(invalid("std", min, "predictive standard deviations must be > 0"));
    }
    Ok(())
}

/// Mean Gaussian negative log-likelihood `½ ln(2πσ²) + (y − μ)²/(2σ²)` (nats per point).
pub fn gaussian_nll(mean: &Tensor, std: &Tensor, y: &Tensor) -> Result<f64> {
    check(mean, std, y)?;
    let var = std.square();
    let nll = (&var * (2.0 * std::f64::consts::PI)).log() * 0.5 + (y - mean).square() / (var * 2.0);
    Ok(nll.mean(Kind::Double).double_value(&[]))
}

/// Mean continuous ranked probability score of `N(μ, σ²)` at `y` (Gneiting & Raftery 2007):
/// `σ [z (2Φ(z) − 1) + 2φ(z) − 1/√π]` with `z = (y − μ)/σ`; same units as `y`, lower is better.
pub fn gaussian_crps(mean: &Tensor, std: &Tensor, y: &Tensor) -> Result<f64> {
    check(mean, std, y)?;
    let z = (y - mean) / std;
    let cdf = ((&z / std::f64::consts::SQRT_2).erf() + 1.0) * 0.5;
    let pdf = (z.square() * -0.5).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let crps = std * (&z * (cdf * 2.0 - 1.0) + pdf * 2.0 - 1.0 / std::f64::consts::PI.sqrt());
    Ok(crps.mean(Kind::Double).double_value(&[]))
}

/// Fraction of points whose `y` lies in the central `level` interval `μ ± Φ⁻¹((1 + level)/2) σ`
/// (a calibrated model gives `level`).
pub fn coverage(mean: &Tensor, std: &Tensor, y: &Tensor, level: f64) -> Result<f64> {
    check(mean, std, y)?;
    if !(level > 0.0 && level < 1.0) {
        return Err(invalid("level", level, "must lie in (0, 1)"));
    }
    // cpu: a scalar quantile computed on the host
    let q = Tensor::from((1.0 + level) / 2.0).special_ndtri().double_value(&[]);
    let inside = (y - mean).abs().le_tensor(&(std * q));
    Ok(inside.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]))
}

/// Mean and (population) variance over an ensemble of predictions of one shape: `(μ, σ²)`.
pub fn ensemble_moments(preds: &[Tensor]) -> Result<(Tensor, Tensor)> {
    let first = preds.first().ok_or_else(|| invalid("preds", 0, "need at least one prediction"))?;
    if let Some(bad) = preds.iter().find(|p| p.size() != first.size()) {
        return Err(Error::Core(core_tensor::Error::shape("preds", first.size(), bad.size())));
    }
    let stacked = Tensor::stack(preds, 0);
    let mean = stacked.mean_dim(0, false, stacked.kind());
    let var = (stacked - mean.unsqueeze(0)).square().mean_dim(0, false, mean.kind());
    Ok((mean, var))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed form equals the defining integral `∫ (F(x) − 1{x ≥ y})² dx` (trapezoid rule).
    #[test]
    fn crps_matches_its_integral_definition() {
        let (mu, sigma, y) = (0.3, 1.7, 2.1);
        let phi = |x: f64| 0.5 * (1.0 + statrs::function::erf::erf(x / std::f64::consts::SQRT_2));
        // Simpson's rule on each side of the jump at y
        let simpson = |lo: f64, hi: f64, above: bool| {
            let n = 200_000;
            let h = (hi - lo) / n as f64;
            (0..=n)
                .map(|i| {
                    let x = lo + i as f64 * h;
                    let f = phi((x - mu) / sigma) - if above { 1.0 } else { 0.0 };
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    w * f * f * h / 3.0
                })
                .sum::<f64>()
        };
        let integral = simpson(-30.0, y, false) + simpson(y, 30.0, true);
        let t = |v: f64| Tensor::from_slice(&[v]);
        let c = gaussian_crps(&t(mu), &t(sigma), &t(y)).unwrap();
        assert!((c - integral).abs() < 1e-9, "{c} vs {integral}");
        let nll = gaussian_nll(&t(mu), &t(sigma), &t(y)).unwrap();
        let exact = 0.5 * (2.0 * std::f64::consts::PI * sigma * sigma).ln()
            + (y - mu).powi(2) / (2.0 * sigma * sigma);
        assert!((nll - exact).abs() < 1e-12);
    }

    #[test]
    fn calibrated_samples_have_nominal_coverage_and_errors_are_clear() {
        core_tensor::seed::seed_torch(0);
        let y = Tensor::randn([200_000], (Kind::Double, tch::Device::Cpu));
        let zeros = Tensor::zeros([200_000], (Kind::Double, tch::Device::Cpu));
        let ones = Tensor::ones([200_000], (Kind::Double, tch::Device::Cpu));
        for level in [0.5, 0.9, 0.95] {
            let c = coverage(&zeros, &ones, &y, level).unwrap();
            assert!((c - level).abs() < 0.005, "level {level}: {c}");
        }
        // E CRPS of the true N(0,1) is 1/√π
        let c = gaussian_crps(&zeros, &ones, &y).unwrap();
        assert!((c - 1.0 / std::f64::consts::PI.sqrt()).abs() < 0.005, "{c}");
        assert!(coverage(&zeros, &ones, &y, 1.5).is_err());
        assert!(gaussian_nll(&zeros, &zeros, &y).is_err());
        assert!(gaussian_crps(&zeros.narrow(0, 0, 5), &ones, &y).is_err());
        assert!(ensemble_moments(&[]).is_err());
        let a = Tensor::from_slice(&[1.0, 2.0]);
        let b = Tensor::from_slice(&[3.0, 6.0]);
        let (m, v) = ensemble_moments(&[a.shallow_clone(), b]).unwrap();
        assert_eq!(Vec::<f64>::try_from(&m).unwrap(), vec![2.0, 4.0]);
        assert_eq!(Vec::<f64>::try_from(&v).unwrap(), vec![1.0, 4.0]);
        assert!(ensemble_moments(&[a, Tensor::from_slice(&[1.0])]).is_err());
    }
}
