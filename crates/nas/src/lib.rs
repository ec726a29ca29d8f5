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
//! [`resnet`] (ResNet-8, the fixed reference for dataset difficulty), [`search`] (random search, regularised evolution), [`nb201`] (NAS-Bench-201 results from a CSV
//! export of the official file), [`proxies`] (zero-cost proxies), [`data`]
//! (procedural images, CIFAR-10 binary), [`train`] (the shared training protocol), [`table`] (the
//! tabular micro-benchmark), [`suite`] (benchmark-suite tasks, the
//! forecasting-cell task in [`suite::forecast`]).
//!
//! ```
//! use nas::prelude::*;
//!
//! # fn main() -> nas::Result<()> {
//! // The NAS-Bench-201 space and its string form.
//! let space = CellSpace::nb201();
//! let cell = space.sample(&mut rng(0));
//! let text = space.encode(&cell);
//! assert_eq!(space.encode(&space.decode(&text)?), text);
//! // Random search over the space with a stand-in objective (a table's validation accuracy in
//! // practice): count the skip connections.
//! let best = random_search(&space, 20, &mut rng(1), |c| Ok(space.encode(c).matches("skip").count() as f64))?;
//! assert!(space.encode(&best.best).contains("skip"));
//! # Ok(())
//! # }
//! ```

pub mod darts_space;
pub mod data;
pub mod forecast;
pub mod lorenz;
pub mod model;
pub mod nb201;
pub mod proxies;
pub mod resnet;
pub mod search;
pub mod space;
pub mod suite;
pub mod supernet;
pub mod table;
pub mod train;

pub use core_tensor::{Error, Result};

/// The most used items.
pub mod prelude {
    pub use crate::darts_space::{DartsNetwork, DartsSpace, Genotype};
    pub use crate::proxies::{score, Proxy};
    pub use crate::search::{random_search, regularized_evolution};
    pub use crate::space::{Cell, CellSpace, SearchSpace};
    pub use crate::supernet::{darts_pt_select, darts_search, DartsConfig, DartsOrder, MixRule, Supernet};
    pub use crate::train::{train_classifier, ImageData, TrainConfig};
    pub use crate::{Error, Result};
    pub use core_tensor::seed::rng;
}
