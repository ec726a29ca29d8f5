//! First-order optimizers with explicit, checkpointable state.
//!
//! The update rules follow PyTorch's `torch.optim` exactly (Adam with coupled L2 decay, AdamW with
//! decoupled decay, SGD with momentum / dampening / Nesterov). The state (moments, momentum
//! buffers, step count) is plain tensors, so a checkpoint restores a run bit for bit, and the
//! gradient can come from autograd ([`Optimizer::step`]) or from anywhere else
//! ([`Optimizer::step_with`], e.g. a zeroth-order estimate).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

/// Which optimizer to use and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// Adam (Kingma & Ba 2015); `weight_decay` adds `λθ` to the gradient (L2).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Second-moment decay β₂.
        beta2: f64,
        /// Denominator term ε.
        eps: f64,
        /// L2 coefficient λ.
        weight_decay: f64,
    },
    /// AdamW (Loshchilov & Hutter 2019): decoupled decay `θ ← θ(1 − η λ)` before the Adam step.
    AdamW {
        /// Learning rate.
        lr: f64,
        /// First-moment decay β₁.
        beta1: f64,
        /// Second-moment decay β₂.
        beta2: f64,
        /// Denominator term ε.
        eps: f64,
        /// Decoupled decay λ.
        weight_decay: f64,
    },
    /// Stochastic gradient descent with heavy-ball or Nesterov momentum.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum μ (0 disables it).
        momentum: f64,
        /// Dampening of the momentum update.
        dampening: f64,
        /// L2 coefficient λ.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
}

