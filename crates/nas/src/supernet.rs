//! One-shot search over a [`CellSpace`]: the supernet, DARTS, Max-W, and architecture selection.
//!
//! **Supernet.** Every edge of the cell carries all ops of the space; its output is the mixed op
//! `ō(x) = Σ_o w_o · o(x)` with weights from one architecture matrix `α ∈ ℝ^{E×K}` shared by all
//! cells (edges `E`, ops `K`):
//! - [`MixRule::Softmax`] (DARTS, Liu et al. 2019): `w = softmax(α)` per edge;
//! - [`MixRule::MaxW`] (sharpDARTS, Hundt et al. 2019): `w_i = 1 − max_j s_j + s_i`,
//!   `s = softmax(α)`, so the strongest op gets weight 1 and the others trail by their gap.
//!
//! **DARTS.** Alternate an architecture step on a validation batch (Adam on `α`) and a weight step
//! on a training batch (SGD on `w`). First order uses `∇_α L_val(w, α)`; second order the
//! unrolled hypergradient (see [`hypergradient`]). Cosine power annealing is
//! [`core_tensor::train::LrSchedule::CosinePower`] in the weight schedule.
//!
//! **Selection.** Magnitude: `argmax_o α_{e,o}` on every edge. Perturbation (DARTS-PT, Wang et al.
//! 2021): repeatedly pick a random undecided edge, remove each of its ops in turn (the others keep
//! their weights) and measure the supernet's validation accuracy; keep the op whose removal hurts
//! most, fix the edge to it, fine-tune the weights, and repeat until every edge is decided.

use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use core_tensor::train::optim::trainable_named;
use core_tensor::train::{LrSchedule, Optimizer, OptimizerConfig};

use crate::model::{run_dag, NetworkConfig, Op, Skeleton};
use crate::space::{Cell, CellSpace};
use crate::train::{
    accuracy, batch_indices, cross_entropy, grads_or_zeros, sgd_epochs, sgd_step, ImageData, TrainConfig,
};
use crate::{Error, Result};

/// How the ops of a mixed edge are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MixRule {
    /// `w = softmax(α)` (DARTS).
    Softmax,
    /// `w_i = 1 − max_j s_j + s_i`, `s = softmax(α)` (sharpDARTS Max-W).
    MaxW,
}

/// The rule applied to `α` `[E, K]` row by row.
pub(crate) fn mix(alpha: &Tensor, rule: MixRule) -> Tensor {
    let s = alpha.softmax(-1, alpha.kind());
    match rule {
        MixRule::Softmax => s,
        MixRule::MaxW => 1.0 - s.max_dim(-1, true).0 + &s,
    }
}

/// `base` `[E, K]` with removed ops zeroed and decided edges one-hot.
pub(crate) fn masked_weights(base: Tensor, removed: &[Vec<bool>], decided: &[Option<usize>]) -> Tensor {
    let (e, k) = (decided.len(), base.size()[1] as usize);
    let mut keep = vec![0f64; e * k];
    let mut fixed = vec![0f64; e * k];
    let mut is_fixed = vec![0f64; e];
    for r in 0..e {
        match decided[r] {
            Some(o) => {
                fixed[r * k + o] = 1.0;
                is_fixed[r] = 1.0;
            }
            None => {
                for o in 0..k {
                    keep[r * k + o] = if removed[r][o] { 0.0 } else { 1.0 };
                }
            }
        }
    }
    let opts = (base.kind(), base.device());
    let t =
        |v: Vec<f64>, shape: [i64; 2]| Tensor::from_slice(&v).view(shape).to_kind(opts.0).to_device(opts.1);
    let (ei, ki) = (e as i64, k as i64);
    base * t(keep, [ei, ki]) + t(fixed, [ei, ki]) * t(is_fixed, [ei, 1])
}

