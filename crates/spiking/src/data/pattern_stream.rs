//! Poisson noise with an embedded repeating (frozen) spike pattern (Masquelier et al. 2008).

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::poisson::bernoulli_steps;
use crate::{Error, Result};

/// Poisson noise with an embedded repeating spike pattern, in discrete time (Masquelier et al. 2008).
///
/// All times are in ms; the stream has steps of `dt_ms`. Every afferent fires as a Bernoulli process
/// with probability `rate_hz·dt_ms/1000` per step. The stream is cut into consecutive windows of
/// `L = round(pattern_ms/dt_ms)` steps; a window becomes a pattern presentation with probability
/// `q = f/(1−f)` (`f = pattern_fraction`) unless the previous window was one, so that presentations never
/// abut and a fraction ≈ `f` of the time is pattern. During a presentation the `n_pattern_afferents`
/// pattern afferents replay the frozen pattern (their own noise is suppressed), each spike shifted by
/// Gaussian jitter of SD `jitter_ms` (rounded to a step; a shifted spike may leave the window, and is
/// dropped only if it leaves the stream); the other afferents keep firing
/// as noise, so firing rates carry no information about the pattern. On top, every afferent receives
/// extra Bernoulli noise of rate `noise_hz` everywhere (Masquelier's 10 Hz spontaneous activity).
#[derive(Debug, Clone, PartialEq)]
pub struct PatternStreamConfig {
    /// Number of afferents `N`, ≥ 1.
    pub n_afferents: usize,
    /// Number of afferents taking part in the pattern, in `[1, N]`.
    pub n_pattern_afferents: usize,
    /// Background (and pattern) firing rate `r`, in Hz.
    pub rate_hz: f64,
    /// Extra spontaneous noise rate added everywhere, in Hz (≥ 0).
    pub noise_hz: f64,
    /// Pattern duration `L`, in ms.
    pub pattern_ms: f64,
    /// Fraction of time occupied by pattern presentations, in `[0, 0.5]`.
    pub pattern_fraction: f64,
    /// Gaussian jitter SD of pattern spikes at each presentation, in ms (≥ 0).
    pub jitter_ms: f64,
    /// Time step, in ms.
    pub dt_ms: f64,
}

impl Default for PatternStreamConfig {
    /// `N = 1000`, 500 pattern afferents, 20 Hz, 0 Hz extra noise, 50 ms patterns, 25 % of the time,
    /// no jitter, 1 ms steps.
    fn default() -> Self {
        PatternStreamConfig {
            n_afferents: 1000,
            n_pattern_afferents: 500,
            rate_hz: 20.0,
            noise_hz: 0.0,
            pattern_ms: 50.0,
            pattern_fraction: 0.25,
            jitter_ms: 0.0,
            dt_ms: 1.0,
        }
    }
}

/// A frozen spike pattern: which afferents take part and when they fire within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenPattern {
    /// The pattern afferents, sorted ascending.
    pub afferents: Vec<u32>,
    /// Spikes `(step offset in [0, len_steps), afferent)`, sorted.
    pub spikes: Vec<(u32, u32)>,
    /// Window length `L`, in steps.
    pub len_steps: usize,
}

/// A generated input stream: sparse spikes per step plus the pattern presentation onsets.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternStream {
    /// Number of afferents.
    pub n_afferents: usize,
    /// Number of time steps.
    pub n_steps: usize,
    /// Time step, in ms.
    pub dt_ms: f64,
    /// Pattern window length, in steps.
    pub pattern_len: usize,
    /// Onset step of each presentation (sorted); presentation `k` covers `[s_k, s_k + pattern_len)`.
    pub pattern_starts: Vec<usize>,
    /// CSR offsets: the spikes of step `t` are `afferents[offsets[t]..offsets[t+1]]`.
    pub offsets: Vec<usize>,
    /// Spiking afferents, grouped by step, sorted and without duplicates inside a step.
    pub afferents: Vec<u32>,
}

impl PatternStream {
    /// Afferents that spike at `step` (empty beyond the end).
    pub fn spikes_at(&self, step: usize) -> &[u32] {
        if step >= self.n_steps {
            return &[];
        }
        &self.afferents[self.offsets[step]..self.offsets[step + 1]]
    }

