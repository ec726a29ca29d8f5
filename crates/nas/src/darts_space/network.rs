//! The evaluation network of a genotype ([`DartsNetwork`]) and its cells.

use tch::nn;
use tch::Tensor;

use super::config::DartsNetConfig;
use super::genotype::{CellGenotype, Genotype, STEPS};
use super::ops::{apply_bn, ActConvBn, Builder, FactorizedReduce, Geom, OpModule};
use crate::{Error, Result};

/// Preprocessing of the cell input `c_{k−2}`: ReLU-Conv-BN, or FactorizedReduce after a reduction.
#[derive(Debug)]
enum Pre {
    Conv(ActConvBn),
    Reduce(FactorizedReduce),
}

/// The widths of one cell: its inputs `c_{k−2}`, `c_{k−1}` (`c_pp`, `c_p` channels), its node
/// width `c`, whether it reduces and whether the cell before it did.
#[derive(Debug, Clone, Copy)]
pub(super) struct CellShape {
    pub(super) c_pp: i64,
    pub(super) c_p: i64,
    pub(super) c: i64,
    pub(super) reduction: bool,
    pub(super) reduction_prev: bool,
}

/// The shapes of the `cfg.layers` cells after a stem of `c_stem` channels (reductions at
/// [`DartsNetConfig::reduction_layers`] double the node width), and the width of the last cell's
/// output (`STEPS · c`, the classifier's input).
pub(super) fn cell_shapes(cfg: &DartsNetConfig, c_stem: i64) -> (Vec<CellShape>, i64) {
    let reductions = cfg.reduction_layers();
    let (mut c_pp, mut c_p, mut c) = (c_stem, c_stem, cfg.channels);
    let mut reduction_prev = false;
    let mut shapes = Vec::with_capacity(cfg.layers);
    for i in 0..cfg.layers {
        let reduction = reductions.contains(&i);
        if reduction {
            c *= 2;
        }
        shapes.push(CellShape { c_pp, c_p, c, reduction, reduction_prev });
        (c_pp, c_p) = (c_p, STEPS as i64 * c);
        reduction_prev = reduction;
    }
    (shapes, c_p)
}

/// The preprocessing of a cell's two inputs to its node width: `pre0` for `c_{k−2}`
/// (FactorizedReduce after a reduction cell), ReLU-Conv-BN `pre1` for `c_{k−1}`.
#[derive(Debug)]
pub(super) struct CellInputs {
    pre0: Pre,
    pre1: ActConvBn,
}

impl CellInputs {
    pub(super) fn new(b: &Builder, p: &nn::Path<'_>, s: &CellShape) -> Result<Self> {
        let pre0 = if s.reduction_prev {
            Pre::Reduce(FactorizedReduce::new(b, &(p / "pre0"), s.c_pp, s.c)?)
        } else {
            Pre::Conv(ActConvBn::relu_conv_bn(b, &(p / "pre0"), s.c_pp, s.c))
        };
        Ok(CellInputs { pre0, pre1: ActConvBn::relu_conv_bn(b, &(p / "pre1"), s.c_p, s.c) })
    }

    /// The cell's first two states.
    pub(super) fn forward(&self, b: &Builder, s0: &Tensor, s1: &Tensor, train: bool) -> Vec<Tensor> {
        let s0 = match &self.pre0 {
            Pre::Conv(m) => m.forward(b, s0, train),
            Pre::Reduce(m) => m.forward(b, s0, train),
        };
        vec![s0, self.pre1.forward(b, s1, train)]
    }
}

/// One cell of a [`DartsNetwork`].
#[derive(Debug)]
struct CellModule {
    inputs_pre: CellInputs,
    ops: Vec<OpModule>,
    inputs: Vec<usize>,
}

impl CellModule {
    /// A cell of shape `s` (reading `c_pp`/`c_p` channels, writing `STEPS · c` channels).
    fn new(b: &Builder, p: &nn::Path<'_>, g: &CellGenotype, s: &CellShape) -> Result<Self> {
        let ops =
            g.0.iter()
                .enumerate()
                .map(|(e, (op, input))| {
                    let stride = if s.reduction && *input < 2 { 2 } else { 1 };
                    OpModule::new(b, &(p / format!("edge{e}")), *op, s.c, stride)
                })
                .collect::<Result<Vec<_>>>()?;
        Ok(CellModule {
            inputs_pre: CellInputs::new(b, p, s)?,
            ops,
            inputs: g.0.iter().map(|(_, i)| *i).collect(),
        })
    }

