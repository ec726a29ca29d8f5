//! Running a neuron over a time-first sequence: [`run`], [`run_spikes`] and the [`Recording`].

use tch::Tensor;

use super::traits::Neuron;
use crate::{Error, Result};

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
