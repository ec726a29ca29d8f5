//! The ETAS model in the parameterisation of the `etas` package used by EarthquakeNPP.
//!
//! `λ(t, x) = μ + Σ_{t_j < t} g(t − t_j, r_j(x)², m_j)` with
//! `g(Δt, r², m) = k0 e^{a(m − Mc)} · e^{−Δt/τ} (Δt + c)^{−(1+ω)} · (r² + d e^{γ(m − Mc)})^{−(1+ρ)}`;
//! t in days, r in km (haversine), μ in events per day per km². The temporal marginal replaces the
//! spatial factor by its integral over the plane, `π / (ρ D^ρ)`, `D = d e^{γ(m − Mc)}`.
//! A purely temporal ETAS (no locations) drops the spatial factor; μ is then per day.

use crate::error::{invalid, Error, Result};
use crate::poisson::GL16;
use serde::{Deserialize, Serialize};
use std::f64::consts::{LN_10, PI};

/// ETAS parameters, named as in the `etas` package (log10 where it uses log10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EtasParams {
    /// log10 of the background rate μ (per day per km², or per day for temporal ETAS).
    pub log10_mu: f64,
    /// log10 of the productivity k0.
    pub log10_k0: f64,
    /// Productivity exponent a (per magnitude unit).
    pub a: f64,
    /// log10 of the Omori offset c (days).
    pub log10_c: f64,
    /// Omori exponent ω (the time kernel decays as `(Δt + c)^{−(1+ω)}`).
    pub omega: f64,
    /// log10 of the exponential taper τ (days).
    pub log10_tau: f64,
    /// log10 of the spatial scale d (km²).
    pub log10_d: f64,
    /// Magnitude scaling γ of the spatial scale.
    pub gamma: f64,
    /// Spatial decay exponent ρ.
    pub rho: f64,
}

/// Names of the parameters in vector order.
pub const PARAM_NAMES: [&str; 9] =
    ["log10_mu", "log10_k0", "a", "log10_c", "omega", "log10_tau", "log10_d", "gamma", "rho"];

impl EtasParams {
    /// A generic starting point for fitting, away from typical truths: `k0 = 10⁻²`, `a = 1.5`,
    /// `c = 10^{−2.5}` days, `ω = 0.3`, `τ = 100` days, `d = 1` km², `γ = 0.2`, `ρ = 1`, and the
    /// background rate `μ = 10^log10_mu`.
    pub fn fit_start(log10_mu: f64) -> Self {
        EtasParams {
            log10_mu,
            log10_k0: -2.0,
            a: 1.5,
            log10_c: -2.5,
            omega: 0.3,
            log10_tau: 2.0,
            log10_d: 0.0,
            gamma: 0.2,
            rho: 1.0,
        }
    }

    /// As a vector in [`PARAM_NAMES`] order.
    pub fn to_vec(&self) -> Vec<f64> {
        vec![
            self.log10_mu,
            self.log10_k0,
            self.a,
            self.log10_c,
            self.omega,
            self.log10_tau,
            self.log10_d,
            self.gamma,
            self.rho,
        ]
    }
    /// From a vector in [`PARAM_NAMES`] order.
    pub fn from_slice(v: &[f64]) -> Result<Self> {
        if v.len() != 9 {
            return Err(invalid("params", format!("{} values", v.len()), "need 9"));
        }
        Ok(EtasParams {
            log10_mu: v[0],
            log10_k0: v[1],
            a: v[2],
            log10_c: v[3],
            omega: v[4],
            log10_tau: v[5],
            log10_d: v[6],
            gamma: v[7],
            rho: v[8],
        })
    }
    /// μ.
    pub fn mu(&self) -> f64 {
        10f64.powf(self.log10_mu)
    }
    /// k0.
    pub fn k0(&self) -> f64 {
        10f64.powf(self.log10_k0)
    }
    /// c.
    pub fn c(&self) -> f64 {
        10f64.powf(self.log10_c)
    }
    /// τ.
    pub fn tau(&self) -> f64 {
        10f64.powf(self.log10_tau)
    }
    /// d.
    pub fn d(&self) -> f64 {
        10f64.powf(self.log10_d)
    }
    /// Checks finiteness and the domain (`ω > −1`, `ρ > 0`, log10 parameters in `[−300, 300]`).
    pub fn validate(&self) -> Result<()> {
        for (n, v) in PARAM_NAMES.iter().zip(self.to_vec()) {
            if !v.is_finite() {
                return Err(invalid(n, v, "must be finite"));
            }
        }
        // 10^v must be a positive normal number: beyond ±300 it over- or underflows (c = 0 or
        // τ = ∞ would leave the time integral undefined)
        for (n, v) in [
            ("log10_mu", self.log10_mu),
            ("log10_k0", self.log10_k0),
            ("log10_c", self.log10_c),
            ("log10_tau", self.log10_tau),
            ("log10_d", self.log10_d),
        ] {
            if !(v.abs() <= 300.0) {
                return Err(invalid(n, v, "must lie in [-300, 300]"));
            }
        }
        if !(self.omega > -1.0) {
            return Err(invalid("omega", self.omega, "must be > -1"));
        }
        if !(self.rho > 0.0) {
            return Err(invalid("rho", self.rho, "must be > 0"));
        }
        Ok(())
    }
}

