//! Sequences observed at irregular times, shared by the variational sequence models
//! ([`LatentSde`](super::LatentSde), [`LangevinFlow`](super::LangevinFlow)).
//!
//! A batch lives on the union of its sequences' observation times `ts` (strictly increasing, any
//! spacing) as `[B, T, D]` with NaN where a sequence has no value, the convention of
//! [`ControlPath`](crate::cde::ControlPath): a sequence observed at its own times, or with 30 % of
//! its points dropped, is the same batch with more NaN. The encoders read `[x, mask, t]` (missing
//! values as 0 beside a 0 in the mask), the likelihood sums over observed entries only, and the
//! posterior SDE is integrated with constant steps that also stop on every observation time, on a
//! Brownian interval (exact at any time), so irregular times are honoured, never moved onto a grid.

use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::sde::{sdeint, BrownianInterval, EulerMaruyama, SdeTerm};
use crate::solve::SaveAt;
use tch::Tensor;

/// A batch `[B, T, D]` on the times `ts`, split into values (NaN → 0) and an observation mask.
#[derive(Debug)]
pub(crate) struct Observed<'a> {
    /// The union time grid.
    pub ts: &'a [f64],
    /// Values with missing entries set to 0, `[B, T, D]`.
    pub values: Tensor,
    /// 1 where observed, 0 where missing, `[B, T, D]` (the kind of the values).
    pub mask: Tensor,
}

impl<'a> Observed<'a> {
    /// Checks `ts` (at least two, finite, strictly increasing) and `xs [B, T, obs_dim]` with
    /// `T = ts.len()`; NaN marks a missing value, an infinite value is an error.
    pub fn new(ts: &'a [f64], xs: &Tensor, obs_dim: i64) -> Result<Self> {
        if ts.len() < 2 {
            return Err(invalid("ts", format!("{} times", ts.len()), "need at least two observation times"));
        }
        if ts.iter().any(|t| !t.is_finite()) || ts.windows(2).any(|w| !(w[0] < w[1])) {
            return Err(invalid(
                "ts",
                format!("{ts:?}"),
                "observation times must be finite and strictly increasing",
            ));
        }
        match xs.size().as_slice() {
            [_, t, d] if *t == ts.len() as i64 && *d == obs_dim => {}
            s => {
                return Err(invalid(
                    "xs",
                    format!("{s:?}"),
                    &format!("expected [batch, {}, {obs_dim}] (NaN for a missing value)", ts.len()),
                ))
            }
        }
        let observed = xs.isnan().logical_not();
        if xs.isinf().any().int64_value(&[]) != 0 {
            return Err(invalid("xs", "infinite entries", "values must be finite or NaN (missing)"));
        }
        Ok(Observed { ts, values: xs.nan_to_num(0.0, None, None), mask: observed.to_kind(xs.kind()) })
    }

    /// `[x, mask, t]` per grid time, `[B, T, 2D + 1]`, reversed in time: a GRU over it gives at step
    /// `k` a summary of the observations from `ts[T − 1 − k]` on.
    pub fn reversed_encoder_input(&self) -> Tensor {
        let (b, t) = (self.values.size()[0], self.values.size()[1]);
        let tt = Tensor::from_slice(self.ts)
            .to_kind(self.values.kind())
            .to(self.values.device())
            .view([1, t, 1])
            .expand([b, t, 1], false);
        Tensor::cat(&[self.values.shallow_clone(), self.mask.shallow_clone(), tt], 2).flip([1])
    }

    /// `Σ_{observed (t, d)} log N(x_{t,d}; μ_{t,d}, σ²)` per sequence, `[B]`, for decoded means
    /// `mean [B, T, D]`.
    pub fn gaussian_log_likelihood(&self, mean: &Tensor, std: f64) -> Tensor {
        let per = (&self.values - mean).square() * (-0.5 / (std * std))
            - (std * (2.0 * std::f64::consts::PI).sqrt()).ln();
        (per * &self.mask).sum_dim_intlist([1, 2].as_slice(), false, self.values.kind())
    }
}

