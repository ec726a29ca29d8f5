//! Event data: marked sequences, earthquake catalogues, file formats and tensor conversion.

pub mod catalogue;
pub mod datasets;
pub mod io;
pub mod layouts;
pub mod sequence;
pub mod tensor;
pub mod tpp_json;

pub use catalogue::{haversine_km, Catalogue, Quake, Region};
pub use layouts::{CatalogueLayout, CatalogueSpec, QuakeRow};
pub use sequence::EventSequence;
pub use tensor::{to_padded, PaddedEvents};
