//! Gaussian kernel density estimation with an isotropic bandwidth:
//! `p̂(x) = (1/N) Σ_i N(x; x_i, h² I)`, so
//! `log p̂(x) = logsumexp_i(−‖x − x_i‖² / 2h²) − ln N − (D/2) ln(2π h²)`.
//!
//! The bandwidth is chosen by maximising the likelihood of held-out validation points over a
//! grid ([`GaussianKde::fit`]); the estimate is the baseline a trained density model should beat on
//! test data drawn from the same distribution.

use crate::error::{invalid, Result};
use tch::{Kind, Tensor};

/// Test points evaluated per block (bounds the `[block, N]` distance matrix).
const BLOCK: i64 = 1024;

/// A Gaussian KDE on the rows of `points [N, D]` with bandwidth `h`.
#[derive(Debug)]
pub struct GaussianKde {
    points: Tensor,
    bandwidth: f64,
}

/// The outcome of a bandwidth search.
#[derive(Debug, Clone, PartialEq)]
pub struct BandwidthSearch {
    /// `(h, validation NLL)` for every bandwidth tried, in the grid's order.
    pub tried: Vec<(f64, f64)>,
    /// The chosen bandwidth (the lowest validation NLL).
    pub bandwidth: f64,
}

impl GaussianKde {
    /// The estimate on `points [N, D]` (any floating kind; evaluated in double precision on their
    /// device) with bandwidth `h`.
    ///
    /// # Errors
    /// `points` not 2-D with `N, D > 0`, non-finite points, or `h` not finite and > 0.
    pub fn new(points: &Tensor, h: f64) -> Result<Self> {
        let size = points.size();
        if size.len() != 2 || size[0] == 0 || size[1] == 0 {
            return Err(invalid("points", format!("{size:?}"), "expected [N, D] with N, D > 0"));
        }
        if points.isfinite().all().int64_value(&[]) != 1 {
            return Err(invalid("points", "non-finite entries", "every point must be finite"));
        }
        if !(h.is_finite() && h > 0.0) {
            return Err(invalid("bandwidth", h, "must be finite and > 0"));
        }
        Ok(GaussianKde { points: points.to_kind(Kind::Double), bandwidth: h })
    }

