//! Small dense networks in plain Rust, outside libtorch's dispatcher.
//!
//! A 2-64-64-2 MLP at batch 512 is 4.5 MFLOP: libtorch spends more time dispatching its dozen
//! operations (and recording their graph) than computing them. This module evaluates such networks
//! with a packed GEMM ([`matrixmultiply`]), activations vectorised for the processor found at run
//! time ([`crate::simd`]) and the batch split into fixed row blocks run in parallel (rayon), and it
//! differentiates them with an explicit vector–Jacobian product instead of a tape. The weights are
//! copied from a libtorch [`Mlp`](crate::nn::Mlp), and gradients go back to its variables, so a
//! model trained with libtorch can be solved and differentiated here, and the other way round.
//!
//! - [`Real`]: `f32` / `f64`, with the GEMM and the vectorised `tanh` of each;
//! - [`activation`]: every [`Activation`](crate::nn::Activation) and its derivative on slices;
//! - [`NativeMlp`]: forward pass, cached forward pass and vector–Jacobian product.
//!
//! Results are deterministic: the row blocks do not depend on the number of threads, and partial
//! parameter gradients are summed in block order.

pub mod activation;
pub mod mlp;
pub mod real;
pub mod skinny;

pub use mlp::{host_values, MlpCache, NativeMlp};
pub use real::Real;

/// Runs `f` on a thread of rayon's pool (directly when already on one). The row blocks of
/// [`NativeMlp`] are split with `rayon` calls that cost ~0.02 µs from a pool thread but ~15–20 µs
/// from any other (each call wakes a pool thread and blocks on it): a solve that evaluates a
/// network thousands of times should run inside once, paying that hop once.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}
