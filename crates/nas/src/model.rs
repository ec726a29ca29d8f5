//! Trainable networks for [`CellSpace`] cells (NAS-Bench-201 macro skeleton).
//!
//! Operations on a `C`-channel feature map (NAS-Bench-201): `none` (zeros), `skip_connect`
//! (identity), `nor_conv_1x1` / `nor_conv_3x3` (ReLU → convolution → BatchNorm, "same" padding),
//! `avg_pool_3x3` (stride 1, padding 1, padding excluded from the average). Other op names are
//! rejected. A cell sums, at each node, its incoming edges; the cell output is the last node.
//!
//! Network: 3×3 stem convolution + BatchNorm → `cells_per_stage` cells → a residual reduction block
//! (stride 2, channels × 2) → cells → reduction → cells → BatchNorm-ReLU → global average pool →
//! linear classifier. With [`NetworkConfig::batch_norm`] off every BatchNorm is left out (synflow
//! needs this).

use std::cell::RefCell;

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::space::{Cell, CellSpace};
use crate::{Error, Result};

/// Collects the input of every ReLU during a forward pass (NASWOT, Dextr).
pub(crate) type Probe<'a> = Option<&'a RefCell<Vec<Tensor>>>;

fn relu(x: &Tensor, probe: Probe<'_>) -> Tensor {
    if let Some(p) = probe {
        p.borrow_mut().push(x.shallow_clone());
    }
    x.relu()
}

/// Convolution followed by an optional BatchNorm.
#[derive(Debug)]
pub(crate) struct ConvBn {
    conv: nn::Conv2D,
    bn: Option<nn::BatchNorm>,
    /// `(c_in, c_out, k, stride)` for FLOP counts.
    shape: (i64, i64, i64, i64),
}

impl ConvBn {
    pub(crate) fn new(path: &nn::Path<'_>, c_in: i64, c_out: i64, k: i64, stride: i64, bn: bool) -> Self {
        let cfg = nn::ConvConfig { stride, padding: k / 2, bias: false, ..Default::default() };
        ConvBn {
            conv: nn::conv2d(path / "conv", c_in, c_out, k, cfg),
            bn: bn.then(|| nn::batch_norm2d(path / "bn", c_out, Default::default())),
            shape: (c_in, c_out, k, stride),
        }
    }

    pub(crate) fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.conv.forward_t(x, train);
        match &self.bn {
            Some(bn) => bn.forward_t(&y, train),
            None => y,
        }
    }

    /// Multiply–accumulates on an `h × w` input.
    fn macs(&self, h: i64, w: i64) -> f64 {
        let (ci, co, k, s) = self.shape;
        ((h / s) * (w / s) * ci * co * k * k) as f64
    }
}

/// One operation on an edge.
#[derive(Debug)]
pub(crate) enum Op {
    Zero,
    Identity,
    ReluConvBn(Box<ConvBn>),
    AvgPool,
}

impl Op {
    pub(crate) fn new(path: &nn::Path<'_>, name: &str, c: i64, bn: bool) -> Result<Self> {
        Ok(match name {
            "none" => Op::Zero,
            "skip_connect" => Op::Identity,
            "nor_conv_1x1" => Op::ReluConvBn(Box::new(ConvBn::new(path, c, c, 1, 1, bn))),
            "nor_conv_3x3" => Op::ReluConvBn(Box::new(ConvBn::new(path, c, c, 3, 1, bn))),
            "avg_pool_3x3" => Op::AvgPool,
            other => return Err(Error::invalid(
                "op",
                format!("{other:?}"),
                "no network for this op; known: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3",
            )),
        })
    }

    pub(crate) fn is_zero(&self) -> bool {
        matches!(self, Op::Zero)
    }

    pub(crate) fn forward_t(&self, x: &Tensor, train: bool, probe: Probe<'_>) -> Tensor {
        match self {
            Op::Zero => x.zeros_like(),
            Op::Identity => x.shallow_clone(),
            Op::ReluConvBn(m) => m.forward_t(&relu(x, probe), train),
            Op::AvgPool => x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None::<i64>),
        }
    }

    fn macs(&self, h: i64, w: i64, c: i64) -> f64 {
        match self {
            Op::Zero | Op::Identity => 0.0,
            Op::ReluConvBn(m) => m.macs(h, w),
            Op::AvgPool => (h * w * c * 9) as f64,
        }
    }
}

