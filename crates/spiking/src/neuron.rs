//! Spiking neurons with snnTorch 1.0.0 semantics.
//!
//! Notation (one time step, all operations elementwise over `[B, ...]`): input current `X_t`,
//! membrane `U`, threshold `θ`, decay `β̄ = clamp(β, 0, 1)`, strict step `H(x) = 1[x > 0]`.
//! Every neuron computes the reset signal from the *previous* membrane, `R_t = H(U_{t−1} − θ)`
//! (detached), updates its state, and fires `S_t = g·H(U_t − θ)` with the surrogate gradient of
//! [`Surrogate`] and graded-spike factor `g` (1 by default).
//!
//! | neuron | update (reset by subtraction) |
//! |---|---|
//! | [`Leaky`] | `U_t = β̄U_{t−1} + X_t − R_tθ` |
//! | [`Synaptic`] | `I_t = ᾱI_{t−1} + X_t`, `U_t = β̄U_{t−1} + I_t − R_tθ` |
//! | [`Alpha`] | see its docs (excitatory/inhibitory currents) |
//! | [`Lapicque`] | `U_t = X_t Δt/C + (1 − Δt/(RC))U_{t−1} − R_tθ` |
//! | [`RLeaky`] | `U_t = β̄U_{t−1} + X_t + V(S_{t−1}) − R_tθ` |
//! | [`RSynaptic`] | `I_t = ᾱI_{t−1} + X_t + V(S_{t−1})`, `U_t = β̄U_{t−1} + I_t − R_tθ` |
//!
//! Reset to zero and no reset differ per neuron exactly as in snnTorch (documented on each type).
//! With `reset_delay = false` (Leaky, Synaptic and the recurrent neurons) the reset is applied in
//! the same step: `U_t ← U_t − (S_t/g − R_t)θ` (subtract) or `U_t ← U_t − (S_t/g − R_t)U_t` (zero),
//! and the returned membrane is the one after this reset. Alpha and Lapicque always delay.
//!
//! States are zero at the start of a sequence. The single-step API is [`Neuron::step`]; [`run`]
//! iterates a neuron over a time-first input `[T, B, ...]`.

use tch::nn::{self, Module};
use tch::Tensor;

use crate::surrogate::{heaviside, Surrogate};
use crate::{Error, Result};

/// What happens to the membrane after a spike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reset {
    /// Subtract the threshold (snnTorch's default).
    #[default]
    Subtract,
    /// Reset to zero.
    Zero,
    /// No reset (pure integration).
    None,
}

impl Reset {
    /// Parses `"subtract"`, `"zero"` or `"none"`.
    ///
    /// # Errors
    /// Any other name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "subtract" => Ok(Reset::Subtract),
            "zero" => Ok(Reset::Zero),
            "none" => Ok(Reset::None),
            other => Err(Error::invalid(
                "reset",
                format!("{other:?}"),
                "expected \"subtract\", \"zero\" or \"none\"",
            )),
        }
    }
}

/// Initial value of a neuron parameter: one value shared by all neurons or one per neuron
/// (broadcast against the trailing axis of the input).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamInit {
    /// A scalar.
    Scalar(f64),
    /// One value per neuron, shape `[N]`.
    PerNeuron(Vec<f64>),
}

impl From<f64> for ParamInit {
    fn from(v: f64) -> Self {
        ParamInit::Scalar(v)
    }
}

impl From<Vec<f64>> for ParamInit {
    fn from(v: Vec<f64>) -> Self {
        ParamInit::PerNeuron(v)
    }
}

impl ParamInit {
    fn values(&self) -> &[f64] {
        match self {
            ParamInit::Scalar(v) => std::slice::from_ref(v),
            ParamInit::PerNeuron(v) => v,
        }
    }

