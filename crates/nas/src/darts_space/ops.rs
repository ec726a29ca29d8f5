//! Modules of the edge operations: the variant-aware [`Builder`] and the op implementations ([`OpModule`]).

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::config::{OpSet, Variant};
use super::genotype::DartsOp;
use crate::{Error, Result};

/// Builds modules with the variant's activation, normalisation and initialisation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Builder {
    pub(super) variant: Variant,
    pub(super) op_set: OpSet,
}

/// Convolution geometry: kernel, stride, padding, dilation, groups.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geom {
    pub(super) k: i64,
    pub(super) stride: i64,
    pub(super) padding: i64,
    pub(super) dilation: i64,
    pub(super) groups: i64,
}

impl Geom {
    fn pointwise(stride: i64) -> Self {
        Geom { k: 1, stride, padding: 0, dilation: 1, groups: 1 }
    }
}

impl Builder {
    pub(super) fn selu(&self) -> bool {
        self.variant == Variant::SelfNormalising
    }

    fn act(&self, x: &Tensor) -> Tensor {
        if self.selu() {
            x.selu()
        } else {
            x.relu()
        }
    }

    pub(super) fn conv(&self, p: &nn::Path<'_>, c_in: i64, c_out: i64, g: Geom) -> nn::Conv2D {
        let fan_in = (c_in / g.groups * g.k * g.k) as f64;
        let ws_init = if self.selu() {
            nn::Init::Randn { mean: 0.0, stdev: 1.0 / fan_in.sqrt() }
        } else {
            nn::Init::Uniform { lo: -1.0 / fan_in.sqrt(), up: 1.0 / fan_in.sqrt() }
        };
        let cfg = nn::ConvConfig {
            stride: g.stride,
            padding: g.padding,
            dilation: g.dilation,
            groups: g.groups,
            bias: false,
            ws_init,
            ..Default::default()
        };
        nn::conv2d(p, c_in, c_out, g.k, cfg)
    }

    pub(super) fn bn(&self, p: &nn::Path<'_>, c: i64) -> Option<nn::BatchNorm> {
        (!self.selu()).then(|| nn::batch_norm2d(p, c, Default::default()))
    }
}

pub(super) fn apply_bn(bn: &Option<nn::BatchNorm>, x: Tensor, train: bool) -> Tensor {
    match bn {
        Some(bn) => bn.forward_t(&x, train),
        None => x,
    }
}

/// Activation → convolution(s) → optional BatchNorm; with a depthwise `dw` first when present
/// (the half of a separable convolution), otherwise one plain convolution (ReLU-Conv-BN).
#[derive(Debug)]
pub(super) struct ActConvBn {
    dw: Option<nn::Conv2D>,
    pw: nn::Conv2D,
    bn: Option<nn::BatchNorm>,
}

impl ActConvBn {
    /// ReLU → depthwise k×k (`g`) → pointwise 1×1 `c_in → c_out` → BN.
    fn separable(b: &Builder, p: &nn::Path<'_>, c_in: i64, c_out: i64, g: Geom) -> Self {
        ActConvBn {
            dw: Some(b.conv(&(p / "dw"), c_in, c_in, Geom { groups: c_in, ..g })),
            pw: b.conv(&(p / "pw"), c_in, c_out, Geom::pointwise(1)),
            bn: b.bn(&(p / "bn"), c_out),
        }
    }

    /// ReLU → 1×1 convolution → BN (DARTS's ReLUConvBN preprocessing).
    pub(super) fn relu_conv_bn(b: &Builder, p: &nn::Path<'_>, c_in: i64, c_out: i64) -> Self {
        ActConvBn {
            dw: None,
            pw: b.conv(&(p / "conv"), c_in, c_out, Geom::pointwise(1)),
            bn: b.bn(&(p / "bn"), c_out),
        }
    }

    pub(super) fn forward(&self, b: &Builder, x: &Tensor, train: bool) -> Tensor {
        let mut h = b.act(x);
        if let Some(dw) = &self.dw {
            h = h.apply(dw);
        }
        apply_bn(&self.bn, h.apply(&self.pw), train)
    }
}

/// DARTS's FactorizedReduce (module docs).
#[derive(Debug)]
pub(super) struct FactorizedReduce {
    a: nn::Conv2D,
    b: nn::Conv2D,
    bn: Option<nn::BatchNorm>,
}

impl FactorizedReduce {
    pub(super) fn new(bld: &Builder, p: &nn::Path<'_>, c_in: i64, c_out: i64) -> Result<Self> {
        if c_out % 2 != 0 {
            return Err(Error::invalid("channels", c_out, "FactorizedReduce needs an even output width"));
        }
        Ok(FactorizedReduce {
            a: bld.conv(&(p / "conv_1"), c_in, c_out / 2, Geom::pointwise(2)),
            b: bld.conv(&(p / "conv_2"), c_in, c_out / 2, Geom::pointwise(2)),
            bn: bld.bn(&(p / "bn"), c_out),
        })
    }