/// Runs a cell DAG: node `j` is the sum over its incoming edges of `edge(e, node_i)`; `None` from
/// `edge` means the edge contributes nothing. Returns the last node (zeros when nothing reaches it).
pub(crate) fn run_dag(
    nodes: usize,
    edges: &[(usize, usize)],
    x: &Tensor,
    mut edge: impl FnMut(usize, &Tensor) -> Option<Tensor>,
) -> Tensor {
    let mut vals: Vec<Option<Tensor>> = (0..nodes).map(|_| None).collect();
    vals[0] = Some(x.shallow_clone());
    for (e, (i, j)) in edges.iter().enumerate() {
        let Some(src) = vals[*i].as_ref().map(Tensor::shallow_clone) else { continue };
        if let Some(y) = edge(e, &src) {
            vals[*j] = Some(match vals[*j].take() {
                Some(acc) => acc + y,
                None => y,
            });
        }
    }
    vals.pop().flatten().unwrap_or_else(|| x.zeros_like())
}

/// A cell as a module: one [`Op`] per edge.
#[derive(Debug)]
pub(crate) struct CellModule {
    nodes: usize,
    edges: Vec<(usize, usize)>,
    ops: Vec<Op>,
}

impl CellModule {
    fn new(path: &nn::Path<'_>, space: &CellSpace, cell: &Cell, c: i64, bn: bool) -> Result<Self> {
        space.check(cell)?;
        let edges = space.edges();
        let ops = edges
            .iter()
            .zip(&cell.0)
            .map(|((i, j), &o)| Op::new(&(path / format!("e{i}_{j}")), &space.ops()[o], c, bn))
            .collect::<Result<Vec<_>>>()?;
        Ok(CellModule { nodes: space.nodes(), edges, ops })
    }

    fn forward_t(&self, x: &Tensor, train: bool, probe: Probe<'_>) -> Tensor {
        run_dag(self.nodes, &self.edges, x, |e, src| {
            let op = &self.ops[e];
            // A `none` edge adds zeros; skipping it keeps the same value and gradient.
            (!op.is_zero()).then(|| op.forward_t(src, train, probe))
        })
    }
}

/// The residual reduction block: ReLU-Conv3×3(stride 2)-BN → ReLU-Conv3×3-BN, plus an average-pool
/// + 1×1 convolution shortcut.
#[derive(Debug)]
struct Reduction {
    a: ConvBn,
    b: ConvBn,
    short: nn::Conv2D,
    c: (i64, i64),
}

impl Reduction {
    fn new(path: &nn::Path<'_>, c_in: i64, c_out: i64, bn: bool) -> Self {
        let conv1 = nn::ConvConfig { bias: false, ..Default::default() };
        Reduction {
            a: ConvBn::new(&(path / "a"), c_in, c_out, 3, 2, bn),
            b: ConvBn::new(&(path / "b"), c_out, c_out, 3, 1, bn),
            short: nn::conv2d(path / "short", c_in, c_out, 1, conv1),
            c: (c_in, c_out),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool, probe: Probe<'_>) -> Tensor {
        let h = self.a.forward_t(&relu(x, probe), train);
        let h = self.b.forward_t(&relu(&h, probe), train);
        let s = self.short.forward_t(&x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>), train);
        h + s
    }

    fn macs(&self, h: i64, w: i64) -> f64 {
        self.a.macs(h, w) + self.b.macs(h / 2, w / 2) + ((h / 2) * (w / 2) * self.c.0 * self.c.1) as f64
    }
}

/// Settings of a [`CellNetwork`] (and of the supernet, which shares the skeleton).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkConfig {
    /// Channels of the first stage (doubled at each reduction).
    pub channels: i64,
    /// Cells per stage (3 stages).
    pub cells_per_stage: usize,
    /// Input channels.
    pub in_channels: i64,
    /// Classes.
    pub classes: i64,
    /// Whether convolutions are followed by BatchNorm.
    pub batch_norm: bool,
}

impl Default for NetworkConfig {
    /// A small network for the procedural data: 8 channels, 1 cell per stage, RGB, 10 classes, BN.
    fn default() -> Self {
        NetworkConfig { channels: 8, cells_per_stage: 1, in_channels: 3, classes: 10, batch_norm: true }
    }
}

impl NetworkConfig {
    /// Checks the sizes.
    ///
    /// # Errors
    /// Non-positive sizes or fewer than 2 classes.
    pub fn validate(&self) -> Result<()> {
        if self.channels < 1 || self.in_channels < 1 || self.classes < 2 || self.cells_per_stage == 0 {
            return Err(Error::invalid(
                "config",
                format!("{self:?}"),
                "sizes must be positive and classes ≥ 2",
            ));
        }
        Ok(())
    }
}

