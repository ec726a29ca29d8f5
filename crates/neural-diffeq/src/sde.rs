//! Stochastic differential equations: terms, Brownian motion, fixed-step solvers and reversible Heun
//! with its exact adjoint.

pub mod adjoint;
pub mod brownian;
pub mod fbm;
pub mod solver;
pub mod term;

pub use adjoint::stochastic_adjoint;
pub use brownian::{BrownianPath, VirtualBrownianTree};
pub use solver::{
    reversible_heun, reversible_heun_backward, reversible_heun_reconstruct, sdeint, sdeint_adaptive,
    AdaptiveSdeSolution, EulerHeun, EulerMaruyama, Heun, Milstein, ReversibleHeunState, SdeAdaptive,
    SdeSolver, Sra1,
};
pub use term::{FnSde, Noise, SdeTerm};
