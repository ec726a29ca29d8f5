//! NeuralStagger (Huang et al. 2023): a fine-resolution solver decomposed into coarse sub-solvers
//! on staggered sub-grids, trained jointly.
//!
//! A field `u [B, C, N]` is split into `s` interleaved coarse grids `u[:, :, j::s]`, `j < s`
//! (space-to-depth: the coarse input has `C·s` channels on `N/s` points, channel `c·s + j` holding
//! `u[c, k·s + j]`). Sub-solver `j` — an [`Fno`] on the coarse grid — sees every sub-grid and
//! predicts the output on sub-grid `j`; the outputs are interleaved back to `N` points. The
//! sub-solvers are independent, so they can run in parallel, each on `1/s` of the points.

use tch::{nn, Tensor};

use crate::error::{invalid, Result};
use crate::fno::{Fno, FnoConfig};

/// `s` coarse FNO sub-solvers on staggered 1-D grids.
#[derive(Debug)]
pub struct NeuralStagger {
    factor: i64,
    solvers: Vec<Fno>,
}

/// `[B, C, N]` → `[B, C·s, N/s]` with channel `c·s + j` = `u[c, k·s + j]`.
pub fn space_to_depth(x: &Tensor, s: i64) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 3 || s < 1 || size[2] % s != 0 {
        return Err(invalid(
            "x",
            format!("{size:?}"),
            &format!("expected [B, C, N] with N divisible by {s}"),
        ));
    }
    let (b, c, n) = (size[0], size[1], size[2]);
    Ok(x.reshape([b, c, n / s, s]).permute([0, 1, 3, 2]).reshape([b, c * s, n / s]))
}

/// Inverse of [`space_to_depth`]: `[B, C·s, M]` → `[B, C, M·s]`.
pub fn depth_to_space(x: &Tensor, s: i64) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 3 || s < 1 || size[1] % s != 0 {
        return Err(invalid("x", format!("{size:?}"), &format!("expected [B, C·{s}, M]")));
    }
    let (b, cs, m) = (size[0], size[1], size[2]);
    Ok(x.reshape([b, cs / s, s, m]).permute([0, 1, 3, 2]).reshape([b, cs / s, m * s]))
}

impl NeuralStagger {
    /// `factor` sub-solvers; each is an FNO built from `base` with `factor × base.in_channels`
    /// inputs (its modes must fit the coarse grid).
    ///
    /// # Errors
    /// `factor < 1`, an invalid FNO configuration.
    pub fn new(path: &nn::Path<'_>, base: &FnoConfig, factor: i64) -> Result<Self> {
        if factor < 1 {
            return Err(invalid("factor", factor, "must be ≥ 1"));
        }
        let cfg = FnoConfig { in_channels: base.in_channels * factor, ..base.clone() };
        let solvers = (0..factor)
            .map(|j| Fno::new(&(path / format!("sub{j}")), cfg.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(NeuralStagger { factor, solvers })
    }

    /// The decomposition factor `s`.
    pub fn factor(&self) -> i64 {
        self.factor
    }

    /// The sub-solvers.
    pub fn solvers(&self) -> &[Fno] {
        &self.solvers
    }

    /// Fine output `[B, C_out, N]` from `x [B, C_in, N]` (`N` divisible by `s`).
    ///
    /// # Errors
    /// Shape errors from the decomposition or the sub-solvers.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let coarse = space_to_depth(x, self.factor)?;
        let outs = self.solvers.iter().map(|f| f.forward(&coarse, None)).collect::<Result<Vec<_>>>()?;
        // [B, C_out, M] per sub-grid j → channels (c, j) → interleave.
        let stacked = Tensor::stack(&outs, 2); // [B, C_out, s, M]
        let size = stacked.size();
        depth_to_space(&stacked.reshape([size[0], size[1] * size[2], size[3]]), self.factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn staggering_round_trips_and_interleaves() {
        let x = Tensor::arange(24, (Kind::Float, Device::Cpu)).reshape([1, 2, 12]);
        let d = space_to_depth(&x, 3).unwrap();
        assert_eq!(d.size(), vec![1, 6, 4]);
        // channel 0·3 + 1 holds u[0, 1], u[0, 4], u[0, 7], u[0, 10].
        let v: Vec<f32> = Vec::try_from(d.get(0).get(1)).unwrap();
        assert_eq!(v, vec![1.0, 4.0, 7.0, 10.0]);
        assert_eq!((depth_to_space(&d, 3).unwrap() - &x).abs().max().double_value(&[]), 0.0);
        assert!(space_to_depth(&x, 5).is_err());
    }

    #[test]
    fn sub_solvers_fill_their_own_sub_grids() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let base = FnoConfig { modes: vec![4], width: 8, layers: 2, projection: 16, ..FnoConfig::default() };
        let ns = NeuralStagger::new(&vs.root(), &base, 2).unwrap();
        let x = Tensor::randn([3, 1, 32], (Kind::Float, Device::Cpu));
        let y = ns.forward(&x).unwrap();
        assert_eq!(y.size(), vec![3, 1, 32]);
        // Output at even points comes from sub-solver 0, odd points from sub-solver 1.
        let coarse = space_to_depth(&x, 2).unwrap();
        let y0 = ns.solvers()[0].forward(&coarse, None).unwrap();
        let y1 = ns.solvers()[1].forward(&coarse, None).unwrap();
        let even = y.slice(2, 0, 32, 2);
        let odd = y.slice(2, 1, 32, 2);
        assert!((even - y0).abs().max().double_value(&[]) < 1e-6);
        assert!((odd - y1).abs().max().double_value(&[]) < 1e-6);
        y.square().sum(Kind::Float).backward();
        for v in vs.trainable_variables() {
            assert!(v.grad().defined());
        }
    }
}
