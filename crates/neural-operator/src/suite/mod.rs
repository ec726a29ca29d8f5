//! Suite tasks of `neural-operator`: FNO on viscous Burgers (with zero-shot super-resolution),
//! Darcy flow and forced 2-D Navier–Stokes (`Fno*`), uncertainty of an FNO on
//! Burgers (`FNO_BURGERS_UQ`) and NeuralStagger against a fine FNO (`NEURAL_STAGGER_*`). The data pairs
//! come from [`crate::data::pairs`] (re-exported here).

use crate::fno::{relative_lp_loss, Fno, FnoConfig};
use crate::losses::UnitGaussianNormalizer;
use core_tensor::bench::{
    progress_bar, Better, Metric, Plot, SuiteConfig, Task, TaskGroup, TaskReport, TaskResult,
};
use core_tensor::seed::derive_seed;
use core_tensor::train::{trainable_named, LrSchedule, OptimizerConfig, StepOutput, Trainer};
use core_tensor::Result;
use tch::{nn, Kind, Tensor};

pub use crate::data::pairs::{burgers_pairs, darcy_pairs, navier_stokes_pairs, navier_stokes_trajectories};

mod fno;
mod stagger;
mod uq;

pub use fno::{FNO_BURGERS, FNO_DARCY, FNO_NAVIER_STOKES};
pub use stagger::{NEURAL_STAGGER_BURGERS, NEURAL_STAGGER_NAVIER_STOKES};
pub use uq::FNO_BURGERS_UQ;

/// All `neural-operator` tasks.
pub fn tasks() -> TaskGroup {
    TaskGroup::new("neural-operator").with_all([
        FNO_BURGERS,
        FNO_DARCY,
        FNO_NAVIER_STOKES,
        FNO_BURGERS_UQ,
        NEURAL_STAGGER_BURGERS,
        NEURAL_STAGGER_NAVIER_STOKES,
    ])
}

/// Loads the train and test pairs of a task from the suite's data cache (`<work-dir>/data`), making
/// them with `make(count, seed)` on a miss; the test set uses seed `cfg.seed + 1_000_003`.
fn train_test_pairs(
    cfg: &SuiteConfig,
    tag: &str,
    (n_train, n_test): (usize, usize),
    make: impl Fn(usize, u64) -> crate::Result<(Tensor, Tensor)>,
) -> Result<[(Tensor, Tensor); 2]> {
    let cache = cfg.work_dir.join("data");
    let load = |count: usize, seed: u64| {
        crate::data::cached_pair(&cache, &format!("{tag}_{count}_{seed}"), || make(count, seed))
    };
    Ok([load(n_train, cfg.seed)?, load(n_test, cfg.seed + 1_000_003)?])
}

/// The cached Burgers train and test sets on `n` points (solved on `fine` points).
fn burgers_train_test(
    cfg: &SuiteConfig,
    n: usize,
    fine: usize,
    counts: (usize, usize),
) -> Result<[(Tensor, Tensor); 2]> {
    train_test_pairs(cfg, &format!("burgers_{n}_{fine}"), counts, |count, seed| {
        burgers_pairs(count, n, fine, seed)
    })
}

/// Trains any operator `forward` (`[B, C_in, …] → [B, C_out, …]`, graph attached) over the
/// trainable variables of `vs` with `optimizer` on the relative L2 loss: mini-batches of 20 in a
/// seeded order per epoch, the optimizer's rate halved every `halve_every` epochs. Returns the
/// training-loss curve `(epoch, mean loss over the epoch's samples)`.
fn train_operator(
    forward: impl Fn(&Tensor) -> crate::Result<Tensor>,
    vs: &nn::VarStore,
    optimizer: OptimizerConfig,
    xtr: &Tensor,
    ytr: &Tensor,
    epochs: usize,
    halve_every: usize,
    cfg: &SuiteConfig,
) -> Result<Vec<(f64, f64)>> {
    let dev = xtr.device();
    let n_train = xtr.size()[0];
    let batch = 20;
    let mut trainer = Trainer::builder()
        .optimizer(optimizer)
        .schedule(LrSchedule::Step { step_size: halve_every, gamma: 0.5 })
        .progress(cfg.progress)
        .build()?;
    let mut order = Vec::new();
    let means = trainer.run_epochs(trainable_named(vs), epochs, (n_train as usize).div_ceil(batch), |c| {
        if c.batch == 0 {
            let idx = Tensor::arange(n_train, (Kind::Int64, dev));
            order =
                core_tensor::data::DataLoader::new(vec![idx], batch, derive_seed(cfg.seed, c.epoch as u64))?
                    .order(c.epoch);
        }
        let chunk = &order[c.batch * batch..((c.batch + 1) * batch).min(order.len())];
        let idx = Tensor::from_slice(chunk).to(dev);
        let pred = forward(&xtr.index_select(0, &idx))?;
        let loss = relative_lp_loss(&pred, &ytr.index_select(0, &idx), 2.0)?;
        Ok((StepOutput::Loss(loss), chunk.len() as f64))
    })?;
    Ok(means.into_iter().enumerate().map(|(e, m)| ((e + 1) as f64, m)).collect())
}

/// Median wall time (ms) of `f` over `reps` runs after one warm-up.
fn median_ms(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = std::time::Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[reps / 2])
}
