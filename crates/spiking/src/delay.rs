//! Synaptic delays: fixed per-synapse delays, learnable delays by dilated convolution with
//! learnable spacings (DCLS, Hammouamri, Khalfaoui-Hassani & Masquelier 2023), and the
//! heterogeneous-delay layer of Grimaldi & Perrinet (2023).
//!
//! All three are a [`DelayedLinear`] layer: a temporal kernel `K ∈ ℝ^{N_out × N_in × D}` acting
//! causally on a spike sequence `x ∈ ℝ^{T × B × N_in}`,
//! `y_t[b, o] = Σ_i Σ_{k<D} K[o, i, k] · x_{t−k}[b, i] (+ bias_o)`, with `x_{t<0} = 0`; index `k`
//! is the delay in time steps. They differ only in how `K` is parameterised:
//! - fixed: `K[o,i,k] = W[o,i]·1[k = d_oi]` with integer delays `d`;
//! - DCLS: `K[o,i,k] = W[o,i]·g_σ(k − p_oi) / Σ_k' g_σ(k' − p_oi)` with Gaussian `g_σ`, learnable
//!   real positions `p ∈ [0, D−1]` and a width σ shrunk over training (from `D/2` to ≈ 0.5); after
//!   training the positions are rounded ([`DelayedLinear::set_hard`]) to give integer delays;
//! - heterogeneous: `K` is free (every (input, delay) pair has its own weight), trained as a
//!   time-invariant logistic regression ([`HeteroDelayClassifier`]), and robust to pruning.
//!
//! Over a whole sequence the layer is one 1-D convolution (multi-step mode); in single-step mode it
//! keeps the last `D` inputs.

use std::cell::Cell;

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// How a [`DelayedLinear`] kernel is parameterised.
#[derive(Debug)]
enum Param {
    Fixed { weight: Tensor, delays: Tensor },
    Dcls { weight: Tensor, positions: Tensor, sigma: Cell<f64>, hard: Cell<bool> },
    Free { kernel: Tensor, mask: Option<Tensor> },
}

/// A linear layer whose synapses have delays (see the module docs).
#[derive(Debug)]
pub struct DelayedLinear {
    param: Param,
    bias: Option<Tensor>,
    n_in: i64,
    n_out: i64,
    max_delay: i64,
}

fn check_dims(n_in: i64, n_out: i64, max_delay: i64) -> Result<()> {
    for (name, v) in [("n_in", n_in), ("n_out", n_out), ("max_delay", max_delay)] {
        if v < 1 {
            return Err(Error::invalid(name, v, "must be ≥ 1"));
        }
    }
    Ok(())
}

fn linear_init(n_in: i64) -> Init {
    let bound = 1.0 / (n_in as f64).sqrt();
    Init::Uniform { lo: -bound, up: bound }
}

impl DelayedLinear {
    /// Fixed integer delays `delays` (`[n_out][n_in]` row-major, each in `0..max_delay`) with
    /// learnable weights (PyTorch-style uniform initialisation) and bias.
    ///
    /// # Errors
    /// Zero sizes, a delay list of the wrong length or a delay outside `0..max_delay`.
    pub fn fixed(path: &nn::Path<'_>, n_in: i64, n_out: i64, max_delay: i64, delays: &[i64]) -> Result<Self> {
        check_dims(n_in, n_out, max_delay)?;
        if delays.len() as i64 != n_in * n_out {
            return Err(Error::shape("delays", [n_out, n_in], [delays.len()]));
        }
        if let Some(d) = delays.iter().find(|d| !(0..max_delay).contains(*d)) {
            return Err(Error::invalid("delays", d, format!("each delay must lie in 0..{max_delay}")));
        }
        let weight = path.var("weight", &[n_out, n_in], linear_init(n_in));
        let delays = Tensor::from_slice(delays).reshape([n_out, n_in]).to_device(path.device());
        let bias = Some(path.var("bias", &[n_out], linear_init(n_in)));
        Ok(DelayedLinear { param: Param::Fixed { weight, delays }, bias, n_in, n_out, max_delay })
    }

