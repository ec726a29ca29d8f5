//! Spiking neurons with snnTorch 1.0.0 semantics.
//!
//! Notation (one time step, all operations elementwise over `[B, ...]`): input current `X_t`,
//! membrane `U`, threshold `θ`, decay `β̄ = clamp(β, 0, 1)`, strict step `H(x) = 1[x > 0]`.
//! Every neuron computes the reset signal from the *previous* membrane, `R_t = H(U_{t−1} − θ)`
//! (detached), updates its state, and fires `S_t = g·H(U_t − θ)` with the surrogate gradient of
//! [`Surrogate`] and graded-spike factor `g` (1 by default).
//!
//! | neuron | update (reset by subtraction) |
//! |---|---|
//! | [`Leaky`] | `U_t = β̄U_{t−1} + X_t − R_tθ` |
//! | [`Synaptic`] | `I_t = ᾱI_{t−1} + X_t`, `U_t = β̄U_{t−1} + I_t − R_tθ` |
//! | [`Alpha`] | see its docs (excitatory/inhibitory currents) |
//! | [`Lapicque`] | `U_t = X_t Δt/C + (1 − Δt/(RC))U_{t−1} − R_tθ` |
//! | [`RLeaky`] | `U_t = β̄U_{t−1} + X_t + V(S_{t−1}) − R_tθ` |
//! | [`RSynaptic`] | `I_t = ᾱI_{t−1} + X_t + V(S_{t−1})`, `U_t = β̄U_{t−1} + I_t − R_tθ` |
//!
//! Reset to zero and no reset differ per neuron exactly as in snnTorch (documented on each type).
//! With `reset_delay = false` (Leaky, Synaptic and the recurrent neurons) the reset is applied in
//! the same step: `U_t ← U_t − (S_t/g − R_t)θ` (subtract) or `U_t ← U_t − (S_t/g − R_t)U_t` (zero),
//! and the returned membrane is the one after this reset. Alpha and Lapicque always delay.
//!
//! States are zero at the start of a sequence. The single-step API is [`Neuron::step`]; [`run`]
//! iterates a neuron over a time-first input `[T, B, ...]`.
//!
//! Submodules:
//! - [`options`]: the reset mechanism, parameter initial values and the options shared by all neurons.
//! - [`soma`]: threshold, firing and reset logic and the decay rates shared by all neurons.
//! - [`traits`]: the [`Neuron`] trait.
//! - [`sequence`]: running a neuron over a sequence ([`run`], [`run_spikes`], [`Recording`]).
//! - [`leaky`]: the first-order [`Leaky`] neuron.
//! - [`synaptic`]: the second-order [`Synaptic`] neuron.
//! - [`recurrent`]: [`Recurrent`], any neuron with its previous spikes fed back through a
//!   [`Feedback`]; [`RLeaky`] and [`RSynaptic`] are its snnTorch instances.
//! - [`lapicque`]: Lapicque's RC neuron [`Lapicque`].
//! - [`alpha`]: the [`Alpha`] neuron.
//!
//! [`Surrogate`]: crate::surrogate::Surrogate

mod alpha;
mod lapicque;
mod leaky;
mod options;
mod recurrent;
mod sequence;
mod soma;
mod synaptic;
mod traits;

#[cfg(test)]
mod tests;

pub use alpha::Alpha;
pub use lapicque::Lapicque;
pub use leaky::Leaky;
pub(crate) use leaky::LifConstants;
pub use options::{NeuronOptions, ParamInit, Reset};
pub use recurrent::{Feedback, RLeaky, RSynaptic, Recurrent};
pub use sequence::{run, run_spikes, Recording};
pub use synaptic::Synaptic;
pub use traits::Neuron;
