//! # point-process
//!
//! Temporal and spatio-temporal point processes for sciml-rs. The classical models run in plain
//! Rust (f64, nalgebra, rayon): Poisson processes, multivariate Hawkes processes with exponential,
//! sum-of-exponential and power-law kernels (simulation by thinning and by branching, exact
//! likelihood and gradient by recursion, maximum-likelihood and EM fitting, goodness of fit) and
//! ETAS for earthquake catalogues ([`etas`]; with [`csep`] for the CSEP consistency tests, and
//! [`simd`] for the vectorised pair loop of its catalogue-scale likelihood). The [`neural`] module holds the neural temporal point
//! processes on libtorch (RMTPP, NHP, SAHP, THP, AttNHP, FullyNN, IntensityFree as encoder ×
//! decoder combinations), their likelihoods, samplers, metrics, training and the forecasting
//! benchmark.
//!
//! ```
//! use point_process::prelude::*;
//! use nalgebra::DMatrix;
//!
//! # fn main() -> point_process::Result<()> {
//! let truth = Hawkes::exponential(vec![0.5, 0.5], DMatrix::from_row_slice(2, 2, &[0.3, 0.1, 0.2, 0.3]), 2.0)?;
//! let mut rng = core_tensor::seed::rng(0);
//! let seq = truth.simulate_ogata(SimOptions::new(2000.0), &mut rng)?;
//! let start = Hawkes::exponential(vec![0.1, 0.1], DMatrix::from_element(2, 2, 0.1), 1.0)?;
//! let fit = fit_mle(&start, &[seq], &FitConfig::default())?; // decay β learned too
//! assert!(fit.model.branching_ratio() < 1.0);
//! # Ok(())
//! # }
//! ```

pub mod csep;
pub mod data;
pub mod error;
pub mod etas;
pub mod hawkes;
pub mod neural;
pub mod optim;
pub mod poisson;
pub use core_tensor::simd;
pub mod suite;

pub use error::{Error, Result};

/// The most used items.
pub mod prelude {
    pub use crate::data::{Catalogue, EventSequence, Quake, Region};
    pub use crate::error::{Error, Result};
    pub use crate::etas::{Etas, EtasParams};
    pub use crate::hawkes::{
        fit_em, fit_mle, log_likelihood, Basis, EmConfig, FitConfig, Hawkes, SimOptions,
    };
    pub use crate::neural::{Model, NeuralTpp, TppBatch, TppConfig};
    pub use crate::poisson::{HomogeneousPoisson, InhomogeneousPoisson};
}
