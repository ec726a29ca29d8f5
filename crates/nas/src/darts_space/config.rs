//! Settings of the evaluation networks: [`OpSet`], [`Variant`] and [`DartsNetConfig`].

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which implementations back `sep_conv_*` and `dil_conv_*` (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OpSet {
    /// DARTS's SepConv and DilConv.
    Darts,
    /// sharpDARTS's SharpSepConv for both, with `C_mid = round(mid_mult · C)`.
    Sharp {
        /// Middle channels as a multiple of the op's channels (`1.0` in sharpDARTS).
        mid_mult: f64,
    },
}

/// Normalisation of the network (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variant {
    /// ReLU + BatchNorm, PyTorch's default initialisation.
    Standard,
    /// SELU, no BatchNorm, LeCun-normal initialisation, node sums scaled by `1/√2`.
    SelfNormalising,
}

/// Settings of a [`DartsNetwork`].
///
/// [`DartsNetwork`]: crate::darts_space::DartsNetwork
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DartsNetConfig {
    /// Initial channels `C` (per node, first stage).
    pub channels: i64,
    /// Number of cells `L`; reduction cells at `⌊L/3⌋` and `⌊2L/3⌋`.
    pub layers: usize,
    /// Output classes.
    pub classes: i64,
    /// Input image channels.
    pub in_channels: i64,
    /// Stem width as a multiple of `C` (3 in DARTS).
    pub stem_multiplier: i64,
    /// Op implementations.
    pub op_set: OpSet,
    /// Standard or self-normalising.
    pub variant: Variant,
    /// Drop-path probability in training, in `[0, 1)`.
    pub drop_path_prob: f64,
}

impl Default for DartsNetConfig {
    /// DARTS's CIFAR-10 evaluation shape (`C = 36`, 20 cells, 10 classes, RGB), without drop-path.
    fn default() -> Self {
        DartsNetConfig {
            channels: 36,
            layers: 20,
            classes: 10,
            in_channels: 3,
            stem_multiplier: 3,
            op_set: OpSet::Darts,
            variant: Variant::Standard,
            drop_path_prob: 0.0,
        }
    }
}

impl DartsNetConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// Non-positive sizes, fewer than 2 classes, `drop_path_prob ∉ [0, 1)`, or a sharp
    /// `mid_mult` that is not finite and positive.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("channels", self.channels),
            ("in_channels", self.in_channels),
            ("stem_multiplier", self.stem_multiplier),
            ("layers", self.layers as i64),
        ] {
            if v < 1 {
                return Err(Error::invalid(name, v, "must be ≥ 1"));
            }
        }
        if self.classes < 2 {
            return Err(Error::invalid("classes", self.classes, "must be ≥ 2"));
        }
        if !(0.0..1.0).contains(&self.drop_path_prob) {
            return Err(Error::invalid("drop_path_prob", self.drop_path_prob, "must lie in [0, 1)"));
        }
        if let OpSet::Sharp { mid_mult } = self.op_set {
            if !(mid_mult.is_finite() && mid_mult > 0.0) {
                return Err(Error::invalid("mid_mult", mid_mult, "must be finite and > 0"));
            }
        }
        Ok(())
    }

    /// Indices of the reduction cells: `{⌊L/3⌋, ⌊2L/3⌋}`.
    pub fn reduction_layers(&self) -> Vec<usize> {
        let mut r = vec![self.layers / 3, 2 * self.layers / 3];
        r.dedup();
        r
    }
}