/// A weight-sharing network DARTS can search: [`Supernet`] (cell spaces) and
/// [`DartsSupernet`](crate::darts_space::DartsSupernet) (the DARTS space).
pub trait OneShot {
    /// Cross-entropy on a batch (training-mode BatchNorm).
    ///
    /// # Errors
    /// Inputs the network cannot take.
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor>;
    /// The architecture parameters (`α`, and `β` where present); they live outside the weights'
    /// var store.
    fn arch_parameters(&self) -> Vec<Tensor>;
    /// Validation accuracy (training-mode BatchNorm, as during search).
    ///
    /// # Errors
    /// Inputs the network cannot take.
    fn val_accuracy(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<f64>;
}

impl OneShot for Supernet {
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        Ok(Supernet::loss(self, x, y))
    }
    fn arch_parameters(&self) -> Vec<Tensor> {
        vec![self.alpha.shallow_clone()]
    }
    fn val_accuracy(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<f64> {
        Ok(Supernet::val_accuracy(self, x, y, batch_size))
    }
}

/// A cell whose every edge holds all ops.
#[derive(Debug)]
struct MixedCell {
    nodes: usize,
    edges: Vec<(usize, usize)>,
    ops: Vec<Vec<Op>>,
}

/// The supernet (module docs). Weights live in the var store of `weights`, `α` in that of `arch`.
#[derive(Debug)]
pub struct Supernet {
    space: CellSpace,
    skel: Skeleton<MixedCell>,
    alpha: Tensor,
    rule: MixRule,
    removed: Vec<Vec<bool>>,
    decided: Vec<Option<usize>>,
}

impl Supernet {
    /// Builds the supernet; `α` starts as `10⁻³ · N(0, 1)` (DARTS).
    ///
    /// # Errors
    /// Invalid sizes or an op without a network.
    pub fn new(
        weights: &nn::Path<'_>,
        arch: &nn::Path<'_>,
        space: &CellSpace,
        cfg: NetworkConfig,
        rule: MixRule,
    ) -> Result<Self> {
        let edges = space.edges();
        let skel = Skeleton::new(weights, cfg, |p, c| {
            let ops = edges
                .iter()
                .map(|(i, j)| {
                    space
                        .ops()
                        .iter()
                        .map(|o| Op::new(&(p / format!("e{i}_{j}") / o.as_str()), o, c, cfg.batch_norm))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(MixedCell { nodes: space.nodes(), edges: edges.clone(), ops })
        })?;
        let (e, k) = (space.num_edges(), space.ops().len());
        let alpha = arch.var("alpha", &[e as i64, k as i64], nn::Init::Randn { mean: 0.0, stdev: 1e-3 });
        Ok(Supernet {
            space: space.clone(),
            skel,
            alpha,
            rule,
            removed: vec![vec![false; k]; e],
            decided: vec![None; e],
        })
    }

    /// The architecture parameters `α` `[E, K]`.
    pub fn alpha(&self) -> &Tensor {
        &self.alpha
    }

    /// The space searched.
    pub fn space(&self) -> &CellSpace {
        &self.space
    }

    /// The mixing weights in use `[E, K]`: the rule applied to `α`, removed ops zeroed, decided
    /// edges one-hot.
    pub fn mixing_weights(&self) -> Tensor {
        masked_weights(mix(&self.alpha, self.rule), &self.removed, &self.decided)
    }

    /// Whether op `o` on edge `e` takes part in the forward pass.
    fn active(&self, e: usize, o: usize) -> bool {
        match self.decided[e] {
            Some(d) => d == o,
            None => !self.removed[e][o],
        }
    }

    /// Logits `[B, classes]` for images `[B, C, H, W]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let w = self.mixing_weights();
        self.skel.forward_t(x, train, None, |cell, h| {
            run_dag(cell.nodes, &cell.edges, h, |e, src| {
                let mut acc: Option<Tensor> = None;
                for (o, op) in cell.ops[e].iter().enumerate() {
                    if op.is_zero() || !self.active(e, o) {
                        continue;
                    }
                    let y = op.forward_t(src, train, None) * w.get(e as i64).get(o as i64);
                    acc = Some(match acc {
                        Some(a) => a + y,
                        None => y,
                    });
                }
                acc
            })
        })
    }

    /// Cross-entropy of the supernet on a batch (training-mode BatchNorm).
    pub fn loss(&self, x: &Tensor, y: &Tensor) -> Tensor {
        cross_entropy(&self.forward_t(x, true), y)
    }

    /// Edges not yet fixed by [`Supernet::decide`].
    pub fn undecided(&self) -> Vec<usize> {
        (0..self.decided.len()).filter(|e| self.decided[*e].is_none()).collect()
    }

    /// Fixes edge `edge` to op `op` (its other ops leave the forward pass).
    ///
    /// # Errors
    /// An edge or op index out of range.
    pub fn decide(&mut self, edge: usize, op: usize) -> Result<()> {
        self.check_edge_op(edge, op)?;
        self.decided[edge] = Some(op);
        Ok(())
    }

    /// Removes (or restores) op `op` on edge `edge`; the other ops keep their weights.
    ///
    /// # Errors
    /// An edge or op index out of range.
    pub fn set_removed(&mut self, edge: usize, op: usize, removed: bool) -> Result<()> {
        self.check_edge_op(edge, op)?;
        self.removed[edge][op] = removed;
        Ok(())
    }

    fn check_edge_op(&self, edge: usize, op: usize) -> Result<()> {
        if edge >= self.decided.len() {
            return Err(Error::invalid("edge", edge, format!("must be < {}", self.decided.len())));
        }
        if op >= self.space.ops().len() {
            return Err(Error::invalid("op", op, format!("must be < {}", self.space.ops().len())));
        }
        Ok(())
    }

    /// Magnitude selection: decided edges keep their op, the others take `argmax α`.
    pub fn magnitude_cell(&self) -> Cell {
        let a = Vec::<Vec<f64>>::try_from(self.alpha.detach().to_kind(Kind::Double)).unwrap_or_default();
        Cell(
            a.iter()
                .enumerate()
                .map(|(e, row)| {
                    self.decided[e].unwrap_or_else(|| {
                        (0..row.len()).fold(0, |best, o| if row[o] > row[best] { o } else { best })
                    })
                })
                .collect(),
        )
    }

    /// Validation accuracy of the supernet (training-mode BatchNorm, as during search).
    pub fn val_accuracy(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> f64 {
        accuracy(|xb| self.forward_t(xb, true), x, y, batch_size)
    }
}

/// Order of the DARTS architecture gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DartsOrder {
    /// `∇_α L_val(w, α)`.
    First,
    /// The unrolled hypergradient of [`hypergradient`] with `ξ` = the current weight learning rate.
    Second,
}

/// DARTS settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DartsConfig {
    /// First or second order.
    pub order: DartsOrder,
    /// Weight training protocol (SGD, schedule, epochs, batch size).
    pub weights: TrainConfig,
    /// Adam learning rate of `α` (DARTS: 3e-4).
    pub arch_lr: f64,
    /// L2 decay of `α` (DARTS: 1e-3).
    pub arch_weight_decay: f64,
    /// Finite-difference radius `r` of the second-order correction (DARTS: 0.01).
    pub fd_radius: f64,
    /// Epochs of weight training before the first architecture step (DARTS: 0, PC-DARTS: 15).
    pub arch_warmup: usize,
}

impl DartsConfig {
    /// DARTS's settings over `epochs` epochs of batch `batch_size`: weights SGD(0.9) lr 0.025 cosine
    /// to 0.001, decay 3e-4, clip 5; `α` Adam(0.5, 0.999) lr 3e-4, decay 1e-3.
    pub fn new(order: DartsOrder, epochs: usize, batch_size: usize) -> Self {
        DartsConfig {
            order,
            weights: TrainConfig {
                lr: 0.025,
                weight_decay: 3e-4,
                schedule: LrSchedule::Cosine { t_max: epochs.max(1), eta_min: 0.001 },
                ..TrainConfig::new(epochs, batch_size)
            },
            arch_lr: 3e-4,
            arch_weight_decay: 1e-3,
            fd_radius: 0.01,
            arch_warmup: 0,
        }
    }

