//! Suite tasks of `neural-diffeq`: work-precision diagrams on the canonical problems, the
//! peer neural-ODE workload's NFE and the adjoint seminorm, and regularised training (ERNODE,
//! SRNODE) with its prediction-time NFE on a regression and a classification task; and the SDE, CDE
//! and integral-equation tasks.

use crate::adjoint::Gradient;
use crate::controller::{PidController, StepControl};
use crate::models::{NeuralOde, NeuralOdeConfig};
use crate::problems;
use crate::regularise::{error_regulariser, stiffness_regulariser};
use crate::solve::{solve, SaveAt};
use crate::solver::{Esdirk, ExplicitRk, Solver};
use core_tensor::bench::{
    progress_bar, Better, Metric, Plot, SuiteConfig, Task, TaskGroup, TaskReport, TaskResult,
};
use core_tensor::train::{trainable_named, LrSchedule, OptimizerConfig, StepOutput, Trainer};
use core_tensor::Result;
use nalgebra::DVector;
use std::time::Instant;
use tch::{nn, Kind, Tensor};

/// All `neural-diffeq` tasks.
pub fn tasks() -> TaskGroup {
    TaskGroup::new("neural-diffeq").with_all([
        WORK_PRECISION,
        NEURAL_ODE_PEER_WORKLOAD,
        REGULARISED_TRAINING,
        REGULARISED_CLASSIFICATION,
        SDE_STRONG_ORDER,
        IRREGULAR_CLASSIFICATION,
        INTEGRAL_EQUATION_LEARNING,
        LATENT_SDE_OU,
        FBM_HURST_RECOVERY,
        LANGEVIN_FLOW_DOUBLE_WELL,
        GRADIENT_STRATEGIES,
        FFJORD_TOY,
        DIFFUSION_GMM,
        DIFFUSION_CONSERVATIVITY,
        DIFFUSION_HALLUCINATION,
        DIFFUSION_CURRICULUM,
    ])
}

mod cnf;
mod diffusion;
mod gradients;
mod ie;
mod irregular;
mod latent;
mod ode;
mod regularised;
mod sde;

pub use cnf::*;
pub use diffusion::*;
pub use gradients::*;
pub use ie::*;
pub use irregular::*;
pub use latent::*;
pub use ode::*;
pub use regularised::*;
pub use sde::*;

/// Trains the variables of `vs` for `epochs` passes over `n` samples in sequential batches of
/// `batch` (the last one shorter): `loss(step, start, len)` is the loss of the batch
/// `[start, start + len)` at global step `step`. Returns the per-epoch training loss, the mean over
/// samples (batch losses weighted by their length).
fn train_in_batches(
    vs: &nn::VarStore,
    optimizer: OptimizerConfig,
    (n, batch): (i64, usize),
    epochs: usize,
    progress: bool,
    mut loss: impl FnMut(usize, i64, i64) -> Result<Tensor>,
) -> Result<Vec<(f64, f64)>> {
    let mut trainer = Trainer::builder().optimizer(optimizer).progress(progress).build()?;
    let means = trainer.run_epochs(trainable_named(vs), epochs, (n as usize).div_ceil(batch), |c| {
        let b0 = (c.batch * batch) as i64;
        let len = (batch as i64).min(n - b0);
        Ok((StepOutput::Loss(loss(c.step, b0, len)?), len as f64))
    })?;
    Ok(means.into_iter().enumerate().map(|(e, m)| ((e + 1) as f64, m)).collect())
}

/// Minibatch training shared by the variational tasks: batches of 64 sequences in order, gradient
/// clipping at norm 10, learning rate 1e-2 then 2e-3 for the last quarter. `objective(batch, it)`
/// returns the loss to minimise and the number to plot; returns the `(iteration, value)` curve.
fn train_variational(
    vs: &nn::VarStore,
    xtr: &Tensor,
    iters: usize,
    progress: bool,
    mut objective: impl FnMut(&Tensor, usize) -> Result<(Tensor, f64)>,
) -> Result<Vec<(f64, f64)>> {
    let n = xtr.size()[0];
    let mut trainer = Trainer::builder()
        .optimizer(OptimizerConfig::adam(1e-2))
        .schedule(LrSchedule::Piecewise { boundaries: vec![iters * 3 / 4], rates: vec![1e-2, 2e-3] })
        .clip_norm(10.0)
        .progress(progress)
        .build()?;
    let mut curve = Vec::new();
    trainer.run_steps(trainable_named(vs), iters, |c| {
        let it = c.step;
        let b0 = ((it * 64) as i64) % n;
        let xb = xtr.narrow(0, b0, 64.min(n - b0));
        let (loss, report) = objective(&xb, it)?;
        if it % 10 == 0 {
            curve.push((it as f64, report));
        }
        Ok(StepOutput::Loss(loss))
    })?;
    Ok(curve)
}
