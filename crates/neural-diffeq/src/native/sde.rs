//! Neural SDEs with diagonal noise on the native path: Euler–Maruyama on a fixed grid and the exact
//! reverse sweep of its steps.

use super::batch::Batch;
use crate::error::{invalid, Result};
use crate::sde::BrownianPath;
use crate::state::State;
use core_tensor::native::mlp::BLOCK_ROWS;
use core_tensor::native::{MlpCache, NativeMlp, Real};
use core_tensor::nn::Mlp;
use core_tensor::seed::{derive_seed, rng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// `dy = f(y) dt + σ(y) ⊙ dW` with MLP drift `f` and MLP diffusion `σ` (diagonal noise), both
/// mapping `[rows, dim]` to `[rows, dim]`; time is not an input (the
/// [`NeuralSde`](crate::models::NeuralSde) architecture).
#[derive(Debug)]
pub struct MlpSde<T> {
    drift: NativeMlp<T>,
    diffusion: NativeMlp<T>,
}

/// What [`euler_maruyama_backprop`] returns.
#[derive(Debug, Clone)]
pub struct SdeGradient<T> {
    /// `y(t1)`.
    pub y1: Batch<T>,
    /// `∂L/∂y0`.
    pub grad_y0: Batch<T>,
    /// `∂L/∂θ` of the drift, flat.
    pub grad_drift: Vec<T>,
    /// `∂L/∂φ` of the diffusion, flat.
    pub grad_diffusion: Vec<T>,
}

impl<T: Real> MlpSde<T> {
    /// An SDE from its two networks, each `dim → dim`.
    pub fn new(drift: NativeMlp<T>, diffusion: NativeMlp<T>) -> Result<Self> {
        let d = drift.in_dim();
        for (name, m) in [("drift", &drift), ("diffusion", &diffusion)] {
            if m.in_dim() != d || m.out_dim() != d {
                return Err(invalid(
                    name,
                    format!("widths {:?}", m.widths()),
                    &format!("drift and diffusion both map the state ({d}) to itself"),
                ));
            }
        }
        Ok(MlpSde { drift, diffusion })
    }
    /// Copies of two libtorch networks.
    pub fn from_mlps(drift: &Mlp, diffusion: &Mlp) -> Result<Self> {
        MlpSde::new(NativeMlp::from_mlp(drift)?, NativeMlp::from_mlp(diffusion)?)
    }
    /// Re-reads both networks' weights (after an optimiser step).
    pub fn load(&mut self, drift: &Mlp, diffusion: &Mlp) -> Result<()> {
        self.drift.load(drift)?;
        Ok(self.diffusion.load(diffusion)?)
    }
    /// The drift network.
    pub fn drift(&self) -> &NativeMlp<T> {
        &self.drift
    }
    /// The diffusion network.
    pub fn diffusion(&self) -> &NativeMlp<T> {
        &self.diffusion
    }
    /// State width.
    pub fn dim(&self) -> usize {
        self.drift.in_dim()
    }
}

/// An SDE path's increments `[steps, rows, dim]` as host values (the same draws the tensor
/// solvers read, so both paths integrate the same Brownian motion).
pub fn host_increments<T: Real>(path: &BrownianPath) -> Result<Vec<T>> {
    Ok(Batch::<T>::from_tensor(&path.increments().f_flatten(1, -1)?)?.data().to_vec())
}

/// The increments of `BrownianPath::increments_only(t0, dt, steps, &[rows, dim], seed, ..)`
/// (`[steps, rows, dim]`, the same values in `T`), drawn straight into a host vector without
/// building the tensor.
pub fn brownian_increments<T: Real>(
    seed: u64,
    steps: usize,
    rows: usize,
    dim: usize,
    dt: f64,
) -> Result<Vec<T>> {
    if !(dt.is_finite() && dt > 0.0) || steps == 0 {
        return Err(invalid("dt, steps", format!("{dt}, {steps}"), "need dt > 0 and steps > 0"));
    }
    let mut r = rng(derive_seed(seed, 0));
    let scale = T::from_f64(dt.sqrt());
    Ok((0..steps * rows * dim).map(|_| T::from_f64(StandardNormal.sample(&mut r)) * scale).collect())
}

fn check<T: Real>(sde: &MlpSde<T>, y0: &Batch<T>, dt: f64, increments: &[T]) -> Result<usize> {
    if y0.cols() != sde.dim() {
        return Err(core_tensor::Error::shape(
            "y0",
            format!("[rows, {}]", sde.dim()),
            [y0.rows(), y0.cols()],
        )
        .into());
    }
    if !(dt.is_finite() && dt > 0.0) {
        return Err(invalid("dt", dt, "must be finite and > 0"));
    }
    let n = y0.len();
    if n == 0 || increments.is_empty() || !increments.len().is_multiple_of(n) {
        return Err(invalid(
            "increments",
            increments.len(),
            &format!("need [steps, {}, {}] values, steps > 0", y0.rows(), y0.cols()),
        ));
    }
    Ok(increments.len() / n)
}

/// One block of rows solved on its own: rows of an SDE with diagonal noise on a fixed grid are
/// independent, so each block of [`BLOCK_ROWS`] rows runs the whole solve (and its reverse sweep)
/// on one thread, and the blocks run in parallel — one fork per solve instead of one per network
/// evaluation. Parameter gradients are summed in block order (deterministic).
struct RowBlock<T> {
    /// First row.
    r0: usize,
    /// Rows.
    rows: usize,
    /// States `y_0 … y_steps`, each `[rows, dim]`.
    ys: Vec<Vec<T>>,
    caches: [MlpCache<T>; 2],
}

fn blocks<T: Real>(rows: usize) -> Vec<RowBlock<T>> {
    (0..rows.div_ceil(BLOCK_ROWS))
        .map(|b| RowBlock {
            r0: b * BLOCK_ROWS,
            rows: BLOCK_ROWS.min(rows - b * BLOCK_ROWS),
            ys: Vec::new(),
            caches: [MlpCache::default(), MlpCache::default()],
        })
        .collect()
}

/// The block's slice of step `k`'s increments.
fn block_dw<'a, T>(inc: &'a [T], k: usize, n: usize, b: &RowBlock<T>, dim: usize) -> &'a [T] {
    &inc[k * n + b.r0 * dim..k * n + (b.r0 + b.rows) * dim]
}

