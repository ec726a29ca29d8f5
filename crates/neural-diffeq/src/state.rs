//! The state abstraction: one solver implementation serves batched `tch::Tensor`s (autograd, any
//! device) and `nalgebra::DVector<f64>` (plain Rust, no libtorch overhead).

use crate::error::{invalid, Result};
use nalgebra::DVector;
use tch::{Kind, Tensor};

/// What a solver needs from a state: linear combinations, an error norm and finiteness.
pub trait State: Sized {
    /// A copy sharing nothing mutable (`shallow_clone` for tensors, which are immutable here).
    fn dup(&self) -> Self;
    /// `self + Σ c_i x_i`.
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Result<Self>;
    /// `Σ c_i x_i` (at least one term).
    fn combination(terms: &[(f64, &Self)]) -> Result<Self>;
    /// RMS norm `sqrt(mean((err / (atol + rtol · max(|y0|, |y1|)))²))`.
    fn error_norm(err: &Self, y0: &Self, y1: &Self, rtol: f64, atol: f64) -> Result<f64>;
    /// RMS norm `sqrt(mean((x / scale)²))` with `scale = atol + rtol · |y|` (Hairer's initial step).
    fn scaled_rms(x: &Self, y: &Self, rtol: f64, atol: f64) -> Result<f64>;
    /// Whether every component is finite.
    fn is_finite(&self) -> Result<bool>;
    /// Number of components.
    fn len(&self) -> usize;
    /// Whether there are no components.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Shape, for error messages and checks.
    fn shape(&self) -> Vec<i64>;
    /// Checks that `self` (a vector field's output, say) can stand beside the state `like`: the
    /// same shape, and for tensors the same dtype and device.
    fn check_like(&self, name: &str, like: &Self) -> Result<()> {
        if self.shape() != like.shape() {
            return Err(core_tensor::Error::shape(name, like.shape(), self.shape()).into());
        }
        Ok(())
    }
}

impl State for DVector<f64> {
    fn dup(&self) -> Self {
        self.clone()
    }
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Result<Self> {
        let mut out = self.clone();
        for (c, x) in terms {
            if *c != 0.0 {
                out.axpy(*c, *x, 1.0);
            }
        }
        Ok(out)
    }
    fn combination(terms: &[(f64, &Self)]) -> Result<Self> {
        let (c0, x0) = terms.first().ok_or_else(|| invalid("terms", "[]", "need at least one term"))?;
        let mut out = *x0 * *c0;
        for (c, x) in &terms[1..] {
            if *c != 0.0 {
                out.axpy(*c, *x, 1.0);
            }
        }
        Ok(out)
    }
    fn error_norm(err: &Self, y0: &Self, y1: &Self, rtol: f64, atol: f64) -> Result<f64> {
        let n = err.len().max(1) as f64;
        let s: f64 = (0..err.len())
            .map(|i| {
                let sc = atol + rtol * y0[i].abs().max(y1[i].abs());
                (err[i] / sc).powi(2)
            })
            .sum();
        Ok((s / n).sqrt())
    }
    fn scaled_rms(x: &Self, y: &Self, rtol: f64, atol: f64) -> Result<f64> {
        let n = x.len().max(1) as f64;
        Ok(((0..x.len()).map(|i| (x[i] / (atol + rtol * y[i].abs())).powi(2)).sum::<f64>() / n).sqrt())
    }
    fn is_finite(&self) -> Result<bool> {
        Ok(self.iter().all(|v| v.is_finite()))
    }
    fn len(&self) -> usize {
        self.nrows()
    }
    fn shape(&self) -> Vec<i64> {
        vec![self.nrows() as i64]
    }
}

