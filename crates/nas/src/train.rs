//! Training and evaluation of image classifiers under one fixed protocol.
//!
//! Every architecture (a cell network for the tabular benchmark, a supernet during search) is
//! trained by the same loop: shuffled mini-batches (seeded), SGD with Nesterov-free heavy-ball
//! momentum, L2 weight decay, gradient clipping and a per-epoch learning-rate schedule. "NAS
//! evaluation is frustratingly hard" (Yang et al. 2020) asks that methods and random architectures
//! are compared under exactly this kind of shared protocol.

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use core_tensor::train::{LrSchedule, Optimizer, OptimizerConfig, StepOutput, Trainer};

use crate::{Error, Result};

/// Images `[N, C, H, W]` and labels `[N]` (int64) for training, validation and test.
#[derive(Debug)]
pub struct ImageData {
    /// Training images.
    pub x_train: Tensor,
    /// Training labels.
    pub y_train: Tensor,
    /// Validation images (architecture steps in DARTS, selection in DARTS-PT).
    pub x_val: Tensor,
    /// Validation labels.
    pub y_val: Tensor,
    /// Test images (reported accuracy).
    pub x_test: Tensor,
    /// Test labels.
    pub y_test: Tensor,
}

impl ImageData {
    /// Checks shapes (4-D images, 1-D labels of the same length per split).
    ///
    /// # Errors
    /// Mismatched shapes or empty splits, naming the split.
    pub fn validate(&self) -> Result<()> {
        for (name, x, y) in [
            ("train", &self.x_train, &self.y_train),
            ("val", &self.x_val, &self.y_val),
            ("test", &self.x_test, &self.y_test),
        ] {
            let (xs, ys) = (x.size(), y.size());
            if xs.len() != 4 || ys.len() != 1 || xs[0] != ys[0] || xs[0] == 0 {
                return Err(Error::invalid(
                    name,
                    format!("images {xs:?}, labels {ys:?}"),
                    "expected images [N, C, H, W] and labels [N] with N > 0",
                ));
            }
        }
        Ok(())
    }

    /// Moves every split to `device`.
    pub fn to_device(&self, device: Device) -> ImageData {
        ImageData {
            x_train: self.x_train.to_device(device),
            y_train: self.y_train.to_device(device),
            x_val: self.x_val.to_device(device),
            y_val: self.y_val.to_device(device),
            x_test: self.x_test.to_device(device),
            y_test: self.y_test.to_device(device),
        }
    }
}

/// The shared training protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs over the training split.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Base learning rate of SGD.
    pub lr: f64,
    /// Heavy-ball momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Gradient-norm clip (0 disables it).
    pub grad_clip: f64,
    /// Learning-rate schedule over epochs.
    pub schedule: LrSchedule,
}

impl TrainConfig {
    /// SGD(0.9), lr 0.05 with cosine annealing to 0, weight decay 5e-4, clip 5.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        TrainConfig {
            epochs,
            batch_size,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 5e-4,
            grad_clip: 5.0,
            schedule: LrSchedule::Cosine { t_max: epochs.max(1), eta_min: 0.0 },
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// Zero epochs or batch size, or invalid optimizer / schedule values.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", self.epochs, "must be ≥ 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", self.batch_size, "must be ≥ 1"));
        }
        if !(self.grad_clip >= 0.0) {
            return Err(Error::invalid("grad_clip", self.grad_clip, "must be ≥ 0"));
        }
        self.optimizer().validate()?;
        self.schedule.validate()
    }

    /// The SGD configuration.
    pub fn optimizer(&self) -> OptimizerConfig {
        OptimizerConfig::sgd(self.lr, self.momentum).with_weight_decay(self.weight_decay)
    }
}

/// Mean cross-entropy of `logits` `[B, K]` against labels `[B]`, in the logits' precision.
pub fn cross_entropy(logits: &Tensor, y: &Tensor) -> Tensor {
    logits.log_softmax(-1, logits.kind()).nll_loss(y)
}

/// Shuffled mini-batch index tensors over `n` items (the last batch may be smaller).
pub fn batch_indices(n: usize, batch_size: usize, device: Device, rng: &mut impl Rng) -> Vec<Tensor> {
    let mut idx: Vec<i64> = (0..n as i64).collect();
    idx.shuffle(rng);
    idx.chunks(batch_size.max(1)).map(|c| Tensor::from_slice(c).to_device(device)).collect()
}

/// Accuracy of `forward` on `(x, y)` in batches of `batch_size`, without gradients.
pub fn accuracy(forward: impl Fn(&Tensor) -> Tensor, x: &Tensor, y: &Tensor, batch_size: usize) -> f64 {
    let n = x.size()[0];
    let bs = batch_size.max(1) as i64;
    let mut correct = 0i64;
    tch::no_grad(|| {
        let mut s = 0;
        while s < n {
            let len = bs.min(n - s);
            let pred = forward(&x.narrow(0, s, len)).argmax(-1, false);
            correct += pred.eq_tensor(&y.narrow(0, s, len)).sum(Kind::Int64).int64_value(&[]);
            s += len;
        }
    });
    correct as f64 / n.max(1) as f64
}