    /// DCLS learnable delays: weights as in a linear layer, positions uniform in `[0, D−1]`,
    /// initial width `sigma` (the paper starts at `D/2`). Positions live under `path / "positions"`
    /// so they can get their own learning rate ([`DelayedLinear::position_names`]).
    ///
    /// # Errors
    /// Zero sizes, non-positive `sigma`.
    pub fn dcls(path: &nn::Path<'_>, n_in: i64, n_out: i64, max_delay: i64, sigma: f64) -> Result<Self> {
        check_dims(n_in, n_out, max_delay)?;
        core_tensor::error::ensure_positive("sigma", sigma)?;
        let weight = path.var("weight", &[n_out, n_in], linear_init(n_in));
        let positions =
            path.var("positions", &[n_out, n_in], Init::Uniform { lo: 0.0, up: (max_delay - 1) as f64 });
        let bias = Some(path.var("bias", &[n_out], linear_init(n_in)));
        Ok(DelayedLinear {
            param: Param::Dcls { weight, positions, sigma: Cell::new(sigma), hard: Cell::new(false) },
            bias,
            n_in,
            n_out,
            max_delay,
        })
    }

    /// A free spatio-temporal kernel `[n_out, n_in, D]` (heterogeneous delays), initialised
    /// uniformly with bound `1/√(n_in·D)`, with bias.
    ///
    /// # Errors
    /// Zero sizes.
    pub fn free(path: &nn::Path<'_>, n_in: i64, n_out: i64, max_delay: i64) -> Result<Self> {
        check_dims(n_in, n_out, max_delay)?;
        let kernel = path.var("kernel", &[n_out, n_in, max_delay], linear_init(n_in * max_delay));
        let bias = Some(path.var("bias", &[n_out], Init::Const(0.0)));
        Ok(DelayedLinear { param: Param::Free { kernel, mask: None }, bias, n_in, n_out, max_delay })
    }

    /// The kernel size `D` (delays `0..D`).
    pub fn max_delay(&self) -> i64 {
        self.max_delay
    }

    /// `(n_in, n_out)`.
    pub fn dims(&self) -> (i64, i64) {
        (self.n_in, self.n_out)
    }

