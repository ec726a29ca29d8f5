//! Training spiking networks with backpropagation through time (BPTT) and truncated BPTT through
//! core-tensor's [`Trainer`](core_tensor::train::Trainer).
//!
//! Data are stored batch-first, `x [N, T, ...]` and labels `[N]` (int64), so that
//! [`DataLoader`] can shuffle samples; batches are transposed to time-first `[T, B, ...]`.
//! With truncation `K`, each mini-batch becomes `⌈T/K⌉` consecutive chunks; the network state is
//! carried across the chunks of a mini-batch and detached between them, and the optimizer steps
//! once per chunk (the loss of a chunk only sees that chunk's outputs).

use std::cell::RefCell;

use core_tensor::data::{BatchSource, DataLoader};
use core_tensor::train::{TrainHistory, Trainer};
use tch::{nn, Kind, Tensor};

use crate::net::{NetOutput, NetState, SpikingNet};
use crate::{loss, Error, Result};

/// The loss of a recorded output against class labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpikeLoss {
    /// Cross-entropy of spike counts ([`loss::ce_count`]).
    CeCount,
    /// Mean over time of the cross-entropy of the spikes ([`loss::ce_rate`]).
    CeRate,
    /// Membrane MSE against on/off targets ([`loss::mse_membrane`]).
    MseMembrane {
        /// Target for the true class.
        on: f64,
        /// Target for the others.
        off: f64,
    },
    /// Spike-count MSE ([`loss::mse_count`]).
    MseCount {
        /// Firing rate targeted for the true class.
        correct_rate: f64,
        /// Firing rate targeted for the others.
        incorrect_rate: f64,
    },
    /// Cross-entropy of the maximum membrane over time (a non-spiking readout).
    CeMaxMembrane,
}

impl SpikeLoss {
    /// The loss of `out` (`[T, B, C]`) against `labels` `[B]`.
    ///
    /// # Errors
    /// Shape or label errors from [`loss`].
    pub fn compute(&self, out: &NetOutput, labels: &Tensor) -> Result<Tensor> {
        match *self {
            SpikeLoss::CeCount => loss::ce_count(&out.spk, labels),
            SpikeLoss::CeRate => loss::ce_rate(&out.spk, labels),
            SpikeLoss::MseMembrane { on, off } => loss::mse_membrane(&out.mem, labels, on, off),
            SpikeLoss::MseCount { correct_rate, incorrect_rate } => {
                loss::mse_count(&out.spk, labels, correct_rate, incorrect_rate)
            }
            SpikeLoss::CeMaxMembrane => {
                let logits = out.mem.amax([0i64].as_slice(), false);
                Ok(logits.log_softmax(-1, logits.kind()).nll_loss(labels))
            }
        }
    }

    /// Predicted classes `[B]` under this loss's readout: arg-max of the maximum membrane for
    /// [`SpikeLoss::CeMaxMembrane`] and [`SpikeLoss::MseMembrane`], of spike counts otherwise.
    pub fn predict(&self, out: &NetOutput) -> Tensor {
        match self {
            SpikeLoss::CeMaxMembrane | SpikeLoss::MseMembrane { .. } => {
                out.mem.amax([0i64].as_slice(), false).argmax(-1, false)
            }
            _ => crate::encode::spike_count(&out.spk).argmax(-1, false),
        }
    }
}

/// One chunk of a mini-batch: time-first inputs and the labels.
#[derive(Debug)]
pub struct Chunk {
    /// Inputs `[K, B, ...]`.
    pub x: Tensor,
    /// Labels `[B]`.
    pub y: Tensor,
    /// Whether this is the first chunk of its mini-batch (the state restarts from zero).
    pub first: bool,
}

/// Mini-batches of sequences for BPTT (`truncation = None`) or truncated BPTT.
#[derive(Debug)]
pub struct SequenceBatches {
    loader: DataLoader,
    truncation: Option<i64>,
}

impl SequenceBatches {
    /// Batches of `x [N, T, ...]` with labels `[N]` (int64), shuffled per epoch from `seed`.
    ///
    /// # Errors
    /// Mismatched sample counts, `x` without a time axis, truncation < 1.
    pub fn new(x: Tensor, y: Tensor, batch_size: usize, truncation: Option<i64>, seed: u64) -> Result<Self> {
        if x.dim() < 2 {
            return Err(Error::shape("x", "[N, T, ...]", x.size()));
        }
        if y.size() != [x.size()[0]] {
            return Err(Error::shape("y", [x.size()[0]], y.size()));
        }
        if let Some(k) = truncation {
            if k < 1 {
                return Err(Error::invalid("truncation", k, "must be ≥ 1"));
            }
        }
        Ok(SequenceBatches { loader: DataLoader::new(vec![x, y], batch_size, seed)?, truncation })
    }
}

