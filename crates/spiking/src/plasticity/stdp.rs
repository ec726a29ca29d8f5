//! Pair-based STDP with exponential traces: the rule ([`Stdp`], [`StdpRule`]) and its state ([`StdpState`]).

use crate::{Error, Result};

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
