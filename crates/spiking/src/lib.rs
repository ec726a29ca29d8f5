//! # spiking
//!
//! Spiking neural networks on libtorch with snnTorch 1.0.0 semantics as the numerical reference:
//! neurons ([`neuron`]), surrogate gradients ([`surrogate`]), spike encoders and readouts
//! ([`encode`]), and losses ([`loss`]).

pub mod encode;
pub mod loss;
pub mod net;
pub mod neuron;
pub mod surrogate;

pub use core_tensor::{Error, Result};
pub use net::{Layer, NetOutput, SpikingNet};
pub use neuron::{Neuron, NeuronOptions, ParamInit, Reset};
pub use surrogate::Surrogate;
