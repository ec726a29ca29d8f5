//! The DARTS search space (Liu, Simonyan & Yang 2019) and trainable networks for its genotypes.
//!
//! **Space.** A [`Genotype`] is a normal cell plus a reduction cell. Each cell has two inputs —
//! state 0 = `c_{k−2}` (output of the cell two back) and state 1 = `c_{k−1}` (previous cell) — and
//! [`STEPS`] = 4 intermediate nodes, states 2…5. Node `j` (0-based) takes exactly two edges from
//! *distinct* earlier states `< j + 2`, each carrying one of the eight DARTS operations
//! ([`DartsOp`]); the node sums its two edges and the cell output concatenates the four nodes
//! along channels. Per cell there are `Π_{j=0..3} (j+2)(j+1) · |ops|² = 2880 · |ops|⁸` ordered
//! choices (`4.8·10¹⁰` with the 8 ops), so [`SearchSpace::enumerate`] returns `None`.
//!
//! **String form** (DARTS's own genotype notation, without the concat lists): eight
//! `(op,input)` pairs per cell, two per node in node order,
//! `normal=[(sep_conv_3x3,0),(sep_conv_3x3,1),…];reduce=[(max_pool_3x3,0),…]`. The parser ignores
//! blanks and quotes, so a genotype printed by the Python reference
//! (`[('sep_conv_3x3', 0), …]`) parses as well.
//!
//! **Canonical key.** Two genotypes compute the same function (up to a renaming of the weights)
//! when they differ only in (a) the order of the two edges of a node (addition commutes) or (b)
//! the input of a `none` edge (it contributes zeros whatever it reads). The key sorts the two
//! edges of every node after writing the input of a `none` edge as `*`.
//!
//! **Networks** ([`DartsNetwork`], the DARTS evaluation network without the auxiliary head): a
//! 3×3 stem convolution with `stem_multiplier · C` channels (+ BatchNorm), then `layers` cells;
//! cells `⌊L/3⌋` and `⌊2L/3⌋` are reduction cells (channels × 2, spatial size ÷ 2), all others
//! normal cells; global average pooling and a linear classifier. Cell inputs are preprocessed to
//! `C` channels by ReLU-Conv1×1-BN, or by a FactorizedReduce when the previous cell halved the
//! spatial size. In a reduction cell the edges that read the cell inputs use stride 2. Ops:
//!
//! | op | module (stride `s`) |
//! |---|---|
//! | `none` | zeros of the output shape |
//! | `max_pool_3x3`, `avg_pool_3x3` | 3×3 pool, stride `s`, padding 1 (average excludes padding); no BatchNorm |
//! | `skip_connect` | identity (`s = 1`) or FactorizedReduce (`s = 2`): ReLU, two 1×1 stride-2 convolutions with `C/2` channels each, the second on the input shifted by one pixel, concatenated, BN |
//! | `sep_conv_k×k` | twice (ReLU → depthwise k×k → pointwise 1×1 → BN), the first with stride `s`, padding `⌊k/2⌋` |
//! | `dil_conv_k×k` | ReLU → depthwise k×k dilation 2 (stride `s`, padding `k − 1`) → pointwise 1×1 → BN |
//!
//! Options ([`DartsNetConfig`]):
//! - [`OpSet::Sharp`]: the sharpDARTS operations (Hundt, Jain & Hager 2019): `sep_conv_k×k` and
//!   `dil_conv_k×k` become `SharpSepConv` — ReLU → depthwise k×k (stride `s`, dilation 1 or 2) →
//!   pointwise 1×1 to `C_mid` → BN → ReLU → depthwise k×k (stride 1, undilated) → pointwise 1×1 to
//!   `C` → BN, with `C_mid = round(mid_mult · C)`.
//! - [`Variant::SelfNormalising`] (Klambauer et al. 2017): SELU instead of ReLU everywhere, no
//!   BatchNorm, every convolution and the classifier initialised LeCun-normal `N(0, 1/fan_in)`,
//!   and each node's sum of two edges scaled by `1/√2` so that two independent unit-variance
//!   edges give a unit-variance node. Self-normalisation holds along convolution paths (a stack of
//!   16 `sep_conv_3x3` ops keeps mean ≈ 0, variance ≈ 1 at initialisation; test), but not through
//!   the parameter-free ops: pooling, `none` edges and max-pool bias move the cell statistics, so
//!   whole networks of random genotypes drift (variance 0.2–1.5 after 8 cells at initialisation).
//! - `drop_path_prob`: DARTS's drop-path on every non-identity edge during training (each sample's
//!   edge output is zeroed with probability `p` and the survivors scaled by `1/(1 − p)`).
//!
//! Convolutions of the standard variant use PyTorch's default initialisation `U(±1/√fan_in)`.
//!
//! Submodules:
//! - [`genotype`]: the operations, cell genotypes and genotypes, with their string forms.
//! - [`search_space`]: the [`DartsSpace`] and its [`SearchSpace`] implementation.
//! - [`config`]: the network settings ([`DartsNetConfig`], [`OpSet`], [`Variant`]).
//! - [`ops`]: the modules behind the edge operations and their builder.
//! - [`network`]: the cells and the [`DartsNetwork`].
//! - [`supernet`]: the [`DartsSupernet`] (all ops on all 14 edges, Max-W, PC-DARTS), searched by
//!   [`darts_search_with`](crate::supernet::darts_search_with) (DARTS 1st / 2nd order, sharpDARTS).
//! - [`pt`]: DARTS-PT's perturbation-based selection of a genotype ([`darts_pt_genotype`]).
//!
//! [`SearchSpace`]: crate::space::SearchSpace
//! [`SearchSpace::enumerate`]: crate::space::SearchSpace::enumerate

mod config;
mod genotype;
mod network;
mod ops;
mod pt;
mod search_space;
mod supernet;

#[cfg(test)]
mod supernet_tests;
#[cfg(test)]
mod tests;

pub use config::{DartsNetConfig, OpSet, Variant};
pub use genotype::{CellGenotype, DartsOp, Genotype, EDGES, STEPS};
pub use network::DartsNetwork;
pub use pt::{darts_pt_genotype, PtStep, PtTarget};
pub use search_space::DartsSpace;
pub use supernet::{node_edges, DartsSupernet, SupernetConfig, MIXED_EDGES, NORMAL, REDUCE};
