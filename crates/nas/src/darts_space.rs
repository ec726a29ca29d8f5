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

use std::collections::HashSet;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::space::SearchSpace;
use crate::{Error, Result};

/// Intermediate nodes per cell.
pub const STEPS: usize = 4;

/// Edges per cell (two per node).
pub const EDGES: usize = 2 * STEPS;

/// The eight DARTS operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DartsOp {
    /// `none`: the zero operation.
    None,
    /// `max_pool_3x3`.
    MaxPool3x3,
    /// `avg_pool_3x3`.
    AvgPool3x3,
    /// `skip_connect`: identity, or FactorizedReduce at stride 2.
    SkipConnect,
    /// `sep_conv_3x3`.
    SepConv3x3,
    /// `sep_conv_5x5`.
    SepConv5x5,
    /// `dil_conv_3x3` (dilation 2: a 5×5 receptive field).
    DilConv3x3,
    /// `dil_conv_5x5` (dilation 2: a 9×9 receptive field).
    DilConv5x5,
}

impl DartsOp {
    /// All eight operations, in DARTS's `PRIMITIVES` order.
    pub const ALL: [DartsOp; 8] = [
        DartsOp::None,
        DartsOp::MaxPool3x3,
        DartsOp::AvgPool3x3,
        DartsOp::SkipConnect,
        DartsOp::SepConv3x3,
        DartsOp::SepConv5x5,
        DartsOp::DilConv3x3,
        DartsOp::DilConv5x5,
    ];

    /// The DARTS name (`"sep_conv_3x3"`, …).
    pub fn name(self) -> &'static str {
        match self {
            DartsOp::None => "none",
            DartsOp::MaxPool3x3 => "max_pool_3x3",
            DartsOp::AvgPool3x3 => "avg_pool_3x3",
            DartsOp::SkipConnect => "skip_connect",
            DartsOp::SepConv3x3 => "sep_conv_3x3",
            DartsOp::SepConv5x5 => "sep_conv_5x5",
            DartsOp::DilConv3x3 => "dil_conv_3x3",
            DartsOp::DilConv5x5 => "dil_conv_5x5",
        }
    }

    /// The operation called `name`.
    ///
    /// # Errors
    /// An unknown name, listing the known ones.
    pub fn from_name(name: &str) -> Result<Self> {
        DartsOp::ALL.into_iter().find(|o| o.name() == name).ok_or_else(|| {
            let known: Vec<&str> = DartsOp::ALL.iter().map(|o| o.name()).collect();
            Error::invalid("op", format!("{name:?}"), format!("unknown DARTS operation; known: {known:?}"))
        })
    }
}

impl std::fmt::Display for DartsOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One cell: `EDGES` edges `(op, input state)`; edges `2j` and `2j + 1` feed node `j` (state
/// `j + 2`). Input states: 0 = `c_{k−2}`, 1 = `c_{k−1}`, `2 + i` = intermediate node `i`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellGenotype(pub [(DartsOp, usize); EDGES]);

impl CellGenotype {
    /// Checks that every node reads two distinct states that precede it.
    ///
    /// # Errors
    /// An input `≥ j + 2` at node `j`, or a node reading the same state twice.
    pub fn check(&self) -> Result<()> {
        for j in 0..STEPS {
            let (a, b) = (self.0[2 * j].1, self.0[2 * j + 1].1);
            for i in [a, b] {
                if i >= j + 2 {
                    return Err(Error::invalid(
                        format!("node {j} input"),
                        i,
                        format!("node {j} may only read states 0..{}", j + 1),
                    ));
                }
            }
            if a == b {
                return Err(Error::invalid(format!("node {j} inputs"), a, "the two inputs must be distinct"));
            }
        }
        Ok(())
    }

    fn encode(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(o, i)| format!("({o},{i})")).collect();
        format!("[{}]", pairs.join(","))
    }

    /// The canonical form of the module docs.
    fn canonical(&self) -> String {
        let nodes: Vec<String> = (0..STEPS)
            .map(|j| {
                let mut e: Vec<String> = self.0[2 * j..2 * j + 2]
                    .iter()
                    .map(|(o, i)| if *o == DartsOp::None { format!("({o},*)") } else { format!("({o},{i})") })
                    .collect();
                e.sort();
                e.join(",")
            })
            .collect();
        format!("[{}]", nodes.join(","))
    }

    fn decode(cell: &str, body: &str) -> Result<Self> {
        let inner = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')).ok_or_else(|| {
            Error::invalid(cell, format!("{body:?}"), "a cell must be a bracketed list [(op,input),…]")
        })?;
        let pieces: Vec<&str> = inner.split(')').collect();
        // `(a,0),(b,1)` splits into `(a,0`, `,(b,1`, `` — one empty tail.
        if pieces.last() != Some(&"") {
            return Err(Error::invalid(cell, format!("{inner:?}"), "expected the list to end with ')'"));
        }
        let pieces = &pieces[..pieces.len() - 1];
        if pieces.len() != EDGES {
            return Err(Error::invalid(
                cell,
                format!("{body:?}"),
                format!("expected {EDGES} (op,input) pairs, two per node, found {}", pieces.len()),
            ));
        }
        let mut edges = [(DartsOp::None, 0); EDGES];
        for (e, piece) in pieces.iter().enumerate() {
            let p = if e == 0 { Some(*piece) } else { piece.strip_prefix(',') };
            let (op, input) =
                p.and_then(|p| p.strip_prefix('(')).and_then(|p| p.split_once(',')).ok_or_else(|| {
                    Error::invalid(format!("{cell} pair {e}"), format!("{piece:?}"), "expected (op,input)")
                })?;
            let op = DartsOp::from_name(op).map_err(|err| {
                Error::invalid(format!("{cell} pair {e}"), format!("{op:?}"), err.to_string())
            })?;
            let input: usize = input.parse().map_err(|_| {
                Error::invalid(
                    format!("{cell} pair {e}"),
                    format!("{input:?}"),
                    "the input must be a state index",
                )
            })?;
            edges[e] = (op, input);
        }
        let g = CellGenotype(edges);
        g.check().map_err(|err| Error::invalid(cell, format!("{body:?}"), err.to_string()))?;
        Ok(g)
    }
}

