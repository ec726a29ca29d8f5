//! 2-D FitzHugh–Nagumo reaction–diffusion (the activator–inhibitor system of PDEBench's
//! "diffusion–reaction" set) on a periodic square `[0, L)²`:
//!
//! `∂u/∂t = D_u Δu + u − u³ − k − v`,  `∂v/∂t = D_v Δv + u − v`.
//!
//! Pseudo-spectral in space; Crank–Nicolson for diffusion and a second-order (Heun)
//! predictor–corrector for the reaction terms.

use super::navier_stokes::{wavenumber, Fft2};
use crate::error::{invalid, Error, Result};
use rustfft::num_complex::Complex64;
use std::f64::consts::PI;

/// FitzHugh–Nagumo settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReactionDiffusion {
    /// Activator diffusivity `D_u`.
    pub du: f64,
    /// Inhibitor diffusivity `D_v`.
    pub dv: f64,
    /// Threshold constant `k`.
    pub k: f64,
    /// Domain side `L`.
    pub length: f64,
    /// Time step.
    pub dt: f64,
}

impl ReactionDiffusion {
    /// PDEBench's parameters `D_u = 1e−3, D_v = 5e−3, k = 5e−3` on a side-2 square, dt = 1e−3.
    pub fn pdebench() -> Self {
        ReactionDiffusion { du: 1e-3, dv: 5e-3, k: 5e-3, length: 2.0, dt: 1e-3 }
    }

