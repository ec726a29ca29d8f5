//! ETAS log-likelihood (with its gradient) and per-event temporal / spatial scores.
//!
//! Over a catalogue with history window `[t_history, t_start)` and target window `[t_start, T]`:
//! `log L = Σ_{targets i} log λ(t_i, x_i) − μ A (T − t_start) − Σ_{all j} K(m_j) S(m_j) [I(T − t_j) − I((t_start − t_j)⁺)]`
//! with `K` the productivity, `S` the plane integral of the spatial kernel and `I` the time-kernel
//! integral. History events trigger but are not targets. The spatial integral runs over the whole
//! plane, as in the `etas` package (boundary leakage is ignored). Sums over pairs are O(N²),
//! parallel over targets.

use super::model::{time_integral, time_integral_value, Etas};
use crate::data::{haversine_km, Catalogue, Quake};
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::f64::consts::LN_10;

/// Number of ETAS parameters.
pub const NPAR: usize = 9;

pub(crate) fn r2(a: &Quake, b: &Quake) -> f64 {
    haversine_km(a.lon, a.lat, b.lon, b.lat).powi(2)
}

/// Area used for the background: the region's area in km² (spatial) or 1 (temporal).
pub(crate) fn area(model: &Etas, cat: &Catalogue) -> f64 {
    if model.spatial {
        cat.region().area_km2()
    } else {
        1.0
    }
}

/// `∂ log g / ∂θ` for a pair, in parameter-vector order (entry 0, μ, is zero).
pub(crate) fn dlog_g(model: &Etas, dt: f64, r2: f64, dm: f64, out: &mut [f64; NPAR]) {
    let p = &model.params;
    let (c, tau) = (p.c(), p.tau());
    out[0] = 0.0;
    out[1] = LN_10;
    out[2] = dm;
    out[3] = LN_10 * c * (-(1.0 + p.omega) / (dt + c));
    out[4] = -(dt + c).ln();
    out[5] = LN_10 * dt / tau;
    if model.spatial {
        let dd = p.d() * (p.gamma * dm).exp();
        let q = -(1.0 + p.rho) * dd / (r2 + dd);
        out[6] = LN_10 * q;
        out[7] = dm * q;
        out[8] = -(r2 + dd).ln();
    } else {
        out[6] = 0.0;
        out[7] = 0.0;
        out[8] = 0.0;
    }
}

/// Compensator of one source: `K(m) S(m) [I(s1) − I(s0)]` and its gradient.
pub(crate) fn source_compensator(
    model: &Etas,
    m: f64,
    s0: f64,
    s1: f64,
    grad: Option<&mut [f64; NPAR]>,
) -> f64 {
    let p = &model.params;
    let ks = model.productivity(m) * model.spatial_integral(m);
    match grad {
        None => {
            ks * (time_integral_value(s1, p.c(), p.omega, p.tau())
                - time_integral_value(s0, p.c(), p.omega, p.tau()))
        }
        Some(g) => {
            let (i1, d1) = time_integral(s1, p.c(), p.omega, p.tau());
            let (i0, d0) =
                if s0 > 0.0 { time_integral(s0, p.c(), p.omega, p.tau()) } else { (0.0, [0.0; 3]) };
            let di = i1 - i0;
            let c = ks * di;
            let dm = m - model.mc;
            g[1] = LN_10 * c;
            g[2] = dm * c;
            g[3] = LN_10 * p.c() * ks * (d1[0] - d0[0]);
            g[4] = ks * (d1[1] - d0[1]);
            g[5] = LN_10 * p.tau() * ks * (d1[2] - d0[2]);
            if model.spatial {
                let dd = model.spatial_scale(m);
                g[6] = -p.rho * LN_10 * c;
                g[7] = -p.rho * dm * c;
                g[8] = (-1.0 / p.rho - dd.ln()) * c;
            } else {
                g[6] = 0.0;
                g[7] = 0.0;
                g[8] = 0.0;
            }
            g[0] = 0.0;
            c
        }
    }
}

pub(crate) fn check(model: &Etas, cat: &Catalogue) -> Result<()> {
    model.validate()?;
    if (cat.mc() - model.mc).abs() > 1e-12 {
        return Err(Error::Data(format!(
            "catalogue mc = {} differs from the model's mc = {}",
            cat.mc(),
            model.mc
        )));
    }
    Ok(())
}

/// Log-likelihood and, when asked, its gradient in [`PARAM_NAMES`](super::model::PARAM_NAMES)
/// order (log10 parameters differentiated with respect to their log10).
pub fn log_likelihood_with_grad(
    model: &Etas,
    cat: &Catalogue,
    with_grad: bool,
) -> Result<(f64, Option<[f64; NPAR]>)> {
    check(model, cat)?;
    let ev = cat.events();
    let first = cat.first_target();
    let mu = model.params.mu();
    // target terms
    let parts: Vec<(f64, [f64; NPAR])> = (first..ev.len())
        .into_par_iter()
        .map(|i| {
            let mut lam = mu;
            let mut acc = [0.0; NPAR];
            let mut dl = [0.0; NPAR];
            for j in 0..i {
                let dt = ev[i].time - ev[j].time;
                let rr = if model.spatial { r2(&ev[i], &ev[j]) } else { 0.0 };
                let g = model.triggering(dt, rr, ev[j].mag);
                lam += g;
                if with_grad {
                    dlog_g(model, dt, rr, ev[j].mag - model.mc, &mut dl);
                    for k in 1..NPAR {
                        acc[k] += g * dl[k];
                    }
                }
            }
            acc[0] = LN_10 * mu;
            for a in acc.iter_mut() {
                *a /= lam;
            }
            (lam, acc)
        })
        .collect();
    let mut ll = 0.0;
    let mut grad = [0.0; NPAR];
    for (k, (lam, g)) in parts.iter().enumerate() {
        if !(*lam > 0.0 && lam.is_finite()) {
            return Err(Error::Data(format!("intensity {lam} at target event {}", first + k)));
        }
        ll += lam.ln();
        for q in 0..NPAR {
            grad[q] += g[q];
        }
    }
    let (comp, comp_grad) = compensator(model, cat, with_grad);
    ll -= comp;
    for q in 0..NPAR {
        grad[q] -= comp_grad[q];
    }
    Ok((ll, with_grad.then_some(grad)))
}