    /// sharpDARTS's search settings: [`DartsConfig::new`] with cosine power annealing (`p = 2`) of
    /// the weight learning rate; pair it with [`MixRule::MaxW`] and the sharp op set.
    pub fn sharp(order: DartsOrder, epochs: usize, batch_size: usize) -> Self {
        let mut c = DartsConfig::new(order, epochs, batch_size);
        c.weights.schedule = LrSchedule::CosinePower { t_max: epochs.max(1), eta_min: 0.001, power: 2.0 };
        c
    }

    fn arch_optimizer(&self) -> OptimizerConfig {
        OptimizerConfig::Adam {
            lr: self.arch_lr,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: self.arch_weight_decay,
        }
    }
}

/// What one DARTS epoch ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DartsEpoch {
    /// Mean training loss.
    pub train_loss: f64,
    /// Supernet validation accuracy.
    pub val_acc: f64,
    /// The magnitude-selected cell.
    pub cell: Cell,
}

fn global_norm(ts: &[Tensor]) -> f64 {
    // summed on the device and read back once (a read per tensor syncs a GPU each time)
    let sq = ts.iter().map(|t| t.square().sum(Kind::Double)).reduce(|a, b| &a + b.to_device(a.device()));
    sq.map_or(0.0, |s| s.double_value(&[])).sqrt()
}

