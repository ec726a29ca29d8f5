//! Latent SDE (Li et al. 2020): a variational model of irregular time series with an SDE prior.
//!
//! Observations sit on the batch's union time grid (any spacing) with NaN for a missing value
//! (see `observations`). Encoder: a GRU over the reversed `[x, mask, t]` gives a context `c(t)`
//! summarising the observations from `t` on; `q(z0) = N(μ(c(t0)), σ(c(t0))²)`. Posterior drift `f_φ(t, z, c(t))`, prior drift `h_θ(t, z)`, shared diagonal diffusion `g_θ(z)`.
//! The ELBO is `E_q[Σ_i log p(x_i | z(t_i))] − KL(q(z0) ‖ p(z0)) − E_q[∫ ½ ‖(f − h)/g‖² dt]`, the
//! last term (Girsanov) integrated alongside `z` as an extra state channel.

use super::observations::{states_at, Observed};
use crate::error::{invalid, Result};
use crate::sde::{Noise, SdeTerm};
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, nn::RNN, Tensor};

/// Configuration of a [`LatentSde`] or a [`LatentOde`](super::LatentOde) (whose ODE-RNN encoder
/// has width `context_dim`).
#[derive(Debug, Clone, PartialEq)]
pub struct LatentConfig {
    /// Observation dimension.
    pub obs_dim: i64,
    /// Latent dimension.
    pub latent_dim: i64,
    /// Context width (the GRU's, or the ODE-RNN's hidden state).
    pub context_dim: i64,
    /// Hidden width of the drift and diffusion networks.
    pub hidden: i64,
    /// Observation noise standard deviation (fixed).
    pub obs_std: f64,
}

/// The configuration of a [`LatentSde`].
pub type LatentSdeConfig = LatentConfig;

impl LatentConfig {
    /// Every dimension and `obs_std` > 0.
    ///
    /// # Errors
    /// The configuration, when one is not.
    pub fn check(&self) -> Result<()> {
        let dims = [self.obs_dim, self.latent_dim, self.context_dim, self.hidden];
        if dims.iter().any(|&d| d <= 0) || !(self.obs_std > 0.0) {
            return Err(invalid("config", format!("{self:?}"), "dimensions and obs_std must be > 0"));
        }
        Ok(())
    }
}

impl Default for LatentConfig {
    fn default() -> Self {
        LatentConfig { obs_dim: 1, latent_dim: 4, context_dim: 16, hidden: 32, obs_std: 0.1 }
    }
}

/// The model.
#[derive(Debug)]
pub struct LatentSde {
    cfg: LatentSdeConfig,
    encoder: nn::GRU,
    qz0: nn::Linear,
    post_drift: Mlp,
    prior_drift: Mlp,
    diffusion: Mlp,
    decoder: nn::Linear,
    pz0_mean: Tensor,
    pz0_logstd: Tensor,
}

/// The augmented SDE `[z, ∫½‖u‖²]` under the posterior; the context at time `t` encodes the
/// observations from the current interval on (`ctx [B, T, C]`, piecewise constant in time).
struct Posterior<'a> {
    m: &'a LatentSde,
    ctx: Tensor,
    ts: &'a [f64],
}

impl Posterior<'_> {
    fn context(&self, t: f64) -> Tensor {
        let i = self.ts.partition_point(|&s| s <= t + 1e-12).clamp(1, self.ts.len()) - 1;
        self.ctx.select(1, i as i64)
    }
}

fn with_time(t: f64, z: &Tensor) -> Tensor {
    Tensor::cat(&[z.shallow_clone(), Tensor::full([z.size()[0], 1], t, (z.kind(), z.device()))], 1)
}

impl SdeTerm for Posterior<'_> {
    fn drift(&self, t: f64, y: &Tensor) -> Result<Tensor> {
        let l = self.m.cfg.latent_dim;
        let z = y.narrow(1, 0, l);
        let f = self.m.post_drift.forward_t(&Tensor::cat(&[with_time(t, &z), self.context(t)], 1), false);
        let h = self.m.prior_drift.forward_t(&with_time(t, &z), false);
        let g = self.m.diffusion.forward_t(&z, false);
        let u = (&f - h) / &g;
        let kl_rate = u.square().sum_dim_intlist([1].as_slice(), true, u.kind()) * 0.5;
        Ok(Tensor::cat(&[f, kl_rate], 1))
    }
    fn diffusion(&self, _t: f64, y: &Tensor) -> Result<Tensor> {
        let l = self.m.cfg.latent_dim;
        let z = y.narrow(1, 0, l);
        let g = self.m.diffusion.forward_t(&z, false);
        Ok(Tensor::cat(&[g, Tensor::zeros([y.size()[0], 1], (y.kind(), y.device()))], 1))
    }
    fn noise(&self) -> Noise {
        Noise::Diagonal
    }
}

