//! The DARTS-space supernet ([`DartsSupernet`]): all ops on all 14 edges of both cells.
//!
//! The network has the shape of a [`DartsNetwork`](super::DartsNetwork) (stem, `layers` cells with
//! reductions at `⌊L/3⌋` and `⌊2L/3⌋`, pooling, classifier), but every edge `(i → node j)` of a cell
//! (2 + 3 + 4 + 5 = [`MIXED_EDGES`] = 14 per cell) carries every op of the [`DartsSpace`], mixed as
//! `ō_e(x) = Σ_o w_{e,o} o(x)`, with `w = rule(α)` per edge ([`MixRule`]: softmax for DARTS, Max-W
//! for sharpDARTS). All normal cells share `α_normal` `[14, K]`, all reduction cells `α_reduce`.
//! Node `j` sums its incoming mixed edges.
//!
//! **PC-DARTS** (Xu et al. 2020), [`SupernetConfig::partial_channels`] `= k > 1`: an edge sends only
//! the first `C/k` channels of its input through the ops; the other channels bypass them (max-pooled
//! 2×2 on a stride-2 edge), the two parts are concatenated and the channels shuffled in `k` groups,
//! which cuts the memory and time of the mixed ops by about `k`. With
//! [`SupernetConfig::edge_normalisation`], every edge is also scaled by `softmax(β)` over the edges
//! entering its node (`β_normal`, `β_reduce` `[14]`), and the genotype ranks edges by `w · β`.
//!
//! **Discretisation** ([`DartsSupernet::genotype`], DARTS's rule): on every node keep the two
//! incoming edges whose strongest op other than `none` has the largest weight, each with that op.
//! **Decisions** ([`DartsSupernet::decide_op`], [`DartsSupernet::remove_edge`],
//! [`DartsSupernet::set_genotype`]) fix ops and remove edges, as DARTS-PT does and as scoring a
//! genotype with the supernet's shared weights does.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::config::DartsNetConfig;
use super::genotype::{CellGenotype, DartsOp, Genotype, EDGES, STEPS};
use super::network::{cell_shapes, check_images, classifier, stem, CellInputs};
use super::ops::{apply_bn, Builder, OpModule};
use super::search_space::DartsSpace;
use crate::supernet::{masked_weights, mix, MixRule, OneShot};
use crate::train::{accuracy, cross_entropy};
use crate::{Error, Result};

/// Mixed edges per cell: node `j` reads the two cell inputs and the `j` earlier nodes.
pub const MIXED_EDGES: usize = 14;

/// The mixed edges entering node `j` (`0..STEPS`): input `i` of node `j` is edge
/// `j (j + 3) / 2 + i`.
pub fn node_edges(j: usize) -> std::ops::Range<usize> {
    let start = j * (j + 3) / 2;
    start..start + j + 2
}

/// Settings of a [`DartsSupernet`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SupernetConfig {
    /// Network shape and op implementations (DARTS's search network: `C = 16`, 8 cells);
    /// `drop_path_prob` is not used.
    pub net: DartsNetConfig,
    /// How the ops of an edge are weighted.
    pub rule: MixRule,
    /// PC-DARTS's `k`: the ops see `C/k` of an edge's channels (1: all, as in DARTS; PC-DARTS: 4).
    pub partial_channels: i64,
    /// PC-DARTS's edge normalisation (`β`).
    pub edge_normalisation: bool,
}

impl SupernetConfig {
    /// DARTS's search network: `C = 16`, 8 cells, softmax mixing, all channels.
    pub fn darts(classes: i64) -> Self {
        SupernetConfig {
            net: DartsNetConfig { channels: 16, layers: 8, classes, ..DartsNetConfig::default() },
            rule: MixRule::Softmax,
            partial_channels: 1,
            edge_normalisation: false,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// Invalid network settings, `partial_channels < 1`, or channels that `partial_channels` does
    /// not divide into an even width (the stride-2 skip is a FactorizedReduce).
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        let k = self.partial_channels;
        if k < 1 {
            return Err(Error::invalid("partial_channels", k, "must be ≥ 1"));
        }
        let c = self.net.channels;
        if c % k != 0 || (c / k) % 2 != 0 {
            return Err(Error::invalid(
                "partial_channels",
                k,
                format!("must divide channels = {c} into an even width"),
            ));
        }
        Ok(())
    }
}

/// Decisions of one cell type.
#[derive(Debug, Clone, PartialEq)]
struct Decisions {
    removed: Vec<Vec<bool>>,
    decided: Vec<Option<usize>>,
    edge_off: Vec<bool>,
}

impl Decisions {
    fn new(k: usize) -> Self {
        Decisions {
            removed: vec![vec![false; k]; MIXED_EDGES],
            decided: vec![None; MIXED_EDGES],
            edge_off: vec![false; MIXED_EDGES],
        }
    }