    pub(super) fn forward(&self, bld: &Builder, x: &Tensor, train: bool) -> Tensor {
        let h = bld.act(x);
        let (hh, ww) = (h.size()[2], h.size()[3]);
        let shifted = h.narrow(2, 1, hh - 1).narrow(3, 1, ww - 1);
        let y = Tensor::cat(&[h.apply(&self.a), shifted.apply(&self.b)], 1);
        apply_bn(&self.bn, y, train)
    }
}

/// One edge operation.
#[derive(Debug)]
pub(super) enum OpModule {
    Zero {
        stride: i64,
    },
    Identity,
    MaxPool {
        stride: i64,
    },
    AvgPool {
        stride: i64,
    },
    Reduce(Box<FactorizedReduce>),
    /// One or two separable halves (DilConv = one, SepConv / SharpSepConv = two).
    Separable(Vec<ActConvBn>),
}

impl OpModule {
    pub(super) fn new(b: &Builder, p: &nn::Path<'_>, op: DartsOp, c: i64, stride: i64) -> Result<Self> {
        let geom = |k: i64, dilation: i64, stride: i64| Geom {
            k,
            stride,
            padding: dilation * (k - 1) / 2,
            dilation,
            groups: 1,
        };
        let sep = |k: i64, dilation: i64, c_mid: i64| {
            OpModule::Separable(vec![
                ActConvBn::separable(b, &(p / "sep1"), c, c_mid, geom(k, dilation, stride)),
                ActConvBn::separable(b, &(p / "sep2"), c_mid, c, geom(k, 1, 1)),
            ])
        };
        let sharp_mid = |m: f64| ((m * c as f64).round() as i64).max(1);
        Ok(match (op, b.op_set) {
            (DartsOp::None, _) => OpModule::Zero { stride },
            (DartsOp::MaxPool3x3, _) => OpModule::MaxPool { stride },
            (DartsOp::AvgPool3x3, _) => OpModule::AvgPool { stride },
            (DartsOp::SkipConnect, _) if stride == 1 => OpModule::Identity,
            (DartsOp::SkipConnect, _) => OpModule::Reduce(Box::new(FactorizedReduce::new(b, p, c, c)?)),
            (DartsOp::SepConv3x3, OpSet::Darts) => sep(3, 1, c),
            (DartsOp::SepConv5x5, OpSet::Darts) => sep(5, 1, c),
            (DartsOp::DilConv3x3 | DartsOp::DilConv5x5, OpSet::Darts) => {
                let k = if op == DartsOp::DilConv3x3 { 3 } else { 5 };
                OpModule::Separable(vec![ActConvBn::separable(b, &(p / "dil"), c, c, geom(k, 2, stride))])
            }
            (DartsOp::SepConv3x3, OpSet::Sharp { mid_mult }) => sep(3, 1, sharp_mid(mid_mult)),
            (DartsOp::SepConv5x5, OpSet::Sharp { mid_mult }) => sep(5, 1, sharp_mid(mid_mult)),
            (DartsOp::DilConv3x3, OpSet::Sharp { mid_mult }) => sep(3, 2, sharp_mid(mid_mult)),
            (DartsOp::DilConv5x5, OpSet::Sharp { mid_mult }) => sep(5, 2, sharp_mid(mid_mult)),
        })
    }

    /// Whether the op outputs zeros whatever its input (`none`).
    pub(super) fn is_zero(&self) -> bool {
        matches!(self, OpModule::Zero { .. })
    }

    pub(super) fn forward(&self, b: &Builder, x: &Tensor, train: bool) -> Tensor {
        match self {
            OpModule::Zero { stride } => {
                let s = x.size();
                let out = |n: i64| (n + stride - 1) / stride;
                Tensor::zeros([s[0], s[1], out(s[2]), out(s[3])], (x.kind(), x.device()))
            }
            OpModule::Identity => x.shallow_clone(),
            OpModule::MaxPool { stride } => x.max_pool2d([3, 3], [*stride, *stride], [1, 1], [1, 1], false),
            OpModule::AvgPool { stride } => {
                x.avg_pool2d([3, 3], [*stride, *stride], [1, 1], false, false, None::<i64>)
            }
            OpModule::Reduce(r) => r.forward(b, x, train),
            OpModule::Separable(halves) => {
                halves.iter().fold(x.shallow_clone(), |h, half| half.forward(b, &h, train))
            }
        }
    }
}