/// The compensator over the target window — background `μ A (T − t_start)` plus one term per
/// source — and its gradient (zeros without `with_grad`), summed over sources in index order.
pub(crate) fn compensator(model: &Etas, cat: &Catalogue, with_grad: bool) -> (f64, [f64; NPAR]) {
    let bg = model.params.mu() * area(model, cat) * (cat.t_end() - cat.t_start());
    let terms: Vec<(f64, [f64; NPAR])> = cat
        .events()
        .par_iter()
        .map(|q| {
            let s1 = cat.t_end() - q.time;
            let s0 = (cat.t_start() - q.time).max(0.0);
            let mut g = [0.0; NPAR];
            let c = source_compensator(model, q.mag, s0, s1, if with_grad { Some(&mut g) } else { None });
            (c, g)
        })
        .collect();
    let (mut sum, mut grad) = (bg, [0.0; NPAR]);
    grad[0] = LN_10 * bg;
    for (c, g) in terms {
        sum += c;
        for q in 0..NPAR {
            grad[q] += g[q];
        }
    }
    (sum, grad)
}

/// Log-likelihood.
pub fn log_likelihood(model: &Etas, cat: &Catalogue) -> Result<f64> {
    Ok(log_likelihood_with_grad(model, cat, false)?.0)
}

/// Per-target-event scores (EarthquakeNPP's metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct EventScores {
    /// Temporal log-likelihood per event: `log λ*(t_i) − ∫_{t_{i−1}}^{t_i} λ*` (from `t_start` for the
    /// first target), with `λ*` the intensity integrated over space.
    pub tll: Vec<f64>,
    /// Spatial log-likelihood per event: `log λ(t_i, x_i) − log λ*(t_i)` (spatial models only; zeros
    /// for temporal ETAS).
    pub sll: Vec<f64>,
    /// `−∫` of `λ*` from the last target to the end of the window.
    pub tail: f64,
}

impl EventScores {
    /// Mean temporal log-likelihood per event.
    pub fn mean_tll(&self) -> f64 {
        self.tll.iter().sum::<f64>() / self.tll.len().max(1) as f64
    }
    /// Mean spatial log-likelihood per event.
    pub fn mean_sll(&self) -> f64 {
        self.sll.iter().sum::<f64>() / self.sll.len().max(1) as f64
    }
}

/// Per-event temporal and spatial log-likelihoods; `Σ tll + Σ sll + tail = log L`.
pub fn event_scores(model: &Etas, cat: &Catalogue) -> Result<EventScores> {
    check(model, cat)?;
    let ev = cat.events();
    let first = cat.first_target();
    let mu = model.params.mu();
    let a = area(model, cat);
    let ts = cat.t_start();
    let p = &model.params;
    let cum = |t: f64| -> f64 {
        // Λ*(t) − Λ*(t_start) over sources before t
        let mut s = mu * a * (t - ts);
        for q in ev.iter().take_while(|q| q.time < t) {
            let ks = model.productivity(q.mag) * model.spatial_integral(q.mag);
            let s0 = (ts - q.time).max(0.0);
            s += ks
                * (time_integral_value(t - q.time, p.c(), p.omega, p.tau())
                    - time_integral_value(s0, p.c(), p.omega, p.tau()));
        }
        s
    };
    let rows: Vec<(f64, f64, f64)> = (first..ev.len())
        .into_par_iter()
        .map(|i| {
            let (mut lam_t, mut lam_st) = (mu * a, mu);
            for j in 0..i {
                let dt = ev[i].time - ev[j].time;
                let h = model.productivity(ev[j].mag) * model.time_kernel(dt);
                lam_t += h * model.spatial_integral(ev[j].mag);
                if model.spatial {
                    lam_st += h * model.space_kernel(r2(&ev[i], &ev[j]), ev[j].mag);
                }
            }
            (cum(ev[i].time), lam_t, lam_st)
        })
        .collect();
    let mut tll = Vec::with_capacity(rows.len());
    let mut sll = Vec::with_capacity(rows.len());
    let mut prev = 0.0;
    for (cum_i, lam_t, lam_st) in rows {
        tll.push(lam_t.ln() - (cum_i - prev));
        sll.push(if model.spatial { lam_st.ln() - lam_t.ln() } else { 0.0 });
        prev = cum_i;
    }
    let tail = -(cum(cat.t_end()) - prev);
    Ok(EventScores { tll, sll, tail })
}

/// Probability that each target event is a background event, `μ / λ(t_i, x_i)` (stochastic
/// declustering, Zhuang et al. 2002).
pub fn background_probabilities(model: &Etas, cat: &Catalogue) -> Result<Vec<f64>> {
    check(model, cat)?;
    let ev = cat.events();
    let mu = model.params.mu();
    Ok((cat.first_target()..ev.len())
        .into_par_iter()
        .map(|i| {
            let lam: f64 = mu
                + (0..i)
                    .map(|j| {
                        let rr = if model.spatial { r2(&ev[i], &ev[j]) } else { 0.0 };
                        model.triggering(ev[i].time - ev[j].time, rr, ev[j].mag)
                    })
                    .sum::<f64>();
            mu / lam
        })
        .collect())
}