/// The macro skeleton around any cell type `C`: stem, 3 stages of cells, 2 reductions, head.
#[derive(Debug)]
pub(crate) struct Skeleton<C> {
    stem: ConvBn,
    pub(crate) stages: Vec<Vec<C>>,
    reductions: Vec<Reduction>,
    head_bn: Option<nn::BatchNorm>,
    classifier: nn::Linear,
    cfg: NetworkConfig,
}

impl<C> Skeleton<C> {
    /// Builds the skeleton; `cell(path, channels)` builds one cell.
    pub(crate) fn new(
        path: &nn::Path<'_>,
        cfg: NetworkConfig,
        mut cell: impl FnMut(&nn::Path<'_>, i64) -> Result<C>,
    ) -> Result<Self> {
        cfg.validate()?;
        let c = cfg.channels;
        let bn = cfg.batch_norm;
        let stem = ConvBn::new(&(path / "stem"), cfg.in_channels, c, 3, 1, bn);
        let mut stages = Vec::new();
        let mut reductions = Vec::new();
        for s in 0..3 {
            let cs = c << s;
            let cells = (0..cfg.cells_per_stage)
                .map(|k| cell(&(path / format!("stage{s}_cell{k}")), cs))
                .collect::<Result<Vec<_>>>()?;
            stages.push(cells);
            if s < 2 {
                reductions.push(Reduction::new(&(path / format!("reduce{s}")), cs, cs * 2, bn));
            }
        }
        let c_last = c << 2;
        Ok(Skeleton {
            stem,
            stages,
            reductions,
            head_bn: bn.then(|| nn::batch_norm2d(path / "head_bn", c_last, Default::default())),
            classifier: nn::linear(path / "classifier", c_last, cfg.classes, Default::default()),
            cfg,
        })
    }

    /// Logits `[B, classes]`; `cell(c, h)` runs one cell.
    pub(crate) fn forward_t(
        &self,
        x: &Tensor,
        train: bool,
        probe: Probe<'_>,
        mut cell: impl FnMut(&C, &Tensor) -> Tensor,
    ) -> Tensor {
        let mut h = self.stem.forward_t(x, train);
        for (s, cells) in self.stages.iter().enumerate() {
            for c in cells {
                h = cell(c, &h);
            }
            if let Some(r) = self.reductions.get(s) {
                h = r.forward_t(&h, train, probe);
            }
        }
        let h = match &self.head_bn {
            Some(bn) => bn.forward_t(&h, train),
            None => h,
        };
        let h = relu(&h, probe).adaptive_avg_pool2d([1, 1]).flatten(1, -1);
        self.classifier.forward_t(&h, train)
    }

    /// Multiply–accumulates outside the cells for an `h × w` input, and the spatial size and
    /// channels seen by each stage's cells.
    fn skeleton_macs(&self, h: i64, w: i64) -> (f64, Vec<(i64, i64, i64)>) {
        let mut total = self.stem.macs(h, w);
        let mut stage_dims = Vec::new();
        let (mut hh, mut ww) = (h, w);
        for s in 0..3 {
            stage_dims.push((hh, ww, self.cfg.channels << s));
            if let Some(r) = self.reductions.get(s) {
                total += r.macs(hh, ww);
                hh /= 2;
                ww /= 2;
            }
        }
        total += ((self.cfg.channels << 2) * self.cfg.classes) as f64;
        (total, stage_dims)
    }
}

/// A classification network built from one cell (see the module docs).
#[derive(Debug)]
pub struct CellNetwork {
    skel: Skeleton<CellModule>,
}

impl CellNetwork {
    /// Builds the network for `cell` of `space` under `path`.
    ///
    /// # Errors
    /// An invalid cell, an op without a network, non-positive sizes.
    pub fn new(path: &nn::Path<'_>, space: &CellSpace, cell: &Cell, cfg: NetworkConfig) -> Result<Self> {
        space.check(cell)?;
        let skel = Skeleton::new(path, cfg, |p, c| CellModule::new(p, space, cell, c, cfg.batch_norm))?;
        Ok(CellNetwork { skel })
    }

    /// Logits `[B, classes]` for images `[B, C, H, W]` (`train` selects batch statistics).
    /// Panics inside libtorch on a wrong shape, dtype or device: [`CellNetwork::try_forward`]
    /// checks them first.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_probe(x, train, None)
    }

