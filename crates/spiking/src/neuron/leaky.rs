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

    fn as_leaky(&self) -> Option<&Leaky> {
        Some(self)
    }
}

/// A [`Leaky`] neuron's constants for the fused pass ([`crate::fused`]).
#[derive(Debug, Clone)]
pub(crate) struct LifConstants {
    /// Decay β, one value or one per neuron.
    pub beta: Vec<f32>,
    /// Threshold θ, one value or one per neuron.
    pub threshold: Vec<f32>,
    /// Reset mechanism.
    pub reset: Reset,
    /// Surrogate derivative.
    pub surrogate: crate::Surrogate,
}

impl Leaky {
    /// The constants of the fused pass, or why this neuron cannot take it: learnable β or
    /// threshold, graded spikes, an immediate reset, or a surrogate known only on tensors.
    pub(crate) fn fused_constants(&self) -> Result<LifConstants> {
        let beta = self.beta.get();
        let th = &self.soma.threshold;
        if beta.requires_grad() || th.requires_grad() {
            return Err(crate::Error::invalid(
                "neuron",
                "Leaky with a learnable β or threshold",
                "the fused pass supports fixed β and threshold (use forward_multi_step)",
            ));
        }
        if self.soma.is_graded() || !self.soma.reset_delayed() {
            return Err(crate::Error::invalid(
                "neuron",
                "Leaky with graded spikes or an immediate reset",
                "the fused pass supports unit spikes with the delayed reset (use forward_multi_step)",
            ));
        }
        if self.soma.surrogate().derivative_at(0.0).is_none() {
            return Err(crate::Error::invalid(
                "surrogate",
                format!("{:?}", self.soma.surrogate()),
                "a custom surrogate has no point-wise derivative for the fused pass",
            ));
        }
        let host = |t: &Tensor| core_tensor::native::host_values::<f32>(&t.detach());
        Ok(LifConstants {
            beta: tch::no_grad(|| host(&beta))?,
            threshold: tch::no_grad(|| host(th))?,
            reset: self.soma.reset,
            surrogate: self.soma.surrogate().clone(),
        })
    }
}
