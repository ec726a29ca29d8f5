//! The first-order leaky integrate-and-fire neuron [`Leaky`] and its recurrent form [`RLeaky`].

use tch::nn;
use tch::Tensor;

use super::feedback::Feedback;
use super::options::{NeuronOptions, ParamInit, Reset};
use super::soma::{Decay, Soma};
use super::traits::{check_state, Neuron};
use crate::Result;

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
