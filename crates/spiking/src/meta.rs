//! A probabilistic (escape-noise) meta-neuron whose internal parameters — leak, threshold, noise
//! temperature and input weights — are learned by maximum likelihood from observed spike trains.
//!
//! Dynamics over inputs `x_t ∈ ℝ^{N}` (one neuron per output, `[B, M]` batches):
//! `U_t = β U_{t−1} (1 − S_{t−1}) + W x_t`, firing probability `p_t = σ((U_t − θ)/τ)` and
//! `S_t ~ Bernoulli(p_t)` (stochastic threshold / escape noise; Gerstner's soft-threshold
//! neuron, Bernoulli in discrete time). `β = σ(a)` ∈ (0, 1) and `τ = softplus(c)` > 0 are
//! parameterised so that any real `a`, `c` is valid. The threshold θ is fixed (it sets the
//! scale: multiplying `W`, θ and τ by the same factor leaves the likelihood unchanged) and there
//! is no bias (it would not be identifiable separately from θ); β, τ and `W` are learned.
//!
//! Given an observed spike train the reset uses the observed spikes (teacher forcing), so the
//! log-likelihood `Σ_t S_t log p_t + (1 − S_t) log(1 − p_t)` is exact and differentiable in every
//! parameter; [`MetaNeuron::fit`] maximises it with Adam.

use core_tensor::train::{trainable_named, OptimizerConfig, StepOutput, Trainer};
use tch::nn::{self, Init};
use tch::Tensor;

use crate::{Error, Result};

/// A population of `M` probabilistic meta-neurons with `N` inputs each.
#[derive(Debug)]
pub struct MetaNeuron {
    weight: Tensor,
    beta_logit: Tensor,
    threshold: Tensor,
    temp_raw: Tensor,
    n_in: i64,
    n_out: i64,
}

fn inv_softplus(y: f64) -> f64 {
    (y.exp() - 1.0).ln()
}

impl MetaNeuron {
    /// `n_out` neurons with `n_in` inputs; initial leak `beta`, threshold `theta`, temperature
    /// `temp`; weights uniform in ±1/√n_in. β, τ and `W` are trainable under `path`; θ is fixed.
    ///
    /// # Errors
    /// Zero sizes, `beta ∉ (0, 1)`, non-positive temperature, non-finite threshold.
    pub fn new(path: &nn::Path<'_>, n_in: i64, n_out: i64, beta: f64, theta: f64, temp: f64) -> Result<Self> {
        for (n, v) in [("n_in", n_in), ("n_out", n_out)] {
            if v < 1 {
                return Err(Error::invalid(n, v, "must be ≥ 1"));
            }
        }
        if !(beta > 0.0 && beta < 1.0) {
            return Err(Error::invalid("beta", beta, "must lie in (0, 1)"));
        }
        core_tensor::error::ensure_positive("temp", temp)?;
        core_tensor::error::ensure_finite("theta", &[theta])?;
        let bound = 1.0 / (n_in as f64).sqrt();
        Ok(MetaNeuron {
            weight: path.var("weight", &[n_out, n_in], Init::Uniform { lo: -bound, up: bound }),
            beta_logit: path.var("beta_logit", &[n_out], Init::Const((beta / (1.0 - beta)).ln())),
            threshold: Tensor::full([n_out], theta, (path.kind(), path.device())),
            temp_raw: path.var("temp_raw", &[n_out], Init::Const(inv_softplus(temp))),
            n_in,
            n_out,
        })
    }

    /// Leak β per neuron `[M]`.
    pub fn beta(&self) -> Tensor {
        self.beta_logit.sigmoid()
    }

    /// Threshold θ per neuron `[M]`.
    pub fn threshold(&self) -> Tensor {
        self.threshold.shallow_clone()
    }

    /// Temperature τ per neuron `[M]`.
    pub fn temperature(&self) -> Tensor {
        self.temp_raw.softplus()
    }

    /// Weights `[M, N]`.
    pub fn weight(&self) -> Tensor {
        self.weight.shallow_clone()
    }