    fn forward(&self, b: &Builder, s0: &Tensor, s1: &Tensor, train: bool, drop_path: f64) -> Tensor {
        let mut states = self.inputs_pre.forward(b, s0, s1, train);
        let scale = if b.selu() { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        for j in 0..STEPS {
            let edge = |e: usize| {
                let y = self.ops[e].forward(b, &states[self.inputs[e]], train);
                if train && drop_path > 0.0 && !matches!(self.ops[e], OpModule::Identity) {
                    let keep = 1.0 - drop_path;
                    let mask = Tensor::rand([y.size()[0], 1, 1, 1], (y.kind(), y.device())).lt(keep);
                    let mask = mask.to_kind(y.kind());
                    y * mask / keep
                } else {
                    y
                }
            };
            let h = (edge(2 * j) + edge(2 * j + 1)) * scale;
            states.push(h);
        }
        Tensor::cat(&states[2..], 1)
    }
}

/// The stem: 3×3 convolution to `stem_multiplier · C` channels (+ BN); returns its width too.
pub(super) fn stem(
    b: &Builder,
    path: &nn::Path<'_>,
    cfg: &DartsNetConfig,
) -> (nn::Conv2D, Option<nn::BatchNorm>, i64) {
    let c_stem = cfg.stem_multiplier * cfg.channels;
    let geom = Geom { k: 3, stride: 1, padding: 1, dilation: 1, groups: 1 };
    let stem = b.conv(&(path / "stem"), cfg.in_channels, c_stem, geom);
    (stem, b.bn(&(path / "stem_bn"), c_stem), c_stem)
}

/// The linear classifier after global average pooling.
pub(super) fn classifier(b: &Builder, path: &nn::Path<'_>, c_in: i64, classes: i64) -> nn::Linear {
    if b.selu() {
        core_tensor::nn::mlp::lecun_normal_linear(&(path / "classifier"), c_in, classes, true)
    } else {
        core_tensor::nn::mlp::torch_default_linear(&(path / "classifier"), c_in, classes, true)
    }
}

/// Checks images `[B, in_channels, H, W]` (floating point, `H`, `W` divisible by `2^reductions`).
pub(super) fn check_images(x: &Tensor, cfg: &DartsNetConfig) -> Result<()> {
    let size = x.size();
    let div = 1i64 << cfg.reduction_layers().len();
    if !x.is_floating_point() {
        return Err(Error::invalid("x", format!("{:?}", x.kind()), "images must be floating point"));
    }
    if size.len() != 4 || size[1] != cfg.in_channels || size[2] % div != 0 || size[3] % div != 0 {
        return Err(Error::shape(
            "x",
            format!("[B, {}, H, W] with H, W divisible by {div}", cfg.in_channels),
            size,
        ));
    }
    Ok(())
}

/// A classification network built from a [`Genotype`] (module docs).
#[derive(Debug)]
pub struct DartsNetwork {
    builder: Builder,
    stem: nn::Conv2D,
    stem_bn: Option<nn::BatchNorm>,
    cells: Vec<CellModule>,
    classifier: nn::Linear,
    cfg: DartsNetConfig,
}

impl DartsNetwork {
    /// Builds the network for `genotype` under `path` (on `path`'s device).
    ///
    /// # Errors
    /// An invalid genotype or configuration.
    pub fn new(path: &nn::Path<'_>, genotype: &Genotype, cfg: DartsNetConfig) -> Result<Self> {
        cfg.validate()?;
        genotype.check()?;
        let b = Builder { variant: cfg.variant, op_set: cfg.op_set };
        let (stem, stem_bn, c_stem) = stem(&b, path, &cfg);
        let (shapes, c_p) = cell_shapes(&cfg, c_stem);
        let cells = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let g = if s.reduction { &genotype.reduce } else { &genotype.normal };
                CellModule::new(&b, &(path / format!("cell{i}")), g, s)
            })
            .collect::<Result<Vec<_>>>()?;
        let classifier = classifier(&b, path, c_p, cfg.classes);
        Ok(DartsNetwork { builder: b, stem, stem_bn, cells, classifier, cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &DartsNetConfig {
        &self.cfg
    }

    /// Sets the drop-path probability (DARTS raises it linearly over the epochs).
    ///
    /// # Errors
    /// `p ∉ [0, 1)`.
    pub fn set_drop_path_prob(&mut self, p: f64) -> Result<()> {
        DartsNetConfig { drop_path_prob: p, ..self.cfg }.validate()?;
        self.cfg.drop_path_prob = p;
        Ok(())
    }

    /// The pooled features `[B, 4 · C_last]` before the classifier, for images `[B, in_channels,
    /// H, W]` with `H` and `W` divisible by `2^(number of reductions)`.
    ///
    /// # Errors
    /// A wrongly shaped input.
    pub fn features(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        check_images(x, &self.cfg)?;
        let b = &self.builder;
        let s = apply_bn(&self.stem_bn, x.apply(&self.stem), train);
        let (mut s0, mut s1) = (s.shallow_clone(), s);
        for cell in &self.cells {
            let out = cell.forward(b, &s0, &s1, train, self.cfg.drop_path_prob);
            (s0, s1) = (s1, out);
        }
        Ok(s1.adaptive_avg_pool2d([1, 1]).flatten(1, -1))
    }

    /// Logits `[B, classes]` for images `[B, in_channels, H, W]` (`train` selects batch statistics
    /// and drop-path).
    ///
    /// # Errors
    /// A wrongly shaped input (see [`DartsNetwork::features`]).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.features(x, train)?.apply(&self.classifier))
    }
}
