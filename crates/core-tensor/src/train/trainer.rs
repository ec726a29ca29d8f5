//! The training loop shared by every domain crate.
//!
//! One [`Trainer`] runs epochs over a [`BatchSource`], applies an [`Optimizer`] with a learning
//! rate schedule, gradient clipping, validation with early stopping, observers, a progress bar and
//! periodic atomic checkpoints. A run resumed from its last checkpoint ends with exactly the
//! parameters of an uninterrupted run: the checkpoint holds the model, the optimizer state and the
//! loop state, and every epoch reseeds libtorch and the data order from `(seed, epoch)`.

use super::optim::{Optimizer, OptimizerConfig};
use super::schedule::LrSchedule;
use super::zeroth_order::{ZerothOrder, ZerothOrderEstimator};
use crate::bench::progress_bar;
use crate::checkpoint::{self, assign_variables, load_tensors, named_variables, save_dir_with, save_tensors};
use crate::data::BatchSource;
use crate::error::{Error, Result};
use crate::seed::derive_seed;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, Tensor};

/// Gradient clipping applied before every step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GradClip {
    /// Rescale so the global L2 norm is at most `max_norm`.
    Norm {
        /// Largest allowed norm.
        max_norm: f64,
    },
    /// Clamp every entry to `[-max, max]`.
    Value {
        /// Largest allowed magnitude.
        max: f64,
    },
}

/// Early stopping on the validation loss (or the training loss when there is no validation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without an improvement of at least `min_delta` before stopping.
    pub patience: usize,
    /// Minimal improvement that counts.
    pub min_delta: f64,
    /// Restore the best parameters at the end.
    pub restore_best: bool,
}

/// Configuration of a [`Trainer`]; a consuming builder whose [`build`](TrainerConfig::build)
/// validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// Optimizer and base learning rate.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over epochs ([`Trainer::fit`], [`Trainer::run_epochs`]) or over
    /// steps ([`Trainer::run_steps`]).
    pub schedule: LrSchedule,
    /// Gradient clipping.
    pub clip: Option<GradClip>,
    /// Early stopping.
    pub early_stopping: Option<EarlyStopping>,
    /// Replace autograd by a zeroth-order gradient estimate.
    pub zeroth_order: Option<ZerothOrder>,
    /// Checkpoint directory (resumed from when it holds a checkpoint).
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoint every N epochs (and after the last one); 0 disables periodic checkpoints.
    pub checkpoint_every: usize,
    /// Number of checkpoints kept.
    pub keep_checkpoints: usize,
    /// Seed of the per-epoch libtorch reseeding and of the zeroth-order directions.
    pub seed: u64,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            epochs: 10,
            optimizer: OptimizerConfig::adam(1e-3),
            schedule: LrSchedule::Constant,
            clip: None,
            early_stopping: None,
            zeroth_order: None,
            checkpoint_dir: None,
            checkpoint_every: 0,
            keep_checkpoints: 2,
            seed: 0,
            progress: false,
        }
    }
}

impl TrainerConfig {
    /// Sets the number of epochs.
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    /// Sets the optimizer.
    pub fn optimizer(mut self, o: OptimizerConfig) -> Self {
        self.optimizer = o;
        self
    }
    /// Sets the schedule.
    pub fn schedule(mut self, s: LrSchedule) -> Self {
        self.schedule = s;
        self
    }
    /// Clips the global gradient norm.
    pub fn clip_norm(mut self, max_norm: f64) -> Self {
        self.clip = Some(GradClip::Norm { max_norm });
        self
    }
    /// Clamps gradient entries.
    pub fn clip_value(mut self, max: f64) -> Self {
        self.clip = Some(GradClip::Value { max });
        self
    }
    /// Enables early stopping that restores the best parameters.
    pub fn early_stopping(mut self, patience: usize, min_delta: f64) -> Self {
        self.early_stopping = Some(EarlyStopping { patience, min_delta, restore_best: true });
        self
    }
    /// Uses a zeroth-order gradient estimate instead of autograd.
    pub fn zeroth_order(mut self, z: ZerothOrder) -> Self {
        self.zeroth_order = Some(z);
        self
    }
    /// Checkpoints into `dir` every `every` epochs and resumes from it.
    pub fn checkpoint(mut self, dir: impl Into<PathBuf>, every: usize) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self.checkpoint_every = every;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Shows a progress bar.
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Validates and builds the trainer.
    pub fn build(self) -> Result<Trainer> {
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", 0, "must be > 0"));
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        match self.clip {
            Some(GradClip::Norm { max_norm: v }) | Some(GradClip::Value { max: v })
                if !(v.is_finite() && v > 0.0) =>
            {
                return Err(Error::invalid("clip", v, "must be finite and > 0"));
            }
            _ => {}
        }
        if let Some(es) = self.early_stopping {
            if es.patience == 0 {
                return Err(Error::invalid("patience", 0, "must be > 0"));
            }
        }
        if let Some(z) = self.zeroth_order {
            z.validate()?;
        }
        if self.checkpoint_every > 0 && self.checkpoint_dir.is_none() {
            return Err(Error::invalid("checkpoint_every", self.checkpoint_every, "needs a checkpoint_dir"));
        }
        if self.keep_checkpoints == 0 {
            return Err(Error::invalid("keep_checkpoints", 0, "must be > 0"));
        }
        Ok(Trainer { config: self, observers: Vec::new() })
    }
}