impl OptimizerConfig {
    /// Adam with PyTorch defaults (β = (0.9, 0.999), ε = 1e-8, no decay).
    pub fn adam(lr: f64) -> Self {
        OptimizerConfig::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
    /// AdamW with PyTorch defaults and decay `weight_decay`.
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        OptimizerConfig::AdamW { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay }
    }
    /// SGD with heavy-ball momentum.
    pub fn sgd(lr: f64, momentum: f64) -> Self {
        OptimizerConfig::Sgd { lr, momentum, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
    /// Returns the config with L2 / decoupled weight decay `wd`.
    pub fn with_weight_decay(mut self, wd: f64) -> Self {
        match &mut self {
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. }
            | OptimizerConfig::Sgd { weight_decay, .. } => *weight_decay = wd,
        }
        self
    }
    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::AdamW { lr, .. }
            | OptimizerConfig::Sgd { lr, .. } => *lr,
        }
    }

    /// Checks every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        let lr = self.lr();
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::invalid("lr", lr, "must be finite and >= 0"));
        }
        match self {
            OptimizerConfig::Adam { beta1, beta2, eps, weight_decay, .. }
            | OptimizerConfig::AdamW { beta1, beta2, eps, weight_decay, .. } => {
                for (n, b) in [("beta1", beta1), ("beta2", beta2)] {
                    if !(0.0..1.0).contains(b) {
                        return Err(Error::invalid(n, b, "must be in [0, 1)"));
                    }
                }
                if !(*eps > 0.0) {
                    return Err(Error::invalid("eps", eps, "must be > 0"));
                }
                if !(*weight_decay >= 0.0) {
                    return Err(Error::invalid("weight_decay", weight_decay, "must be >= 0"));
                }
            }
            OptimizerConfig::Sgd { momentum, dampening, weight_decay, nesterov, .. } => {
                if !(*momentum >= 0.0) {
                    return Err(Error::invalid("momentum", momentum, "must be >= 0"));
                }
                if !(*weight_decay >= 0.0) {
                    return Err(Error::invalid("weight_decay", weight_decay, "must be >= 0"));
                }
                if *nesterov && (*momentum <= 0.0 || *dampening != 0.0) {
                    return Err(Error::invalid(
                        "nesterov",
                        nesterov,
                        "needs momentum > 0 and zero dampening",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An optimizer over a fixed list of parameters.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    names: Vec<String>,
    params: Vec<Tensor>,
    /// First moment (Adam) or momentum buffer (SGD), one per parameter.
    buf1: Vec<Tensor>,
    /// Second moment (Adam), one per parameter.
    buf2: Vec<Tensor>,
    steps: i64,
    lr: f64,
}

impl Optimizer {
    /// Optimizer over named parameters (names are used for checkpoints).
    pub fn new(config: OptimizerConfig, named: Vec<(String, Tensor)>) -> Result<Self> {
        config.validate()?;
        let (names, params): (Vec<_>, Vec<_>) = named.into_iter().unzip();
        let zeros = |p: &Tensor| p.zeros_like().detach();
        let buf1 = params.iter().map(zeros).collect();
        let buf2 = match config {
            OptimizerConfig::Sgd { .. } => Vec::new(),
            _ => params.iter().map(zeros).collect(),
        };
        let lr = config.lr();
        Ok(Optimizer { config, names, params, buf1, buf2, steps: 0, lr })
    }

    /// Optimizer over the trainable variables of `vs`, in name order.
    pub fn from_var_store(config: OptimizerConfig, vs: &nn::VarStore) -> Result<Self> {
        Self::new(config, trainable_named(vs))
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }
    /// The parameters, in order.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }
    /// Current learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }
    /// Sets the learning rate (schedules call this).
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    /// Number of steps taken.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// Zeroes every parameter's gradient.
    pub fn zero_grad(&mut self) {
        zero_grads(&self.params);
    }

    /// Global L2 norm of the current gradients.
    pub fn grad_norm(&self) -> f64 {
        // summed on the device and read back once (a read per parameter syncs a GPU each time)
        let sq = self
            .params
            .iter()
            .map(Tensor::grad)
            .filter(Tensor::defined)
            .map(|g| g.pow_tensor_scalar(2).sum(Kind::Double))
            .reduce(|a, b| &a + b.to_device(a.device()));
        sq.map_or(0.0, |s| s.double_value(&[]).sqrt())
    }

    /// Rescales gradients so their global L2 norm is at most `max_norm`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norm = self.grad_norm();
        if norm > max_norm && norm > 0.0 {
            let s = max_norm / (norm + 1e-6);
            for p in &self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(s);
                }
            }
        }
        norm
    }

    /// Clamps every gradient entry to `[-v, v]`.
    pub fn clip_grad_value(&mut self, v: f64) {
        for p in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.clamp_(-v, v);
            }
        }
    }

    /// One step using the gradients stored by autograd (parameters without a gradient are
    /// skipped).
    pub fn step(&mut self) -> Result<()> {
        let grads: Vec<Option<Tensor>> = self
            .params
            .iter()
            .map(|p| {
                let g = p.grad();
                g.defined().then_some(g)
            })
            .collect();
        self.apply(&grads)
    }

    /// One step with externally supplied gradients, one per parameter with matching shapes.
    pub fn step_with(&mut self, grads: &[Tensor]) -> Result<()> {
        if grads.len() != self.params.len() {
            return Err(Error::shape("grads", self.params.len(), grads.len()));
        }
        for (i, (g, p)) in grads.iter().zip(&self.params).enumerate() {
            if g.size() != p.size() {
                return Err(Error::shape(format!("grads[{i}]"), p.size(), g.size()));
            }
        }
        let grads: Vec<Option<Tensor>> = grads.iter().map(|g| Some(g.shallow_clone())).collect();
        self.apply(&grads)
    }

    fn apply(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        self.steps += 1;
        let t = self.steps as f64;
        let lr = self.lr;
        tch::no_grad(|| -> Result<()> {
            for (i, g) in grads.iter().enumerate() {
                let Some(g) = g else { continue };
                let p = &mut self.params[i];
                let g = g.f_to_kind(p.kind())?;
                match self.config {
                    OptimizerConfig::Adam { beta1, beta2, eps, weight_decay, .. }
                    | OptimizerConfig::AdamW { beta1, beta2, eps, weight_decay, .. } => {
                        let decoupled = matches!(self.config, OptimizerConfig::AdamW { .. });
                        let g = if weight_decay != 0.0 && !decoupled {
                            g.f_add(&(&*p * weight_decay))?
                        } else {
                            g
                        };
                        if weight_decay != 0.0 && decoupled {
                            let _ = p.f_mul_scalar_(1.0 - lr * weight_decay)?;
                        }
                        let m = &mut self.buf1[i];
                        let _ = m.f_mul_scalar_(beta1)?.f_add_(&(&g * (1.0 - beta1)))?;
                        let v = &mut self.buf2[i];
                        let _ = v.f_mul_scalar_(beta2)?.f_add_(&(g.square() * (1.0 - beta2)))?;
                        let bc1 = 1.0 - beta1.powf(t);
                        let bc2 = 1.0 - beta2.powf(t);
                        let denom = v.sqrt() / bc2.sqrt() + eps;
                        let _ = p.f_sub_(&(&*m / denom * (lr / bc1)))?;
                    }
                    OptimizerConfig::Sgd { momentum, dampening, weight_decay, nesterov, .. } => {
                        let mut d = if weight_decay != 0.0 { g.f_add(&(&*p * weight_decay))? } else { g };
                        if momentum != 0.0 {
                            let b = &mut self.buf1[i];
                            if self.steps == 1 {
                                b.f_copy_(&d)?;
                            } else {
                                let _ = b.f_mul_scalar_(momentum)?.f_add_(&(&d * (1.0 - dampening)))?;
                            }
                            d = if nesterov { d + &*b * momentum } else { b.shallow_clone() };
                        }
                        let _ = p.f_sub_(&(d * lr))?;
                    }
                }
            }
            Ok(())
        })
    }

    /// The optimizer state as named tensors (for checkpoints): `"{name}.m"`, `"{name}.v"`.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, n) in self.names.iter().enumerate() {
            out.push((format!("{n}.m"), self.buf1[i].shallow_clone()));
            if let Some(v) = self.buf2.get(i) {
                out.push((format!("{n}.v"), v.shallow_clone()));
            }
        }
        out
    }

    /// Restores state written by [`Optimizer::state_tensors`] and the step count.
    pub fn load_state(&mut self, named: &[(String, Tensor)], steps: i64) -> Result<()> {
        let find = |key: &str| named.iter().find(|(n, _)| n == key).map(|(_, t)| t);
        tch::no_grad(|| -> Result<()> {
            for i in 0..self.names.len() {
                let key = format!("{}.m", self.names[i]);
                let src = find(&key).ok_or_else(|| Error::invalid("optimizer state", &key, "missing"))?;
                copy_checked(&key, &mut self.buf1[i], src)?;
                if i < self.buf2.len() {
                    let key = format!("{}.v", self.names[i]);
                    let src = find(&key).ok_or_else(|| Error::invalid("optimizer state", &key, "missing"))?;
                    copy_checked(&key, &mut self.buf2[i], src)?;
                }
            }
            Ok(())
        })?;
        self.steps = steps;
        Ok(())
    }
}

