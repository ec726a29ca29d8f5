//! ETAS (epidemic-type aftershock sequence) models for earthquake catalogues: model, simulation,
//! likelihood with per-event scores, fitting with standard errors, and forecasting.

pub mod fit;
pub mod forecast;
pub mod gridded;
pub mod likelihood;
pub mod model;
mod pair_sum;
pub mod presets;
pub mod simulate;
pub mod truncated;
mod truncation_bound;
mod windows;

pub use fit::{fit, standard_errors, EtasFit, EtasFitConfig};
pub use forecast::{forecast, forecast_catalogues, Forecast, NTest};
pub use gridded::{gridded_forecast, kernel_mass_rect};
pub use likelihood::{
    background_probabilities, event_scores, log_likelihood, log_likelihood_with_grad, EventScores,
};
pub use model::{Etas, EtasParams, PARAM_NAMES};
pub use simulate::{simulate, simulate_continuation};
pub use truncated::{log_likelihood_truncated, TruncatedLikelihood};

#[cfg(test)]
mod tests;
