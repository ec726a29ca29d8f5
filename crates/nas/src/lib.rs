//! # nas
//!
//! Neural architecture search for sciml-rs.
//!
//! Scope of the crate: search spaces (NAS-Bench-201-style cells, the DARTS space, forecasting
//! cells), one-shot search (DARTS family), architecture selection, black-box search, zero-cost
//! proxies and an evaluation protocol that compares every method with random architectures.
//!
//! Available now: the [`space::SearchSpace`] abstraction and the NAS-Bench-201-style
//! [`space::CellSpace`] (sampling, enumeration, neighbours, string encoding, isomorphism); the
//! procedural image generator and the CIFAR-10 binary reader ([`data`]); trainable cell networks
//! with the NAS-Bench-201 ops and macro skeleton ([`model`]); the DARTS space with trainable DARTS,
//! sharpDARTS and self-normalising networks ([`darts_space`]), a recurrence / attention / gating
//! forecasting-cell space ([`forecast`]) and Lorenz-96 data to train it on ([`lorenz`]).

pub mod darts_space;
pub mod data;
pub mod forecast;
pub mod lorenz;
pub mod model;
pub mod space;

pub use core_tensor::{Error, Result};