    fn active(&self, e: usize, o: usize) -> bool {
        match self.decided[e] {
            Some(d) => d == o,
            None => !self.removed[e][o],
        }
    }
}

/// One cell of the supernet.
#[derive(Debug)]
struct MixedCell {
    inputs: CellInputs,
    /// `[MIXED_EDGES][K]` op modules, built on `C / partial_channels` channels.
    ops: Vec<Vec<OpModule>>,
    reduction: bool,
}

/// Channel shuffle in `groups` groups: `[B, C, H, W]` with channels `g·(C/g) + i` ↦ `i·g + g`.
fn channel_shuffle(x: &Tensor, groups: i64) -> Tensor {
    let s = x.size();
    x.view([s[0], groups, s[1] / groups, s[2], s[3]])
        .transpose(1, 2)
        .contiguous()
        .view([s[0], s[1], s[2], s[3]])
}

/// The supernet (module docs). Weights live in the var store of `weights`, `α` and `β` in that of
/// `arch`.
#[derive(Debug)]
pub struct DartsSupernet {
    space: DartsSpace,
    cfg: SupernetConfig,
    builder: Builder,
    stem: nn::Conv2D,
    stem_bn: Option<nn::BatchNorm>,
    cells: Vec<MixedCell>,
    classifier: nn::Linear,
    /// `α_normal`, `α_reduce` `[14, K]`.
    alpha: [Tensor; 2],
    /// `β_normal`, `β_reduce` `[14]` with edge normalisation.
    beta: Option<[Tensor; 2]>,
    decisions: [Decisions; 2],
}

/// Index of a cell type: 0 normal, 1 reduction.
pub const NORMAL: usize = 0;
/// Index of a cell type: 0 normal, 1 reduction.
pub const REDUCE: usize = 1;

impl DartsSupernet {
    /// Builds the supernet; `α` (and `β`) start as `10⁻³ · N(0, 1)` (DARTS).
    ///
    /// # Errors
    /// Invalid settings.
    pub fn new(
        weights: &nn::Path<'_>,
        arch: &nn::Path<'_>,
        space: &DartsSpace,
        cfg: SupernetConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        let net = cfg.net;
        let b = Builder { variant: net.variant, op_set: net.op_set };
        let (stem_conv, stem_bn, c_stem) = stem(&b, weights, &net);
        let (shapes, c_p) = cell_shapes(&net, c_stem);
        let mut cells = Vec::with_capacity(net.layers);
        for (i, shape) in shapes.iter().enumerate() {
            let p = weights / format!("cell{i}");
            let c_op = shape.c / cfg.partial_channels;
            let mut ops = Vec::with_capacity(MIXED_EDGES);
            for j in 0..STEPS {
                for (input, e) in node_edges(j).enumerate() {
                    let stride = if shape.reduction && input < 2 { 2 } else { 1 };
                    let edge = space
                        .ops()
                        .iter()
                        .map(|op| OpModule::new(&b, &(&p / format!("e{e}") / op.name()), *op, c_op, stride))
                        .collect::<Result<Vec<_>>>()?;
                    ops.push(edge);
                }
            }
            cells.push(MixedCell {
                inputs: CellInputs::new(&b, &p, shape)?,
                ops,
                reduction: shape.reduction,
            });
        }
        let classifier = classifier(&b, weights, c_p, net.classes);
        let k = space.ops().len() as i64;
        let init = nn::Init::Randn { mean: 0.0, stdev: 1e-3 };
        let alpha = [arch.var("alpha_normal", &[14, k], init), arch.var("alpha_reduce", &[14, k], init)];
        let beta = cfg
            .edge_normalisation
            .then(|| [arch.var("beta_normal", &[14], init), arch.var("beta_reduce", &[14], init)]);
        let n_ops = space.ops().len();
        Ok(DartsSupernet {
            space: space.clone(),
            cfg,
            builder: b,
            stem: stem_conv,
            stem_bn,
            cells,
            classifier,
            alpha,
            beta,
            decisions: [Decisions::new(n_ops), Decisions::new(n_ops)],
        })
    }