    /// The bandwidth among `grid` that maximises the mean log-density of `valid [M, D]`, and the
    /// estimate on `train` with it.
    ///
    /// # Errors
    /// As [`GaussianKde::new`] for `train` and each bandwidth; an empty grid; `valid` of another
    /// dimension.
    pub fn fit(train: &Tensor, valid: &Tensor, grid: &[f64]) -> Result<(Self, BandwidthSearch)> {
        if grid.is_empty() {
            return Err(invalid("grid", "[]", "need at least one bandwidth"));
        }
        let mut tried = Vec::with_capacity(grid.len());
        for &h in grid {
            let kde = GaussianKde::new(train, h)?;
            tried.push((h, kde.mean_nll(valid)?));
        }
        let (bandwidth, _) =
            tried.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).expect("non-empty grid");
        Ok((GaussianKde::new(train, bandwidth)?, BandwidthSearch { tried, bandwidth }))
    }

    /// The bandwidth.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// `log p̂(x)` for each row of `x [M, D]`, as a `[M]` double tensor.
    ///
    /// # Errors
    /// `x` not `[M, D]` with the estimate's `D`.
    pub fn log_density(&self, x: &Tensor) -> Result<Tensor> {
        let (n, d) = (self.points.size()[0], self.points.size()[1]);
        match x.size().as_slice() {
            [_, dx] if *dx == d => {}
            s => return Err(invalid("x", format!("{s:?}"), &format!("expected [M, {d}]"))),
        }
        let x = x.to_kind(Kind::Double).to(self.points.device());
        let h2 = self.bandwidth * self.bandwidth;
        let norm = (n as f64).ln() + 0.5 * d as f64 * (2.0 * std::f64::consts::PI * h2).ln();
        let m = x.size()[0];
        let mut parts = Vec::with_capacity((m / BLOCK + 1) as usize);
        let pn = self.points.square().sum_dim_intlist([1].as_slice(), false, Kind::Double);
        let mut start = 0;
        while start < m {
            let len = BLOCK.min(m - start);
            // ‖x − p‖² = ‖x‖² + ‖p‖² − 2 x·p, clamped at 0 against rounding
            let xb = x.narrow(0, start, len);
            let xn = xb.square().sum_dim_intlist([1].as_slice(), true, Kind::Double);
            let d2 = (xn + &pn.unsqueeze(0) - xb.matmul(&self.points.tr()) * 2.0).clamp_min(0.0);
            parts.push((d2 / (-2.0 * h2)).logsumexp([1].as_slice(), false) - norm);
            start += len;
        }
        if parts.is_empty() {
            return Ok(Tensor::zeros([0], (Kind::Double, self.points.device())));
        }
        Ok(Tensor::cat(&parts, 0))
    }

    /// `−(1/M) Σ log p̂(x_j)`.
    ///
    /// # Errors
    /// As [`GaussianKde::log_density`]; `M = 0`.
    pub fn mean_nll(&self, x: &Tensor) -> Result<f64> {
        if x.size().first().copied().unwrap_or(0) == 0 {
            return Err(invalid("x", format!("{:?}", x.size()), "need at least one point"));
        }
        Ok(-self.log_density(x)?.mean(Kind::Double).double_value(&[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// With one point the estimate is the Gaussian `N(x_0, h² I)` itself; with two, the equal mixture.
    #[test]
    fn small_estimates_are_their_gaussians() {
        let p = Tensor::from_slice(&[0.5f64, -1.0]).view([1, 2]);
        let kde = GaussianKde::new(&p, 0.7).unwrap();
        let x = Tensor::from_slice(&[1.0f64, 0.0, -2.0, 3.0]).view([2, 2]);
        let lp = kde.log_density(&x).unwrap();
        for (j, xj) in [[1.0, 0.0], [-2.0, 3.0]].iter().enumerate() {
            let d2 = (xj[0] - 0.5f64).powi(2) + (xj[1] + 1.0f64).powi(2);
            let expected = -d2 / (2.0 * 0.49) - (2.0 * std::f64::consts::PI * 0.49).ln();
            assert!((lp.double_value(&[j as i64]) - expected).abs() < 1e-12);
        }
        let two = Tensor::from_slice(&[0.0f64, 2.0]).view([2, 1]);
        let kde = GaussianKde::new(&two, 1.0).unwrap();
        let lp = kde.log_density(&Tensor::from_slice(&[1.0f64]).view([1, 1])).unwrap().double_value(&[0]);
        let expected = (-0.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
        assert!((lp - expected.ln()).abs() < 1e-12);
    }

    /// On standard-normal data the validation-chosen bandwidth lies near Silverman's rule
    /// `h ≈ 1.06 σ n^(−1/5)` and the test NLL approaches the entropy `ln(2πe)/2` per dimension.
    #[test]
    fn the_chosen_bandwidth_is_sensible() {
        core_tensor::seed::seed_torch(3);
        let o = (Kind::Double, Device::Cpu);
        let (tr, va, te) =
            (Tensor::randn([2000, 1], o), Tensor::randn([2000, 1], o), Tensor::randn([4000, 1], o));
        let grid: Vec<f64> = (0..30).map(|i| 0.05 * 1.12f64.powi(i)).collect();
        let (kde, search) = GaussianKde::fit(&tr, &va, &grid).unwrap();
        let silverman = 1.06 * 2000f64.powf(-0.2);
        assert!(kde.bandwidth() > 0.5 * silverman && kde.bandwidth() < 2.0 * silverman, "{search:?}");
        let nll = kde.mean_nll(&te).unwrap();
        let entropy = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
        assert!(nll > entropy - 0.05 && nll < entropy + 0.05, "{nll} vs {entropy}");
    }

    /// Bad input is named.
    #[test]
    fn bad_input_is_an_error() {
        let p = Tensor::zeros([4, 2], (Kind::Double, Device::Cpu));
        assert!(GaussianKde::new(&p, 0.0).is_err());
        assert!(GaussianKde::new(&p, f64::NAN).is_err());
        assert!(GaussianKde::new(&Tensor::zeros([0, 2], (Kind::Double, Device::Cpu)), 1.0).is_err());
        let nan = Tensor::full([2, 2], f64::NAN, (Kind::Double, Device::Cpu));
        assert!(GaussianKde::new(&nan, 1.0).is_err());
        let kde = GaussianKde::new(&p, 1.0).unwrap();
        assert!(kde.log_density(&Tensor::zeros([3, 3], (Kind::Double, Device::Cpu))).is_err());
        assert!(GaussianKde::fit(&p, &p, &[]).is_err());
    }
}
