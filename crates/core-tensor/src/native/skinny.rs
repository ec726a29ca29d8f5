//! Matrix products with one side of width ≤ [`SKINNY`] (a network's input or output layer of a
//! low-dimensional state), where a packed GEMM wastes most of its micro-kernel on padding. Both are
//! compiled for the processor's widest vector set ([`crate::simd::dispatch`]).

use super::real::Real;
use crate::simd::{self, Kernel, MulAdd, Simd};

/// Widths up to this go through the kernels here rather than the packed GEMM.
pub const SKINNY: usize = 4;

const LANES: usize = 16;

/// `out[r, j] = init[j] + Σ_k x[r, k] w[j, k]` for `x [rows, k]`, `w [n, k]`, `out [rows, n]`
/// (`init` absent: 0). Row-wise dot products with [`LANES`] partial sums.
pub fn row_dots<T: Real>(x: &[T], w: &[T], k: usize, init: Option<&[T]>, out: &mut [T]) {
    simd::dispatch(Simd::detected(), RowDots { x, w, k, init, out })
}

/// `out[p, :] += Σ_r a[r, p] b[r, :]` for `a [rows, pn]`, `b [rows, q]`, `out [pn, q]`: a sum of
/// scaled rows (no reduction inside a vector, so it vectorises along `q`).
pub fn outer_accumulate<T: Real>(a: &[T], pn: usize, b: &[T], q: usize, out: &mut [T]) {
    simd::dispatch(Simd::detected(), OuterAccumulate { a, pn, b, q, out })
}

struct RowDots<'a, T> {
    x: &'a [T],
    w: &'a [T],
    k: usize,
    init: Option<&'a [T]>,
    out: &'a mut [T],
}

impl<T: Real> Kernel for RowDots<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let RowDots { x, w, k, init, out } = self;
        if k == 0 {
            return;
        }
        let n = w.len() / k;
        for (xr, orow) in x.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            for (j, o) in orow.iter_mut().enumerate() {
                let wr = &w[j * k..(j + 1) * k];
                let mut acc = [T::ZERO; LANES];
                let (xc, wc) = (xr.chunks_exact(LANES), wr.chunks_exact(LANES));
                let (xt, wt) = (xc.remainder(), wc.remainder());
                for (a, b) in xc.zip(wc) {
                    for i in 0..LANES {
                        acc[i] += a[i] * b[i];
                    }
                }
                let mut s = init.map_or(T::ZERO, |v| v[j]);
                for (a, b) in xt.iter().zip(wt) {
                    s += *a * *b;
                }
                // pairwise sum of the lanes
                let mut width = LANES / 2;
                while width > 0 {
                    for i in 0..width {
                        acc[i] = acc[i] + acc[i + width];
                    }
                    width /= 2;
                }
                *o = s + acc[0];
            }
        }
    }
}

struct OuterAccumulate<'a, T> {
    a: &'a [T],
    pn: usize,
    b: &'a [T],
    q: usize,
    out: &'a mut [T],
}

impl<T: Real> Kernel for OuterAccumulate<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let OuterAccumulate { a, pn, b, q, out } = self;
        if pn == 0 || q == 0 {
            return;
        }
        for (ar, br) in a.chunks_exact(pn).zip(b.chunks_exact(q)) {
            for (p, orow) in out.chunks_exact_mut(q).enumerate() {
                let c = ar[p];
                for (o, v) in orow.iter_mut().zip(br) {
                    *o += c * *v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kernels_match_naive_sums() {
        let (rows, k, n) = (7, 37, 3);
        let x: Vec<f64> = (0..rows * k).map(|i| (i as f64 * 0.7).sin()).collect();
        let w: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.3).cos()).collect();
        let init = [0.5, -1.0, 2.0];
        let mut out = vec![0.0; rows * n];
        row_dots(&x, &w, k, Some(&init), &mut out);
        for r in 0..rows {
            for j in 0..n {
                let want = init[j] + (0..k).map(|l| x[r * k + l] * w[j * k + l]).sum::<f64>();
                assert!((out[r * n + j] - want).abs() < 1e-12);
            }
        }
        let mut acc = vec![1.0; n * k];
        outer_accumulate(&out, n, &x, k, &mut acc);
        for p in 0..n {
            for c in 0..k {
                let want = 1.0 + (0..rows).map(|r| out[r * n + p] * x[r * k + c]).sum::<f64>();
                assert!((acc[p * k + c] - want).abs() < 1e-10);
            }
        }
    }
}
