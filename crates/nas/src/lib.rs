//! # nas
//!
//! Neural architecture search for sciml-rs.
//!
//! Scope of the crate: search spaces (NAS-Bench-201-style cells, the DARTS space, forecasting
//! cells), one-shot search (DARTS family), architecture selection, black-box search, zero-cost
//! proxies and an evaluation protocol that compares every method with random architectures.
//!
//! Modules: [`space`] (the [`space::SearchSpace`] abstraction and NAS-Bench-201-style cells),
//! [`darts_space`] (the DARTS space with DARTS, sharpDARTS and self-normalising networks),
//! [`forecast`] (a recurrence / attention / gating forecasting-cell space) with [`lorenz`]
//! (Lorenz-96 data), [`model`] (cell networks), [`supernet`] (DARTS, Max-W, DARTS-PT),
//! [`search`] (random search, regularised evolution), [`proxies`] (zero-cost proxies), [`data`]
//! (procedural images, CIFAR-10 binary), [`train`] (the shared training protocol), [`table`] (the
//! tabular micro-benchmark), [`suite`] (benchmark-suite tasks) and [`forecast_suite`] (the
//! forecasting-cell task).

pub mod darts_space;
pub mod data;
pub mod forecast;
pub mod forecast_suite;
pub mod lorenz;
pub mod model;
pub mod proxies;
pub mod search;
pub mod space;
pub mod suite;
pub mod supernet;
pub mod table;
pub mod train;

pub use core_tensor::{Error, Result};
