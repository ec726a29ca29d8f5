//! How far a learned "score" is from being a gradient field ("Are we really learning the score
//! function?", the WGF-matching paper): a true score `∇ log p_t` has a symmetric Jacobian and zero
//! circulation around every closed loop; a network trained by denoising score matching need not.
//!
//! - Differential test: `‖J − Jᵀ‖_F / ‖J‖_F` with `J = ∂s/∂x` by autograd (0 for a gradient field).
//! - Integral test: the circulation `∮ s · dl` around circles in the plane of the first two
//!   coordinates (trapezoidal rule, spectrally accurate for the periodic integrand), and its ratio
//!   to `∮ |s| |dl|` (0 for a gradient field, 1 for a field that runs along the loop).

use super::likelihood::ScoreFn;
use crate::error::{invalid, Result};
use tch::{Kind, Tensor};

/// `‖J − Jᵀ‖_F / ‖J‖_F` per row of `x [B, D]` for the field `score(·, t)`, `[B]`.
///
/// # Errors
/// `x` not `[B, D]`; errors of the score or of autograd.
pub fn jacobian_asymmetry(score: &ScoreFn<'_>, x: &Tensor, t: f64) -> Result<Tensor> {
    let (_, d) = x.size2().map_err(|_| invalid("x", format!("{:?}", x.size()), "expected [batch, dim]"))?;
    let xr = x.detach().set_requires_grad(true);
    let s = tch::with_grad(|| score(&xr, t))?;
    let j = crate::solver::esdirk::batch_jacobian(&s, &xr, d)?.detach(); // [B, D, D]
    let fro = |m: &Tensor| m.square().sum_dim_intlist([1, 2].as_slice(), false, Kind::Double).sqrt();
    Ok(fro(&(&j - j.transpose(1, 2))) / fro(&j).clamp_min(1e-300))
}

/// The circulation `∮ s · dl` of `score(·, t)` around the circle of radius `r` about each row of
/// `centres [B, D]` in the plane of the first two coordinates, by the trapezoidal rule on `n`
/// points, and its ratio to `∮ |s| |dl|`; `([B], [B])`.
///
/// # Errors
/// `centres` not `[B, D]` with `D ≥ 2`; `r` not finite and > 0; `n < 3`; errors of the score.
pub fn loop_circulation(
    score: &ScoreFn<'_>,
    centres: &Tensor,
    r: f64,
    t: f64,
    n: usize,
) -> Result<(Tensor, Tensor)> {
    let (b, d) = centres
        .size2()
        .map_err(|_| invalid("centres", format!("{:?}", centres.size()), "expected [batch, dim]"))?;
    if d < 2 || !(r.is_finite() && r > 0.0) || n < 3 {
        return Err(invalid(
            "centres, r, n",
            format!("{:?}, {r}, {n}", centres.size()),
            "need D >= 2, r > 0, n >= 3",
        ));
    }
    let (kind, dev) = (centres.kind(), centres.device());
    let mut circ = Tensor::zeros([b], (Kind::Double, dev));
    let mut total = Tensor::zeros([b], (Kind::Double, dev));
    let dl_len = std::f64::consts::TAU * r / n as f64;
    for k in 0..n {
        let th = std::f64::consts::TAU * k as f64 / n as f64;
        let mut off = vec![0.0; d as usize];
        off[0] = r * th.cos();
        off[1] = r * th.sin();
        let p = centres + Tensor::from_slice(&off).to_kind(kind).to(dev).unsqueeze(0);
        let s = tch::no_grad(|| score(&p, t))?.to_kind(Kind::Double);
        // unit tangent (−sin θ, cos θ) in the first two coordinates
        let along = s.select(1, 0) * -th.sin() + s.select(1, 1) * th.cos();
        circ += along * dl_len;
        total += s.square().sum_dim_intlist([1].as_slice(), false, Kind::Double).sqrt() * dl_len;
    }
    let ratio = circ.abs() / total.clamp_min(1e-300);
    Ok((circ, ratio))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::density::Gmm;
    use tch::Device;

    /// A mixture's exact score is a gradient: asymmetry vanishes to rounding, the circulation ratio
    /// to the quadrature's error. The
    /// rotation `s = (−y, x)` has asymmetry 2 and circulation `2π r²` (ratio 1) on every circle.
    #[test]
    fn gradients_pass_and_rotations_fail() {
        let gmm = Gmm::eight_gaussians();
        let exact = |x: &Tensor, _t: f64| gmm.score(x);
        let x = Tensor::randn([6, 2], (Kind::Double, Device::Cpu)) * 2.0;
        assert!(jacobian_asymmetry(&exact, &x, 0.5).unwrap().max().double_value(&[]) < 1e-10);
        let (c, ratio) = loop_circulation(&exact, &x, 0.7, 0.5, 64).unwrap();
        // the trapezoidal rule's error on the steep far field of a narrow mixture: ratio 5e-9 at 64 points
        assert!(ratio.max().double_value(&[]) < 1e-7, "{c:?}");
        let rot = |x: &Tensor, _t: f64| Ok(Tensor::stack(&[-x.select(1, 1), x.select(1, 0)], 1));
        let a = jacobian_asymmetry(&rot, &x, 0.0).unwrap();
        assert!((a - 2.0).abs().max().double_value(&[]) < 1e-12);
        let (c, ratio) =
            loop_circulation(&rot, &Tensor::zeros([1, 2], (Kind::Double, Device::Cpu)), 0.5, 0.0, 16)
                .unwrap();
        assert!((c.double_value(&[0]) - std::f64::consts::TAU * 0.25).abs() < 1e-12);
        assert!((ratio.double_value(&[0]) - 1.0).abs() < 1e-12);
        assert!(loop_circulation(&rot, &x, -1.0, 0.0, 16).is_err());
        assert!(jacobian_asymmetry(&rot, &Tensor::zeros([3], (Kind::Double, Device::Cpu)), 0.0).is_err());
    }
}
