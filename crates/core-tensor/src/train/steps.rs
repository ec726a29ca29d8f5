//! Step mode of the [`Trainer`]: a fixed number of optimizer steps driven by a closure, for
//! training problems that are not "epochs over a batch source": full-batch fits, minibatches the
//! caller draws, losses that need the step index (KL annealing, per-step noise), and steps the
//! closure takes itself (bilevel updates, a second optimizer).
//!
//! The learning-rate schedule is evaluated per step, gradient clipping and the non-finite-loss
//! check are the same as in [`Trainer::fit`], observers see every step through
//! [`Observer::on_step`](super::Observer::on_step), and libtorch's generator is left alone (the
//! closure's random draws continue the caller's stream, so a loop moved here keeps its numbers).

use super::optim::Optimizer;
use super::trainer::{loss_value, Control, GradClip, Trainer};
use crate::bench::progress_bar;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// What the step closure hands back.
#[derive(Debug)]
pub enum StepOutput {
    /// A scalar loss with its graph: the trainer backpropagates, clips and steps.
    Loss(Tensor),
    /// The value of a loss whose update the closure already applied (it stepped
    /// [`StepContext::optimizer`] or optimizers of its own).
    Stepped(f64),
    /// The value of a loss whose gradients the closure already accumulated into the parameters'
    /// `.grad` (a continuous adjoint, checkpointed replay or another backward of its own): the
    /// trainer clips and steps as for [`StepOutput::Loss`].
    Gradients(f64),
}

/// What the step closure sees.
#[derive(Debug)]
pub struct StepContext<'a> {
    /// Step index from 0.
    pub step: usize,
    /// Epoch of the step ([`Trainer::run_epochs`]; equal to `step` in [`Trainer::run_steps`]).
    pub epoch: usize,
    /// Batch of the step within its epoch (0 in [`Trainer::run_steps`]).
    pub batch: usize,
    /// Learning rate set on the optimizer for this step.
    pub lr: f64,
    /// The optimizer; its gradients are zeroed before the closure runs.
    pub optimizer: &'a mut Optimizer,
}

/// One step of [`Trainer::run_steps`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step index from 0.
    pub step: usize,
    /// The loss the closure returned (before the update).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping, when the trainer clipped by norm.
    pub grad_norm: Option<f64>,
}

/// The outcome of [`Trainer::run_steps`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepHistory {
    /// One record per step taken.
    pub steps: Vec<StepRecord>,
    /// Stopped by an observer before the last step.
    pub interrupted: bool,
}

impl StepHistory {
    /// The loss of every step.
    pub fn losses(&self) -> Vec<f64> {
        self.steps.iter().map(|r| r.loss).collect()
    }
}

