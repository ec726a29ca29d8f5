//! ETAS simulation by the branching construction: background events uniform in time and space,
//! Gutenberg–Richter magnitudes, and generations of aftershocks with Omori–Utsu times (exponentially
//! tapered) and power-law distances.

use super::model::{time_integral_value, Etas};
use crate::data::{catalogue::destination, Catalogue, Quake, Region};
use crate::error::{invalid, Error, Result};
use crate::poisson::poisson_count;
use core_tensor::seed::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, Exp};

/// Lag `s ∈ [s0, s1]` with `I(s) − I(s0) = target` (I increasing), by bisection in `ln(s + c)`.
fn invert_time(model: &Etas, s0: f64, s1: f64, target: f64) -> f64 {
    let p = &model.params;
    let (c, w, tau) = (p.c(), p.omega, p.tau());
    let i0 = time_integral_value(s0, c, w, tau);
    let (mut lo, mut hi) = ((s0 + c).ln(), (s1 + c).ln());
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if time_integral_value(mid.exp() - c, c, w, tau) - i0 < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 {
            break;
        }
    }
    (0.5 * (lo + hi)).exp() - c
}

fn gr_magnitude(model: &Etas, rng: &mut Rng) -> f64 {
    model.mc + Exp::new(model.gr_beta()).expect("b > 0").sample(rng)
}

/// Location of a child of `parent`: distance from the radial CDF `1 − (D/(r² + D))^ρ` (inverted),
/// uniform bearing, placed on the sphere along the great circle.
fn sample_location(model: &Etas, parent: &Quake, rng: &mut Rng) -> Result<(f64, f64)> {
    let dd = model.spatial_scale(parent.mag);
    let u: f64 = rng.gen();
    let r = (dd * ((1.0 - u).powf(-1.0 / model.params.rho) - 1.0)).sqrt();
    destination(parent.lon, parent.lat, r, rng.gen::<f64>() * std::f64::consts::TAU)
}

/// Expands `parents` (and, when `background`, new background events on the window `[t_lo, t_hi]`) into all
/// their descendants inside `[t_lo, t_hi]` and `region`. Offspring outside the region are discarded
/// together with their descendants. Returns the new events (unsorted).
pub(crate) fn cascade(
    model: &Etas,
    region: &Region,
    parents: &[Quake],
    background: bool,
    (t_lo, t_hi): (f64, f64),
    rng: &mut Rng,
    max_events: usize,
) -> Result<Vec<Quake>> {
    let centre = ((region.lon_min + region.lon_max) / 2.0, (region.lat_min + region.lat_max) / 2.0);
    let mut new: Vec<Quake> = Vec::new();
    if background {
        let area = if model.spatial { region.area_km2() } else { 1.0 };
        let n = poisson_count(model.params.mu() * area * (t_hi - t_lo), max_events, rng)?;
        // the count is known before anything is stored
        if n > max_events {
            return Err(Error::TooManyEvents { max_events });
        }
        for _ in 0..n {
            let (lon, lat) = if model.spatial { region.uniform_point(rng.gen(), rng.gen()) } else { centre };
            let time = t_lo + rng.gen::<f64>() * (t_hi - t_lo);
            new.push(Quake { time, lon, lat, mag: gr_magnitude(model, rng), depth: 0.0 });
        }
    }
    let p = &model.params;
    let (c, w, tau) = (p.c(), p.omega, p.tau());
    // queue: parents first, then every new event
    let mut k = 0;
    loop {
        let parent = if k < parents.len() {
            parents[k]
        } else if k - parents.len() < new.len() {
            new[k - parents.len()]
        } else {
            break;
        };
        k += 1;
        let s0 = (t_lo - parent.time).max(0.0);
        let s1 = t_hi - parent.time;
        if s1 <= s0 {
            continue;
        }
        let ks = model.productivity(parent.mag) * model.spatial_integral(parent.mag);
        let i0 = time_integral_value(s0, c, w, tau);
        let mass = time_integral_value(s1, c, w, tau) - i0;
        let n = poisson_count(ks * mass, max_events, rng)?;
        for _ in 0..n {
            let s = invert_time(model, s0, s1, rng.gen::<f64>() * mass);
            let time = parent.time + s;
            let (lon, lat) = if model.spatial { sample_location(model, &parent, rng)? } else { centre };
            if model.spatial && !region.contains(lon, lat) {
                continue;
            }
            new.push(Quake { time, lon, lat, mag: gr_magnitude(model, rng), depth: 0.0 });
            if new.len() > max_events {
                return Err(Error::TooManyEvents { max_events });
            }
        }
    }
    Ok(new)
}