fn forward_block<T: Real>(
    sde: &MlpSde<T>,
    b: &mut RowBlock<T>,
    y0: &[T],
    dt: T,
    inc: &[T],
    n: usize,
) -> Result<()> {
    let dim = sde.dim();
    let steps = inc.len() / n;
    let m = b.rows * dim;
    b.ys.clear();
    b.ys.push(y0[b.r0 * dim..b.r0 * dim + m].to_vec());
    let (mut f, mut g) = (vec![T::ZERO; m], vec![T::ZERO; m]);
    for k in 0..steps {
        let y = &b.ys[k];
        sde.drift.forward_into(y, &mut f, &mut b.caches[0])?;
        sde.diffusion.forward_into(y, &mut g, &mut b.caches[1])?;
        let dw = block_dw(inc, k, n, b, dim);
        let next: Vec<T> =
            y.iter().zip(&f).zip(&g).zip(dw).map(|(((y, f), g), w)| *y + dt * *f + *g * *w).collect();
        if !next.iter().all(|v| v.finite()) {
            return Err(invalid("y", format!("step {}", k + 1), "the solution became non-finite"));
        }
        b.ys.push(next);
    }
    Ok(())
}

/// Solves every block forward, in parallel.
fn forward_all<T: Real>(
    sde: &MlpSde<T>,
    y0: &Batch<T>,
    dt: f64,
    increments: &[T],
) -> Result<Vec<RowBlock<T>>> {
    check(sde, y0, dt, increments)?;
    let mut bs = blocks(y0.rows());
    let n = y0.len();
    core_tensor::native::on_pool(|| {
        bs.par_iter_mut().try_for_each(|b| forward_block(sde, b, y0.data(), T::from_f64(dt), increments, n))
    })?;
    Ok(bs)
}

/// The state at grid point `k`, gathered from the blocks.
fn gather<T: Real>(bs: &[RowBlock<T>], k: usize, rows: usize, dim: usize) -> Result<Batch<T>> {
    let mut data = Vec::with_capacity(rows * dim);
    for b in bs {
        data.extend_from_slice(&b.ys[k]);
    }
    Batch::new(data, rows, dim)
}

/// Euler–Maruyama (Itô) from `y0` with step `dt` and the increments `[steps, rows, dim]`: every
/// grid state, `y0` first (`steps + 1` batches). A non-finite state is an error naming its step.
pub fn euler_maruyama<T: Real>(
    sde: &MlpSde<T>,
    y0: &Batch<T>,
    dt: f64,
    increments: &[T],
) -> Result<Vec<Batch<T>>> {
    let bs = forward_all(sde, y0, dt, increments)?;
    let steps = increments.len() / y0.len();
    (0..=steps).map(|k| gather(&bs, k, y0.rows(), y0.cols())).collect()
}