impl Trainer {
    /// Takes `steps` optimizer steps over `params` (named tensors with `requires_grad`; from a var
    /// store: [`trainable_named`](super::optim::trainable_named)), calling `step_fn` once per step.
    ///
    /// Per step: set the scheduled rate (`schedule.lr(base, step)`), zero the gradients, call
    /// `step_fn`; for [`StepOutput::Loss`] check that it is a finite scalar, backpropagate, clip
    /// as configured and step. `epochs`, early stopping, zeroth-order gradients and checkpoints
    /// belong to [`Trainer::fit`] and are rejected here.
    ///
    /// # Errors
    /// `steps = 0`, an empty parameter list, a configuration only `fit` supports, a non-scalar or
    /// non-finite loss (naming the step), or the closure's own error.
    pub fn run_steps(
        &mut self,
        params: Vec<(String, Tensor)>,
        steps: usize,
        step_fn: impl FnMut(&mut StepContext<'_>) -> Result<StepOutput>,
    ) -> Result<StepHistory> {
        self.steps_in_epochs(params, steps, 1, step_fn)
    }

    /// [`Trainer::run_steps`] in `epochs` epochs of `batches` steps: the schedule is evaluated per
    /// epoch, the closure sees [`StepContext::epoch`] and [`StepContext::batch`] (to draw an epoch's
    /// order at batch 0, say) and returns each step's output with a weight (its batch size, or 1).
    /// Returns the weighted mean loss of every completed epoch, `Σ w·loss / Σ w` in batch order.
    ///
    /// # Errors
    /// As [`Trainer::run_steps`]; `epochs` or `batches` 0.
    pub fn run_epochs(
        &mut self,
        params: Vec<(String, Tensor)>,
        epochs: usize,
        batches: usize,
        mut step_fn: impl FnMut(&mut StepContext<'_>) -> Result<(StepOutput, f64)>,
    ) -> Result<Vec<f64>> {
        if epochs == 0 || batches == 0 {
            return Err(Error::invalid("epochs, batches", format!("{epochs}, {batches}"), "must be > 0"));
        }
        let mut weights = Vec::with_capacity(epochs * batches);
        let history = self.steps_in_epochs(params, epochs * batches, batches, |c| {
            let (out, w) = step_fn(c)?;
            weights.push(w);
            Ok(out)
        })?;
        Ok(history
            .steps
            .chunks_exact(batches)
            .zip(weights.chunks_exact(batches))
            .map(|(recs, ws)| {
                let total = recs.iter().zip(ws).fold(0.0, |acc, (r, w)| acc + r.loss * w);
                total / ws.iter().sum::<f64>()
            })
            .collect())
    }

    /// The step loop behind both entry points: `per_epoch` steps per epoch (1: every step its
    /// own epoch), the schedule evaluated per epoch, the progress bar counting epochs.
    fn steps_in_epochs(
        &mut self,
        params: Vec<(String, Tensor)>,
        steps: usize,
        per_epoch: usize,
        mut step_fn: impl FnMut(&mut StepContext<'_>) -> Result<StepOutput>,
    ) -> Result<StepHistory> {
        let cfg = self.config().clone();
        if steps == 0 {
            return Err(Error::invalid("steps", 0, "must be > 0"));
        }
        if params.is_empty() {
            return Err(Error::invalid("params", "[]", "no parameter to train"));
        }
        if cfg.early_stopping.is_some() || cfg.zeroth_order.is_some() || cfg.checkpoint_dir.is_some() {
            return Err(Error::invalid(
                "trainer config",
                "early stopping / zeroth order / checkpoints",
                "only Trainer::fit supports them; run_steps takes plain steps",
            ));
        }
        let mut opt = Optimizer::new(cfg.optimizer.clone(), params)?;
        let base_lr = cfg.optimizer.lr();
        let pb = progress_bar(steps.div_ceil(per_epoch) as u64, "training", cfg.progress);
        let mut history = StepHistory::default();
        for step in 0..steps {
            let (epoch, batch) = (step / per_epoch, step % per_epoch);
            let lr = cfg.schedule.lr(base_lr, epoch);
            opt.set_lr(lr);
            opt.zero_grad();
            let out = step_fn(&mut StepContext { step, epoch, batch, lr, optimizer: &mut opt })?;
            let (loss, grad_norm) = match out {
                StepOutput::Loss(loss) => {
                    let v = loss_value(&loss)?;
                    check_step_loss(v, step)?;
                    loss.backward();
                    (v, clip_and_step(&mut opt, cfg.clip)?)
                }
                StepOutput::Gradients(v) => {
                    check_step_loss(v, step)?;
                    (v, clip_and_step(&mut opt, cfg.clip)?)
                }
                StepOutput::Stepped(v) => {
                    check_step_loss(v, step)?;
                    (v, None)
                }
            };
            let record = StepRecord { step, loss, lr, grad_norm };
            if batch + 1 == per_epoch {
                pb.inc(1);
            }
            let mut control = Control::Continue;
            for o in self.observers_mut() {
                if o.on_step(&record) == Control::Stop {
                    control = Control::Stop;
                }
            }
            history.steps.push(record);
            if control == Control::Stop && step + 1 < steps {
                history.interrupted = true;
                break;
            }
        }
        pb.finish_and_clear();
        Ok(history)
    }
}

fn check_step_loss(v: f64, step: usize) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { name: format!("training loss (step {step})"), index: 0 })
    }
}

