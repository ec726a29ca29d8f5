//! The repeating-pattern detection experiment of Masquelier, Guyonneau & Thorpe (2008).

use rand::Rng;

use super::lif::{LifParams, LifUnit};
use super::stdp::{Stdp, StdpRule, StdpState};
use crate::data::{PatternStream, PatternStreamConfig};
use crate::{Error, Result};

/// Configuration of [`run_pattern_experiment`].
///
/// One [`LifUnit`] receives all `N` afferents of a [`PatternStreamConfig`] stream through weights
/// initialised to `w_init`, learns with additive STDP during `train_ms`, and is then evaluated with
/// frozen weights on a fresh `test_ms` stream carrying the same frozen pattern. The `dt` of `stdp` and
/// `lif` must equal `stream.dt_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternExperiment {
    /// Input statistics (afferents, rates, pattern).
    pub stream: PatternStreamConfig,
    /// Training duration, in ms.
    pub train_ms: f64,
    /// Duration of each frozen-weight evaluation stream, in ms.
    pub test_ms: f64,
    /// Fraction `(0, 1]` at the end of training over which the late-training metrics are computed.
    pub late_fraction: f64,
    /// Plasticity rule.
    pub stdp: Stdp,
    /// Postsynaptic neuron.
    pub lif: LifParams,
    /// Initial weight of every synapse, in `[stdp.w_min, stdp.w_max]`.
    pub w_init: f64,
}

impl Default for PatternExperiment {
    /// The full-size run (about 0.6 s in release): Masquelier et al.'s input statistics with `N = 2000`
    /// afferents firing at 10 Hz plus 10 Hz spontaneous noise, 1000 of them in a 50 ms pattern shown
    /// 25 % of the time with 1 ms jitter; 150 s of training and 20 s evaluations.
    ///
    /// Neuron: `τ_m = 10 ms`, `θ = 25`, 5 ms refractory, initial weights 0.11 (mean input ≈ 1.1 θ, so
    /// the untrained neuron fires at ≈ 75 Hz). STDP: additive, `A₊ = 0.0075`, `τ₊ = 17 ms`,
    /// `A₋ = 0.0025`, `τ₋ = 34 ms`, `w_post = −0.0015` per output spike, `w ∈ [0, 1]`. For the 20 Hz
    /// afferents the drift of uncorrelated pairs is depression-dominated by 25 %:
    /// `A₋τ₋ + |w_post|/r = 0.085 + 0.075 > A₊τ₊ = 0.1275` (weight·ms). The homeostatic `w_post` term (as
    /// in Masquelier 2018, *Neuroscience* 389:133–140) is what makes learning reliable here: with pure
    /// pair-based STDP (`w_post = 0`, `A₋/A₊ = 1.05`, `τ₋ = τ₊`) the same neuron ends at ≈ 20 Hz of
    /// false alarms in our runs.
    fn default() -> Self {
        PatternExperiment {
            stream: PatternStreamConfig {
                n_afferents: 2000,
                n_pattern_afferents: 1000,
                rate_hz: 10.0,
                noise_hz: 10.0,
                pattern_ms: 50.0,
                pattern_fraction: 0.25,
                jitter_ms: 1.0,
                dt_ms: 1.0,
            },
            train_ms: 150_000.0,
            test_ms: 20_000.0,
            late_fraction: 0.2,
            stdp: Stdp {
                a_plus: 0.0075,
                a_minus: 0.0025,
                tau_plus: 17.0,
                tau_minus: 34.0,
                w_pre: 0.0,
                w_post: -0.0015,
                w_min: 0.0,
                w_max: 1.0,
                dt: 1.0,
                rule: StdpRule::Additive,
            },
            lif: LifParams {
                tau_m: 10.0,
                v_rest: 0.0,
                threshold: 25.0,
                v_reset: 0.0,
                refractory: 5.0,
                dt: 1.0,
            },
            w_init: 0.11,
        }
    }
}