    /// Sets the parameters to given values (e.g. a ground-truth neuron for simulation).
    ///
    /// # Errors
    /// Shapes other than `[M, N]`, `[M]`; β ∉ (0, 1); τ ≤ 0.
    pub fn set(&self, weight: &Tensor, beta: &Tensor, theta: &Tensor, temp: &Tensor) -> Result<()> {
        if weight.size() != [self.n_out, self.n_in] {
            return Err(Error::shape("weight", [self.n_out, self.n_in], weight.size()));
        }
        for (n, t) in [("beta", beta), ("theta", theta), ("temp", temp)] {
            if t.size() != [self.n_out] {
                return Err(Error::shape(n, [self.n_out], t.size()));
            }
        }
        let (bmin, bmax) = (beta.min().double_value(&[]), beta.max().double_value(&[]));
        if !(bmin > 0.0 && bmax < 1.0) {
            return Err(Error::invalid("beta", format!("[{bmin}, {bmax}]"), "must lie in (0, 1)"));
        }
        if !(temp.min().double_value(&[]) > 0.0) {
            return Err(Error::invalid("temp", temp.min().double_value(&[]), "must be > 0"));
        }
        tch::no_grad(|| {
            self.weight.shallow_clone().copy_(weight);
            let logit: Tensor = (beta / (beta.ones_like() - beta)).log();
            self.beta_logit.shallow_clone().copy_(&logit);
            self.threshold.shallow_clone().copy_(theta);
            // softplus⁻¹(τ) = ln(e^τ − 1).
            self.temp_raw.shallow_clone().copy_(&(temp.exp() - 1.0).log());
        });
        Ok(())
    }

    fn check_inputs(&self, x: &Tensor) -> Result<(i64, i64)> {
        let s = x.size();
        if s.len() != 3 || s[2] != self.n_in {
            return Err(Error::shape("x", format!("[T, B, {}]", self.n_in), s));
        }
        Ok((s[0], s[1]))
    }

    /// Samples spike trains `[T, B, M]` for inputs `x [T, B, N]` (libtorch's global generator).
    ///
    /// # Errors
    /// Shape errors.
    pub fn sample(&self, x: &Tensor) -> Result<Tensor> {
        let (t_len, b) = self.check_inputs(x)?;
        tch::no_grad(|| {
            let drive = x.matmul(&self.weight.tr());
            let (beta, theta, temp) = (self.beta(), self.threshold(), self.temperature());
            let mut u = Tensor::zeros([b, self.n_out], (x.kind(), x.device()));
            let mut s = u.zeros_like();
            let mut out = Vec::with_capacity(t_len as usize);
            for d in drive.unbind(0) {
                u = &beta * &u * (1.0 - &s) + d;
                let p = ((&u - &theta) / &temp).sigmoid();
                s = p.bernoulli();
                out.push(s.shallow_clone());
            }
            Ok(Tensor::stack(&out, 0))
        })
    }

    /// Mean log-likelihood per time step and neuron of observed spikes `s [T, B, M]` given inputs
    /// `x [T, B, N]` (differentiable).
    ///
    /// # Errors
    /// Shape errors; spikes not in {0, 1}.
    pub fn log_likelihood(&self, x: &Tensor, s: &Tensor) -> Result<Tensor> {
        let (t_len, b) = self.check_inputs(x)?;
        if s.size() != [t_len, b, self.n_out] {
            return Err(Error::shape("s", [t_len, b, self.n_out], s.size()));
        }
        let bad = tch::no_grad(|| s.ne(0.0).logical_and(&s.ne(1.0)).any().int64_value(&[]));
        if bad != 0 {
            return Err(Error::invalid("s", "non-binary values", "observed spikes must be 0 or 1"));
        }
        let drive = x.matmul(&self.weight.tr());
        let (beta, theta, temp) = (self.beta(), self.threshold(), self.temperature());
        let mut u = Tensor::zeros([b, self.n_out], (x.kind(), x.device()));
        let mut prev = u.zeros_like();
        let mut z = Vec::with_capacity(t_len as usize);
        for (d, st) in drive.unbind(0).iter().zip(s.unbind(0)) {
            u = &beta * &u * (1.0 - &prev) + d;
            z.push((&u - &theta) / &temp);
            prev = st;
        }
        let z = Tensor::stack(&z, 0);
        // log σ(z) for spikes, log σ(−z) otherwise.
        let ll: Tensor = s * z.log_sigmoid() + (s.ones_like() - s) * (-&z).log_sigmoid();
        Ok(ll.mean(ll.kind()))
    }