    /// Names (relative to the layer's path) of the position variables, for a separate optimizer.
    pub fn position_names(&self) -> &'static [&'static str] {
        match self.param {
            Param::Dcls { .. } => &["positions"],
            _ => &[],
        }
    }

    /// Sets the Gaussian width σ of a DCLS layer (no effect on other kinds).
    ///
    /// # Errors
    /// Non-positive σ.
    pub fn set_sigma(&self, sigma: f64) -> Result<()> {
        core_tensor::error::ensure_positive("sigma", sigma)?;
        if let Param::Dcls { sigma: s, .. } = &self.param {
            s.set(sigma);
        }
        Ok(())
    }

    /// The DCLS σ schedule: linear decay from `start` to `end` over the first `epochs` epochs
    /// (the paper shrinks σ from `D/2` to ≈ 0.5 over training), then constant.
    pub fn sigma_schedule(start: f64, end: f64, epochs: usize, epoch: usize) -> f64 {
        if epochs == 0 {
            return end;
        }
        let f = (epoch as f64 / epochs as f64).min(1.0);
        start + (end - start) * f
    }

    /// Switches a DCLS layer to rounded integer delays (the inference mode after training).
    pub fn set_hard(&self, hard: bool) {
        if let Param::Dcls { hard: h, .. } = &self.param {
            h.set(hard);
        }
    }

    /// The current integer delays `[n_out, n_in]` (int64): fixed delays, rounded DCLS positions,
    /// or the arg-max over delay of a free kernel.
    pub fn delays(&self) -> Tensor {
        tch::no_grad(|| match &self.param {
            Param::Fixed { delays, .. } => delays.shallow_clone(),
            Param::Dcls { positions, .. } => self.clamped(positions).round().to_kind(Kind::Int64),
            Param::Free { kernel, .. } => kernel.abs().argmax(2, false),
        })
    }

    fn clamped(&self, positions: &Tensor) -> Tensor {
        positions.clamp(0.0, (self.max_delay - 1) as f64)
    }

    /// The kernel `K [n_out, n_in, D]` (index 2 = delay), differentiable in the parameters.
    pub fn kernel(&self) -> Tensor {
        let d = self.max_delay;
        match &self.param {
            Param::Fixed { weight, delays } => {
                weight.unsqueeze(-1) * delays.one_hot(d).to_kind(weight.kind())
            }
            Param::Dcls { weight, positions, sigma, hard } => {
                let p = self.clamped(positions).unsqueeze(-1);
                let k = Tensor::arange(d, (weight.kind(), weight.device()));
                let g = if hard.get() {
                    p.detach().round().eq_tensor(&k).to_kind(weight.kind())
                } else {
                    let s = sigma.get();
                    let z2 = ((k - &p) / s).square();
                    // Shift by the smallest z² so the largest term is exactly 1 (no underflow of
                    // the normaliser when σ is small).
                    let z2min = z2.amin([-1i64].as_slice(), true).detach();
                    let g = ((z2 - z2min) * -0.5).exp();
                    let norm = g.sum_dim_intlist([-1i64].as_slice(), true, g.kind());
                    g / norm
                };
                weight.unsqueeze(-1) * g
            }
            Param::Free { kernel, mask } => match mask {
                Some(m) => kernel * m,
                None => kernel.shallow_clone(),
            },
        }
    }

    /// Multi-step forward: `x [T, B, n_in]` → `[T, B, n_out]` as one causal convolution.
    ///
    /// # Errors
    /// `x` not of shape `[T, B, n_in]`.
    pub fn forward_seq(&self, x: &Tensor) -> Result<Tensor> {
        let s = x.size();
        if s.len() != 3 || s[2] != self.n_in {
            return Err(Error::shape("x", format!("[T, B, {}]", self.n_in), s));
        }
        let k = self.kernel().flip([2]);
        // [T, B, N] → [B, N, T], left-pad D−1 zeros: output t sees inputs t−D+1 … t.
        let xb = x.permute([1, 2, 0]).constant_pad_nd([self.max_delay - 1, 0]);
        let y = xb.conv1d(&k, self.bias.as_ref(), [1], [0], [1], 1);
        Ok(y.permute([2, 0, 1]))
    }

    /// Single-step forward: `history` holds the last inputs, most recent last, each `[B, n_in]`
    /// (missing older ones count as zero); `x_t` is appended and the output `[B, n_out]` returned.
    ///
    /// # Errors
    /// `x_t` not of shape `[B, n_in]`.
    pub fn step(&self, x_t: &Tensor, history: &mut Vec<Tensor>) -> Result<Tensor> {
        self.step_with(x_t, history, &self.kernel())
    }

    /// [`DelayedLinear::step`] with a kernel already built by [`DelayedLinear::kernel`] (build it
    /// once per sequence instead of once per step).
    ///
    /// # Errors
    /// `x_t` not of shape `[B, n_in]`; a kernel of the wrong shape.
    pub fn step_with(&self, x_t: &Tensor, history: &mut Vec<Tensor>, kernel: &Tensor) -> Result<Tensor> {
        let s = x_t.size();
        if s.len() != 2 || s[1] != self.n_in {
            return Err(Error::shape("x_t", format!("[B, {}]", self.n_in), s));
        }
        if kernel.size() != [self.n_out, self.n_in, self.max_delay] {
            return Err(Error::shape("kernel", [self.n_out, self.n_in, self.max_delay], kernel.size()));
        }
        history.push(x_t.shallow_clone());
        if history.len() as i64 > self.max_delay {
            let _ = history.remove(0);
        }
        // H[b, i, j] = x_{t−j}: newest first.
        let h: Vec<Tensor> = history.iter().rev().map(Tensor::shallow_clone).collect();
        let hist = Tensor::stack(&h, 2);
        let used = hist.size()[2];
        let y = Tensor::einsum("bij,oij->bo", &[hist, kernel.narrow(2, 0, used)], None::<i64>);
        Ok(match &self.bias {
            Some(b) => y + b,
            None => y,
        })
    }

    /// Zeroes all but the largest-magnitude `1 − fraction` of a free kernel's weights (kept zero
    /// from then on, also during training). Returns the number of weights kept.
    ///
    /// # Errors
    /// `fraction ∉ [0, 1)` or a layer that is not a free (heterogeneous-delay) kernel.
    pub fn prune(&mut self, fraction: f64) -> Result<i64> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::invalid("fraction", fraction, "must lie in [0, 1)"));
        }
        let Param::Free { kernel, mask } = &mut self.param else {
            return Err(Error::invalid("layer", "fixed/DCLS", "only heterogeneous-delay kernels are pruned"));
        };
        let eff = tch::no_grad(|| match mask.as_ref() {
            Some(m) => kernel.abs() * m,
            None => kernel.abs(),
        });
        let n = eff.numel() as i64;
        let keep = ((1.0 - fraction) * n as f64).round().max(1.0) as i64;
        let (vals, _) = eff.flatten(0, -1).topk(keep, 0, true, true);
        let cut = vals.get(keep - 1).double_value(&[]);
        let m = eff.ge(cut).to_kind(kernel.kind());
        *mask = Some(m);
        Ok(keep)
    }
}

