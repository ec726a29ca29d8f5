//! Langevin-flow latent model: a latent SDE whose prior is underdamped Langevin dynamics in a
//! learned potential, `dq = p dt`, `dp = (−∇U_θ(q) − κ p) dt + √(2κ) dW` (unit temperature and
//! mass), with a posterior that adds a control `u_φ(t, q, p, c(t))` to the momentum equation.
//! The path KL is `∫ ½ ‖u / √(2κ)‖² dt` (Girsanov); observations are decoded from `q`. Observations
//! may sit at irregular times with NaN for missing values, as for the latent SDE.

use super::observations::{states_at, Observed};
use crate::error::{invalid, Result};
use crate::sde::{Noise, SdeTerm};
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, nn::RNN, Tensor};

/// The model (1-D position and momentum per latent dimension).
#[derive(Debug)]
pub struct LangevinFlow {
    dim: i64,
    obs_dim: i64,
    obs_std: f64,
    friction: Tensor,
    potential: Mlp,
    encoder: nn::GRU,
    qz0: nn::Linear,
    control: Mlp,
    decoder: nn::Linear,
    context: i64,
}

struct Posterior<'a> {
    m: &'a LangevinFlow,
    ctx: Tensor,
    ts: &'a [f64],
}

impl LangevinFlow {
    /// `dim` latent positions, observations of width `obs_dim`, context width `context`.
    pub fn new(
        path: &nn::Path<'_>,
        dim: i64,
        obs_dim: i64,
        context: i64,
        hidden: i64,
        obs_std: f64,
    ) -> Result<Self> {
        if dim <= 0 || obs_dim <= 0 || context <= 0 || hidden <= 0 || !(obs_std > 0.0) {
            return Err(invalid(
                "sizes",
                format!("{dim}, {obs_dim}, {context}, {hidden}, {obs_std}"),
                "must be > 0",
            ));
        }
        Ok(LangevinFlow {
            dim,
            obs_dim,
            obs_std,
            friction: path.var("log_friction", &[1], nn::Init::Const(0.0)),
            potential: Mlp::new(
                &(path / "potential"),
                &[dim, hidden, hidden, 1],
                MlpConfig::default().activation(Activation::Softplus),
            )?,
            encoder: nn::gru(path / "encoder", 2 * obs_dim + 1, context, Default::default()),
            qz0: nn::linear(path / "qz0", context, 4 * dim, Default::default()),
            control: Mlp::new(
                &(path / "control"),
                &[2 * dim + 1 + context, hidden, hidden, dim],
                MlpConfig::default().activation(Activation::Softplus),
            )?,
            decoder: nn::linear(path / "decoder", dim, obs_dim, Default::default()),
            context,
        })
    }
    /// The learned potential `U_θ(q)` for `q [N, dim]`, `[N]`.
    pub fn potential(&self, q: &Tensor) -> Tensor {
        self.potential.forward_t(q, false).squeeze_dim(1)
    }
    /// The decoder's affine map `x = W q + b` (`W [obs_dim, dim]`, `b [obs_dim]`), to express the
    /// latent potential in data coordinates.
    pub fn decoder_affine(&self) -> (Tensor, Tensor) {
        (
            self.decoder.ws.detach(),
            self.decoder.bs.as_ref().map(|b| b.detach()).unwrap_or_else(|| {
                self.decoder.ws.zeros_like().sum_dim_intlist([1].as_slice(), false, self.decoder.ws.kind())
            }),
        )
    }
    /// `∇U_θ(q)` by autograd (with a graph, so training sees the potential's parameters).
    fn grad_potential(&self, q: &Tensor) -> Result<Tensor> {
        let q = if q.requires_grad() { q.shallow_clone() } else { q.detach().set_requires_grad(true) };
        let u = tch::with_grad(|| self.potential(&q).sum(q.kind()));
        let g = tch::with_grad(|| Tensor::f_run_backward(&[u], &[&q], true, true))?;
        Ok(g[0].shallow_clone())
    }
}

