//! ETAS as a gridded CSEP forecast: the expected number of events in each space–magnitude bin of
//! a window `(t0, t1]`, given the catalogue up to `t0`.
//!
//! `E[N(cell, bin)] = P_GR(bin) · [μ |cell| (t1 − t0) + Σ_{t_j ≤ t0} K(m_j) (I(t1 − t_j) − I(t0 − t_j)) M_j(cell)]`
//! with `K` the productivity, `I` the time-kernel integral, `P_GR` the Gutenberg–Richter mass of
//! the magnitude bin and `M_j(cell) = ∫_cell (r² + D(m_j))^{−(1+ρ)} dA` the spatial kernel's mass
//! in the cell. This is the intensity given the history, integrated over the window: events
//! triggered by events of the window itself are not included (a one-step forecast; over a window
//! short against the sequence it is the leading term, and it needs no simulation, so it exists for
//! supercritical fits too). Temporal ETAS has no spatial law: its rate is spread over the cells in
//! proportion to their area.
//!
//! `M_j` is exact up to quadrature: the cell is mapped to the plane around the source
//! (equirectangular at the mean latitude of source and cell) and split into four signed triangles
//! with a vertex at the source; in polar coordinates the radial integral is closed form,
//! `∫_0^R (r² + D)^{−(1+ρ)} r dr = (D^{−ρ} − (R² + D)^{−ρ}) / (2ρ)`, and the angle is integrated by
//! Gauss–Legendre panels.

use super::model::{time_integral_value, Etas};
use crate::csep::{Grid, GriddedForecast};
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::Catalogue;
use crate::error::{invalid, Result};
use crate::poisson::GL16;
use rayon::prelude::*;
use std::f64::consts::{FRAC_PI_2, PI};

/// Widest angle (radians) one Gauss–Legendre panel covers.
const PANEL: f64 = 0.25;

/// `∫_{θa}^{θb} (R(θ)² + D)^{−ρ} dθ` along the edge `p → q` seen from the origin.
fn edge_term(p: (f64, f64), q: (f64, f64), d: f64, rho: f64) -> (f64, f64) {
    let (ta, tb) = (p.1.atan2(p.0), q.1.atan2(q.0));
    let mut dth = tb - ta;
    if dth > PI {
        dth -= 2.0 * PI;
    } else if dth < -PI {
        dth += 2.0 * PI;
    }
    // the line through p and q: unit normal n, distance h = n·p
    let (ex, ey) = (q.0 - p.0, q.1 - p.1);
    let len = ex.hypot(ey);
    let (nx, ny) = (ey / len, -ex / len);
    let h = (nx * p.0 + ny * p.1).abs();
    let tn = if nx * p.0 + ny * p.1 >= 0.0 { ny.atan2(nx) } else { (-ny).atan2(-nx) };
    if h == 0.0 || dth == 0.0 {
        return (dth, d.powf(-rho) * dth);
    }
    let panels = ((dth.abs() / PANEL).ceil() as usize).max(1);
    let w = dth / panels as f64;
    let mut s = 0.0;
    for k in 0..panels {
        let mid = ta + (k as f64 + 0.5) * w;
        for &(x, wt) in &GL16 {
            for th in [mid - 0.5 * w * x, mid + 0.5 * w * x] {
                let cs = (th - tn).cos().max(1e-300);
                let r = h / cs;
                s += wt * 0.5 * w * (r * r + d).powf(-rho);
            }
        }
    }
    (dth, s)
}

/// `∫∫ (x² + y² + D)^{−(1+ρ)} dx dy` over the rectangle `[x0, x1] × [y0, y1]` (km, relative to
/// the source at the origin); the plane total is `π / (ρ D^ρ)`.
pub fn kernel_mass_rect(x0: f64, x1: f64, y0: f64, y1: f64, d: f64, rho: f64) -> f64 {
    let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
    let (mut angle, mut var) = (0.0, 0.0);
    for k in 0..4 {
        let (a, v) = edge_term(corners[k], corners[(k + 1) % 4], d, rho);
        angle += a;
        var += v;
    }
    // the swept angle is a multiple of π/2 (2π inside, 0 outside, π on an edge, π/2 at a corner):
    // its constant part is taken exactly so that a far cell does not cancel two large terms
    let quarter = (angle / FRAC_PI_2).round() * FRAC_PI_2;
    ((d.powf(-rho) * quarter - var) / (2.0 * rho)).max(0.0)
}

/// Gutenberg–Richter probability of each magnitude bin of `grid` above the model's `Mc`.
fn magnitude_masses(model: &Etas, grid: &Grid) -> Vec<f64> {
    let beta = model.gr_beta();
    let sf = |m: f64| (-beta * (m - model.mc).max(0.0)).exp();
    (0..grid.nm())
        .map(|k| {
            let lo = sf(grid.magnitude(k));
            if k + 1 == grid.nm() {
                lo
            } else {
                lo - sf(grid.magnitude(k + 1))
            }
        })
        .collect()
}

