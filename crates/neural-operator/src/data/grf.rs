//! Gaussian random fields on periodic grids, `N(0, σ² (−Δ + τ² I)^{−α})`, sampled in Fourier space.

use crate::error::{invalid, Result};
use core_tensor::seed::Rng;
use rand_distr::{Distribution, StandardNormal};
use rustfft::{num_complex::Complex64, FftPlanner};

/// A periodic 1-D Gaussian random field on `[0, L)` with covariance operator
/// `σ² (−Δ + τ² I)^{−α}`: Fourier mode `k` (wavenumber `2πk/L`) has variance
/// `σ² ((2πk/L)² + τ²)^{−α}` (the FNO paper's Burgers initial condition is `σ = 25, τ = 5, α = 2`
/// on `L = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grf1d {
    /// Amplitude σ (the covariance is σ² (−Δ + τ²)^{−α}).
    pub sigma: f64,
    /// Inverse length scale τ.
    pub tau: f64,
    /// Smoothness α.
    pub alpha: f64,
    /// Domain length L.
    pub length: f64,
}

impl Grf1d {
    /// The FNO Burgers prior `N(0, 625 (−Δ + 25 I)^{−2})` on `[0, 1)`.
    pub fn burgers() -> Self {
        Grf1d { sigma: 25.0, tau: 5.0, alpha: 2.0, length: 1.0 }
    }
    /// One sample on `n` equispaced points (real, mean zero).
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
        if n < 4 || !n.is_multiple_of(2) {
            return Err(invalid("n", n, "must be even and ≥ 4"));
        }
        if !(self.sigma > 0.0 && self.tau >= 0.0 && self.alpha > 0.5 && self.length > 0.0) {
            return Err(invalid(
                "grf",
                format!("{self:?}"),
                "need sigma > 0, tau ≥ 0, alpha > 1/2, length > 0",
            ));
        }
        // Karhunen–Loève in the orthonormal real Fourier basis √(2/L)·{cos, sin}(2πkx/L):
        // u(x) = Σ_k √λ_k √2 (ξ_k cos + η_k sin), so each resolved mode adds 2λ_k to Var u(x)
        let mut spec = vec![Complex64::new(0.0, 0.0); n];
        for k in 1..n / 2 {
            let w = 2.0 * std::f64::consts::PI * k as f64 / self.length;
            let sd = self.sigma * (w * w + self.tau * self.tau).powf(-self.alpha / 2.0);
            let (a, b): (f64, f64) = (StandardNormal.sample(rng), StandardNormal.sample(rng));
            // real field by conjugate symmetry; with the 1/n of the inverse DFT this gives
            // √2·sd·(a cos θ + b sin θ)
            let c = Complex64::new(a, -b) * (sd * n as f64 / std::f64::consts::SQRT_2);
            spec[k] = c;
            spec[n - k] = c.conj();
        }
        FftPlanner::new().plan_fft_inverse(n).process(&mut spec);
        Ok(spec.iter().map(|z| z.re / n as f64).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pointwise variance equals `2 Σ_{k≥1} λ_k` over the resolved modes (unit-length domain).
    #[test]
    fn variance_matches_the_spectrum() {
        let g = Grf1d { sigma: 1.0, tau: 1.0, alpha: 1.0, length: 1.0 };
        let n = 64;
        let mut r = core_tensor::seed::rng(0);
        let mut acc = 0.0;
        let reps = 4000;
        for _ in 0..reps {
            let u = g.sample(n, &mut r).unwrap();
            acc += u.iter().map(|v| v * v).sum::<f64>() / n as f64;
        }
        let var = acc / reps as f64;
        let exact: f64 = (1..n / 2)
            .map(|k| {
                let w = 2.0 * std::f64::consts::PI * k as f64;
                (w * w + 1.0).powf(-1.0)
            })
            .sum::<f64>()
            * 2.0;
        assert!((var - exact).abs() / exact < 0.05, "{var} vs {exact}");
        assert!(g.sample(7, &mut r).is_err());
    }
}