impl BatchSource for SequenceBatches {
    type Batch = Chunk;

    fn batches(&self, epoch: usize) -> core_tensor::Result<Vec<Chunk>> {
        let mut out = Vec::new();
        for b in self.loader.batches(epoch)? {
            let x = b[0].transpose(0, 1);
            let t = x.size()[0];
            let k = self.truncation.unwrap_or(t).min(t);
            let mut start = 0;
            while start < t {
                let len = k.min(t - start);
                out.push(Chunk { x: x.narrow(0, start, len), y: b[1].shallow_clone(), first: start == 0 });
                start += len;
            }
        }
        Ok(out)
    }
}

/// Trains `net` (variables in `vs`) on `data` with `trainer`, by BPTT or truncated BPTT as set in
/// `data`, minimising `loss`. `validate` is passed to [`Trainer::fit`].
///
/// # Errors
/// Errors of the network, the loss or the trainer (e.g. a non-finite loss).
pub fn fit(
    trainer: &mut Trainer,
    vs: &nn::VarStore,
    net: &SpikingNet,
    data: &SequenceBatches,
    loss: SpikeLoss,
    validate: impl FnMut() -> core_tensor::Result<Option<f64>>,
) -> Result<TrainHistory> {
    let state = RefCell::new(NetState::default());
    trainer.fit(
        vs,
        data,
        |chunk: &Chunk| {
            let mut st = state.borrow_mut();
            if chunk.first {
                st.reset();
            } else {
                st.detach();
            }
            let out = net.forward_multi_step_with(&chunk.x, &mut st, false)?;
            loss.compute(&out, &chunk.y)
        },
        validate,
    )
}

