//! # neural-operator
//!
//! Neural operators for sciml-rs on libtorch, and the PDE data they learn from:
//!
//! - [`layers`]: spectral convolutions (1-D/2-D, optional CP factorisation) and the agnostic
//!   (resolution-independent) convolution;
//! - [`fno`]: the Fourier neural operator (FNO / TFNO) and [`fno::relative_lp_loss`];
//! - [`deeponet`]: DeepONet (branch and trunk networks, Cartesian-product evaluation);
//! - [`stagger`]: NeuralStagger (coarse sub-solvers on staggered grids and time blocks);
//! - [`losses`]: relative H1 loss and per-channel Gaussian normalisers;
//! - [`uq`]: Gaussian NLL, CRPS, coverage and ensemble moments; [`hmc`]: Hamiltonian Monte Carlo
//!   over network weights;
//! - [`data`]: generators in plain Rust, deterministic from a seed — Gaussian random fields,
//!   viscous Burgers (checked against Cole–Hopf), Darcy flow, 2-D Navier–Stokes, reaction–diffusion
//!   — and an atomic on-disk cache;
//! - [`suite`]: the benchmark-suite tasks.
//!
//! ```
//! use neural_operator::prelude::*;
//! use tch::{nn, Kind, Tensor};
//!
//! # fn main() -> neural_operator::Result<()> {
//! let vs = nn::VarStore::new(tch::Device::Cpu);
//! let fno = Fno::new(&vs.root(), FnoConfig { modes: vec![8], width: 16, ..Default::default() })?;
//! // a batch of 4 one-channel fields on 64 points, evaluated on 128 points (zero-shot resolution)
//! let u0 = Tensor::randn([4, 1, 64], (Kind::Float, tch::Device::Cpu));
//! let u1 = fno.forward(&u0, Some(&[128]))?;
//! assert_eq!(u1.size(), vec![4, 1, 128]);
//! // ‖u − 1.1u‖ / ‖1.1u‖ = 1/11
//! let loss = relative_lp_loss(&u1, &(&u1 * 1.1), 2.0)?;
//! assert!((loss.double_value(&[]) - 1.0 / 11.0).abs() < 1e-4);
//! # Ok(())
//! # }
//! ```

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

/// The most used items.
pub mod prelude {
    pub use crate::data::{Burgers, Grf1d, Grf2d, NavierStokes};
    pub use crate::deeponet::DeepONet;
    pub use crate::fno::{relative_lp_loss, Fno, FnoConfig};
    pub use crate::losses::{relative_h1_loss, UnitGaussianNormalizer};
    pub use crate::stagger::NeuralStagger;
    pub use crate::{Error, Result};
}