/// [`euler_maruyama`] and the exact gradient of the discrete solve for the cotangent
/// `grad_y1 = ∂L/∂y(t1)`: the reverse sweep `ȳ_k = ȳ_{k+1} + (dt ȳ_{k+1})ᵀ ∂f/∂y +
/// (ȳ_{k+1} ⊙ dW_k)ᵀ ∂σ/∂y` at `y_k`, with the parameter terms accumulated alongside — the
/// gradient libtorch's autograd gives through the same steps.
pub fn euler_maruyama_backprop<T: Real>(
    sde: &MlpSde<T>,
    y0: &Batch<T>,
    dt: f64,
    increments: &[T],
    grad_y1: impl FnOnce(&Batch<T>) -> Result<Batch<T>> + Send,
) -> Result<SdeGradient<T>> {
    let mut bs = forward_all(sde, y0, dt, increments)?;
    let steps = increments.len() / y0.len();
    let (rows, dim) = (y0.rows(), y0.cols());
    let y1 = gather(&bs, steps, rows, dim)?;
    let gy1 = grad_y1(&y1)?;
    if (gy1.rows(), gy1.cols()) != (rows, dim) || !gy1.is_finite()? {
        return Err(invalid(
            "grad_y1(y1)",
            format!("{:?}", gy1.shape()),
            "must be finite and shaped like y(t1)",
        ));
    }
    let n = y0.len();
    let (pf, pg) = (sde.drift.num_params(), sde.diffusion.num_params());
    let parts: Vec<(Vec<T>, Vec<T>, Vec<T>)> = core_tensor::native::on_pool(|| {
        bs.par_iter_mut()
            .map(|b| {
                backward_block(sde, b, &gy1.data()[b.r0 * dim..(b.r0 + b.rows) * dim], dt, increments, n)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let (mut gy0, mut gp_f, mut gp_g) = (Vec::with_capacity(n), vec![T::ZERO; pf], vec![T::ZERO; pg]);
    for (gy, f, g) in parts {
        gy0.extend_from_slice(&gy);
        for (a, b) in gp_f.iter_mut().zip(&f) {
            *a += *b;
        }
        for (a, b) in gp_g.iter_mut().zip(&g) {
            *a += *b;
        }
    }
    Ok(SdeGradient { y1, grad_y0: Batch::new(gy0, rows, dim)?, grad_drift: gp_f, grad_diffusion: gp_g })
}

/// The reverse sweep of one block: `(∂L/∂y0 rows, ∂L/∂θ, ∂L/∂φ)`.
fn backward_block<T: Real>(
    sde: &MlpSde<T>,
    b: &mut RowBlock<T>,
    gy1: &[T],
    dt: f64,
    inc: &[T],
    n: usize,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let dim = sde.dim();
    let m = b.rows * dim;
    let dtt = T::from_f64(dt);
    let mut gp_f = vec![T::ZERO; sde.drift.num_params()];
    let mut gp_g = vec![T::ZERO; sde.diffusion.num_params()];
    let mut gy = gy1.to_vec();
    let (mut cot_f, mut cot_g) = (vec![T::ZERO; m], vec![T::ZERO; m]);
    let (mut gx, mut out) = (vec![T::ZERO; m], vec![T::ZERO; m]);
    let [cf, cg] = &mut b.caches;
    for k in (0..b.ys.len() - 1).rev() {
        let y = &b.ys[k];
        let dw = &inc[k * n + b.r0 * dim..k * n + b.r0 * dim + m];
        // cotangents of f(y_k) and σ(y_k): dt ȳ_{k+1} and ȳ_{k+1} ⊙ dW_k
        for (((f, g), y), w) in cot_f.iter_mut().zip(cot_g.iter_mut()).zip(&gy).zip(dw) {
            *f = dtt * *y;
            *g = *y * *w;
        }
        sde.drift.forward_into(y, &mut out, cf)?;
        sde.drift.vjp(cf, y, &cot_f, Some(&mut gx), &mut gp_f)?;
        for (a, d) in gy.iter_mut().zip(&gx) {
            *a += *d;
        }
        sde.diffusion.forward_into(y, &mut out, cg)?;
        sde.diffusion.vjp(cg, y, &cot_g, Some(&mut gx), &mut gp_g)?;
        for (a, d) in gy.iter_mut().zip(&gx) {
            *a += *d;
        }
    }
    Ok((gy, gp_f, gp_g))
}
