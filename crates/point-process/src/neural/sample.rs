//! Sampling from a neural TPP: the next event after a history, and whole continuations.
//!
//! Three exact strategies, chosen per decoder:
//! 1. a closed-form compensator is inverted: draw `E ~ Exp(1)` and solve `Λ(τ) = E` by bisection
//!    (the decoder's own sampler);
//! 2. otherwise, when the decoder supplies a valid upper bound of the intensity on a window
//!    (monotone or coordinate-wise bounded parameterisations), Ogata thinning window by window;
//!    a candidate where the intensity exceeds the bound is an error, never silently accepted;
//! 3. otherwise the compensator is integrated by Gauss–Legendre quadrature and inverted.
//!
//! The mark is then drawn from `λ_k(t) / λ(t)`.

use super::batch::TppBatch;
use super::config::Integration;
use super::encoder::History;
use super::NeuralTpp;
use crate::data::EventSequence;
use crate::error::{invalid, Error, Result};
use core_tensor::seed::Rng;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Settings of the samplers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleConfig {
    /// Window length (time units) over which bounds are taken and compensators integrated.
    pub window: f64,
    /// Bisection iterations when inverting a compensator.
    pub bisection_iters: usize,
    /// Quadrature of compensators without a closed form.
    pub integration: Integration,
    /// Cap on the events of one continuation.
    pub max_events: usize,
    /// Cap on the thinning candidates plus compensator windows evaluated for one event (each costs
    /// a model evaluation): a loose bound or a short window becomes an error, not an endless loop.
    pub max_draws: usize,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            window: 1.0,
            bisection_iters: 50,
            integration: Integration::GaussLegendre { panels: 2 },
            max_events: 10_000,
            max_draws: 1_000_000,
        }
    }
}

impl SampleConfig {
    fn validate(&self) -> Result<()> {
        if !(self.window.is_finite() && self.window > 0.0) {
            return Err(invalid("window", self.window, "must be finite and > 0"));
        }
        if self.bisection_iters == 0 {
            return Err(invalid("bisection_iters", 0, "must be > 0"));
        }
        if self.max_draws == 0 {
            return Err(invalid("max_draws", 0, "must be > 0"));
        }
        self.integration.validate()
    }
}

fn scalar(x: f64, kind: Kind, device: Device) -> Tensor {
    Tensor::from_slice(&[x]).to_kind(kind).to(device).view([1, 1])
}

/// Mark intensities `[K]` at elapsed time `tau` of the tail interval.
fn mark_intensities(model: &NeuralTpp, h: &History, tau: f64) -> Result<Vec<f64>> {
    let t = scalar(tau, h.prev_times.kind(), h.prev_times.device()).unsqueeze(-1);
    let l = model.decoder().log_intensity(h, &t)?.exp().to_kind(Kind::Double).flatten(0, -1);
    Ok(Vec::<f64>::try_from(l.to(Device::Cpu)).map_err(core_tensor::Error::from)?)
}

fn draw_mark(lam: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = lam.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (k, l) in lam.iter().enumerate() {
        if u < *l {
            return k;
        }
        u -= l;
    }
    lam.len() - 1
}