/// Trains `params` for `epochs` epochs over `(x, y)` under `cfg` (its optimizer, rate schedule
/// over epochs and gradient clipping) through the workspace `Trainer`: every epoch draws a fresh
/// order of mini-batches from `rng`, and `loss(x, y)` returns a scalar loss with a graph into
/// `params`. Returns the mean training loss of each epoch.
///
/// # Errors
/// A non-finite loss (naming the step), or an optimizer failure.
pub fn sgd_epochs(
    params: Vec<(String, Tensor)>,
    loss: impl Fn(&Tensor, &Tensor) -> Tensor,
    x: &Tensor,
    y: &Tensor,
    cfg: &TrainConfig,
    epochs: usize,
    rng: &mut impl Rng,
) -> Result<Vec<f64>> {
    let n = x.size()[0] as usize;
    let mut trainer = Trainer::builder().optimizer(cfg.optimizer()).schedule(cfg.schedule.clone());
    if cfg.grad_clip > 0.0 {
        trainer = trainer.clip_norm(cfg.grad_clip);
    }
    let mut batches = Vec::new();
    trainer.build()?.run_epochs(params, epochs, n.div_ceil(cfg.batch_size), |c| {
        if c.batch == 0 {
            batches = batch_indices(n, cfg.batch_size, x.device(), rng);
        }
        let l = loss(&x.index_select(0, &batches[c.batch]), &y.index_select(0, &batches[c.batch]));
        Ok((StepOutput::Loss(l), 1.0))
    })
}

/// One step of `opt` on the scalar `loss` (graph into its parameters): checks the loss is finite,
/// clears old gradients, backpropagates, clips the gradient norm to `grad_clip` (0: no clipping)
/// and steps. Returns the loss value.
///
/// # Errors
/// A non-finite loss (naming the epoch), or an optimizer failure.
pub(crate) fn sgd_step(opt: &mut Optimizer, loss: &Tensor, grad_clip: f64, epoch: usize) -> Result<f64> {
    let v = loss.double_value(&[]);
    if !v.is_finite() {
        return Err(Error::invalid("loss", v, format!("non-finite training loss in epoch {epoch}")));
    }
    opt.zero_grad();
    loss.backward();
    if grad_clip > 0.0 {
        opt.clip_grad_norm(grad_clip);
    }
    opt.step()?;
    Ok(v)
}

/// Gradients of `loss` with respect to `inputs`, without touching their `.grad`; inputs outside
/// the graph (e.g. the weights of an edge a cell never uses) get zeros.
pub(crate) fn grads_or_zeros(loss: &Tensor, inputs: &[Tensor]) -> Vec<Tensor> {
    Tensor::run_backward(&[loss], inputs, false, false)
        .into_iter()
        .zip(inputs)
        .map(|(g, w)| if g.defined() { g } else { w.zeros_like() })
        .collect()
}

/// Result of [`train_classifier`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Mean training loss of each epoch.
    pub train_loss: Vec<f64>,
    /// Final validation accuracy.
    pub val_acc: f64,
    /// Final test accuracy.
    pub test_acc: f64,
}

/// Trains the parameters `params` of a classifier with logits `forward(x, train)` under the
/// shared protocol and evaluates it (BatchNorm in inference mode) on validation and test.
///
/// # Errors
/// Invalid settings or data, or a non-finite loss.
pub fn train_classifier(
    forward: impl Fn(&Tensor, bool) -> Tensor,
    params: Vec<(String, Tensor)>,
    data: &ImageData,
    cfg: &TrainConfig,
    rng: &mut impl Rng,
) -> Result<TrainOutcome> {
    cfg.validate()?;
    data.validate()?;
    let loss = |x: &Tensor, y: &Tensor| cross_entropy(&forward(x, true), y);
    let train_loss = sgd_epochs(params, loss, &data.x_train, &data.y_train, cfg, cfg.epochs, rng)?;
    let eval = |x: &Tensor| forward(x, false);
    Ok(TrainOutcome {
        train_loss,
        val_acc: accuracy(eval, &data.x_val, &data.y_val, 256),
        test_acc: accuracy(eval, &data.x_test, &data.y_test, 256),
    })
}