/// States of the SDE `term` from `y0 [B, W]` at every time of `ts` (the first is `y0`), by
/// Euler–Maruyama with the constant step `(t_T − t_0) / ((T − 1) · substeps)` that also stops on
/// each `t_k`, on a Brownian interval seeded by `seed`.
pub(crate) fn states_at(
    term: &dyn SdeTerm,
    y0: &Tensor,
    ts: &[f64],
    substeps: usize,
    seed: u64,
) -> Result<Vec<Tensor>> {
    if substeps == 0 {
        return Err(invalid("substeps", 0, "must be > 0"));
    }
    let (t0, t1) = (ts[0], ts[ts.len() - 1]);
    let h = (t1 - t0) / ((ts.len() - 1) * substeps) as f64;
    let bm = BrownianInterval::new(t0, t1, h, &y0.size(), seed, y0.kind(), y0.device())?;
    let sol =
        sdeint(term, &EulerMaruyama, (t0, t1), y0, &bm, &StepControl::constant(h), &SaveAt::ts(ts.to_vec()))?;
    Ok(sol.ys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde::{FnSde, Noise};
    use tch::{Device, Kind};

    /// On irregular times the states are those at the times asked: a pure drift `dy = dt` gives
    /// `y0 + t_k − t_0` and a pure noise `dy = dW` gives the Brownian interval's own `W(t_k)`.
    #[test]
    fn states_are_at_the_irregular_times() {
        let ts = [0.0, 0.07, 0.5, 0.52, 1.3];
        let y0 = Tensor::from_slice(&[0.25f64, -1.0]).view([2, 1]);
        let drift = FnSde {
            f: |_t: f64, y: &Tensor| Ok(y.ones_like()),
            g: |_t: f64, y: &Tensor| Ok(y.zeros_like()),
            noise: Noise::Diagonal,
        };
        let ys = states_at(&drift, &y0, &ts, 3, 1).unwrap();
        assert_eq!(ys.len(), ts.len());
        for (y, t) in ys.iter().zip(ts) {
            assert!((y - (&y0 + t)).abs().max().double_value(&[]) < 1e-12);
        }
        let noise = FnSde {
            f: |_t: f64, y: &Tensor| Ok(y.zeros_like()),
            g: |_t: f64, y: &Tensor| Ok(y.ones_like()),
            noise: Noise::Diagonal,
        };
        let ys = states_at(&noise, &y0, &ts, 3, 9).unwrap();
        let h = 1.3 / 12.0;
        let bm = BrownianInterval::new(0.0, 1.3, h, &[2, 1], 9, Kind::Double, Device::Cpu).unwrap();
        for (y, t) in ys.iter().zip(ts).skip(1) {
            let w = bm.increment(0.0, t).unwrap();
            assert!((y - &y0 - w).abs().max().double_value(&[]) < 1e-12, "t = {t}");
        }
    }

    /// Bad times and values are named; NaN is a missing value, not an error.
    #[test]
    fn observations_are_checked() {
        let xs = Tensor::from_slice(&[1.0f64, f64::NAN, 2.0]).view([1, 3, 1]);
        let o = Observed::new(&[0.0, 0.5, 2.0], &xs, 1).unwrap();
        assert_eq!(o.mask.sum(Kind::Double).double_value(&[]), 2.0);
        assert_eq!(o.reversed_encoder_input().size(), vec![1, 3, 3]);
        assert!(Observed::new(&[0.0, 0.5, 0.5], &xs, 1).unwrap_err().to_string().contains("ts"));
        assert!(Observed::new(&[0.0, f64::NAN, 1.0], &xs, 1).is_err());
        assert!(Observed::new(&[0.0, 1.0], &xs, 1).unwrap_err().to_string().contains("xs"));
        let inf = Tensor::from_slice(&[1.0f64, f64::INFINITY, 2.0]).view([1, 3, 1]);
        assert!(Observed::new(&[0.0, 0.5, 2.0], &inf, 1).unwrap_err().to_string().contains("infinite"));
    }
}