    /// The space searched.
    pub fn space(&self) -> &DartsSpace {
        &self.space
    }

    /// The settings.
    pub fn config(&self) -> &SupernetConfig {
        &self.cfg
    }

    /// `α` of the normal ([`NORMAL`]) or reduction ([`REDUCE`]) cell, `[14, K]`.
    pub fn alpha(&self, cell: usize) -> &Tensor {
        &self.alpha[cell.min(1)]
    }

    /// The op weights in use for a cell type `[14, K]`: the rule applied to `α`, removed ops
    /// zeroed, decided edges one-hot.
    pub fn op_weights(&self, cell: usize) -> Tensor {
        let d = &self.decisions[cell.min(1)];
        masked_weights(mix(&self.alpha[cell.min(1)], self.cfg.rule), &d.removed, &d.decided)
    }

    /// The edge weights in use for a cell type `[14]`: `softmax(β)` over the edges of each node with
    /// edge normalisation (else 1), and 0 on removed edges.
    pub fn edge_weights(&self, cell: usize) -> Tensor {
        let cell = cell.min(1);
        let a = &self.alpha[cell];
        let on: Vec<f64> =
            self.decisions[cell].edge_off.iter().map(|off| if *off { 0.0 } else { 1.0 }).collect();
        let on = Tensor::from_slice(&on).to_kind(a.kind()).to_device(a.device());
        match &self.beta {
            Some(beta) => {
                let parts: Vec<Tensor> = (0..STEPS)
                    .map(|j| {
                        let r = node_edges(j);
                        beta[cell].narrow(0, r.start as i64, r.len() as i64).softmax(0, a.kind())
                    })
                    .collect();
                Tensor::cat(&parts, 0) * on
            }
            None => on,
        }
    }

    fn mixed_edge(
        &self,
        cell: &MixedCell,
        d: &Decisions,
        e: usize,
        x: &Tensor,
        w: &Tensor,
        train: bool,
    ) -> Tensor {
        let b = &self.builder;
        let k = self.cfg.partial_channels;
        let (xa, rest) = if k > 1 {
            let c = x.size()[1];
            (x.narrow(1, 0, c / k), Some(x.narrow(1, c / k, c - c / k)))
        } else {
            (x.shallow_clone(), None)
        };
        let active: Vec<usize> = (0..cell.ops[e].len()).filter(|o| d.active(e, *o)).collect();
        let only_zero = active.iter().all(|o| cell.ops[e][*o].is_zero());
        let mut acc: Option<Tensor> = None;
        let we = w.get(e as i64);
        for o in active {
            let op = &cell.ops[e][o];
            if op.is_zero() && !only_zero {
                continue;
            }
            let y = op.forward(b, &xa, train) * we.get(o as i64);
            acc = Some(match acc {
                Some(a) => a + y,
                None => y,
            });
        }
        let y = acc.unwrap_or_else(|| cell.ops[e][0].forward(b, &xa, train).zeros_like());
        match rest {
            Some(r) => {
                let stride2 = y.size()[2] != r.size()[2];
                let r = if stride2 { r.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false) } else { r };
                channel_shuffle(&Tensor::cat(&[y, r], 1), k)
            }
            None => y,
        }
    }

    fn cell_forward(
        &self,
        cell: &MixedCell,
        s0: &Tensor,
        s1: &Tensor,
        w: &Tensor,
        ew: &Tensor,
        train: bool,
    ) -> Tensor {
        let b = &self.builder;
        let t = usize::from(cell.reduction);
        let d = &self.decisions[t];
        let mut states = cell.inputs.forward(b, s0, s1, train);
        for j in 0..STEPS {
            let mut node: Option<Tensor> = None;
            for (input, e) in node_edges(j).enumerate() {
                if d.edge_off[e] {
                    continue;
                }
                let mut y = self.mixed_edge(cell, d, e, &states[input], w, train);
                if self.beta.is_some() {
                    y *= ew.get(e as i64);
                }
                node = Some(match node {
                    Some(n) => n + y,
                    None => y,
                });
            }
            let node = node.unwrap_or_else(|| {
                // every edge removed: zeros of a node's shape
                let r = &states[1];
                let s = r.size();
                let (h, w) = if cell.reduction { ((s[2] + 1) / 2, (s[3] + 1) / 2) } else { (s[2], s[3]) };
                Tensor::zeros([s[0], s[1], h, w], (r.kind(), r.device()))
            });
            states.push(node);
        }
        Tensor::cat(&states[2..], 1)
    }