/// A DARTS genotype: one normal and one reduction cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Genotype {
    /// The cell used at full resolution.
    pub normal: CellGenotype,
    /// The cell that halves the resolution and doubles the channels.
    pub reduce: CellGenotype,
}

impl Genotype {
    /// The cells found by second-order DARTS on CIFAR-10 (Liu et al. 2019; `DARTS_V2` in its code).
    pub fn darts_v2() -> Self {
        use DartsOp::*;
        Genotype {
            normal: CellGenotype([
                (SepConv3x3, 0),
                (SepConv3x3, 1),
                (SepConv3x3, 0),
                (SepConv3x3, 1),
                (SepConv3x3, 1),
                (SkipConnect, 0),
                (SkipConnect, 0),
                (DilConv3x3, 2),
            ]),
            reduce: CellGenotype([
                (MaxPool3x3, 0),
                (MaxPool3x3, 1),
                (SkipConnect, 2),
                (MaxPool3x3, 1),
                (MaxPool3x3, 0),
                (SkipConnect, 2),
                (SkipConnect, 2),
                (MaxPool3x3, 1),
            ]),
        }
    }

    /// Checks both cells ([`CellGenotype::check`]).
    ///
    /// # Errors
    /// An invalid cell, named.
    pub fn check(&self) -> Result<()> {
        self.normal
            .check()
            .map_err(|e| Error::invalid("normal", format!("{:?}", self.normal.0), e.to_string()))?;
        self.reduce
            .check()
            .map_err(|e| Error::invalid("reduce", format!("{:?}", self.reduce.0), e.to_string()))
    }

    fn cells(&self) -> [&CellGenotype; 2] {
        [&self.normal, &self.reduce]
    }
}

/// The DARTS search space over a subset of [`DartsOp`] (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DartsSpace {
    ops: Vec<DartsOp>,
}

impl Default for DartsSpace {
    /// All eight DARTS operations.
    fn default() -> Self {
        DartsSpace { ops: DartsOp::ALL.to_vec() }
    }
}

impl DartsSpace {
    /// A space whose edges choose among `ops`.
    ///
    /// # Errors
    /// No ops or a repeated op.
    pub fn new(ops: &[DartsOp]) -> Result<Self> {
        if ops.is_empty() {
            return Err(Error::invalid("ops", "[]", "need at least one operation"));
        }
        let mut seen = HashSet::new();
        for o in ops {
            if !seen.insert(*o) {
                return Err(Error::invalid("ops", o, "repeated operation"));
            }
        }
        Ok(DartsSpace { ops: ops.to_vec() })
    }

    /// The operations.
    pub fn ops(&self) -> &[DartsOp] {
        &self.ops
    }

    /// Number of genotypes `(2880 · |ops|⁸)²` (ordered edge pairs; saturating).
    pub fn size(&self) -> u128 {
        let inputs: u128 = (0..STEPS as u128).map(|j| (j + 2) * (j + 1)).product();
        let cell = inputs.saturating_mul((self.ops.len() as u128).saturating_pow(EDGES as u32));
        cell.saturating_mul(cell)
    }

