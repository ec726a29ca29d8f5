//! Training of neural TPPs through core-tensor's [`Trainer`]: shuffled padded batches, validation
//! NLL, early stopping and checkpoints.

use super::batch::TppBatch;
use super::NeuralTpp;
use crate::data::EventSequence;
use crate::error::{invalid, Result};
use core_tensor::data::BatchSource;
use core_tensor::seed::{derive_seed, rng};
use core_tensor::train::{OptimizerConfig, TrainHistory, Trainer};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::{nn, Device, Kind};

/// Shuffled mini-batches of event sequences, padded per batch; epoch `e` uses the order drawn
/// from `derive_seed(seed, e)`.
#[derive(Debug)]
pub struct SequenceLoader {
    seqs: Vec<EventSequence>,
    batch_size: usize,
    seed: u64,
    shuffle: bool,
    kind: Kind,
    device: Device,
}

impl SequenceLoader {
    /// Loader over `seqs` (same mark count) with batches of `batch_size`.
    pub fn new(
        seqs: Vec<EventSequence>,
        batch_size: usize,
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        if seqs.is_empty() {
            return Err(invalid("seqs", "[]", "need at least one sequence"));
        }
        if batch_size == 0 {
            return Err(invalid("batch_size", 0, "must be > 0"));
        }
        let k = seqs[0].num_marks();
        if let Some((i, s)) = seqs.iter().enumerate().find(|(_, s)| s.num_marks() != k) {
            return Err(invalid(
                &format!("seqs[{i}].num_marks"),
                s.num_marks(),
                &format!("sequence 0 has {k}"),
            ));
        }
        Ok(SequenceLoader { seqs, batch_size, seed, shuffle: true, kind, device })
    }

    /// Enables or disables shuffling.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The sequences.
    pub fn sequences(&self) -> &[EventSequence] {
        &self.seqs
    }
}

impl BatchSource for SequenceLoader {
    type Batch = TppBatch;
    fn batches(&self, epoch: usize) -> core_tensor::Result<Vec<TppBatch>> {
        let mut idx: Vec<usize> = (0..self.seqs.len()).collect();
        if self.shuffle {
            idx.shuffle(&mut rng(derive_seed(self.seed, epoch as u64)));
        }
        idx.chunks(self.batch_size)
            .map(|c| {
                let s: Vec<EventSequence> = c.iter().map(|&i| self.seqs[i].clone()).collect();
                TppBatch::from_sequences(&s, self.kind, self.device).map_err(Into::into)
            })
            .collect()
    }
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TppTrainConfig {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Sequences per batch.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Early-stopping patience in epochs on the validation NLL (0 disables).
    pub patience: usize,
    /// Global gradient-norm clip.
    pub clip_norm: f64,
    /// Seed of the data order and of libtorch's per-epoch generator.
    pub seed: u64,
    /// Checkpoint directory (resumed from if it holds a checkpoint).
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoint every N epochs (with `checkpoint_dir`).
    pub checkpoint_every: usize,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for TppTrainConfig {
    fn default() -> Self {
        TppTrainConfig {
            epochs: 30,
            batch_size: 32,
            lr: 3e-3,
            patience: 5,
            clip_norm: 5.0,
            seed: 0,
            checkpoint_dir: None,
            checkpoint_every: 0,
            progress: false,
        }
    }
}

/// Mean NLL per event of `seqs` under `model` (evaluation integration, batches of
/// `batch_size`, no gradient).
pub fn nll_per_event(
    model: &NeuralTpp,
    seqs: &[EventSequence],
    batch_size: usize,
    kind: Kind,
    device: Device,
) -> Result<f64> {
    let (mut nll, mut n) = (0.0, 0i64);
    for chunk in seqs.chunks(batch_size.max(1)) {
        let b = TppBatch::from_sequences(chunk, kind, device)?;
        let ll = tch::no_grad(|| model.log_likelihood(&b, model.config().eval_integration, false))?;
        nll -= ll.total();
        n += ll.events;
    }
    Ok(nll / n.max(1) as f64)
}

/// Trains `model` (variables in `vs`) on `train` by minimising the NLL per event with Adam; the
/// validation NLL per event on `val` drives early stopping (best parameters restored).
pub fn train(
    model: &NeuralTpp,
    vs: &nn::VarStore,
    train: &[EventSequence],
    val: &[EventSequence],
    cfg: &TppTrainConfig,
) -> Result<TrainHistory> {
    let kind = vs.trainable_variables().first().map(|v| v.kind()).unwrap_or(Kind::Float);
    let device = vs.device();
    let loader = SequenceLoader::new(train.to_vec(), cfg.batch_size, cfg.seed, kind, device)?;
    let mut b = Trainer::builder()
        .epochs(cfg.epochs)
        .optimizer(OptimizerConfig::adam(cfg.lr))
        .clip_norm(cfg.clip_norm)
        .seed(cfg.seed)
        .progress(cfg.progress);
    if cfg.patience > 0 {
        b = b.early_stopping(cfg.patience, 1e-4);
    }
    if let Some(dir) = &cfg.checkpoint_dir {
        b = b.checkpoint(dir, cfg.checkpoint_every);
    }
    let mut trainer = b.build()?;
    let val_bs = cfg.batch_size.max(16);
    let history = trainer.fit(
        vs,
        &loader,
        |batch| model.loss(batch, true).map_err(Into::into),
        || {
            if val.is_empty() {
                Ok(None)
            } else {
                nll_per_event(model, val, val_bs, kind, device).map(Some).map_err(Into::into)
            }
        },
    )?;
    Ok(history)
}
