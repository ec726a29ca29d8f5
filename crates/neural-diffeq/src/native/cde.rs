//! Neural CDEs on the native path: the control path read once into host memory, the vector field
//! `f(z) dX/dt` with its vector–Jacobian product, and the gradient of the whole model
//! (initial map, solve, read-out) by the reverse sweep of [`super::backprop`].

use super::batch::Batch;
use super::gradient::{reverse_sweep, VjpField};
use crate::cde::{ControlPath, Interpolation};
use crate::controller::{PidController, StepControl};
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt};
use crate::solver::{ExplicitRk, Stats};
use crate::state::State;
use crate::term::OdeTerm;
use core_tensor::native::{MlpCache, NativeMlp, Real};
use core_tensor::nn::{Activation, Mlp};
use rayon::prelude::*;
use std::sync::Mutex;
use tch::{nn, Tensor};

/// Rows per independent block of a fixed-step solve: rows of a CDE solved with constant steps do
/// not interact, so blocks of this many rows are solved (and swept back) on separate threads.
/// Fixed, so results do not depend on the machine.
pub const SOLVE_BLOCK_ROWS: usize = 128;

/// A control path's knots, values and slopes on the host (`[B, T, C]` each).
#[derive(Debug, Clone)]
pub struct HostPath<T> {
    knots: Vec<f64>,
    values: Vec<T>,
    slopes: Vec<T>,
    rows: usize,
    channels: usize,
    cubic: bool,
}

impl<T: Real> HostPath<T> {
    /// A host copy of `path`.
    pub fn new(path: &ControlPath) -> Result<Self> {
        let (knots, values, slopes, interp) = path.parts();
        let (rows, k, channels) = values.size3()?;
        let read = |t: &Tensor| -> Result<Vec<T>> {
            Ok(Batch::<T>::from_tensor(&t.f_reshape([-1, channels])?)?.data().to_vec())
        };
        let cubic = matches!(interp, Interpolation::HermiteBackward | Interpolation::NaturalCubic);
        if k as usize != knots.len() {
            return Err(invalid("path", format!("{k} knots"), "values and knots disagree"));
        }
        Ok(HostPath {
            knots: knots.to_vec(),
            values: read(values)?,
            slopes: if cubic { read(slopes)? } else { Vec::new() },
            rows: rows as usize,
            channels: channels as usize,
            cubic,
        })
    }
    /// Batch size.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Knots of the path parameter.
    pub fn knots(&self) -> &[f64] {
        &self.knots
    }
    /// `X` at the first knot for rows `r0..r0 + rows`, `[rows, C]`.
    pub fn initial(&self, r0: usize, rows: usize) -> Vec<T> {
        let (k, c) = (self.knots.len(), self.channels);
        (r0..r0 + rows).flat_map(|r| self.values[r * k * c..r * k * c + c].iter().copied()).collect()
    }
    /// `dX/dt (t)` for rows `r0..r0 + rows` into `out [rows, C]` (right derivative at knots; the
    /// formulas of [`ControlPath::derivative`]).
    pub fn derivative(&self, t: f64, r0: usize, out: &mut [T]) {
        let kn = &self.knots;
        let i = kn.partition_point(|&s| s <= t).clamp(1, kn.len() - 1) - 1;
        let h = kn[i + 1] - kn[i];
        let th = (t - kn[i]) / h;
        let (k, c) = (kn.len(), self.channels);
        let (cx0, cx1, cm0, cm1) = if self.cubic {
            let t2 = th * th;
            (
                (6.0 * t2 - 6.0 * th) / h,
                (-6.0 * t2 + 6.0 * th) / h,
                3.0 * t2 - 4.0 * th + 1.0,
                3.0 * t2 - 2.0 * th,
            )
        } else {
            (-1.0 / h, 1.0 / h, 0.0, 0.0)
        };
        let (cx0, cx1, cm0, cm1) = (T::from_f64(cx0), T::from_f64(cx1), T::from_f64(cm0), T::from_f64(cm1));
        for (r, o) in out.chunks_exact_mut(c).enumerate() {
            let base = (r0 + r) * k * c + i * c;
            for j in 0..c {
                let mut v = cx0 * self.values[base + j] + cx1 * self.values[base + c + j];
                if self.cubic {
                    v += cm0 * self.slopes[base + j] + cm1 * self.slopes[base + c + j];
                }
                o[j] = v;
            }
        }
    }
}

/// A neural CDE's three networks in plain Rust: initial map `ζ` (linear `C → H`), field
/// `f: H → H·C`, read-out `ℓ` (linear `H → outputs`).
#[derive(Debug, Clone)]
pub struct NativeCde<T> {
    init: NativeMlp<T>,
    field: NativeMlp<T>,
    readout: NativeMlp<T>,
    hidden: usize,
    channels: usize,
}

/// A linear map as a one-layer network.
fn linear<T: Real>(l: &nn::Linear) -> Result<NativeMlp<T>> {
    Ok(NativeMlp::from_layers(std::slice::from_ref(l), Activation::Identity, None)?)
}

