//! The evaluation network of a genotype ([`DartsNetwork`]) and its cells.

use tch::nn;
use tch::Tensor;

use super::config::DartsNetConfig;
use super::genotype::{CellGenotype, Genotype, STEPS};
use super::ops::{apply_bn, ActConvBn, Builder, FactorizedReduce, Geom, OpModule};
use crate::{Error, Result};

/// Preprocessing of the cell input `c_{k−2}`: ReLU-Conv-BN, or FactorizedReduce after a reduction.
#[derive(Debug)]
pub(super) enum Pre {
    Conv(ActConvBn),
    Reduce(FactorizedReduce),
}

impl Pre {
    pub(super) fn new(
        b: &Builder,
        p: &nn::Path<'_>,
        c_in: i64,
        c: i64,
        reduction_prev: bool,
    ) -> Result<Self> {
        Ok(if reduction_prev {
            Pre::Reduce(FactorizedReduce::new(b, p, c_in, c)?)
        } else {
            Pre::Conv(ActConvBn::relu_conv_bn(b, p, c_in, c))
        })
    }

    pub(super) fn forward(&self, b: &Builder, x: &Tensor, train: bool) -> Tensor {
        match self {
            Pre::Conv(m) => m.forward(b, x, train),
            Pre::Reduce(m) => m.forward(b, x, train),
        }
    }
}

/// One cell of a [`DartsNetwork`].
#[derive(Debug)]
struct CellModule {
    pre0: Pre,
    pre1: ActConvBn,
    ops: Vec<OpModule>,
    inputs: Vec<usize>,
}

impl CellModule {
    /// A cell reading `c_pp`/`c_p` channels and writing `STEPS · c` channels.
    fn new(
        b: &Builder,
        p: &nn::Path<'_>,
        g: &CellGenotype,
        (c_pp, c_p, c): (i64, i64, i64),
        reduction: bool,
        reduction_prev: bool,
    ) -> Result<Self> {
        let pre0 = Pre::new(b, &(p / "pre0"), c_pp, c, reduction_prev)?;
        let pre1 = ActConvBn::relu_conv_bn(b, &(p / "pre1"), c_p, c);
        let ops =
            g.0.iter()
                .enumerate()
                .map(|(e, (op, input))| {
                    let stride = if reduction && *input < 2 { 2 } else { 1 };
                    OpModule::new(b, &(p / format!("edge{e}")), *op, c, stride)
                })
                .collect::<Result<Vec<_>>>()?;
        Ok(CellModule { pre0, pre1, ops, inputs: g.0.iter().map(|(_, i)| *i).collect() })
    }

    fn forward(&self, b: &Builder, s0: &Tensor, s1: &Tensor, train: bool, drop_path: f64) -> Tensor {
        let s0 = self.pre0.forward(b, s0, train);
        let mut states = vec![s0, self.pre1.forward(b, s1, train)];
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
        let reductions = cfg.reduction_layers();
        let (mut c_pp, mut c_p, mut c) = (c_stem, c_stem, cfg.channels);
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let reduction = reductions.contains(&i);
            if reduction {
                c *= 2;
            }
            let g = if reduction { &genotype.reduce } else { &genotype.normal };
            cells.push(CellModule::new(
                &b,
                &(path / format!("cell{i}")),
                g,
                (c_pp, c_p, c),
                reduction,
                reduction_prev,
            )?);
            (c_pp, c_p) = (c_p, STEPS as i64 * c);
            reduction_prev = reduction;
        }
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
