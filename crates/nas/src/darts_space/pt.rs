//! DARTS-PT on the DARTS space (Wang et al. 2021): perturbation-based selection of a genotype from
//! a trained [`DartsSupernet`].
//!
//! 1. **Operations.** The 28 edges (14 per cell type) are visited in a random order. On each, every
//!    op still present is removed in turn (the others keep their weights) and the supernet's
//!    validation accuracy measured; the edge keeps the op whose removal hurts most (`none` is never
//!    kept). Between decisions the weights are fine-tuned (`α` frozen).
//! 2. **Topology.** The nodes with more than two incoming edges (nodes 1–3 of each cell) are visited
//!    in a random order; on each, edges are dropped greedily until two are left: every remaining
//!    edge is removed in turn and the one whose removal leaves the highest accuracy is dropped for
//!    good. Fine-tuning again between decisions.
//!
//! The result is the supernet's [`DartsSupernet::genotype`] once every edge is decided.

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::nn;

use super::genotype::{DartsOp, Genotype, STEPS};
use super::network::check_images;
use super::supernet::{node_edges, DartsSupernet, MIXED_EDGES};
use crate::supernet::most_damaging;
use crate::train::{cross_entropy, sgd_epochs, ImageData, TrainConfig};
use crate::{Error, Result};
use core_tensor::train::optim::trainable_named;

/// What one DARTS-PT decision saw and kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtStep {
    /// 0 normal, 1 reduction.
    pub cell: usize,
    /// The edge (op selection) or the node (topology selection).
    pub target: PtTarget,
    /// Supernet validation accuracy with each candidate removed (NaN: not a candidate); for a node,
    /// the first round of the greedy edge removal.
    pub acc_without: Vec<f64>,
    /// The candidates kept: one op index, or the two edge inputs of the node.
    pub kept: Vec<usize>,
}

/// The object of a [`PtStep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PtTarget {
    /// The op of mixed edge `e`.
    Edge(usize),
    /// The incoming edges of node `j`.
    Node(usize),
}

fn tune(
    net: &DartsSupernet,
    weights: &nn::VarStore,
    data: &ImageData,
    cfg: &TrainConfig,
    epochs: usize,
    rng: &mut impl Rng,
) -> Result<()> {
    if epochs > 0 {
        let loss = |x: &tch::Tensor, y: &tch::Tensor| cross_entropy(&net.forward_checked(x, true), y);
        sgd_epochs(trainable_named(weights), loss, &data.x_train, &data.y_train, cfg, epochs, rng)?;
    }
    Ok(())
}

/// Runs DARTS-PT's selection (module docs) on a trained supernet with no decisions yet; between
/// decisions the weights are fine-tuned for `tune_epochs` epochs of `tune_cfg`. Returns the genotype
/// and the decisions in order; the supernet is left restricted to that genotype.
///
/// # Errors
/// Invalid data or settings, a supernet that already holds decisions, or a non-finite loss while
/// fine-tuning.
pub fn darts_pt_genotype(
    net: &mut DartsSupernet,
    weights: &nn::VarStore,
    data: &ImageData,
    tune_cfg: &TrainConfig,
    tune_epochs: usize,
    rng: &mut impl Rng,
) -> Result<(Genotype, Vec<PtStep>)> {
    data.validate()?;
    tune_cfg.validate()?;
    check_images(&data.x_train, &net.config().net)?;
    check_images(&data.x_val, &net.config().net)?;
    let fresh =
        (0..2).all(|t| (0..MIXED_EDGES).all(|e| net.decided_op(t, e).is_none() && !net.edge_removed(t, e)));
    if !fresh {
        return Err(Error::invalid(
            "supernet",
            "with decisions",
            "DARTS-PT starts from an undecided supernet",
        ));
    }
    let ops: Vec<DartsOp> = net.space().ops().to_vec();
    let k = ops.len();
    let acc = |net: &DartsSupernet| net.val_accuracy(&data.x_val, &data.y_val, 256);
    let mut steps = Vec::new();
    // 1. operations
    let mut edges: Vec<(usize, usize)> = (0..2).flat_map(|t| (0..MIXED_EDGES).map(move |e| (t, e))).collect();
    edges.shuffle(rng);
    for (n, &(t, e)) in edges.iter().enumerate() {
        let mut acc_without = vec![f64::NAN; k];
        for o in 0..k {
            if ops[o] == DartsOp::None || !net.op_available(t, e, o) {
                continue;
            }
            net.set_op_removed(t, e, o, true)?;
            let a = acc(net);
            net.set_op_removed(t, e, o, false)?;
            acc_without[o] = a?;
        }
        let op = most_damaging(&acc_without)
            .ok_or_else(|| Error::invalid("space", format!("{ops:?}"), "needs an op other than none"))?;
        net.decide_op(t, e, op)?;
        steps.push(PtStep { cell: t, target: PtTarget::Edge(e), acc_without, kept: vec![op] });
        if n + 1 < edges.len() {
            tune(net, weights, data, tune_cfg, tune_epochs, rng)?;
        }
    }
    // 2. topology
    let mut nodes: Vec<(usize, usize)> = (0..2).flat_map(|t| (1..STEPS).map(move |j| (t, j))).collect();
    nodes.shuffle(rng);
    for (n, &(t, j)) in nodes.iter().enumerate() {
        let r = node_edges(j);
        // greedy: drop the edge whose removal hurts least until two are left
        let mut alive: Vec<usize> = (0..r.len()).collect();
        let mut acc_without = vec![f64::NAN; r.len()];
        while alive.len() > 2 {
            let mut round = Vec::with_capacity(alive.len());
            for &input in &alive {
                let e = r.start + input;
                net.remove_edge(t, e, true)?;
                let a = acc(net);
                net.remove_edge(t, e, false)?;
                round.push((a?, input));
            }
            if alive.len() == r.len() {
                for &(a, input) in &round {
                    acc_without[input] = a;
                }
            }
            let (_, drop) =
                round
                    .iter()
                    .cloned()
                    .fold((f64::NEG_INFINITY, usize::MAX), |b, (a, i)| if a > b.0 { (a, i) } else { b });
            net.remove_edge(t, r.start + drop, true)?;
            alive.retain(|&i| i != drop);
        }
        let kept = alive;
        steps.push(PtStep { cell: t, target: PtTarget::Node(j), acc_without, kept });
        if n + 1 < nodes.len() {
            tune(net, weights, data, tune_cfg, tune_epochs, rng)?;
        }
    }
    Ok((net.genotype()?, steps))
}