impl<T: Real> NativeCde<T> {
    pub(crate) fn from_parts(
        init: &nn::Linear,
        field: &Mlp,
        readout: &nn::Linear,
        hidden: i64,
        channels: i64,
    ) -> Result<Self> {
        Ok(NativeCde {
            init: linear(init)?,
            field: NativeMlp::from_mlp(field)?,
            readout: linear(readout)?,
            hidden: hidden as usize,
            channels: channels as usize,
        })
    }
    /// The initial map.
    pub fn init(&self) -> &NativeMlp<T> {
        &self.init
    }
    /// The field network.
    pub fn field(&self) -> &NativeMlp<T> {
        &self.field
    }
    /// The read-out.
    pub fn readout(&self) -> &NativeMlp<T> {
        &self.readout
    }
}

/// The field `f(z) dX/dt` for one block of rows.
struct BlockField<'a, T> {
    model: &'a NativeCde<T>,
    path: &'a HostPath<T>,
    r0: usize,
    cache: Mutex<Scratch<T>>,
}

/// The field network's activations and the buffers of one evaluation, reused by the next.
#[derive(Debug, Default)]
struct Scratch<T> {
    mlp: MlpCache<T>,
    /// `f(z)`, `[rows, H·C]`.
    f: Vec<T>,
    /// `dX/dt`, `[rows, C]`.
    dx: Vec<T>,
    /// `∂L/∂f`, `[rows, H·C]`.
    fbar: Vec<T>,
    /// `∂L/∂z`, `[rows, H]`.
    gz: Vec<T>,
}

impl<T: Real> BlockField<'_, T> {
    /// `out[r, h] = Σ_c F[r, h·C + c] dX[r, c]`, with `F = f(z)` and `dX` left in `sc` (and the
    /// network's activations in `sc.mlp`).
    fn eval(&self, t: f64, z: &Batch<T>, sc: &mut Scratch<T>) -> Result<Vec<T>> {
        let (rows, hid, c) = (z.rows(), self.model.hidden, self.model.channels);
        if z.cols() != hid {
            return Err(core_tensor::Error::shape("z", format!("[rows, {hid}]"), [rows, z.cols()]).into());
        }
        sc.f.resize(rows * hid * c, T::ZERO);
        self.model.field.forward_into(z.data(), &mut sc.f, &mut sc.mlp)?;
        sc.dx.resize(rows * c, T::ZERO);
        self.path.derivative(t, self.r0, &mut sc.dx);
        let mut out = vec![T::ZERO; rows * hid];
        for ((o, fr), d) in
            out.chunks_exact_mut(hid).zip(sc.f.chunks_exact(hid * c)).zip(sc.dx.chunks_exact(c))
        {
            for (oh, fh) in o.iter_mut().zip(fr.chunks_exact(c)) {
                let mut s = T::ZERO;
                for (a, b) in fh.iter().zip(d) {
                    s += *a * *b;
                }
                *oh = s;
            }
        }
        Ok(out)
    }
}

impl<T: Real> OdeTerm<Batch<T>> for BlockField<'_, T> {
    fn vf(&self, t: f64, z: &Batch<T>) -> Result<Batch<T>> {
        let mut sc = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let out = self.eval(t, z, &mut sc)?;
        Batch::new(out, z.rows(), z.cols())
    }
}

impl<T: Real> VjpField<T> for BlockField<'_, T> {
    fn num_params(&self) -> usize {
        self.model.field.num_params()
    }
    fn vf_vjp(
        &self,
        t: f64,
        z: &Batch<T>,
        g: &[T],
        grad_z: &mut [T],
        grad_params: &mut [T],
    ) -> Result<Batch<T>> {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let sc = &mut *guard;
        let out = self.eval(t, z, sc)?;
        let (c, hid) = (self.model.channels, self.model.hidden);
        // ∂L/∂F[r, h·C + c] = g[r, h] dX[r, c]
        sc.fbar.resize(g.len() * c, T::ZERO);
        for ((fr, gr), d) in
            sc.fbar.chunks_exact_mut(hid * c).zip(g.chunks_exact(hid)).zip(sc.dx.chunks_exact(c))
        {
            for (fh, gh) in fr.chunks_exact_mut(c).zip(gr) {
                for (o, dc) in fh.iter_mut().zip(d) {
                    *o = *gh * *dc;
                }
            }
        }
        sc.gz.resize(z.len(), T::ZERO);
        self.model.field.vjp(&mut sc.mlp, z.data(), &sc.fbar, Some(&mut sc.gz), grad_params)?;
        for (a, b) in grad_z.iter_mut().zip(&sc.gz) {
            *a += *b;
        }
        Batch::new(out, z.rows(), z.cols())
    }
}