/// Result of an ELBO evaluation.
#[derive(Debug)]
pub struct ElboOutput {
    /// Mean ELBO per sequence (scalar, with graph).
    pub elbo: Tensor,
    /// Decoded means at the observation times `[B, T, obs_dim]`.
    pub reconstruction: Tensor,
    /// Mean log-likelihood term per sequence (observed values only).
    pub log_likelihood: f64,
    /// Mean KL terms (z0 + path) per sequence.
    pub kl: f64,
    /// The same KL as a scalar tensor with graph (for annealing schedules).
    pub kl_term: Tensor,
}

impl ElboOutput {
    /// The ELBO `mean(ll) − mean(kl)` of per-sequence log-likelihoods `ll [B]` and KL terms
    /// `kl [B]`, with the decoded means.
    pub(crate) fn new(ll: &Tensor, kl: &Tensor, reconstruction: Tensor) -> Self {
        let kl_term = kl.mean(kl.kind());
        let ll_mean = ll.mean(ll.kind());
        ElboOutput {
            log_likelihood: ll_mean.double_value(&[]),
            kl: kl_term.double_value(&[]),
            elbo: ll_mean - &kl_term,
            kl_term,
            reconstruction,
        }
    }
}

impl LatentSde {
    /// Builds the model under `path`.
    pub fn new(path: &nn::Path<'_>, cfg: LatentSdeConfig) -> Result<Self> {
        cfg.check()?;
        let l = cfg.latent_dim;
        let mlp = |p: nn::Path<'_>, i: i64, o: i64, fin: Option<Activation>| {
            let c = MlpConfig::default().activation(Activation::Softplus);
            let c = match fin {
                Some(a) => c.final_activation(a),
                None => c,
            };
            Mlp::new(&p, &[i, cfg.hidden, cfg.hidden, o], c)
        };
        Ok(LatentSde {
            encoder: nn::gru(path / "encoder", 2 * cfg.obs_dim + 1, cfg.context_dim, Default::default()),
            qz0: nn::linear(path / "qz0", cfg.context_dim, 2 * l, Default::default()),
            post_drift: mlp(path / "post_drift", l + 1 + cfg.context_dim, l, None)?,
            prior_drift: mlp(path / "prior_drift", l + 1, l, None)?,
            diffusion: mlp(path / "diffusion", l, l, Some(Activation::Sigmoid))?,
            decoder: nn::linear(path / "decoder", l, cfg.obs_dim, Default::default()),
            pz0_mean: path.zeros("pz0_mean", &[1, l]),
            pz0_logstd: path.zeros("pz0_logstd", &[1, l]),
            cfg,
        })
    }

    /// The ELBO of observations `xs [B, T, obs_dim]` at times `ts` (strictly increasing, any
    /// spacing; NaN marks a value a sequence did not observe), integrating with Euler–Maruyama in
    /// constant steps of `(t_T − t_0) / ((T − 1) · substeps)` that also stop on every `t_k`, on a
    /// Brownian interval seeded by `seed`.
    ///
    /// # Errors
    /// `ts` not finite and strictly increasing or shorter than 2; `xs` not `[B, T, obs_dim]` or
    /// with infinite entries; `substeps = 0`; errors of the solve.
    pub fn elbo(&self, ts: &[f64], xs: &Tensor, substeps: usize, seed: u64) -> Result<ElboOutput> {
        let obs = Observed::new(ts, xs, self.cfg.obs_dim)?;
        let b = xs.size()[0];
        let l = self.cfg.latent_dim;
        let (out, _) = self.encoder.seq(&obs.reversed_encoder_input());
        // out[:, k] has read the reversed sequence up to k, i.e. observations t−1−k … T−1
        let ctx = out.flip([1]);
        let q = ctx.select(1, 0).apply(&self.qz0);
        let (qm, qls) = (q.narrow(1, 0, l), q.narrow(1, l, l));
        let eps = Tensor::randn([b, l], (xs.kind(), xs.device()));
        let z0 = &qm + qls.exp() * eps;
        let y0 = Tensor::cat(&[z0, Tensor::zeros([b, 1], (xs.kind(), xs.device()))], 1);
        let ys = states_at(&Posterior { m: self, ctx, ts }, &y0, ts, substeps, seed)?;
        let zs = Tensor::stack(&ys.iter().map(|y| y.narrow(1, 0, l)).collect::<Vec<_>>(), 1);
        let recon = zs.apply(&self.decoder);
        let ll = obs.gaussian_log_likelihood(&recon, self.cfg.obs_std);
        let path_kl = ys[ys.len() - 1].select(1, l);
        // KL(N(qm, qs²) ‖ N(pm, ps²)) per dimension
        let (pm, pls) = (&self.pz0_mean, &self.pz0_logstd);
        let kl0 = (pls - &qls + ((qls * 2.0).exp() + (&qm - pm).square()) / ((pls * 2.0).exp() * 2.0) - 0.5)
            .sum_dim_intlist([1].as_slice(), false, q.kind());
        Ok(ElboOutput::new(&ll, &(kl0 + path_kl), recon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn elbo_is_finite_differentiable_and_validated() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = LatentSde::new(&vs.root(), LatentSdeConfig::default()).unwrap();
        let ts: Vec<f64> = (0..6).map(|k| k as f64 * 0.2).collect();
        let xs = Tensor::randn([4, 6, 1], (Kind::Float, Device::Cpu)) * 0.3;
        let out = m.elbo(&ts, &xs, 2, 1).unwrap();
        assert!(out.elbo.double_value(&[]).is_finite());
        assert_eq!(out.reconstruction.size(), vec![4, 6, 1]);
        // the path KL is a non-negative integral; the ELBO splits into its parts
        assert!(out.kl >= 0.0 || out.kl.abs() < 1e-6);
        assert!((out.elbo.double_value(&[]) - (out.log_likelihood - out.kl)).abs() < 1e-3);
        (-&out.elbo).backward();
        assert!(vs.trainable_variables().iter().all(|v| v.grad().defined()));
        // same seed, same Brownian path: same ELBO given the same z0 noise
        assert!(m.elbo(&ts, &Tensor::zeros([4, 5, 1], (Kind::Float, Device::Cpu)), 2, 1).is_err());
        assert!(m.elbo(&[0.0, 0.1, 0.3, 0.3, 0.5, 0.6], &xs, 2, 1).is_err());
        assert!(LatentSde::new(&vs.root().sub("x"), LatentSdeConfig { obs_std: 0.0, ..Default::default() })
            .is_err());
    }

    /// Irregular times with missing values: a value the mask hides changes nothing (the encoder
    /// sees 0 and the likelihood skips it), the likelihood term is the Gaussian log-density of the
    /// observed values at the returned reconstruction, and the states are taken at the given times.
    #[test]
    fn missing_values_are_ignored_on_irregular_times() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = LatentSde::new(&vs.root(), LatentSdeConfig::default()).unwrap();
        let ts = [0.0, 0.05, 0.4, 0.45, 1.1];
        let base = Tensor::randn([3, 5, 1], (Kind::Float, Device::Cpu)) * 0.3;
        let hide = |x: &Tensor, fill: f64| {
            let x = x.copy();
            let _ = x.get(1).get(2).fill_(fill);
            x
        };
        let run = |x: &Tensor| {
            core_tensor::seed::seed_torch(4);
            tch::no_grad(|| m.elbo(&ts, x, 3, 7)).unwrap()
        };
        let masked = run(&hide(&base, f64::NAN));
        let other = hide(&base, 5.0);
        let with_value = run(&other);
        assert_ne!(masked.elbo.double_value(&[]), with_value.elbo.double_value(&[]));
        // the same batch with the hidden value replaced by another NaN pattern over it is identical
        let again = run(&hide(&other, f64::NAN));
        assert_eq!(masked.elbo.double_value(&[]), again.elbo.double_value(&[]));
        // the likelihood term by hand over the observed entries
        let x = hide(&base, f64::NAN);
        let observed = x.isnan().logical_not();
        let s = LatentSdeConfig::default().obs_std;
        let per = (x.nan_to_num(0.0, None, None) - &masked.reconstruction).square() * (-0.5 / (s * s))
            - (s * (2.0 * std::f64::consts::PI).sqrt()).ln();
        let ll = per.masked_fill(&observed.logical_not(), 0.0).sum(Kind::Double).double_value(&[]) / 3.0;
        assert!(
            (ll - masked.log_likelihood).abs() < 1e-4 * ll.abs().max(1.0),
            "{ll} vs {}",
            masked.log_likelihood
        );
        assert_eq!(masked.reconstruction.size(), vec![3, 5, 1]);
    }
}