fn copy_checked(name: &str, dst: &mut Tensor, src: &Tensor) -> Result<()> {
    if dst.size() != src.size() {
        return Err(Error::shape(name, dst.size(), src.size()));
    }
    dst.f_copy_(src)?;
    Ok(())
}

/// Zeroes the gradient of each of `params` that has one (detached from any graph first).
pub fn zero_grads(params: &[Tensor]) {
    for p in params {
        let mut g = p.grad();
        if g.defined() {
            let _ = g.detach_().zero_();
        }
    }
}

/// Adds `grads` to the parameters' `.grad` (creating it on first use), each converted to its
/// parameter's kind; undefined entries are skipped. For gradients computed outside autograd (an
/// adjoint, a native backward pass) that an optimiser should then apply.
pub fn accumulate_grads(params: &[Tensor], grads: &[Tensor]) {
    for (p, g) in params.iter().zip(grads) {
        if !g.defined() {
            continue;
        }
        let mut pg = p.grad();
        if pg.defined() {
            tch::no_grad(|| {
                let _ = pg.g_add_(&g.to_kind(pg.kind()).to_device(pg.device()));
            });
        } else {
            // first gradient: let autograd create `.grad` (a backward of ⟨p, g⟩ sets it to g)
            tch::with_grad(|| {
                (p * g.detach().to_kind(p.kind()).to_device(p.device())).sum(tch::Kind::Double).backward()
            });
        }
    }
}