    /// Evolves `(u0, v0)` (`n × n` row-major each) and returns `(u, v)` at each time in `record`
    /// (ascending, ≥ 0).
    pub fn solve(
        &self,
        u0: &[f64],
        v0: &[f64],
        n: usize,
        record: &[f64],
    ) -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
        if n < 4 || !n.is_multiple_of(2) || u0.len() != n * n || v0.len() != n * n {
            return Err(invalid(
                "u0/v0",
                format!("{} and {} values for n = {n}", u0.len(), v0.len()),
                "need n × n values each with n even ≥ 4",
            ));
        }
        if !(self.du >= 0.0 && self.dv >= 0.0 && self.k.is_finite() && self.length > 0.0 && self.dt > 0.0) {
            return Err(invalid(
                "reaction_diffusion",
                format!("{self:?}"),
                "need du, dv ≥ 0, finite k, length > 0, dt > 0",
            ));
        }
        if record.iter().any(|t| !(t.is_finite() && *t >= 0.0)) || record.windows(2).any(|w| w[1] < w[0]) {
            return Err(invalid("record", format!("{record:?}"), "need finite, ascending times ≥ 0"));
        }
        core_tensor::error::ensure_finite("u0", u0)?;
        core_tensor::error::ensure_finite("v0", v0)?;
        let nn = n * n;
        let fft = Fft2::new(n);
        let lap: Vec<f64> = (0..nn)
            .map(|p| {
                let (a, b) = (wavenumber(p / n, n), wavenumber(p % n, n));
                4.0 * PI * PI * (a * a + b * b) / (self.length * self.length)
            })
            .collect();
        let to_spec = |v: &[f64]| fft.to_spec(v);
        let to_real = |s: &[Complex64]| fft.to_real(s);
        // reaction terms, evaluated pointwise in physical space
        let reaction = |u: &[f64], v: &[f64]| -> (Vec<Complex64>, Vec<Complex64>) {
            let ru: Vec<f64> = u.iter().zip(v).map(|(a, b)| a - a * a * a - self.k - b).collect();
            let rv: Vec<f64> = u.iter().zip(v).map(|(a, b)| a - b).collect();
            (to_spec(&ru), to_spec(&rv))
        };
        let (mut uh, mut vh) = (to_spec(u0), to_spec(v0));
        let (mut u, mut v) = (u0.to_vec(), v0.to_vec());
        let mut out = Vec::with_capacity(record.len());
        let mut t = 0.0;
        for &target in record {
            let steps = ((target - t) / self.dt).ceil().max(0.0) as usize;
            if steps > 0 {
                let h = (target - t) / steps as f64;
                let cn = |d: f64| -> (Vec<f64>, Vec<f64>) {
                    lap.iter().map(|l| (1.0 / (1.0 + 0.5 * h * d * l), 1.0 - 0.5 * h * d * l)).unzip()
                };
                let ((iu, eu), (iv, ev)) = (cn(self.du), cn(self.dv));
                for step in 0..steps {
                    let (ru1, rv1) = reaction(&u, &v);
                    let pu: Vec<Complex64> = (0..nn).map(|p| (uh[p] * eu[p] + ru1[p] * h) * iu[p]).collect();
                    let pv: Vec<Complex64> = (0..nn).map(|p| (vh[p] * ev[p] + rv1[p] * h) * iv[p]).collect();
                    let (ru2, rv2) = reaction(&to_real(&pu), &to_real(&pv));
                    for p in 0..nn {
                        uh[p] = (uh[p] * eu[p] + (ru1[p] + ru2[p]) * (0.5 * h)) * iu[p];
                        vh[p] = (vh[p] * ev[p] + (rv1[p] + rv2[p]) * (0.5 * h)) * iv[p];
                    }
                    u = to_real(&uh);
                    v = to_real(&vh);
                    if step % 64 == 0 && u.iter().chain(&v).any(|x| !x.is_finite()) {
                        return Err(Error::NonFinite {
                            solver: "reaction_diffusion",
                            t: t + step as f64 * h,
                        });
                    }
                }
            }
            t = target;
            if u.iter().chain(&v).any(|x| !x.is_finite()) {
                return Err(Error::NonFinite { solver: "reaction_diffusion", t });
            }
            out.push((u.clone(), v.clone()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spatially uniform state reduces the PDE to the FitzHugh–Nagumo ODE, integrated here
    /// independently with classical RK4 at a 100× smaller step.
    #[test]
    fn uniform_state_follows_the_ode() {
        let rd = ReactionDiffusion { dt: 1e-2, ..ReactionDiffusion::pdebench() };
        let n = 8;
        let out = rd.solve(&vec![0.8; n * n], &vec![-0.2; n * n], n, &[2.0]).unwrap();
        let f = |u: f64, v: f64| (u - u * u * u - rd.k - v, u - v);
        let (mut u, mut v) = (0.8, -0.2);
        let h = 1e-4;
        for _ in 0..20_000 {
            let k1 = f(u, v);
            let k2 = f(u + 0.5 * h * k1.0, v + 0.5 * h * k1.1);
            let k3 = f(u + 0.5 * h * k2.0, v + 0.5 * h * k2.1);
            let k4 = f(u + h * k3.0, v + h * k3.1);
            u += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
            v += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        }
        let (su, sv) = &out[0];
        let err =
            su.iter().map(|x| (x - u).abs()).chain(sv.iter().map(|x| (x - v).abs())).fold(0.0, f64::max);
        // Heun at dt = 1e-2: O(dt²); measured 1.1e-5
        assert!(err < 3e-5, "max error {err} (ode u = {u}, v = {v})");
    }

    /// Small-amplitude single Fourier mode (linear regime, `k = 0`, `D_u = D_v = D`): with
    /// Laplacian eigenvalue `−κ` the mode obeys `d/dt (û, v̂) = (A − Dκ I)(û, v̂)` with the nilpotent
    /// `A = [[1, −1], [1, −1]]`, so `(û, v̂)(t) = e^{−Dκt} (I + tA)(û, v̂)(0)` exactly.
    #[test]
    fn single_mode_diffusion_matches_the_linear_solution() {
        let rd = ReactionDiffusion { du: 0.01, dv: 0.01, k: 0.0, length: 1.0, dt: 1e-3 };
        let n = 16;
        let eps = 1e-6;
        let mode = |p: usize| (2.0 * PI * (p / n) as f64 / n as f64).cos();
        let v0: Vec<f64> = (0..n * n).map(|p| eps * mode(p)).collect();
        let out = rd.solve(&vec![0.0; n * n], &v0, n, &[1.0]).unwrap();
        let kappa = 4.0 * PI * PI;
        let decay = (-rd.du * kappa).exp();
        // (I + A)(0, ε) = (−ε, 0)
        let (u_amp, v_amp) = (-eps * decay, 0.0);
        let (u, v) = &out[0];
        let scale = eps;
        let eu = (0..n * n).map(|p| (u[p] - u_amp * mode(p)).abs()).fold(0.0, f64::max) / scale;
        let ev = (0..n * n).map(|p| (v[p] - v_amp * mode(p)).abs()).fold(0.0, f64::max) / scale;
        // measured 2.3e-8 (u), 2.6e-8 (v)
        assert!(eu < 1e-7 && ev < 1e-7, "relative errors u {eu}, v {ev}");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let rd = ReactionDiffusion::pdebench();
        let z = vec![0.0; 64];
        assert!(rd.solve(&z, &z[..10], 8, &[1.0]).is_err());
        assert!(rd.solve(&z, &z, 8, &[1.0, 0.5]).is_err());
        let mut bad = z.clone();
        bad[3] = f64::INFINITY;
        assert!(rd.solve(&bad, &z, 8, &[1.0]).is_err());
        assert!(ReactionDiffusion { dt: 0.0, ..rd }.solve(&z, &z, 8, &[1.0]).is_err());
    }
}
