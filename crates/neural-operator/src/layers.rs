//! Neural-operator layers.

pub mod agnostic;
pub mod spectral;

pub use agnostic::{AgnosticConv1d, QuadratureAttention};
pub use spectral::SpectralConv;
