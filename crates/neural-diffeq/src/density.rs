//! Two-dimensional densities for training and judging density models: the toy distributions of
//! the continuous-flow literature with their exact log-densities ([`toy2d`]), and the Gaussian
//! kernel density estimate with a bandwidth chosen on held-out data, the baseline a trained flow
//! has to beat ([`kde`]).

pub mod gmm;
pub mod kde;
pub mod toy2d;

pub use gmm::Gmm;
pub use kde::GaussianKde;
pub use toy2d::Toy2d;
