//! Denoising score matching (Vincent 2011; Song et al. 2021; Ho et al. 2020): a network of
//! `(x_t, t)` trained on `x_t = m(t) x_0 + σ(t) ε` to predict one of four equivalent targets,
//! each giving the score `∇ log p_t`:
//!
//! | parameterisation | target | score from the output `o` |
//! |---|---|---|
//! | ε (DDPM) | `ε` | `−o / σ` |
//! | x₀ | `x_0` | `(m o − x) / σ²` |
//! | v (Salimans & Ho 2022) | `m ε − σ x_0` | `−(σ x + m o) / (σ (m² + σ²))` |
//! | score | `−ε / σ` | `o` |
//!
//! The loss is `E_{t, x_0, ε} λ(t) ‖o − target‖²` with the weighting [`Weighting`] (unit, σ² or
//! the likelihood weighting g²) and `t` drawn by [`TimeSampling`] (uniform, or by importance
//! ∝ g²/σ² with the matching correction); its minimiser is the exact score of the data's
//! perturbed marginals.

use super::Process;
use crate::error::{invalid, Result};
use core_tensor::nn::{Activation, Mlp, MlpConfig, SinusoidalTimeEncoding};
use tch::{nn, nn::ModuleT, Kind, Tensor};

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameterisation {
    /// The noise `ε`.
    Epsilon,
    /// The clean sample `x_0`.
    X0,
    /// The velocity `v = m ε − σ x_0`.
    V,
    /// The score `−ε / σ`.
    Score,
}

/// The weight `λ(t)` of the squared error on the parameterisation's own target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// `λ = 1` (DDPM's "simple" loss for ε).
    Unit,
    /// The weight that makes the loss `σ² ‖s_θ − ∇ log p_t(x_t | x_0)‖²`, Song et al.'s choice
    /// `λ(t) = σ(t)²` written on the score (for ε it is 1, for x₀ `m²/σ²`, for v
    /// `1/(m² + σ²)`, for the score `σ²`).
    ScoreSigmaSquared,
    /// The likelihood weighting `λ(t) = g(t)²` on the score (Song, Durkan, Murray & Ermon 2021),
    /// which makes the loss an upper bound on the negative log-likelihood: the σ² weights times
    /// `g²/σ²`.
    Likelihood,
}

/// How the training times are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeSampling {
    /// `t ~ U(t_lo, t_hi)`.
    #[default]
    Uniform,
    /// `t` with density proportional to `g(t)²/σ(t)²` on the band (inverse CDF on a 2048-point
    /// table), each term divided by that density relative to the uniform one: the same expected
    /// loss with less variance for the likelihood weighting (Song et al. 2021's importance
    /// sampling).
    Importance,
}

/// A score model: an MLP of `[x, sinusoidal(t)]` with a chosen parameterisation.
#[derive(Debug)]
pub struct ScoreModel {
    net: Mlp,
    time: SinusoidalTimeEncoding,
    process: Process,
    param: Parameterisation,
    dim: i64,
    sampling: TimeSampling,
}

impl ScoreModel {
    /// A model on `dim`-dimensional data with hidden widths `hidden` (LipSwish, a scaled SiLU), a 16-wide time
    /// encoding of `1000 t`, for `process` and `param`.
    ///
    /// # Errors
    /// `dim <= 0`, bad process parameters, the MLP's errors.
    pub fn new(
        path: &nn::Path<'_>,
        dim: i64,
        hidden: &[i64],
        process: Process,
        param: Parameterisation,
    ) -> Result<Self> {
        if dim <= 0 {
            return Err(invalid("dim", dim, "must be > 0"));
        }
        process.check()?;
        let time = SinusoidalTimeEncoding::new(16)?;
        let mut w = vec![dim + time.dim()];
        w.extend(hidden);
        w.push(dim);
        let net = Mlp::new(path, &w, MlpConfig::default().activation(Activation::Lipswish))?;
        Ok(ScoreModel { net, time, process, param, dim, sampling: TimeSampling::Uniform })
    }