impl SdeTerm for Posterior<'_> {
    fn drift(&self, t: f64, s: &Tensor) -> Result<Tensor> {
        let d = self.m.dim;
        let (q, p) = (s.narrow(1, 0, d), s.narrow(1, d, d));
        let kappa = self.m.friction.exp();
        let prior_p = -self.m.grad_potential(&q)? - &p * &kappa;
        let i = self.ts.partition_point(|&x| x <= t + 1e-12).clamp(1, self.ts.len()) - 1;
        let ctx = self.ctx.select(1, i as i64);
        let tt = Tensor::full([s.size()[0], 1], t, (s.kind(), s.device()));
        let u = self
            .m
            .control
            .forward_t(&Tensor::cat(&[q.shallow_clone(), p.shallow_clone(), tt, ctx], 1), false);
        let kl_rate = (u.square() / (&kappa * 2.0)).sum_dim_intlist([1].as_slice(), true, u.kind()) * 0.5;
        Ok(Tensor::cat(&[p, prior_p + u, kl_rate], 1))
    }
    fn diffusion(&self, _t: f64, s: &Tensor) -> Result<Tensor> {
        let d = self.m.dim;
        let b = s.size()[0];
        let sig = (self.m.friction.exp() * 2.0).sqrt();
        Ok(Tensor::cat(
            &[
                Tensor::zeros([b, d], (s.kind(), s.device())),
                sig.expand([b, d], false),
                Tensor::zeros([b, 1], (s.kind(), s.device())),
            ],
            1,
        ))
    }
    fn noise(&self) -> Noise {
        Noise::Diagonal
    }
}

impl LangevinFlow {
    /// ELBO (mean per sequence, with graph) of `xs [B, T, obs_dim]` at the times `ts` (strictly
    /// increasing, any spacing; NaN marks a missing value), with Euler–Maruyama in constant steps
    /// of `(t_T − t_0) / ((T − 1) · substeps)` that also stop on every `t_k`; also returns the
    /// decoded means `[B, T, obs_dim]`.
    ///
    /// # Errors
    /// As [`LatentSde::elbo`](super::LatentSde::elbo).
    pub fn elbo(&self, ts: &[f64], xs: &Tensor, substeps: usize, seed: u64) -> Result<(Tensor, Tensor)> {
        let obs = Observed::new(ts, xs, self.obs_dim)?;
        let b = xs.size()[0];
        let d = self.dim;
        let (out, _) = self.encoder.seq(&obs.reversed_encoder_input());
        let ctx = out.flip([1]);
        debug_assert_eq!(ctx.size()[2], self.context);
        let q0 = ctx.select(1, 0).apply(&self.qz0);
        let (mean, logstd) = (q0.narrow(1, 0, 2 * d), q0.narrow(1, 2 * d, 2 * d));
        let z0 = &mean + logstd.exp() * Tensor::randn([b, 2 * d], (xs.kind(), xs.device()));
        let s0 = Tensor::cat(&[z0, Tensor::zeros([b, 1], (xs.kind(), xs.device()))], 1);
        let ys = states_at(&Posterior { m: self, ctx, ts }, &s0, ts, substeps, seed)?;
        let qs = Tensor::stack(&ys.iter().map(|y| y.narrow(1, 0, d)).collect::<Vec<_>>(), 1);
        let recon = qs.apply(&self.decoder);
        let ll = obs.gaussian_log_likelihood(&recon, self.obs_std);
        // q(z0) against a standard normal prior on (q0, p0)
        let kl0 = ((logstd.exp().square() + mean.square()) * 0.5 - &logstd - 0.5).sum_dim_intlist(
            [1].as_slice(),
            false,
            mean.kind(),
        );
        let path_kl = ys[ys.len() - 1].select(1, 2 * d);
        let elbo = ll - kl0 - path_kl;
        Ok((elbo.mean(elbo.kind()), recon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn elbo_runs_and_reaches_the_potential() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = LangevinFlow::new(&vs.root(), 1, 1, 8, 16, 0.1).unwrap();
        let ts: Vec<f64> = (0..5).map(|k| k as f64 * 0.25).collect();
        let xs = Tensor::randn([3, 5, 1], (Kind::Float, Device::Cpu));
        let (elbo, recon) = m.elbo(&ts, &xs, 2, 0).unwrap();
        assert!(elbo.double_value(&[]).is_finite());
        // irregular times with a missing value are accepted; unsorted times are refused
        let irregular = [0.0, 0.25, 0.6, 0.75, 1.0];
        let holes = xs.copy();
        let _ = holes.get(0).get(1).fill_(f64::NAN);
        assert!(m.elbo(&irregular, &holes, 2, 0).unwrap().0.double_value(&[]).is_finite());
        let e = m.elbo(&[0.0, 0.5, 0.25, 0.75, 1.0], &xs, 2, 0).unwrap_err().to_string();
        assert!(e.contains("ts") && e.contains("increasing"), "{e}");
        assert_eq!(recon.size(), vec![3, 5, 1]);
        (-elbo).backward();
        // the potential's weights receive gradients through ∇U (second-order autograd); its output
        // bias does not enter ∇U at all
        let pot_grad = vs
            .variables()
            .iter()
            .filter(|(n, _)| n.starts_with("potential") && n.ends_with("weight"))
            .all(|(_, v)| v.grad().defined());
        assert!(pot_grad);
        assert!(m.elbo(&ts[..4], &xs, 2, 0).is_err());
    }
}
