//! 2-D incompressible Navier–Stokes in vorticity form on the periodic unit square,
//!
//! `∂ω/∂t + u·∇ω = ν Δω + f`,  `u = (∂ψ/∂y, −∂ψ/∂x)`,  `−Δψ = ω`,
//!
//! pseudo-spectral in space (2/3 dealiasing) with Crank–Nicolson for the viscous term and a
//! second-order (Heun) predictor–corrector for advection and forcing, as in the FNO paper's data
//! set (ν = 1e−3, `f = 0.1 (sin 2π(x+y) + cos 2π(x+y))`, `ω₀ ~ N(0, 7^{3/2} (−Δ + 49 I)^{−2.5})`).
//! Also a periodic 2-D Gaussian random field for initial conditions.

use crate::error::{invalid, Error, Result};
use core_tensor::seed::Rng;
use rand_distr::{Distribution, StandardNormal};
use rustfft::{num_complex::Complex64, Fft, FftPlanner};
use std::f64::consts::PI;
use std::sync::Arc;

/// In-place 2-D DFT of an `n × n` row-major grid (unnormalised both ways).
pub(crate) struct Fft2 {
    n: usize,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    pub(crate) fn new(n: usize) -> Self {
        let mut p = FftPlanner::new();
        Fft2 { n, fwd: p.plan_fft_forward(n), inv: p.plan_fft_inverse(n) }
    }

    pub(crate) fn run(&self, data: &mut [Complex64], forward: bool) {
        let plan = if forward { &self.fwd } else { &self.inv };
        let n = self.n;
        plan.process(data); // all rows (the buffer is n rows of length n)
        let mut t = vec![Complex64::new(0.0, 0.0); n * n];
        for i in 0..n {
            for j in 0..n {
                t[j * n + i] = data[i * n + j];
            }
        }
        plan.process(&mut t); // all columns
        for i in 0..n {
            for j in 0..n {
                data[i * n + j] = t[j * n + i];
            }
        }
    }
}

impl Fft2 {
    /// Spectrum of a real `n × n` field.
    pub(crate) fn to_spec(&self, v: &[f64]) -> Vec<Complex64> {
        let mut s: Vec<Complex64> = v.iter().map(|x| Complex64::new(*x, 0.0)).collect();
        self.run(&mut s, true);
        s
    }
    /// Real part of the normalised inverse transform.
    pub(crate) fn to_real(&self, s: &[Complex64]) -> Vec<f64> {
        let mut b = s.to_vec();
        self.run(&mut b, false);
        let nn = (self.n * self.n) as f64;
        b.iter().map(|z| z.re / nn).collect()
    }
}

/// Signed integer wavenumber of DFT index `j` on `n` points.
pub(crate) fn wavenumber(j: usize, n: usize) -> f64 {
    if j <= n / 2 {
        j as f64
    } else {
        j as f64 - n as f64
    }
}

/// A periodic 2-D Gaussian random field on `[0, 1)²` with covariance `σ² (−Δ + τ² I)^{−α}`:
/// the real field is `Σ_k √λ_k (a_k cos 2πk·x − b_k sin 2πk·x)` over the grid's wavenumbers
/// `k ≠ 0` with `a_k, b_k ~ N(0, 1)` and `λ_k = σ² (4π²|k|² + τ²)^{−α}`, so its pointwise variance
/// is `Σ λ_k`. Sampled mean-zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grf2d {
    /// Amplitude σ.
    pub sigma: f64,
    /// Inverse length scale τ.
    pub tau: f64,
    /// Smoothness α (> 1 for a field with finite variance in 2-D).
    pub alpha: f64,
}

impl Grf2d {
    /// The FNO Navier–Stokes initial vorticity prior `N(0, 7^{3/2} (−Δ + 49 I)^{−2.5})`, scaled as
    /// the paper's data generator does it (mode amplitude `√2 · 7^{3/2} (4π²|k|² + 49)^{−5/4}`).
    pub fn navier_stokes() -> Self {
        Grf2d { sigma: std::f64::consts::SQRT_2 * 7f64.powf(1.5), tau: 7.0, alpha: 2.5 }
    }