/// What [`forward_backward`] returns.
#[derive(Debug, Clone)]
pub struct CdeGradient<T> {
    /// Outputs `[B, outputs]`.
    pub out: Batch<T>,
    /// `∂L/∂ζ`, `∂L/∂f`, `∂L/∂ℓ`, flat (each network's weight then bias).
    pub grad_init: Vec<T>,
    /// See `grad_init`.
    pub grad_field: Vec<T>,
    /// See `grad_init`.
    pub grad_readout: Vec<T>,
    /// Counters of one block's forward solve.
    pub stats: Stats,
}

/// The model's outputs for `path` and their gradient for the cotangent `grad_out = ∂L/∂out`:
/// `z0 = ζ(X(t0))`, `dz = f(z) dX` solved with `solver` over the knots (an adaptive `control`
/// steps onto every knot, as [`NeuralCde::forward_with`](crate::cde::NeuralCde::forward_with)
/// does), `out = ℓ(z(t_N))`, then the exact gradient of that discrete computation. With constant
/// steps, blocks of [`SOLVE_BLOCK_ROWS`] rows are solved independently in parallel.
pub fn forward_backward<T: Real>(
    model: &NativeCde<T>,
    path: &HostPath<T>,
    solver: &ExplicitRk,
    control: &StepControl,
    grad_out: impl FnOnce(&Batch<T>) -> Result<Batch<T>> + Send,
) -> Result<CdeGradient<T>> {
    if path.channels() != model.channels {
        return Err(invalid(
            "path",
            format!("{} channels", path.channels()),
            &format!("model expects {}", model.channels),
        ));
    }
    let ts = path.knots();
    let span = (ts[0], ts[ts.len() - 1]);
    let (control, block) = match control {
        StepControl::Adaptive(p) => {
            (StepControl::Adaptive(PidController { jump_ts: ts.to_vec(), ..p.clone() }), path.rows())
        }
        c => (c.clone(), SOLVE_BLOCK_ROWS),
    };
    let rows = path.rows();
    let starts: Vec<usize> = (0..rows.div_ceil(block).max(1)).map(|b| b * block).collect();
    let hid = model.hidden;
    core_tensor::native::on_pool(|| {
        // forward, per block
        let fields: Vec<BlockField<'_, T>> = starts
            .iter()
            .map(|&r0| BlockField { model, path, r0, cache: Mutex::new(Scratch::default()) })
            .collect();
        let solves = fields
            .par_iter()
            .zip(&starts)
            .map(|(f, &r0)| {
                let n = block.min(rows - r0);
                let x0 = path.initial(r0, n);
                let z0 = Batch::new(model.init.forward(&x0)?, n, hid)?;
                let sol = solve(f, solver, span, &z0, &control, &SaveAt::t1().with_steps())?;
                Ok((x0, z0, sol))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut z1 = Vec::with_capacity(rows * hid);
        for (_, _, sol) in &solves {
            z1.extend_from_slice(
                sol.ys.last().ok_or_else(|| invalid("span", format!("{span:?}"), "no state saved"))?.data(),
            );
        }
        // read-out and its gradient on the whole batch
        let mut ro_cache = MlpCache::default();
        let n_out = model.readout.out_dim();
        let mut out = vec![T::ZERO; rows * n_out];
        model.readout.forward_into(&z1, &mut out, &mut ro_cache)?;
        let out = Batch::new(out, rows, n_out)?;
        let g = grad_out(&out)?;
        if (g.rows(), g.cols()) != (rows, n_out) || !g.is_finite()? {
            return Err(invalid(
                "grad_out(out)",
                format!("{:?}", g.shape()),
                "must be finite and shaped like the outputs",
            ));
        }
        let mut grad_readout = vec![T::ZERO; model.readout.num_params()];
        let mut gz1 = vec![T::ZERO; rows * hid];
        model.readout.vjp(&mut ro_cache, &z1, g.data(), Some(&mut gz1), &mut grad_readout)?;
        // reverse sweeps and the initial map, per block
        let parts = fields
            .par_iter()
            .zip(solves.par_iter())
            .map(|(f, (x0, z0, sol))| {
                let (r0, n) = (f.r0, z0.rows());
                let gy = Batch::new(gz1[r0 * hid..(r0 + n) * hid].to_vec(), n, hid)?;
                let (gz0, gp, _) = reverse_sweep(f, solver, sol, z0, gy)?;
                let mut gi = vec![T::ZERO; model.init.num_params()];
                let mut c = MlpCache::default();
                let mut tmp = vec![T::ZERO; z0.len()];
                model.init.forward_into(x0, &mut tmp, &mut c)?;
                model.init.vjp(&mut c, x0, gz0.data(), None, &mut gi)?;
                Ok((gi, gp))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut grad_init = vec![T::ZERO; model.init.num_params()];
        let mut grad_field = vec![T::ZERO; model.field.num_params()];
        for (gi, gp) in parts {
            grad_init.iter_mut().zip(&gi).for_each(|(a, b)| *a += *b);
            grad_field.iter_mut().zip(&gp).for_each(|(a, b)| *a += *b);
        }
        Ok(CdeGradient { out, grad_init, grad_field, grad_readout, stats: solves[0].2.stats })
    })
}
