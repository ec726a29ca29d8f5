//! # spiking
//!
//! Spiking neural networks on libtorch with snnTorch 1.0.0 semantics as the numerical reference:
//! neurons ([`neuron`]), surrogate gradients ([`surrogate`]), single- and multi-step networks
//! ([`net`]), spike encoders and readouts ([`encode`]), losses ([`loss`]), BPTT and truncated BPTT
//! ([`train`]), synaptic delays including learnable DCLS delays ([`delay`]), local learning rules —
//! STDP and the Tempotron — ([`plasticity`]), a maximum-likelihood probabilistic neuron ([`meta`]),
//! energy estimates ([`energy`]), data sets (Randman, N-MNIST, embedded Poisson patterns:
//! [`data`]; SHD/SSC HDF5 behind the `shd` feature) and the suite tasks ([`suite`]).
//!
//! ```
//! use spiking::prelude::*;
//! use tch::{nn, Kind, Tensor};
//!
//! # fn main() -> spiking::Result<()> {
//! let vs = nn::VarStore::new(tch::Device::Cpu);
//! let root = vs.root();
//! let o = NeuronOptions::default().surrogate(Surrogate::FastSigmoid { slope: 25.0 });
//! let net = SpikingNet::new()
//!     .push(Layer::Linear(nn::linear(&root / "fc", 4, 3, Default::default())))
//!     .neuron(Leaky::new(&(&root / "lif"), 0.9, &o)?);
//! // 10 time steps of rate-coded input for a batch of 2: [T, batch, features]
//! let x = encode::rate(&Tensor::full([2, 4], 0.5, (Kind::Float, tch::Device::Cpu)), 10, 1.0, 0.0)?;
//! let out = net.forward_multi_step(&x, true)?;
//! assert_eq!(out.spk.size(), vec![10, 2, 3]);
//! # Ok(())
//! # }
//! ```

pub mod data;
pub mod delay;
pub mod encode;
pub mod energy;
pub mod event;
pub mod fused;
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

/// The most used items.
pub mod prelude {
    pub use crate::encode;
    pub use crate::neuron::{Leaky, Neuron, NeuronOptions, Reset, Synaptic};
    pub use crate::train::{accuracy, fit, SequenceBatches, SpikeLoss};
    pub use crate::{Error, Layer, NetOutput, Result, SpikingNet, Surrogate};
}