    /// Checks that `g` is a valid genotype over this space's ops.
    ///
    /// # Errors
    /// Invalid inputs or an op outside the space.
    pub fn check(&self, g: &Genotype) -> Result<()> {
        g.check()?;
        for (name, c) in [("normal", &g.normal), ("reduce", &g.reduce)] {
            if let Some((o, _)) = c.0.iter().find(|(o, _)| !self.ops.contains(o)) {
                return Err(Error::invalid(
                    name,
                    o,
                    format!("operation outside the space; known: {:?}", self.op_names()),
                ));
            }
        }
        Ok(())
    }

    fn op_names(&self) -> Vec<&'static str> {
        self.ops.iter().map(|o| o.name()).collect()
    }

    fn sample_cell(&self, rng: &mut dyn rand::RngCore) -> CellGenotype {
        let mut edges = [(DartsOp::None, 0); EDGES];
        for j in 0..STEPS {
            let a = rng.gen_range(0..j + 2);
            let mut b = rng.gen_range(0..j + 1);
            if b >= a {
                b += 1;
            }
            edges[2 * j] = (self.ops[rng.gen_range(0..self.ops.len())], a);
            edges[2 * j + 1] = (self.ops[rng.gen_range(0..self.ops.len())], b);
        }
        CellGenotype(edges)
    }

    fn cell_neighbours(&self, c: &CellGenotype) -> Vec<CellGenotype> {
        let mut out = Vec::new();
        for e in 0..EDGES {
            let (op, input) = c.0[e];
            let sibling = c.0[e ^ 1].1;
            for &o in &self.ops {
                if o != op {
                    let mut n = c.clone();
                    n.0[e].0 = o;
                    out.push(n);
                }
            }
            for i in 0..e / 2 + 2 {
                if i != input && i != sibling {
                    let mut n = c.clone();
                    n.0[e].1 = i;
                    out.push(n);
                }
            }
        }
        out
    }
}

impl SearchSpace for DartsSpace {
    type Arch = Genotype;

    fn sample(&self, rng: &mut dyn rand::RngCore) -> Genotype {
        let normal = self.sample_cell(rng);
        let reduce = self.sample_cell(rng);
        Genotype { normal, reduce }
    }

    /// `None`: the space holds about 2·10²¹ genotypes.
    fn enumerate(&self) -> Option<Vec<Genotype>> {
        None
    }

    /// One op or one input changed (keeping the node's inputs distinct): `2 · (8 (|ops| − 1) + 12)`
    /// neighbours.
    fn neighbours(&self, a: &Genotype) -> Vec<Genotype> {
        let mut out: Vec<Genotype> = self
            .cell_neighbours(&a.normal)
            .into_iter()
            .map(|normal| Genotype { normal, reduce: a.reduce.clone() })
            .collect();
        out.extend(
            self.cell_neighbours(&a.reduce)
                .into_iter()
                .map(|reduce| Genotype { normal: a.normal.clone(), reduce }),
        );
        out
    }

    fn encode(&self, a: &Genotype) -> String {
        format!("normal={};reduce={}", a.normal.encode(), a.reduce.encode())
    }

    fn decode(&self, s: &str) -> Result<Genotype> {
        let clean: String = s.chars().filter(|c| !c.is_whitespace() && *c != '\'' && *c != '"').collect();
        let parts: Vec<&str> = clean.split(';').collect();
        if parts.len() != 2 {
            return Err(Error::invalid(
                "genotype string",
                format!("{s:?}"),
                "expected normal=[…];reduce=[…] (two ';'-separated cells)",
            ));
        }
        let mut normal = None;
        let mut reduce = None;
        for part in parts {
            let (name, body) = part.split_once('=').ok_or_else(|| {
                Error::invalid("genotype string", format!("{part:?}"), "each cell must be name=[…]")
            })?;
            let slot = match name {
                "normal" => &mut normal,
                "reduce" => &mut reduce,
                other => {
                    return Err(Error::invalid(
                        "cell name",
                        format!("{other:?}"),
                        "expected \"normal\" or \"reduce\"",
                    ))
                }
            };
            if slot.is_some() {
                return Err(Error::invalid("cell name", format!("{name:?}"), "given twice"));
            }
            *slot = Some(CellGenotype::decode(name, body)?);
        }
        let g = Genotype {
            normal: normal
                .ok_or_else(|| Error::invalid("genotype string", format!("{s:?}"), "no normal cell"))?,
            reduce: reduce
                .ok_or_else(|| Error::invalid("genotype string", format!("{s:?}"), "no reduce cell"))?,
        };
        self.check(&g)?;
        Ok(g)
    }

