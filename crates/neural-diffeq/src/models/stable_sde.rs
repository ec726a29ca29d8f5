//! Stable neural SDEs (Oh, Lim & Kang 2024) for irregular, partly missing time series: the drift
//! reads the controlled path `X(t)` of the observations ([`ControlPath`]) and the diffusion depends
//! on time only.
//!
//! - Langevin-type (LSDE): `dz = γ(z, X(t)) dt + σ(t) dW`
//! - Linear-noise (LNSDE): `dz = γ(t, z, X(t)) dt + σ(t) ⊙ z dW`
//! - Geometric (GSDE): `dz = γ(t, z, X(t)) ⊙ z dt + σ(t) ⊙ z dW`
//!
//! `σ(t)` is a small MLP of time with a sigmoid output scaled to `(0, sigma_max)` (bounded, as the
//! stability analysis asks; `sigma_max` = 0.1 by default, see [`StableSde::sigma_max`]).

use crate::cde::ControlPath;
use crate::error::{invalid, Result};
use crate::sde::{sdeint_on_grid, BrownianPath, EulerMaruyama, Noise, SdeTerm};
use crate::solve::SaveAt;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, Tensor};

/// Which stable SDE family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StableKind {
    /// Langevin-type: additive time-dependent noise.
    Langevin,
    /// Linear multiplicative noise.
    LinearNoise,
    /// Geometric drift and noise.
    Geometric,
}

/// A stable neural SDE classifier/regressor over a control path.
#[derive(Debug)]
pub struct StableSde {
    kind: StableKind,
    init: nn::Linear,
    drift: Mlp,
    sigma: Mlp,
    readout: nn::Linear,
    hidden: i64,
    sigma_max: f64,
}

struct Field<'a> {
    m: &'a StableSde,
    path: &'a ControlPath,
    /// `1 / channel scale`, so the drift reads `X(t)` in `[−1, 1]`.
    inv_scale: Tensor,
    /// Start of the path.
    t0: f64,
    /// Length of the path's parameter interval.
    span: f64,
}

impl SdeTerm for Field<'_> {
    fn drift(&self, t: f64, z: &Tensor) -> Result<Tensor> {
        // `t` is the normalised time τ ∈ [0, 1]
        let x = self.path.evaluate(self.t0 + t * self.span) * &self.inv_scale;
        let b = z.size()[0];
        let tt = Tensor::full([b, 1], t, (z.kind(), z.device()));
        let inp = match self.m.kind {
            StableKind::Langevin => Tensor::cat(&[z.shallow_clone(), x], 1),
            _ => Tensor::cat(&[z.shallow_clone(), x, tt], 1),
        };
        let g = self.m.drift.forward_t(&inp, false);
        Ok(match self.m.kind {
            StableKind::Geometric => g * z,
            _ => g,
        })
    }
    fn diffusion(&self, t: f64, z: &Tensor) -> Result<Tensor> {
        let tt = Tensor::full([1, 1], t, (z.kind(), z.device()));
        let s = self.m.sigma.forward_t(&tt, false) * self.m.sigma_max; // [1, H]
        Ok(match self.m.kind {
            StableKind::Langevin => s.expand_as(z),
            _ => s * z,
        })
    }
    fn noise(&self) -> Noise {
        match self.m.kind {
            StableKind::Langevin => Noise::Additive,
            _ => Noise::Diagonal,
        }
    }
}

impl StableSde {
    /// A model for paths with `channels` channels, latent width `hidden`, `outputs` outputs.
    pub fn new(
        path: &nn::Path<'_>,
        kind: StableKind,
        channels: i64,
        hidden: i64,
        field_hidden: i64,
        outputs: i64,
    ) -> Result<Self> {
        if channels <= 0 || hidden <= 0 || outputs <= 0 || field_hidden <= 0 {
            return Err(invalid(
                "sizes",
                format!("{channels}, {hidden}, {field_hidden}, {outputs}"),
                "must be > 0",
            ));
        }
        let extra = if kind == StableKind::Langevin { 0 } else { 1 };
        let drift = Mlp::new(
            &(path / "drift"),
            &[hidden + channels + extra, field_hidden, field_hidden, hidden],
            MlpConfig::default().activation(Activation::Tanh),
        )?;
        let sigma = Mlp::new(
            &(path / "sigma"),
            &[1, 16, hidden],
            MlpConfig::default().activation(Activation::Tanh).final_activation(Activation::Sigmoid),
        )?;
        Ok(StableSde {
            kind,
            init: nn::linear(path / "init", channels, hidden, Default::default()),
            drift,
            sigma,
            readout: nn::linear(path / "readout", hidden, outputs, Default::default()),
            hidden,
            sigma_max: 0.1,
        })
    }
    /// Sets the bound of the diffusion `σ(t) ∈ (0, s)`.
    pub fn sigma_max(mut self, s: f64) -> Self {
        self.sigma_max = s;
        self
    }
    /// Outputs `[B, outputs]`: integrates over the path in normalised time `τ = (t − t0)/(t1 − t0)
    /// ∈ [0, 1]` (so the geometric family's growth does not scale with the observation horizon) with
    /// Euler–Maruyama, `steps` steps, Brownian seed `seed`.
    pub fn forward(&self, path: &ControlPath, steps: usize, seed: u64) -> Result<Tensor> {
        let ts = path.knots();
        let inv_scale = path.channel_scale().reciprocal();
        let mut z0 = (path.initial() * &inv_scale).apply(&self.init);
        if self.kind == StableKind::Geometric {
            // a geometric SDE never leaves zero: start the latent state around 1
            z0 += 1.0;
        }
        let (t0, t1) = (ts[0], ts[ts.len() - 1]);
        let b = z0.size()[0];
        let bm = BrownianPath::increments_only(
            0.0,
            1.0 / steps as f64,
            steps,
            &[b, self.hidden],
            seed,
            z0.kind(),
            z0.device(),
        )?;
        let field = Field { m: self, path, inv_scale, t0, span: t1 - t0 };
        let ys = sdeint_on_grid(&field, &EulerMaruyama, &z0, &bm, &SaveAt::every_step())?.ys;
        Ok(ys.last().expect("solved").apply(&self.readout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cde::Interpolation;
    use tch::{Device, Kind};

    #[test]
    fn all_three_families_run_and_differentiate() {
        let obs = Tensor::randn([4, 6, 1], (Kind::Float, Device::Cpu));
        let p =
            ControlPath::new(&[0.0, 0.5, 1.0, 1.5, 2.0, 2.5], &obs, Interpolation::HermiteBackward).unwrap();
        for kind in [StableKind::Langevin, StableKind::LinearNoise, StableKind::Geometric] {
            let vs = nn::VarStore::new(Device::Cpu);
            let m = StableSde::new(&vs.root(), kind, 3, 8, 16, 2).unwrap();
            let y = m.forward(&p, 10, 1).unwrap();
            assert_eq!(y.size(), vec![4, 2]);
            // same seed, same path
            assert!(y.equal(&m.forward(&p, 10, 1).unwrap()));
            y.sum(Kind::Float).backward();
            assert!(vs.trainable_variables().iter().all(|v| v.grad().defined()), "{kind:?}");
        }
        let vs = nn::VarStore::new(Device::Cpu);
        assert!(StableSde::new(&vs.root(), StableKind::Langevin, 0, 8, 16, 2).is_err());
    }
}
