//! # spiking
//!
//! Spiking neural networks on libtorch with snnTorch 1.0.0 semantics as the numerical reference:
//! neurons ([`neuron`]), surrogate gradients ([`surrogate`]), single- and multi-step networks
//! ([`net`]), spike encoders and readouts ([`encode`]), losses ([`loss`]), BPTT and truncated BPTT
//! ([`train`]), synaptic delays including learnable DCLS delays ([`delay`]), local learning rules —
//! STDP and the Tempotron — ([`plasticity`]), a maximum-likelihood probabilistic neuron ([`meta`]),
//! energy estimates ([`energy`]), data sets (Randman, N-MNIST, embedded Poisson patterns:
//! [`data`]; SHD/SSC HDF5 behind the `shd` feature) and the suite tasks ([`suite`]).

pub mod data;
pub mod delay;
pub mod encode;
pub mod energy;
pub mod loss;
pub mod meta;
pub mod net;
pub mod neuron;
pub mod plasticity;
#[cfg(feature = "shd")]
pub mod shd;
pub mod suite;
pub mod surrogate;
pub mod train;

pub use core_tensor::{Error, Result};
pub use net::{Layer, NetOutput, NetState, SpikingNet};
pub use neuron::{Neuron, NeuronOptions, ParamInit, Reset};
pub use surrogate::Surrogate;