    fn check(&self, name: &str, unit_interval: bool) -> Result<()> {
        if self.values().is_empty() {
            return Err(Error::invalid(name, "[]", "needs at least one value"));
        }
        for &v in self.values() {
            if !v.is_finite() {
                return Err(Error::invalid(name, v, "must be finite"));
            }
            if unit_interval && !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(name, v, "must lie in [0, 1] when clamping is disabled"));
            }
        }
        Ok(())
    }

    /// A tensor on the path's device and dtype; a trainable variable named `name` when `learn`.
    fn build(&self, path: &nn::Path<'_>, name: &str, learn: bool) -> Result<Tensor> {
        let t = match self {
            ParamInit::Scalar(v) => Tensor::from(*v),
            ParamInit::PerNeuron(v) => Tensor::from_slice(v),
        }
        .to_kind(path.kind())
        .to_device(path.device());
        if learn {
            Ok(path.f_var_copy(name, &t)?)
        } else {
            Ok(t)
        }
    }
}

/// Options shared by all neurons (snnTorch defaults in [`NeuronOptions::default`]).
#[derive(Debug, Clone)]
pub struct NeuronOptions {
    /// Firing threshold θ (default 1).
    pub threshold: ParamInit,
    /// Learn θ.
    pub learn_threshold: bool,
    /// Reset mechanism (default subtract).
    pub reset: Reset,
    /// Delay the reset to the next step (default true).
    pub reset_delay: bool,
    /// Surrogate gradient (default atan, α = 2).
    pub surrogate: Surrogate,
    /// Graded-spike factor g: spikes take the value g instead of 1 (default 1).
    pub graded: f64,
    /// Learn g.
    pub learn_graded: bool,
    /// Learn the decay rates (β, and α where present).
    pub learn_decay: bool,
    /// Clamp decay rates to [0, 1] in the update (snnTorch's behaviour, default true). When false,
    /// rates outside [0, 1] are an error at construction and in [`Neuron::validate`].
    pub clamp: bool,
}

impl Default for NeuronOptions {
    fn default() -> Self {
        NeuronOptions {
            threshold: ParamInit::Scalar(1.0),
            learn_threshold: false,
            reset: Reset::Subtract,
            reset_delay: true,
            surrogate: Surrogate::default(),
            graded: 1.0,
            learn_graded: false,
            learn_decay: false,
            clamp: true,
        }
    }
}

impl NeuronOptions {
    /// Sets the reset mechanism.
    pub fn reset(mut self, r: Reset) -> Self {
        self.reset = r;
        self
    }
    /// Sets `reset_delay`.
    pub fn reset_delay(mut self, d: bool) -> Self {
        self.reset_delay = d;
        self
    }
    /// Sets the surrogate.
    pub fn surrogate(mut self, s: Surrogate) -> Self {
        self.surrogate = s;
        self
    }
    /// Sets the threshold.
    pub fn threshold(mut self, t: impl Into<ParamInit>) -> Self {
        self.threshold = t.into();
        self
    }
    /// Makes θ, the decays and (if `graded`) the graded factor learnable.
    pub fn learn(mut self, threshold: bool, decay: bool, graded: bool) -> Self {
        self.learn_threshold = threshold;
        self.learn_decay = decay;
        self.learn_graded = graded;
        self
    }
    /// Sets the graded-spike factor.
    pub fn graded(mut self, g: f64) -> Self {
        self.graded = g;
        self
    }
    /// Enables or disables clamping of the decays.
    pub fn clamp(mut self, c: bool) -> Self {
        self.clamp = c;
        self
    }
}

/// Threshold, firing and reset logic shared by all neurons.
#[derive(Debug)]
struct Soma {
    threshold: Tensor,
    graded: Option<Tensor>,
    reset: Reset,
    reset_delay: bool,
    surrogate: Surrogate,
}