/// Trainable variables of a var store, sorted by name (a deterministic order).
pub fn trainable_named(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> =
        vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// A small least-squares problem whose parameters two optimizers can share.
    fn problem(vs: &nn::VarStore) -> (Tensor, impl Fn() -> Tensor) {
        crate::seed::seed_torch(5);
        let w = vs.root().var("w", &[3, 2], nn::Init::Randn { mean: 0.0, stdev: 1.0 });
        let x = Tensor::randn([16, 3], (Kind::Float, Device::Cpu));
        let y = Tensor::randn([16, 2], (Kind::Float, Device::Cpu));
        let w2 = w.shallow_clone();
        (w, move || (x.matmul(&w2) - &y).square().mean(Kind::Float))
    }

    fn run_ours(cfg: OptimizerConfig, steps: usize) -> Tensor {
        let vs = nn::VarStore::new(Device::Cpu);
        let (w, loss) = problem(&vs);
        let mut opt = Optimizer::from_var_store(cfg, &vs).unwrap();
        for _ in 0..steps {
            opt.zero_grad();
            loss().backward();
            opt.step().unwrap();
        }
        w.detach().copy()
    }

    fn run_tch<O: nn::OptimizerConfig>(o: O, lr: f64, steps: usize) -> Tensor {
        let vs = nn::VarStore::new(Device::Cpu);
        let (w, loss) = problem(&vs);
        let mut opt = o.build(&vs, lr).unwrap();
        for _ in 0..steps {
            opt.backward_step(&loss());
        }
        w.detach().copy()
    }

    /// Independent check: libtorch's own optimizers (through tch) give the same iterates.
    #[test]
    fn matches_libtorch_optimizers() {
        let a = run_ours(OptimizerConfig::adam(0.05), 20);
        let b = run_tch(nn::Adam::default(), 0.05, 20);
        assert!(a.allclose(&b, 1e-5, 1e-6, false), "adam");
        let a = run_ours(OptimizerConfig::adam(0.05).with_weight_decay(0.1), 20);
        let b = run_tch(nn::Adam { wd: 0.1, ..Default::default() }, 0.05, 20);
        assert!(a.allclose(&b, 1e-5, 1e-6, false), "adam + l2");
        let a = run_ours(OptimizerConfig::adamw(0.05, 0.1), 20);
        let b = run_tch(nn::AdamW { wd: 0.1, ..Default::default() }, 0.05, 20);
        assert!(a.allclose(&b, 1e-5, 1e-6, false), "adamw");
        let a = run_ours(OptimizerConfig::sgd(0.1, 0.9), 20);
        let b = run_tch(nn::Sgd { momentum: 0.9, ..Default::default() }, 0.1, 20);
        assert!(a.allclose(&b, 1e-5, 1e-6, false), "sgd momentum");
        let nest = OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.01,
            nesterov: true,
        };
        let a = run_ours(nest, 20);
        let b = run_tch(nn::Sgd { momentum: 0.9, wd: 0.01, nesterov: true, dampening: 0.0 }, 0.1, 20);
        assert!(a.allclose(&b, 1e-5, 1e-6, false), "nesterov");
    }

    #[test]
    fn clipping_and_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let (_w, loss) = problem(&vs);
        let mut opt = Optimizer::from_var_store(OptimizerConfig::sgd(0.1, 0.0), &vs).unwrap();
        (loss() * 1000.0).backward();
        let before = opt.clip_grad_norm(1.0);
        assert!(before > 1.0);
        assert!((opt.grad_norm() - 1.0).abs() < 1e-4);
        opt.clip_grad_value(0.01);
        assert!(opt.params()[0].grad().abs().max().double_value(&[]) <= 0.01 + 1e-9);
        let bad = [Tensor::zeros([2, 3], (Kind::Float, Device::Cpu))];
        assert!(opt.step_with(&bad).unwrap_err().to_string().contains("grads[0]"));
        assert!(Optimizer::from_var_store(OptimizerConfig::adam(-1.0), &vs).is_err());
        let e = OptimizerConfig::Adam { lr: 0.1, beta1: 1.0, beta2: 0.9, eps: 1e-8, weight_decay: 0.0 };
        assert!(e.validate().unwrap_err().to_string().contains("beta1"));
    }
}
