//! An MLP vector field evaluated natively.

use super::batch::Batch;
use crate::error::{invalid, Result};
use crate::term::OdeTerm;
use core_tensor::native::{MlpCache, NativeMlp, Real};
use core_tensor::nn::Mlp;
use std::sync::Mutex;

/// `dy/dt = MLP([y, t])` (time input optional) on [`Batch`] states `[rows, dim]`.
#[derive(Debug)]
pub struct MlpField<T> {
    mlp: NativeMlp<T>,
    time_input: bool,
    /// Activations of the last evaluation, reused by the next (buffers keep their size).
    cache: Mutex<MlpCache<T>>,
}

impl<T: Real> MlpField<T> {
    /// A field from a native network; with `time_input` the network's last input is `t`.
    pub fn new(mlp: NativeMlp<T>, time_input: bool) -> Result<Self> {
        let state = mlp.in_dim() - time_input as usize;
        if state != mlp.out_dim() || state == 0 {
            return Err(invalid(
                "mlp",
                format!("widths {:?}", mlp.widths()),
                &format!(
                    "a vector field maps the state to itself: need in = out{}",
                    if time_input { " + 1 (time input)" } else { "" }
                ),
            ));
        }
        Ok(MlpField { mlp, time_input, cache: Mutex::new(MlpCache::default()) })
    }
    /// A copy of a libtorch MLP's weights.
    pub fn from_mlp(mlp: &Mlp, time_input: bool) -> Result<Self> {
        MlpField::new(NativeMlp::from_mlp(mlp)?, time_input)
    }
    /// Re-reads the weights of `mlp` (after an optimiser step).
    pub fn load(&mut self, mlp: &Mlp) -> Result<()> {
        Ok(self.mlp.load(mlp)?)
    }
    /// The network.
    pub fn mlp(&self) -> &NativeMlp<T> {
        &self.mlp
    }
    /// State width.
    pub fn dim(&self) -> usize {
        self.mlp.out_dim()
    }
    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.mlp.num_params()
    }

    fn check(&self, y: &Batch<T>) -> Result<()> {
        if y.cols() != self.dim() {
            return Err(core_tensor::Error::shape(
                "y",
                format!("[rows, {}]", self.dim()),
                [y.rows(), y.cols()],
            )
            .into());
        }
        Ok(())
    }

    /// The network's input for state `y` at time `t`: `y`, or `[y, t]`.
    fn input<'a>(&self, t: f64, y: &'a Batch<T>) -> std::borrow::Cow<'a, [T]> {
        if !self.time_input {
            return std::borrow::Cow::Borrowed(y.data());
        }
        let tt = T::from_f64(t);
        let mut x = Vec::with_capacity(y.rows() * (y.cols() + 1));
        for row in y.data().chunks_exact(y.cols()) {
            x.extend_from_slice(row);
            x.push(tt);
        }
        std::borrow::Cow::Owned(x)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MlpCache<T>> {
        // a panic elsewhere cannot leave the buffers in a state that matters: they are overwritten
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Vector–Jacobian product at `(t, y)`: with `g = ∂L/∂f(t, y)`, adds `gᵀ ∂f/∂y` to `grad_y`
    /// and `gᵀ ∂f/∂θ` to `grad_params` (flat, [`MlpField::num_params`]). Recomputes the forward
    /// pass at `y`.
    pub fn vjp(&self, t: f64, y: &Batch<T>, g: &[T], grad_y: &mut [T], grad_params: &mut [T]) -> Result<()> {
        self.vf_vjp(t, y, g, grad_y, grad_params).map(|_| ())
    }

    /// [`MlpField::vjp`] that also returns `f(t, y)`, from the same forward pass.
    pub fn vf_vjp(
        &self,
        t: f64,
        y: &Batch<T>,
        g: &[T],
        grad_y: &mut [T],
        grad_params: &mut [T],
    ) -> Result<Batch<T>> {
        self.check(y)?;
        if g.len() != y.len_values() || grad_y.len() != y.len_values() {
            return Err(core_tensor::Error::shape(
                "g, grad_y",
                [y.rows(), y.cols()],
                [g.len(), grad_y.len()],
            )
            .into());
        }
        let x = self.input(t, y);
        let mut cache = self.lock();
        let mut f = vec![T::ZERO; y.len_values()];
        self.mlp.forward_into(&x, &mut f, &mut cache)?;
        let mut gx = vec![T::ZERO; x.len()];
        self.mlp.vjp(&mut cache, &x, g, Some(&mut gx), grad_params)?;
        let w = self.mlp.in_dim();
        for (gy, gxr) in grad_y.chunks_exact_mut(y.cols()).zip(gx.chunks_exact(w)) {
            for (a, b) in gy.iter_mut().zip(gxr) {
                *a += *b;
            }
        }
        Batch::new(f, y.rows(), y.cols())
    }
}

/// Adds a flat parameter gradient of `native` (a copy of `mlp`) to the `.grad` of `mlp`'s
/// variables, on their device and in their kind.
pub(crate) fn add_flat_grads<T: Real>(mlp: &Mlp, native: &NativeMlp<T>, flat: &[T]) -> Result<()> {
    let device = mlp.layers()[0].ws.device();
    let grads = native.unflatten(flat, device)?;
    let params: Vec<tch::Tensor> = mlp
        .layers()
        .iter()
        .flat_map(|l| {
            std::iter::once(l.ws.shallow_clone()).chain(l.bs.as_ref().map(tch::Tensor::shallow_clone))
        })
        .collect();
    if params.len() != grads.len() || params.iter().zip(&grads).any(|(p, g)| p.size() != g.size()) {
        return Err(invalid("native", "native network", "was not made from this model (different shapes)"));
    }
    crate::adjoint::accumulate(&params, &grads);
    Ok(())
}

impl<T: Real> Batch<T> {
    /// Number of values (`rows · cols`).
    pub(crate) fn len_values(&self) -> usize {
        self.data().len()
    }
}

impl<T: Real> OdeTerm<Batch<T>> for MlpField<T> {
    fn vf(&self, t: f64, y: &Batch<T>) -> Result<Batch<T>> {
        self.check(y)?;
        let x = self.input(t, y);
        let mut out = vec![T::ZERO; y.len_values()];
        self.mlp.forward_into(&x, &mut out, &mut self.lock())?;
        Batch::new(out, y.rows(), y.cols())
    }
}