/// Clips the accumulated gradients as configured and steps; the norm before clipping when
/// clipping by norm.
fn clip_and_step(opt: &mut Optimizer, clip: Option<GradClip>) -> Result<Option<f64>> {
    let norm = match clip {
        Some(GradClip::Norm { max_norm }) => Some(opt.clip_grad_norm(max_norm)),
        Some(GradClip::Value { max }) => {
            opt.clip_grad_value(max);
            None
        }
        None => None,
    };
    opt.step()?;
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{LrSchedule, OptimizerConfig};
    use tch::{Device, Kind};

    fn param(v: f64) -> Vec<(String, Tensor)> {
        vec![("x".into(), Tensor::from_slice(&[v]).to_kind(Kind::Double).set_requires_grad(true))]
    }

    /// Plain gradient descent on (x − 3)²: x_{k+1} = x_k − η · 2(x_k − 3), so
    /// x_k − 3 = (1 − 2η)^k (x_0 − 3) exactly; the per-step schedule switches η at step 2.
    #[test]
    fn steps_follow_the_closed_form_and_the_schedule() {
        let p = param(0.0);
        let x = p[0].1.shallow_clone();
        let mut t = Trainer::builder()
            .optimizer(OptimizerConfig::sgd(0.1, 0.0))
            .schedule(LrSchedule::Piecewise { boundaries: vec![2], rates: vec![0.1, 0.25] })
            .build()
            .unwrap();
        let h = t.run_steps(p, 4, |_| Ok(StepOutput::Loss((&x - 3.0).square().sum(Kind::Double)))).unwrap();
        // two steps at η = 0.1 (factor 0.8), two at η = 0.25 (factor 0.5)
        let expected = 3.0 - 3.0 * 0.8f64.powi(2) * 0.5f64.powi(2);
        assert!((x.double_value(&[0]) - expected).abs() < 1e-12);
        assert_eq!(h.steps.iter().map(|r| r.lr).collect::<Vec<_>>(), vec![0.1, 0.1, 0.25, 0.25]);
        assert_eq!(h.losses()[0], 9.0);
    }

    /// Gradients the closure accumulated itself are clipped and stepped like a returned loss's:
    /// the gradient 2(x − 3) = −6 at x = 0, clipped to norm 1, moves x by η = 0.1 to 0.1.
    #[test]
    fn gradients_accumulated_by_the_closure_are_clipped_and_stepped() {
        let p = param(0.0);
        let x = p[0].1.shallow_clone();
        let mut t =
            Trainer::builder().optimizer(OptimizerConfig::sgd(0.1, 0.0)).clip_norm(1.0).build().unwrap();
        let h = t
            .run_steps(p, 1, |_| {
                let loss = (&x - 3.0).square().sum(Kind::Double);
                loss.backward();
                Ok(StepOutput::Gradients(loss.double_value(&[])))
            })
            .unwrap();
        assert!((x.double_value(&[0]) - 0.1).abs() < 1e-7); // the clip divides by norm + 1e-6
        assert_eq!(h.steps[0].grad_norm, Some(6.0));
        assert_eq!(h.losses(), vec![9.0]);
    }

    /// Epochs of three batches: the schedule moves per epoch, the closure sees (epoch, batch),
    /// and each epoch's loss is the weighted mean `Σ w·loss / Σ w` of its batches.
    #[test]
    fn epochs_weight_their_batches_and_schedule_per_epoch() {
        let mut t = Trainer::builder()
            .optimizer(OptimizerConfig::sgd(0.1, 0.0))
            .schedule(LrSchedule::Piecewise { boundaries: vec![1], rates: vec![0.1, 0.01] })
            .build()
            .unwrap();
        let mut seen = Vec::new();
        let means = t
            .run_epochs(param(0.0), 2, 3, |c| {
                seen.push((c.epoch, c.batch, c.lr));
                // losses 1, 2, 3 with weights 1, 1, 2 in every epoch
                let loss = (c.batch + 1) as f64;
                Ok((StepOutput::Stepped(loss), if c.batch == 2 { 2.0 } else { 1.0 }))
            })
            .unwrap();
        assert_eq!(means, vec![9.0 / 4.0, 9.0 / 4.0]);
        assert_eq!(seen[2], (0, 2, 0.1));
        assert_eq!(seen[3], (1, 0, 0.01));
        assert!(t.run_epochs(param(0.0), 0, 3, |_| Ok((StepOutput::Stepped(0.0), 1.0))).is_err());
    }

    #[test]
    fn bad_input_and_stepping_closures() {
        let mut t = Trainer::builder().optimizer(OptimizerConfig::adam(0.1)).build().unwrap();
        assert!(t.run_steps(param(0.0), 0, |_| Ok(StepOutput::Stepped(0.0))).is_err());
        assert!(t.run_steps(vec![], 3, |_| Ok(StepOutput::Stepped(0.0))).is_err());
        let e = t
            .run_steps(param(0.0), 3, |c| Ok(StepOutput::Stepped(if c.step == 1 { f64::NAN } else { 1.0 })))
            .unwrap_err()
            .to_string();
        assert!(e.contains("step 1"), "{e}");
        let e = t
            .run_steps(param(0.0), 1, |_| Ok(StepOutput::Loss(Tensor::ones([2], (Kind::Float, Device::Cpu)))))
            .unwrap_err()
            .to_string();
        assert!(e.contains("loss"), "{e}");
        let mut fit_only = Trainer::builder().early_stopping(2, 0.0).build().unwrap();
        assert!(fit_only.run_steps(param(0.0), 2, |_| Ok(StepOutput::Stepped(0.0))).is_err());
    }

    #[test]
    fn observers_can_stop_a_run() {
        struct StopAt(usize);
        impl crate::train::Observer for StopAt {
            fn on_step(&mut self, r: &StepRecord) -> Control {
                if r.step + 1 >= self.0 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            }
        }
        let mut t = Trainer::builder().build().unwrap();
        t.observe(StopAt(2));
        let h = t.run_steps(param(1.0), 10, |_| Ok(StepOutput::Stepped(1.0))).unwrap();
        assert_eq!(h.steps.len(), 2);
        assert!(h.interrupted);
    }
}
