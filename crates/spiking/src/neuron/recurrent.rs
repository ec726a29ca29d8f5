//! Recurrent neurons: any feed-forward [`Neuron`] wrapped in [`Recurrent`], which feeds the
//! previous spikes back through a [`Feedback`]; [`RLeaky`] and [`RSynaptic`] are snnTorch's two.

use tch::nn::{self, Module};
use tch::Tensor;

use super::leaky::Leaky;
use super::options::{NeuronOptions, ParamInit};
use super::synaptic::Synaptic;
use super::traits::{check_state, Neuron};
use crate::{Error, Result};

/// Recurrent feedback of the previous spikes `S_{t−1}` into the input current.
#[derive(Debug)]
pub enum Feedback {
    /// All-to-all: a linear layer `W S + b` over the last axis (`N → N`).
    Linear(nn::Linear),
    /// One-to-one: `V ⊙ S` with `V` scalar or `[N]`.
    OneToOne(Tensor),
}

impl Feedback {
    /// All-to-all feedback of `n` neurons (PyTorch's default uniform initialisation).
    ///
    /// # Errors
    /// `n = 0`.
    pub fn linear(path: &nn::Path<'_>, n: i64) -> Result<Self> {
        if n < 1 {
            return Err(Error::invalid("n", n, "feedback needs at least one neuron"));
        }
        Ok(Feedback::Linear(nn::linear(path / "recurrent", n, n, Default::default())))
    }

    /// One-to-one feedback with gains `v` (learnable when `learn`).
    ///
    /// # Errors
    /// Non-finite gains.
    pub fn one_to_one(path: &nn::Path<'_>, v: impl Into<ParamInit>, learn: bool) -> Result<Self> {
        let v = v.into();
        v.check("V", false)?;
        Ok(Feedback::OneToOne(v.build(path, "V", learn)?))
    }

    /// `F(S)` for spikes `spk` `[B, N]`.
    pub fn apply(&self, spk: &Tensor) -> Tensor {
        match self {
            Feedback::Linear(l) => l.forward(spk),
            Feedback::OneToOne(v) => spk * v,
        }
    }
}

/// The recurrent form of a feed-forward neuron: each step adds `F(S_{t−1})` to the drive through
/// [`Neuron::step_recurrent`] (the parent decides where it enters). States: `spk`, then the
/// parent's.
#[derive(Debug)]
pub struct Recurrent<N> {
    inner: N,
    feedback: Feedback,
}

impl<N: Neuron> Recurrent<N> {
    /// `inner` with the previous spikes fed back through `feedback`.
    pub fn wrap(inner: N, feedback: Feedback) -> Self {
        Recurrent { inner, feedback }
    }
    /// The feed-forward neuron inside.
    pub fn inner(&self) -> &N {
        &self.inner
    }
}

/// Recurrent leaky neuron (snnTorch's RLeaky): `U_t = β̄U_{t−1} + X_t + F(S_{t−1}) − R_tθ`; zero
/// reset: `U_t = (1 − R_t)(β̄U_{t−1} + X_t + F(S_{t−1}))`. States: `spk`, `mem`.
pub type RLeaky = Recurrent<Leaky>;

/// Recurrent synaptic neuron (snnTorch's RSynaptic): [`Synaptic`] with `F(S_{t−1})` added to the
/// current. States: `spk`, `syn`, `mem`.
pub type RSynaptic = Recurrent<Synaptic>;

impl Recurrent<Leaky> {
    /// A recurrent leaky layer: [`Leaky::new`] wrapped with `feedback`.
    ///
    /// # Errors
    /// As [`Leaky::new`].
    pub fn new(
        path: &nn::Path<'_>,
        beta: impl Into<ParamInit>,
        feedback: Feedback,
        o: &NeuronOptions,
    ) -> Result<Self> {
        Ok(Recurrent::wrap(Leaky::new(path, beta, o)?, feedback))
    }
}

impl Recurrent<Synaptic> {
    /// A recurrent synaptic layer: [`Synaptic::new`] wrapped with `feedback`.
    ///
    /// # Errors
    /// As [`Synaptic::new`].
    pub fn new(
        path: &nn::Path<'_>,
        alpha: impl Into<ParamInit>,
        beta: impl Into<ParamInit>,
        feedback: Feedback,
        o: &NeuronOptions,
    ) -> Result<Self> {
        Ok(Recurrent::wrap(Synaptic::new(path, alpha, beta, o)?, feedback))
    }
}

impl<N: Neuron> Neuron for Recurrent<N> {
    fn state_names(&self) -> Vec<&'static str> {
        let mut names = vec!["spk"];
        names.extend(self.inner.state_names());
        names
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 1 + self.inner.state_names().len())?;
        let fb = self.feedback.apply(&state[0]);
        let spk = self.inner.step_recurrent(input, &fb, &mut state[1..])?;
        state[0] = spk.shallow_clone();
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.inner.validate()
    }
}
