//! # neural-operator
//!
//! Neural operators for sciml-rs: spectral convolutions and the Fourier neural operator on libtorch,
//! relative Lp losses, and PDE data generators in plain Rust (Gaussian random fields, viscous
//! Burgers by a pseudo-spectral integrating-factor RK4 solver verified against Cole–Hopf).

pub mod data;
pub mod deeponet;
pub mod error;
pub mod fno;
pub mod hmc;
pub mod layers;
pub mod losses;
pub mod stagger;
pub mod suite;
pub mod uq;

pub use error::{Error, Result};
