//! # core-tensor
//!
//! The shared base of sciml-rs, over libtorch through [`tch`]: one error type, device selection,
//! seeding, neural-network blocks, the training loop, data batching, metrics, checkpoints,
//! nalgebra interop and the benchmark-suite [`bench::Task`] contract; [`native`] evaluates and
//! differentiates small MLPs in plain Rust (outside libtorch's dispatcher), with the vectorised
//! math of [`simd`].
//!
//! ```
//! use core_tensor::prelude::*;
//! use tch::{nn, nn::ModuleT, Kind, Tensor};
//!
//! # fn main() -> core_tensor::Result<()> {
//! seed_everything(0);
//! let vs = nn::VarStore::new(device());
//! let mlp = Mlp::new(&vs.root(), &[1, 32, 1], MlpConfig::default().activation(Activation::Tanh))?;
//! // Fit y = x² on [-1, 1].
//! let x = Tensor::linspace(-1.0, 1.0, 64, (Kind::Float, vs.device())).unsqueeze(1);
//! let y = x.square();
//! let data = DataLoader::new(vec![x, y], 16, 0)?;
//! let mut trainer = Trainer::builder()
//!     .epochs(60)
//!     .optimizer(OptimizerConfig::adam(1e-2))
//!     .build()?;
//! let history = trainer.fit(&vs, &data, |b| {
//!     Ok((mlp.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float))
//! }, || Ok(None))?;
//! assert!(history.final_train_loss().unwrap() < 0.01);
//! # Ok(())
//! # }
//! ```

pub mod bench;
pub mod check;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod error;
pub mod interop;
pub mod memory;
pub mod metrics;
pub mod native;
pub mod nn;
pub mod seed;
pub mod simd;
pub mod suite;
pub mod train;

pub use error::{Error, Result};

/// The most used items.
pub mod prelude {
    pub use crate::bench::{Better, Metric, Plot, SuiteConfig, Task, TaskReport};
    pub use crate::data::{BatchSource, DataLoader};
    pub use crate::device::device;
    pub use crate::error::{Error, Result};
    pub use crate::nn::{Activation, Mlp, MlpConfig, MultiHeadAttention, SinusoidalTimeEncoding};
    pub use crate::seed::{rng, seed_everything, Rng};
    pub use crate::train::{LrSchedule, OptimizerConfig, Trainer, TrainerConfig};
}
