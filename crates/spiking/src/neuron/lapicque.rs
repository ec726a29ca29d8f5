//! Lapicque's RC neuron ([`Lapicque`]).

use tch::nn;
use tch::Tensor;

use super::options::NeuronOptions;
use super::soma::Soma;
use super::traits::{check_state, Neuron};
use crate::{Error, Result};

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
    fn state_names(&self) -> Vec<&'static str> {
        vec!["mem"]
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
