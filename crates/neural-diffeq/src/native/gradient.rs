//! Gradients of native solves: the discrete reverse sweep and the continuous adjoint.

use super::batch::Batch;
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt, Solution};
use crate::solver::{ExplicitRk, Stats};
use crate::state::State;
use crate::term::OdeTerm;
use core_tensor::native::Real;

/// A native vector field that differentiates itself: what [`backprop`] and [`adjoint`] need.
pub trait VjpField<T: Real>: OdeTerm<Batch<T>> + Sync {
    /// Number of parameters (length of a flat parameter gradient).
    fn num_params(&self) -> usize;
    /// `f(t, y)`, adding `gᵀ ∂f/∂y` to `grad_y` and `gᵀ ∂f/∂θ` to `grad_params` (one forward
    /// pass at `y` serves both).
    fn vf_vjp(
        &self,
        t: f64,
        y: &Batch<T>,
        g: &[T],
        grad_y: &mut [T],
        grad_params: &mut [T],
    ) -> Result<Batch<T>>;
    /// [`VjpField::vf_vjp`] without the value.
    fn vjp(&self, t: f64, y: &Batch<T>, g: &[T], grad_y: &mut [T], grad_params: &mut [T]) -> Result<()> {
        self.vf_vjp(t, y, g, grad_y, grad_params).map(|_| ())
    }
}

/// What a native gradient computation returns.
#[derive(Debug, Clone)]
pub struct NativeGradient<T> {
    /// `y(t1)`.
    pub y1: Batch<T>,
    /// `∂L/∂y0`.
    pub grad_y0: Batch<T>,
    /// `∂L/∂θ`, flat in the order of [`core_tensor::native::NativeMlp::vjp`].
    pub grad_params: Vec<T>,
    /// Counters of the forward solve.
    pub forward: Stats,
    /// Counters of the backward pass (vector–Jacobian products of the reverse sweep, or the
    /// backward solve of the adjoint).
    pub backward: Stats,
}

fn check_cotangent<T: Real>(g: &Batch<T>, y1: &Batch<T>) -> Result<()> {
    if (g.rows(), g.cols()) != (y1.rows(), y1.cols()) {
        return Err(
            core_tensor::Error::shape("grad_y1(y1)", [y1.rows(), y1.cols()], [g.rows(), g.cols()]).into()
        );
    }
    if !g.is_finite()? {
        return Err(invalid("grad_y1(y1)", "non-finite values", "the cotangent must be finite"));
    }
    Ok(())
}

/// Solves `dy/dt = field(t, y)` over `span` from `y0` with an explicit method and returns the exact
/// gradient of the discrete solve for the cotangent `grad_y1 = ∂L/∂y(t1)`.
///
/// The reverse sweep runs over the accepted steps, last first. For a step
/// `y₁ = y₀ + h Σᵢ bᵢ kᵢ`, `kᵢ = f(t + cᵢh, Yᵢ)`, `Yᵢ = y₀ + h Σ_{j<i} aᵢⱼ kⱼ`: `k̄ᵢ = h bᵢ ȳ₁`
/// plus `h aₗᵢ Ȳₗ` from later stages, `Ȳᵢ = k̄ᵢᵀ ∂f/∂y(Yᵢ)`, `θ̄ += k̄ᵢᵀ ∂f/∂θ(Yᵢ)`,
/// `ȳ₀ = ȳ₁ + Σᵢ Ȳᵢ`. Stage inputs are rebuilt from the kept `kᵢ`; stages with a zero cotangent
/// (FSAL's last) are skipped. Step sizes are constants of the sweep, as in
/// [`Gradient::Backprop`](crate::adjoint::Gradient::Backprop), whose gradient this equals.
pub fn backprop<T: Real, F: VjpField<T>>(
    field: &F,
    solver: &ExplicitRk,
    span: (f64, f64),
    y0: &Batch<T>,
    control: &StepControl,
    grad_y1: impl FnOnce(&Batch<T>) -> Result<Batch<T>> + Send,
) -> Result<NativeGradient<T>> {
    core_tensor::native::on_pool(|| backprop_on_pool(field, solver, span, y0, control, grad_y1))
}

