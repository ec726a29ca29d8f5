//! Recurrent feedback of the previous spikes into the input current ([`Feedback`]).

use tch::nn::{self, Module};
use tch::Tensor;

use super::options::ParamInit;
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

    pub(super) fn apply(&self, spk: &Tensor) -> Tensor {
        match self {
            Feedback::Linear(l) => l.forward(spk),
            Feedback::OneToOne(v) => spk * v,
        }
    }
}