/// Solves `Λ(a, x) = e` for `x ∈ [a, b]` by bisection (`Λ(a, b) ≥ e`).
fn invert(model: &NeuralTpp, h: &History, a: f64, b: f64, e: f64, cfg: &SampleConfig) -> Result<f64> {
    let (kind, dev) = (h.prev_times.kind(), h.prev_times.device());
    let (mut lo, mut hi) = (a, b);
    let ta = scalar(a, kind, dev);
    for _ in 0..cfg.bisection_iters {
        let mid = 0.5 * (lo + hi);
        let c = model.compensator(h, &ta, &scalar(mid, kind, dev), cfg.integration)?.double_value(&[0, 0]);
        if c < e {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Samples the next event after `history` (events on `[t_start, t_end]`, none after the last
/// event up to `t_end`, the present) before `horizon` (absolute time). Returns `None` when no event
/// occurs before the horizon. `kind`/`device` are the model's.
pub fn sample_next(
    model: &NeuralTpp,
    history: &EventSequence,
    horizon: f64,
    rng: &mut Rng,
    cfg: &SampleConfig,
    kind: Kind,
    device: Device,
) -> Result<Option<(f64, usize)>> {
    cfg.validate()?;
    if !(horizon.is_finite() && horizon > history.t_end()) {
        return Err(invalid(
            "horizon",
            horizon,
            &format!("must be finite and > the history's end {}", history.t_end()),
        ));
    }
    let batch = TppBatch::from_sequences(std::slice::from_ref(history), kind, device)?;
    let n = history.len() as i64;
    let h = tch::no_grad(|| model.encode(&batch, false))?;
    let h = h.gather(&Tensor::from_slice(&[n]).to(device).view([1, 1]))?;
    let t0 = history.t_start();
    let prev = history.times().last().copied().unwrap_or(t0) - t0;
    let mut a = history.t_end() - t0 - prev; // elapsed time at the present
    let end = horizon - t0 - prev;
    let exact = model.decoder().compensator(&h, &scalar(a, kind, device)).is_some();
    let bounded =
        model.decoder().intensity_bound(&h, &scalar(a, kind, device), &scalar(a, kind, device)).is_some();
    // every draw or window below costs a model evaluation: a cap turns a loose bound or a tiny
    // window into an error instead of an endless loop
    let mut budget = cfg.max_draws;
    let mut spend = |a: f64| -> Result<()> {
        budget = budget.checked_sub(1).ok_or_else(|| {
            Error::Optimisation(format!(
                "sampling the next event drew {} candidates or windows (elapsed time {a}): \
                 the intensity bound is too loose or the window too short",
                cfg.max_draws
            ))
        })?;
        Ok(())
    };
    tch::no_grad(|| -> Result<Option<(f64, usize)>> {
        if bounded && !exact {
            // thinning, window by window
            loop {
                if a >= end {
                    return Ok(None);
                }
                spend(a)?;
                let b = (a + cfg.window).min(end);
                let bound = model
                    .decoder()
                    .intensity_bound(&h, &scalar(a, kind, device), &scalar(b, kind, device))
                    .expect("bounded decoder")?
                    .double_value(&[0, 0]);
                if !(bound.is_finite() && bound > 0.0) {
                    return Err(Error::Optimisation(format!(
                        "intensity bound {bound} on [{a}, {b}] is not a positive number"
                    )));
                }
                let cand = a + rand_distr::Distribution::sample(
                    &rand_distr::Exp::new(bound).expect("rate > 0"),
                    rng,
                );
                if cand > b {
                    a = b;
                    continue;
                }
                let lam = mark_intensities(model, &h, cand)?;
                let total: f64 = lam.iter().sum();
                if total > bound * (1.0 + 1e-6) {
                    return Err(Error::Optimisation(format!(
                        "intensity {total} exceeds its bound {bound} at elapsed time {cand}"
                    )));
                }
                if rng.gen::<f64>() * bound <= total {
                    return Ok(Some((t0 + prev + cand, draw_mark(&lam, rng))));
                }
                a = cand;
            }
        }
        // inversion of the compensator, window by window
        let mut e: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, rng);
        loop {
            if a >= end {
                return Ok(None);
            }
            spend(a)?;
            let b = (a + cfg.window).min(end);
            let c = model
                .compensator(&h, &scalar(a, kind, device), &scalar(b, kind, device), cfg.integration)?
                .double_value(&[0, 0]);
            if !(c.is_finite() && c >= 0.0) {
                return Err(Error::Optimisation(format!(
                    "compensator {c} on [{a}, {b}] is not a non-negative number"
                )));
            }
            if c < e {
                e -= c;
                a = b;
                continue;
            }
            let x = invert(model, &h, a, b, e, cfg)?;
            let lam = mark_intensities(model, &h, x)?;
            return Ok(Some((t0 + prev + x, draw_mark(&lam, rng))));
        }
    })
}

/// Generates a continuation of `history` up to `t_end` by sampling events one after another,
/// each conditioned on the history and the events generated so far. Returns the new events as a
/// sequence on `[history.t_end(), t_end]`.
pub fn generate(
    model: &NeuralTpp,
    history: &EventSequence,
    t_end: f64,
    rng: &mut Rng,
    cfg: &SampleConfig,
    kind: Kind,
    device: Device,
) -> Result<EventSequence> {
    let (mut times, mut marks) = (history.times().to_vec(), history.marks().to_vec());
    let start = history.len();
    let mut now = history.clone();
    loop {
        match sample_next(model, &now, t_end, rng, cfg, kind, device)? {
            Some((t, m)) if t <= t_end && t > now.t_end() => {
                times.push(t);
                marks.push(m);
                if times.len() - start > cfg.max_events {
                    return Err(Error::TooManyEvents { max_events: cfg.max_events });
                }
                now = EventSequence::new(
                    times.clone(),
                    Some(marks.clone()),
                    history.num_marks(),
                    history.t_start(),
                    t,
                )?;
            }
            _ => break,
        }
    }
    EventSequence::new(
        times[start..].to_vec(),
        Some(marks[start..].to_vec()),
        history.num_marks(),
        history.t_end(),
        t_end,
    )
}