pub(crate) fn backprop_on_pool<T: Real, F: VjpField<T>>(
    field: &F,
    solver: &ExplicitRk,
    span: (f64, f64),
    y0: &Batch<T>,
    control: &StepControl,
    grad_y1: impl FnOnce(&Batch<T>) -> Result<Batch<T>>,
) -> Result<NativeGradient<T>> {
    let sol = solve(field, solver, span, y0, control, &SaveAt::t1().with_steps())?;
    let y1 = sol
        .ys
        .last()
        .ok_or_else(|| invalid("span", format!("{span:?}"), "the solve saved no state"))?
        .clone();
    let gy = grad_y1(&y1)?;
    check_cotangent(&gy, &y1)?;
    let (grad_y0, grad_params, backward) = reverse_sweep(field, solver, &sol, y0, gy)?;
    Ok(NativeGradient { y1, grad_y0, grad_params, forward: sol.stats, backward })
}

/// The reverse sweep of [`backprop`] over a solve kept with its steps
/// (`SaveAt::with_steps`): `(∂L/∂y0, ∂L/∂θ, counters)` for the cotangent `gy = ∂L/∂y(t1)`.
pub(crate) fn reverse_sweep<T: Real, F: VjpField<T>>(
    field: &F,
    solver: &ExplicitRk,
    sol: &Solution<Batch<T>>,
    y0: &Batch<T>,
    mut gy: Batch<T>,
) -> Result<(Batch<T>, Vec<T>, Stats)> {
    let tb = solver.tableau;
    let s = tb.stages();
    let n = y0.len();
    let mut gp = vec![T::ZERO; field.num_params()];
    let mut back = Stats::default();
    for (idx, acc) in sol.steps.iter().enumerate().rev() {
        let y_start = if idx == 0 { y0 } else { &sol.steps[idx - 1].step.y1 };
        let (t, h, ks) = (acc.t, acc.h, &acc.step.ks);
        if ks.len() != s {
            return Err(invalid("solver", tb.name, "a step kept fewer stages than its tableau has"));
        }
        let mut kbar: Vec<Option<Vec<T>>> =
            tb.b.iter()
                .map(|b| (*b != 0.0).then(|| gy.data().iter().map(|v| T::from_f64(h * b) * *v).collect()))
                .collect();
        let mut gy_start = gy.data().to_vec();
        for i in (0..s).rev() {
            let Some(kb) = kbar[i].take() else { continue };
            let terms: Vec<(f64, &Batch<T>)> =
                tb.a[i].iter().zip(ks).filter(|(a, _)| **a != 0.0).map(|(a, k)| (h * a, k)).collect();
            let yi = y_start.lincomb(&terms)?;
            let mut g_yi = vec![T::ZERO; n];
            field.vf_vjp(t + tb.c[i] * h, &yi, &kb, &mut g_yi, &mut gp)?;
            back.nfe += 1;
            for (a, b) in gy_start.iter_mut().zip(&g_yi) {
                *a += *b;
            }
            for (j, a) in tb.a[i].iter().enumerate().take(i) {
                if *a == 0.0 {
                    continue;
                }
                let c = T::from_f64(h * a);
                let slot = kbar[j].get_or_insert_with(|| vec![T::ZERO; n]);
                for (o, v) in slot.iter_mut().zip(&g_yi) {
                    *o += c * *v;
                }
            }
        }
        gy = Batch::new(gy_start, y0.rows(), y0.cols())?;
        back.steps += 1;
        back.accepted += 1;
    }
    Ok((gy, gp, back))
}