impl Soma {
    fn new(path: &nn::Path<'_>, o: &NeuronOptions) -> Result<Self> {
        o.surrogate.validate()?;
        o.threshold.check("threshold", false)?;
        if !o.graded.is_finite() || o.graded == 0.0 {
            return Err(Error::invalid("graded", o.graded, "must be finite and non-zero"));
        }
        let graded = if o.learn_graded || o.graded != 1.0 {
            Some(ParamInit::Scalar(o.graded).build(path, "graded", o.learn_graded)?)
        } else {
            None
        };
        Ok(Soma {
            threshold: o.threshold.build(path, "threshold", o.learn_threshold)?,
            graded,
            reset: o.reset,
            reset_delay: o.reset_delay,
            surrogate: o.surrogate.clone(),
        })
    }

    /// `R = H(U − θ)`, detached.
    fn reset_signal(&self, mem: &Tensor) -> Tensor {
        heaviside(&(mem - &self.threshold))
    }

    /// The delayed reset applied to a freshly computed membrane `base` with reset signal `r`:
    /// `base − rθ` (subtract), `(1 − r)·base` (zero: the whole new value, as snnTorch's Synaptic,
    /// RLeaky, RSynaptic and Lapicque do), `base` (none).
    fn reset_new(&self, base: Tensor, r: &Tensor) -> Tensor {
        match self.reset {
            Reset::Subtract => base - r * &self.threshold,
            Reset::Zero => &base - r * &base,
            Reset::None => base,
        }
    }

    /// `S = g·H(U − θ)` with the surrogate gradient.
    fn fire(&self, mem: &Tensor) -> Tensor {
        let s = self.surrogate.spike(&(mem - &self.threshold));
        match &self.graded {
            Some(g) => s * g,
            None => s,
        }
    }

    /// Same-step reset for `reset_delay = false`.
    fn immediate_reset(&self, mem: Tensor, spk: &Tensor, r: &Tensor) -> Tensor {
        if self.reset_delay || self.reset == Reset::None {
            return mem;
        }
        let unit = match &self.graded {
            Some(g) => spk / g,
            None => spk.shallow_clone(),
        };
        let do_reset = unit - r;
        match self.reset {
            Reset::Subtract => &mem - do_reset * &self.threshold,
            Reset::Zero => &mem - do_reset * &mem,
            Reset::None => mem,
        }
    }
}

/// A decay rate (β or α), clamped or range-checked.
#[derive(Debug)]
struct Decay {
    name: &'static str,
    value: Tensor,
    clamp: bool,
}

impl Decay {
    fn new(path: &nn::Path<'_>, name: &'static str, init: &ParamInit, o: &NeuronOptions) -> Result<Self> {
        init.check(name, !o.clamp)?;
        Ok(Decay { name, value: init.build(path, name, o.learn_decay)?, clamp: o.clamp })
    }

    fn get(&self) -> Tensor {
        if self.clamp {
            self.value.clamp(0.0, 1.0)
        } else {
            self.value.shallow_clone()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.clamp {
            return Ok(());
        }
        let (lo, hi) =
            tch::no_grad(|| (self.value.min().double_value(&[]), self.value.max().double_value(&[])));
        for v in [lo, hi] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(
                    self.name,
                    v,
                    "left [0, 1] during training and clamping is disabled",
                ));
            }
        }
        Ok(())
    }
}

/// A spiking neuron layer: state, single-step update and spike output.
pub trait Neuron {
    /// Names of the state variables in the order of the state vector; always contains `"mem"`.
    fn state_names(&self) -> &'static [&'static str];

    /// Position of the membrane in the state vector.
    fn mem_index(&self) -> usize {
        self.state_names().iter().position(|n| *n == "mem").unwrap_or(0)
    }

    /// Zero state for an input current of shape `[B, ...]`.
    fn init_state(&self, input: &Tensor) -> Vec<Tensor> {
        self.state_names().iter().map(|_| input.zeros_like()).collect()
    }

    /// Advances one step with input current `input` (`[B, ...]`), updating `state` in place and
    /// returning the spikes `S_t` (same shape).
    ///
    /// # Errors
    /// `input` and state of different shapes or a state vector of the wrong length.
    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor>;

    /// Checks learnable parameters that must stay in range (unclamped decays).
    ///
    /// # Errors
    /// A decay rate outside [0, 1] with clamping disabled.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

