//! Viscous Burgers `u_t + (u²/2)_x = ν u_xx` on the periodic interval `[0, L)`: pseudo-spectral in
//! space (2/3 dealiasing), integrating-factor Runge–Kutta 4 in time (diffusion exact, so stiff
//! viscosity does not limit the step).

use crate::error::{invalid, Error, Result};
use rustfft::{num_complex::Complex64, FftPlanner};

/// Burgers solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burgers {
    /// Viscosity ν.
    pub nu: f64,
    /// Domain length L.
    pub length: f64,
    /// Time step.
    pub dt: f64,
}

impl Burgers {
    /// The FNO benchmark setting: ν = 0.1 on `[0, 1)`, dt = 1e-4.
    pub fn fno() -> Self {
        Burgers { nu: 0.1, length: 1.0, dt: 1e-4 }
    }

    /// Evolves `u0` (on `n` equispaced points, `n` even) to time `t`.
    pub fn solve(&self, u0: &[f64], t: f64) -> Result<Vec<f64>> {
        let n = u0.len();
        if n < 4 || !n.is_multiple_of(2) {
            return Err(invalid("u0", format!("{n} points"), "need an even number ≥ 4"));
        }
        if !(self.nu >= 0.0 && self.dt > 0.0 && self.length > 0.0 && t >= 0.0) {
            return Err(invalid(
                "burgers",
                format!("{self:?}, t = {t}"),
                "need nu ≥ 0, dt > 0, length > 0, t ≥ 0",
            ));
        }
        core_tensor::error::ensure_finite("u0", u0)?;
        let mut planner = FftPlanner::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let kw: Vec<f64> = (0..n)
            .map(|j| {
                let k = if j <= n / 2 { j as f64 } else { j as f64 - n as f64 };
                2.0 * std::f64::consts::PI * k / self.length
            })
            .collect();
        let cutoff = n / 3; // 2/3 rule
        let keep: Vec<f64> = (0..n).map(|j| if j.min(n - j) <= cutoff { 1.0 } else { 0.0 }).collect();
        let mut uh: Vec<Complex64> = u0.iter().map(|v| Complex64::new(*v, 0.0)).collect();
        fwd.process(&mut uh);
        // nonlinear term −(u²/2)_x in Fourier space
        let nonlinear = |vh: &[Complex64]| -> Vec<Complex64> {
            let mut u: Vec<Complex64> = vh.iter().zip(&keep).map(|(z, k)| z * k).collect();
            inv.process(&mut u);
            let mut sq: Vec<Complex64> =
                u.iter().map(|z| Complex64::new(0.5 * (z.re / n as f64).powi(2), 0.0)).collect();
            fwd.process(&mut sq);
            sq.iter().zip(&kw).zip(&keep).map(|((z, w), k)| -Complex64::new(0.0, *w) * z * k).collect()
        };
        let steps = (t / self.dt).ceil() as usize;
        let h = if steps > 0 { t / steps as f64 } else { 0.0 };
        // integrating factor: e^{−ν k² h}, e^{−ν k² h/2}
        let e1: Vec<f64> = kw.iter().map(|w| (-self.nu * w * w * h).exp()).collect();
        let e2: Vec<f64> = kw.iter().map(|w| (-self.nu * w * w * h / 2.0).exp()).collect();
        for step in 0..steps {
            let n1 = nonlinear(&uh);
            let a: Vec<Complex64> = (0..n).map(|j| (uh[j] + n1[j] * (h / 2.0)) * e2[j]).collect();
            let n2 = nonlinear(&a);
            let b: Vec<Complex64> = (0..n).map(|j| uh[j] * e2[j] + n2[j] * (h / 2.0)).collect();
            let n3 = nonlinear(&b);
            let c: Vec<Complex64> = (0..n).map(|j| uh[j] * e1[j] + n3[j] * (h * e2[j])).collect();
            let n4 = nonlinear(&c);
            for j in 0..n {
                uh[j] = uh[j] * e1[j] + (n1[j] * e1[j] + (n2[j] + n3[j]) * (2.0 * e2[j]) + n4[j]) * (h / 6.0);
            }
            if step % 64 == 0 && uh.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
                return Err(Error::NonFinite { solver: "burgers", t: step as f64 * h });
            }
        }
        inv.process(&mut uh);
        let u: Vec<f64> = uh.iter().map(|z| z.re / n as f64).collect();
        if u.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite { solver: "burgers", t });
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cole–Hopf: with `φ = 1 + a e^{−νk²t} cos(kx)` solving the heat equation,
    /// `u = −2ν φ_x/φ = 2νak e^{−νk²t} sin(kx) / (1 + a e^{−νk²t} cos(kx))` solves Burgers exactly.
    #[test]
    fn matches_the_cole_hopf_solution() {
        let b = Burgers { nu: 0.1, length: 1.0, dt: 1e-4 };
        let (a, k) = (0.8, 2.0 * std::f64::consts::PI);
        let exact = |x: f64, t: f64| {
            let e = a * (-b.nu * k * k * t).exp();
            2.0 * b.nu * k * e * (k * x).sin() / (1.0 + e * (k * x).cos())
        };
        let n = 256;
        let xs: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let u0: Vec<f64> = xs.iter().map(|x| exact(*x, 0.0)).collect();
        let u = b.solve(&u0, 0.5).unwrap();
        let err = xs.iter().zip(&u).map(|(x, v)| (v - exact(*x, 0.5)).abs()).fold(0.0, f64::max);
        let scale = xs.iter().map(|x| exact(*x, 0.5).abs()).fold(0.0, f64::max);
        assert!(err / scale < 1e-8, "max relative error {}", err / scale);
        assert!(b.solve(&u0[..7], 0.1).is_err());
        assert!(b.solve(&[f64::NAN; 8], 0.1).is_err());
    }
}
