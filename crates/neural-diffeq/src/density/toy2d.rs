//! The 2-D toy distributions of FFJORD (Grathwohl et al. 2019) and RNODE (Finlay et al. 2020), in
//! their published scalings, each with its exact log-density so that a model's test NLL can be
//! set beside the entropy of the data it was trained on.
//!
//! - **Two moons**: an arc chosen with probability ½, an angle `θ ~ U[0, π]`, the point
//!   `2·m(θ) + (−1, −0.2) + N(0, 0.2² I)` with `m(θ) = (cos θ, sin θ)` (upper moon) or
//!   `(1 − cos θ, 0.5 − sin θ)` (lower moon). The density is the angle integral of the Gaussian,
//!   taken by composite Simpson's rule.
//! - **Eight Gaussians**: equal-weight components with centres `4·u_k / √2` on the eight compass
//!   directions `u_k` and standard deviation `0.5 / √2`.
//! - **Checkerboard**: uniform on the eight black squares of side 2 in `[−4, 4]²` (area 32), so
//!   `−log p = ln 32 ≈ 3.4657` on the support.

use crate::error::{invalid, Result};
use core_tensor::seed::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::{FRAC_1_SQRT_2, PI, SQRT_2};
use tch::{Device, Kind, Tensor};

/// One of the toy distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toy2d {
    /// Two interleaved half circles with Gaussian noise.
    TwoMoons,
    /// Eight Gaussians on a circle.
    EightGaussians,
    /// A 4×4 checkerboard of uniform squares, half of them empty.
    Checkerboard,
}

/// Noise of the moons after scaling (0.1 before the factor 2).
const MOON_SIGMA: f64 = 0.2;
/// Simpson intervals over the moon's angle (even).
const MOON_INTERVALS: usize = 512;

impl Toy2d {
    /// All three, in the order of the papers' figures.
    pub const ALL: [Toy2d; 3] = [Toy2d::TwoMoons, Toy2d::EightGaussians, Toy2d::Checkerboard];

    /// The distribution called `name` (`two_moons`, `eight_gaussians`, `checkerboard`).
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name).ok_or_else(|| {
            invalid("name", name, "unknown toy density; expected two_moons, eight_gaussians or checkerboard")
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Toy2d::TwoMoons => "two_moons",
            Toy2d::EightGaussians => "eight_gaussians",
            Toy2d::Checkerboard => "checkerboard",
        }
    }

    /// `n` independent points.
    pub fn sample(self, n: usize, g: &mut Rng) -> Vec<[f64; 2]> {
        (0..n).map(|_| self.draw(g)).collect()
    }

    /// `n` points as a `[n, 2]` tensor of `kind` on `device`.
    pub fn sample_tensor(self, n: usize, g: &mut Rng, kind: Kind, device: Device) -> Tensor {
        to_tensor(&self.sample(n, g), kind, device)
    }

    fn draw(self, g: &mut Rng) -> [f64; 2] {
        match self {
            Toy2d::TwoMoons => {
                let upper = g.gen::<bool>();
                let th = g.gen::<f64>() * PI;
                let c = moon_centre(upper, th);
                [c[0] + MOON_SIGMA * normal(g), c[1] + MOON_SIGMA * normal(g)]
            }
            Toy2d::EightGaussians => {
                let k = g.gen_range(0..8);
                let c = gaussian_centre(k);
                [c[0] + 0.5 * FRAC_1_SQRT_2 * normal(g), c[1] + 0.5 * FRAC_1_SQRT_2 * normal(g)]
            }
            Toy2d::Checkerboard => {
                // a column of width 1 in [−2, 2), then one of its two black cells; scaled by 2
                let x1 = g.gen::<f64>() * 4.0 - 2.0;
                let cell = if g.gen::<bool>() { 0.0 } else { -2.0 };
                let x2 = g.gen::<f64>() + cell + x1.floor().rem_euclid(2.0);
                [2.0 * x1, 2.0 * x2]
            }
        }
    }

    /// The exact `log p(x)` (natural log; `−∞` off the checkerboard's support).
    pub fn log_density(self, x: [f64; 2]) -> f64 {
        match self {
            Toy2d::TwoMoons => {
                // log ½ Σ_moons (1/π) ∫_0^π N(x; c(θ), σ² I) dθ, by Simpson with log-sum-exp
                let h = PI / MOON_INTERVALS as f64;
                let mut terms = Vec::with_capacity(2 * (MOON_INTERVALS + 1));
                for upper in [true, false] {
                    for i in 0..=MOON_INTERVALS {
                        let w = if i == 0 || i == MOON_INTERVALS {
                            1.0
                        } else if i % 2 == 1 {
                            4.0
                        } else {
                            2.0
                        };
                        let c = moon_centre(upper, i as f64 * h);
                        let d2 = (x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2);
                        terms.push(f64::ln(w) - d2 / (2.0 * MOON_SIGMA * MOON_SIGMA));
                    }
                }
                log_sum_exp(&terms) + (h / 3.0).ln()
                    - (2.0 * PI).ln()
                    - (2.0 * PI * MOON_SIGMA * MOON_SIGMA).ln()
            }
            Toy2d::EightGaussians => {
                let s2 = 0.125; // (0.5 / √2)²
                let terms: Vec<f64> = (0..8)
                    .map(|k| {
                        let c = gaussian_centre(k);
                        -((x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2)) / (2.0 * s2)
                    })
                    .collect();
                log_sum_exp(&terms) - 8f64.ln() - (2.0 * PI * s2).ln()
            }
            Toy2d::Checkerboard => {
                let (a, b) = (x[0] / 2.0, x[1] / 2.0);
                let inside = (-2.0..2.0).contains(&a) && (-2.0..2.0).contains(&b);
                if inside && (a.floor() + b.floor()).rem_euclid(2.0) == 0.0 {
                    -(32f64.ln())
                } else {
                    f64::NEG_INFINITY
                }
            }
        }
    }

    /// `−(1/n) Σ log p(x_i)` over the rows of `x [n, 2]`, the NLL of a perfect model.
    ///
    /// # Errors
    /// `x` not `[n, 2]` with `n > 0`.
    pub fn mean_nll(self, x: &Tensor) -> Result<f64> {
        let pts = points(x)?;
        Ok(-pts.iter().map(|p| self.log_density(*p)).sum::<f64>() / pts.len() as f64)
    }
}

