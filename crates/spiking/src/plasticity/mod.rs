//! Local learning rules without tensors: pair-based STDP, a leaky integrate-and-fire unit, the
//! repeating-pattern detection experiment, and the Tempotron.
//!
//! * [`Stdp`] / [`StdpState`]: pair-based spike-timing-dependent plasticity with exponential traces in
//!   discrete time (Bi & Poo 1998; trace formulation of Morrison, Diesmann & Gerstner 2008), additive
//!   (Song, Miller & Abbott 2000) or multiplicative / soft-bound (van Rossum, Bi & Turrigiano 2000;
//!   Gütig et al. 2003 with μ = 1).
//! * [`LifUnit`]: a single current-jump leaky integrate-and-fire neuron in `f64`.
//! * [`run_pattern_experiment`]: a repeating spike pattern hidden in Poisson noise is picked up by one
//!   LIF neuron with STDP (Masquelier, Guyonneau & Thorpe 2008, *PLoS ONE* 3(1):e1377).
//! * [`Tempotron`] and [`run_tempotron_experiment`]: Gütig & Sompolinsky 2006, *Nat. Neurosci.*
//!   9(3):420–428.
//!
//! Time is in ms throughout. Weight matrices are row-major `[n_post][n_pre]`. Continuous-time spike
//! trains are one sorted `Vec<f64>` of spike times (ms) per afferent.
//!
//! Submodules:
//! - [`stdp`]: the pair-based STDP rule, its weight dependence and its trace state.
//! - [`lif`]: the `f64` leaky integrate-and-fire unit and its parameters.
//! - [`pattern`]: the repeating-pattern detection experiment (configuration, metrics, report).
//! - [`tempotron`]: the Tempotron and its classification experiment.

mod lif;
mod pattern;
mod stdp;
mod tempotron;

#[cfg(test)]
mod tests;

pub use lif::{LifParams, LifUnit};
pub use pattern::{run_pattern_experiment, DetectionMetrics, PatternExperiment, PatternReport};
pub use stdp::{Stdp, StdpRule, StdpState};
pub use tempotron::{run_tempotron_experiment, Tempotron, TempotronExperiment, TempotronReport};
