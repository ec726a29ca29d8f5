//! Spiking datasets and spike-train generators in plain Rust (no tensors).
//!
//! * [`Randman`]: random smooth manifold classification task (Zenke & Vogels 2021, *Neural Computation*
//!   33(4), "The remarkable robustness of surrogate gradient learning for instilling complex function in
//!   spiking neural networks"); every input neuron fires exactly once per sample, so the class is coded in
//!   spike timing only.
//! * N-MNIST / ATIS event files (Orchard et al. 2015, *Front. Neurosci.* 9:437): [`read_nmnist`],
//!   [`write_nmnist`], [`read_nmnist_file`], [`decode_events`], [`encode_events`], and [`bin_events`] to
//!   turn events into frame counts.
//! * Poisson spike trains ([`poisson_train`]) and a stream of Poisson noise with an embedded repeating
//!   ("frozen") spike pattern ([`PatternStreamConfig`], Masquelier, Guyonneau & Thorpe 2008, *PLoS ONE*
//!   3(1):e1377), used by the plasticity experiments in [`crate::plasticity`].
//!
//! Dense outputs are plain row-major `Vec<f32>` whose layout is stated on each function; the caller turns
//! them into tensors. All randomness comes from a caller-supplied [`rand::Rng`], so results are
//! reproducible from a seed.
//!
//! Submodules:
//! - [`dataset`]: the labelled spike-raster container [`SpikeDataset`].
//! - [`randman`](mod@randman): the Randman random-manifold task.
//! - [`nmnist`]: N-MNIST / ATIS event files and event binning.
//! - [`poisson`]: Poisson spike trains (and the discrete-time Bernoulli steps behind the streams).
//! - [`pattern_stream`]: Poisson noise with an embedded frozen spike pattern.

mod dataset;
mod nmnist;
mod pattern_stream;
mod poisson;
mod randman;

#[cfg(test)]
mod tests;

pub use dataset::SpikeDataset;
pub use nmnist::{
    bin_events, decode_events, encode_events, read_nmnist, read_nmnist_file, write_nmnist, DvsEvent,
    MAX_TIMESTAMP_US, NMNIST_SIZE,
};
pub use pattern_stream::{FrozenPattern, PatternStream, PatternStreamConfig};
pub use poisson::poisson_train;
pub use randman::{randman, Randman, RandmanConfig};