/// [`train_classifier`] for a network whose forward pass checks its input and may fail (the
/// DARTS networks, ResNet-8): the forward pass runs once on an image of every split first, so a
/// network that cannot take the data is that error, not a NaN loss; an error in training (which the
/// check rules out) is returned as itself.
///
/// # Errors
/// As [`train_classifier`], or the forward pass's own error.
pub fn train_network(
    forward: impl Fn(&Tensor, bool) -> Result<Tensor>,
    params: Vec<(String, Tensor)>,
    data: &ImageData,
    cfg: &TrainConfig,
    rng: &mut impl Rng,
) -> Result<TrainOutcome> {
    data.validate()?;
    let mut width = 1;
    for x in [&data.x_train, &data.x_val, &data.x_test] {
        width = tch::no_grad(|| forward(&x.narrow(0, 0, 1), false))?.size().last().copied().unwrap_or(1);
    }
    let failed = std::cell::RefCell::new(None);
    let checked = |x: &Tensor, train: bool| {
        forward(x, train).unwrap_or_else(|e| {
            failed.borrow_mut().get_or_insert(e);
            Tensor::full([x.size()[0], width], f64::NAN, (x.kind(), x.device()))
        })
    };
    let out = train_classifier(checked, params, data, cfg, rng);
    match failed.into_inner() {
        Some(e) => Err(e),
        None => out,
    }
}

/// Three-class 8×8 procedural images split into equal train / validation / test thirds (tests).
#[cfg(test)]
pub(crate) fn tiny_data(n: usize, seed: u64) -> ImageData {
    let gen = crate::data::ProceduralImages { classes: 3, size: 8, ..Default::default() };
    let (x, y) = gen.generate(n, &mut core_tensor::seed::rng(seed)).expect("valid settings");
    let k = (n / 3) as i64;
    ImageData {
        x_train: x.narrow(0, 0, k),
        y_train: y.narrow(0, 0, k),
        x_val: x.narrow(0, k, k),
        y_val: y.narrow(0, k, k),
        x_test: x.narrow(0, 2 * k, k),
        y_test: y.narrow(0, 2 * k, k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::seed::rng;
    use tch::nn;

    #[test]
    fn batches_cover_every_item_once() {
        let b = batch_indices(10, 4, Device::Cpu, &mut core_tensor::seed::rng(0));
        assert_eq!(b.iter().map(|t| t.size()[0]).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<i64> = b.iter().flat_map(|t| Vec::<i64>::try_from(t).unwrap()).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn accuracy_counts_argmax_hits() {
        let logits = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 2.0, 1.0]).view([3, 2]);
        let y = Tensor::from_slice(&[0i64, 1, 1]);
        let acc = accuracy(|x| x.shallow_clone(), &logits, &y, 2);
        assert!((acc - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_network_that_cannot_take_the_data_is_its_own_error() {
        let data = tiny_data(12, 0);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = crate::resnet::ResNet8::new(&vs.root(), 1, 4, 3).unwrap(); // 1 channel, data has 3
        let params = core_tensor::train::optim::trainable_named(&vs);
        let e =
            train_network(|x, t| net.forward_t(x, t), params, &data, &TrainConfig::new(1, 4), &mut rng(0))
                .unwrap_err()
                .to_string();
        assert!(e.contains("`x`"), "{e}");
        let vs = nn::VarStore::new(Device::Cpu);
        let net = crate::resnet::ResNet8::new(&vs.root(), 3, 4, 3).unwrap();
        let params = core_tensor::train::optim::trainable_named(&vs);
        let out =
            train_network(|x, t| net.forward_t(x, t), params, &data, &TrainConfig::new(1, 4), &mut rng(0))
                .unwrap();
        assert!(out.train_loss[0].is_finite() && (0.0..=1.0).contains(&out.test_acc));
    }

    #[test]
    fn linear_classifier_learns_separable_data() {
        core_tensor::seed::seed_torch(0);
        let x = Tensor::randn([200, 2, 1, 1], (Kind::Float, Device::Cpu));
        let y = x.select(1, 0).view([-1]).gt(0.0).to_kind(Kind::Int64);
        let data = ImageData {
            x_train: x.narrow(0, 0, 120),
            y_train: y.narrow(0, 0, 120),
            x_val: x.narrow(0, 120, 40),
            y_val: y.narrow(0, 120, 40),
            x_test: x.narrow(0, 160, 40),
            y_test: y.narrow(0, 160, 40),
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let lin = nn::linear(vs.root(), 2, 2, Default::default());
        let fwd = |x: &Tensor, _t: bool| x.flatten(1, -1).apply(&lin);
        let cfg = TrainConfig::new(20, 16);
        let out = train_classifier(
            fwd,
            core_tensor::train::optim::trainable_named(&vs),
            &data,
            &cfg,
            &mut core_tensor::seed::rng(1),
        )
        .unwrap();
        assert!(out.test_acc > 0.9, "{out:?}");
        assert!(out.train_loss.last().unwrap() < &out.train_loss[0]);
        let bad = TrainConfig { epochs: 0, ..cfg };
        assert!(bad.validate().is_err());
    }
}
