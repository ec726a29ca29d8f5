//! Neural differential-equation models.

pub mod cnf;
pub mod langevin_flow;
pub mod latent_ode;
pub mod latent_sde;
pub mod neural_ode;
pub mod neural_sde;
mod observations;
pub mod stable_sde;

pub use cnf::{Cnf, Trace};
pub use langevin_flow::LangevinFlow;
pub use latent_ode::{LatentOde, LatentOdeConfig};
pub use latent_sde::{ElboOutput, LatentConfig, LatentSde, LatentSdeConfig};
pub use neural_ode::{NeuralOde, NeuralOdeConfig};
pub use neural_sde::NeuralSde;
pub use stable_sde::{StableKind, StableSde};
