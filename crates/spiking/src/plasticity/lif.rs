//! A single current-jump leaky integrate-and-fire unit in `f64` ([`LifUnit`], [`LifParams`]).

use crate::{Error, Result};

/// Parameters of a [`LifUnit`]; voltages in arbitrary units (the same as the synaptic weights), times
/// in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifParams {
    /// Membrane time constant `τ_m`, in ms.
    pub tau_m: f64,
    /// Resting potential `V_rest`.
    pub v_rest: f64,
    /// Firing threshold `θ` (`> v_reset`).
    pub threshold: f64,
    /// Reset potential after a spike.
    pub v_reset: f64,
    /// Absolute refractory period, in ms (≥ 0); rounded to whole steps.
    pub refractory: f64,
    /// Time step `dt`, in ms.
    pub dt: f64,
}

impl Default for LifParams {
    /// `τ_m = 10 ms`, `V_rest = V_reset = 0`, `θ = 1`, 2 ms refractory, `dt = 1 ms`.
    fn default() -> Self {
        LifParams { tau_m: 10.0, v_rest: 0.0, threshold: 1.0, v_reset: 0.0, refractory: 2.0, dt: 1.0 }
    }
}

/// Current-jump leaky integrate-and-fire neuron in discrete time.
///
/// Each step with input `I` (the summed weights of the input spikes of this step, in voltage units):
/// outside the refractory period `V ← V_rest + (V − V_rest)·e^{−dt/τ_m} + I`; if `V ≥ θ` the unit
/// spikes, `V ← V_reset`, and for the next `round(refractory/dt)` steps `V` is held at `V_reset` and the
/// input ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct LifUnit {
    params: LifParams,
    decay: f64,
    refractory_steps: usize,
    v: f64,
    refractory_left: usize,
}

impl LifUnit {
    /// A unit at rest.
    ///
    /// # Errors
    /// Non-positive `tau_m`/`dt`, non-finite voltages, `threshold ≤ v_reset`, negative or non-finite
    /// `refractory`.
    pub fn new(params: LifParams) -> Result<Self> {
        core_tensor::error::ensure_positive("tau_m", params.tau_m)?;
        core_tensor::error::ensure_positive("dt", params.dt)?;
        core_tensor::error::ensure_finite("v_rest", &[params.v_rest])?;
        core_tensor::error::ensure_finite("threshold", &[params.threshold])?;
        core_tensor::error::ensure_finite("v_reset", &[params.v_reset])?;
        if !(params.threshold > params.v_reset) {
            return Err(Error::invalid(
                "threshold",
                params.threshold,
                format!("must be > v_reset = {}", params.v_reset),
            ));
        }
        if !(params.refractory.is_finite() && params.refractory >= 0.0) {
            return Err(Error::invalid("refractory", params.refractory, "must be finite and ≥ 0"));
        }
        Ok(LifUnit {
            decay: (-params.dt / params.tau_m).exp(),
            refractory_steps: (params.refractory / params.dt).round() as usize,
            v: params.v_rest,
            refractory_left: 0,
            params,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &LifParams {
        &self.params
    }

    /// Membrane potential `V`.
    pub fn v(&self) -> f64 {
        self.v
    }

    /// Back to rest, not refractory.
    pub fn reset(&mut self) {
        self.v = self.params.v_rest;
        self.refractory_left = 0;
    }

    /// Advances one step with input `input`; returns whether the unit spiked.
    ///
    /// # Errors
    /// Non-finite `input`.
    pub fn step(&mut self, input: f64) -> Result<bool> {
        if !input.is_finite() {
            return Err(Error::invalid("input", input, "must be finite"));
        }
        if self.refractory_left > 0 {
            self.refractory_left -= 1;
            self.v = self.params.v_reset;
            return Ok(false);
        }
        self.v = self.params.v_rest + (self.v - self.params.v_rest) * self.decay + input;
        if self.v >= self.params.threshold {
            self.v = self.params.v_reset;
            self.refractory_left = self.refractory_steps;
            return Ok(true);
        }
        Ok(false)
    }
}
