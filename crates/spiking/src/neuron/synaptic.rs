//! The second-order neuron with a synaptic current [`Synaptic`] (recurrent form: [`RSynaptic`],
//! the feedback added to the input current).
//!
//! [`RSynaptic`]: super::RSynaptic

use tch::nn;
use tch::Tensor;

use super::options::{NeuronOptions, ParamInit};
use super::soma::{Decay, Soma};
use super::traits::{check_state, Neuron};
use crate::Result;

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
    ///
    /// [`Leaky::new`]: crate::neuron::Leaky::new
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
    fn state_names(&self) -> Vec<&'static str> {
        vec!["syn", "mem"]
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
