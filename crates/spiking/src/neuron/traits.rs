//! The [`Neuron`] trait: state layout, single-step update and spike output.

use tch::Tensor;

use crate::{Error, Result};

/// A spiking neuron layer: state, single-step update and spike output.
pub trait Neuron {
    /// Names of the state variables in the order of the state vector; always contains `"mem"`.
    fn state_names(&self) -> Vec<&'static str>;

    /// Position of the membrane in the state vector.
    fn mem_index(&self) -> usize {
        self.state_names().iter().position(|n| *n == "mem").unwrap_or(0)
    }

    /// This neuron as a [`Leaky`](super::Leaky), for the fused training pass
    /// ([`crate::fused`]); `None` for every other model.
    fn as_leaky(&self) -> Option<&super::Leaky> {
        None
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

    /// One step with the recurrent drive `fb = F(S_{t−1})` (see [`Recurrent`]): by default `fb` is
    /// added to the input current. A neuron whose recurrent form enters its update differently
    /// overrides this.
    ///
    /// [`Recurrent`]: super::Recurrent
    ///
    /// # Errors
    /// As [`Neuron::step`].
    fn step_recurrent(&self, input: &Tensor, fb: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        self.step(&(input + fb), state)
    }

    /// Checks learnable parameters that must stay in range (unclamped decays).
    ///
    /// # Errors
    /// A decay rate outside [0, 1] with clamping disabled.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

pub(super) fn check_state(input: &Tensor, state: &[Tensor], n: usize) -> Result<()> {
    if state.len() != n {
        return Err(Error::invalid("state", state.len(), format!("this neuron has {n} state tensors")));
    }
    let (a, b) = (input.size(), state[0].size());
    if a != b {
        return Err(Error::shape("input", b, a));
    }
    Ok(())
}