/// An ETAS model: parameters, completeness magnitude, Gutenberg–Richter b-value, and whether it is
/// spatio-temporal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Etas {
    /// Parameters.
    pub params: EtasParams,
    /// Completeness magnitude Mc.
    pub mc: f64,
    /// Gutenberg–Richter b-value (magnitudes above Mc are exponential with rate `b ln 10`).
    pub b_value: f64,
    /// Spatio-temporal (true) or temporal (false).
    pub spatial: bool,
}

impl Etas {
    /// Spatio-temporal model.
    pub fn new(params: EtasParams, mc: f64, b_value: f64) -> Result<Self> {
        let m = Etas { params, mc, b_value, spatial: true };
        m.validate()?;
        Ok(m)
    }
    /// Temporal model (the spatial parameters are ignored).
    pub fn temporal(params: EtasParams, mc: f64, b_value: f64) -> Result<Self> {
        let m = Etas { params, mc, b_value, spatial: false };
        m.validate()?;
        Ok(m)
    }
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.params.validate()?;
        if !self.mc.is_finite() {
            return Err(invalid("mc", self.mc, "must be finite"));
        }
        if !(self.b_value.is_finite() && self.b_value > 0.0) {
            return Err(invalid("b_value", self.b_value, "must be finite and > 0"));
        }
        Ok(())
    }
    /// Gutenberg–Richter rate `β = b ln 10`.
    pub fn gr_beta(&self) -> f64 {
        self.b_value * LN_10
    }
    /// Spatial scale `D(m) = d e^{γ(m − Mc)}` (km²).
    pub fn spatial_scale(&self, m: f64) -> f64 {
        self.params.d() * (self.params.gamma * (m - self.mc)).exp()
    }
    /// Integral of the spatial factor over the plane, `π / (ρ D(m)^ρ)` (1 for temporal ETAS).
    pub fn spatial_integral(&self, m: f64) -> f64 {
        if self.spatial {
            PI / (self.params.rho * self.spatial_scale(m).powf(self.params.rho))
        } else {
            1.0
        }
    }
    /// Productivity `k0 e^{a(m − Mc)}`.
    pub fn productivity(&self, m: f64) -> f64 {
        self.params.k0() * (self.params.a * (m - self.mc)).exp()
    }
    /// Time kernel `e^{−Δt/τ} (Δt + c)^{−(1+ω)}`.
    pub fn time_kernel(&self, dt: f64) -> f64 {
        (-dt / self.params.tau()).exp() * (dt + self.params.c()).powf(-(1.0 + self.params.omega))
    }
    /// Spatial factor `(r² + D(m))^{−(1+ρ)}` (1 for temporal ETAS).
    pub fn space_kernel(&self, r2: f64, m: f64) -> f64 {
        if self.spatial {
            (r2 + self.spatial_scale(m)).powf(-(1.0 + self.params.rho))
        } else {
            1.0
        }
    }
    /// Triggering density `g(Δt, r², m)`.
    pub fn triggering(&self, dt: f64, r2: f64, m: f64) -> f64 {
        self.productivity(m) * self.time_kernel(dt) * self.space_kernel(r2, m)
    }
    /// Time integral `∫_0^L e^{−s/τ}(s + c)^{−(1+ω)} ds` (see [`time_integral`]).
    pub fn time_integral(&self, l: f64) -> f64 {
        time_integral_value(l, self.params.c(), self.params.omega, self.params.tau())
    }
    /// Expected number of direct aftershocks of a magnitude-m event over all time and space.
    pub fn expected_children(&self, m: f64) -> f64 {
        self.productivity(m) * self.spatial_integral(m) * self.time_integral(f64::INFINITY)
    }
    /// Branching ratio: expected children of an event with a Gutenberg–Richter magnitude,
    /// `k0 I_t(∞) S(Mc) β / (β − a + ργ)` (spatio-temporal) or `k0 I_t(∞) β / (β − a)` (temporal).
    /// Infinite when the magnitude integral diverges.
    pub fn branching_ratio(&self) -> f64 {
        let beta = self.gr_beta();
        let rate = if self.spatial {
            beta - self.params.a + self.params.rho * self.params.gamma
        } else {
            beta - self.params.a
        };
        if rate <= 0.0 {
            return f64::INFINITY;
        }
        self.expected_children(self.mc) * beta / rate
    }
    /// Error unless the branching ratio is < 1.
    pub fn ensure_subcritical(&self) -> Result<()> {
        let n = self.branching_ratio();
        if n < 1.0 {
            Ok(())
        } else {
            Err(Error::NotStationary { ratio: n })
        }
    }
}