fn check_state(input: &Tensor, state: &[Tensor], n: usize) -> Result<()> {
    if state.len() != n {
        return Err(Error::invalid("state", state.len(), format!("this neuron has {n} state tensors")));
    }
    let (a, b) = (input.size(), state[0].size());
    if a != b {
        return Err(Error::shape("input", b, a));
    }
    Ok(())
}

/// A recording of a neuron over a sequence: `spk` and every state, each `[T, B, ...]`.
#[derive(Debug)]
pub struct Recording {
    /// Spikes `[T, B, ...]`.
    pub spk: Tensor,
    /// State variables in [`Neuron::state_names`] order, each `[T, B, ...]` (value after step t).
    pub states: Vec<(&'static str, Tensor)>,
}

impl Recording {
    /// The recorded state called `name` (e.g. `"mem"`, `"syn"`).
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.states.iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }

    /// The membrane trace `[T, B, ...]`.
    pub fn mem(&self) -> &Tensor {
        self.get("mem").expect("every neuron records mem")
    }
}

fn check_sequence(x: &Tensor) -> Result<i64> {
    if x.dim() < 2 {
        return Err(Error::shape("x", "[T, B, ...]", x.size()));
    }
    let t = x.size()[0];
    if t < 1 {
        return Err(Error::invalid("x.size(0)", t, "need at least one time step"));
    }
    Ok(t)
}

/// Runs `neuron` over `x` `[T, B, ...]` from the zero state, recording spikes and all states.
///
/// # Errors
/// Inputs with fewer than two axes or no time steps; an invalid neuron parameter.
pub fn run(neuron: &dyn Neuron, x: &Tensor) -> Result<Recording> {
    let t = check_sequence(x)? as usize;
    neuron.validate()?;
    let mut state = neuron.init_state(&x.get(0));
    let names = neuron.state_names();
    let mut spk = Vec::with_capacity(t);
    let mut rec: Vec<Vec<Tensor>> = names.iter().map(|_| Vec::with_capacity(t)).collect();
    for x_t in x.unbind(0) {
        spk.push(neuron.step(&x_t, &mut state)?);
        for (r, s) in rec.iter_mut().zip(&state) {
            r.push(s.shallow_clone());
        }
    }
    Ok(Recording {
        spk: Tensor::stack(&spk, 0),
        states: names.iter().zip(rec).map(|(n, r)| (*n, Tensor::stack(&r, 0))).collect(),
    })
}

/// Runs `neuron` over `x` `[T, B, ...]` returning only the spikes `[T, B, ...]` and the final state.
///
/// # Errors
/// As [`run`].
pub fn run_spikes(neuron: &dyn Neuron, x: &Tensor) -> Result<(Tensor, Vec<Tensor>)> {
    let t = check_sequence(x)? as usize;
    neuron.validate()?;
    let mut state = neuron.init_state(&x.get(0));
    let mut spk = Vec::with_capacity(t);
    for x_t in x.unbind(0) {
        spk.push(neuron.step(&x_t, &mut state)?);
    }
    Ok((Tensor::stack(&spk, 0), state))
}

/// Leaky integrate-and-fire neuron (first-order).
///
/// Subtract: `U_t = β̄U_{t−1} + X_t − R_tθ`; zero: `U_t = β̄(1 − R_t)U_{t−1} + X_t`;
/// none: `U_t = β̄U_{t−1} + X_t`. State: `mem`.
#[derive(Debug)]
pub struct Leaky {
    beta: Decay,
    soma: Soma,
}