impl PatternExperiment {
    /// A reduced configuration for tests (about 0.1 s in release): `N = 1000` (500 in the pattern),
    /// 40 s of training, 10 s evaluations, threshold halved to 12.5 with the input; otherwise as
    /// [`Default`].
    pub fn small() -> Self {
        let d = PatternExperiment::default();
        PatternExperiment {
            stream: PatternStreamConfig { n_afferents: 1000, n_pattern_afferents: 500, ..d.stream },
            train_ms: 40_000.0,
            test_ms: 10_000.0,
            lif: LifParams { threshold: 12.5, ..d.lif },
            ..d
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// Invalid stream, STDP or LIF parameters, mismatched time steps, non-positive durations,
    /// `late_fraction ∉ (0, 1]`, or `w_init` outside the STDP bounds.
    pub fn validate(&self) -> Result<()> {
        self.stream.validate()?;
        self.stdp.validate()?;
        LifUnit::new(self.lif)?;
        core_tensor::error::ensure_positive("train_ms", self.train_ms)?;
        core_tensor::error::ensure_positive("test_ms", self.test_ms)?;
        if self.stdp.dt != self.stream.dt_ms {
            return Err(Error::invalid(
                "stdp.dt",
                self.stdp.dt,
                format!("must equal stream.dt_ms = {}", self.stream.dt_ms),
            ));
        }
        if self.lif.dt != self.stream.dt_ms {
            return Err(Error::invalid(
                "lif.dt",
                self.lif.dt,
                format!("must equal stream.dt_ms = {}", self.stream.dt_ms),
            ));
        }
        if !(self.late_fraction > 0.0 && self.late_fraction <= 1.0) {
            return Err(Error::invalid("late_fraction", self.late_fraction, "must be in (0, 1]"));
        }
        if !(self.w_init >= self.stdp.w_min && self.w_init <= self.stdp.w_max) {
            return Err(Error::invalid(
                "w_init",
                self.w_init,
                format!("must lie in [w_min, w_max] = [{}, {}]", self.stdp.w_min, self.stdp.w_max),
            ));
        }
        Ok(())
    }
}

/// Pattern-detection performance of the neuron over a time window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectionMetrics {
    /// Fraction of pattern presentations (onset inside the window) during which the neuron fired at
    /// least once, i.e. within `[onset, onset + L)`.
    pub hit_rate: f64,
    /// Postsynaptic spikes per second of non-pattern time (Hz).
    pub false_alarm_hz: f64,
    /// Hit rate expected by chance from the false alarms alone, `1 − exp(−false_alarm_hz·L)`: the
    /// probability that a Poisson train at the false-alarm rate puts a spike in a window of length `L`.
    /// A detector that fires everywhere has `hit_rate ≈ chance_hit_rate`; `hit_rate − chance_hit_rate`
    /// measures pattern selectivity.
    pub chance_hit_rate: f64,
    /// Mean delay from pattern onset to the first spike, over hits, in ms (NaN when there is no hit).
    pub mean_latency_ms: f64,
    /// Number of presentations counted.
    pub presentations: usize,
    /// Total postsynaptic spikes in the window.
    pub post_spikes: usize,
}

/// Result of [`run_pattern_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatternReport {
    /// Initial weights, frozen, on the evaluation stream.
    pub before: DetectionMetrics,
    /// Plastic weights over the last `late_fraction` of training.
    pub late_training: DetectionMetrics,
    /// Learned weights, frozen, on the same evaluation stream as `before`.
    pub after: DetectionMetrics,
    /// Learned weights (length `N`).
    pub weights: Vec<f64>,
    /// Mean learned weight of the pattern afferents.
    pub mean_w_pattern: f64,
    /// Mean learned weight of the other afferents (NaN if every afferent is in the pattern).
    pub mean_w_other: f64,
}

/// Runs the LIF unit on `stream` from weights `w` (learning in place if `stdp` is given); returns the
/// steps of its spikes.
fn simulate(
    stream: &PatternStream,
    w: &mut [f64],
    lif: LifParams,
    mut stdp: Option<&mut StdpState>,
) -> Result<Vec<usize>> {
    let mut unit = LifUnit::new(lif)?;
    let mut pre = vec![false; stream.n_afferents];
    let mut spikes = Vec::new();
    for t in 0..stream.n_steps {
        let active = stream.spikes_at(t);
        let input: f64 = active.iter().map(|&a| w[a as usize]).sum();
        let fired = unit.step(input)?;
        if fired {
            spikes.push(t);
        }
        if let Some(state) = stdp.as_deref_mut() {
            active.iter().for_each(|&a| pre[a as usize] = true);
            state.step(w, &pre, &[fired])?;
            active.iter().for_each(|&a| pre[a as usize] = false);
        }
    }
    Ok(spikes)
}

