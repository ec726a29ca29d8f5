//! NeuralStagger (Huang et al. 2023): a fine-resolution solver decomposed into coarse sub-solvers
//! on staggered sub-grids and blocks of time steps, trained jointly.
//!
//! **Spatial.** A 1-D field `u [B, C, N]` is split into `s` interleaved coarse grids
//! `u[:, :, j::s]`, `j < s` (space-to-depth: the coarse input has `C·s` channels on `N/s` points,
//! channel `c·s + j` holding `u[c, k·s + j]`); a 2-D field `[B, C, H, W]` into `s²` grids
//! `u[:, :, jy::s, jx::s]` (channel `c·s² + jy·s + jx`). Sub-solver `j` — an [`Fno`] on the coarse
//! grid — sees every sub-grid and predicts the output on sub-grid `j`; the outputs are interleaved
//! back to the fine grid. The sub-solvers are independent, so they can run in parallel, each on
//! `1/s^d` of the points.
//!
//! **Temporal.** With `τ` frames the solvers take the last `τ` states stacked as channels and
//! predict the next `τ` at once, so a rollout of `T` steps needs `⌈T/τ⌉` sequential calls instead
//! of `T` ([`NeuralStagger::rollout`]).

use tch::{nn, Tensor};

use crate::error::{invalid, Result};
use crate::fno::{Fno, FnoConfig};

/// `s` coarse FNO sub-solvers on staggered 1-D grids.
#[derive(Debug)]
pub struct NeuralStagger {
    factor: i64,
    dims: usize,
    frames: i64,
    solvers: Vec<Fno>,
}

/// `[B, C, H, W]` → `[B, C·s², H/s, W/s]` with channel `c·s² + jy·s + jx` = `u[c, ky·s + jy, kx·s + jx]`.
pub fn space_to_depth_2d(x: &Tensor, s: i64) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 4 || s < 1 || size[2] % s != 0 || size[3] % s != 0 {
        return Err(invalid(
            "x",
            format!("{size:?}"),
            &format!("expected [B, C, H, W] with H and W divisible by {s}"),
        ));
    }
    let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
    Ok(x.reshape([b, c, h / s, s, w / s, s]).permute([0, 1, 3, 5, 2, 4]).reshape([
        b,
        c * s * s,
        h / s,
        w / s,
    ]))
}

