//! Input–output pairs for operator learning, built from the PDE generators: Burgers, Darcy and
//! Navier–Stokes maps, and Navier–Stokes trajectories, as `[count, channels, …]` tensors.

use super::{Burgers, Grf1d};
use crate::error::invalid;
use core_tensor::seed::{derive_seed, rng};
use rayon::prelude::*;
use tch::{Kind, Tensor};

/// At least one sample on a grid of at least two points.
fn check_sizes(count: usize, n: usize) -> crate::Result<()> {
    if count == 0 {
        return Err(invalid("count", 0, "need at least one sample"));
    }
    if n < 2 {
        return Err(invalid("n", n, "need at least two grid points"));
    }
    Ok(())
}

/// `(u0, u(T))` pairs of the FNO Burgers benchmark (ν = 0.1, T = 1, `u0 ~ N(0, 625(−Δ + 25)^{−2})`)
/// on `n` points, solved on a `fine`-point grid and subsampled; sample `i` uses seed
/// `derive_seed(seed, i)`.
pub fn burgers_pairs(count: usize, n: usize, fine: usize, seed: u64) -> crate::Result<(Tensor, Tensor)> {
    check_sizes(count, n)?;
    if fine < n || !fine.is_multiple_of(n) {
        return Err(invalid("fine", fine, &format!("must be a multiple of n = {n}")));
    }
    let solver = Burgers { dt: if fine <= 256 { 2e-4 } else { 1e-4 }, ..Burgers::fno() };
    let stride = fine / n;
    let rows = (0..count)
        .into_par_iter()
        .map(|i| -> crate::Result<(Vec<f64>, Vec<f64>)> {
            let u0 = Grf1d::burgers().sample(fine, &mut rng(derive_seed(seed, i as u64)))?;
            let u1 = solver.solve(&u0, 1.0)?;
            Ok((u0.iter().step_by(stride).copied().collect(), u1.iter().step_by(stride).copied().collect()))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(stack_pairs(&rows, &[count as i64, 1, n as i64]))
}

/// Stacks `(input, target)` rows into two `f32` tensors of `shape` (leading size = number of rows).
pub(crate) fn stack_pairs(rows: &[(Vec<f64>, Vec<f64>)], shape: &[i64]) -> (Tensor, Tensor) {
    stack_pairs_as(rows, shape, shape)
}

/// As [`stack_pairs`] with different shapes for the inputs and the targets.
pub(crate) fn stack_pairs_as(
    rows: &[(Vec<f64>, Vec<f64>)],
    shape_in: &[i64],
    shape_out: &[i64],
) -> (Tensor, Tensor) {
    let stack = |second: bool, shape: &[i64]| {
        let v: Vec<f64> =
            rows.iter().flat_map(|r| if second { &r.1 } else { &r.0 }.iter().copied()).collect();
        // cpu: a data source: batches move to the model's device when used
        Tensor::from_slice(&v).view(shape).to_kind(Kind::Float)
    };
    (stack(false, shape_in), stack(true, shape_out))
}

/// `(a, u)` pairs of the FNO Darcy benchmark on `n × n` nodes, solved on a `(n − 1)·k + 1` grid
/// and subsampled; sample `i` uses seed `derive_seed(seed, i)`.
pub fn darcy_pairs(count: usize, n: usize, refine: usize, seed: u64) -> crate::Result<(Tensor, Tensor)> {
    use crate::data::{darcy_coefficient, solve_darcy};
    check_sizes(count, n)?;
    if refine == 0 {
        return Err(invalid("refine", 0, "must be ≥ 1"));
    }
    let fine = (n - 1) * refine + 1;
    let rows = (0..count)
        .into_par_iter()
        .map(|i| -> crate::Result<(Vec<f64>, Vec<f64>)> {
            let a = darcy_coefficient(fine, &mut rng(derive_seed(seed, i as u64)));
            let (u, _) = solve_darcy(&a, &vec![1.0; fine * fine], fine, 1e-10)?;
            let sub = |v: &[f64]| -> Vec<f64> {
                let mut out = Vec::with_capacity(n * n);
                for r in 0..n {
                    for c in 0..n {
                        out.push(v[r * refine * fine + c * refine]);
                    }
                }
                out
            };
            Ok((sub(&a), sub(&u)))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(stack_pairs(&rows, &[count as i64, 1, n as i64, n as i64]))
}

/// `(ω(0), ω(1))` pairs of forced 2-D Navier–Stokes (`NavierStokes::fno(ν)` with time step `dt`,
/// `ω(0) ~ Grf2d::navier_stokes()`) on `n × n` points; sample `i` uses seed `derive_seed(seed, i)`.
pub fn navier_stokes_pairs(
    count: usize,
    n: usize,
    nu: f64,
    dt: f64,
    seed: u64,
) -> crate::Result<(Tensor, Tensor)> {
    use crate::data::{Grf2d, NavierStokes};
    check_sizes(count, n)?;
    let solver = NavierStokes { dt, ..NavierStokes::fno(nu) };
    let rows = (0..count)
        .into_par_iter()
        .map(|i| -> crate::Result<(Vec<f64>, Vec<f64>)> {
            let w0 = Grf2d::navier_stokes().sample(n, &mut rng(derive_seed(seed, i as u64)))?;
            let w1 = solver.solve(&w0, n, &[1.0])?.remove(0);
            Ok((w0, w1))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(stack_pairs(&rows, &[count as i64, 1, n as i64, n as i64]))
}

/// Vorticity trajectories of forced 2-D Navier–Stokes (as [`navier_stokes_pairs`]): frame 0 as
/// `[count, 1, n, n]` and frames `1..frames` every `frame_dt` as `[count, frames − 1, n, n]`.
pub fn navier_stokes_trajectories(
    count: usize,
    n: usize,
    nu: f64,
    dt: f64,
    frames: usize,
    frame_dt: f64,
    seed: u64,
) -> crate::Result<(Tensor, Tensor)> {
    use crate::data::{Grf2d, NavierStokes};
    check_sizes(count, n)?;
    if frames < 2 {
        return Err(invalid("frames", frames, "need at least two frames (an input and a target)"));
    }
    let solver = NavierStokes { dt, ..NavierStokes::fno(nu) };
    let times: Vec<f64> = (1..frames).map(|k| k as f64 * frame_dt).collect();
    let rows = (0..count)
        .into_par_iter()
        .map(|i| -> crate::Result<(Vec<f64>, Vec<f64>)> {
            let w0 = Grf2d::navier_stokes().sample(n, &mut rng(derive_seed(seed, i as u64)))?;
            let rest = solver.solve(&w0, n, &times)?.concat();
            Ok((w0, rest))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    let (c, n) = (count as i64, n as i64);
    Ok(stack_pairs_as(&rows, &[c, 1, n, n], &[c, frames as i64 - 1, n, n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_degenerate_sizes_are_errors() {
        assert!(burgers_pairs(0, 16, 16, 0).unwrap_err().to_string().contains("count"));
        assert!(burgers_pairs(2, 0, 16, 0).unwrap_err().to_string().contains("`n`"));
        assert!(burgers_pairs(2, 16, 24, 0).unwrap_err().to_string().contains("fine"));
        assert!(darcy_pairs(2, 0, 2, 0).is_err());
        assert!(darcy_pairs(2, 8, 0, 0).is_err());
        assert!(navier_stokes_pairs(0, 8, 1e-3, 1e-3, 0).is_err());
        assert!(navier_stokes_trajectories(1, 8, 1e-3, 1e-3, 1, 0.1, 0).is_err());
    }
}