/// Hit rate, false alarms and latency of `post` (sorted spike steps) on `stream` over `[from, n_steps)`.
fn detection(stream: &PatternStream, post: &[usize], from: usize) -> DetectionMetrics {
    let len = stream.pattern_len;
    let starts: Vec<usize> =
        stream.pattern_starts.iter().copied().filter(|&s| s >= from && s + len <= stream.n_steps).collect();
    let mut hits = 0usize;
    let mut latency = 0.0;
    for &s in &starts {
        let k = post.partition_point(|&t| t < s);
        if let Some(&t) = post.get(k).filter(|&&t| t < s + len) {
            hits += 1;
            latency += (t - s) as f64 * stream.dt_ms;
        }
    }
    let mask = stream.pattern_mask();
    let post_in: Vec<usize> = post.iter().copied().filter(|&t| t >= from).collect();
    let false_alarms = post_in.iter().filter(|&&t| !mask[t]).count();
    let noise_steps = (from..stream.n_steps).filter(|&t| !mask[t]).count();
    let noise_s = noise_steps as f64 * stream.dt_ms / 1000.0;
    let false_alarm_hz = if noise_s > 0.0 { false_alarms as f64 / noise_s } else { 0.0 };
    DetectionMetrics {
        hit_rate: if starts.is_empty() { 0.0 } else { hits as f64 / starts.len() as f64 },
        false_alarm_hz,
        chance_hit_rate: 1.0 - (-false_alarm_hz * len as f64 * stream.dt_ms / 1000.0).exp(),
        mean_latency_ms: if hits > 0 { latency / hits as f64 } else { f64::NAN },
        presentations: starts.len(),
        post_spikes: post_in.len(),
    }
}

/// The repeating-pattern experiment of Masquelier, Guyonneau & Thorpe (2008) with one LIF neuron and
/// additive, depression-dominated STDP.
///
/// Draws a frozen pattern, a training stream of `train_ms` and an evaluation stream of `test_ms` (see
/// [`PatternStreamConfig`]); measures detection with the initial weights on the evaluation stream
/// (`before`), trains with STDP on the training stream (`late_training` = metrics over its last
/// `late_fraction`, weights still plastic), then measures the learned, frozen weights on the same
/// evaluation stream (`after`).
///
/// # Errors
/// An invalid configuration (see [`PatternExperiment::validate`]).
pub fn run_pattern_experiment(cfg: &PatternExperiment, rng: &mut impl Rng) -> Result<PatternReport> {
    cfg.validate()?;
    let pattern = cfg.stream.frozen_pattern(rng)?;
    let train = cfg.stream.stream(&pattern, cfg.train_ms, rng)?;
    let test = cfg.stream.stream(&pattern, cfg.test_ms, rng)?;
    let n = cfg.stream.n_afferents;

    let mut w0 = vec![cfg.w_init; n];
    let before = detection(&test, &simulate(&test, &mut w0, cfg.lif, None)?, 0);

    let mut w = vec![cfg.w_init; n];
    let mut stdp = StdpState::new(cfg.stdp, n, 1)?;
    let post = simulate(&train, &mut w, cfg.lif, Some(&mut stdp))?;
    let from = ((1.0 - cfg.late_fraction) * train.n_steps as f64).floor() as usize;
    let late_training = detection(&train, &post, from);

    let mut w_frozen = w.clone();
    let after = detection(&test, &simulate(&test, &mut w_frozen, cfg.lif, None)?, 0);

    let mut in_pattern = vec![false; n];
    pattern.afferents.iter().for_each(|&a| in_pattern[a as usize] = true);
    let mean = |sel: bool| {
        let v: Vec<f64> = (0..n).filter(|&i| in_pattern[i] == sel).map(|i| w[i]).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    Ok(PatternReport {
        before,
        late_training,
        after,
        mean_w_pattern: mean(true),
        mean_w_other: mean(false),
        weights: w,
    })
}
