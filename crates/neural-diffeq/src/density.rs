//! Two-dimensional densities for training and judging density models: the toy distributions of
//! the continuous-flow literature with their exact log-densities ([`toy2d`]), and the Gaussian
//! kernel density estimate with a bandwidth chosen on held-out data, the baseline a trained flow
//! has to beat ([`kde`]); isotropic Gaussian mixtures with exact scores ([`gmm`]); and the energy
//! two-sample test ([`two_sample`]).

pub mod gmm;
pub mod kde;
pub mod toy2d;
pub mod two_sample;

pub use gmm::Gmm;
pub use kde::GaussianKde;
pub use toy2d::Toy2d;
pub use two_sample::{energy_test, TwoSampleTest};
