//! The Tempotron (Gütig & Sompolinsky 2006) and its random-pattern classification experiment.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::data::poisson_train;
use crate::{Error, Result};

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