fn axpy(params: &[Tensor], base: &[Tensor], a: f64, dir: &[Tensor]) {
    tch::no_grad(|| {
        for ((p, b), d) in params.iter().zip(base).zip(dir) {
            let mut p = p.shallow_clone();
            p.copy_(&(b + d * a));
        }
    });
}

/// DARTS's second-order architecture gradient at the current weights `w` (`params`):
///
/// `w′ = w − ξ ∇_w L_train(w, α)`,
/// `g = ∇_α L_val(w′, α) − ξ [∇_α L_train(w⁺, α) − ∇_α L_train(w⁻, α)] / (2ε)`,
/// `w± = w ± ε ∇_{w′} L_val(w′, α)`, `ε = r / ‖∇_{w′} L_val(w′, α)‖`, `r = radius` (DARTS: 0.01).
///
/// The central difference is the only approximation. On a small test supernet `r = 10⁻⁴`
/// matches finite differences of the unrolled loss to 10⁻⁴ relative, while DARTS's `r = 0.01`
/// is far off there, so the radius is a setting ([`DartsConfig::fd_radius`]).
///
/// The weights are restored before returning. `train` and `val` are `(images, labels)` batches;
/// the result holds one gradient per architecture parameter ([`OneShot::arch_parameters`]).
///
/// # Errors
/// A non-finite `ξ` or loss.
pub fn hypergradient(
    net: &impl OneShot,
    params: &[Tensor],
    xi: f64,
    radius: f64,
    train: (&Tensor, &Tensor),
    val: (&Tensor, &Tensor),
) -> Result<Vec<Tensor>> {
    core_tensor::error::ensure_finite("xi", &[xi])?;
    core_tensor::error::ensure_positive("radius", radius)?;
    let arch = net.arch_parameters();
    let na = arch.len();
    let backup: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
    let gw = grads_or_zeros(&net.loss(train.0, train.1)?, params);
    axpy(params, &backup, -xi, &gw);
    let mut inputs = arch.iter().map(Tensor::shallow_clone).collect::<Vec<_>>();
    inputs.extend(params.iter().map(Tensor::shallow_clone));
    let lv = match net.loss(val.0, val.1) {
        Ok(l) if l.double_value(&[]).is_finite() => l,
        Ok(l) => {
            axpy(params, &backup, 0.0, &gw);
            return Err(Error::invalid("loss", l.double_value(&[]), "non-finite validation loss"));
        }
        Err(e) => {
            axpy(params, &backup, 0.0, &gw);
            return Err(e);
        }
    };
    let mut d_arch = grads_or_zeros(&lv, &inputs);
    let dw: Vec<Tensor> = d_arch.split_off(na);
    let eps = radius / global_norm(&dw).max(1e-300);
    axpy(params, &backup, eps, &dw);
    let gp = net.loss(train.0, train.1).map(|l| grads_or_zeros(&l, &arch));
    axpy(params, &backup, -eps, &dw);
    let gm = net.loss(train.0, train.1).map(|l| grads_or_zeros(&l, &arch));
    axpy(params, &backup, 0.0, &dw);
    let (gp, gm) = (gp?, gm?);
    Ok(d_arch
        .into_iter()
        .zip(gp.into_iter().zip(gm))
        .map(|(d, (p, m))| d - (p - m) * (xi / (2.0 * eps)))
        .collect())
}

