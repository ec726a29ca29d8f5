//! Stochastic differential equations: terms, Brownian motion, one-step solvers behind one entry
//! point [`sdeint`] (constant or adaptive steps, the ODE solve's [`StepControl`] and [`SaveAt`]),
//! reversible Heun with its exact adjoint, the continuous stochastic adjoint and fractional noise.
//!
//! [`StepControl`]: crate::controller::StepControl
//! [`SaveAt`]: crate::solve::SaveAt

pub mod adjoint;
pub mod brownian;
pub mod brownian_interval;
pub mod discrete;
pub mod fbm;
pub mod reversible_heun;
pub mod solve;
pub mod solver;
pub mod term;

pub use adjoint::{stochastic_adjoint, stochastic_adjoint_at};
pub use brownian::{BrownianMotion, BrownianPath, VirtualBrownianTree};
pub use brownian_interval::BrownianInterval;
pub use discrete::sde_solve_backward_at;
pub use reversible_heun::{
    reversible_heun, reversible_heun_backward, reversible_heun_reconstruct, ReversibleHeunState,
};
pub use solve::{sdeint, sdeint_on_grid};
pub use solver::{EulerHeun, EulerMaruyama, Heun, Milstein, SdeMethod, SdeSolver, Sra1, Sriw1, StepInput};
pub use term::{FnSde, Noise, SdeTerm};
