//! An MLP vector field evaluated natively.

use super::batch::Batch;
use super::gradient::VjpField;
use crate::error::{invalid, Result};
use crate::state::State;
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
}

impl<T: Real> VjpField<T> for MlpField<T> {
    fn num_params(&self) -> usize {
        self.mlp.num_params()
    }
    fn vf_vjp(
        &self,
        t: f64,
        y: &Batch<T>,
        g: &[T],
        grad_y: &mut [T],
        grad_params: &mut [T],
    ) -> Result<Batch<T>> {
        self.check(y)?;
        if g.len() != y.len() || grad_y.len() != y.len() {
            return Err(core_tensor::Error::shape(
                "g, grad_y",
                [y.rows(), y.cols()],
                [g.len(), grad_y.len()],
            )
            .into());
        }
        let x = self.input(t, y);
        let mut cache = self.lock();
        let mut f = vec![T::ZERO; y.len()];
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

impl<T: Real> OdeTerm<Batch<T>> for MlpField<T> {
    fn vf(&self, t: f64, y: &Batch<T>) -> Result<Batch<T>> {
        self.check(y)?;
        let x = self.input(t, y);
        let mut out = vec![T::ZERO; y.len()];
        self.mlp.forward_into(&x, &mut out, &mut self.lock())?;
        Batch::new(out, y.rows(), y.cols())
    }
}