impl Leaky {
    /// A Leaky layer with decay `beta` (scalar or `[N]`); learnable parameters live under `path`.
    ///
    /// # Errors
    /// Non-finite parameters, β ∉ [0, 1] without clamping, invalid surrogate.
    pub fn new(path: &nn::Path<'_>, beta: impl Into<ParamInit>, o: &NeuronOptions) -> Result<Self> {
        Ok(Leaky { beta: Decay::new(path, "beta", &beta.into(), o)?, soma: Soma::new(path, o)? })
    }
}

impl Neuron for Leaky {
    fn state_names(&self) -> &'static [&'static str] {
        &["mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 1)?;
        let mem = &state[0];
        let r = self.soma.reset_signal(mem);
        let b = self.beta.get();
        let new = match self.soma.reset {
            Reset::Subtract => b * mem + input - &r * &self.soma.threshold,
            Reset::Zero => b * ((1.0 - &r) * mem) + input,
            Reset::None => b * mem + input,
        };
        let spk = self.soma.fire(&new);
        state[0] = self.soma.immediate_reset(new, &spk, &r);
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.beta.validate()
    }
}

/// Recurrent feedback of the previous spikes `S_{t−1}` into the input current.
#[derive(Debug)]
pub enum Feedback {
    /// All-to-all: a linear layer `W S + b` over the last axis (`N → N`).
    Linear(nn::Linear),
    /// One-to-one: `V ⊙ S` with `V` scalar or `[N]`.
    OneToOne(Tensor),
}

impl Feedback {
    /// All-to-all feedback of `n` neurons (PyTorch's default uniform initialisation).
    ///
    /// # Errors
    /// `n = 0`.
    pub fn linear(path: &nn::Path<'_>, n: i64) -> Result<Self> {
        if n < 1 {
            return Err(Error::invalid("n", n, "feedback needs at least one neuron"));
        }
        Ok(Feedback::Linear(nn::linear(path / "recurrent", n, n, Default::default())))
    }

    /// One-to-one feedback with gains `v` (learnable when `learn`).
    ///
    /// # Errors
    /// Non-finite gains.
    pub fn one_to_one(path: &nn::Path<'_>, v: impl Into<ParamInit>, learn: bool) -> Result<Self> {
        let v = v.into();
        v.check("V", false)?;
        Ok(Feedback::OneToOne(v.build(path, "V", learn)?))
    }

    fn apply(&self, spk: &Tensor) -> Tensor {
        match self {
            Feedback::Linear(l) => l.forward(spk),
            Feedback::OneToOne(v) => spk * v,
        }
    }
}

/// Recurrent leaky neuron: `U_t = β̄U_{t−1} + X_t + F(S_{t−1}) − R_tθ` where `F` is a
/// [`Feedback`]; zero reset: `U_t = (1 − R_t)(β̄U_{t−1} + X_t + F(S_{t−1}))`. States: `spk`, `mem`.
#[derive(Debug)]
pub struct RLeaky {
    beta: Decay,
    feedback: Feedback,
    soma: Soma,
}

impl RLeaky {
    /// A recurrent leaky layer.
    ///
    /// # Errors
    /// As [`Leaky::new`].
    pub fn new(
        path: &nn::Path<'_>,
        beta: impl Into<ParamInit>,
        feedback: Feedback,
        o: &NeuronOptions,
    ) -> Result<Self> {
        Ok(RLeaky { beta: Decay::new(path, "beta", &beta.into(), o)?, feedback, soma: Soma::new(path, o)? })
    }
}

impl Neuron for RLeaky {
    fn state_names(&self) -> &'static [&'static str] {
        &["spk", "mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 2)?;
        let (spk_prev, mem) = (&state[0], &state[1]);
        let r = self.soma.reset_signal(mem);
        let base = self.beta.get() * mem + input + self.feedback.apply(spk_prev);
        let new = self.soma.reset_new(base, &r);
        let spk = self.soma.fire(&new);
        state[1] = self.soma.immediate_reset(new, &spk, &r);
        state[0] = spk.shallow_clone();
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.beta.validate()
    }
}