/// What one epoch of [`darts_search_with`] ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchEpoch {
    /// Mean training loss.
    pub train_loss: f64,
    /// Supernet validation accuracy.
    pub val_acc: f64,
}

/// Runs DARTS on a cell-space [`Supernet`] ([`darts_search_with`]), recording the
/// magnitude-selected cell after every epoch.
///
/// # Errors
/// As [`darts_search_with`].
pub fn darts_search(
    net: &Supernet,
    weights: &nn::VarStore,
    data: &ImageData,
    cfg: &DartsConfig,
    rng: &mut impl Rng,
    mut on_epoch: impl FnMut(usize, &DartsEpoch),
) -> Result<Vec<DartsEpoch>> {
    let mut history = Vec::with_capacity(cfg.weights.epochs);
    darts_search_with(net, weights, data, cfg, rng, |e, s| {
        let rec = DartsEpoch { train_loss: s.train_loss, val_acc: s.val_acc, cell: net.magnitude_cell() };
        on_epoch(e, &rec);
        history.push(rec);
    })?;
    Ok(history)
}

/// Runs DARTS on any [`OneShot`] network `net` (weights in `weights`): each epoch alternates
/// architecture steps on validation batches (from epoch [`DartsConfig::arch_warmup`] on) and
/// weight steps on training batches.
///
/// # Errors
/// Invalid settings or data, or a non-finite loss.
pub fn darts_search_with<N: OneShot>(
    net: &N,
    weights: &nn::VarStore,
    data: &ImageData,
    cfg: &DartsConfig,
    rng: &mut impl Rng,
    mut on_epoch: impl FnMut(usize, &SearchEpoch),
) -> Result<Vec<SearchEpoch>> {
    cfg.weights.validate()?;
    cfg.arch_optimizer().validate()?;
    data.validate()?;
    let named = trainable_named(weights);
    let params: Vec<Tensor> = named.iter().map(|(_, t)| t.shallow_clone()).collect();
    let mut w_opt = Optimizer::new(cfg.weights.optimizer(), named)?;
    let arch: Vec<(String, Tensor)> =
        net.arch_parameters().into_iter().enumerate().map(|(i, t)| (format!("arch{i}"), t)).collect();
    let mut a_opt = Optimizer::new(cfg.arch_optimizer(), arch)?;
    let wc = &cfg.weights;
    let mut history = Vec::with_capacity(wc.epochs);
    // Hand-written rather than the Trainer's: a bilevel loop (architecture step on a validation
    // batch, whose second-order hypergradient perturbs the weights in place, then a weight step).
    for epoch in 0..wc.epochs {
        let lr = wc.schedule.lr(wc.lr, epoch);
        w_opt.set_lr(lr);
        let dev = data.x_train.device();
        let tb = batch_indices(data.x_train.size()[0] as usize, wc.batch_size, dev, rng);
        let vb = batch_indices(data.x_val.size()[0] as usize, wc.batch_size, dev, rng);
        let mut total = 0.0;
        for (b, ti) in tb.iter().enumerate() {
            let (xt, yt) = (data.x_train.index_select(0, ti), data.y_train.index_select(0, ti));
            if epoch >= cfg.arch_warmup {
                let vi = &vb[b % vb.len()];
                let (xv, yv) = (data.x_val.index_select(0, vi), data.y_val.index_select(0, vi));
                a_opt.zero_grad();
                match cfg.order {
                    DartsOrder::First => {
                        net.loss(&xv, &yv)?.backward();
                        a_opt.step()?;
                    }
                    DartsOrder::Second => {
                        let g = hypergradient(net, &params, lr, cfg.fd_radius, (&xt, &yt), (&xv, &yv))?;
                        a_opt.step_with(&g)?;
                    }
                }
            }
            total += sgd_step(&mut w_opt, &net.loss(&xt, &yt)?, wc.grad_clip, epoch)?;
        }
        let rec = SearchEpoch {
            train_loss: total / tb.len().max(1) as f64,
            val_acc: net.val_accuracy(&data.x_val, &data.y_val, 256)?,
        };
        on_epoch(epoch, &rec);
        history.push(rec);
    }
    Ok(history)
}

