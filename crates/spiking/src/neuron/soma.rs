//! Internals shared by all neurons: threshold, firing and reset ([`Soma`]) and decay rates ([`Decay`]).

use tch::nn;
use tch::Tensor;

use super::options::{NeuronOptions, ParamInit, Reset};
use crate::surrogate::{heaviside, Surrogate};
use crate::{Error, Result};

/// Threshold, firing and reset logic shared by all neurons.
#[derive(Debug)]
pub(super) struct Soma {
    pub(super) threshold: Tensor,
    graded: Option<Tensor>,
    pub(super) reset: Reset,
    reset_delay: bool,
    surrogate: Surrogate,
}

impl Soma {
    pub(super) fn new(path: &nn::Path<'_>, o: &NeuronOptions) -> Result<Self> {
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
    pub(super) fn is_graded(&self) -> bool {
        self.graded.is_some()
    }

    pub(super) fn reset_delayed(&self) -> bool {
        self.reset_delay || self.reset == Reset::None
    }

    pub(super) fn surrogate(&self) -> &Surrogate {
        &self.surrogate
    }

    pub(super) fn reset_signal(&self, mem: &Tensor) -> Tensor {
        heaviside(&(mem - &self.threshold))
    }

    /// The delayed reset applied to a freshly computed membrane `base` with reset signal `r`:
    /// `base − rθ` (subtract), `(1 − r)·base` (zero: the whole new value, as snnTorch's Synaptic,
    /// RLeaky, RSynaptic and Lapicque do), `base` (none).
    pub(super) fn reset_new(&self, base: Tensor, r: &Tensor) -> Tensor {
        match self.reset {
            Reset::Subtract => base - r * &self.threshold,
            Reset::Zero => &base - r * &base,
            Reset::None => base,
        }
    }

    /// `S = g·H(U − θ)` with the surrogate gradient.
    pub(super) fn fire(&self, mem: &Tensor) -> Tensor {
        let s = self.surrogate.spike(&(mem - &self.threshold));
        match &self.graded {
            Some(g) => s * g,
            None => s,
        }
    }

    /// Same-step reset for `reset_delay = false`.
    pub(super) fn immediate_reset(&self, mem: Tensor, spk: &Tensor, r: &Tensor) -> Tensor {
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
pub(super) struct Decay {
    name: &'static str,
    value: Tensor,
    clamp: bool,
}

impl Decay {
    pub(super) fn new(
        path: &nn::Path<'_>,
        name: &'static str,
        init: &ParamInit,
        o: &NeuronOptions,
    ) -> Result<Self> {
        init.check(name, !o.clamp)?;
        Ok(Decay { name, value: init.build(path, name, o.learn_decay)?, clamp: o.clamp })
    }

    pub(super) fn get(&self) -> Tensor {
        if self.clamp {
            self.value.clamp(0.0, 1.0)
        } else {
            self.value.shallow_clone()
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
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
