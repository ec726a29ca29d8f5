//! Forecasting by simulating many continuations of a catalogue, and the CSEP number test.

use super::model::Etas;
use super::simulate::simulate_continuation;
use crate::csep::CatalogueForecast;
use crate::data::Catalogue;
use crate::error::{invalid, Result};
use core_tensor::seed::{derive_seed, rng};
use rayon::prelude::*;

/// The distribution of event counts in a forecast window, from simulated catalogues.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Start of the window (the history's end).
    pub t_start: f64,
    /// End of the window.
    pub t_end: f64,
    /// Event count of each simulated catalogue.
    pub counts: Vec<usize>,
}

/// Result of the CSEP number test (Zechar et al. 2010): quantiles of the observed count under the
/// forecast's count distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NTest {
    /// Observed number of events.
    pub observed: usize,
    /// `δ1 = P(N ≥ N_obs)`: small when the forecast under-predicts.
    pub delta1: f64,
    /// `δ2 = P(N ≤ N_obs)`: small when the forecast over-predicts.
    pub delta2: f64,
}

impl NTest {
    /// Whether the forecast is consistent with the observation at two-sided level `alpha`.
    pub fn passes(&self, alpha: f64) -> bool {
        self.delta1 >= alpha / 2.0 && self.delta2 >= alpha / 2.0
    }
}

impl Forecast {
    /// Mean simulated count.
    pub fn mean(&self) -> f64 {
        self.counts.iter().sum::<usize>() as f64 / self.counts.len() as f64
    }
    /// Empirical quantile `q ∈ [0, 1]` of the counts.
    pub fn quantile(&self, q: f64) -> f64 {
        let mut c: Vec<usize> = self.counts.clone();
        c.sort_unstable();
        let pos = (q.clamp(0.0, 1.0) * (c.len() - 1) as f64).round() as usize;
        c[pos] as f64
    }
    /// The number test for an observed count.
    pub fn n_test(&self, observed: usize) -> NTest {
        let counts: Vec<f64> = self.counts.iter().map(|&c| c as f64).collect();
        let (delta1, delta2) = crate::csep::stats::deltas(&counts, observed as f64);
        NTest { observed, delta1, delta2 }
    }
}

/// Error unless an event's expected number of direct aftershocks, averaged over the
/// Gutenberg–Richter law, is finite: then a cascade over a finite window has a finite mean size,
/// even for a supercritical model (branching ratio ≥ 1), whose cascades grow without bound only
/// over infinite time.
fn ensure_finite_offspring(model: &Etas) -> Result<()> {
    let n = model.branching_ratio();
    if n.is_finite() {
        Ok(())
    } else {
        Err(crate::error::Error::NotStationary { ratio: n })
    }
}

/// `n_sims` continuations of `history` over `(history.t_end, history.t_end + horizon]`, in
/// parallel, simulation `k` seeded by `derive_seed(seed, k)`.
fn continuations(
    model: &Etas,
    history: &Catalogue,
    horizon: f64,
    n_sims: usize,
    seed: u64,
    max_events: usize,
) -> Result<Vec<Vec<crate::data::Quake>>> {
    if !(horizon.is_finite() && horizon > 0.0) {
        return Err(invalid("horizon", horizon, "must be finite and > 0"));
    }
    if n_sims == 0 {
        return Err(invalid("n_sims", 0, "must be > 0"));
    }
    ensure_finite_offspring(model)?;
    let t_end = history.t_end() + horizon;
    (0..n_sims)
        .into_par_iter()
        .map(|k| {
            let mut r = rng(derive_seed(seed, k as u64));
            simulate_continuation(model, history, t_end, &mut r, max_events)
        })
        .collect()
}

/// Simulates `n_sims` continuations of `history` over `(history.t_end, history.t_end + horizon]`
/// in parallel; simulation `k` uses the seed `derive_seed(seed, k)`, so results do not depend on
/// the number of threads. A supercritical model is accepted when its mean offspring is finite
/// (its forecast over a finite window is finite); each simulation is capped at 5 000 000 events.
pub fn forecast(
    model: &Etas,
    history: &Catalogue,
    horizon: f64,
    n_sims: usize,
    seed: u64,
) -> Result<Forecast> {
    let t_end = history.t_end() + horizon;
    let counts =
        continuations(model, history, horizon, n_sims, seed, 5_000_000)?.iter().map(Vec::len).collect();
    Ok(Forecast { t_start: history.t_end(), t_end, counts })
}

/// The simulated continuations themselves, as a catalogue-based CSEP forecast of
/// `(history.t_end, history.t_end + horizon]`: `n_sims` catalogues, simulation `k` seeded by
/// `derive_seed(seed, k)`, each capped at `max_events` events.
///
/// # Errors
/// A non-positive horizon, `n_sims = 0`, a model whose mean offspring diverges, or a simulation
/// beyond `max_events` (an explosive fit).
pub fn forecast_catalogues(
    model: &Etas,
    history: &Catalogue,
    horizon: f64,
    n_sims: usize,
    seed: u64,
    max_events: usize,
) -> Result<CatalogueForecast> {
    let cats = continuations(model, history, horizon, n_sims, seed, max_events)?;
    CatalogueForecast::new(cats, history.t_end(), history.t_end() + horizon)
}
