//! Local learning rules without tensors: pair-based STDP, a leaky integrate-and-fire unit, the
//! repeating-pattern detection experiment, and the Tempotron.
//!
//! * [`Stdp`] / [`StdpState`]: pair-based spike-timing-dependent plasticity with exponential traces in
//!   discrete time (Bi & Poo 1998; trace formulation of Morrison, Diesmann & Gerstner 2008), additive
//!   (Song, Miller & Abbott 2000) or multiplicative / soft-bound (van Rossum, Bi & Turrigiano 2000;
//!   Gütig et al. 2003 with μ = 1).
//! * [`LifUnit`]: a single current-jump leaky integrate-and-fire neuron in `f64`.
//! * [`run_pattern_experiment`]: a repeating spike pattern hidden in Poisson noise is picked up by one
//!   LIF neuron with STDP (Masquelier, Guyonneau & Thorpe 2008, *PLoS ONE* 3(1):e1377).
//! * [`Tempotron`] and [`run_tempotron_experiment`]: Gütig & Sompolinsky 2006, *Nat. Neurosci.*
//!   9(3):420–428.
//!
//! Time is in ms throughout. Weight matrices are row-major `[n_post][n_pre]`. Continuous-time spike
//! trains are one sorted `Vec<f64>` of spike times (ms) per afferent.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::data::{poisson_train, PatternStream, PatternStreamConfig};
use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------------
// STDP
// ---------------------------------------------------------------------------------------------------

/// Weight dependence of the STDP update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdpRule {
    /// `Δw_ji = A₊·x_i·s_j − A₋·y_j·s_i`, then clipped to `[w_min, w_max]` (hard bounds).
    Additive,
    /// `Δw_ji = A₊·(w_max − w_ji)·x_i·s_j − A₋·(w_ji − w_min)·y_j·s_i` (soft bounds), then clipped to
    /// `[w_min, w_max]` (the clip only acts when a trace exceeds `1/A±`).
    Multiplicative,
}

/// Pair-based STDP with exponential traces in discrete time.
///
/// At every step of length `dt` (ms), with spike indicators `s_i ∈ {0,1}` of presynaptic neuron `i`
/// and `s_j` of postsynaptic neuron `j`:
///
/// 1. traces: `x_i ← x_i·e^{−dt/τ₊} + s_i`, `y_j ← y_j·e^{−dt/τ₋} + s_j`;
/// 2. weights (see [`StdpRule`]): potentiation `A₊·x_i` at each post spike, depression `A₋·y_j` at each
///    pre spike, plus the optional rate terms of Kempter, Gerstner & van Hemmen (1999), `w_pre·s_i`
///    and `w_post·s_j` (both 0 by default), all computed from the weights at the start of the step;
///    then `w_ji` is clipped to `[w_min, w_max]`:
///    `Δw_ji = A₊·f₊(w_ji)·x_i·s_j − A₋·f₋(w_ji)·y_j·s_i + w_pre·s_i + w_post·s_j`, with `f± = 1`
///    (additive) or `f₊ = w_max − w`, `f₋ = w − w_min` (multiplicative).
///
/// Traces are updated **before** the weights, so a pre and a post spike in the same step pair with each
/// other in both directions (net `A₊ − A₋` for the additive rule, i.e. symmetric at zero lag), and a
/// single pair with the post spike `Δ ≥ 1` steps after the pre spike gives exactly
/// `Δw = A₊·e^{−Δ·dt/τ₊}` (the reverse order gives `−A₋·e^{−Δ·dt/τ₋}`); the multiplicative rule
/// multiplies these by `(w_max − w)` resp. `(w − w_min)`. Pairing is all-to-all (traces accumulate).
///
/// For uncorrelated Poisson activity at rates `r_pre`, `r_post` the mean drift per synapse is
/// `r_post·[r_pre·(A₊τ₊ − A₋τ₋) + w_post] + r_pre·w_pre`; the rule is depression-dominated when this
/// is negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stdp {
    /// Potentiation amplitude `A₊ ≥ 0` (weight units; per unit of `w_max − w` for the multiplicative rule).
    pub a_plus: f64,
    /// Depression amplitude `A₋ ≥ 0`.
    pub a_minus: f64,
    /// Presynaptic trace time constant `τ₊`, in ms.
    pub tau_plus: f64,
    /// Postsynaptic trace time constant `τ₋`, in ms.
    pub tau_minus: f64,
    /// Rate term added to `w_ji` at every presynaptic spike of `i` (Kempter, Gerstner & van Hemmen
    /// 1999 `w_in`; 0 for pure pair-based STDP).
    pub w_pre: f64,
    /// Rate term added to every `w_ji` of row `j` at each postsynaptic spike of `j` (Kempter's `w_out`;
    /// negative values give a homeostatic depression per output spike; 0 for pure pair-based STDP).
    pub w_post: f64,
    /// Lower weight bound.
    pub w_min: f64,
    /// Upper weight bound (`> w_min`).
    pub w_max: f64,
    /// Time step `dt`, in ms.
    pub dt: f64,
    /// Additive or multiplicative weight dependence.
    pub rule: StdpRule,
}

impl Default for Stdp {
    /// Additive, `A₊ = 0.01`, `A₋ = 0.0105`, `τ₊ = τ₋ = 20 ms`, `w ∈ [0, 1]`, `dt = 1 ms`.
    fn default() -> Self {
        Stdp {
            a_plus: 0.01,
            a_minus: 0.0105,
            tau_plus: 20.0,
            tau_minus: 20.0,
            w_pre: 0.0,
            w_post: 0.0,
            w_min: 0.0,
            w_max: 1.0,
            dt: 1.0,
            rule: StdpRule::Additive,
        }
    }
}

impl Stdp {
    /// Checks every field.
    ///
    /// # Errors
    /// Negative or non-finite amplitudes, non-positive time constants or `dt`, non-finite bounds or
    /// `w_min ≥ w_max`.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("a_plus", self.a_plus), ("a_minus", self.a_minus)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(name, v, "must be finite and ≥ 0"));
            }
        }
        core_tensor::error::ensure_positive("tau_plus", self.tau_plus)?;
        core_tensor::error::ensure_positive("tau_minus", self.tau_minus)?;
        core_tensor::error::ensure_positive("dt", self.dt)?;
        core_tensor::error::ensure_finite("w_pre", &[self.w_pre])?;
        core_tensor::error::ensure_finite("w_post", &[self.w_post])?;
        core_tensor::error::ensure_finite("w_min", &[self.w_min])?;
        core_tensor::error::ensure_finite("w_max", &[self.w_max])?;
        if !(self.w_min < self.w_max) {
            return Err(Error::invalid("w_max", self.w_max, format!("must be > w_min = {}", self.w_min)));
        }
        Ok(())
    }
}

