//! CSEP forecast evaluation (the Collaboratory for the Study of Earthquake Predictability), as in
//! pycsep 0.8.0: grids, gridded and catalogue-based forecasts with pycsep's file layouts, the
//! consistency tests of both kinds, and their figures.
//!
//! - [`Grid`]: space–magnitude bins; [`GriddedForecast`], [`CatalogueForecast`].
//! - [`gridded`]: Poisson and negative-binomial N-tests, L-, CL-, M-, S-tests (Schorlemmer et al.
//!   2007, Zechar et al. 2010).
//! - [`catalogue`]: N-, S-, M- and pseudo-likelihood tests of simulated catalogues (Savran et al.
//!   2020).
//! - [`Sampler`]: the draws of the simulation-based tests; [`NumpyLegacy`] reproduces pycsep's
//!   simulations exactly from pycsep's seed.
//! - [`plots`]: consistency charts and test-distribution histograms.
//!
//! ETAS makes gridded forecasts with [`crate::etas::gridded_forecast`] and catalogue forecasts
//! with [`crate::etas::forecast_catalogues`].

pub mod catalogue_tests;
pub mod forecast;
pub mod grid;
pub mod gridded_tests;
pub mod plots;
pub mod result;
pub mod sampler;
pub mod stats;

pub use catalogue_tests as catalogue;
pub use forecast::{iso_time, CatalogueForecast, GriddedForecast};
pub use grid::Grid;
pub use gridded_tests as gridded;
pub use result::{Quantile, Status, TestDistribution, TestResult};
pub use sampler::{NumpyLegacy, Sampler};
