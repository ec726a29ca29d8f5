//! Limited-memory BFGS (Nocedal 1980) with a strong-Wolfe line search, for smooth unconstrained
//! problems in f64 (constraints are handled by reparameterisation, e.g. `μ = e^θ`).
//!
//! Why not `argmin`: the Hawkes and ETAS fits call this on `Vec<f64>` with an analytic gradient in
//! a few hundred lines without generic math backends; it is tested against closed-form minima and
//! its iterates are the ones the recovery goals and the hawkes-rs comparison were measured with,
//! which a different line search would shift.

use crate::error::{Error, Result};

/// Settings of [`Lbfgs::minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lbfgs {
    /// Number of correction pairs kept.
    pub memory: usize,
    /// Maximum iterations.
    pub max_iter: usize,
    /// Stop when `‖g‖∞ ≤ gtol · max(1, |f|)`.
    pub gtol: f64,
    /// Stop when the relative decrease of `f` over an iteration is below `ftol`.
    pub ftol: f64,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs { memory: 10, max_iter: 500, gtol: 1e-8, ftol: 1e-12 }
    }
}

/// The result of a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// Minimiser.
    pub x: Vec<f64>,
    /// Objective at `x`.
    pub f: f64,
    /// Gradient norm (∞) at `x`.
    pub grad_inf: f64,
    /// Iterations taken.
    pub iterations: usize,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Whether a tolerance was met (rather than the iteration cap).
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Lbfgs {
    /// Minimises `f`; `fg(x, g)` returns `f(x)` and writes `∇f(x)` into `g`. A non-finite value is
    /// treated as +∞ by the line search (the step shrinks); a non-finite value at `x0` is an error.
    pub fn minimize(&self, x0: &[f64], mut fg: impl FnMut(&[f64], &mut [f64]) -> f64) -> Result<Minimum> {
        let n = x0.len();
        let mut x = x0.to_vec();
        let mut g = vec![0.0; n];
        let mut f = fg(&x, &mut g);
        let mut evals = 1;
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return Err(Error::Optimisation(format!(
                "objective or gradient is not finite at the starting point (f = {f})"
            )));
        }
        let mut s_hist: Vec<Vec<f64>> = Vec::new();
        let mut y_hist: Vec<Vec<f64>> = Vec::new();
        let mut converged = false;
        let mut iter = 0;
        let ginf = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        while iter < self.max_iter {
            if ginf(&g) <= self.gtol * f.abs().max(1.0) {
                converged = true;
                break;
            }
            // two-loop recursion: d = −H g
            let mut q = g.clone();
            let k = s_hist.len();
            let mut alphas = vec![0.0; k];
            for idx in (0..k).rev() {
                let rho = 1.0 / dot(&y_hist[idx], &s_hist[idx]);
                alphas[idx] = rho * dot(&s_hist[idx], &q);
                q.iter_mut().zip(&y_hist[idx]).for_each(|(qi, yi)| *qi -= alphas[idx] * yi);
            }
            let gamma = if k > 0 {
                dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1])
            } else {
                1.0 / ginf(&g).max(1.0)
            };
            q.iter_mut().for_each(|v| *v *= gamma);
            for idx in 0..k {
                let rho = 1.0 / dot(&y_hist[idx], &s_hist[idx]);
                let b = rho * dot(&y_hist[idx], &q);
                q.iter_mut().zip(&s_hist[idx]).for_each(|(qi, si)| *qi += (alphas[idx] - b) * si);
            }
            let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
            let mut dg = dot(&d, &g);
            if !(dg < 0.0) {
                // not a descent direction: restart from steepest descent
                s_hist.clear();
                y_hist.clear();
                d = g.iter().map(|v| -v / ginf(&g).max(1.0)).collect();
                dg = dot(&d, &g);
            }
            let (step, f_new, g_new, e) = line_search(&x, f, &g, &d, dg, &mut fg)?;
            evals += e;
            let s: Vec<f64> = d.iter().map(|v| v * step).collect();
            let x_new: Vec<f64> = x.iter().zip(&s).map(|(a, b)| a + b).collect();
            let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
            let rel = (f - f_new).abs() / f.abs().max(f_new.abs()).max(1.0);
            x = x_new;
            f = f_new;
            g = g_new;
            iter += 1;
            if dot(&s, &y) > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
                s_hist.push(s);
                y_hist.push(y);
                if s_hist.len() > self.memory {
                    s_hist.remove(0);
                    y_hist.remove(0);
                }
            }
            if rel < self.ftol {
                converged = true;
                break;
            }
        }
        Ok(Minimum { grad_inf: ginf(&g), x, f, iterations: iter, evaluations: evals, converged })
    }
}

