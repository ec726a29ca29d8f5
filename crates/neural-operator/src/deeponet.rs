//! DeepONet (Lu et al. 2021): `G(u)(y) ≈ Σ_k b_k(u(x_1), …, u(x_m)) t_k(y) + b₀`, a branch network on
//! the input function's values at fixed sensors and a trunk network on the query coordinates.
//! The Cartesian-product form evaluates every query for every input function at once.

use crate::error::{invalid, Result};
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, Tensor};

/// A DeepONet with `p` basis functions.
#[derive(Debug)]
pub struct DeepONet {
    branch: Mlp,
    trunk: Mlp,
    bias: Tensor,
    sensors: i64,
    coord_dim: i64,
}

impl DeepONet {
    /// Branch `sensors → hidden… → p`, trunk `coord_dim → hidden… → p` (tanh).
    pub fn new(path: &nn::Path<'_>, sensors: i64, coord_dim: i64, hidden: &[i64], p: i64) -> Result<Self> {
        if sensors <= 0 || coord_dim <= 0 || p <= 0 {
            return Err(invalid("sizes", format!("{sensors}, {coord_dim}, {p}"), "must be > 0"));
        }
        let mut bw = vec![sensors];
        bw.extend(hidden);
        bw.push(p);
        let mut tw = vec![coord_dim];
        tw.extend(hidden);
        tw.push(p);
        let cfg = MlpConfig::default().activation(Activation::Tanh);
        Ok(DeepONet {
            branch: Mlp::new(&(path / "branch"), &bw, cfg.clone())?,
            trunk: Mlp::new(&(path / "trunk"), &tw, cfg.final_activation(Activation::Tanh))?,
            bias: path.zeros("bias", &[1]),
            sensors,
            coord_dim,
        })
    }
    /// Cartesian-product evaluation: `u [B, m]` sensor values and queries `y [Q, d]` → `[B, Q]`.
    pub fn forward(&self, u: &Tensor, y: &Tensor) -> Result<Tensor> {
        if u.dim() != 2 || u.size()[1] != self.sensors {
            return Err(invalid(
                "u",
                format!("{:?}", u.size()),
                &format!("expected [batch, {}]", self.sensors),
            ));
        }
        if y.dim() != 2 || y.size()[1] != self.coord_dim {
            return Err(invalid(
                "y",
                format!("{:?}", y.size()),
                &format!("expected [queries, {}]", self.coord_dim),
            ));
        }
        let b = self.branch.forward_t(u, false); // [B, p]
        let t = self.trunk.forward_t(y, false); // [Q, p]
        Ok(b.matmul(&t.tr()) + &self.bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::train::{Optimizer, OptimizerConfig};
    use tch::{Device, Kind};

    /// Learns the antiderivative operator `G(u)(y) = ∫_0^y u` on random linear inputs
    /// `u(x) = a + b x` (exact: `a y + b y²/2`).
    #[test]
    fn learns_the_antiderivative() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = 16;
        let net = DeepONet::new(&vs.root(), m, 1, &[32], 16).unwrap();
        let xs = Tensor::linspace(0.0, 1.0, m, (Kind::Float, Device::Cpu));
        let ys = Tensor::linspace(0.0, 1.0, 21, (Kind::Float, Device::Cpu)).unsqueeze(1);
        let ab = Tensor::rand([256, 2], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let (a, b) = (ab.narrow(1, 0, 1), ab.narrow(1, 1, 1));
        let u = &a + &b * xs.unsqueeze(0);
        let yv = ys.squeeze_dim(1).unsqueeze(0);
        let target = &a * &yv + &b * yv.square() * 0.5;
        let mut opt = Optimizer::from_var_store(OptimizerConfig::adam(1e-2), &vs).unwrap();
        for _ in 0..400 {
            opt.zero_grad();
            let loss = (net.forward(&u, &ys).unwrap() - &target).square().mean(Kind::Float);
            loss.backward();
            opt.step().unwrap();
        }
        let err =
            (net.forward(&u, &ys).unwrap() - &target).square().mean(Kind::Float).sqrt().double_value(&[]);
        assert!(err < 0.02, "RMSE {err}");
        assert!(net.forward(&u.narrow(1, 0, 3), &ys).is_err());
    }
}