/// Inverse of [`space_to_depth_2d`]: `[B, C·s², Hc, Wc]` → `[B, C, Hc·s, Wc·s]`.
pub fn depth_to_space_2d(x: &Tensor, s: i64) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 4 || s < 1 || size[1] % (s * s) != 0 {
        return Err(invalid("x", format!("{size:?}"), &format!("expected [B, C·{s}², Hc, Wc]")));
    }
    let (b, cs, h, w) = (size[0], size[1], size[2], size[3]);
    Ok(x.reshape([b, cs / (s * s), s, s, h, w]).permute([0, 1, 4, 2, 5, 3]).reshape([
        b,
        cs / (s * s),
        h * s,
        w * s,
    ]))
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
    /// Spatial decomposition only (one frame): `factor^d` sub-solvers for the `d = base.modes.len()`
    /// dimensions of `base`.
    ///
    /// # Errors
    /// As [`NeuralStagger::with_frames`].
    pub fn new(path: &nn::Path<'_>, base: &FnoConfig, factor: i64) -> Result<Self> {
        Self::with_frames(path, base, factor, 1)
    }

    /// `factor^d` sub-solvers over blocks of `frames` time steps; each is an FNO built from `base`
    /// with `frames · factor^d · base.in_channels` inputs and `frames · base.out_channels` outputs
    /// (its modes must fit the coarse grid).
    ///
    /// # Errors
    /// `factor < 1`, `frames < 1`, `base.modes` not of length 1 or 2, an invalid FNO configuration.
    pub fn with_frames(path: &nn::Path<'_>, base: &FnoConfig, factor: i64, frames: i64) -> Result<Self> {
        if factor < 1 {
            return Err(invalid("factor", factor, "must be ≥ 1"));
        }
        if frames < 1 {
            return Err(invalid("frames", frames, "must be ≥ 1"));
        }
        let dims = base.modes.len();
        if !(1..=2).contains(&dims) {
            return Err(invalid(
                "modes",
                format!("{:?}", base.modes),
                "NeuralStagger supports 1-D and 2-D FNOs",
            ));
        }
        let subs = factor.pow(dims as u32);
        let cfg = FnoConfig {
            in_channels: base.in_channels * frames * subs,
            out_channels: base.out_channels * frames,
            ..base.clone()
        };
        let solvers = (0..subs)
            .map(|j| Fno::new(&(path / format!("sub{j}")), cfg.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(NeuralStagger { factor, dims, frames, solvers })
    }

    /// Frames per call `τ`.
    pub fn frames(&self) -> i64 {
        self.frames
    }

    /// The decomposition factor `s`.
    pub fn factor(&self) -> i64 {
        self.factor
    }

    /// The sub-solvers.
    pub fn solvers(&self) -> &[Fno] {
        &self.solvers
    }

    /// Fine output `[B, τ·C_out, N]` (or `[B, τ·C_out, H, W]`) from `x [B, τ·C_in, …]` (sizes
    /// divisible by `s`); with `τ > 1` frame `f` occupies channels `f·C .. (f+1)·C`.
    ///
    /// # Errors
    /// Shape errors from the decomposition or the sub-solvers.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let coarse =
            if self.dims == 1 { space_to_depth(x, self.factor)? } else { space_to_depth_2d(x, self.factor)? };
        let outs = self.solvers.iter().map(|f| f.forward(&coarse, None)).collect::<Result<Vec<_>>>()?;
        // [B, C', coarse…] per sub-grid j → channels (c, j) → interleave.
        let stacked = Tensor::stack(&outs, 2); // [B, C', s^d, coarse…]
        let mut size = stacked.size();
        let c = size.remove(1) * size.remove(1);
        size.insert(1, c);
        let merged = stacked.reshape(size.as_slice());
        if self.dims == 1 {
            depth_to_space(&merged, self.factor)
        } else {
            depth_to_space_2d(&merged, self.factor)
        }
    }

    /// Autoregressive rollout: starting from the last `τ` states `x [B, τ·C, …]`, `calls`
    /// forward passes, each fed the previous output (needs `C_in = C_out`). Returns the `calls`
    /// predicted blocks.
    ///
    /// # Errors
    /// As [`NeuralStagger::forward`].
    pub fn rollout(&self, x: &Tensor, calls: usize) -> Result<Vec<Tensor>> {
        let mut out = Vec::with_capacity(calls);
        let mut cur = x.shallow_clone();
        for _ in 0..calls {
            cur = self.forward(&cur)?;
            out.push(cur.shallow_clone());
        }
        Ok(out)
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
        core_tensor::seed::seed_torch(0);
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

    #[test]
    fn two_d_staggering_with_frames() {
        let x = Tensor::arange(2 * 36, (Kind::Float, Device::Cpu)).reshape([1, 2, 6, 6]);
        let d = space_to_depth_2d(&x, 3).unwrap();
        assert_eq!(d.size(), vec![1, 18, 2, 2]);
        // channel 1·9 + 1·3 + 2 holds u[1, 3k + 1, 3l + 2].
        let v: Vec<f32> = Vec::try_from(d.get(0).get(14).flatten(0, -1)).unwrap();
        let u = |i: i64, j: i64| (36 + 6 * i + j) as f32;
        assert_eq!(v, vec![u(1, 2), u(1, 5), u(4, 2), u(4, 5)]);
        assert_eq!((depth_to_space_2d(&d, 3).unwrap() - &x).abs().max().double_value(&[]), 0.0);
        assert!(space_to_depth_2d(&x, 4).is_err());
        core_tensor::seed::seed_torch(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let base =
            FnoConfig { modes: vec![3, 3], width: 8, layers: 1, projection: 8, ..FnoConfig::default() };
        let ns = NeuralStagger::with_frames(&vs.root(), &base, 2, 3).unwrap();
        assert_eq!(ns.solvers().len(), 4);
        let x = Tensor::randn([2, 3, 12, 12], (Kind::Float, Device::Cpu));
        let y = ns.forward(&x).unwrap();
        assert_eq!(y.size(), vec![2, 3, 12, 12]);
        // Point (1, 0) of the fine grid comes from sub-solver jy·s + jx = 2.
        let coarse = space_to_depth_2d(&x, 2).unwrap();
        let y2 = ns.solvers()[2].forward(&coarse, None).unwrap();
        let part = y.slice(2, 1, 12, 2).slice(3, 0, 12, 2);
        assert!((part - y2).abs().max().double_value(&[]) < 1e-6);
        let roll = ns.rollout(&x, 2).unwrap();
        assert_eq!(roll.len(), 2);
        assert!((ns.forward(&roll[0]).unwrap() - &roll[1]).abs().max().double_value(&[]) < 1e-6);
        assert!(NeuralStagger::with_frames(&vs.root(), &base, 2, 0).is_err());
    }
}
