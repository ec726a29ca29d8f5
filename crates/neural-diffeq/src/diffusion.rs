//! Diffusion models as SDEs (Song et al. 2021, "Score-based generative modeling through SDEs"):
//! forward noising processes with Gaussian perturbation kernels ([`process`]), denoising score
//! matching in four parameterisations ([`dsm`]), the samplers — reverse SDE, probability flow,
//! DDPM ancestral and DDIM ([`mod@sample`]) —, the probability-flow ODE's exact log-likelihood by
//! the instantaneous change of variables ([`likelihood`]), and the tests of whether a learned
//! score is a gradient field at all ([`conservativity`], [`helmholtz`]). Exact scores of Gaussian
//! mixtures at every noise level ([`crate::density::Gmm::perturbed`]) make every piece checkable
//! in closed form.

pub mod conservativity;
pub mod dsm;
pub mod helmholtz;
pub mod likelihood;
pub mod process;
pub mod sample;

pub use conservativity::{jacobian_asymmetry, loop_circulation};
pub use dsm::{Parameterisation, ScoreModel, TimeSampling, Weighting};
pub use helmholtz::GridField;
pub use likelihood::{pf_log_likelihood, PfLikelihood};
pub use process::Process;
pub use sample::{sample, sample_observed, Draw, Sampler, StepObserver};
