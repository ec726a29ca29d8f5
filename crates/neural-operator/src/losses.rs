//! Losses and normalisers for operator learning.

use crate::error::{invalid, Result};
use tch::Tensor;

/// Relative H1 loss on 1-D periodic fields `[B, C, N]` on `[0, 1)`:
/// `mean_b sqrt(‖e‖² + ‖e′‖²) / sqrt(‖v‖² + ‖v′‖²)` with `e = u − v` and derivatives by periodic
/// central differences.
pub fn relative_h1_loss(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    if pred.size() != target.size() || pred.dim() != 3 {
        return Err(invalid(
            "pred",
            format!("{:?}", pred.size()),
            &format!("must be [B, C, N] like the target {:?}", target.size()),
        ));
    }
    let n = pred.size()[2];
    let d = |x: &Tensor| (x.roll([-1], [2]) - x.roll([1], [2])) * (n as f64 / 2.0);
    let b = pred.size()[0];
    let e = pred - target;
    let sq = |x: &Tensor| x.square().reshape([b, -1]).sum_dim_intlist([1].as_slice(), false, x.kind());
    let num = (sq(&e) + sq(&d(&e))).sqrt();
    let den = (sq(target) + sq(&d(target))).sqrt().clamp_min(1e-12);
    let ratio = num / den;
    Ok(ratio.mean(ratio.kind()))
}

/// Pointwise unit-Gaussian normaliser: mean and standard deviation over the batch at every grid
/// point and channel (as in the FNO reference code), `encode(x) = (x − μ)/(σ + ε)`.
#[derive(Debug)]
pub struct UnitGaussianNormalizer {
    mean: Tensor,
    std: Tensor,
    eps: f64,
}

impl UnitGaussianNormalizer {
    /// Fits to `x [B, …]` (at least two samples).
    pub fn fit(x: &Tensor) -> Result<Self> {
        if x.dim() < 2 || x.size()[0] < 2 {
            return Err(invalid("x", format!("{:?}", x.size()), "need [batch ≥ 2, …]"));
        }
        Self::fit_over(x, &[0])
    }
    /// Fits one mean and one standard deviation per channel to `x [B, C, …]`, pooled over the
    /// batch and every grid point: the statistics have shape `[1, C, 1, …]`, so the normaliser
    /// applies at any resolution (zero-shot super-resolution) and commutes with grid shifts.
    pub fn fit_per_channel(x: &Tensor) -> Result<Self> {
        if x.dim() < 3 || x.numel() < 2 * x.size()[1] as usize {
            return Err(invalid(
                "x",
                format!("{:?}", x.size()),
                "need [batch, channels, grid…] with ≥ 2 values per channel",
            ));
        }
        let dims: Vec<i64> = (0..x.dim() as i64).filter(|&d| d != 1).collect();
        Self::fit_over(x, &dims)
    }
    /// Mean and (population) standard deviation of finite `x` over `dims`, kept as size-1 axes.
    fn fit_over(x: &Tensor, dims: &[i64]) -> Result<Self> {
        if tch::no_grad(|| x.isfinite().all().int64_value(&[]) == 0) {
            return Err(invalid("x", "non-finite values", "cannot fit a normaliser"));
        }
        Ok(UnitGaussianNormalizer {
            mean: x.mean_dim(dims, true, x.kind()),
            std: x.std_dim(dims, false, true),
            eps: 1e-5,
        })
    }
    /// `(x − μ)/(σ + ε)`.
    pub fn encode(&self, x: &Tensor) -> Tensor {
        (x - &self.mean) / (&self.std + self.eps)
    }
    /// `x (σ + ε) + μ`.
    pub fn decode(&self, x: &Tensor) -> Tensor {
        x * (&self.std + self.eps) + &self.mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Losses and normalisers keep the kind and device of their inputs (no f32 or CPU default).
    #[test]
    fn outputs_keep_the_kind_and_device_of_the_inputs() {
        let dev = core_tensor::device::device();
        for kind in [Kind::Float, Kind::Double] {
            let v = Tensor::randn([4, 1, 16], (kind, dev));
            let u = &v * 1.1;
            for loss in
                [relative_h1_loss(&u, &v).unwrap(), crate::fno::relative_lp_loss(&u, &v, 2.0).unwrap()]
            {
                assert_eq!((loss.kind(), loss.device()), (kind, dev));
            }
            let norm = UnitGaussianNormalizer::fit(&v).unwrap();
            let z = norm.encode(&v);
            assert_eq!((z.kind(), z.device()), (kind, dev));
        }
    }

    #[test]
    fn h1_of_a_sine_error_and_normaliser_round_trip() {
        // target sin(2πx), prediction 1.1·sin(2πx): e = 0.1 sin, e′ = 0.2π cos (discrete: 2π·sinc-ish)
        let n = 512;
        let x = Tensor::arange(n, (Kind::Double, Device::Cpu)) / n as f64;
        let v = (&x * (2.0 * std::f64::consts::PI)).sin().view([1, 1, n]);
        let u = &v * 1.1;
        let h1 = relative_h1_loss(&u, &v).unwrap().double_value(&[]);
        assert!((h1 - 0.1).abs() < 1e-4, "{h1}");
        assert!(relative_h1_loss(&u, &v.view([1, n])).is_err());
        let data = Tensor::randn([16, 1, 8], (Kind::Float, Device::Cpu)) * 3.0 + 2.0;
        let norm = UnitGaussianNormalizer::fit(&data).unwrap();
        let z = norm.encode(&data);
        assert!(z.mean_dim([0].as_slice(), false, Kind::Float).abs().max().double_value(&[]) < 1e-5);
        assert!(norm.decode(&z).allclose(&data, 1e-4, 1e-4, false));
        assert!(UnitGaussianNormalizer::fit(&Tensor::zeros([1, 4], (Kind::Float, Device::Cpu))).is_err());
    }

    #[test]
    fn per_channel_normaliser_pools_batch_and_grid() {
        // channel 0 ~ 5 + 0.01·N(0,1), channel 1 ~ −1 + 100·N(0,1)
        let base = Tensor::randn([64, 2, 32], (Kind::Float, Device::Cpu));
        let scale = Tensor::from_slice(&[0.01f32, 100.0]).view([1, 2, 1]);
        let shift = Tensor::from_slice(&[5.0f32, -1.0]).view([1, 2, 1]);
        let data = &base * &scale + &shift;
        let norm = UnitGaussianNormalizer::fit_per_channel(&data).unwrap();
        assert_eq!(norm.mean.size(), vec![1, 2, 1]);
        let z = norm.encode(&data);
        for c in 0..2 {
            let zc = z.select(1, c);
            assert!(zc.mean(Kind::Double).double_value(&[]).abs() < 1e-3);
            assert!((zc.std(true).double_value(&[]) - 1.0).abs() < 2e-3);
        }
        // applies at another resolution, and round-trips
        let fine = Tensor::randn([3, 2, 128], (Kind::Float, Device::Cpu));
        assert!(norm.decode(&norm.encode(&fine)).allclose(&fine, 1e-3, 1e-3, false));
        let bad = Tensor::from_slice(&[f32::NAN, 1.0, 2.0, 3.0]).view([2, 1, 2]);
        assert!(UnitGaussianNormalizer::fit_per_channel(&bad).is_err());
        assert!(UnitGaussianNormalizer::fit_per_channel(&Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)))
            .is_err());
    }
}