/// Nodes of the time-kernel quadrature on `[0, L]`: Gauss–Legendre in `v = ln(s + c)`, panels of
/// width ≤ 0.5 in v, so the power-law head and the exponential taper are both resolved.
/// Returns `(s_k, w_k)` with `∫_0^L h(s) ds ≈ Σ w_k h(s_k)`.
fn time_nodes(l: f64, c: f64, tau: f64) -> impl Iterator<Item = (f64, f64)> {
    // beyond ~50 τ the taper makes the integrand negligible (e^{-50})
    let l_eff = l.min(50.0 * tau + 50.0 * c);
    let (v0, v1) = (c.ln(), (l_eff + c).ln());
    let panels = (((v1 - v0) / 0.5).ceil() as usize).max(1);
    let h = (v1 - v0) / panels as f64;
    (0..panels).flat_map(move |p| {
        let mid = v0 + (p as f64 + 0.5) * h;
        GL16.iter().flat_map(move |&(x, w)| {
            [mid - 0.5 * h * x, mid + 0.5 * h * x].map(|v| {
                let e = v.exp();
                (e - c, w * 0.5 * h * e)
            })
        })
    })
}

/// `I(L) = ∫_0^L e^{−s/τ}(s + c)^{−(1+ω)} ds` by quadrature, with `(∂I/∂c, ∂I/∂ω, ∂I/∂τ)`.
pub fn time_integral_quadrature(l: f64, c: f64, omega: f64, tau: f64) -> (f64, [f64; 3]) {
    if l <= 0.0 {
        return (0.0, [0.0; 3]);
    }
    let (mut i, mut dc, mut dw, mut dt) = (0.0, 0.0, 0.0, 0.0);
    for (s, w) in time_nodes(l, c, tau) {
        let sc = s + c;
        let h = (-s / tau).exp() * sc.powf(-(1.0 + omega));
        i += w * h;
        dc += w * h * (-(1.0 + omega) / sc);
        dw += w * h * (-sc.ln());
        dt += w * h * (s / (tau * tau));
    }
    (i, [dc, dw, dt])
}