/// Strong-Wolfe line search (Nocedal & Wright, Algorithms 3.5–3.6, with bisection zoom).
#[allow(clippy::type_complexity)]
fn line_search(
    x: &[f64],
    f0: f64,
    g0: &[f64],
    d: &[f64],
    dg0: f64,
    fg: &mut impl FnMut(&[f64], &mut [f64]) -> f64,
) -> Result<(f64, f64, Vec<f64>, usize)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let n = x.len();
    let mut evals = 0;
    let mut eval = |a: f64, g: &mut Vec<f64>| -> (f64, f64) {
        let xt: Vec<f64> = x.iter().zip(d).map(|(xi, di)| xi + a * di).collect();
        let f = fg(&xt, g);
        if f.is_finite() && g.iter().all(|v| v.is_finite()) {
            (f, dot(g, d))
        } else {
            (f64::INFINITY, f64::NAN)
        }
    };
    let mut g = vec![0.0; n];
    let (mut a_prev, mut f_prev, mut dg_prev) = (0.0, f0, dg0);
    let mut a = 1.0;
    // best step satisfying the sufficient-decrease condition, used if the curvature condition is
    // never met (e.g. the objective keeps decreasing up to a region where it is infinite)
    let mut armijo: Option<(f64, f64, Vec<f64>)> = None;
    for i in 0..60 {
        let (fa, dga) = eval(a, &mut g);
        evals += 1;
        if !fa.is_finite() {
            a = 0.5 * (a_prev + a);
            continue;
        }
        if fa <= f0 + C1 * a * dg0 && armijo.as_ref().is_none_or(|b| fa < b.1) {
            armijo = Some((a, fa, g.clone()));
        }
        if fa > f0 + C1 * a * dg0 || (i > 0 && fa >= f_prev) {
            return zoom(a_prev, f_prev, dg_prev, a, fa, f0, dg0, &mut eval, evals, g0);
        }
        if dga.abs() <= -C2 * dg0 {
            return Ok((a, fa, g, evals));
        }
        if dga >= 0.0 {
            return zoom(a, fa, dga, a_prev, f_prev, f0, dg0, &mut eval, evals, g0);
        }
        a_prev = a;
        f_prev = fa;
        dg_prev = dga;
        a *= 2.0;
    }
    match armijo {
        Some((a, f, g)) => Ok((a, f, g, evals)),
        None => Err(Error::Optimisation("line search failed to find a step".into())),
    }
}

fn zoom(
    mut lo: f64,
    mut f_lo: f64,
    mut dg_lo: f64,
    mut hi: f64,
    mut f_hi: f64,
    f0: f64,
    dg0: f64,
    eval: &mut impl FnMut(f64, &mut Vec<f64>) -> (f64, f64),
    mut evals: usize,
    g0: &[f64],
) -> Result<(f64, f64, Vec<f64>, usize)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let mut g = vec![0.0; g0.len()];
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    for _ in 0..60 {
        // cubic-free safeguarded interpolation: quadratic through (lo, f_lo, dg_lo) and (hi, f_hi)
        let span = hi - lo;
        let denom = 2.0 * (f_hi - f_lo - dg_lo * span);
        let mut a = if denom > 0.0 { lo - dg_lo * span * span / denom } else { lo + 0.5 * span };
        let (amin, amax) = (lo.min(hi), lo.max(hi));
        let margin = 0.1 * (amax - amin);
        if !(a > amin + margin && a < amax - margin) {
            a = 0.5 * (lo + hi);
        }
        let (fa, dga) = eval(a, &mut g);
        evals += 1;
        if fa.is_finite() && fa < f0 && best.as_ref().is_none_or(|b| fa < b.1) {
            best = Some((a, fa, g.clone()));
        }
        if !fa.is_finite() || fa > f0 + C1 * a * dg0 || fa >= f_lo {
            hi = a;
            f_hi = fa;
        } else {
            if dga.abs() <= -C2 * dg0 {
                return Ok((a, fa, g, evals));
            }
            if dga * (hi - lo) >= 0.0 {
                hi = lo;
                f_hi = f_lo;
            }
            lo = a;
            f_lo = fa;
            dg_lo = dga;
        }
        if (hi - lo).abs() < 1e-16 * lo.abs().max(1.0) {
            break;
        }
    }
    match best {
        Some((a, f, g)) => Ok((a, f, g, evals)),
        None => Err(Error::Optimisation("line search could not decrease the objective".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock() {
        let m = Lbfgs::default()
            .minimize(&[-1.2, 1.0], |x, g| {
                let (a, b) = (x[0], x[1]);
                g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
                g[1] = 200.0 * (b - a * a);
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
            })
            .unwrap();
        assert!(m.converged);
        assert!((m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6, "{:?}", m.x);
    }

    #[test]
    fn ill_conditioned_quadratic_and_infinite_regions() {
        // f = Σ i x_i² / 2 with a barrier making x_0 < −5 infeasible (f = ∞ there)
        let m = Lbfgs::default()
            .minimize(&[3.0; 20], |x, g| {
                if x[0] < -5.0 {
                    return f64::INFINITY;
                }
                let mut f = 0.0;
                for i in 0..x.len() {
                    let c = (i + 1) as f64 * 10.0;
                    g[i] = c * x[i];
                    f += 0.5 * c * x[i] * x[i];
                }
                f
            })
            .unwrap();
        assert!(m.x.iter().all(|v| v.abs() < 1e-6), "{:?}", m.x);
        assert!(Lbfgs::default().minimize(&[0.0], |_, _| f64::NAN).is_err());
    }
}
