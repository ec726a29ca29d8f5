//! # spiking
//!
//! Spiking neural networks on libtorch with snnTorch 1.0.0 semantics as the numerical reference:
//! neurons ([`neuron`]), surrogate gradients ([`surrogate`]), spike encoders and readouts
//! ([`encode`]), and losses ([`loss`]).

pub mod delay;
pub mod encode;
pub mod energy;
pub mod loss;
pub mod meta;
pub mod net;
pub mod neuron;
#[cfg(feature = "shd")]
pub mod shd;
pub mod suite;
pub mod surrogate;
pub mod train;

pub use core_tensor::{Error, Result};
pub use net::{Layer, NetOutput, NetState, SpikingNet};
pub use neuron::{Neuron, NeuronOptions, ParamInit, Reset};
pub use surrogate::Surrogate;