/// The heterogeneous-delay classifier of Grimaldi & Perrinet (2023): one [`DelayedLinear`] free
/// kernel whose output `y_t[b, c]` is the log-odds that class `c`'s pattern ends at time t: a
/// time-invariant logistic regression on the spatio-temporal window ending at t (full windows,
/// `t ≥ D − 1`). [`HeteroDelayClassifier::loss_per_window`] is the paper's objective (every window
/// labelled with the sample's class, for dense evidence); [`HeteroDelayClassifier::loss`] max-pools
/// over time first, for patterns that occur sparsely. A sequence is classified by the class whose
/// log-odds peak highest.
#[derive(Debug)]
pub struct HeteroDelayClassifier {
    /// The spatio-temporal kernel layer.
    pub layer: DelayedLinear,
}

impl HeteroDelayClassifier {
    /// A classifier of `n_in` input channels into `n_classes`, with delays `0..max_delay`.
    ///
    /// # Errors
    /// Zero sizes.
    pub fn new(path: &nn::Path<'_>, n_in: i64, n_classes: i64, max_delay: i64) -> Result<Self> {
        Ok(HeteroDelayClassifier { layer: DelayedLinear::free(path, n_in, n_classes, max_delay)? })
    }

    fn full_windows(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.layer.forward_seq(x)?;
        let t = y.size()[0];
        let d = self.layer.max_delay() - 1;
        if t <= d {
            return Err(Error::invalid("x.size(0)", t, format!("needs more than max_delay − 1 = {d} steps")));
        }
        Ok(y.narrow(0, d, t - d))
    }

    /// The paper's time-invariant logistic-regression loss on `x [T, B, n_in]` with class labels
    /// `[B]` (int64): binary cross-entropy of `σ(y_t)` against the one-hot label at every full
    /// window. Suited to streams where class evidence is dense in time.
    ///
    /// # Errors
    /// Shape errors; sequences shorter than the kernel.
    pub fn loss_per_window(&self, x: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let y = self.full_windows(x)?;
        let target = labels.one_hot(self.layer.n_out).to_kind(y.kind()).unsqueeze(0).expand_as(&y);
        Ok(y.binary_cross_entropy_with_logits::<Tensor>(&target, None, None, tch::Reduction::Mean))
    }

    /// Multiple-instance form for sparse patterns: the same logistic read-out, max-pooled over
    /// time before the softmax cross-entropy (`CE(max_t y_t, label)`), so only the window where a
    /// class's pattern is best aligned has to explain the label.
    ///
    /// # Errors
    /// As [`HeteroDelayClassifier::loss_per_window`].
    pub fn loss(&self, x: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let y = self.full_windows(x)?.amax([0i64].as_slice(), false);
        Ok(y.log_softmax(-1, y.kind()).nll_loss(labels))
    }