    /// The same model drawing its training times by `sampling`.
    pub fn with_time_sampling(mut self, sampling: TimeSampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Times `[b]` on `(t_lo, t_hi)` and the factor each loss term is multiplied by (1 for uniform
    /// times; `uniform density / importance density` otherwise).
    fn draw_times(
        &self,
        b: i64,
        (t_lo, t_hi): (f64, f64),
        (kind, dev): (Kind, tch::Device),
    ) -> Result<(Tensor, Tensor)> {
        match self.sampling {
            TimeSampling::Uniform => {
                let t = Tensor::rand([b], (kind, dev)) * (t_hi - t_lo) + t_lo;
                Ok((t, Tensor::ones([b, 1], (kind, dev))))
            }
            TimeSampling::Importance => {
                // cpu: the uniforms are read on the host only, to invert the table
                let u = Tensor::rand([b], (Kind::Double, tch::Device::Cpu));
                // cumulative table of q(t) ∝ g²/σ² on the band (trapezoid), inverted linearly
                const K: usize = 2048;
                let grid: Vec<f64> = (0..=K).map(|i| t_lo + (t_hi - t_lo) * i as f64 / K as f64).collect();
                let q: Vec<f64> = grid
                    .iter()
                    .map(|&t| {
                        let (_, s) = self.process.marginal(t);
                        self.process.diffusion_squared(t) / (s * s).max(1e-300)
                    })
                    .collect();
                let mut cdf = vec![0.0; K + 1];
                for i in 1..=K {
                    cdf[i] = cdf[i - 1] + 0.5 * (q[i] + q[i - 1]) * (grid[i] - grid[i - 1]);
                }
                let total = cdf[K];
                if !(total.is_finite() && total > 0.0) {
                    return Err(invalid(
                        "time sampling",
                        total,
                        "the density g²/σ² is not integrable on the band",
                    ));
                }
                let us = core_tensor::interop::tensor_to_vec(&u)?;
                let (mut ts, mut ws) = (Vec::with_capacity(us.len()), Vec::with_capacity(us.len()));
                for v in us {
                    let target = v * total;
                    let i = cdf.partition_point(|&c| c < target).clamp(1, K);
                    let frac = (target - cdf[i - 1]) / (cdf[i] - cdf[i - 1]).max(1e-300);
                    let t = grid[i - 1] + frac * (grid[i] - grid[i - 1]);
                    let qt = q[i - 1] + frac * (q[i] - q[i - 1]);
                    ts.push(t);
                    // uniform density 1/(t_hi − t_lo) over importance density q(t)/total
                    ws.push(total / (qt * (t_hi - t_lo)));
                }
                let col = |v: Vec<f64>| Tensor::from_slice(&v).to_kind(kind).to(dev);
                Ok((col(ts), col(ws).view([-1, 1])))
            }
        }
    }

    /// The process.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// The raw output `o(x, t)` for `x [B, D]` and times `t [B]`.
    pub fn output(&self, x: &Tensor, t: &Tensor) -> Tensor {
        let emb = self.time.encode(&(t * 1000.0)).to_kind(x.kind());
        self.net.forward_t(&Tensor::cat(&[x.shallow_clone(), emb], 1), false)
    }

    /// `(m(t), σ(t), g(t)²)` per row as `[B, 1]` tensors of `t`'s kind and device, read in one
    /// pass over the times.
    fn coefficients(&self, t: &Tensor) -> Result<[Tensor; 3]> {
        let ts = core_tensor::interop::tensor_to_vec(&t.to_kind(Kind::Double).to(tch::Device::Cpu))?;
        let mut cols =
            [Vec::with_capacity(ts.len()), Vec::with_capacity(ts.len()), Vec::with_capacity(ts.len())];
        for &u in &ts {
            let (m, s) = self.process.marginal(u);
            cols[0].push(m);
            cols[1].push(s);
            cols[2].push(self.process.diffusion_squared(u));
        }
        Ok(cols.map(|v| Tensor::from_slice(&v).view([-1, 1]).to_kind(t.kind()).to(t.device())))
    }

    /// The score `∇ log p_t(x)` for `x [B, D]` at the common time `t` (differentiable in `x`).
    ///
    /// # Errors
    /// `x` not `[B, D]`; `t` outside `(0, 1]`.
    pub fn score(&self, x: &Tensor, t: f64) -> Result<Tensor> {
        match x.size().as_slice() {
            [_, d] if *d == self.dim => {}
            s => return Err(invalid("x", format!("{s:?}"), &format!("expected [batch, {}]", self.dim))),
        }
        if !(t > 0.0 && t <= 1.0) {
            return Err(invalid("t", t, "must lie in (0, 1]"));
        }
        let (m, s) = self.process.marginal(t);
        let o = self.output(x, &Tensor::full([x.size()[0]], t, (x.kind(), x.device())));
        Ok(match self.param {
            Parameterisation::Epsilon => o / -s,
            Parameterisation::X0 => (o * m - x) / (s * s),
            Parameterisation::V => (x * s + o * m) / (-s * (m * m + s * s)),
            Parameterisation::Score => o,
        })
    }

    /// The DSM loss of a batch `x0 [B, D]`: `t ~ U(t_min, 1)` and `ε ~ N(0, I)` per row from
    /// libtorch's generator, `(1/B) Σ λ(t) ‖o − target‖²`.
    ///
    /// # Errors
    /// `x0` not `[B, D]`; `t_min` outside `(0, 1)`.
    pub fn loss(&self, x0: &Tensor, t_min: f64, weighting: Weighting) -> Result<Tensor> {
        self.loss_on(x0, (t_min, 1.0), weighting)
    }

    /// [`ScoreModel::loss`] with `t ~ U(t_lo, t_hi)`: the loss of one band of noise levels, as a
    /// timestep curriculum trains on.
    ///
    /// # Errors
    /// `x0` not `[B, D]`; not `0 < t_lo < t_hi <= 1`.
    pub fn loss_on(&self, x0: &Tensor, (t_lo, t_hi): (f64, f64), weighting: Weighting) -> Result<Tensor> {
        let (b, d) =
            x0.size2().map_err(|_| invalid("x0", format!("{:?}", x0.size()), "expected [batch, dim]"))?;
        if d != self.dim || !(t_lo > 0.0 && t_lo < t_hi && t_hi <= 1.0) {
            return Err(invalid(
                "x0, t band",
                format!("{:?}, ({t_lo}, {t_hi})", x0.size()),
                &format!("need [B, {}] and 0 < t_lo < t_hi <= 1", self.dim),
            ));
        }
        let (kind, dev) = (x0.kind(), x0.device());
        let (t, correction) = self.draw_times(b, (t_lo, t_hi), (kind, dev))?;
        let eps = Tensor::randn([b, d], (kind, dev));
        let [m, s, g2] = self.coefficients(&t)?;
        let xt = &m * x0 + &s * &eps;
        let o = self.output(&xt, &t);
        let (target, weight) = match self.param {
            Parameterisation::Epsilon => (eps.shallow_clone(), s.ones_like()),
            Parameterisation::X0 => (x0.shallow_clone(), &m * &m / (&s * &s)),
            Parameterisation::V => (&m * &eps - &s * x0, (&m * &m + &s * &s).reciprocal()),
            Parameterisation::Score => (-&eps / &s, &s * &s),
        };
        let w = match weighting {
            Weighting::Unit => weight.ones_like(),
            Weighting::ScoreSigmaSquared => weight,
            Weighting::Likelihood => weight * g2 / (&s * &s),
        };
        Ok(((o - target).square() * w * correction).sum_dim_intlist([1].as_slice(), false, kind).mean(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// The four parameterisations turn their exact targets into the same exact score: for data
    /// `N(0, s² I)`, `x_t = m x_0 + σ ε` has score `−x_t/(m² s² + σ²)`; feeding each
    /// parameterisation its Bayes-optimal output reproduces it. The optimal ε-loss at fixed `t`,
    /// `D σ² m² s² / (m² s² + σ²)` per row divided by `σ²`, matches a Monte-Carlo estimate.
    #[test]
    fn parameterisations_share_the_exact_score() {
        let (s0, d) = (0.7f64, 3i64);
        let p = Process::VP;
        let t = 0.3;
        let (m, s) = p.marginal(t);
        let v = m * m * s0 * s0 + s * s;
        core_tensor::seed::seed_torch(0);
        let x = Tensor::randn([2000, d], (Kind::Double, Device::Cpu)) * v.sqrt();
        let exact = &x / -v;
        // Bayes-optimal outputs: E[ε | x] = σ x / v, E[x0 | x] = m s0² x / v
        let e_eps = &x * (s / v);
        let e_x0 = &x * (m * s0 * s0 / v);
        let outputs = [
            (Parameterisation::Epsilon, e_eps.shallow_clone()),
            (Parameterisation::X0, e_x0.shallow_clone()),
            (Parameterisation::V, &e_eps * m - &e_x0 * s),
            (Parameterisation::Score, -&e_eps / s),
        ];
        for (param, o) in outputs {
            let score = match param {
                Parameterisation::Epsilon => &o / -s,
                Parameterisation::X0 => (&o * m - &x) / (s * s),
                Parameterisation::V => (&x * s + &o * m) / (-s * (m * m + s * s)),
                Parameterisation::Score => o.shallow_clone(),
            };
            assert!((score - &exact).abs().max().double_value(&[]) < 1e-12, "{param:?}");
        }
        // the irreducible ε-loss: E‖ε − E[ε|x]‖² = D (1 − σ²/v)
        let x0 = Tensor::randn([20000, d], (Kind::Double, Device::Cpu)) * s0;
        let eps = Tensor::randn([20000, d], (Kind::Double, Device::Cpu));
        let xt = &x0 * m + &eps * s;
        let mc = (&eps - &xt * (s / v)).square().sum_dim_intlist([1].as_slice(), false, Kind::Double);
        let (mean, sd) =
            (mc.mean(Kind::Double).double_value(&[]), mc.std(true).double_value(&[]) / 20000f64.sqrt());
        let closed = d as f64 * (1.0 - s * s / v);
        assert!((mean - closed).abs() < 4.0 * sd, "{mean} ± {sd} vs {closed}");
    }

    /// Importance-sampled times give the same expected likelihood-weighted loss as uniform ones
    /// (means of 200 batches within 4 combined standard errors) with a smaller spread.
    #[test]
    fn importance_sampling_keeps_the_expected_loss() {
        let vs = nn::VarStore::new(Device::Cpu);
        let uniform = ScoreModel::new(&vs.root(), 2, &[16], Process::VP, Parameterisation::Epsilon).unwrap();
        let x = Tensor::randn([64, 2], (Kind::Double, Device::Cpu));
        let losses = |m: &ScoreModel| -> (f64, f64) {
            core_tensor::seed::seed_torch(4);
            let v: Vec<f64> = (0..200)
                .map(|_| {
                    m.loss(&x.to_kind(Kind::Float), 1e-3, Weighting::Likelihood).unwrap().double_value(&[])
                })
                .collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
            (mean, var.sqrt())
        };
        let (mu, su) = losses(&uniform);
        let importance = uniform.with_time_sampling(TimeSampling::Importance);
        let (mi, si) = losses(&importance);
        let se = (su * su / 200.0 + si * si / 200.0).sqrt();
        assert!((mu - mi).abs() < 4.0 * se, "uniform {mu} ± {su}, importance {mi} ± {si}");
        assert!(si < su, "importance spread {si} vs uniform {su}");
    }

    /// The model's loss and score run for every parameterisation and refuse bad input.
    #[test]
    fn the_model_runs_and_checks_its_input() {
        let vs = nn::VarStore::new(Device::Cpu);
        for (i, param) in
            [Parameterisation::Epsilon, Parameterisation::X0, Parameterisation::V, Parameterisation::Score]
                .into_iter()
                .enumerate()
        {
            let m = ScoreModel::new(&(vs.root() / format!("m{i}")), 2, &[16], Process::VP, param).unwrap();
            let x = Tensor::randn([8, 2], (Kind::Float, Device::Cpu));
            for w in [Weighting::Unit, Weighting::ScoreSigmaSquared, Weighting::Likelihood] {
                let l = m.loss(&x, 1e-3, w).unwrap();
                assert!(l.double_value(&[]).is_finite());
            }
            assert_eq!(m.score(&x, 0.5).unwrap().size(), vec![8, 2]);
            assert!(m.score(&x, 0.0).is_err());
            assert!(m.loss(&x, 0.0, Weighting::Unit).is_err());
            assert!(m
                .loss(&Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)), 1e-3, Weighting::Unit)
                .is_err());
        }
    }
}