fn normal(g: &mut Rng) -> f64 {
    StandardNormal.sample(g)
}

fn moon_centre(upper: bool, th: f64) -> [f64; 2] {
    let m = if upper { [th.cos(), th.sin()] } else { [1.0 - th.cos(), 0.5 - th.sin()] };
    [2.0 * m[0] - 1.0, 2.0 * m[1] - 0.2]
}

fn gaussian_centre(k: usize) -> [f64; 2] {
    const U: [[f64; 2]; 8] = [
        [1.0, 0.0],
        [-1.0, 0.0],
        [0.0, 1.0],
        [0.0, -1.0],
        [FRAC_1_SQRT_2, FRAC_1_SQRT_2],
        [FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
        [-FRAC_1_SQRT_2, FRAC_1_SQRT_2],
        [-FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
    ];
    [U[k][0] * 4.0 / SQRT_2, U[k][1] * 4.0 / SQRT_2]
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Points as a `[n, 2]` tensor.
pub fn to_tensor(pts: &[[f64; 2]], kind: Kind, device: Device) -> Tensor {
    let flat: Vec<f64> = pts.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([-1, 2]).to_kind(kind).to(device)
}

/// The rows of a `[n, 2]` tensor.
///
/// # Errors
/// Another shape, or `n = 0`.
pub fn points(x: &Tensor) -> Result<Vec<[f64; 2]>> {
    match x.size().as_slice() {
        [n, 2] if *n > 0 => {
            let v = Vec::<f64>::try_from(x.to_kind(Kind::Double).to(Device::Cpu).contiguous().view([-1]))
                .map_err(|e| invalid("x", e, "could not read the tensor"))?;
            Ok(v.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
        }
        s => Err(invalid("x", format!("{s:?}"), "expected [n, 2] with n > 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each exact density integrates to one over a grid covering its support (midpoint rule), and
    /// the samples' mean `−log p` is close to the entropy the integral gives.
    #[test]
    fn exact_densities_integrate_to_one_and_match_their_samples() {
        for d in Toy2d::ALL {
            let (lo, hi, m) = (-6.0, 6.0, 240);
            let h = (hi - lo) / m as f64;
            let (mut mass, mut entropy) = (0.0, 0.0);
            for i in 0..m {
                for j in 0..m {
                    let x = [lo + (i as f64 + 0.5) * h, lo + (j as f64 + 0.5) * h];
                    let lp = d.log_density(x);
                    if lp.is_finite() {
                        mass += lp.exp() * h * h;
                        entropy -= lp * lp.exp() * h * h;
                    }
                }
            }
            assert!((mass - 1.0).abs() < 2e-3, "{}: mass {mass}", d.name());
            let mut g = core_tensor::seed::rng(7);
            let x = d.sample_tensor(20_000, &mut g, Kind::Double, Device::Cpu);
            let nll = d.mean_nll(&x).unwrap();
            // the standard error of the mean −log p is below 0.01 nats for these 20 000 draws
            assert!((nll - entropy).abs() < 0.03, "{}: sample NLL {nll} vs entropy {entropy}", d.name());
        }
        assert!(
            (Toy2d::Checkerboard.mean_nll(&to_tensor(&[[1.0, 1.0]], Kind::Double, Device::Cpu)).unwrap()
                - 32f64.ln())
            .abs()
                < 1e-12
        );
    }

    /// Names round-trip; unknown names and wrong shapes are errors.
    #[test]
    fn names_and_shapes() {
        for d in Toy2d::ALL {
            assert_eq!(Toy2d::parse(d.name()).unwrap(), d);
        }
        assert!(Toy2d::parse("swiss_roll").is_err());
        let bad = Tensor::zeros([3, 3], (Kind::Double, Device::Cpu));
        assert!(Toy2d::TwoMoons.mean_nll(&bad).is_err());
    }
}