/// Trace state of [`Stdp`] for `n_pre` presynaptic and `n_post` postsynaptic neurons.
#[derive(Debug, Clone, PartialEq)]
pub struct StdpState {
    cfg: Stdp,
    decay_pre: f64,
    decay_post: f64,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl StdpState {
    /// Zero traces for an `[n_post][n_pre]` synapse matrix.
    ///
    /// # Errors
    /// Invalid `cfg`, or `n_pre`/`n_post` zero.
    pub fn new(cfg: Stdp, n_pre: usize, n_post: usize) -> Result<Self> {
        cfg.validate()?;
        if n_pre == 0 {
            return Err(Error::invalid("n_pre", n_pre, "must be ≥ 1"));
        }
        if n_post == 0 {
            return Err(Error::invalid("n_post", n_post, "must be ≥ 1"));
        }
        Ok(StdpState {
            decay_pre: (-cfg.dt / cfg.tau_plus).exp(),
            decay_post: (-cfg.dt / cfg.tau_minus).exp(),
            cfg,
            x: vec![0.0; n_pre],
            y: vec![0.0; n_post],
        })
    }

    /// The rule's parameters.
    pub fn config(&self) -> &Stdp {
        &self.cfg
    }

    /// Presynaptic traces `x_i` (length `n_pre`).
    pub fn pre_trace(&self) -> &[f64] {
        &self.x
    }

    /// Postsynaptic traces `y_j` (length `n_post`).
    pub fn post_trace(&self) -> &[f64] {
        &self.y
    }

    /// Resets all traces to zero.
    pub fn reset(&mut self) {
        self.x.iter_mut().for_each(|v| *v = 0.0);
        self.y.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Advances one step: updates the traces with this step's spikes, then the weights `w`
    /// (row-major `[n_post][n_pre]`) in place, as described on [`Stdp`]. Cost `O(n_pre + n_post)` plus
    /// `O(n_pre)` per post spike and `O(n_post)` per pre spike.
    ///
    /// # Errors
    /// Wrong lengths, or a non-finite weight among those this step would change (nothing is modified
    /// then).
    pub fn step(&mut self, w: &mut [f64], pre: &[bool], post: &[bool]) -> Result<()> {
        let (n_pre, n_post) = (self.x.len(), self.y.len());
        if pre.len() != n_pre {
            return Err(Error::shape("pre", [n_pre], [pre.len()]));
        }
        if post.len() != n_post {
            return Err(Error::shape("post", [n_post], [post.len()]));
        }
        if w.len() != n_pre * n_post {
            return Err(Error::shape("w", [n_post, n_pre], [w.len()]));
        }
        let pre_idx: Vec<usize> = (0..n_pre).filter(|&i| pre[i]).collect();
        let post_idx: Vec<usize> = (0..n_post).filter(|&j| post[j]).collect();
        let bad =
            |j: usize, i: usize| Error::invalid(format!("w[{j}][{i}]"), w[j * n_pre + i], "must be finite");
        for &j in &post_idx {
            if let Some(i) = (0..n_pre).find(|&i| !w[j * n_pre + i].is_finite()) {
                return Err(bad(j, i));
            }
        }
        for &i in &pre_idx {
            if let Some(j) = (0..n_post).find(|&j| !w[j * n_pre + i].is_finite()) {
                return Err(bad(j, i));
            }
        }

        for (x, &s) in self.x.iter_mut().zip(pre) {
            *x = *x * self.decay_pre + f64::from(u8::from(s));
        }
        for (y, &s) in self.y.iter_mut().zip(post) {
            *y = *y * self.decay_post + f64::from(u8::from(s));
        }
        if pre_idx.is_empty() && post_idx.is_empty() {
            return Ok(());
        }
        let Stdp { a_plus, a_minus, w_pre, w_post, w_min, w_max, rule, .. } = self.cfg;
        // Every change of this step is computed from the start-of-step weight w0 of the synapse:
        // rows j with a post spike get potentiation (+ w_post) and, where i also spiked, depression
        // (+ w_pre); the remaining synapses of spiking pre neurons get depression (+ w_pre).
        let soft = rule == StdpRule::Multiplicative;
        let ltp = |w0: f64, x: f64| a_plus * x * if soft { w_max - w0 } else { 1.0 };
        let ltd = |w0: f64, y: f64| a_minus * y * if soft { w0 - w_min } else { 1.0 };
        for &j in &post_idx {
            let yj = self.y[j];
            let row = &mut w[j * n_pre..(j + 1) * n_pre];
            for (i, wi) in row.iter_mut().enumerate() {
                let w0 = *wi;
                let mut dw = ltp(w0, self.x[i]) + w_post;
                if pre[i] {
                    dw += w_pre - ltd(w0, yj);
                }
                *wi = w0 + dw;
            }
        }
        for &i in &pre_idx {
            for j in 0..n_post {
                if !post[j] {
                    let w0 = w[j * n_pre + i];
                    w[j * n_pre + i] = w0 + w_pre - ltd(w0, self.y[j]);
                }
            }
        }
        for &j in &post_idx {
            w[j * n_pre..(j + 1) * n_pre].iter_mut().for_each(|v| *v = v.clamp(w_min, w_max));
        }
        for &i in &pre_idx {
            for j in 0..n_post {
                w[j * n_pre + i] = w[j * n_pre + i].clamp(w_min, w_max);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------
// LIF unit
// ---------------------------------------------------------------------------------------------------

/// Parameters of a [`LifUnit`]; voltages in arbitrary units (the same as the synaptic weights), times
/// in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifParams {
    /// Membrane time constant `τ_m`, in ms.
    pub tau_m: f64,
    /// Resting potential `V_rest`.
    pub v_rest: f64,
    /// Firing threshold `θ` (`> v_reset`).
    pub threshold: f64,
    /// Reset potential after a spike.
    pub v_reset: f64,
    /// Absolute refractory period, in ms (≥ 0); rounded to whole steps.
    pub refractory: f64,
    /// Time step `dt`, in ms.
    pub dt: f64,
}

impl Default for LifParams {
    /// `τ_m = 10 ms`, `V_rest = V_reset = 0`, `θ = 1`, 2 ms refractory, `dt = 1 ms`.
    fn default() -> Self {
        LifParams { tau_m: 10.0, v_rest: 0.0, threshold: 1.0, v_reset: 0.0, refractory: 2.0, dt: 1.0 }
    }
}

/// Current-jump leaky integrate-and-fire neuron in discrete time.
///
/// Each step with input `I` (the summed weights of the input spikes of this step, in voltage units):
/// outside the refractory period `V ← V_rest + (V − V_rest)·e^{−dt/τ_m} + I`; if `V ≥ θ` the unit
/// spikes, `V ← V_reset`, and for the next `round(refractory/dt)` steps `V` is held at `V_reset` and the
/// input ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct LifUnit {
    params: LifParams,
    decay: f64,
    refractory_steps: usize,
    v: f64,
    refractory_left: usize,
}

impl LifUnit {
    /// A unit at rest.
    ///
    /// # Errors
    /// Non-positive `tau_m`/`dt`, non-finite voltages, `threshold ≤ v_reset`, negative or non-finite
    /// `refractory`.
    pub fn new(params: LifParams) -> Result<Self> {
        core_tensor::error::ensure_positive("tau_m", params.tau_m)?;
        core_tensor::error::ensure_positive("dt", params.dt)?;
        core_tensor::error::ensure_finite("v_rest", &[params.v_rest])?;
        core_tensor::error::ensure_finite("threshold", &[params.threshold])?;
        core_tensor::error::ensure_finite("v_reset", &[params.v_reset])?;
        if !(params.threshold > params.v_reset) {
            return Err(Error::invalid(
                "threshold",
                params.threshold,
                format!("must be > v_reset = {}", params.v_reset),
            ));
        }
        if !(params.refractory.is_finite() && params.refractory >= 0.0) {
            return Err(Error::invalid("refractory", params.refractory, "must be finite and ≥ 0"));
        }
        Ok(LifUnit {
            decay: (-params.dt / params.tau_m).exp(),
            refractory_steps: (params.refractory / params.dt).round() as usize,
            v: params.v_rest,
            refractory_left: 0,
            params,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &LifParams {
        &self.params
    }

    /// Membrane potential `V`.
    pub fn v(&self) -> f64 {
        self.v
    }

    /// Back to rest, not refractory.
    pub fn reset(&mut self) {
        self.v = self.params.v_rest;
        self.refractory_left = 0;
    }

    /// Advances one step with input `input`; returns whether the unit spiked.
    ///
    /// # Errors
    /// Non-finite `input`.
    pub fn step(&mut self, input: f64) -> Result<bool> {
        if !input.is_finite() {
            return Err(Error::invalid("input", input, "must be finite"));
        }
        if self.refractory_left > 0 {
            self.refractory_left -= 1;
            self.v = self.params.v_reset;
            return Ok(false);
        }
        self.v = self.params.v_rest + (self.v - self.params.v_rest) * self.decay + input;
        if self.v >= self.params.threshold {
            self.v = self.params.v_reset;
            self.refractory_left = self.refractory_steps;
            return Ok(true);
        }
        Ok(false)
    }
}

// ---------------------------------------------------------------------------------------------------
// Repeating pattern in noise (Masquelier et al. 2008)
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// Tempotron
// ---------------------------------------------------------------------------------------------------

/// The Tempotron (Gütig & Sompolinsky 2006): a leaky integrator of postsynaptic potentials that
/// classifies a spike pattern by whether its potential ever reaches threshold.
///
/// `V(t) = Σ_i w_i Σ_{t_i^f < t} K(t − t_i^f) + V_rest` with `K(t) = V₀ (e^{−t/τ} − e^{−t/τ_s})` for
/// `t > 0` (`τ > τ_s > 0`, ms), where `V₀ = 1/(e^{−t_peak/τ} − e^{−t_peak/τ_s})` normalises the kernel's
/// peak to 1 at `t_peak = τ τ_s ln(τ/τ_s)/(τ − τ_s)`. The pattern is classified positive iff
/// `max_t V(t) ≥ θ`. Learning on errors only: `Δw_i = ±λ Σ_{t_i^f < t_max} K(t_max − t_i^f)` with
/// `t_max = argmax_t V(t)`, `+` for a missed positive and `−` for a false positive.
///
/// The maximum is found exactly rather than on a grid: between consecutive input spike times `V` has
/// the form `V_rest + A e^{−s/τ} − B e^{−s/τ_s}`, which has at most one stationary point
/// `s* = ln(Bτ/(Aτ_s))/(1/τ_s − 1/τ)` (a maximum when `A, B > 0`); `V` is therefore evaluated at every
/// input spike time and at each such interior maximum (including after the last spike), which gives the
/// supremum over the whole time axis. The output spike's shunting of later inputs is not modelled (it
/// does not change the decision).
#[derive(Debug, Clone, PartialEq)]
pub struct Tempotron {
    weights: Vec<f64>,
    tau: f64,
    tau_s: f64,
    threshold: f64,
    v_rest: f64,
    v0: f64,
}

/// `(time, afferent)` of all spikes in time order, after validation.
fn merged_spikes(trains: &[Vec<f64>], n: usize) -> Result<Vec<(f64, usize)>> {
    if trains.len() != n {
        return Err(Error::shape("trains", [n], [trains.len()]));
    }
    let mut ev = Vec::with_capacity(trains.iter().map(Vec::len).sum());
    for (i, tr) in trains.iter().enumerate() {
        if let Some(t) = tr.iter().find(|t| !t.is_finite()) {
            return Err(Error::invalid(format!("trains[{i}]"), t, "spike times must be finite"));
        }
        if let Some(k) = tr.windows(2).position(|w| !(w[0] <= w[1])) {
            return Err(Error::invalid(
                format!("trains[{i}]"),
                format!("{} then {}", tr[k], tr[k + 1]),
                "spike times must be sorted ascending",
            ));
        }
        ev.extend(tr.iter().map(|&t| (t, i)));
    }
    ev.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    Ok(ev)
}

impl Tempotron {
    /// A Tempotron with `V_rest = 0` and weights drawn from `N(0, (10⁻³·θ)²)` (the initialisation scale
    /// of Gütig & Sompolinsky, relative to the threshold).
    ///
    /// # Errors
    /// `n_afferents == 0`, non-positive or non-finite `tau`, `tau_s`, `threshold`, or `tau ≤ tau_s`.
    pub fn new(n_afferents: usize, tau: f64, tau_s: f64, threshold: f64, rng: &mut impl Rng) -> Result<Self> {
        if n_afferents == 0 {
            return Err(Error::invalid("n_afferents", n_afferents, "must be ≥ 1"));
        }
        core_tensor::error::ensure_positive("tau", tau)?;
        core_tensor::error::ensure_positive("tau_s", tau_s)?;
        core_tensor::error::ensure_positive("threshold", threshold)?;
        if !(tau > tau_s) {
            return Err(Error::invalid("tau_s", tau_s, format!("must be < tau = {tau}")));
        }
        let t_peak = Self::peak_time(tau, tau_s);
        let v0 = 1.0 / ((-t_peak / tau).exp() - (-t_peak / tau_s).exp());
        let normal = Normal::new(0.0, 1e-3 * threshold)
            .map_err(|e| Error::invalid("threshold", threshold, e.to_string()))?;
        let weights = (0..n_afferents).map(|_| normal.sample(rng)).collect();
        Ok(Tempotron { weights, tau, tau_s, threshold, v_rest: 0.0, v0 })
    }

    /// Sets the resting potential (default 0).
    ///
    /// # Errors
    /// Non-finite `v_rest` or `v_rest ≥ threshold`.
    pub fn with_v_rest(mut self, v_rest: f64) -> Result<Self> {
        if !(v_rest.is_finite() && v_rest < self.threshold) {
            return Err(Error::invalid(
                "v_rest",
                v_rest,
                format!("must be finite and < threshold = {}", self.threshold),
            ));
        }
        self.v_rest = v_rest;
        Ok(self)
    }

    fn peak_time(tau: f64, tau_s: f64) -> f64 {
        tau * tau_s * (tau / tau_s).ln() / (tau - tau_s)
    }

    /// Time of the kernel's peak, `t_peak = τ τ_s ln(τ/τ_s)/(τ − τ_s)`, in ms.
    pub fn t_peak(&self) -> f64 {
        Self::peak_time(self.tau, self.tau_s)
    }

    /// Kernel normalisation `V₀`.
    pub fn v0(&self) -> f64 {
        self.v0
    }

    /// The PSP kernel `K(t) = V₀ (e^{−t/τ} − e^{−t/τ_s})` for `t > 0`, 0 otherwise (`t` in ms).
    pub fn kernel(&self, t: f64) -> f64 {
        if t > 0.0 {
            self.v0 * ((-t / self.tau).exp() - (-t / self.tau_s).exp())
        } else {
            0.0
        }
    }

    /// Synaptic weights `w_i`.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Replaces the weights.
    ///
    /// # Errors
    /// Wrong length or non-finite values.
    pub fn set_weights(&mut self, w: &[f64]) -> Result<()> {
        if w.len() != self.weights.len() {
            return Err(Error::shape("w", [self.weights.len()], [w.len()]));
        }
        core_tensor::error::ensure_finite("w", w)?;
        self.weights.copy_from_slice(w);
        Ok(())
    }

    /// Firing threshold `θ`.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Resting potential `V_rest`.
    pub fn v_rest(&self) -> f64 {
        self.v_rest
    }

    /// `V(t)` by direct summation over all input spikes (cost ∝ number of spikes).
    ///
    /// # Errors
    /// `trains.len() ≠ n_afferents`, unsorted or non-finite spike times (the error names the afferent),
    /// or non-finite `t`.
    pub fn potential(&self, trains: &[Vec<f64>], t: f64) -> Result<f64> {
        merged_spikes(trains, self.weights.len())?;
        if !t.is_finite() {
            return Err(Error::invalid("t", t, "must be finite"));
        }
        Ok(self.v_rest
            + trains
                .iter()
                .zip(&self.weights)
                .map(|(tr, &w)| {
                    w * tr.iter().take_while(|&&ti| ti < t).map(|&ti| self.kernel(t - ti)).sum::<f64>()
                })
                .sum::<f64>())
    }

    /// `(max_t V(t), t_max)` over the whole time axis, exactly (see [`Tempotron`]); the earliest time
    /// wins ties. With no input spikes, or when `V` never rises above `V_rest`, returns
    /// `(V_rest, t_first)` with `t_first` the first spike time (0 without spikes).
    ///
    /// # Errors
    /// As [`Tempotron::potential`].
    pub fn potential_max(&self, trains: &[Vec<f64>]) -> Result<(f64, f64)> {
        let ev = merged_spikes(trains, self.weights.len())?;
        Ok(self.max_of_sorted(&ev))
    }

    fn max_of_sorted(&self, ev: &[(f64, usize)]) -> (f64, f64) {
        let Some(&(t_first, _)) = ev.first() else {
            return (self.v_rest, 0.0);
        };
        let (tau, tau_s) = (self.tau, self.tau_s);
        let rate_gap = 1.0 / tau_s - 1.0 / tau;
        let (mut best_v, mut best_t) = (self.v_rest, t_first);
        // A = V₀ Σ w e^{−(t−t_i)/τ}, B = V₀ Σ w e^{−(t−t_i)/τ_s}, for spikes up to the current time.
        let (mut a, mut b) = (0.0f64, 0.0f64);
        let mut k = 0;
        while k < ev.len() {
            let t = ev[k].0;
            while k < ev.len() && ev[k].0 == t {
                let dw = self.v0 * self.weights[ev[k].1];
                a += dw;
                b += dw;
                k += 1;
            }
            let v = self.v_rest + a - b;
            if v > best_v {
                best_v = v;
                best_t = t;
            }
            let gap = if k < ev.len() { ev[k].0 - t } else { f64::INFINITY };
            if a > 0.0 && b > 0.0 {
                let s = ((b * tau) / (a * tau_s)).ln() / rate_gap;
                if s > 0.0 && s < gap {
                    let v = self.v_rest + a * (-s / tau).exp() - b * (-s / tau_s).exp();
                    if v > best_v {
                        best_v = v;
                        best_t = t + s;
                    }
                }
            }
            if gap.is_finite() {
                a *= (-gap / tau).exp();
                b *= (-gap / tau_s).exp();
            }
        }
        (best_v, best_t)
    }

    /// Whether the Tempotron fires for `trains` (`max_t V(t) ≥ θ`).
    ///
    /// # Errors
    /// As [`Tempotron::potential`].
    pub fn classify(&self, trains: &[Vec<f64>]) -> Result<bool> {
        Ok(self.potential_max(trains)?.0 >= self.threshold)
    }

    /// One step of the Tempotron rule on pattern `trains` with desired output `label`; returns whether
    /// the classification before the update was correct (no update then).
    ///
    /// # Errors
    /// As [`Tempotron::potential`], or `lr` not finite and > 0.
    pub fn train_step(&mut self, trains: &[Vec<f64>], label: bool, lr: f64) -> Result<bool> {
        core_tensor::error::ensure_positive("lr", lr)?;
        let (v_max, t_max) = self.potential_max(trains)?;
        let fired = v_max >= self.threshold;
        if fired == label {
            return Ok(true);
        }
        let sign = if label { lr } else { -lr };
        for i in 0..self.weights.len() {
            let psp: f64 =
                trains[i].iter().take_while(|&&ti| ti < t_max).map(|&ti| self.kernel(t_max - ti)).sum();
            self.weights[i] += sign * psp;
        }
        Ok(false)
    }
}

/// Configuration of [`run_tempotron_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct TempotronExperiment {
    /// Number of afferents `N`.
    pub n_afferents: usize,
    /// Number of training patterns `P` (load `α = P/N`).
    pub n_patterns: usize,
    /// Pattern duration `T`, in ms.
    pub duration_ms: f64,
    /// Poisson rate of every afferent, in Hz.
    pub rate_hz: f64,
    /// Membrane time constant `τ`, in ms.
    pub tau: f64,
    /// Synaptic time constant `τ_s < τ`, in ms.
    pub tau_s: f64,
    /// Threshold `θ` (with `V_rest = 0`).
    pub threshold: f64,
    /// Learning rate `λ` (voltage units per unit kernel sum).
    pub lr: f64,
    /// Maximum number of epochs; training stops after the first epoch without errors.
    pub max_epochs: usize,
    /// Gaussian jitter SD of the test copies, in ms (≥ 0).
    pub jitter_ms: f64,
    /// Number of jittered test copies per training pattern (≥ 1).
    pub test_copies: usize,
}

impl Default for TempotronExperiment {
    /// `N = 500`, `P = 500` (load 1), `T = 500 ms`, 6 Hz, `τ = 15 ms`, `τ_s = 3.75 ms`, `θ = 1`,
    /// `λ = 3·10⁻³`, up to 500 epochs, test jitter 1 ms, 4 copies per pattern.
    fn default() -> Self {
        TempotronExperiment {
            n_afferents: 500,
            n_patterns: 500,
            duration_ms: 500.0,
            rate_hz: 6.0,
            tau: 15.0,
            tau_s: 3.75,
            threshold: 1.0,
            lr: 3e-3,
            max_epochs: 500,
            jitter_ms: 1.0,
            test_copies: 4,
        }
    }
}

/// Result of [`run_tempotron_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct TempotronReport {
    /// Online training accuracy of each epoch run (fraction of patterns correct before their update).
    pub train_accuracy: Vec<f64>,
    /// Accuracy on the training patterns with the final weights.
    pub final_train_accuracy: f64,
    /// Accuracy on jittered copies of the training patterns with the final weights.
    pub test_accuracy: f64,
}

/// Trains a [`Tempotron`] on `P` random Poisson patterns with random binary labels (Gütig & Sompolinsky
/// 2006), epoch by epoch in shuffled order, until an epoch is error-free or `max_epochs` is reached;
/// then tests on `test_copies` copies of each pattern whose spikes are shifted by Gaussian jitter of SD
/// `jitter_ms` (re-sorted per afferent).
///
/// # Errors
/// Zero counts, or invalid rates, durations or Tempotron parameters.
pub fn run_tempotron_experiment(cfg: &TempotronExperiment, rng: &mut impl Rng) -> Result<TempotronReport> {
    for (name, v) in
        [("n_patterns", cfg.n_patterns), ("max_epochs", cfg.max_epochs), ("test_copies", cfg.test_copies)]
    {
        if v == 0 {
            return Err(Error::invalid(name, v, "must be ≥ 1"));
        }
    }
    core_tensor::error::ensure_positive("duration_ms", cfg.duration_ms)?;
    core_tensor::error::ensure_positive("lr", cfg.lr)?;
    if !(cfg.jitter_ms.is_finite() && cfg.jitter_ms >= 0.0) {
        return Err(Error::invalid("jitter_ms", cfg.jitter_ms, "must be finite and ≥ 0"));
    }
    let mut tempotron = Tempotron::new(cfg.n_afferents, cfg.tau, cfg.tau_s, cfg.threshold, rng)?;
    let mut patterns = Vec::with_capacity(cfg.n_patterns);
    for _ in 0..cfg.n_patterns {
        let trains: Vec<Vec<f64>> = (0..cfg.n_afferents)
            .map(|_| poisson_train(cfg.rate_hz, cfg.duration_ms, rng))
            .collect::<Result<_>>()?;
        patterns.push((trains, rng.gen::<bool>()));
    }

    let mut order: Vec<usize> = (0..cfg.n_patterns).collect();
    let mut train_accuracy = Vec::new();
    for _ in 0..cfg.max_epochs {
        order.shuffle(rng);
        let mut correct = 0usize;
        for &p in &order {
            let (trains, label) = &patterns[p];
            correct += usize::from(tempotron.train_step(trains, *label, cfg.lr)?);
        }
        train_accuracy.push(correct as f64 / cfg.n_patterns as f64);
        if correct == cfg.n_patterns {
            break;
        }
    }

    let mut final_correct = 0usize;
    for (trains, label) in &patterns {
        final_correct += usize::from(tempotron.classify(trains)? == *label);
    }
    let jitter = Normal::new(0.0, cfg.jitter_ms)
        .map_err(|e| Error::invalid("jitter_ms", cfg.jitter_ms, e.to_string()))?;
    let mut test_correct = 0usize;
    for (trains, label) in &patterns {
        for _ in 0..cfg.test_copies {
            let jittered: Vec<Vec<f64>> = trains
                .iter()
                .map(|tr| {
                    let mut v: Vec<f64> = tr.iter().map(|&t| t + jitter.sample(rng)).collect();
                    v.sort_unstable_by(f64::total_cmp);
                    v
                })
                .collect();
            test_correct += usize::from(tempotron.classify(&jittered)? == *label);
        }
    }
    Ok(TempotronReport {
        train_accuracy,
        final_train_accuracy: final_correct as f64 / cfg.n_patterns as f64,
        test_accuracy: test_correct as f64 / (cfg.n_patterns * cfg.test_copies) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn stdp(rule: StdpRule) -> Stdp {
        Stdp {
            a_plus: 0.01,
            a_minus: 0.012,
            tau_plus: 20.0,
            tau_minus: 30.0,
            dt: 0.5,
            rule,
            ..Stdp::default()
        }
    }

    /// Runs one synapse through `n` steps with spikes at the given steps; returns the final weight.
    fn run_pair(cfg: Stdp, w0: f64, pre_steps: &[usize], post_steps: &[usize], n: usize) -> f64 {
        let mut st = StdpState::new(cfg, 1, 1).unwrap();
        let mut w = [w0];
        for t in 0..n {
            st.step(&mut w, &[pre_steps.contains(&t)], &[post_steps.contains(&t)]).unwrap();
        }
        w[0]
    }

    #[test]
    fn additive_single_pair_closed_form() {
        let cfg = stdp(StdpRule::Additive);
        for delta in [1usize, 3, 10, 40] {
            let ltp = run_pair(cfg, 0.5, &[5], &[5 + delta], 100) - 0.5;
            let expect = cfg.a_plus * (-(delta as f64) * cfg.dt / cfg.tau_plus).exp();
            assert!((ltp - expect).abs() < 1e-14, "Δ = {delta}: {ltp} vs {expect}");
            let ltd = run_pair(cfg, 0.5, &[5 + delta], &[5], 100) - 0.5;
            let expect = -cfg.a_minus * (-(delta as f64) * cfg.dt / cfg.tau_minus).exp();
            assert!((ltd - expect).abs() < 1e-14, "Δ = {delta}: {ltd} vs {expect}");
        }
        // Same-step pair: both orders count once, net A₊ − A₋.
        let same = run_pair(cfg, 0.5, &[7], &[7], 20) - 0.5;
        assert!((same - (cfg.a_plus - cfg.a_minus)).abs() < 1e-14);
    }

    #[test]
    fn multiplicative_single_pair_closed_form() {
        let cfg = Stdp { w_min: -0.2, w_max: 1.5, ..stdp(StdpRule::Multiplicative) };
        let w0 = 0.4;
        for delta in [1usize, 4, 25] {
            let ltp = run_pair(cfg, w0, &[2], &[2 + delta], 60) - w0;
            let expect = cfg.a_plus * (cfg.w_max - w0) * (-(delta as f64) * cfg.dt / cfg.tau_plus).exp();
            assert!((ltp - expect).abs() < 1e-14, "{ltp} vs {expect}");
            let ltd = run_pair(cfg, w0, &[2 + delta], &[2], 60) - w0;
            let expect = -cfg.a_minus * (w0 - cfg.w_min) * (-(delta as f64) * cfg.dt / cfg.tau_minus).exp();
            assert!((ltd - expect).abs() < 1e-14, "{ltd} vs {expect}");
        }
        // Same step: both terms from the start-of-step weight.
        let same = run_pair(cfg, w0, &[3], &[3], 10) - w0;
        let expect = cfg.a_plus * (cfg.w_max - w0) - cfg.a_minus * (w0 - cfg.w_min);
        assert!((same - expect).abs() < 1e-14);
    }

    #[test]
    fn traces_follow_closed_form() {
        let cfg = stdp(StdpRule::Additive);
        let mut st = StdpState::new(cfg, 2, 1).unwrap();
        let mut w = [0.5, 0.5];
        let pre_spikes = [0usize, 3, 4, 10];
        let post_spikes = [2usize, 9];
        for t in 0..15 {
            let pre = [pre_spikes.contains(&t), false];
            st.step(&mut w, &pre, &[post_spikes.contains(&t)]).unwrap();
            let x: f64 = pre_spikes
                .iter()
                .filter(|&&s| s <= t)
                .map(|&s| (-((t - s) as f64) * cfg.dt / cfg.tau_plus).exp())
                .sum();
            let y: f64 = post_spikes
                .iter()
                .filter(|&&s| s <= t)
                .map(|&s| (-((t - s) as f64) * cfg.dt / cfg.tau_minus).exp())
                .sum();
            assert!((st.pre_trace()[0] - x).abs() < 1e-12);
            assert_eq!(st.pre_trace()[1], 0.0);
            assert!((st.post_trace()[0] - y).abs() < 1e-12);
        }
        // Afferent 1 never fired: its trace stayed 0, so the post spikes left its weight unchanged.
        assert_eq!(w[1], 0.5);
        st.reset();
        assert!(st.pre_trace().iter().chain(st.post_trace()).all(|&v| v == 0.0));
    }

    #[test]
    fn rate_terms_apply_per_spike() {
        let cfg = Stdp { a_plus: 0.0, a_minus: 0.0, w_pre: 0.01, w_post: -0.03, ..Stdp::default() };
        let mut st = StdpState::new(cfg, 2, 2).unwrap();
        let mut w = [0.5; 4];
        st.step(&mut w, &[true, false], &[false, true]).unwrap();
        // Row-major [post][pre]: (0,0) pre only; (0,1) none; (1,0) both; (1,1) post only.
        let expect = [0.51, 0.5, 0.48, 0.47];
        for (a, b) in w.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
    }

    #[test]
    fn weights_stay_within_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for rule in [StdpRule::Additive, StdpRule::Multiplicative] {
            let cfg = Stdp {
                a_plus: 0.3,
                a_minus: 0.35,
                w_pre: 0.02,
                w_post: -0.01,
                w_min: -0.5,
                w_max: 0.8,
                rule,
                ..Stdp::default()
            };
            let (n_pre, n_post) = (7, 3);
            let mut st = StdpState::new(cfg, n_pre, n_post).unwrap();
            let mut w: Vec<f64> = (0..n_pre * n_post).map(|_| rng.gen_range(-0.5..0.8)).collect();
            for _ in 0..2000 {
                let pre: Vec<bool> = (0..n_pre).map(|_| rng.gen_bool(0.3)).collect();
                let post: Vec<bool> = (0..n_post).map(|_| rng.gen_bool(0.2)).collect();
                st.step(&mut w, &pre, &post).unwrap();
                assert!(w.iter().all(|&v| (-0.5..=0.8).contains(&v)), "{rule:?}: {w:?}");
            }
            // Such large amplitudes drive weights onto a bound, so the clipping is exercised.
            assert!(w.contains(&0.8) || w.contains(&-0.5), "{rule:?}: {w:?}");
        }
    }

    #[test]
    fn stdp_errors() {
        let ok = Stdp::default();
        assert!(ok.validate().is_ok());
        let e = Stdp { tau_plus: 0.0, ..ok }.validate().unwrap_err().to_string();
        assert!(e.contains("tau_plus"), "{e}");
        let e = Stdp { a_minus: -1.0, ..ok }.validate().unwrap_err().to_string();
        assert!(e.contains("a_minus") && e.contains("-1"), "{e}");
        assert!(Stdp { w_min: 1.0, w_max: 1.0, ..ok }.validate().unwrap_err().to_string().contains("w_max"));
        assert!(Stdp { w_post: f64::NAN, ..ok }.validate().is_err());
        assert!(Stdp { dt: f64::INFINITY, ..ok }.validate().is_err());
        assert!(StdpState::new(ok, 0, 1).unwrap_err().to_string().contains("n_pre"));
        let mut st = StdpState::new(ok, 3, 2).unwrap();
        let mut w = vec![0.5; 6];
        assert!(st.step(&mut w, &[true; 2], &[false; 2]).unwrap_err().to_string().contains("pre"));
        assert!(st.step(&mut w, &[true; 3], &[false; 3]).unwrap_err().to_string().contains("post"));
        assert!(st.step(&mut w[..5], &[true; 3], &[false; 2]).unwrap_err().to_string().contains("`w`"));
        w[4] = f64::NAN; // w[1][1]
        let e = st.step(&mut w, &[false, true, false], &[false; 2]).unwrap_err().to_string();
        assert!(e.contains("w[1][1]"), "{e}");
        assert!(w[..4].iter().all(|&v| v == 0.5), "nothing modified on error");
        // A step that does not touch the bad synapse is fine.
        assert!(st.step(&mut w, &[true, false, false], &[false; 2]).is_ok());
    }

    #[test]
    fn lif_dynamics() {
        let p =
            LifParams { tau_m: 10.0, v_rest: -1.0, threshold: 1.0, v_reset: -2.0, refractory: 3.0, dt: 1.0 };
        let mut u = LifUnit::new(p).unwrap();
        assert_eq!(u.v(), -1.0);
        assert!(!u.step(1.5).unwrap());
        assert!((u.v() - 0.5).abs() < 1e-15);
        // Free decay towards rest: V − V_rest ∝ e^{−k dt/τ}.
        for k in 1..=5 {
            assert!(!u.step(0.0).unwrap());
            assert!((u.v() - (-1.0 + 1.5 * (-(k as f64) / 10.0).exp())).abs() < 1e-12);
        }
        assert!(u.step(5.0).unwrap());
        assert_eq!(u.v(), -2.0);
        // Three refractory steps ignore even huge input.
        for _ in 0..3 {
            assert!(!u.step(100.0).unwrap());
            assert_eq!(u.v(), -2.0);
        }
        assert!(u.step(100.0).unwrap());
        assert!(u.step(f64::NAN).unwrap_err().to_string().contains("input"));
        u.reset();
        assert_eq!(u.v(), -1.0);
        assert!(LifUnit::new(LifParams { threshold: -3.0, ..p })
            .unwrap_err()
            .to_string()
            .contains("threshold"));
        assert!(LifUnit::new(LifParams { tau_m: 0.0, ..p }).unwrap_err().to_string().contains("tau_m"));
        assert!(LifUnit::new(LifParams { refractory: -1.0, ..p }).is_err());
    }

    #[test]
    fn pattern_experiment_learns_the_pattern() {
        let cfg = PatternExperiment::small();
        let r = run_pattern_experiment(&cfg, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        // Untrained: fires everywhere, hits only at chance.
        assert!(r.before.false_alarm_hz > 20.0, "{:?}", r.before);
        assert!(r.before.hit_rate - r.before.chance_hit_rate < 0.1, "{:?}", r.before);
        // Trained: fires in (almost) every presentation and (almost) never outside.
        assert!(r.after.presentations > 30);
        assert!(r.after.hit_rate > 0.8, "{:?}", r.after);
        assert!(r.after.false_alarm_hz < 1.0, "{:?}", r.after);
        assert!(r.after.hit_rate - r.after.chance_hit_rate > 0.7, "{:?}", r.after);
        assert!(r.late_training.hit_rate > 0.8, "{:?}", r.late_training);
        assert!(r.mean_w_pattern > 2.0 * r.mean_w_other);
        assert_eq!(r.weights.len(), cfg.stream.n_afferents);
    }

    #[test]
    fn pattern_experiment_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut cfg = PatternExperiment::small();
        cfg.stdp.dt = 0.5;
        assert!(run_pattern_experiment(&cfg, &mut rng).unwrap_err().to_string().contains("stdp.dt"));
        let cfg = PatternExperiment { w_init: 2.0, ..PatternExperiment::small() };
        assert!(run_pattern_experiment(&cfg, &mut rng).unwrap_err().to_string().contains("w_init"));
        let cfg = PatternExperiment { late_fraction: 0.0, ..PatternExperiment::small() };
        assert!(cfg.validate().unwrap_err().to_string().contains("late_fraction"));
    }

    fn tempotron(n: usize, seed: u64) -> Tempotron {
        Tempotron::new(n, 15.0, 3.75, 1.0, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn kernel_peak_is_one_at_analytic_time() {
        for (tau, tau_s) in [(15.0, 3.75), (20.0, 5.0), (10.0, 9.0)] {
            let tp = Tempotron::new(1, tau, tau_s, 1.0, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
            let t_peak: f64 = tau * tau_s * (tau / tau_s).ln() / (tau - tau_s);
            assert!((tp.t_peak() - t_peak).abs() < 1e-12);
            assert!((tp.kernel(t_peak) - 1.0).abs() < 1e-12);
            // It is the maximum: a fine grid never exceeds it.
            let grid_max = (1..20_000).map(|k| tp.kernel(k as f64 * 0.005)).fold(f64::NEG_INFINITY, f64::max);
            assert!(grid_max <= 1.0 + 1e-12 && grid_max > 1.0 - 1e-6);
            assert_eq!(tp.kernel(0.0), 0.0);
            assert_eq!(tp.kernel(-1.0), 0.0);
        }
    }

    fn random_trains(n: usize, rate_hz: f64, t: f64, rng: &mut impl Rng) -> Vec<Vec<f64>> {
        (0..n).map(|_| poisson_train(rate_hz, t, rng).unwrap()).collect()
    }

    #[test]
    fn potential_matches_brute_force_and_max_is_exact() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut tp = tempotron(30, 1);
        let w: Vec<f64> = (0..30).map(|_| rng.gen_range(-0.3..0.5)).collect();
        tp.set_weights(&w).unwrap();
        let tp = tp.with_v_rest(-0.2).unwrap();
        let trains = random_trains(30, 20.0, 300.0, &mut rng);
        let (tau, tau_s) = (15.0f64, 3.75f64);
        let v0 = tp.v0();
        for t in [0.0, 13.7, 120.0, 299.9, 400.0] {
            let mut brute = -0.2;
            for (i, tr) in trains.iter().enumerate() {
                for &ti in tr.iter().filter(|&&ti| ti < t) {
                    brute += w[i] * v0 * ((-(t - ti) / tau).exp() - (-(t - ti) / tau_s).exp());
                }
            }
            assert!((tp.potential(&trains, t).unwrap() - brute).abs() < 1e-12);
        }
        let (v_max, t_max) = tp.potential_max(&trains).unwrap();
        assert!((tp.potential(&trains, t_max).unwrap() - v_max).abs() < 1e-9);
        let grid_max =
            (0..=40_000).map(|k| tp.potential(&trains, k as f64 * 0.01).unwrap()).fold(f64::MIN, f64::max);
        assert!(v_max >= grid_max - 1e-12, "{v_max} < {grid_max}");
        assert!(v_max - grid_max < 1e-3, "{v_max} vs grid {grid_max}");
        // No spikes: V = V_rest everywhere.
        assert_eq!(tp.potential_max(&vec![vec![]; 30]).unwrap(), (-0.2, 0.0));
    }

    #[test]
    fn train_step_moves_v_max_in_the_right_direction() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let trains = random_trains(50, 10.0, 200.0, &mut rng);
        let mut tp = tempotron(50, 2);
        tp.set_weights(&[0.01; 50]).unwrap();
        let (v_before, _) = tp.potential_max(&trains).unwrap();
        assert!(v_before < tp.threshold());
        assert!(!tp.train_step(&trains, true, 0.05).unwrap());
        assert!(tp.potential_max(&trains).unwrap().0 > v_before);
        tp.set_weights(&[1.0; 50]).unwrap();
        let (v_before, _) = tp.potential_max(&trains).unwrap();
        assert!(v_before >= tp.threshold());
        assert!(!tp.train_step(&trains, false, 0.05).unwrap());
        assert!(tp.potential_max(&trains).unwrap().0 < v_before);
        // Correct classification: no change.
        let w = tp.weights().to_vec();
        assert!(tp.train_step(&trains, true, 0.05).unwrap());
        assert_eq!(tp.weights(), &w[..]);
    }

    #[test]
    fn tempotron_learns_small_problem() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (n, p) = (100, 30);
        let data: Vec<(Vec<Vec<f64>>, bool)> =
            (0..p).map(|k| (random_trains(n, 10.0, 200.0, &mut rng), k % 2 == 0)).collect();
        let mut tp = tempotron(n, 9);
        let mut epochs = 0;
        loop {
            epochs += 1;
            let mut correct = 0;
            for (trains, label) in &data {
                correct += usize::from(tp.train_step(trains, *label, 0.01).unwrap());
            }
            if correct == p || epochs == 200 {
                break;
            }
        }
        for (trains, label) in &data {
            assert_eq!(tp.classify(trains).unwrap(), *label, "after {epochs} epochs");
        }
    }

    #[test]
    fn tempotron_experiment_reaches_full_training_accuracy() {
        let cfg = TempotronExperiment {
            n_afferents: 200,
            n_patterns: 100,
            duration_ms: 300.0,
            ..Default::default()
        };
        let r = run_tempotron_experiment(&cfg, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        assert_eq!(r.final_train_accuracy, 1.0, "{:?}", r.train_accuracy);
        assert_eq!(*r.train_accuracy.last().unwrap(), 1.0);
        assert!(r.train_accuracy[0] < 0.8);
        assert!(r.test_accuracy > 0.85, "{}", r.test_accuracy);
    }

    #[test]
    fn tempotron_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(Tempotron::new(0, 15.0, 3.75, 1.0, &mut rng)
            .unwrap_err()
            .to_string()
            .contains("n_afferents"));
        assert!(Tempotron::new(3, 3.0, 3.75, 1.0, &mut rng).unwrap_err().to_string().contains("tau_s"));
        assert!(Tempotron::new(3, 15.0, 3.75, 0.0, &mut rng).unwrap_err().to_string().contains("threshold"));
        assert!(Tempotron::new(3, f64::NAN, 3.75, 1.0, &mut rng).is_err());
        let mut tp = tempotron(3, 0);
        let e = tp.potential_max(&[vec![1.0], vec![5.0, 2.0], vec![]]).unwrap_err().to_string();
        assert!(e.contains("trains[1]") && e.contains("5 then 2"), "{e}");
        let e = tp.classify(&[vec![1.0], vec![], vec![f64::NAN]]).unwrap_err().to_string();
        assert!(e.contains("trains[2]"), "{e}");
        assert!(tp
            .classify(&[vec![1.0], vec![f64::INFINITY], vec![]])
            .unwrap_err()
            .to_string()
            .contains("trains[1]"));
        assert!(tp.classify(&[vec![1.0]]).unwrap_err().to_string().contains("trains"));
        assert!(tp
            .train_step(&[vec![1.0], vec![], vec![]], true, 0.0)
            .unwrap_err()
            .to_string()
            .contains("lr"));
        assert!(tp.potential(&[vec![], vec![], vec![]], f64::NAN).is_err());
        assert!(tp.set_weights(&[1.0, 2.0]).is_err());
        assert!(tp.set_weights(&[1.0, f64::NAN, 0.0]).is_err());
        assert!(tp.clone().with_v_rest(2.0).unwrap_err().to_string().contains("v_rest"));
        let cfg = TempotronExperiment { n_patterns: 0, ..Default::default() };
        assert!(run_tempotron_experiment(&cfg, &mut rng).unwrap_err().to_string().contains("n_patterns"));
    }
}