impl State for Tensor {
    fn check_like(&self, name: &str, like: &Self) -> Result<()> {
        if self.size() != like.size() {
            return Err(core_tensor::Error::shape(name, like.size(), self.size()).into());
        }
        Ok(core_tensor::check::check_like(name, self, like)?)
    }
    fn dup(&self) -> Self {
        self.shallow_clone()
    }
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Result<Self> {
        let terms: Vec<(f64, &Tensor)> = terms.iter().filter(|(c, _)| *c != 0.0).copied().collect();
        match terms.len() {
            0 => Ok(self.shallow_clone()),
            1 => Ok(self.f_add(&terms[0].1.f_mul_scalar(terms[0].0)?)?),
            _ => {
                // one fused GEMV instead of 2 ops per term: y + cᵀ K with K = stack(x_i) as [s, N]
                let n = self.numel() as i64;
                let coef: Vec<f64> = terms.iter().map(|(c, _)| *c).collect();
                let c = Tensor::from_slice(&coef).to_kind(self.kind()).to(self.device()).view([1, -1]);
                let k = Tensor::f_stack(&terms.iter().map(|(_, x)| x.view([n])).collect::<Vec<_>>(), 0)?;
                Ok(self.view([1, n]).f_addmm(&c, &k)?.view(self.size().as_slice()))
            }
        }
    }
    fn combination(terms: &[(f64, &Self)]) -> Result<Self> {
        let (c0, x0) = terms.first().ok_or_else(|| invalid("terms", "[]", "need at least one term"))?;
        if terms.len() == 1 {
            return Ok(x0.f_mul_scalar(*c0)?);
        }
        let n = x0.numel() as i64;
        let coef: Vec<f64> = terms.iter().map(|(c, _)| *c).collect();
        let c = Tensor::from_slice(&coef).to_kind(x0.kind()).to(x0.device()).view([1, -1]);
        let k = Tensor::f_stack(&terms.iter().map(|(_, x)| x.view([n])).collect::<Vec<_>>(), 0)?;
        Ok(c.f_matmul(&k)?.view(x0.size().as_slice()))
    }
    fn error_norm(err: &Self, y0: &Self, y1: &Self, rtol: f64, atol: f64) -> Result<f64> {
        tch::no_grad(|| {
            let sc = y0.f_abs()?.f_maximum(&y1.f_abs()?)?.f_mul_scalar(rtol)?.f_add_scalar(atol)?;
            let r = err.f_div(&sc)?.f_square()?.f_mean(Kind::Double)?.f_sqrt()?;
            Ok(r.double_value(&[]))
        })
    }
    fn scaled_rms(x: &Self, y: &Self, rtol: f64, atol: f64) -> Result<f64> {
        tch::no_grad(|| {
            let sc = y.f_abs()?.f_mul_scalar(rtol)?.f_add_scalar(atol)?;
            Ok(x.f_div(&sc)?.f_square()?.f_mean(Kind::Double)?.f_sqrt()?.double_value(&[]))
        })
    }
    fn is_finite(&self) -> Result<bool> {
        tch::no_grad(|| Ok(self.f_isfinite()?.f_all()?.int64_value(&[]) != 0))
    }
    fn len(&self) -> usize {
        self.numel()
    }
    fn shape(&self) -> Vec<i64> {
        self.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn tensor_and_vector_agree() {
        let a = [1.0, -2.0, 3.0];
        let b = [0.5, 0.25, -1.0];
        let (va, vb) = (DVector::from_row_slice(&a), DVector::from_row_slice(&b));
        let (ta, tb) = (Tensor::from_slice(&a), Tensor::from_slice(&b));
        let v = va.lincomb(&[(2.0, &vb), (-1.0, &va)]).unwrap();
        let t = ta.lincomb(&[(2.0, &tb), (-1.0, &ta)]).unwrap();
        for i in 0..3 {
            assert_relative_eq!(v[i], t.double_value(&[i as i64]));
        }
        let nv = DVector::error_norm(&vb, &va, &v, 1e-3, 1e-6).unwrap();
        let nt = Tensor::error_norm(&tb, &ta, &t, 1e-3, 1e-6).unwrap();
        assert_relative_eq!(nv, nt, max_relative = 1e-12);
        assert!(!DVector::from_row_slice(&[f64::NAN]).is_finite().unwrap());
        assert!(!Tensor::from_slice(&[f64::INFINITY]).is_finite().unwrap());
        assert!(DVector::<f64>::combination(&[]).is_err());
    }
}
