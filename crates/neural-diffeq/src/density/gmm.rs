//! Isotropic Gaussian mixtures `p(x) = Σ_k w_k N(x; μ_k, s_k² I)` with exact log-density and score
//! `∇ log p(x) = Σ_k r_k(x) (μ_k − x) / s_k²` (`r_k` the responsibilities), also of the mixture
//! seen through a Gaussian perturbation `x_t = m x_0 + σ ε`: component `k` becomes
//! `N(m μ_k, (m² s_k² + σ²) I)`, so the exact score of a diffusion's marginal at every noise level
//! is a mixture score too. The toy targets of diffusion experiments (eight Gaussians, the 5×5 grid)
//! are mixtures, which makes every score-based quantity checkable in closed form.

use crate::error::{invalid, Result};
use core_tensor::seed::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use tch::Tensor;

/// An isotropic Gaussian mixture in `D` dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Gmm {
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    stds: Vec<f64>,
}

impl Gmm {
    /// A mixture of `weights` (positive, normalised here), `means` (all of one dimension) and
    /// standard deviations `stds` (> 0).
    ///
    /// # Errors
    /// Empty or mismatched lists, a non-positive or non-finite weight or standard deviation,
    /// means of different or zero dimension, non-finite means.
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, stds: Vec<f64>) -> Result<Self> {
        let k = weights.len();
        if k == 0 || means.len() != k || stds.len() != k {
            return Err(invalid(
                "weights, means, stds",
                format!("{k}, {}, {}", means.len(), stds.len()),
                "need the same non-zero number of components",
            ));
        }
        if weights.iter().chain(&stds).any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(invalid("weights, stds", format!("{weights:?}, {stds:?}"), "must be finite and > 0"));
        }
        let d = means[0].len();
        if d == 0 || means.iter().any(|m| m.len() != d || m.iter().any(|v| !v.is_finite())) {
            return Err(invalid(
                "means",
                format!("{means:?}"),
                "need finite means of one non-zero dimension",
            ));
        }
        let total: f64 = weights.iter().sum();
        Ok(Gmm { weights: weights.iter().map(|w| w / total).collect(), means, stds })
    }

    /// Eight equal Gaussians on the circle of radius `4/√2` with standard deviation `0.5/√2`
    /// (FFJORD's "8 Gaussians", the same density as [`Toy2d::EightGaussians`](super::Toy2d)).
    pub fn eight_gaussians() -> Self {
        let r = 4.0 / std::f64::consts::SQRT_2;
        let means = (0..8)
            .map(|k| {
                let a = std::f64::consts::FRAC_PI_4 * k as f64;
                vec![r * a.cos(), r * a.sin()]
            })
            .collect();
        Gmm::new(vec![1.0; 8], means, vec![0.5 / std::f64::consts::SQRT_2; 8]).expect("valid mixture")
    }

    /// The 5×5 grid of equal Gaussians at `{−4, −2, 0, 2, 4}²` with standard deviation `s`.
    ///
    /// # Errors
    /// `s` not finite and > 0.
    pub fn grid25(s: f64) -> Result<Self> {
        let means = (0..25).map(|k| vec![-4.0 + 2.0 * (k / 5) as f64, -4.0 + 2.0 * (k % 5) as f64]).collect();
        Gmm::new(vec![1.0; 25], means, vec![s; 25])
    }

    /// The component means.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.means
    }

    /// The component standard deviations.
    pub fn stds(&self) -> &[f64] {
        &self.stds
    }

    /// The dimension `D`.
    pub fn dim(&self) -> usize {
        self.means[0].len()
    }

    /// The mixture of `x_t = m x_0 + σ ε` for `x_0` from this one (`m > 0`, `σ ≥ 0`).
    pub fn perturbed(&self, m: f64, sigma: f64) -> Self {
        Gmm {
            weights: self.weights.clone(),
            means: self.means.iter().map(|mu| mu.iter().map(|v| m * v).collect()).collect(),
            stds: self.stds.iter().map(|s| (m * m * s * s + sigma * sigma).sqrt()).collect(),
        }
    }

    /// `n` samples `[n, D]` (double) on the CPU.
    pub fn sample(&self, n: usize, g: &mut Rng) -> Tensor {
        let d = self.dim();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let u: f64 = g.gen();
            let mut acc = 0.0;
            let k = self.weights.iter().position(|w| {
                acc += w;
                u < acc
            });
            let k = k.unwrap_or(self.weights.len() - 1);
            for j in 0..d {
                let z: f64 = StandardNormal.sample(g);
                out.push(self.means[k][j] + self.stds[k] * z);
            }
        }
        // cpu: samples are drawn on the host (documented); callers move them
        Tensor::from_slice(&out).view([n as i64, d as i64])
    }

    /// `(log p(x) [B], log-weights of the components [B, K] before normalising)` for `x [B, D]`.
    fn log_terms(&self, x: &Tensor) -> Result<Tensor> {
        let d = self.dim() as i64;
        match x.size().as_slice() {
            [_, dx] if *dx == d => {}
            s => return Err(invalid("x", format!("{s:?}"), &format!("expected [batch, {d}]"))),
        }
        let (kind, dev) = (x.kind(), x.device());
        let mu = Tensor::from_slice(&self.means.concat()).view([1, -1, d]).to_kind(kind).to(dev);
        let s2 =
            Tensor::from_slice(&self.stds.iter().map(|s| s * s).collect::<Vec<_>>()).to_kind(kind).to(dev);
        let lw = Tensor::from_slice(&self.weights.iter().map(|w| w.ln()).collect::<Vec<_>>())
            .to_kind(kind)
            .to(dev);
        let d2 = (x.unsqueeze(1) - mu).square().sum_dim_intlist([2].as_slice(), false, kind); // [B, K]
        Ok(lw.unsqueeze(0)
            - d2 / (s2.unsqueeze(0) * 2.0)
            - (s2.unsqueeze(0) * (2.0 * std::f64::consts::PI)).log() * (d as f64 / 2.0))
    }

    /// `log p(x)` per row of `x [B, D]`, `[B]` (differentiable in `x`).
    ///
    /// # Errors
    /// `x` not `[B, D]`.
    pub fn log_density(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.log_terms(x)?.logsumexp([1].as_slice(), false))
    }

    /// `∇ log p(x)` per row of `x [B, D]`, `[B, D]`.
    ///
    /// # Errors
    /// `x` not `[B, D]`.
    pub fn score(&self, x: &Tensor) -> Result<Tensor> {
        let d = self.dim() as i64;
        let resp = self.log_terms(x)?.softmax(1, x.kind()); // [B, K]
        let (kind, dev) = (x.kind(), x.device());
        let mu = Tensor::from_slice(&self.means.concat()).view([1, -1, d]).to_kind(kind).to(dev);
        let s2 = Tensor::from_slice(&self.stds.iter().map(|s| s * s).collect::<Vec<_>>())
            .to_kind(kind)
            .to(dev)
            .view([1, -1, 1]);
        Ok(((mu - x.unsqueeze(1)) / s2 * resp.unsqueeze(2)).sum_dim_intlist([1].as_slice(), false, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The score is the gradient of the log-density (autograd), the eight Gaussians equal the
    /// toy density, a perturbed mixture is the convolution (its variance adds σ²), and bad
    /// mixtures are refused.
    #[test]
    fn scores_densities_and_perturbations_are_exact() {
        let g = Gmm::grid25(0.3).unwrap();
        let x = Tensor::randn([7, 2], (Kind::Double, Device::Cpu)) * 3.0;
        let xr = x.detach().set_requires_grad(true);
        let lp = g.log_density(&xr).unwrap();
        let grad = Tensor::run_backward(&[lp.sum(Kind::Double)], &[&xr], false, false);
        assert!((g.score(&x).unwrap() - &grad[0]).abs().max().double_value(&[]) < 1e-10);
        let e = Gmm::eight_gaussians();
        for p in [[0.3, -2.0], [2.8, 0.1], [-5.0, 5.0]] {
            let lp = e.log_density(&Tensor::from_slice(&p).view([1, 2])).unwrap().double_value(&[0]);
            assert!((lp - super::super::Toy2d::EightGaussians.log_density(p)).abs() < 1e-10);
        }
        // one component: perturbing N(μ, s²) by m, σ gives N(mμ, m²s² + σ²)
        let one = Gmm::new(vec![1.0], vec![vec![1.0, -2.0]], vec![0.5]).unwrap();
        let p = one.perturbed(0.6, 0.8);
        let var = 0.36 * 0.25 + 0.64;
        let y = Tensor::from_slice(&[0.1f64, 0.2]).view([1, 2]);
        let expected = -((0.1f64 - 0.6).powi(2) + (0.2f64 + 1.2).powi(2)) / (2.0 * var)
            - (2.0 * std::f64::consts::PI * var).ln();
        assert!((p.log_density(&y).unwrap().double_value(&[0]) - expected).abs() < 1e-12);
        assert!(Gmm::new(vec![], vec![], vec![]).is_err());
        assert!(Gmm::new(vec![1.0], vec![vec![0.0]], vec![0.0]).is_err());
        assert!(Gmm::new(vec![1.0, 1.0], vec![vec![0.0], vec![0.0, 1.0]], vec![1.0, 1.0]).is_err());
        assert!(g.score(&Tensor::zeros([3, 3], (Kind::Double, Device::Cpu))).is_err());
        let mut r = core_tensor::seed::rng(0);
        let s = g.sample(5000, &mut r);
        assert!(s.mean(Kind::Double).abs().double_value(&[]) < 0.1);
    }
}