    /// Logits `[B, classes]` for images `[B, in_channels, H, W]`.
    ///
    /// # Errors
    /// A wrongly shaped input (as [`DartsNetwork::features`](super::DartsNetwork::features)).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        check_images(x, &self.cfg.net)?;
        Ok(self.forward_checked(x, train))
    }

    pub(super) fn forward_checked(&self, x: &Tensor, train: bool) -> Tensor {
        let w = [self.op_weights(NORMAL), self.op_weights(REDUCE)];
        let ew = [self.edge_weights(NORMAL), self.edge_weights(REDUCE)];
        let s = apply_bn(&self.stem_bn, x.apply(&self.stem), train);
        let (mut s0, mut s1) = (s.shallow_clone(), s);
        for cell in &self.cells {
            let t = usize::from(cell.reduction);
            let out = self.cell_forward(cell, &s0, &s1, &w[t], &ew[t], train);
            (s0, s1) = (s1, out);
        }
        self.classifier.forward(&s1.adaptive_avg_pool2d([1, 1]).flatten(1, -1))
    }

    fn check_cell_edge(&self, cell: usize, edge: usize) -> Result<()> {
        if cell > 1 {
            return Err(Error::invalid("cell", cell, "must be 0 (normal) or 1 (reduction)"));
        }
        if edge >= MIXED_EDGES {
            return Err(Error::invalid("edge", edge, format!("must be < {MIXED_EDGES}")));
        }
        Ok(())
    }

    /// Fixes edge `edge` of cell type `cell` to op `op` (an index into the space's ops).
    ///
    /// # Errors
    /// An index out of range.
    pub fn decide_op(&mut self, cell: usize, edge: usize, op: usize) -> Result<()> {
        self.check_cell_edge(cell, edge)?;
        if op >= self.space.ops().len() {
            return Err(Error::invalid("op", op, format!("must be < {}", self.space.ops().len())));
        }
        self.decisions[cell].decided[edge] = Some(op);
        Ok(())
    }

    /// Removes (or restores) op `op` of an edge; the other ops keep their weights.
    ///
    /// # Errors
    /// An index out of range.
    pub fn set_op_removed(&mut self, cell: usize, edge: usize, op: usize, removed: bool) -> Result<()> {
        self.check_cell_edge(cell, edge)?;
        if op >= self.space.ops().len() {
            return Err(Error::invalid("op", op, format!("must be < {}", self.space.ops().len())));
        }
        self.decisions[cell].removed[edge][op] = removed;
        Ok(())
    }

    /// Removes (or restores) a whole edge.
    ///
    /// # Errors
    /// An index out of range.
    pub fn remove_edge(&mut self, cell: usize, edge: usize, removed: bool) -> Result<()> {
        self.check_cell_edge(cell, edge)?;
        self.decisions[cell].edge_off[edge] = removed;
        Ok(())
    }

    /// Whether an op is still a candidate (not removed, and the edge not decided otherwise).
    pub fn op_available(&self, cell: usize, edge: usize, op: usize) -> bool {
        self.decisions[cell.min(1)].active(edge, op)
    }

    /// The op an edge is fixed to, if any.
    pub fn decided_op(&self, cell: usize, edge: usize) -> Option<usize> {
        self.decisions[cell.min(1)].decided.get(edge).copied().flatten()
    }

    /// Whether an edge has been removed.
    pub fn edge_removed(&self, cell: usize, edge: usize) -> bool {
        self.decisions[cell.min(1)].edge_off.get(edge).copied().unwrap_or(true)
    }

    /// Clears every decision and removal.
    pub fn clear_decisions(&mut self) {
        let k = self.space.ops().len();
        self.decisions = [Decisions::new(k), Decisions::new(k)];
    }

    /// Restricts the supernet to `genotype`: its 8 edges per cell fixed to their ops, every other
    /// edge removed (the supernet then computes that genotype's network with the shared weights).
    ///
    /// # Errors
    /// An invalid genotype or an op outside the space.
    pub fn set_genotype(&mut self, genotype: &Genotype) -> Result<()> {
        self.space.check(genotype)?;
        self.clear_decisions();
        for (t, g) in [&genotype.normal, &genotype.reduce].into_iter().enumerate() {
            self.decisions[t].edge_off = vec![true; MIXED_EDGES];
            for (slot, (op, input)) in g.0.iter().enumerate() {
                let e = node_edges(slot / 2).start + input;
                let o = self.op_index(*op)?;
                self.decisions[t].edge_off[e] = false;
                self.decisions[t].decided[e] = Some(o);
            }
        }
        Ok(())
    }

    /// Validation accuracy of `genotype` inside the supernet (shared weights, training-mode
    /// BatchNorm); the decisions in place before are restored.
    ///
    /// # Errors
    /// As [`DartsSupernet::set_genotype`].
    pub fn genotype_accuracy(&mut self, genotype: &Genotype, x: &Tensor, y: &Tensor) -> Result<f64> {
        let saved = self.decisions.clone();
        let r = self.set_genotype(genotype).and_then(|_| self.val_accuracy(x, y, 256));
        self.decisions = saved;
        r
    }

    fn op_index(&self, op: DartsOp) -> Result<usize> {
        self.space
            .ops()
            .iter()
            .position(|o| *o == op)
            .ok_or_else(|| Error::invalid("op", op.name(), "is not an op of the space"))
    }

    /// Supernet validation accuracy (training-mode BatchNorm).
    ///
    /// # Errors
    /// Wrongly shaped images.
    pub fn val_accuracy(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<f64> {
        check_images(x, &self.cfg.net)?;
        Ok(accuracy(|xb| self.forward_checked(xb, true), x, y, batch_size))
    }

    /// DARTS's discretisation (module docs): per node the two strongest incoming edges that are
    /// not removed, each with its strongest op other than `none` (or its decided op).
    ///
    /// # Errors
    /// A node with fewer than two edges left, or an edge with no op but `none`.
    pub fn genotype(&self) -> Result<Genotype> {
        let none = self.space.ops().iter().position(|o| *o == DartsOp::None);
        let mut cells = Vec::with_capacity(2);
        for t in [NORMAL, REDUCE] {
            let w = Vec::<Vec<f64>>::try_from(self.op_weights(t).detach().to_kind(Kind::Double))?;
            let ew = Vec::<f64>::try_from(self.edge_weights(t).detach().to_kind(Kind::Double))?;
            let d = &self.decisions[t];
            let mut entries = [(DartsOp::None, 0usize); EDGES];
            for j in 0..STEPS {
                let mut cand: Vec<(f64, usize, usize)> = Vec::new();
                for (input, e) in node_edges(j).enumerate() {
                    if d.edge_off[e] {
                        continue;
                    }
                    let op = match d.decided[e] {
                        Some(o) => Some(o),
                        None => (0..w[e].len()).filter(|o| Some(*o) != none && d.active(e, *o)).fold(
                            None,
                            |b: Option<usize>, o| match b {
                                Some(b) if w[e][b] >= w[e][o] => Some(b),
                                _ => Some(o),
                            },
                        ),
                    };
                    if let Some(o) = op {
                        cand.push((w[e][o] * ew[e], input, o));
                    }
                }
                if cand.len() < 2 {
                    return Err(Error::invalid(
                        "supernet",
                        format!("node {j} of the {} cell", ["normal", "reduction"][t]),
                        "has fewer than two edges with an op other than none",
                    ));
                }
                // strongest first; ties by the lower input
                cand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                for (k, (_, input, o)) in cand.into_iter().take(2).enumerate() {
                    entries[2 * j + k] = (self.space.ops()[o], input);
                }
            }
            cells.push(CellGenotype(entries));
        }
        let reduce = cells.pop().expect("two cells");
        let normal = cells.pop().expect("two cells");
        let g = Genotype { normal, reduce };
        g.check()?;
        Ok(g)
    }
}

impl OneShot for DartsSupernet {
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(cross_entropy(&self.forward_t(x, true)?, y))
    }

    fn arch_parameters(&self) -> Vec<Tensor> {
        let mut v: Vec<Tensor> = self.alpha.iter().map(Tensor::shallow_clone).collect();
        if let Some(b) = &self.beta {
            v.extend(b.iter().map(Tensor::shallow_clone));
        }
        v
    }

    fn val_accuracy(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<f64> {
        DartsSupernet::val_accuracy(self, x, y, batch_size)
    }
}