    /// Per step, whether it lies inside a pattern presentation (length `n_steps`).
    pub fn pattern_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.n_steps];
        for &s in &self.pattern_starts {
            mask[s..(s + self.pattern_len).min(self.n_steps)].iter_mut().for_each(|m| *m = true);
        }
        mask
    }

    /// Total number of spikes.
    pub fn n_spikes(&self) -> usize {
        self.afferents.len()
    }
}

impl PatternStreamConfig {
    fn step_prob(&self, rate_hz: f64) -> f64 {
        rate_hz * self.dt_ms / 1000.0
    }

    /// Pattern length in steps.
    fn len_steps(&self) -> usize {
        (self.pattern_ms / self.dt_ms).round() as usize
    }

    /// Checks every field.
    ///
    /// # Errors
    /// `n_afferents == 0` or beyond `u32`, `n_pattern_afferents ∉ [1, N]`, non-positive `dt_ms`/`pattern_ms`,
    /// a pattern shorter than one step, negative or non-finite rates or jitter, per-step spike
    /// probability `(rate_hz + noise_hz)·dt_ms/1000 ≥ 1`, or `pattern_fraction ∉ [0, 0.5]`.
    pub fn validate(&self) -> Result<()> {
        if self.n_afferents == 0 || u32::try_from(self.n_afferents).is_err() {
            return Err(Error::invalid("n_afferents", self.n_afferents, "must be in [1, u32::MAX]"));
        }
        if self.n_pattern_afferents == 0 || self.n_pattern_afferents > self.n_afferents {
            return Err(Error::invalid(
                "n_pattern_afferents",
                self.n_pattern_afferents,
                format!("must be in [1, n_afferents = {}]", self.n_afferents),
            ));
        }
        core_tensor::error::ensure_positive("dt_ms", self.dt_ms)?;
        core_tensor::error::ensure_positive("pattern_ms", self.pattern_ms)?;
        if self.len_steps() == 0 {
            return Err(Error::invalid("pattern_ms", self.pattern_ms, "must last at least one step dt_ms"));
        }
        for (name, v) in
            [("rate_hz", self.rate_hz), ("noise_hz", self.noise_hz), ("jitter_ms", self.jitter_ms)]
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(name, v, "must be finite and ≥ 0"));
            }
        }
        let p = self.step_prob(self.rate_hz + self.noise_hz);
        if !(p < 1.0) {
            return Err(Error::invalid(
                "rate_hz",
                self.rate_hz,
                format!("per-step probability (rate_hz + noise_hz)·dt_ms/1000 = {p} must be < 1"),
            ));
        }
        if !(self.pattern_fraction >= 0.0 && self.pattern_fraction <= 0.5) {
            return Err(Error::invalid("pattern_fraction", self.pattern_fraction, "must be in [0, 0.5]"));
        }
        Ok(())
    }

    /// Draws a frozen pattern: a random subset of `n_pattern_afferents` afferents, each firing as a
    /// Bernoulli process of rate `rate_hz` over the `L`-step window.
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn frozen_pattern(&self, rng: &mut impl Rng) -> Result<FrozenPattern> {
        self.validate()?;
        let len = self.len_steps();
        let mut all: Vec<u32> = (0..self.n_afferents as u32).collect();
        all.shuffle(rng);
        let mut afferents = all[..self.n_pattern_afferents].to_vec();
        afferents.sort_unstable();
        let p = self.step_prob(self.rate_hz);
        let mut spikes = Vec::new();
        for &a in &afferents {
            bernoulli_steps(p, len, rng, |t| spikes.push((t as u32, a)));
        }
        spikes.sort_unstable();
        Ok(FrozenPattern { afferents, spikes, len_steps: len })
    }

    /// Generates a stream of `round(duration_ms/dt_ms)` steps with `pattern` embedded as described on
    /// [`PatternStreamConfig`].
    ///
    /// # Errors
    /// An invalid configuration, a negative or non-finite `duration_ms`, or a `pattern` that does not
    /// match this configuration (window length, afferent indices).
    pub fn stream(
        &self,
        pattern: &FrozenPattern,
        duration_ms: f64,
        rng: &mut impl Rng,
    ) -> Result<PatternStream> {
        self.validate()?;
        if !(duration_ms.is_finite() && duration_ms >= 0.0) {
            return Err(Error::invalid("duration_ms", duration_ms, "must be finite and ≥ 0"));
        }
        let len = self.len_steps();
        if pattern.len_steps != len {
            return Err(Error::invalid(
                "pattern.len_steps",
                pattern.len_steps,
                format!("must equal round(pattern_ms/dt_ms) = {len}"),
            ));
        }
        if let Some(&a) = pattern.afferents.iter().find(|&&a| a as usize >= self.n_afferents) {
            return Err(Error::invalid(
                "pattern.afferents",
                a,
                format!("must be < n_afferents {}", self.n_afferents),
            ));
        }
        if let Some(&(t, a)) =
            pattern.spikes.iter().find(|&&(t, a)| t as usize >= len || a as usize >= self.n_afferents)
        {
            return Err(Error::invalid(
                "pattern.spikes",
                format!("({t}, {a})"),
                format!("(offset, afferent) must lie in [0, {len}) × [0, {})", self.n_afferents),
            ));
        }
        let n_steps = (duration_ms / self.dt_ms).round() as usize;

        // Presentation onsets: windows of L steps, never two in a row.
        let f = self.pattern_fraction;
        let q = if f > 0.0 { f / (1.0 - f) } else { 0.0 };
        let mut pattern_starts = Vec::new();
        let mut prev = false;
        for w in 0..n_steps / len {
            let is_pattern = !prev && q > 0.0 && rng.gen::<f64>() < q;
            if is_pattern {
                pattern_starts.push(w * len);
            }
            prev = is_pattern;
        }
        let mut in_pattern = vec![false; n_steps];
        for &s in &pattern_starts {
            in_pattern[s..s + len].iter_mut().for_each(|m| *m = true);
        }
        let mut is_pattern_aff = vec![false; self.n_afferents];
        for &a in &pattern.afferents {
            is_pattern_aff[a as usize] = true;
        }

        let mut events: Vec<(u32, u32)> = Vec::new();
        let p_rate = self.step_prob(self.rate_hz);
        let p_noise = self.step_prob(self.noise_hz);
        for a in 0..self.n_afferents {
            let skip_pattern = is_pattern_aff[a];
            bernoulli_steps(p_rate, n_steps, rng, |t| {
                if !(skip_pattern && in_pattern[t]) {
                    events.push((t as u32, a as u32));
                }
            });
            bernoulli_steps(p_noise, n_steps, rng, |t| events.push((t as u32, a as u32)));
        }
        let jitter_steps = self.jitter_ms / self.dt_ms;
        let jitter = if jitter_steps > 0.0 {
            Some(
                Normal::new(0.0, jitter_steps)
                    .map_err(|e| Error::invalid("jitter_ms", self.jitter_ms, e.to_string()))?,
            )
        } else {
            None
        };
        for &s in &pattern_starts {
            for &(off, a) in &pattern.spikes {
                let t = match &jitter {
                    Some(d) => (s as f64 + f64::from(off) + d.sample(rng)).round(),
                    None => (s + off as usize) as f64,
                };
                if t >= 0.0 && t < n_steps as f64 {
                    events.push((t as u32, a));
                }
            }
        }

        // Counting sort by step, then sort + dedup inside each step.
        let mut offsets = vec![0usize; n_steps + 1];
        for &(t, _) in &events {
            offsets[t as usize + 1] += 1;
        }
        for t in 0..n_steps {
            offsets[t + 1] += offsets[t];
        }
        let mut fill = offsets.clone();
        let mut afferents = vec![0u32; events.len()];
        for &(t, a) in &events {
            afferents[fill[t as usize]] = a;
            fill[t as usize] += 1;
        }
        drop(events);
        let mut compact = Vec::with_capacity(afferents.len());
        let mut new_offsets = Vec::with_capacity(n_steps + 1);
        new_offsets.push(0);
        for t in 0..n_steps {
            let slot = &mut afferents[offsets[t]..offsets[t + 1]];
            slot.sort_unstable();
            let mut last = None;
            for &a in slot.iter() {
                if last != Some(a) {
                    compact.push(a);
                    last = Some(a);
                }
            }
            new_offsets.push(compact.len());
        }
        Ok(PatternStream {
            n_afferents: self.n_afferents,
            n_steps,
            dt_ms: self.dt_ms,
            pattern_len: len,
            pattern_starts,
            offsets: new_offsets,
            afferents: compact,
        })
    }
}
