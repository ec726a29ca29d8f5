//! Neural SDE with MLP drift and diagonal MLP diffusion (the torchsde benchmark architecture):
//! `dy = f_θ(y) dt + σ_φ(y) ⊙ dW`, `σ_φ` ending in a sigmoid.

use crate::error::{invalid, Result};
use crate::native::sde::MlpSde;
use crate::sde::{Noise, SdeTerm};
use core_tensor::native::Real;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, Tensor};

/// A neural SDE with diagonal noise on states `[B, D]`.
#[derive(Debug)]
pub struct NeuralSde {
    drift: Mlp,
    diffusion: Mlp,
    dim: i64,
}

impl NeuralSde {
    /// Drift `D-hidden…-D` (tanh) and diffusion `D-hidden…-D` (tanh, sigmoid output).
    pub fn new(path: &nn::Path<'_>, dim: i64, hidden: &[i64]) -> Result<Self> {
        if dim <= 0 {
            return Err(invalid("dim", dim, "must be > 0"));
        }
        let mut w = vec![dim];
        w.extend(hidden);
        w.push(dim);
        let drift = Mlp::new(&(path / "drift"), &w, MlpConfig::default().activation(Activation::Tanh))?;
        let diffusion = Mlp::new(
            &(path / "diffusion"),
            &w,
            MlpConfig::default().activation(Activation::Tanh).final_activation(Activation::Sigmoid),
        )?;
        Ok(NeuralSde { drift, diffusion, dim })
    }
    /// State width.
    pub fn dim(&self) -> i64 {
        self.dim
    }
    /// A copy of both networks for the native path ([`crate::native::sde`]), in `f32` or `f64`.
    pub fn native<T: Real>(&self) -> Result<MlpSde<T>> {
        MlpSde::from_mlps(&self.drift, &self.diffusion)
    }
    /// Adds native parameter gradients (from [`crate::native::sde::euler_maruyama_backprop`]) to
    /// the `.grad` of this model's variables.
    pub fn add_native_grads<T: Real>(
        &self,
        sde: &MlpSde<T>,
        grad_drift: &[T],
        grad_diffusion: &[T],
    ) -> Result<()> {
        sde.drift().add_grads_to(self.drift.layers(), grad_drift)?;
        Ok(sde.diffusion().add_grads_to(self.diffusion.layers(), grad_diffusion)?)
    }
}

impl SdeTerm for NeuralSde {
    fn drift(&self, _t: f64, y: &Tensor) -> Result<Tensor> {
        Ok(self.drift.forward_t(y, false))
    }
    fn diffusion(&self, _t: f64, y: &Tensor) -> Result<Tensor> {
        Ok(self.diffusion.forward_t(y, false))
    }
    fn noise(&self) -> Noise {
        Noise::Diagonal
    }
}