/// Upper incomplete gamma `Γ(s, x)` for `s ∈ (−1, 1)`, `x > 0`: the series
/// `[Γ(s) − 1/s] + [(1 − x^s)/s] − x^s Σ_{n≥1} (−x)^n / (n!(s + n))` (both brackets evaluated
/// without cancellation near `s = 0`) for `x < 1.5`, Legendre's continued fraction otherwise.
pub fn upper_gamma(s: f64, x: f64) -> f64 {
    debug_assert!(s > -1.0 && s < 1.0 && x > 0.0);
    if x >= 1.5 {
        // modified Lentz for e^{-x} x^s / (x + 1 - s - 1(1 - s)/(x + 3 - s - ...))
        let tiny = 1e-300;
        let mut b = x + 1.0 - s;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - s);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        return (-x + s * x.ln()).exp() * h;
    }
    const EULER: f64 = 0.577_215_664_901_532_9;
    let lx = x.ln();
    let (g1, g2) = if s.abs() < 1e-9 {
        (-EULER + s * (EULER * EULER / 2.0 + std::f64::consts::PI.powi(2) / 12.0), -lx - s * lx * lx / 2.0)
    } else {
        (libm::expm1(libm::lgamma(1.0 + s)) / s, -libm::expm1(s * lx) / s)
    };
    let xs = (s * lx).exp();
    let mut sum = 0.0;
    let mut term = 1.0;
    for n in 1..200 {
        term *= -x / n as f64;
        let t = term / (s + n as f64);
        sum += t;
        if t.abs() < 1e-17 * sum.abs().max(1e-300) {
            break;
        }
    }
    g1 + g2 - xs * sum
}

/// `I(L) = ∫_0^L e^{−s/τ}(s + c)^{−(1+ω)} ds = e^{c/τ} τ^{−ω} [Γ(−ω, c/τ) − Γ(−ω, (L + c)/τ)]`
/// (closed form for `ω ∈ (−1, 1)`, quadrature otherwise).
pub fn time_integral_value(l: f64, c: f64, omega: f64, tau: f64) -> f64 {
    if l <= 0.0 {
        return 0.0;
    }
    if !(omega > -1.0 && omega < 1.0) {
        return time_integral_quadrature(l, c, omega, tau).0;
    }
    let s = -omega;
    let x0 = c / tau;
    let tail = if l.is_infinite() { 0.0 } else { upper_gamma(s, (l + c) / tau) };
    // e^{x0} τ^{−ω}: combine in log space to avoid overflow of τ^{−ω}
    (x0 - omega * tau.ln()).exp() * (upper_gamma(s, x0) - tail)
}