    /// Fits every parameter by maximising [`MetaNeuron::log_likelihood`] with full-batch Adam for
    /// `steps` steps at learning rate `lr`; returns the final mean log-likelihood.
    ///
    /// # Errors
    /// Shape errors; a non-finite likelihood.
    pub fn fit(&self, vs: &nn::VarStore, x: &Tensor, s: &Tensor, steps: usize, lr: f64) -> Result<f64> {
        let mut trainer = Trainer::builder().optimizer(OptimizerConfig::adam(lr)).build()?;
        let mut last = f64::NAN;
        trainer.run_steps(trainable_named(vs), steps, |_| {
            let ll = self.log_likelihood(x, s)?;
            last = ll.double_value(&[]);
            if !last.is_finite() {
                return Err(Error::NonFinite { name: "log_likelihood".into(), index: 0 });
            }
            Ok(StepOutput::Loss(-ll))
        })?;
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn maximum_likelihood_recovers_the_internal_parameters() {
        core_tensor::seed::seed_torch(0);
        let mut vs_true = nn::VarStore::new(Device::Cpu);
        vs_true.set_kind(Kind::Double);
        let truth = MetaNeuron::new(&vs_true.root(), 3, 2, 0.5, 1.0, 1.0).unwrap();
        let opts = (Kind::Double, Device::Cpu);
        truth
            .set(
                &Tensor::from_slice(&[1.5f64, -0.5, 0.8, 0.3, 1.2, -1.0]).reshape([2, 3]),
                &Tensor::from_slice(&[0.8f64, 0.6]),
                &Tensor::from_slice(&[1.0f64, 0.7]),
                &Tensor::from_slice(&[0.3f64, 0.5]),
            )
            .unwrap();
        let x = Tensor::randn([400, 32, 3], opts) * 0.7;
        let s = truth.sample(&x).unwrap();
        let rate = s.mean(Kind::Double).double_value(&[]);
        assert!(rate > 0.05 && rate < 0.6, "firing rate {rate}");

        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let model = MetaNeuron::new(&vs.root(), 3, 2, 0.5, 1.0, 1.0).unwrap();
        tch::no_grad(|| model.threshold.shallow_clone().copy_(&Tensor::from_slice(&[1.0f64, 0.7])));
        let ll = model.fit(&vs, &x, &s, 300, 0.05).unwrap();
        let ll_true = truth.log_likelihood(&x, &s).unwrap().double_value(&[]);
        assert!(ll >= ll_true - 1e-3, "fitted {ll} vs true {ll_true}");
        let err = |a: Tensor, b: &[f64]| (a - Tensor::from_slice(b)).abs().max().double_value(&[]);
        assert!(err(model.beta(), &[0.8, 0.6]) < 0.08, "beta {}", model.beta());
        assert!(err(model.temperature(), &[0.3, 0.5]) < 0.1, "temp {}", model.temperature());
        assert!(err(model.weight().flatten(0, -1), &[1.5, -0.5, 0.8, 0.3, 1.2, -1.0]) < 0.15);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        assert!(MetaNeuron::new(&vs.root(), 3, 2, 1.0, 1.0, 1.0).is_err());
        assert!(MetaNeuron::new(&vs.root(), 3, 2, 0.5, 1.0, 0.0).is_err());
        let m = MetaNeuron::new(&vs.root(), 3, 2, 0.5, 1.0, 1.0).unwrap();
        let x = Tensor::zeros([4, 1, 3], (Kind::Float, Device::Cpu));
        assert!(m.log_likelihood(&x, &Tensor::full([4, 1, 2], 0.5, (Kind::Float, Device::Cpu))).is_err());
        assert!(m.sample(&Tensor::zeros([4, 1, 2], (Kind::Float, Device::Cpu))).is_err());
    }
}
