//! The first-order leaky integrate-and-fire neuron [`Leaky`] (recurrent form: [`RLeaky`]).
//!
//! [`RLeaky`]: super::RLeaky

use tch::nn;
use tch::Tensor;

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
    fn state_names(&self) -> Vec<&'static str> {
        vec!["mem"]
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

    /// snnTorch's RLeaky: `U_t = β̄U_{t−1} + X_t + F(S_{t−1}) − R_tθ`; its zero reset clears the
    /// whole update, `U_t = (1 − R_t)(β̄U_{t−1} + X_t + F(S_{t−1}))`, unlike [`Leaky`]'s.
    fn step_recurrent(&self, input: &Tensor, fb: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 1)?;
        let mem = &state[0];
        let r = self.soma.reset_signal(mem);
        let base = self.beta.get() * mem + input + fb;
        let new = self.soma.reset_new(base, &r);
        let spk = self.soma.fire(&new);
        state[0] = self.soma.immediate_reset(new, &spk, &r);
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.beta.validate()
    }
}