/// Accuracy of `net` on time-first `x [T, N, ...]` with labels `[N]`, in batches of
/// `batch_size`, under `loss`'s readout (no gradients).
///
/// # Errors
/// Network errors.
pub fn accuracy(net: &SpikingNet, x: &Tensor, y: &Tensor, loss: SpikeLoss, batch_size: i64) -> Result<f64> {
    let n = x.size()[1];
    let mut correct = 0i64;
    tch::no_grad(|| -> Result<()> {
        let mut i = 0;
        while i < n {
            let b = batch_size.min(n - i);
            let out = net.forward_multi_step(&x.narrow(1, i, b), false)?;
            let pred = loss.predict(&out);
            correct += pred.eq_tensor(&y.narrow(0, i, b)).sum(Kind::Int64).int64_value(&[]);
            i += b;
        }
        Ok(())
    })?;
    Ok(correct as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::Leaky;
    use crate::{Layer, NeuronOptions, Surrogate};
    use core_tensor::train::OptimizerConfig;
    use tch::Device;

    fn net(vs: &nn::VarStore) -> SpikingNet {
        let root = vs.root();
        let o = NeuronOptions::default().surrogate(Surrogate::FastSigmoid { slope: 25.0 });
        SpikingNet::new()
            .push(Layer::Linear(nn::linear(&root / "fc1", 6, 24, Default::default())))
            .neuron(Leaky::new(&(&root / "l1"), 0.9, &o).unwrap())
            .push(Layer::Linear(nn::linear(&root / "fc2", 24, 2, Default::default())))
            .neuron(Leaky::new(&(&root / "l2"), 0.9, &o).unwrap())
    }

    /// Class 0: channels 0–2 fire at rate 0.5 and 3–5 at 0.05; class 1 the reverse.
    fn data(n: i64, t: i64) -> (Tensor, Tensor) {
        let y = Tensor::randint(2, [n], (Kind::Int64, Device::Cpu));
        let hi = Tensor::from_slice(&[0.5f32, 0.5, 0.5, 0.05, 0.05, 0.05]);
        let lo = Tensor::from_slice(&[0.05f32, 0.05, 0.05, 0.5, 0.5, 0.5]);
        let p = hi.unsqueeze(0).where_self(&y.eq(0).unsqueeze(-1), &lo.unsqueeze(0));
        (p.unsqueeze(1).expand([n, t, 6], false).bernoulli(), y)
    }

    #[test]
    fn chunking_splits_time_and_marks_first_chunks() {
        let (x, y) = data(10, 7);
        let b = SequenceBatches::new(x, y, 4, Some(3), 0).unwrap();
        let chunks = b.batches(0).unwrap();
        assert_eq!(chunks.len(), 3 * 3);
        assert_eq!(chunks.iter().filter(|c| c.first).count(), 3);
        assert_eq!(chunks[2].x.size(), vec![1, 4, 6]);
        assert!(SequenceBatches::new(
            Tensor::zeros([3], (Kind::Float, Device::Cpu)),
            Tensor::zeros([3], (Kind::Int64, Device::Cpu)),
            2,
            None,
            0
        )
        .is_err());
    }

    #[test]
    fn chunked_forward_equals_full_forward() {
        core_tensor::seed::seed_torch(2);
        let vs = nn::VarStore::new(Device::Cpu);
        let n = net(&vs);
        let (x, _) = data(5, 12);
        let x = x.transpose(0, 1);
        let full = n.forward_multi_step(&x, false).unwrap();
        let mut st = NetState::default();
        let a = n.forward_multi_step_with(&x.narrow(0, 0, 5), &mut st, false).unwrap();
        let b = n.forward_multi_step_with(&x.narrow(0, 5, 7), &mut st, false).unwrap();
        let joined = Tensor::cat(&[a.mem, b.mem], 0);
        assert!((joined - full.mem).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn bptt_and_truncated_bptt_learn_a_rate_task() {
        for trunc in [None, Some(5)] {
            core_tensor::seed::seed_torch(3);
            let vs = nn::VarStore::new(Device::Cpu);
            let n = net(&vs);
            let (x, y) = data(256, 20);
            let (xt, yt) = data(128, 20);
            let batches = SequenceBatches::new(x, y, 32, trunc, 1).unwrap();
            let mut trainer = Trainer::builder()
                .epochs(8)
                .optimizer(OptimizerConfig::adam(5e-3))
                .progress(false)
                .build()
                .unwrap();
            let h = fit(&mut trainer, &vs, &n, &batches, SpikeLoss::CeCount, || Ok(None)).unwrap();
            assert_eq!(h.epochs.len(), 8);
            let acc = accuracy(&n, &xt.transpose(0, 1), &yt, SpikeLoss::CeCount, 64).unwrap();
            assert!(acc > 0.9, "truncation {trunc:?}: accuracy {acc}");
        }
    }

    #[test]
    fn learns_randman_from_spike_timing() {
        use crate::data::{randman, RandmanConfig};
        use core_tensor::seed::rng;
        let cfg = RandmanConfig { n_classes: 3, n_steps: 30, ..RandmanConfig::default() };
        let mut r = rng(11);
        let ds = randman(&cfg, 120, &mut r).unwrap();
        let (x, y) = ds.to_tensors().unwrap();
        assert_eq!(x.size(), vec![360, 30, 20]);
        // Every sample has one spike per input: only timing differs between classes.
        assert_eq!(x.sum(Kind::Double).double_value(&[]), 360.0 * 20.0);
        core_tensor::seed::seed_torch(4);
        let perm = Tensor::randperm(360, (Kind::Int64, Device::Cpu));
        let (xtr, ytr) =
            (x.index_select(0, &perm.narrow(0, 0, 240)), y.index_select(0, &perm.narrow(0, 0, 240)));
        let (xte, yte) =
            (x.index_select(0, &perm.narrow(0, 240, 120)), y.index_select(0, &perm.narrow(0, 240, 120)));
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let o = NeuronOptions::default().surrogate(Surrogate::FastSigmoid { slope: 10.0 });
        let ro = NeuronOptions::default().reset(crate::Reset::None);
        let net = SpikingNet::new()
            .push(Layer::Linear(nn::linear(&root / "fc1", 20, 64, Default::default())))
            .neuron(Leaky::new(&(&root / "l1"), 0.9, &o).unwrap())
            .push(Layer::Linear(nn::linear(&root / "fc2", 64, 3, Default::default())))
            .neuron(Leaky::new(&(&root / "l2"), 0.9, &ro).unwrap());
        let batches = SequenceBatches::new(xtr, ytr, 32, None, 2).unwrap();
        let mut trainer = Trainer::builder()
            .epochs(30)
            .optimizer(OptimizerConfig::adam(5e-3))
            .progress(false)
            .build()
            .unwrap();
        fit(&mut trainer, &vs, &net, &batches, SpikeLoss::CeMaxMembrane, || Ok(None)).unwrap();
        let acc = accuracy(&net, &xte.transpose(0, 1), &yte, SpikeLoss::CeMaxMembrane, 120).unwrap();
        assert!(acc > 0.8, "Randman test accuracy {acc}");
    }
}