/// One DARTS-PT decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtDecision {
    /// The edge decided.
    pub edge: usize,
    /// Supernet validation accuracy with each op of the edge removed (NaN: op already absent).
    pub acc_without: Vec<f64>,
    /// The op kept.
    pub op: usize,
}

/// DARTS-PT's choice on an edge: the candidate whose removal left the lowest accuracy (the first on
/// ties); NaN marks a non-candidate. `None` when there is no candidate.
pub(crate) fn most_damaging(acc_without: &[f64]) -> Option<usize> {
    (0..acc_without.len()).filter(|o| !acc_without[*o].is_nan()).fold(None, |best, o| match best {
        Some(b) if acc_without[b] <= acc_without[o] => Some(b),
        _ => Some(o),
    })
}

/// DARTS-PT perturbation-based selection on a trained supernet (module docs). Between decisions
/// the weights are fine-tuned for `tune_epochs` epochs of `tune` (α frozen). Returns the selected
/// cell and the decisions in order; the supernet ends with every edge decided.
///
/// # Errors
/// Invalid settings or data, or a non-finite loss during fine-tuning.
pub fn darts_pt_select(
    net: &mut Supernet,
    weights: &nn::VarStore,
    data: &ImageData,
    tune: &TrainConfig,
    tune_epochs: usize,
    rng: &mut impl Rng,
) -> Result<(Cell, Vec<PtDecision>)> {
    data.validate()?;
    tune.validate()?;
    let mut decisions = Vec::new();
    while !net.undecided().is_empty() {
        let und = net.undecided();
        let edge = und[rng.gen_range(0..und.len())];
        let k = net.space.ops().len();
        let mut acc_without = vec![f64::NAN; k];
        for (o, slot) in acc_without.iter_mut().enumerate() {
            if net.removed[edge][o] {
                continue;
            }
            net.set_removed(edge, o, true)?;
            *slot = net.val_accuracy(&data.x_val, &data.y_val, 256);
            net.set_removed(edge, o, false)?;
        }
        let op = most_damaging(&acc_without)
            .ok_or_else(|| Error::invalid("edge", edge, "every op of the edge was removed"))?;
        net.decide(edge, op)?;
        decisions.push(PtDecision { edge, acc_without, op });
        if tune_epochs > 0 && !net.undecided().is_empty() {
            let (x, y) = (&data.x_train, &data.y_train);
            sgd_epochs(trainable_named(weights), |x, y| net.loss(x, y), x, y, tune, tune_epochs, rng)?;
        }
    }
    Ok((net.magnitude_cell(), decisions))
}