/// `I(L)` and its derivatives `(∂I/∂c, ∂I/∂ω, ∂I/∂τ)` (central differences of the closed form,
/// relative step 2e-5; accurate to about 1e-9 relative).
pub fn time_integral(l: f64, c: f64, omega: f64, tau: f64) -> (f64, [f64; 3]) {
    if !(omega > -1.0 + 1e-4 && omega < 1.0 - 1e-4) {
        return time_integral_quadrature(l, c, omega, tau);
    }
    let i = time_integral_value(l, c, omega, tau);
    let h = 2e-5;
    let f = |c: f64, w: f64, t: f64| time_integral_value(l, c, w, t);
    let dc = (f(c * (1.0 + h), omega, tau) - f(c * (1.0 - h), omega, tau)) / (2.0 * h * c);
    let dw = (f(c, omega + h, tau) - f(c, omega - h, tau)) / (2.0 * h);
    let dt = (f(c, omega, tau * (1.0 + h)) - f(c, omega, tau * (1.0 - h))) / (2.0 * h * tau);
    (i, [dc, dw, dt])
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// `I(∞) = e^{c/τ} τ^{−ω} Γ(−ω, c/τ)`; for ω ∈ (−1, 0) the upper incomplete gamma of negative
    /// order follows from `Γ(s, x) = (Γ(s + 1, x) − x^s e^{−x}) / s` with `Γ(s+1, x) = Γ(s+1) Q(s+1, x)`.
    #[test]
    fn time_integral_matches_incomplete_gamma() {
        use statrs::function::gamma::{gamma, gamma_ur};
        for (c, omega, tau) in [(0.01, -0.3, 1000.0), (0.05, 0.2, 300.0), (0.001, 0.5, 50.0)] {
            let s: f64 = -omega;
            let x: f64 = c / tau;
            let upper = |s: f64| -> f64 {
                // Γ(s, x) for s > −1, s ≠ 0
                if s > 0.0 {
                    gamma(s) * gamma_ur(s, x)
                } else {
                    (gamma(s + 1.0) * gamma_ur(s + 1.0, x) - x.powf(s) * (-x).exp()) / s
                }
            };
            let exact = x.exp() * tau.powf(-omega) * upper(s);
            let (num, _) = time_integral_quadrature(f64::INFINITY, c, omega, tau);
            assert_relative_eq!(num, exact, max_relative = 1e-9);
            assert_relative_eq!(
                time_integral_value(f64::INFINITY, c, omega, tau),
                exact,
                max_relative = 1e-11
            );
            for l in [0.001, 0.3, 17.0, 400.0, 1e4] {
                assert_relative_eq!(
                    time_integral_value(l, c, omega, tau),
                    time_integral_quadrature(l, c, omega, tau).0,
                    max_relative = 1e-9
                );
            }
        }
    }

    #[test]
    fn upper_gamma_near_zero_order_is_continuous() {
        // Γ(0, x) = E1(x); E1(0.5) = 0.5597735947761608, E1(2) = 0.04890051070806112
        assert_relative_eq!(upper_gamma(0.0, 0.5), 0.559_773_594_776_160_8, max_relative = 1e-13);
        assert_relative_eq!(upper_gamma(1e-12, 0.5), 0.559_773_594_776_160_8, max_relative = 1e-11);
        assert_relative_eq!(upper_gamma(0.0, 2.0), 0.048_900_510_708_061_12, max_relative = 1e-13);
        assert_relative_eq!(upper_gamma(-1e-7, 1.0), upper_gamma(1e-7, 1.0), max_relative = 1e-6);
        // both branches agree at the switch point
        assert_relative_eq!(upper_gamma(-0.4, 1.4999999), upper_gamma(-0.4, 1.5), max_relative = 1e-6);
    }

    #[test]
    fn time_integral_derivatives() {
        let (c, w, t, l) = (0.02, 0.15, 200.0, 365.0);
        let (_, g) = time_integral(l, c, w, t);
        let (_, gq) = time_integral_quadrature(l, c, w, t);
        for k in 0..3 {
            assert_relative_eq!(g[k], gq[k], max_relative = 1e-7);
        }
        let h = 1e-6;
        let f = |c: f64, w: f64, t: f64| time_integral_quadrature(l, c, w, t).0;
        assert_relative_eq!(
            g[0],
            (f(c + h * c, w, t) - f(c - h * c, w, t)) / (2.0 * h * c),
            max_relative = 1e-6
        );
        assert_relative_eq!(g[1], (f(c, w + h, t) - f(c, w - h, t)) / (2.0 * h), max_relative = 1e-6);
        assert_relative_eq!(
            g[2],
            (f(c, w, t + h * t) - f(c, w, t - h * t)) / (2.0 * h * t),
            max_relative = 1e-6
        );
        // finite L against composite quadrature in s
        let direct =
            crate::poisson::gauss_legendre(|s| (-s / t).exp() * (s + c).powf(-(1.0 + w)), 0.0, 1.0, 2000)
                + crate::poisson::gauss_legendre(|s| (-s / t).exp() * (s + c).powf(-(1.0 + w)), 1.0, l, 2000);
        assert_relative_eq!(time_integral(l, c, w, t).0, direct, max_relative = 1e-9);
    }

    #[test]
    fn validation_and_branching() {
        let p = EtasParams {
            log10_mu: -6.0,
            log10_k0: -2.5,
            a: 1.8,
            log10_c: -2.5,
            omega: -0.03,
            log10_tau: 3.5,
            log10_d: -0.8,
            gamma: 0.3,
            rho: 0.6,
        };
        let m = Etas::new(p, 3.0, 1.0).unwrap();
        let n = m.branching_ratio();
        assert!(n.is_finite() && n > 0.0);
        // direct magnitude integral of the expected children
        let beta = m.gr_beta();
        let direct = crate::poisson::gauss_legendre(
            |x| beta * (-beta * x).exp() * m.expected_children(3.0 + x),
            0.0,
            30.0,
            200,
        );
        assert_relative_eq!(n, direct, max_relative = 1e-8);
        assert!(Etas::new(EtasParams { rho: -1.0, ..p }, 3.0, 1.0).unwrap_err().to_string().contains("rho"));
        assert!(Etas::new(EtasParams { omega: -1.5, ..p }, 3.0, 1.0).is_err());
        assert!(Etas::new(p, 3.0, 0.0).is_err());
        assert!(Etas::new(EtasParams { a: 5.0, ..p }, 3.0, 1.0).unwrap().branching_ratio().is_infinite());
    }
}
