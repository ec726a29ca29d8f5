//! PDE data generators in plain Rust, deterministic from a seed.

pub mod burgers;
pub mod cache;
pub mod darcy;
pub mod grf;
pub mod navier_stokes;
pub mod pairs;
pub mod reaction_diffusion;

pub use burgers::Burgers;
pub use cache::cached_pair;
pub use darcy::{darcy_coefficient, solve_darcy};
pub use grf::Grf1d;
pub use navier_stokes::{Grf2d, NavierStokes};
pub use reaction_diffusion::ReactionDiffusion;