impl ModuleT for Supernet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        Supernet::forward_t(self, xs, train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SearchSpace;
    use tch::Device;

    fn tiny_cfg() -> NetworkConfig {
        NetworkConfig { channels: 4, classes: 3, ..NetworkConfig::default() }
    }

    #[test]
    fn mixing_weights_follow_the_rules() {
        core_tensor::seed::seed_torch(0);
        let space = CellSpace::nb201();
        let (wv, av) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
        let mut net = Supernet::new(&wv.root(), &av.root(), &space, tiny_cfg(), MixRule::MaxW).unwrap();
        tch::no_grad(|| {
            let mut a = net.alpha().shallow_clone();
            a.copy_(&(Tensor::arange(30, (Kind::Float, Device::Cpu)).view([6, 5]) * 0.1));
        });
        let w = Vec::<Vec<f64>>::try_from(net.mixing_weights().to_kind(Kind::Double)).unwrap();
        let s: Vec<f64> = {
            let e: Vec<f64> = (0..5).map(|i| (0.1 * i as f64).exp()).collect();
            let z: f64 = e.iter().sum();
            e.iter().map(|v| v / z).collect()
        };
        for (i, wi) in w[0].iter().enumerate() {
            assert!((wi - (1.0 - s[4] + s[i])).abs() < 1e-6);
        }
        net.decide(2, 1).unwrap();
        net.set_removed(0, 4, true).unwrap();
        let w = Vec::<Vec<f64>>::try_from(net.mixing_weights().to_kind(Kind::Double)).unwrap();
        assert_eq!(w[2], vec![0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(w[0][4], 0.0);
        assert!(net.decide(6, 0).is_err() && net.set_removed(0, 5, true).is_err());
        let mut c = net.magnitude_cell();
        assert_eq!(c.0, vec![4, 4, 1, 4, 4, 4]);
        c.0[2] = 4;
        assert_eq!(
            space.encode(&c),
            "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|"
        );
    }

    #[test]
    fn one_hot_supernet_equals_the_cell_network() {
        // With every edge decided the supernet computes exactly the stand-alone cell network when
        // the two share weights: compare through a var store copy.
        core_tensor::seed::seed_torch(3);
        let space = CellSpace::new(4, &["none", "skip_connect", "nor_conv_3x3"]).unwrap();
        let cell = space
            .decode("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|skip_connect~1|nor_conv_3x3~2|")
            .unwrap();
        let (wv, av) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
        let mut net = Supernet::new(&wv.root(), &av.root(), &space, tiny_cfg(), MixRule::Softmax).unwrap();
        for (e, o) in cell.0.iter().enumerate() {
            net.decide(e, *o).unwrap();
        }
        let mut cv = nn::VarStore::new(Device::Cpu);
        let cn = crate::model::CellNetwork::new(&cv.root(), &space, &cell, tiny_cfg()).unwrap();
        // Map the supernet's per-op weights onto the cell network's names.
        let sup = wv.variables();
        tch::no_grad(|| {
            for (name, mut t) in cv.variables() {
                let alt = space
                    .edges()
                    .iter()
                    .zip(&cell.0)
                    .find_map(|((i, j), o)| {
                        let pre = format!("e{i}_{j}.");
                        name.contains(&pre)
                            .then(|| name.replace(&pre, &format!("e{i}_{j}.{}.", space.ops()[*o])))
                    })
                    .unwrap_or_else(|| name.clone());
                t.copy_(&sup[&alt]);
            }
        });
        cv.freeze();
        let x = Tensor::randn([5, 3, 8, 8], (Kind::Float, Device::Cpu));
        let d = (net.forward_t(&x, false) - cn.forward_t(&x, false)).abs().max().double_value(&[]);
        assert!(d < 1e-5, "max difference {d}");
    }

    #[test]
    fn second_order_hypergradient_matches_finite_differences() {
        core_tensor::seed::seed_torch(1);
        let space = CellSpace::new(3, &["none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3"]).unwrap();
        let (mut wv, mut av) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
        let cfg = NetworkConfig { channels: 3, classes: 3, ..NetworkConfig::default() };
        let net = Supernet::new(&wv.root(), &av.root(), &space, cfg, MixRule::Softmax).unwrap();
        wv.set_kind(Kind::Double);
        av.set_kind(Kind::Double);
        tch::no_grad(|| {
            let mut a = net.alpha().shallow_clone();
            a.copy_(&(Tensor::randn([3, 4], (Kind::Double, Device::Cpu)) * 0.5));
        });
        let d = crate::train::tiny_data(24, 4);
        let (xt, yt) = (d.x_train.to_kind(Kind::Double), d.y_train);
        let (xv, yv) = (d.x_val.to_kind(Kind::Double), d.y_val);
        let params: Vec<Tensor> = trainable_named(&wv).into_iter().map(|(_, t)| t).collect();
        let xi = 0.05;
        let g = hypergradient(&net, &params, xi, 1e-4, (&xt, &yt), (&xv, &yv)).unwrap();
        let g = Vec::<f64>::try_from(g[0].flatten(0, -1)).unwrap();
        // f(α) = L_val(w − ξ ∇_w L_train(w, α), α), by central differences.
        let backup: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
        let f = || {
            let gw = grads_or_zeros(&net.loss(&xt, &yt), &params);
            axpy(&params, &backup, -xi, &gw);
            let v = tch::no_grad(|| net.loss(&xv, &yv).double_value(&[]));
            axpy(&params, &backup, 0.0, &gw);
            v
        };
        let h = 1e-5;
        let mut fd = Vec::new();
        for i in 0..12 {
            let shift = |s: f64| {
                tch::no_grad(|| {
                    let a = net.alpha().view([-1]);
                    let v = a.double_value(&[i]);
                    let _ = a.get(i).fill_(v + s);
                })
            };
            shift(h);
            let fp = f();
            shift(-2.0 * h);
            let fm = f();
            shift(h);
            fd.push((fp - fm) / (2.0 * h));
        }
        let num: f64 = g.iter().zip(&fd).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let den: f64 = fd.iter().map(|b| b * b).sum::<f64>().sqrt();
        assert!(den > 1e-6, "gradient too small to test: {fd:?}");
        assert!(num / den < 1e-4, "relative error {} between {g:?} and {fd:?}", num / den);
        // The first-order gradient alone differs from the hypergradient (the correction matters).
        let g1 = Vec::<f64>::try_from(
            grads_or_zeros(&net.loss(&xv, &yv), &[net.alpha().shallow_clone()])[0].flatten(0, -1),
        )
        .unwrap();
        let diff: f64 = g1.iter().zip(&g).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        assert!(diff > 1e-3 * den, "second-order term vanished");
    }

    #[test]
    fn darts_and_darts_pt_run_and_decide_every_edge() {
        core_tensor::seed::seed_torch(2);
        let space = CellSpace::new(3, &["none", "skip_connect", "nor_conv_3x3"]).unwrap();
        let data = crate::train::tiny_data(96, 5);
        for (order, rule) in [(DartsOrder::First, MixRule::Softmax), (DartsOrder::Second, MixRule::MaxW)] {
            let (wv, av) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
            let mut net = Supernet::new(&wv.root(), &av.root(), &space, tiny_cfg(), rule).unwrap();
            let a0 = net.alpha().copy();
            let cfg = DartsConfig::new(order, 2, 16);
            let mut seen = 0;
            let hist = darts_search(&net, &wv, &data, &cfg, &mut core_tensor::seed::rng(0), |_, _| seen += 1)
                .unwrap();
            assert_eq!((hist.len(), seen), (2, 2));
            assert!((net.alpha() - a0).abs().max().double_value(&[]) > 1e-5, "α did not move");
            let (cell, dec) = darts_pt_select(
                &mut net,
                &wv,
                &data,
                &TrainConfig::new(1, 16),
                1,
                &mut core_tensor::seed::rng(1),
            )
            .unwrap();
            assert_eq!(dec.len(), 3);
            assert!(net.undecided().is_empty());
            space.check(&cell).unwrap();
            for d in &dec {
                assert_eq!(cell.0[d.edge], d.op);
                let best =
                    d.acc_without.iter().filter(|v| !v.is_nan()).cloned().fold(f64::INFINITY, f64::min);
                assert_eq!(d.acc_without[d.op], best);
            }
        }
    }
}