/// Second-order neuron with a synaptic current:
/// `I_t = ᾱI_{t−1} + X_t (+ F(S_{t−1}) when recurrent)`, `U_t = β̄U_{t−1} + I_t − R_tθ`;
/// zero reset: `U_t = (1 − R_t)(β̄U_{t−1} + I_t)` (the current is not reset). States: `syn`, `mem`.
#[derive(Debug)]
pub struct Synaptic {
    alpha: Decay,
    beta: Decay,
    soma: Soma,
}

impl Synaptic {
    /// A synaptic layer with current decay `alpha` and membrane decay `beta`.
    ///
    /// # Errors
    /// As [`Leaky::new`].
    pub fn new(
        path: &nn::Path<'_>,
        alpha: impl Into<ParamInit>,
        beta: impl Into<ParamInit>,
        o: &NeuronOptions,
    ) -> Result<Self> {
        Ok(Synaptic {
            alpha: Decay::new(path, "alpha", &alpha.into(), o)?,
            beta: Decay::new(path, "beta", &beta.into(), o)?,
            soma: Soma::new(path, o)?,
        })
    }
}

fn synaptic_step(
    alpha: &Decay,
    beta: &Decay,
    soma: &Soma,
    drive: Tensor,
    syn: &Tensor,
    mem: &Tensor,
) -> (Tensor, Tensor, Tensor) {
    let r = soma.reset_signal(mem);
    let syn_new = alpha.get() * syn + drive;
    let base = beta.get() * mem + &syn_new;
    let new = soma.reset_new(base, &r);
    let spk = soma.fire(&new);
    let mem_new = soma.immediate_reset(new, &spk, &r);
    (spk, syn_new, mem_new)
}

impl Neuron for Synaptic {
    fn state_names(&self) -> &'static [&'static str] {
        &["syn", "mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 2)?;
        let (spk, syn, mem) =
            synaptic_step(&self.alpha, &self.beta, &self.soma, input.shallow_clone(), &state[0], &state[1]);
        state[0] = syn;
        state[1] = mem;
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.alpha.validate()?;
        self.beta.validate()
    }
}

/// Recurrent synaptic neuron: [`Synaptic`] with `F(S_{t−1})` added to the current.
/// States: `spk`, `syn`, `mem`.
#[derive(Debug)]
pub struct RSynaptic {
    alpha: Decay,
    beta: Decay,
    feedback: Feedback,
    soma: Soma,
}

impl RSynaptic {
    /// A recurrent synaptic layer.
    ///
    /// # Errors
    /// As [`Leaky::new`].
    pub fn new(
        path: &nn::Path<'_>,
        alpha: impl Into<ParamInit>,
        beta: impl Into<ParamInit>,
        feedback: Feedback,
        o: &NeuronOptions,
    ) -> Result<Self> {
        Ok(RSynaptic {
            alpha: Decay::new(path, "alpha", &alpha.into(), o)?,
            beta: Decay::new(path, "beta", &beta.into(), o)?,
            feedback,
            soma: Soma::new(path, o)?,
        })
    }
}

impl Neuron for RSynaptic {
    fn state_names(&self) -> &'static [&'static str] {
        &["spk", "syn", "mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 3)?;
        let drive = input + self.feedback.apply(&state[0]);
        let (spk, syn, mem) = synaptic_step(&self.alpha, &self.beta, &self.soma, drive, &state[1], &state[2]);
        state[0] = spk.shallow_clone();
        state[1] = syn;
        state[2] = mem;
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.alpha.validate()?;
        self.beta.validate()
    }
}

/// Lapicque's RC neuron: `U_t = X_t Δt/C + (1 − Δt/(RC))U_{t−1}` (forward Euler of
/// `τ dU/dt = −U + RX` with `τ = RC`), minus `R_tθ` (subtract) or times `(1 − R_t)` (zero).
/// The reset is always delayed. State: `mem`.
#[derive(Debug)]
pub struct Lapicque {
    gain: f64,
    decay: f64,
    soma: Soma,
}