    /// [`CellNetwork::forward_t`] after checking that `x` is `[B ≥ 1, in_channels, H ≥ 1, W ≥ 1]`
    /// with the dtype and device of the weights.
    ///
    /// # Errors
    /// A wrong shape, dtype or device, naming `x`.
    pub fn try_forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        use core_tensor::check::{check_like, check_tensor, Dim};
        let c = self.skel.cfg.in_channels;
        check_tensor(
            "x",
            x,
            Some(&[Dim::AtLeast(1), Dim::Is(c), Dim::AtLeast(1), Dim::AtLeast(1)]),
            None,
            None,
        )?;
        check_like("x", x, &self.skel.classifier.ws)?;
        Ok(self.forward_t(x, train))
    }

    /// As [`CellNetwork::forward_t`], also collecting the input of every ReLU into `probe`.
    pub(crate) fn forward_probe(&self, x: &Tensor, train: bool, probe: Probe<'_>) -> Tensor {
        self.skel.forward_t(x, train, probe, |c, h| c.forward_t(h, train, probe))
    }

    /// Multiply–accumulate operations of one forward pass on an `h × w` image (convolutions,
    /// pooling additions and the classifier; element-wise ops and BatchNorm are not counted).
    pub fn macs(&self, h: i64, w: i64) -> f64 {
        let (mut total, dims) = self.skel.skeleton_macs(h, w);
        for (cells, (hh, ww, c)) in self.skel.stages.iter().zip(dims) {
            for cell in cells {
                total += cell.ops.iter().map(|o| o.macs(hh, ww, c)).sum::<f64>();
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SearchSpace;
    use tch::{Device, Kind};

    #[test]
    fn ops_behave_as_named() {
        let vs = nn::VarStore::new(Device::Cpu);
        let x = Tensor::randn([2, 4, 6, 6], (Kind::Float, Device::Cpu));
        let zero = Op::new(&vs.root(), "none", 4, true).unwrap().forward_t(&x, false, None);
        assert_eq!(zero.abs().sum(Kind::Float).double_value(&[]), 0.0);
        let id = Op::new(&vs.root(), "skip_connect", 4, true).unwrap().forward_t(&x, false, None);
        assert_eq!((id - &x).abs().max().double_value(&[]), 0.0);
        let pool = Op::new(&vs.root(), "avg_pool_3x3", 4, true).unwrap().forward_t(&x, false, None);
        // Corner: mean of the 2×2 valid neighbourhood (padding excluded).
        let corner = x.narrow(2, 0, 2).narrow(3, 0, 2).mean_dim([2i64, 3].as_slice(), false, Kind::Float);
        assert!((pool.select(2, 0).select(2, 0) - corner).abs().max().double_value(&[]) < 1e-6);
        assert!(Op::new(&vs.root(), "sep_conv_5x5", 4, true).is_err());
    }

    #[test]
    fn networks_train_on_procedural_images() {
        core_tensor::seed::seed_torch(0);
        let space = CellSpace::nb201();
        let cell = space.decode("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|").unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let net = CellNetwork::new(
            &vs.root(),
            &space,
            &cell,
            NetworkConfig { classes: 4, ..NetworkConfig::default() },
        )
        .unwrap();
        let gen = crate::data::ProceduralImages { classes: 4, ..Default::default() };
        let (x, y) = gen.generate(128, &mut core_tensor::seed::rng(1)).unwrap();
        assert_eq!(net.forward_t(&x, false).size(), vec![128, 4]);
        // checked entry point: same logits, and clear errors for a wrong shape or dtype
        assert!(net.try_forward(&x, false).unwrap().equal(&net.forward_t(&x, false)));
        let e = net.try_forward(&x.narrow(1, 0, 1), false).unwrap_err().to_string();
        assert!(e.contains("`x`"), "{e}");
        assert!(net.try_forward(&x.to_kind(tch::Kind::Double), false).is_err());
        assert!(net.try_forward(&x.view([-1]), false).is_err());
        let mut opt = core_tensor::train::Optimizer::from_var_store(
            core_tensor::train::OptimizerConfig::adam(3e-3),
            &vs,
        )
        .unwrap();
        let loss = |train: bool| net.forward_t(&x, train).cross_entropy_for_logits(&y);
        let before = tch::no_grad(|| loss(true).double_value(&[]));
        for _ in 0..30 {
            opt.zero_grad();
            loss(true).backward();
            opt.step().unwrap();
        }
        let after = tch::no_grad(|| loss(true).double_value(&[]));
        assert!(after < 0.6 * before, "loss {before} → {after}");
        // An all-`none` cell still runs (the cell outputs zeros; the reductions carry the signal).
        let dead = Cell(vec![0; 6]);
        let vs2 = nn::VarStore::new(Device::Cpu);
        let n2 = CellNetwork::new(&vs2.root(), &space, &dead, NetworkConfig::default()).unwrap();
        assert_eq!(n2.forward_t(&x, false).size(), vec![128, 10]);
    }
}