    fn canonical(&self, a: &Genotype) -> String {
        let [n, r] = a.cells();
        format!("normal={};reduce={}", n.canonical(), r.canonical())
    }
}

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

/// Builds modules with the variant's activation, normalisation and initialisation.
#[derive(Debug, Clone, Copy)]
struct Builder {
    variant: Variant,
    op_set: OpSet,
}

/// Convolution geometry: kernel, stride, padding, dilation, groups.
#[derive(Debug, Clone, Copy)]
struct Geom {
    k: i64,
    stride: i64,
    padding: i64,
    dilation: i64,
    groups: i64,
}

impl Geom {
    fn pointwise(stride: i64) -> Self {
        Geom { k: 1, stride, padding: 0, dilation: 1, groups: 1 }
    }
}

impl Builder {
    fn selu(&self) -> bool {
        self.variant == Variant::SelfNormalising
    }

    fn act(&self, x: &Tensor) -> Tensor {
        if self.selu() {
            x.selu()
        } else {
            x.relu()
        }
    }

    fn conv(&self, p: &nn::Path<'_>, c_in: i64, c_out: i64, g: Geom) -> nn::Conv2D {
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

    fn bn(&self, p: &nn::Path<'_>, c: i64) -> Option<nn::BatchNorm> {
        (!self.selu()).then(|| nn::batch_norm2d(p, c, Default::default()))
    }
}

fn apply_bn(bn: &Option<nn::BatchNorm>, x: Tensor, train: bool) -> Tensor {
    match bn {
        Some(bn) => bn.forward_t(&x, train),
        None => x,
    }
}

/// Activation → convolution(s) → optional BatchNorm; with a depthwise `dw` first when present
/// (the half of a separable convolution), otherwise one plain convolution (ReLU-Conv-BN).
#[derive(Debug)]
struct ActConvBn {
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
    fn relu_conv_bn(b: &Builder, p: &nn::Path<'_>, c_in: i64, c_out: i64) -> Self {
        ActConvBn {
            dw: None,
            pw: b.conv(&(p / "conv"), c_in, c_out, Geom::pointwise(1)),
            bn: b.bn(&(p / "bn"), c_out),
        }
    }

    fn forward(&self, b: &Builder, x: &Tensor, train: bool) -> Tensor {
        let mut h = b.act(x);
        if let Some(dw) = &self.dw {
            h = h.apply(dw);
        }
        apply_bn(&self.bn, h.apply(&self.pw), train)
    }
}

/// DARTS's FactorizedReduce (module docs).
#[derive(Debug)]
struct FactorizedReduce {
    a: nn::Conv2D,
    b: nn::Conv2D,
    bn: Option<nn::BatchNorm>,
}

impl FactorizedReduce {
    fn new(bld: &Builder, p: &nn::Path<'_>, c_in: i64, c_out: i64) -> Result<Self> {
        if c_out % 2 != 0 {
            return Err(Error::invalid("channels", c_out, "FactorizedReduce needs an even output width"));
        }
        Ok(FactorizedReduce {
            a: bld.conv(&(p / "conv_1"), c_in, c_out / 2, Geom::pointwise(2)),
            b: bld.conv(&(p / "conv_2"), c_in, c_out / 2, Geom::pointwise(2)),
            bn: bld.bn(&(p / "bn"), c_out),
        })
    }