/// What an observer asks the loop to do after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop after this epoch (checkpoints already written stay).
    Stop,
}

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch index from 0.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Validation loss, if a validation function returned one.
    pub val_loss: Option<f64>,
    /// Learning rate used.
    pub lr: f64,
    /// Mean global gradient norm before clipping (autograd only).
    pub grad_norm: f64,
    /// Wall-clock seconds of the epoch.
    pub wall_s: f64,
}

/// Receives metrics while training runs.
pub trait Observer {
    /// After every batch.
    fn on_batch(&mut self, _epoch: usize, _batch: usize, _loss: f64) {}
    /// After every epoch; returning [`Control::Stop`] ends training.
    fn on_epoch(&mut self, _record: &EpochRecord) -> Control {
        Control::Continue
    }
    /// After every step of [`Trainer::run_steps`]; returning [`Control::Stop`] ends training.
    fn on_step(&mut self, _record: &super::steps::StepRecord) -> Control {
        Control::Continue
    }
}

impl<F: FnMut(&EpochRecord) -> Control> Observer for F {
    fn on_epoch(&mut self, record: &EpochRecord) -> Control {
        self(record)
    }
}

/// The outcome of [`Trainer::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainHistory {
    /// One record per completed epoch (including those before a resume).
    pub epochs: Vec<EpochRecord>,
    /// Epoch with the best monitored loss.
    pub best_epoch: Option<usize>,
    /// Best monitored loss.
    pub best_loss: Option<f64>,
    /// Stopped by early stopping.
    pub stopped_early: bool,
    /// Stopped by an observer.
    pub interrupted: bool,
    /// Epoch the run resumed at, if it resumed from a checkpoint.
    pub resumed_at: Option<usize>,
    /// Newer checkpoints that could not be loaded when resuming, newest first (the run resumed
    /// from the one after them).
    #[serde(default)]
    pub damaged_checkpoints: Vec<PathBuf>,
}

impl TrainHistory {
    /// Training losses per epoch.
    pub fn train_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|r| r.train_loss).collect()
    }
    /// Last training loss.
    pub fn final_train_loss(&self) -> Option<f64> {
        self.epochs.last().map(|r| r.train_loss)
    }
}

/// Loop state stored in checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoopState {
    config: TrainerConfig,
    next_epoch: usize,
    optimizer_steps: i64,
    bad_epochs: usize,
    history: TrainHistory,
    has_best: bool,
}

const ZO_STREAM: u64 = 0x5A5A_5A5A_5A5A_5A5A;
const STATE_FILE: &str = "trainer.json";
const OPT_FILE: &str = "optimizer.safetensors";
const BEST_FILE: &str = "best.safetensors";

/// The training loop. Build it with [`TrainerConfig::build`].
pub struct Trainer {
    config: TrainerConfig,
    observers: Vec<Box<dyn Observer>>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("observers", &self.observers.len())
            .finish()
    }
}

/// Removes the hidden temporaries that a killed run left in the checkpoint directory `dir` (a
/// checkpoint half written, or an old one half deleted); they never count as checkpoints, but
/// would pile up over many interrupted runs. One run trains into a checkpoint directory at a time.
fn remove_leftovers(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if sciml_report::fs::is_temporary(&path) {
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        }
    }
    Ok(())
}

