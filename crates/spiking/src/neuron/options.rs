//! Neuron configuration: the reset mechanism, parameter initial values and [`NeuronOptions`].

use tch::nn;
use tch::Tensor;

use crate::surrogate::Surrogate;
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
    pub(super) fn values(&self) -> &[f64] {
        match self {
            ParamInit::Scalar(v) => std::slice::from_ref(v),
            ParamInit::PerNeuron(v) => v,
        }
    }

    pub(super) fn check(&self, name: &str, unit_interval: bool) -> Result<()> {
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
    pub(super) fn build(&self, path: &nn::Path<'_>, name: &str, learn: bool) -> Result<Tensor> {
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
    ///
    /// [`Neuron::validate`]: crate::neuron::Neuron::validate
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
