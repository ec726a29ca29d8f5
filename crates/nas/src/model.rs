//! Trainable networks for [`CellSpace`] cells (NAS-Bench-201 macro skeleton).
//!
//! Operations on a `C`-channel feature map (NAS-Bench-201): `none` (zeros), `skip_connect`
//! (identity), `nor_conv_1x1` / `nor_conv_3x3` (ReLU → convolution → BatchNorm, "same" padding),
//! `avg_pool_3x3` (stride 1, padding 1, padding excluded from the average). Other op names are
//! rejected. A cell sums, at each node, its incoming edges; the cell output is the last node.
//!
//! Network: 3×3 stem convolution + BatchNorm → `cells_per_stage` cells → a residual reduction block
//! (stride 2, channels × 2) → cells → reduction → cells → BatchNorm-ReLU → global average pool →
//! linear classifier.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::space::{Cell, CellSpace};
use crate::{Error, Result};

/// One operation on an edge.
#[derive(Debug)]
enum Op {
    Zero,
    Identity,
    ReluConvBn(Box<(nn::Conv2D, nn::BatchNorm)>),
    AvgPool,
}

impl Op {
    fn new(path: &nn::Path<'_>, name: &str, c: i64) -> Result<Self> {
        let conv = |k: i64| {
            let cfg = nn::ConvConfig { padding: k / 2, bias: false, ..Default::default() };
            Op::ReluConvBn(Box::new((
                nn::conv2d(path / "conv", c, c, k, cfg),
                nn::batch_norm2d(path / "bn", c, Default::default()),
            )))
        };
        Ok(match name {
            "none" => Op::Zero,
            "skip_connect" => Op::Identity,
            "nor_conv_1x1" => conv(1),
            "nor_conv_3x3" => conv(3),
            "avg_pool_3x3" => Op::AvgPool,
            other => return Err(Error::invalid(
                "op",
                format!("{other:?}"),
                "no network for this op; known: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3",
            )),
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Op::Zero => x.zeros_like(),
            Op::Identity => x.shallow_clone(),
            Op::ReluConvBn(m) => m.1.forward_t(&m.0.forward_t(&x.relu(), train), train),
            Op::AvgPool => x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None::<i64>),
        }
    }
}

/// A cell as a module: one [`Op`] per edge.
#[derive(Debug)]
struct CellModule {
    nodes: usize,
    edges: Vec<(usize, usize)>,
    ops: Vec<Op>,
}

impl CellModule {
    fn new(path: &nn::Path<'_>, space: &CellSpace, cell: &Cell, c: i64) -> Result<Self> {
        space.check(cell)?;
        let edges = space.edges();
        let ops = edges
            .iter()
            .zip(&cell.0)
            .map(|((i, j), &o)| Op::new(&(path / format!("e{i}_{j}")), &space.ops()[o], c))
            .collect::<Result<Vec<_>>>()?;
        Ok(CellModule { nodes: space.nodes(), edges, ops })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut nodes: Vec<Option<Tensor>> = (0..self.nodes).map(|_| None).collect();
        nodes[0] = Some(x.shallow_clone());
        for ((i, j), op) in self.edges.iter().zip(&self.ops) {
            let src = nodes[*i].as_ref().expect("sources come before targets").shallow_clone();
            let y = op.forward_t(&src, train);
            nodes[*j] = Some(match nodes[*j].take() {
                Some(acc) => acc + y,
                None => y,
            });
        }
        nodes.pop().flatten().expect("the output node has inputs")
    }
}

/// The residual reduction block: ReLU-Conv3×3(stride 2)-BN → ReLU-Conv3×3-BN, plus an average-pool
/// + 1×1 convolution shortcut.
#[derive(Debug)]
struct Reduction {
    a: (nn::Conv2D, nn::BatchNorm),
    b: (nn::Conv2D, nn::BatchNorm),
    short: nn::Conv2D,
}

impl Reduction {
    fn new(path: &nn::Path<'_>, c_in: i64, c_out: i64) -> Self {
        let c3 = |s: i64| nn::ConvConfig { stride: s, padding: 1, bias: false, ..Default::default() };
        Reduction {
            a: (
                nn::conv2d(path / "a", c_in, c_out, 3, c3(2)),
                nn::batch_norm2d(path / "abn", c_out, Default::default()),
            ),
            b: (
                nn::conv2d(path / "b", c_out, c_out, 3, c3(1)),
                nn::batch_norm2d(path / "bbn", c_out, Default::default()),
            ),
            short: nn::conv2d(
                path / "short",
                c_in,
                c_out,
                1,
                nn::ConvConfig { bias: false, ..Default::default() },
            ),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.a.1.forward_t(&self.a.0.forward_t(&x.relu(), train), train);
        let h = self.b.1.forward_t(&self.b.0.forward_t(&h.relu(), train), train);
        let s = self.short.forward_t(&x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>), train);
        h + s
    }
}