/// Checkpoint directories `epoch-NNNNNN` under `dir`, oldest first.
fn checkpoints(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix("epoch-").and_then(|s| s.parse::<usize>().ok()) {
            if entry.path().join(STATE_FILE).is_file() {
                out.push((n, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Trainer {
    /// A default configuration to build on.
    pub fn builder() -> TrainerConfig {
        TrainerConfig::default()
    }

    /// The configuration.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    pub(super) fn observers_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Observer>> {
        self.observers.iter_mut()
    }

    /// Adds an observer.
    pub fn observe(&mut self, o: impl Observer + 'static) -> &mut Self {
        self.observers.push(Box::new(o));
        self
    }

    /// Trains the variables of `vs`.
    ///
    /// `loss_fn` maps a batch to a scalar loss tensor (graph attached); `validate` returns a
    /// validation loss (run under `no_grad`) or `None`. A non-finite loss stops training with
    /// [`Error::NonFinite`] naming the epoch and batch.
    pub fn fit<S: BatchSource>(
        &mut self,
        vs: &nn::VarStore,
        data: &S,
        mut loss_fn: impl FnMut(&S::Batch) -> Result<Tensor>,
        mut validate: impl FnMut() -> Result<Option<f64>>,
    ) -> Result<TrainHistory> {
        let cfg = self.config.clone();
        // every epoch draws from (seed, epoch); the caller's stream is handed back at the end
        let _seed_scope = crate::seed::TorchSeedScope::enter(cfg.seed);
        let mut opt = Optimizer::from_var_store(cfg.optimizer.clone(), vs)?;
        let mut zo = match cfg.zeroth_order {
            Some(z) => Some(ZerothOrderEstimator::new(z, cfg.seed)?),
            None => None,
        };
        let mut state = LoopState {
            config: cfg.clone(),
            next_epoch: 0,
            optimizer_steps: 0,
            bad_epochs: 0,
            history: TrainHistory::default(),
            has_best: false,
        };
        let mut best: Option<Vec<(String, Tensor)>> = None;

        if let Some(dir) = &cfg.checkpoint_dir {
            remove_leftovers(dir)?;
            // Newest first; a damaged checkpoint (a disk error, a file edited by hand) falls back
            // to the one before it, and only when none loads is the newest one's error returned.
            let mut first_error = None;
            let mut damaged = Vec::new();
            for (_, path) in checkpoints(dir)?.into_iter().rev() {
                match self.restore(&path, vs, &mut opt, &mut best) {
                    Ok(s) => {
                        state = s;
                        state.history.resumed_at = Some(state.next_epoch);
                        state.history.damaged_checkpoints = damaged;
                        first_error = None;
                        break;
                    }
                    Err(e) => {
                        damaged.push(path);
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }

        let pb = progress_bar(cfg.epochs as u64, "training", cfg.progress);
        pb.set_position(state.next_epoch as u64);
        let base_lr = cfg.optimizer.lr();
        while state.next_epoch < cfg.epochs {
            let epoch = state.next_epoch;
            let start = Instant::now();
            crate::seed::seed_torch(derive_seed(cfg.seed, epoch as u64));
            let lr = cfg.schedule.lr(base_lr, epoch);
            opt.set_lr(lr);
            let batches = data.batches(epoch)?;
            if batches.is_empty() {
                return Err(Error::invalid("data", "0 batches", "the batch source yielded no batch"));
            }
            let (mut loss_sum, mut norm_sum) = (0.0, 0.0);
            for (bi, batch) in batches.iter().enumerate() {
                let loss_value = if let Some(est) = zo.as_mut() {
                    let params: Vec<Tensor> = opt.params().iter().map(|p| p.shallow_clone()).collect();
                    // Every evaluation of one step sees the same randomness (dropout masks), so the
                    // finite differences measure the parameter change only.
                    let step_seed = derive_seed(cfg.seed ^ ZO_STREAM, opt.steps() as u64);
                    let mut eval = || -> Result<f64> {
                        crate::seed::seed_torch(step_seed);
                        Ok(tch::no_grad(|| loss_fn(batch))?.double_value(&[]))
                    };
                    let v = eval()?;
                    check_loss(v, epoch, bi)?;
                    // Directions depend only on (seed, step), so a resumed run draws the same ones.
                    est.reseed(step_seed);
                    let grads = est.estimate(&params, &mut eval)?;
                    opt.step_with(&grads)?;
                    v
                } else {
                    opt.zero_grad();
                    let loss = loss_fn(batch)?;
                    let v = loss_value(&loss)?;
                    check_loss(v, epoch, bi)?;
                    loss.backward();
                    norm_sum += match cfg.clip {
                        Some(GradClip::Norm { max_norm }) => opt.clip_grad_norm(max_norm),
                        Some(GradClip::Value { max }) => {
                            let n = opt.grad_norm();
                            opt.clip_grad_value(max);
                            n
                        }
                        None => opt.grad_norm(),
                    };
                    opt.step()?;
                    v
                };
                loss_sum += loss_value;
                for o in self.observers.iter_mut() {
                    o.on_batch(epoch, bi, loss_value);
                }
            }
            let n = batches.len() as f64;
            let val_loss = tch::no_grad(&mut validate)?;
            if let Some(v) = val_loss {
                if !v.is_finite() {
                    return Err(Error::NonFinite {
                        name: format!("validation loss (epoch {epoch})"),
                        index: 0,
                    });
                }
            }
            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / n,
                val_loss,
                lr,
                grad_norm: norm_sum / n,
                wall_s: start.elapsed().as_secs_f64(),
            };
            let monitored = val_loss.unwrap_or(record.train_loss);
            let min_delta = cfg.early_stopping.map_or(0.0, |e| e.min_delta);
            if state.history.best_loss.is_none_or(|b| monitored < b - min_delta) {
                state.history.best_loss = Some(monitored);
                state.history.best_epoch = Some(epoch);
                state.bad_epochs = 0;
                if cfg.early_stopping.is_some_and(|e| e.restore_best) {
                    best =
                        Some(named_variables(vs).into_iter().map(|(n, t)| (n, t.detach().copy())).collect());
                    state.has_best = true;
                }
            } else {
                state.bad_epochs += 1;
            }
            pb.set_message(format!("loss {:.4e}", monitored));
            pb.inc(1);
            state.history.epochs.push(record.clone());
            state.next_epoch = epoch + 1;
            state.optimizer_steps = opt.steps();
            let mut control = Control::Continue;
            for o in self.observers.iter_mut() {
                if o.on_epoch(&record) == Control::Stop {
                    control = Control::Stop;
                }
            }
            let early = cfg.early_stopping.is_some_and(|e| state.bad_epochs >= e.patience);
            state.history.stopped_early = early;
            let last = state.next_epoch == cfg.epochs || early;
            if let Some(dir) = &cfg.checkpoint_dir {
                if (cfg.checkpoint_every > 0 && state.next_epoch.is_multiple_of(cfg.checkpoint_every)) || last
                {
                    self.save(dir, vs, &opt, &state, best.as_deref())?;
                }
            }
            if early {
                break;
            }
            if control == Control::Stop {
                state.history.interrupted = true;
                break;
            }
        }
        pb.finish_and_clear();
        if let (Some(b), true) = (&best, cfg.early_stopping.is_some_and(|e| e.restore_best)) {
            if !state.history.interrupted {
                assign_variables(vs, b, Path::new("<best parameters>"))?;
            }
        }
        Ok(state.history)
    }

    fn save(
        &self,
        dir: &Path,
        vs: &nn::VarStore,
        opt: &Optimizer,
        state: &LoopState,
        best: Option<&[(String, Tensor)]>,
    ) -> Result<()> {
        let path = dir.join(format!("epoch-{:06}", state.next_epoch));
        save_dir_with(&path, |tmp| {
            checkpoint::save_var_store(&tmp.join(checkpoint::MODEL_FILE), vs)?;
            save_tensors(&tmp.join(OPT_FILE), &opt.state_tensors())?;
            if let Some(b) = best {
                save_tensors(&tmp.join(BEST_FILE), b)?;
            }
            std::fs::write(tmp.join(STATE_FILE), serde_json::to_vec_pretty(state)?)?;
            Ok(())
        })?;
        let all = checkpoints(dir)?;
        if all.len() > self.config.keep_checkpoints {
            for (_, p) in &all[..all.len() - self.config.keep_checkpoints] {
                // renamed out of sight first: a run killed while deleting leaves a hidden
                // temporary, never a visible checkpoint with half its files
                let doomed = sciml_report::fs::temp_sibling(p);
                if std::fs::rename(p, &doomed).is_ok() {
                    let _ = std::fs::remove_dir_all(&doomed);
                }
            }
        }
        Ok(())
    }

    fn restore(
        &self,
        path: &Path,
        vs: &nn::VarStore,
        opt: &mut Optimizer,
        best: &mut Option<Vec<(String, Tensor)>>,
    ) -> Result<LoopState> {
        let state: LoopState = checkpoint::load_json(&path.join(STATE_FILE))?;
        if state.config.optimizer != self.config.optimizer {
            return Err(Error::checkpoint(path, "was written with a different optimizer configuration"));
        }
        checkpoint::load_var_store(&path.join(checkpoint::MODEL_FILE), vs)?;
        let opt_path = path.join(OPT_FILE);
        opt.load_state(&load_tensors(&opt_path)?, state.optimizer_steps)
            .map_err(|e| Error::checkpoint(&opt_path, e.to_string()))?;
        if state.has_best {
            *best = Some(load_tensors(&path.join(BEST_FILE))?);
        }
        Ok(state)
    }
}

/// The value of a training loss: a scalar with a graph into the parameters.
pub(super) fn loss_value(loss: &Tensor) -> Result<f64> {
    if loss.numel() != 1 {
        return Err(Error::shape("loss", "scalar", loss.size()));
    }
    if !loss.requires_grad() {
        return Err(Error::invalid(
            "loss",
            "a tensor without a graph",
            "it must depend on the trained parameters (computed outside no_grad)",
        ));
    }
    Ok(loss.double_value(&[]))
}

fn check_loss(v: f64, epoch: usize, batch: usize) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { name: format!("training loss (epoch {epoch}, batch {batch})"), index: 0 })
    }
}

#[cfg(test)]
#[path = "trainer_tests.rs"]
mod tests;