    fn forward(&self, bld: &Builder, x: &Tensor, train: bool) -> Tensor {
        let h = bld.act(x);
        let (hh, ww) = (h.size()[2], h.size()[3]);
        let shifted = h.narrow(2, 1, hh - 1).narrow(3, 1, ww - 1);
        let y = Tensor::cat(&[h.apply(&self.a), shifted.apply(&self.b)], 1);
        apply_bn(&self.bn, y, train)
    }
}

/// One edge operation.
#[derive(Debug)]
enum OpModule {
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
    fn new(b: &Builder, p: &nn::Path<'_>, op: DartsOp, c: i64, stride: i64) -> Result<Self> {
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

    fn forward(&self, b: &Builder, x: &Tensor, train: bool) -> Tensor {
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

/// Preprocessing of the cell input `c_{k−2}`.
#[derive(Debug)]
enum Pre {
    Conv(ActConvBn),
    Reduce(FactorizedReduce),
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
        let pre0 = if reduction_prev {
            Pre::Reduce(FactorizedReduce::new(b, &(p / "pre0"), c_pp, c)?)
        } else {
            Pre::Conv(ActConvBn::relu_conv_bn(b, &(p / "pre0"), c_pp, c))
        };
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
        let s0 = match &self.pre0 {
            Pre::Conv(m) => m.forward(b, s0, train),
            Pre::Reduce(m) => m.forward(b, s0, train),
        };
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
        let c_stem = cfg.stem_multiplier * cfg.channels;
        let stem = b.conv(
            &(path / "stem"),
            cfg.in_channels,
            c_stem,
            Geom { k: 3, stride: 1, padding: 1, dilation: 1, groups: 1 },
        );
        let stem_bn = b.bn(&(path / "stem_bn"), c_stem);
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
        let classifier = if b.selu() {
            core_tensor::nn::mlp::lecun_normal_linear(&(path / "classifier"), c_p, cfg.classes, true)
        } else {
            core_tensor::nn::mlp::torch_default_linear(&(path / "classifier"), c_p, cfg.classes, true)
        };
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
        let size = x.size();
        let div = 1i64 << self.cfg.reduction_layers().len();
        if !x.is_floating_point() {
            return Err(Error::invalid("x", format!("{:?}", x.kind()), "images must be floating point"));
        }
        if size.len() != 4 || size[1] != self.cfg.in_channels || size[2] % div != 0 || size[3] % div != 0 {
            return Err(Error::shape(
                "x",
                format!("[B, {}, H, W] with H, W divisible by {div}", self.cfg.in_channels),
                size,
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn space() -> DartsSpace {
        DartsSpace::default()
    }

    #[test]
    fn strings_round_trip_and_parse_the_python_notation() {
        let s = space();
        let mut rng = core_tensor::seed::rng(0);
        for _ in 0..300 {
            let g = s.sample(&mut rng);
            g.check().unwrap();
            assert_eq!(s.decode(&s.encode(&g)).unwrap(), g);
        }
        let py = "normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), \
                  ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)]; \
                  reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), \
                  ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)]";
        assert_eq!(s.decode(py).unwrap(), Genotype::darts_v2());
        let text = s.encode(&Genotype::darts_v2());
        assert!(text.starts_with("normal=[(sep_conv_3x3,0),(sep_conv_3x3,1),"), "{text}");
        // The cells may come in either order.
        let (n, r) = text.split_once(';').unwrap();
        assert_eq!(s.decode(&format!("{r};{n}")).unwrap(), Genotype::darts_v2());
    }

    #[test]
    fn malformed_strings_and_unknown_ops_are_errors() {
        let s = space();
        let good = s.encode(&Genotype::darts_v2());
        let e = s.decode(&good.replace("dil_conv_3x3", "conv_7x7")).unwrap_err().to_string();
        assert!(e.contains("conv_7x7") && e.contains("sep_conv_5x5") && e.contains("pair 7"), "{e}");
        // Node 0 may only read states 0 and 1.
        let e = s.decode(&good.replacen("(sep_conv_3x3,1)", "(sep_conv_3x3,2)", 1)).unwrap_err().to_string();
        assert!(e.contains("node 0"), "{e}");
        // Repeated input at a node.
        let e = s.decode(&good.replacen("(sep_conv_3x3,1)", "(sep_conv_3x3,0)", 1)).unwrap_err().to_string();
        assert!(e.contains("distinct"), "{e}");
        for bad in [
            "",
            "normal=[]",
            &good.replace(";reduce", ";cell"),
            &good.replace("reduce=", "normal="),
            &good.replacen("(sep_conv_3x3,0),", "", 1),
            &good.replacen("(sep_conv_3x3,0)", "(sep_conv_3x3,x)", 1),
            &good.replacen("(sep_conv_3x3,0)", "sep_conv_3x3,0", 1),
            &good.replacen("]", "", 1),
            &format!("{good};normal=[]"),
        ] {
            assert!(s.decode(bad).is_err(), "{bad:?} should not parse");
        }
        // An op outside a restricted space.
        let no_none = DartsSpace::new(&DartsOp::ALL[1..]).unwrap();
        let mut g = Genotype::darts_v2();
        g.normal.0[3].0 = DartsOp::None;
        let e = no_none.decode(&s.encode(&g)).unwrap_err().to_string();
        assert!(e.contains("none") && e.contains("outside"), "{e}");
        assert!(DartsSpace::new(&[]).is_err());
        assert!(DartsSpace::new(&[DartsOp::None, DartsOp::None]).is_err());
        assert!(DartsOp::from_name("sep_conv_7x7").is_err());
    }

    #[test]
    fn canonical_key_ignores_input_order_and_none_inputs() {
        let s = space();
        let mut rng = core_tensor::seed::rng(3);
        for _ in 0..100 {
            let g = s.sample(&mut rng);
            let mut swapped = g.clone();
            for j in 0..STEPS {
                swapped.normal.0.swap(2 * j, 2 * j + 1);
                swapped.reduce.0.swap(2 * j, 2 * j + 1);
            }
            assert_eq!(s.canonical(&g), s.canonical(&swapped));
            // Any single change of a non-`none` edge changes the key.
            for n in s.neighbours(&g) {
                let changed_none_input =
                    [(&g.normal, &n.normal), (&g.reduce, &n.reduce)].iter().any(|(a, b)| {
                        a.0.iter()
                            .zip(b.0.iter())
                            .any(|(x, y)| x.0 == DartsOp::None && y.0 == DartsOp::None && x != y)
                    });
                assert_eq!(s.canonical(&g) == s.canonical(&n), changed_none_input);
            }
        }
        // Node 1 may read states 0, 1, 2; a `none` edge there contributes zeros whatever it reads.
        let mut a = Genotype::darts_v2();
        a.normal.0[2] = (DartsOp::None, 0);
        let mut b = a.clone();
        b.normal.0[2] = (DartsOp::None, 2);
        b.check().unwrap();
        assert_eq!(s.canonical(&a), s.canonical(&b));
        assert!(s.canonical(&a).contains("(none,*)"));
    }

    #[test]
    fn neighbours_change_one_decision() {
        let s = space();
        let mut rng = core_tensor::seed::rng(5);
        let g = s.sample(&mut rng);
        let n = s.neighbours(&g);
        // Per cell: 8 edges × 7 other ops, plus Σ_edges (j + 2 − 2) other valid inputs = 2·(0+1+2+3).
        assert_eq!(n.len(), 2 * (8 * 7 + 12));
        let diff = |a: &CellGenotype, b: &CellGenotype| {
            a.0.iter()
                .zip(b.0.iter())
                .map(|(x, y)| (x.0 != y.0) as usize + (x.1 != y.1) as usize)
                .sum::<usize>()
        };
        for x in &n {
            x.check().unwrap();
            assert_eq!(diff(&g.normal, &x.normal) + diff(&g.reduce, &x.reduce), 1);
        }
        assert_eq!(n.iter().collect::<HashSet<_>>().len(), n.len());
        let m = s.mutate(&g, &mut rng);
        assert!(n.contains(&m));
        assert!(s.enumerate().is_none());
        assert_eq!(s.size(), (2880u128 * 8u128.pow(8)).pow(2));
        // Sampling is uniform: node 1 has 3 · 2 = 6 ordered input pairs and |ops| = 8 ops per edge.
        let draws = 6000;
        let mut pairs = std::collections::HashMap::new();
        let mut ops = std::collections::HashMap::new();
        for _ in 0..draws {
            let c = s.sample(&mut rng).reduce;
            *pairs.entry((c.0[2].1, c.0[3].1)).or_insert(0usize) += 1;
            *ops.entry(c.0[5].0).or_insert(0usize) += 1;
        }
        assert_eq!(pairs.len(), 6);
        assert_eq!(ops.len(), 8);
        // Binomial s.d. of a frequency: √(p(1−p)/n) ≤ 0.0048 here; allow 4 s.d.
        assert!(pairs.values().all(|&k| (k as f64 / draws as f64 - 1.0 / 6.0).abs() < 0.02), "{pairs:?}");
        assert!(ops.values().all(|&k| (k as f64 / draws as f64 - 1.0 / 8.0).abs() < 0.018), "{ops:?}");
        // Sampling is deterministic given the seed.
        assert_eq!(s.sample(&mut core_tensor::seed::rng(9)), s.sample(&mut core_tensor::seed::rng(9)));
    }

    fn builders() -> Vec<Builder> {
        let mut out = Vec::new();
        for variant in [Variant::Standard, Variant::SelfNormalising] {
            for op_set in [OpSet::Darts, OpSet::Sharp { mid_mult: 1.5 }] {
                out.push(Builder { variant, op_set });
            }
        }
        out
    }

    #[test]
    fn every_op_keeps_or_halves_the_spatial_shape() {
        let x = Tensor::randn([2, 4, 8, 8], (Kind::Float, Device::Cpu));
        for b in builders() {
            let vs = nn::VarStore::new(Device::Cpu);
            for op in DartsOp::ALL {
                for (stride, side) in [(1, 8), (2, 4)] {
                    let m = OpModule::new(&b, &(vs.root() / format!("{op}{stride}")), op, 4, stride).unwrap();
                    let y = m.forward(&b, &x, true);
                    assert_eq!(y.size(), vec![2, 4, side, side], "{op} stride {stride} {b:?}");
                }
            }
        }
        // Closed forms for the parameter-free ops.
        let b = builders()[0];
        let vs = nn::VarStore::new(Device::Cpu);
        let run = |op: DartsOp, stride: i64| {
            OpModule::new(&b, &vs.root(), op, 4, stride).unwrap().forward(&b, &x, false)
        };
        assert!(run(DartsOp::SkipConnect, 1).equal(&x));
        assert_eq!(run(DartsOp::None, 2).abs().sum(Kind::Float).double_value(&[]), 0.0);
        // Max pool, stride 2, at output (1, 2): max over rows 1..=3, cols 3..=5.
        let mp = run(DartsOp::MaxPool3x3, 2).double_value(&[1, 2, 1, 2]);
        let window = x.get(1).get(2).narrow(0, 1, 3).narrow(1, 3, 3);
        assert_eq!(mp, window.max().double_value(&[]));
        // Average pool, stride 1, at the corner: the 2×2 valid neighbourhood.
        let ap = run(DartsOp::AvgPool3x3, 1).double_value(&[0, 1, 0, 0]);
        let corner = x.get(0).get(1).narrow(0, 0, 2).narrow(1, 0, 2).mean(Kind::Float).double_value(&[]);
        assert!((ap - corner).abs() < 1e-6);
    }

    #[test]
    fn separable_convolutions_have_the_published_parameter_counts() {
        let count = |b: Builder, op: DartsOp, c: i64| {
            let vs = nn::VarStore::new(Device::Cpu);
            let _m = OpModule::new(&b, &vs.root(), op, c, 1).unwrap();
            vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>() as i64
        };
        let darts = Builder { variant: Variant::Standard, op_set: OpSet::Darts };
        let c = 6;
        // SepConv: 2 × (k²C depthwise + C² pointwise + 2C BN affine).
        assert_eq!(count(darts, DartsOp::SepConv5x5, c), 2 * (25 * c + c * c + 2 * c));
        // DilConv: k²C + C² + 2C.
        assert_eq!(count(darts, DartsOp::DilConv3x3, c), 9 * c + c * c + 2 * c);
        // FactorizedReduce (stride 2 skip): 2 × C·C/2 + 2C.
        let vs = nn::VarStore::new(Device::Cpu);
        let _fr = OpModule::new(&darts, &vs.root(), DartsOp::SkipConnect, c, 2).unwrap();
        assert_eq!(vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>() as i64, c * c + 2 * c);
        // SharpSepConv with C_mid = 2C: k²C + C·C_mid + 2C_mid + k²C_mid + C_mid·C + 2C.
        let sharp = Builder { variant: Variant::Standard, op_set: OpSet::Sharp { mid_mult: 2.0 } };
        let m = 2 * c;
        assert_eq!(count(sharp, DartsOp::DilConv3x3, c), 9 * c + c * m + 2 * m + 9 * m + m * c + 2 * c);
        // The self-normalising variant has no BatchNorm parameters.
        let selu = Builder { variant: Variant::SelfNormalising, op_set: OpSet::Darts };
        assert_eq!(count(selu, DartsOp::SepConv3x3, c), 2 * (9 * c + c * c));
    }

    fn tiny(variant: Variant, op_set: OpSet) -> DartsNetConfig {
        DartsNetConfig { channels: 4, layers: 3, classes: 2, variant, op_set, ..Default::default() }
    }

    #[test]
    fn networks_have_the_right_shapes() {
        let mut rng = core_tensor::seed::rng(11);
        let x = Tensor::randn([3, 3, 8, 8], (Kind::Float, Device::Cpu));
        for b in builders() {
            let vs = nn::VarStore::new(Device::Cpu);
            let g = space().sample(&mut rng);
            let net = DartsNetwork::new(&vs.root(), &g, tiny(b.variant, b.op_set)).unwrap();
            assert_eq!(net.forward_t(&x, true).unwrap().size(), vec![3, 2]);
            // Two reductions: 4 → 8 → 16 channels per node, 4 nodes concatenated.
            assert_eq!(net.features(&x, false).unwrap().size(), vec![3, 4 * 16]);
        }
        let vs = nn::VarStore::new(Device::Cpu);
        let net = DartsNetwork::new(&vs.root(), &Genotype::darts_v2(), tiny(Variant::Standard, OpSet::Darts))
            .unwrap();
        assert_eq!(net.config().reduction_layers(), vec![1, 2]);
        for bad in [[3, 3, 6, 8], [3, 1, 8, 8]] {
            let e = net.forward_t(&Tensor::zeros(bad, (Kind::Float, Device::Cpu)), false).unwrap_err();
            assert!(e.to_string().contains('x'), "{e}");
        }
        assert!(net.forward_t(&Tensor::zeros([8, 8], (Kind::Float, Device::Cpu)), false).is_err());
        for cfg in [
            DartsNetConfig { channels: 0, ..tiny(Variant::Standard, OpSet::Darts) },
            DartsNetConfig { classes: 1, ..tiny(Variant::Standard, OpSet::Darts) },
            DartsNetConfig { drop_path_prob: 1.0, ..tiny(Variant::Standard, OpSet::Darts) },
            tiny(Variant::Standard, OpSet::Sharp { mid_mult: f64::NAN }),
        ] {
            assert!(DartsNetwork::new(&vs.root(), &Genotype::darts_v2(), cfg).is_err(), "{cfg:?}");
        }
        let mut bad = Genotype::darts_v2();
        bad.reduce.0[7].1 = 9;
        let e = DartsNetwork::new(&vs.root(), &bad, tiny(Variant::Standard, OpSet::Darts))
            .unwrap_err()
            .to_string();
        assert!(e.contains("reduce") && e.contains("node 3"), "{e}");
    }

    #[test]
    fn a_few_steps_lower_the_loss_on_a_two_class_task() {
        for (variant, op_set) in
            [(Variant::Standard, OpSet::Darts), (Variant::SelfNormalising, OpSet::Sharp { mid_mult: 1.0 })]
        {
            core_tensor::seed::seed_torch(0);
            let gen = crate::data::ProceduralImages { classes: 2, size: 8, noise: 0.05 };
            let (x, y) = gen.generate(32, &mut core_tensor::seed::rng(1)).unwrap();
            let vs = nn::VarStore::new(Device::Cpu);
            let mut net =
                DartsNetwork::new(&vs.root(), &Genotype::darts_v2(), tiny(variant, op_set)).unwrap();
            let mut opt = core_tensor::train::Optimizer::from_var_store(
                core_tensor::train::OptimizerConfig::adam(3e-3),
                &vs,
            )
            .unwrap();
            // Batch statistics in both measurements (running averages lag after a few steps).
            let loss = |net: &DartsNetwork| net.forward_t(&x, true).unwrap().cross_entropy_for_logits(&y);
            let before = tch::no_grad(|| loss(&net).double_value(&[]));
            net.set_drop_path_prob(0.1).unwrap();
            for _ in 0..12 {
                opt.zero_grad();
                loss(&net).backward();
                opt.step().unwrap();
            }
            net.set_drop_path_prob(0.0).unwrap();
            let after = tch::no_grad(|| loss(&net).double_value(&[]));
            assert!(after < 0.8 * before, "{variant:?}: loss {before} → {after}");
        }
    }

    #[test]
    fn selu_variant_self_normalises_through_a_deep_stack() {
        core_tensor::seed::seed_torch(2);
        let selu = Builder { variant: Variant::SelfNormalising, op_set: OpSet::Darts };
        let plain = Builder { variant: Variant::Standard, op_set: OpSet::Darts };
        let vs = nn::VarStore::new(Device::Cpu);
        let depth = 16;
        let stack = |b: &Builder, name: &str| {
            (0..depth)
                .map(|i| {
                    OpModule::new(b, &(vs.root() / format!("{name}{i}")), DartsOp::SepConv3x3, 32, 1).unwrap()
                })
                .collect::<Vec<_>>()
        };
        let (s, p) = (stack(&selu, "selu"), stack(&plain, "plain"));
        let x = Tensor::randn([4, 32, 64, 64], (Kind::Float, Device::Cpu));
        let stats = |t: &Tensor| (t.mean(Kind::Float).double_value(&[]), t.var(false).double_value(&[]));
        // Tolerance: per output channel a LeCun-normal depthwise 3×3 kernel has gain χ²₉/9 (relative
        // s.d. √(2/9) ≈ 0.47) and a 32-input pointwise one χ²₃₂/32 (0.25), and zero padding removes
        // ≈ 6 % of the variance per depthwise layer at 64×64. SELU's attracting fixed point (0, 1)
        // undoes these deviations layer by layer, so over 32 SELU layers the statistics stay in a band
        // around (0, 1) (measured: |mean| ≤ 0.02, variance 0.70–1.03) instead of drifting.
        let mut h = x.shallow_clone();
        for (i, m) in s.iter().enumerate() {
            h = m.forward(&selu, &h, false);
            let (mean, var) = stats(&h);
            assert!(mean.abs() < 0.1 && (0.6..1.4).contains(&var), "SELU op {i}: mean {mean}, var {var}");
        }
        // The ReLU version with PyTorch's default initialisation (BatchNorm in evaluation mode is the
        // identity at initialisation) shrinks the variance by ≈ 1/6 per convolution.
        let mut h = x.shallow_clone();
        for m in &p {
            h = m.forward(&plain, &h, false);
        }
        let (_, var_plain) = stats(&h);
        assert!(var_plain < 1e-6, "ReLU stack variance {var_plain}");
    }
}