/// Settings of a [`CellNetwork`].
#[derive(Debug, Clone, Copy)]
pub struct NetworkConfig {
    /// Channels of the first stage (doubled at each reduction).
    pub channels: i64,
    /// Cells per stage (3 stages).
    pub cells_per_stage: usize,
    /// Input channels.
    pub in_channels: i64,
    /// Classes.
    pub classes: i64,
}

impl Default for NetworkConfig {
    /// A small network for the procedural data: 8 channels, 1 cell per stage, RGB, 10 classes.
    fn default() -> Self {
        NetworkConfig { channels: 8, cells_per_stage: 1, in_channels: 3, classes: 10 }
    }
}

/// A classification network built from one cell (see the module docs).
#[derive(Debug)]
pub struct CellNetwork {
    stem: (nn::Conv2D, nn::BatchNorm),
    stages: Vec<Vec<CellModule>>,
    reductions: Vec<Reduction>,
    head_bn: nn::BatchNorm,
    classifier: nn::Linear,
}

impl CellNetwork {
    /// Builds the network for `cell` of `space` under `path`.
    ///
    /// # Errors
    /// An invalid cell, an op without a network, non-positive sizes.
    pub fn new(path: &nn::Path<'_>, space: &CellSpace, cell: &Cell, cfg: NetworkConfig) -> Result<Self> {
        if cfg.channels < 1 || cfg.in_channels < 1 || cfg.classes < 2 || cfg.cells_per_stage == 0 {
            return Err(Error::invalid(
                "config",
                format!("{cfg:?}"),
                "sizes must be positive and classes ≥ 2",
            ));
        }
        let c = cfg.channels;
        let stem_cfg = nn::ConvConfig { padding: 1, bias: false, ..Default::default() };
        let stem = (
            nn::conv2d(path / "stem", cfg.in_channels, c, 3, stem_cfg),
            nn::batch_norm2d(path / "stem_bn", c, Default::default()),
        );
        let mut stages = Vec::new();
        let mut reductions = Vec::new();
        for s in 0..3 {
            let cs = c << s;
            let cells = (0..cfg.cells_per_stage)
                .map(|k| CellModule::new(&(path / format!("stage{s}_cell{k}")), space, cell, cs))
                .collect::<Result<Vec<_>>>()?;
            stages.push(cells);
            if s < 2 {
                reductions.push(Reduction::new(&(path / format!("reduce{s}")), cs, cs * 2));
            }
        }
        let c_last = c << 2;
        Ok(CellNetwork {
            stem,
            stages,
            reductions,
            head_bn: nn::batch_norm2d(path / "head_bn", c_last, Default::default()),
            classifier: nn::linear(path / "classifier", c_last, cfg.classes, Default::default()),
        })
    }

    /// Logits `[B, classes]` for images `[B, C, H, W]` (`train` selects batch statistics).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = self.stem.1.forward_t(&self.stem.0.forward_t(x, train), train);
        for (s, cells) in self.stages.iter().enumerate() {
            for cell in cells {
                h = cell.forward_t(&h, train);
            }
            if let Some(r) = self.reductions.get(s) {
                h = r.forward_t(&h, train);
            }
        }
        let h = self.head_bn.forward_t(&h, train).relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1);
        self.classifier.forward_t(&h, train)
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
        let zero = Op::new(&vs.root(), "none", 4).unwrap().forward_t(&x, false);
        assert_eq!(zero.abs().sum(Kind::Float).double_value(&[]), 0.0);
        let id = Op::new(&vs.root(), "skip_connect", 4).unwrap().forward_t(&x, false);
        assert_eq!((id - &x).abs().max().double_value(&[]), 0.0);
        let pool = Op::new(&vs.root(), "avg_pool_3x3", 4).unwrap().forward_t(&x, false);
        // Corner: mean of the 2×2 valid neighbourhood (padding excluded).
        let corner = x.narrow(2, 0, 2).narrow(3, 0, 2).mean_dim([2i64, 3].as_slice(), false, Kind::Float);
        assert!((pool.select(2, 0).select(2, 0) - corner).abs().max().double_value(&[]) < 1e-6);
        assert!(Op::new(&vs.root(), "sep_conv_5x5", 4).is_err());
    }

    #[test]
    fn networks_train_on_procedural_images() {
        tch::manual_seed(0);
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