/// The expected counts of `model` in every bin of `grid` over `(t0, t1]`, given the events of
/// `history` up to `t0` (see the module documentation).
///
/// # Errors
/// An invalid model, `t1 ≤ t0` or non-finite times, a history with events after `t0`, a history
/// whose `mc` differs from the model's, or a grid whose first magnitude lies below `Mc`.
pub fn gridded_forecast(
    model: &Etas,
    history: &Catalogue,
    t0: f64,
    t1: f64,
    grid: &Grid,
) -> Result<GriddedForecast> {
    model.validate()?;
    if !(t0.is_finite() && t1.is_finite() && t1 > t0) {
        return Err(invalid("t0, t1", format!("{t0}, {t1}"), "need finite times with t1 > t0"));
    }
    if let Some(q) = history.events().last() {
        if q.time > t0 {
            return Err(invalid("history", q.time, "must end at or before t0 (its last event is later)"));
        }
    }
    if (history.mc() - model.mc).abs() > 1e-12 {
        return Err(invalid("history.mc", history.mc(), "must equal the model's mc"));
    }
    if grid.mags[0] < model.mc - 1e-9 {
        return Err(invalid("grid.mags[0]", grid.mags[0], "must not lie below the model's mc"));
    }
    let p = &model.params;
    let (c, om, tau, rho) = (p.c(), p.omega, p.tau(), p.rho);
    let mu = p.mu();
    let dur = t1 - t0;
    let n_cells = grid.n_cells();
    let areas: Vec<f64> = (0..n_cells).map(|i| grid.cell_area_km2(i)).collect();
    let total_area: f64 = areas.iter().sum();
    // expected events per cell, all magnitudes
    let per_cell: Vec<f64> = if model.spatial {
        let km = EARTH_RADIUS_KM.to_radians();
        let sources: Vec<(f64, f64, f64, f64)> = history
            .events()
            .iter()
            .map(|q| {
                let k = model.productivity(q.mag)
                    * (time_integral_value(t1 - q.time, c, om, tau)
                        - time_integral_value(t0 - q.time, c, om, tau));
                (q.lon, q.lat, model.spatial_scale(q.mag), k)
            })
            .filter(|s| s.3 > 0.0)
            .collect();
        (0..n_cells)
            .into_par_iter()
            .map(|i| {
                let (lo0, lo1, la0, la1) = grid.cell_bounds(i);
                let mut e = mu * areas[i] * dur;
                for &(lon, lat, d, k) in &sources {
                    let cosl = (0.5 * (lat + 0.5 * (la0 + la1))).to_radians().cos();
                    let (x0, x1) = ((lo0 - lon) * km * cosl, (lo1 - lon) * km * cosl);
                    let (y0, y1) = ((la0 - lat) * km, (la1 - lat) * km);
                    e += k * kernel_mass_rect(x0, x1, y0, y1, d, rho);
                }
                e
            })
            .collect()
    } else {
        let mut total = mu * dur;
        for q in history.events() {
            total += model.productivity(q.mag)
                * (time_integral_value(t1 - q.time, c, om, tau)
                    - time_integral_value(t0 - q.time, c, om, tau));
        }
        areas.iter().map(|a| total * a / total_area).collect()
    };
    let pm = magnitude_masses(model, grid);
    let rates = per_cell.iter().flat_map(|&e| pm.iter().map(move |&w| e * w)).collect();
    GriddedForecast::new(grid.clone(), rates, t0, t1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn midpoint(x0: f64, x1: f64, y0: f64, y1: f64, d: f64, rho: f64, n: usize) -> f64 {
        let (hx, hy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                let x = x0 + (i as f64 + 0.5) * hx;
                let y = y0 + (j as f64 + 0.5) * hy;
                s += (x * x + y * y + d).powf(-1.0 - rho) * hx * hy;
            }
        }
        s
    }

    #[test]
    fn kernel_mass_matches_the_plane_total_and_fine_quadrature() {
        let (d, rho): (f64, f64) = (0.7, 0.8);
        let total = PI / (rho * d.powf(rho));
        // a huge square around the source holds all but the tail beyond its inscribed circle
        let big = kernel_mass_rect(-1e4, 1e4, -1e4, 1e4, d, rho);
        let tail_bound = PI / rho * (1e8 + d).powf(-rho);
        assert!((total - big) > 0.0 && (total - big) <= tail_bound * 1.0001, "{total} {big}");
        // inside, outside, on an edge, at a corner: against a fine midpoint rule
        for (x0, x1, y0, y1) in [
            (-1.0, 2.0, -0.5, 3.0),
            (3.0, 4.0, 1.0, 2.5),
            (0.0, 2.0, -1.0, 1.0),
            (0.0, 1.0, 0.0, 1.0),
            (50.0, 60.0, -5.0, 5.0),
        ] {
            let exact = kernel_mass_rect(x0, x1, y0, y1, d, rho);
            let fine = midpoint(x0, x1, y0, y1, d, rho, 1000);
            assert!((exact / fine - 1.0).abs() < 1e-5, "{x0} {x1} {y0} {y1}: {exact} vs {fine}");
        }
        // additivity: four quarters sum to the whole
        let whole = kernel_mass_rect(-1.3, 2.1, -0.4, 1.7, d, rho);
        let parts = kernel_mass_rect(-1.3, 0.5, -0.4, 0.9, d, rho)
            + kernel_mass_rect(0.5, 2.1, -0.4, 0.9, d, rho)
            + kernel_mass_rect(-1.3, 0.5, 0.9, 1.7, d, rho)
            + kernel_mass_rect(0.5, 2.1, 0.9, 1.7, d, rho);
        assert!((whole / parts - 1.0).abs() < 1e-12, "{whole} {parts}");
    }
}