    /// One sample on an `n × n` grid (row-major, `x` along rows), real and mean zero.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f64>> {
        if n < 4 || !n.is_multiple_of(2) {
            return Err(invalid("n", n, "must be even and ≥ 4"));
        }
        if !(self.sigma > 0.0 && self.tau >= 0.0 && self.alpha > 1.0) {
            return Err(invalid("grf2d", format!("{self:?}"), "need sigma > 0, tau ≥ 0, alpha > 1"));
        }
        // white complex noise → spectrum → real part; Re of a complex Gaussian with variance
        // 2λ per mode gives each real mode variance λ
        let mut spec = vec![Complex64::new(0.0, 0.0); n * n];
        for i in 0..n {
            for j in 0..n {
                if i == 0 && j == 0 {
                    continue;
                }
                let (k1, k2) = (wavenumber(i, n), wavenumber(j, n));
                let lam = self.sigma
                    * self.sigma
                    * (4.0 * PI * PI * (k1 * k1 + k2 * k2) + self.tau * self.tau).powf(-self.alpha);
                let (a, b): (f64, f64) = (StandardNormal.sample(rng), StandardNormal.sample(rng));
                spec[i * n + j] = Complex64::new(a, b) * lam.sqrt();
            }
        }
        Fft2::new(n).run(&mut spec, false);
        Ok(spec.iter().map(|z| z.re).collect())
    }
}

/// Navier–Stokes vorticity solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NavierStokes {
    /// Kinematic viscosity ν.
    pub nu: f64,
    /// Time step.
    pub dt: f64,
    /// Amplitude of the FNO forcing `f = a (sin 2π(x+y) + cos 2π(x+y))` (0 for none).
    pub forcing: f64,
}

impl NavierStokes {
    /// The FNO benchmark setting: ν = 1e−3, dt = 1e−4, forcing amplitude 0.1.
    pub fn fno(nu: f64) -> Self {
        NavierStokes { nu, dt: 1e-4, forcing: 0.1 }
    }