impl Lapicque {
    /// A Lapicque layer from resistance `r`, capacitance `c` and step `dt` (any consistent units).
    ///
    /// # Errors
    /// Non-positive `r`, `c`, `dt`; `reset_delay = false` (not defined for this neuron).
    pub fn new(path: &nn::Path<'_>, r: f64, c: f64, dt: f64, o: &NeuronOptions) -> Result<Self> {
        core_tensor::error::ensure_positive("r", r)?;
        core_tensor::error::ensure_positive("c", c)?;
        core_tensor::error::ensure_positive("dt", dt)?;
        if !o.reset_delay {
            return Err(Error::invalid("reset_delay", false, "Lapicque always delays its reset"));
        }
        Ok(Lapicque { gain: r * (1.0 / (r * c)) * dt, decay: 1.0 - dt / (r * c), soma: Soma::new(path, o)? })
    }

    /// snnTorch's construction from β: `R = 1`, `C = Δt / ln(1/β)`, so the decay per step is
    /// `1 − ln(1/β)` (equal to β only to first order).
    ///
    /// # Errors
    /// β ∉ (0, 1), non-positive `dt`.
    pub fn from_beta(path: &nn::Path<'_>, beta: f64, dt: f64, o: &NeuronOptions) -> Result<Self> {
        if !(beta > 0.0 && beta < 1.0) {
            return Err(Error::invalid("beta", beta, "must lie in (0, 1)"));
        }
        Self::new(path, 1.0, dt / (1.0 / beta).ln(), dt, o)
    }

    /// The per-step decay `1 − Δt/(RC)`.
    pub fn decay(&self) -> f64 {
        self.decay
    }
}

impl Neuron for Lapicque {
    fn state_names(&self) -> &'static [&'static str] {
        &["mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 1)?;
        let mem = &state[0];
        let r = self.soma.reset_signal(mem);
        let base = input * self.gain + mem * self.decay;
        let new = self.soma.reset_new(base, &r);
        let spk = self.soma.fire(&new);
        state[0] = new;
        Ok(spk)
    }
}

/// Alpha neuron (snnTorch form) with excitatory current `E`, inhibitory current `N` and
/// `τ_α = ln ᾱ / (ln β̄ − ln ᾱ) + 1`:
/// `E_t = ᾱE_{t−1} + X_t`, `N_t = β̄N_{t−1} − X_t`, `U_t = τ_α(E_t + N_t)`; with subtraction
/// `E_t −= R_tθ`, `N_t ← (1 − R_t)N_t`, `U_t += R_t N_{t−1}` (applied after `U_t`), with zero
/// reset all three are multiplied by `(1 − R_t)`. Requires `α > β` and `β < 1`; the reset is
/// always delayed. States: `syn_exc`, `syn_inh`, `mem`.
#[derive(Debug)]
pub struct Alpha {
    alpha: Decay,
    beta: Decay,
    soma: Soma,
}

impl Alpha {
    /// An alpha layer.
    ///
    /// # Errors
    /// `α ≤ β` or `β = 1` after clamping; `reset_delay = false`; as [`Leaky::new`].
    pub fn new(
        path: &nn::Path<'_>,
        alpha: impl Into<ParamInit>,
        beta: impl Into<ParamInit>,
        o: &NeuronOptions,
    ) -> Result<Self> {
        let (alpha, beta) = (alpha.into(), beta.into());
        if !o.reset_delay {
            return Err(Error::invalid("reset_delay", false, "Alpha always delays its reset"));
        }
        let a = alpha.values().to_vec();
        let b = beta.values().to_vec();
        let n = a.len().max(b.len());
        for i in 0..n {
            let ai = a[i.min(a.len() - 1)].clamp(0.0, 1.0);
            let bi = b[i.min(b.len() - 1)].clamp(0.0, 1.0);
            if ai <= bi || bi >= 1.0 {
                return Err(Error::invalid(
                    "alpha",
                    ai,
                    format!("Alpha needs alpha > beta = {bi} and beta < 1"),
                ));
            }
        }
        Ok(Alpha {
            alpha: Decay::new(path, "alpha", &alpha, o)?,
            beta: Decay::new(path, "beta", &beta, o)?,
            soma: Soma::new(path, o)?,
        })
    }
}