/// The augmented system of the continuous adjoint as one flat state `[y, a, g]` (`1 × (2N + P)`):
/// `y' = f(t, y)`, `a' = −aᵀ ∂f/∂y`, `g' = −aᵀ ∂f/∂θ`.
struct Augmented<'a, T, F> {
    field: &'a F,
    _t: std::marker::PhantomData<T>,
    rows: usize,
    cols: usize,
}

impl<T: Real, F: VjpField<T>> OdeTerm<Batch<T>> for Augmented<'_, T, F> {
    fn vf(&self, t: f64, z: &Batch<T>) -> Result<Batch<T>> {
        let n = self.rows * self.cols;
        let (y, rest) = z.data().split_at(n);
        let (a, _) = rest.split_at(n);
        let y = Batch::new(y.to_vec(), self.rows, self.cols)?;
        let mut out = vec![T::ZERO; z.len()];
        let f = {
            let (ga, gp) = out[n..].split_at_mut(n);
            self.field.vf_vjp(t, &y, a, ga, gp)?
        };
        out[..n].copy_from_slice(f.data());
        for v in &mut out[n..] {
            *v = -*v;
        }
        Batch::new(out, 1, z.len())
    }
}

/// The continuous adjoint (Chen et al. 2018) of a native solve: solves forward to `t1`, then
/// `[y, a, g]` backwards from `[y(t1), ∂L/∂y(t1), 0]` to `t0` with the same method and
/// tolerances `(rtol, atol)` measured over the whole augmented state. Returns `a(t0) = ∂L/∂y0`
/// and `g(t0) = ∂L/∂θ`, exact up to the backward solve's error.
#[allow(clippy::too_many_arguments)]
pub fn adjoint<T: Real, F: VjpField<T>>(
    field: &F,
    solver: &ExplicitRk,
    span: (f64, f64),
    y0: &Batch<T>,
    control: &StepControl,
    backward_control: &StepControl,
    grad_y1: impl FnOnce(&Batch<T>) -> Result<Batch<T>> + Send,
) -> Result<NativeGradient<T>> {
    core_tensor::native::on_pool(|| {
        adjoint_on_pool(field, solver, span, y0, control, backward_control, grad_y1)
    })
}

fn adjoint_on_pool<T: Real, F: VjpField<T>>(
    field: &F,
    solver: &ExplicitRk,
    span: (f64, f64),
    y0: &Batch<T>,
    control: &StepControl,
    backward_control: &StepControl,
    grad_y1: impl FnOnce(&Batch<T>) -> Result<Batch<T>>,
) -> Result<NativeGradient<T>> {
    let sol = solve(field, solver, span, y0, control, &SaveAt::t1())?;
    let y1 = sol
        .ys
        .last()
        .ok_or_else(|| invalid("span", format!("{span:?}"), "the solve saved no state"))?
        .clone();
    let gy1 = grad_y1(&y1)?;
    check_cotangent(&gy1, &y1)?;
    let (rows, cols) = (y0.rows(), y0.cols());
    let n = rows * cols;
    let p = field.num_params();
    let mut z = Vec::with_capacity(2 * n + p);
    z.extend_from_slice(y1.data());
    z.extend_from_slice(gy1.data());
    z.resize(2 * n + p, T::ZERO);
    let z1 = Batch::new(z, 1, 2 * n + p)?;
    let aug = Augmented { field, rows, cols, _t: std::marker::PhantomData };
    let back = solve(&aug, solver, (span.1, span.0), &z1, backward_control, &SaveAt::t1())?;
    let z0 = back
        .ys
        .last()
        .ok_or_else(|| invalid("span", format!("{span:?}"), "the backward solve saved no state"))?;
    let grad_y0 = Batch::new(z0.data()[n..2 * n].to_vec(), rows, cols)?;
    let grad_params = z0.data()[2 * n..].to_vec();
    Ok(NativeGradient { y1, grad_y0, grad_params, forward: sol.stats, backward: back.stats })
}
