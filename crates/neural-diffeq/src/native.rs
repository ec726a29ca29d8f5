//! The native path: small neural ODEs solved and differentiated in plain Rust.
//!
//! For the models most neural-ODE research trains — an MLP vector field over a state of a few
//! dimensions, a batch of hundreds — libtorch's per-operation overhead, not arithmetic, sets the
//! time (profile in `docs/neural-diffeq.md`). This path runs the same solvers ([`crate::solve`],
//! every explicit tableau, every step controller) on a plain-Rust state [`Batch`] with the network
//! evaluated by [`core_tensor::native::NativeMlp`] (packed GEMM, vectorised activations, parallel
//! row blocks), and differentiates with explicit vector–Jacobian products instead of a tape:
//!
//! - [`solve`]: the generic solve, run on rayon's pool (start here);
//! - [`MlpField`]: a [`NeuralOde`](crate::models::NeuralOde)'s vector field in `f32` or `f64`
//!   ([`NeuralOde::native`](crate::models::NeuralOde::native)), an [`OdeTerm`](crate::term::OdeTerm)
//!   of [`Batch`] states;
//! - [`backprop`]: the exact gradient of the discrete solve (reverse sweep through every accepted
//!   step's stages; the same gradient as [`Gradient::Backprop`](crate::adjoint::Gradient::Backprop));
//! - [`adjoint`]: the continuous adjoint, solved backwards with the forward method over the whole
//!   augmented state (like [`Gradient::Adjoint`](crate::adjoint::Gradient::Adjoint) without the
//!   seminorm);
//! - [`cde`]: neural CDEs ([`NeuralCde::native`](crate::cde::NeuralCde::native)): outputs and
//!   gradients of initial map, solve and read-out;
//! - [`sde`]: neural SDEs with diagonal noise ([`NeuralSde::native`](crate::models::NeuralSde::native)),
//!   Euler–Maruyama on a Brownian path's grid and its exact reverse sweep.
//!
//! Parameter gradients come back flat and go to the libtorch variables with
//! [`NeuralOde::add_native_grads`](crate::models::NeuralOde::add_native_grads), so a libtorch
//! optimiser (or the Trainer) steps the model; [`MlpField::load`] re-reads the weights after it.
//! The native path runs on the CPU; tensors on other devices are copied to and from it.

mod batch;
pub mod cde;
mod field;
mod gradient;
pub mod sde;

pub use batch::Batch;
pub use core_tensor::native::Real;
pub use field::MlpField;
pub use gradient::{adjoint, backprop, NativeGradient, VjpField};

use crate::controller::StepControl;
use crate::error::Result;
use crate::solve::{SaveAt, Solution};
use crate::solver::Solver;

/// [`crate::solve::solve`] for a native field, run on rayon's pool so that the network's parallel
/// row blocks start in ~0.02 µs instead of ~20 µs per evaluation
/// ([`core_tensor::native::on_pool`]). Same results as calling `solve` directly.
pub fn solve<T: Real>(
    field: &MlpField<T>,
    solver: &(dyn Solver<Batch<T>> + Sync),
    span: (f64, f64),
    y0: &Batch<T>,
    control: &StepControl,
    saveat: &SaveAt,
) -> Result<Solution<Batch<T>>> {
    core_tensor::native::on_pool(|| crate::solve::solve(field, solver, span, y0, control, saveat))
}
