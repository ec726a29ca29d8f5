//! Genotypes of the DARTS space: the operations ([`DartsOp`]), cells ([`CellGenotype`]) and [`Genotype`].

use serde::{Deserialize, Serialize};

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

    pub(super) fn encode(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(o, i)| format!("({o},{i})")).collect();
        format!("[{}]", pairs.join(","))
    }

    /// The canonical form of the module docs.
    pub(super) fn canonical(&self) -> String {
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

    pub(super) fn decode(cell: &str, body: &str) -> Result<Self> {
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
    /// The cells found by first-order DARTS on CIFAR-10 (Liu et al. 2019; `DARTS_V1` in its code).
    pub fn darts_v1() -> Self {
        use DartsOp::*;
        Genotype {
            normal: CellGenotype([
                (SepConv3x3, 1),
                (SepConv3x3, 0),
                (SkipConnect, 0),
                (SepConv3x3, 1),
                (SkipConnect, 0),
                (SepConv3x3, 1),
                (SepConv3x3, 0),
                (SkipConnect, 2),
            ]),
            reduce: CellGenotype([
                (MaxPool3x3, 0),
                (MaxPool3x3, 1),
                (SkipConnect, 2),
                (MaxPool3x3, 0),
                (MaxPool3x3, 0),
                (SkipConnect, 2),
                (SkipConnect, 2),
                (AvgPool3x3, 0),
            ]),
        }
    }

    /// sharpDARTS's published CIFAR-10 cell, "SharpSepConvDARTS" (Hundt et al. 2019;
    /// `SHARPSEPCONV_DARTS` in its code): found over the eight DARTS ops with SharpSepConv behind
    /// `sep_conv_*` / `dil_conv_*`, so build it with [`OpSet::Sharp`](super::OpSet::Sharp).
    pub fn sharp_sepconv_darts() -> Self {
        use DartsOp::*;
        Genotype {
            normal: CellGenotype([
                (SepConv3x3, 0),
                (SepConv3x3, 1),
                (SepConv3x3, 0),
                (SepConv3x3, 2),
                (SkipConnect, 0),
                (SepConv3x3, 1),
                (SkipConnect, 0),
                (SepConv3x3, 1),
            ]),
            reduce: CellGenotype([
                (MaxPool3x3, 0),
                (SkipConnect, 1),
                (SkipConnect, 2),
                (AvgPool3x3, 0),
                (SkipConnect, 2),
                (AvgPool3x3, 0),
                (SkipConnect, 2),
                (SkipConnect, 3),
            ]),
        }
    }

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

    pub(super) fn cells(&self) -> [&CellGenotype; 2] {
        [&self.normal, &self.reduce]
    }
}
