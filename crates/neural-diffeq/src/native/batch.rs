//! A batch of states `[rows, cols]` in a plain vector, as a solver [`State`].

use crate::error::{invalid, Result};
use crate::state::State;
use core_tensor::native::Real;
use tch::{Device, Tensor};

/// States `[rows, cols]` (row-major) of `f32` or `f64` values: the state of the native path.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
}

impl<T: Real> Batch<T> {
    /// A batch from its row-major values.
    pub fn new(data: Vec<T>, rows: usize, cols: usize) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(core_tensor::Error::shape("data", [rows, cols], [data.len()]).into());
        }
        Ok(Batch { data, rows, cols })
    }
    /// `[rows, cols]` filled with `value` (a cotangent of ones, say).
    pub fn full(rows: usize, cols: usize, value: T) -> Self {
        Batch { data: vec![value; rows * cols], rows, cols }
    }
    /// Zeros `[rows, cols]`.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Batch { data: vec![T::ZERO; rows * cols], rows, cols }
    }
    /// A copy of a 2-D tensor `[rows, cols]` of any floating kind and device, converted to `T`.
    pub fn from_tensor(x: &Tensor) -> Result<Self> {
        let size = x.size();
        if size.len() != 2 || !x.is_floating_point() {
            return Err(invalid(
                "x",
                format!("{size:?} {:?}", x.kind()),
                "expected a floating [rows, cols] tensor",
            ));
        }
        let data = core_tensor::native::host_values(x)?;
        Ok(Batch { data, rows: size[0] as usize, cols: size[1] as usize })
    }
    /// The batch as a tensor of `T`'s kind on `device`.
    pub fn to_tensor(&self, device: Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(&self.data).f_view([self.rows as i64, self.cols as i64])?.f_to(device)?)
    }
    /// Row-major values.
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// Rows (batch size).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns (state width).
    pub fn cols(&self) -> usize {
        self.cols
    }
    fn same_shape(&self, name: &str, other: &Self) -> Result<()> {
        if (self.rows, self.cols) != (other.rows, other.cols) {
            return Err(
                core_tensor::Error::shape(name, [self.rows, self.cols], [other.rows, other.cols]).into()
            );
        }
        Ok(())
    }
}

/// `out += c x`, written so that it vectorises.
#[inline]
fn axpy<T: Real>(out: &mut [T], c: T, x: &[T]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += c * *v;
    }
}

impl<T: Real> State for Batch<T> {
    fn dup(&self) -> Self {
        self.clone()
    }
    fn lincomb(&self, terms: &[(f64, &Self)]) -> Result<Self> {
        let mut out = self.clone();
        for (c, x) in terms {
            out.same_shape("lincomb term", x)?;
            if *c != 0.0 {
                axpy(&mut out.data, T::from_f64(*c), &x.data);
            }
        }
        Ok(out)
    }
    fn combination(terms: &[(f64, &Self)]) -> Result<Self> {
        let (c0, x0) = terms.first().ok_or_else(|| invalid("terms", "[]", "need at least one term"))?;
        let c0 = T::from_f64(*c0);
        let mut out = Batch { data: x0.data.iter().map(|v| c0 * *v).collect(), rows: x0.rows, cols: x0.cols };
        for (c, x) in &terms[1..] {
            out.same_shape("combination term", x)?;
            if *c != 0.0 {
                axpy(&mut out.data, T::from_f64(*c), &x.data);
            }
        }
        Ok(out)
    }
    fn error_norm(err: &Self, y0: &Self, y1: &Self, rtol: f64, atol: f64) -> Result<f64> {
        err.same_shape("y0", y0)?;
        err.same_shape("y1", y1)?;
        let s: f64 = err
            .data
            .iter()
            .zip(&y0.data)
            .zip(&y1.data)
            .map(|((e, a), b)| {
                let sc = atol + rtol * a.to_f64().abs().max(b.to_f64().abs());
                (e.to_f64() / sc).powi(2)
            })
            .sum();
        Ok((s / err.data.len().max(1) as f64).sqrt())
    }
    fn scaled_rms(x: &Self, y: &Self, rtol: f64, atol: f64) -> Result<f64> {
        x.same_shape("y", y)?;
        let s: f64 = x
            .data
            .iter()
            .zip(&y.data)
            .map(|(v, w)| (v.to_f64() / (atol + rtol * w.to_f64().abs())).powi(2))
            .sum();
        Ok((s / x.data.len().max(1) as f64).sqrt())
    }
    fn is_finite(&self) -> Result<bool> {
        Ok(self.data.iter().all(|v| v.finite()))
    }
    fn len(&self) -> usize {
        self.data.len()
    }
    fn shape(&self) -> Vec<i64> {
        vec![self.rows as i64, self.cols as i64]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_norms_and_shape_errors() {
        let a = Batch::new(vec![1.0f64, 2.0, 3.0, 4.0], 2, 2).unwrap();
        let b = Batch::new(vec![0.5f64, -1.0, 0.0, 2.0], 2, 2).unwrap();
        assert_eq!(a.lincomb(&[(2.0, &b)]).unwrap().data(), &[2.0, 0.0, 3.0, 8.0]);
        assert_eq!(Batch::combination(&[(1.0, &a), (-1.0, &b)]).unwrap().data(), &[0.5, 3.0, 3.0, 2.0]);
        let n = Batch::error_norm(&b, &a, &a, 0.0, 1.0).unwrap();
        assert!((n - (5.25f64 / 4.0).sqrt()).abs() < 1e-15);
        let c = Batch::<f64>::zeros(1, 4);
        assert!(a.lincomb(&[(1.0, &c)]).unwrap_err().to_string().contains("lincomb"));
        assert!(Batch::new(vec![1.0f32; 3], 2, 2).is_err());
        assert!(!Batch::new(vec![1.0, f64::NAN], 1, 2).unwrap().is_finite().unwrap());
        let t = a.to_tensor(Device::Cpu).unwrap();
        assert_eq!(Batch::<f64>::from_tensor(&t).unwrap(), a);
        assert!(Batch::<f32>::from_tensor(&Tensor::from_slice(&[1i64, 2])).is_err());
    }
}
