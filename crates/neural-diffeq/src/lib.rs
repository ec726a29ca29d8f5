//! # neural-diffeq
//!
//! Differential-equation solvers and neural differential equations for sciml-rs, in the spirit of
//! diffrax: terms, solvers, step-size controllers, save points and gradient strategies are separate
//! types meeting in one entry point, [`solve`](solve::solve). One implementation serves batched
//! `tch::Tensor`s (autograd, any device) and `nalgebra::DVector<f64>` (plain Rust).
//!
//! Beyond ODEs: [`sde`] (terms, Brownian motion, SDE solvers, adjoints, fractional noise),
//! [`cde`] (neural controlled differential equations), [`ie`] (integral equations, NIE/ANIE),
//! [`models`] (neural ODE, CNF with FFJORD training, neural / latent / stable SDEs, latent ODE,
//! Langevin flow; irregular observation times), [`diffusion`] (diffusion models as SDEs: noising
//! processes, score matching, samplers, probability-flow likelihood, conservativity) and
//! [`density`] (toy densities with exact log-densities, Gaussian mixtures, KDE, two-sample test).
//!
//! ```
//! use nalgebra::DVector;
//! use neural_diffeq::prelude::*;
//!
//! # fn main() -> neural_diffeq::Result<()> {
//! // y' = −y on [0, 1]
//! let f = |_t: f64, y: &DVector<f64>| Ok(-y.clone());
//! let sol = solve(&f, &ExplicitRk::dopri5(), (0.0, 1.0), &DVector::from_element(1, 1.0),
//!                 &StepControl::adaptive(1e-8, 1e-8), &SaveAt::t1())?;
//! assert!((sol.last().unwrap()[0] - (-1f64).exp()).abs() < 1e-7);
//! # Ok(())
//! # }
//! ```

pub mod adjoint;
pub mod cde;
pub mod checkpoint;
pub mod controller;
pub mod dense;
pub mod density;
pub mod diffusion;
pub mod error;
pub mod ie;
pub mod models;
pub mod native;
pub mod problems;
pub mod quadrature;
pub mod regularise;
pub mod sde;
pub mod solve;
pub mod solver;
pub mod state;
pub mod suite;
pub mod term;

pub use error::{Error, Result};

/// The most used items.
pub mod prelude {
    pub use crate::adjoint::{solve_backward, Gradient};
    pub use crate::controller::{PidController, StepControl};
    pub use crate::error::{Error, Result};
    pub use crate::models::{NeuralOde, NeuralOdeConfig};
    pub use crate::solve::{solve, solve_with_event, SaveAt, Solution};
    pub use crate::solver::{Esdirk, ExplicitRk, Solver};
    pub use crate::state::State;
    pub use crate::term::OdeTerm;
}