    /// Evolves the vorticity `w0` (`n × n`, row-major, point `(i, j)` at `(i/n, j/n)`) and
    /// returns snapshots at each time in `record` (ascending, ≥ 0).
    pub fn solve(&self, w0: &[f64], n: usize, record: &[f64]) -> Result<Vec<Vec<f64>>> {
        if n < 4 || !n.is_multiple_of(2) || w0.len() != n * n {
            return Err(invalid(
                "w0",
                format!("{} values for n = {n}", w0.len()),
                "need n × n values with n even ≥ 4",
            ));
        }
        if !(self.nu >= 0.0 && self.dt > 0.0 && self.forcing.is_finite()) {
            return Err(invalid("navier_stokes", format!("{self:?}"), "need nu ≥ 0, dt > 0, finite forcing"));
        }
        if record.iter().any(|t| !(t.is_finite() && *t >= 0.0)) || record.windows(2).any(|w| w[1] < w[0]) {
            return Err(invalid("record", format!("{record:?}"), "need finite, ascending times ≥ 0"));
        }
        core_tensor::error::ensure_finite("w0", w0)?;
        let fft = Fft2::new(n);
        let nn = n * n;
        let (mut kx, mut ky, mut lap, mut keep) =
            (vec![0.0; nn], vec![0.0; nn], vec![0.0; nn], vec![0.0; nn]);
        let cutoff = (n / 3) as f64;
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (wavenumber(i, n), wavenumber(j, n));
                let p = i * n + j;
                kx[p] = 2.0 * PI * a;
                ky[p] = 2.0 * PI * b;
                lap[p] = kx[p] * kx[p] + ky[p] * ky[p];
                keep[p] = if a.abs() <= cutoff && b.abs() <= cutoff { 1.0 } else { 0.0 };
            }
        }
        let to_spec = |v: &[f64]| fft.to_spec(v);
        let to_real = |s: &[Complex64]| fft.to_real(s);
        let f_hat = to_spec(
            &(0..nn)
                .map(|p| {
                    let (x, y) = ((p / n) as f64 / n as f64, (p % n) as f64 / n as f64);
                    self.forcing * ((2.0 * PI * (x + y)).sin() + (2.0 * PI * (x + y)).cos())
                })
                .collect::<Vec<_>>(),
        );
        // −u·∇ω in Fourier space (dealiased)
        let advection = |wh: &[Complex64]| -> Vec<Complex64> {
            let i = Complex64::new(0.0, 1.0);
            let psi: Vec<Complex64> = (0..nn)
                .map(|p| if lap[p] > 0.0 { wh[p] * keep[p] / lap[p] } else { Complex64::new(0.0, 0.0) })
                .collect();
            let u = to_real(&(0..nn).map(|p| i * ky[p] * psi[p]).collect::<Vec<_>>());
            let v = to_real(&(0..nn).map(|p| -i * kx[p] * psi[p]).collect::<Vec<_>>());
            let wx = to_real(&(0..nn).map(|p| i * kx[p] * wh[p] * keep[p]).collect::<Vec<_>>());
            let wy = to_real(&(0..nn).map(|p| i * ky[p] * wh[p] * keep[p]).collect::<Vec<_>>());
            let adv: Vec<f64> = (0..nn).map(|p| -(u[p] * wx[p] + v[p] * wy[p])).collect();
            let mut s = to_spec(&adv);
            s.iter_mut().zip(&keep).for_each(|(z, k)| *z *= *k);
            s
        };
        let mut wh = to_spec(w0);
        let mut out = Vec::with_capacity(record.len());
        let mut t = 0.0;
        for &target in record {
            let steps = ((target - t) / self.dt).ceil().max(0.0) as usize;
            if steps > 0 {
                let h = (target - t) / steps as f64;
                let (lhs, rhs): (Vec<f64>, Vec<f64>) =
                    lap.iter().map(|l| (1.0 + 0.5 * h * self.nu * l, 1.0 - 0.5 * h * self.nu * l)).unzip();
                for step in 0..steps {
                    let n1 = advection(&wh);
                    let pred: Vec<Complex64> =
                        (0..nn).map(|p| (wh[p] * rhs[p] + (n1[p] + f_hat[p]) * h) / lhs[p]).collect();
                    let n2 = advection(&pred);
                    for p in 0..nn {
                        wh[p] = (wh[p] * rhs[p] + (n1[p] + n2[p]) * (0.5 * h) + f_hat[p] * h) / lhs[p];
                    }
                    if step % 64 == 0 && wh.iter().any(|z| !(z.re.is_finite() && z.im.is_finite())) {
                        return Err(Error::NonFinite { solver: "navier_stokes", t: t + step as f64 * h });
                    }
                }
            }
            t = target;
            let w = to_real(&wh);
            if w.iter().any(|v| !v.is_finite()) {
                return Err(Error::NonFinite { solver: "navier_stokes", t });
            }
            out.push(w);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Taylor–Green: `ω = 8π² A sin(2πx) sin(2πy)` is a steady Euler flow (ω ∝ ψ), so with no
    /// forcing it decays exactly as `e^{−8π²νt}`.
    #[test]
    fn taylor_green_decays_exactly() {
        let n = 32;
        let ns = NavierStokes { nu: 0.01, dt: 1e-3, forcing: 0.0 };
        let field = |scale: f64| -> Vec<f64> {
            (0..n * n)
                .map(|p| {
                    let (x, y) = ((p / n) as f64 / n as f64, (p % n) as f64 / n as f64);
                    scale * 8.0 * PI * PI * (2.0 * PI * x).sin() * (2.0 * PI * y).sin()
                })
                .collect()
        };
        let w = ns.solve(&field(1.0), n, &[0.5, 1.0]).unwrap();
        for (snap, t) in w.iter().zip([0.5, 1.0]) {
            let exact = field((-8.0 * PI * PI * ns.nu * t).exp());
            let err = snap.iter().zip(&exact).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            // Crank–Nicolson: O((νk²dt)²) per unit time; measured 1.4e-8 (t = 0.5), 1.9e-8 (t = 1)
            assert!(err / (8.0 * PI * PI) < 1e-7, "t = {t}: max error {err}");
        }
    }

    /// A non-steady flow (two Taylor–Green cells of different size): the advection term is
    /// active; without viscosity or forcing the dealiased Galerkin system conserves the mean
    /// vorticity and, up to the O(dt²) time-stepping error, the enstrophy `∫ω²` and the energy.
    #[test]
    fn inviscid_flow_conserves_energy_and_enstrophy() {
        let n = 64;
        let ns = NavierStokes { nu: 0.0, dt: 2e-4, forcing: 0.0 };
        let w0: Vec<f64> = (0..n * n)
            .map(|p| {
                let (x, y) = ((p / n) as f64 / n as f64, (p % n) as f64 / n as f64);
                10.0 * (2.0 * PI * x).sin() * (2.0 * PI * y).sin()
                    + 5.0 * (4.0 * PI * x).cos() * (2.0 * PI * y).sin()
                    + 3.0 * (2.0 * PI * (x + 2.0 * y)).cos()
            })
            .collect();
        let snaps = ns.solve(&w0, n, &[0.0, 0.2]).unwrap();
        let enstrophy = |w: &[f64]| w.iter().map(|v| v * v).sum::<f64>();
        let (z0, z1) = (enstrophy(&snaps[0]), enstrophy(&snaps[1]));
        // measured drifts: enstrophy 2.7e-11, energy 1.1e-11
        assert!(((z1 - z0) / z0).abs() < 1e-9, "enstrophy {z0} → {z1}");
        let change = snaps[0].iter().zip(&snaps[1]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(change > 1.0, "the flow should evolve (max change {change})");
        let mean: f64 = snaps[1].iter().sum::<f64>() / (n * n) as f64;
        assert!(mean.abs() < 1e-12);
        // energy ½∫|u|² = ½ Σ |ω̂|²/|k|² (Parseval)
        let energy = |w: &[f64]| {
            let s = Fft2::new(n).to_spec(w);
            (0..n * n)
                .map(|p| {
                    let (a, b) = (wavenumber(p / n, n), wavenumber(p % n, n));
                    let l = 4.0 * PI * PI * (a * a + b * b);
                    if l > 0.0 {
                        s[p].norm_sqr() / l
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        };
        let (e0, e1) = (energy(&snaps[0]), energy(&snaps[1]));
        assert!(((e1 - e0) / e0).abs() < 1e-9, "energy {e0} → {e1}");
    }

    #[test]
    fn forced_fno_flow_is_finite_and_deterministic() {
        let n = 32;
        let g = Grf2d::navier_stokes();
        let w0 = g.sample(n, &mut core_tensor::seed::rng(3)).unwrap();
        assert_eq!(w0, g.sample(n, &mut core_tensor::seed::rng(3)).unwrap());
        let ns = NavierStokes { dt: 1e-3, ..NavierStokes::fno(1e-3) };
        let w = ns.solve(&w0, n, &[0.5, 1.0]).unwrap();
        assert_eq!(w.len(), 2);
        assert!(w[1].iter().all(|v| v.is_finite()));
        assert!(ns.solve(&w0[..10], n, &[1.0]).is_err());
        assert!(ns.solve(&w0, n, &[1.0, 0.5]).is_err());
        let mut bad = w0.clone();
        bad[5] = f64::NAN;
        assert!(ns.solve(&bad, n, &[1.0]).is_err());
        assert!(g.sample(7, &mut core_tensor::seed::rng(0)).is_err());
    }

    /// Pointwise variance of the 2-D field equals `Σ_{k≠0} λ_k` over the grid's modes.
    #[test]
    fn grf2d_variance_matches_the_spectrum() {
        let g = Grf2d { sigma: 1.0, tau: 1.0, alpha: 1.5 };
        let n = 16;
        let mut r = core_tensor::seed::rng(1);
        let reps = 800;
        let mut acc = 0.0;
        for _ in 0..reps {
            let u = g.sample(n, &mut r).unwrap();
            acc += u.iter().map(|v| v * v).sum::<f64>() / (n * n) as f64;
        }
        let var = acc / reps as f64;
        let exact: f64 = (0..n * n)
            .filter(|p| *p != 0)
            .map(|p| {
                let (a, b) = (wavenumber(p / n, n), wavenumber(p % n, n));
                (4.0 * PI * PI * (a * a + b * b) + 1.0).powf(-1.5)
            })
            .sum();
        assert!((var / exact - 1.0).abs() < 0.05, "variance {var} vs {exact}");
    }
}