/// Simulates a catalogue on `[t_history, t_end]` from scratch (events before `t_start` form the
/// history window). Temporal models place every event at the region's centre.
pub fn simulate(
    model: &Etas,
    region: Region,
    t_history: f64,
    t_start: f64,
    t_end: f64,
    rng: &mut Rng,
    max_events: usize,
) -> Result<Catalogue> {
    model.validate()?;
    if !(t_history <= t_start && t_start < t_end && t_history.is_finite() && t_end.is_finite()) {
        return Err(Error::Data(format!(
            "windows must be finite with t_history <= t_start < t_end (got {t_history}, {t_start}, {t_end})"
        )));
    }
    let mut ev = cascade(model, &region, &[], true, (t_history, t_end), rng, max_events)?;
    ev.sort_by(|a, b| a.time.total_cmp(&b.time));
    ev.dedup_by(|a, b| a.time == b.time);
    Catalogue::new(ev, t_history, t_start, t_end, model.mc, region)
}

/// Simulates the continuation of `history` on `(history.t_end, t_end]`: aftershocks of the history
/// events, background events and their cascades. Returns the new events sorted by time.
pub fn simulate_continuation(
    model: &Etas,
    history: &Catalogue,
    t_end: f64,
    rng: &mut Rng,
    max_events: usize,
) -> Result<Vec<Quake>> {
    model.validate()?;
    if !(t_end > history.t_end() && t_end.is_finite()) {
        return Err(invalid(
            "t_end",
            t_end,
            &format!("must be finite and after the history's end {}", history.t_end()),
        ));
    }
    let mut ev =
        cascade(model, history.region(), history.events(), true, (history.t_end(), t_end), rng, max_events)?;
    ev.sort_by(|a, b| a.time.total_cmp(&b.time));
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hawkes::diagnostics::ks_test;

    /// Sampled lags follow the normalised time kernel on `[s0, s1]` (KS test), and spatial offsets
    /// follow the radial distribution `1 − (D/(r² + D))^ρ`.
    #[test]
    fn samplers_match_their_distributions() {
        let p = crate::etas::presets::benchmark_params(-5.0, -2.0);
        let m = Etas::new(p, 3.0, 1.0).unwrap();
        let mut r = core_tensor::seed::rng(0);
        for (s0, s1) in [(0.0, 1000.0), (2.0, 50.0)] {
            let (c, w, tau) = (p.c(), p.omega, p.tau());
            let i0 = time_integral_value(s0, c, w, tau);
            let mass = time_integral_value(s1, c, w, tau) - i0;
            let lags: Vec<f64> = (0..4000).map(|_| invert_time(&m, s0, s1, r.gen::<f64>() * mass)).collect();
            assert!(lags.iter().all(|&s| s >= s0 && s <= s1));
            let ks = ks_test(&lags, |s| (time_integral_value(s, c, w, tau) - i0) / mass).unwrap();
            assert!(ks.p_value > 0.01, "{ks:?}");
        }
        let parent = Quake { time: 0.0, lon: -110.0, lat: 33.0, mag: 4.0, depth: 0.0 };
        let dists: Vec<f64> = (0..4000)
            .map(|_| {
                let (lon, lat) = sample_location(&m, &parent, &mut r).unwrap();
                crate::data::haversine_km(parent.lon, parent.lat, lon, lat)
            })
            .collect();
        let dd = m.spatial_scale(parent.mag);
        let ks = ks_test(&dists, |r| 1.0 - (dd / (r * r + dd)).powf(p.rho)).unwrap();
        assert!(ks.p_value > 0.01, "{ks:?}");
    }
}