    /// Predicted classes `[B]`: the class whose log-odds peak highest over the full windows (the
    /// layer is a motif detector; a time-average of its linear read-out would keep only the input
    /// rates).
    ///
    /// # Errors
    /// As [`HeteroDelayClassifier::loss`].
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.full_windows(x)?;
        Ok(y.amax([0i64].as_slice(), false).argmax(-1, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn dev() -> (Kind, Device) {
        (Kind::Double, Device::Cpu)
    }

    #[test]
    fn fixed_delays_shift_inputs() {
        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let l = DelayedLinear::fixed(&vs.root(), 2, 1, 4, &[0, 3]).unwrap();
        if let Param::Fixed { weight, .. } = &l.param {
            tch::no_grad(|| {
                weight.shallow_clone().copy_(&Tensor::from_slice(&[1.0f64, 10.0]).reshape([1, 2]))
            });
        }
        let _ = tch::no_grad(|| l.bias.as_ref().unwrap().shallow_clone().zero_());
        // channel 0 spikes at t = 1, channel 1 at t = 2 → outputs 1 at t = 1 and 10 at t = 5.
        let x = Tensor::zeros([8, 1, 2], dev());
        let _ = x.get(1).get(0).get(0).fill_(1.0);
        let _ = x.get(2).get(0).get(1).fill_(1.0);
        let y: Vec<f64> = Vec::try_from(l.forward_seq(&x).unwrap().flatten(0, -1)).unwrap();
        assert_eq!(y, vec![0.0, 1.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0]);
        // Single-step mode gives the same.
        let mut hist = Vec::new();
        for t in 0..8 {
            let yt = l.step(&x.get(t), &mut hist).unwrap().double_value(&[0, 0]);
            assert_eq!(yt, y[t as usize]);
        }
        assert!(DelayedLinear::fixed(&vs.root(), 2, 1, 4, &[0, 4]).is_err());
        assert!(DelayedLinear::fixed(&vs.root(), 2, 1, 4, &[0]).is_err());
    }

    #[test]
    fn dcls_kernel_is_normalised_and_hardens_to_integer_delays() {
        core_tensor::seed::seed_torch(0);
        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let l = DelayedLinear::dcls(&vs.root(), 3, 2, 6, 3.0).unwrap();
        let k = l.kernel();
        let w = vs.variables()["weight"].shallow_clone();
        let sums = k.sum_dim_intlist([2i64].as_slice(), false, Kind::Double);
        assert!((sums - &w).abs().max().double_value(&[]) < 1e-9);
        l.set_sigma(0.05).unwrap();
        l.set_hard(true);
        let x = Tensor::randn([20, 4, 3], dev());
        let soft = {
            l.set_hard(false);
            l.forward_seq(&x).unwrap()
        };
        l.set_hard(true);
        let hard = l.forward_seq(&x).unwrap();
        // A tiny σ concentrates the Gaussian on the nearest integer (positions not at .5).
        let diff = (soft - &hard).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
        let d = l.delays();
        assert_eq!(d.size(), vec![2, 3]);
        assert!(d.min().int64_value(&[]) >= 0 && d.max().int64_value(&[]) <= 5);
    }

    #[test]
    fn dcls_positions_get_gradients_and_single_step_matches() {
        core_tensor::seed::seed_torch(1);
        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let l = DelayedLinear::dcls(&vs.root(), 3, 2, 5, 2.0).unwrap();
        let x = Tensor::rand([9, 2, 3], dev());
        let y = l.forward_seq(&x).unwrap();
        let mut hist = Vec::new();
        for t in 0..9 {
            let yt = l.step(&x.get(t), &mut hist).unwrap();
            assert!((yt - y.get(t)).abs().max().double_value(&[]) < 1e-12);
        }
        y.square().sum(Kind::Double).backward();
        let gp = vs.variables()["positions"].grad();
        assert!(gp.abs().sum(Kind::Double).double_value(&[]) > 0.0);
        assert_eq!(l.position_names(), &["positions"]);
        assert!((DelayedLinear::sigma_schedule(4.0, 0.5, 10, 5) - 2.25).abs() < 1e-12);
        assert_eq!(DelayedLinear::sigma_schedule(4.0, 0.5, 10, 50), 0.5);
    }

    #[test]
    fn pruning_keeps_the_largest_weights() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut l = DelayedLinear::free(&vs.root(), 4, 3, 5).unwrap();
        let kept = l.prune(0.9).unwrap();
        assert_eq!(kept, 6);
        let nz = l.kernel().ne(0.0).sum(Kind::Int64).int64_value(&[]);
        assert_eq!(nz, 6);
        assert!(l.prune(1.0).is_err());
        let l2 = DelayedLinear::dcls(&vs.root(), 2, 2, 3, 1.0).unwrap();
        let mut l2 = l2;
        assert!(l2.prune(0.5).is_err());
    }

    /// Motion direction/speed on a row of 8 channels: class 0 moves right at 1 channel/step
    /// (channel i fires 7 − i steps before the end), class 1 left, class 2 right at 2 channels/step;
    /// up to three trajectories at random times, in Poisson noise.
    fn motif_data(n: i64, seed: i64) -> (Tensor, Tensor) {
        core_tensor::seed::seed_torch(seed as u64);
        let (t, c, k) = (80i64, 8i64, 3i64);
        let motifs = [[7i64, 6, 5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5, 6, 7], [3, 3, 2, 2, 1, 1, 0, 0]];
        let y = Tensor::randint(k, [n], (Kind::Int64, Device::Cpu));
        let x = Tensor::full([t, n, c], 0.02, (Kind::Float, Device::Cpu)).bernoulli();
        let ys: Vec<i64> = Vec::try_from(&y).unwrap();
        let gaps: Vec<i64> = Vec::try_from(
            Tensor::randint_low(10, 30, [n, 3], (Kind::Int64, Device::Cpu))
                .cumsum(1, Kind::Int64)
                .flatten(0, -1),
        )
        .unwrap();
        for (b, cls) in ys.iter().enumerate() {
            for &start in gaps[3 * b..3 * b + 3].iter().filter(|s| (8..t).contains(*s)) {
                for ch in 0..c {
                    let tt = start - motifs[*cls as usize][ch as usize];
                    let _ = x.get(tt).get(b as i64).get(ch).fill_(1.0);
                }
            }
        }
        (x, y)
    }

    #[test]
    fn heterogeneous_delays_learn_motifs_and_survive_pruning() {
        let (x, y) = motif_data(300, 5);
        let (xt, yt) = motif_data(200, 6);
        let vs = nn::VarStore::new(Device::Cpu);
        let mut clf = HeteroDelayClassifier::new(&vs.root(), 8, 3, 12).unwrap();
        let acc = |clf: &HeteroDelayClassifier| {
            let p = clf.predict(&xt).unwrap();
            p.eq_tensor(&yt).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
        };
        let train = |clf: &HeteroDelayClassifier, vs: &nn::VarStore, steps: usize| {
            let mut opt = core_tensor::train::Optimizer::from_var_store(
                core_tensor::train::OptimizerConfig::adam(0.05),
                vs,
            )
            .unwrap();
            for _ in 0..steps {
                opt.zero_grad();
                let l = clf.loss(&x, &y).unwrap();
                l.backward();
                opt.step().unwrap();
            }
        };
        train(&clf, &vs, 200);
        let full = acc(&clf);
        assert!(clf.loss_per_window(&x, &y).unwrap().double_value(&[]).is_finite());
        assert!(full > 0.95, "accuracy {full}");
        clf.layer.prune(0.8).unwrap();
        let pruned = acc(&clf);
        train(&clf, &vs, 50);
        let retrained = acc(&clf);
        assert!(retrained > 0.95 && pruned > 0.8, "pruned {pruned}, after fine-tuning {retrained}");
        let nz = clf.layer.kernel().ne(0.0).sum(Kind::Int64).int64_value(&[]);
        assert!(nz <= (0.2 * 8.0 * 3.0 * 12.0f64).round() as i64 + 1);
    }
}