impl Neuron for Alpha {
    fn state_names(&self) -> &'static [&'static str] {
        &["syn_exc", "syn_inh", "mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 3)?;
        let (exc, inh, mem) = (&state[0], &state[1], &state[2]);
        let r = self.soma.reset_signal(mem);
        let (a, b) = (self.alpha.get(), self.beta.get());
        let tau = a.log() / (b.log() - a.log()) + 1.0;
        let e = &a * exc + input;
        let n = &b * inh - input;
        let u = &tau * (&e + &n);
        let (e, n, u) = match self.soma.reset {
            Reset::Subtract => (e - &r * &self.soma.threshold, &n - &n * &r, u + &r * inh),
            Reset::Zero => (&e - &e * &r, &n - &n * &r, &u - &u * &r),
            Reset::None => (e, n, u),
        };
        let spk = self.soma.fire(&u);
        state[0] = e;
        state[1] = n;
        state[2] = u;
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.alpha.validate()?;
        self.beta.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn parameter_errors_are_clear() {
        let vs = nn::VarStore::new(Device::Cpu);
        let o = NeuronOptions::default().clamp(false);
        let e = Leaky::new(&vs.root(), 1.2, &o).unwrap_err().to_string();
        assert!(e.contains("beta") && e.contains("1.2"), "{e}");
        // Clamped (snnTorch's default): β = 1.2 acts as 1.
        assert!(Leaky::new(&vs.root(), 1.2, &NeuronOptions::default()).is_ok());
        assert!(Leaky::new(&vs.root(), f64::NAN, &NeuronOptions::default()).is_err());
        assert!(Alpha::new(&vs.root(), 0.5, 0.8, &NeuronOptions::default()).is_err());
        assert!(Lapicque::new(&vs.root(), -1.0, 1.0, 1.0, &NeuronOptions::default()).is_err());
        assert!(Reset::from_name("soft").is_err());
    }

    #[test]
    fn learned_beta_leaving_range_is_an_error() {
        let vs = nn::VarStore::new(Device::Cpu);
        let o = NeuronOptions::default().clamp(false).learn(false, true, false);
        let n = Leaky::new(&vs.root(), 0.9, &o).unwrap();
        let _ = tch::no_grad(|| vs.variables()["beta"].shallow_clone().fill_(1.5));
        let x = Tensor::ones([3, 2, 2], (Kind::Float, Device::Cpu));
        let e = run(&n, &x).unwrap_err().to_string();
        assert!(e.contains("beta") && e.contains("1.5"), "{e}");
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let vs = nn::VarStore::new(Device::Cpu);
        let n = Leaky::new(&vs.root(), 0.9, &NeuronOptions::default()).unwrap();
        let mut st = n.init_state(&Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)));
        let e = n.step(&Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)), &mut st).unwrap_err().to_string();
        assert!(e.contains("[2, 3]") && e.contains("[2, 4]"), "{e}");
        assert!(run(&n, &Tensor::zeros([4], (Kind::Float, Device::Cpu))).is_err());
    }

    #[test]
    fn lapicque_from_beta_matches_snntorch_parameterisation() {
        let vs = nn::VarStore::new(Device::Cpu);
        let n = Lapicque::from_beta(&vs.root(), 0.9, 1.0, &NeuronOptions::default()).unwrap();
        assert!((n.decay() - (1.0 - (1.0f64 / 0.9).ln())).abs() < 1e-15);
    }
}
