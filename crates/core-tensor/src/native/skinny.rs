//! Kernels for the feature-major layout of [`NativeMlp`](super::NativeMlp)'s row blocks
//! (`[width, rows]`: one contiguous run of rows per feature): products where one side has width
//! ≤ [`SKINNY`] (a network's input or output layer over a low-dimensional state, where a packed
//! GEMM wastes most of its micro-kernel on padding), long dot products and row sums, and the
//! transposes in and out of the layout. Compiled for the processor's widest vector set
//! ([`crate::simd::dispatch`]); every inner loop runs along the rows.

use super::real::Real;
use crate::simd::{self, Kernel, MulAdd, Simd};

/// Widths up to this go through [`small_gemm`] rather than the packed GEMM.
pub const SKINNY: usize = 4;

const LANES: usize = 16;

/// `c[i, :] = Σ_j a(i, j) b[j, :]` for `a` an `m × k` matrix with strides `(rsa, csa)`,
/// `b [k, n]` and `c [m, n]` row-major: `m · k` scaled row additions, vectorised along `n`. For
/// products with `m` or `k` small.
pub fn small_gemm<T: Real>(a: (&[T], usize, usize), m: usize, k: usize, b: &[T], c: &mut [T]) {
    simd::dispatch(Simd::detected(), SmallGemm { a, m, k, b, c })
}

/// `out[i, j] = Σ_r x[i, r] w[j, r]` for `x [p, n]`, `w [q, n]`, `out [p, q]`: dot products of
/// rows, with [`LANES`] partial sums (long rows: the final reductions are amortised).
pub fn row_dots<T: Real>(x: &[T], w: &[T], n: usize, out: &mut [T]) {
    simd::dispatch(Simd::detected(), RowDots { x, w, n, out })
}

/// `out[i] += Σ_r x[i, r]` for `x [p, n]`.
pub fn row_sums<T: Real>(x: &[T], n: usize, out: &mut [T]) {
    simd::dispatch(Simd::detected(), RowSums { x, n, out })
}

/// `dst [c, r] = srcᵀ` for `src [r, c]`.
pub fn transpose<T: Real>(src: &[T], r: usize, c: usize, dst: &mut [T]) {
    debug_assert!(src.len() == r * c && dst.len() == r * c);
    for (i, row) in src.chunks_exact(c).enumerate() {
        for (j, v) in row.iter().enumerate() {
            dst[j * r + i] = *v;
        }
    }
}

struct SmallGemm<'a, T> {
    a: (&'a [T], usize, usize),
    m: usize,
    k: usize,
    b: &'a [T],
    c: &'a mut [T],
}

impl<T: Real> Kernel for SmallGemm<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let SmallGemm { a: (a, rsa, csa), m, k, b, c } = self;
        if m == 0 {
            return;
        }
        let n = c.len() / m;
        for (i, crow) in c.chunks_exact_mut(n).enumerate().take(m) {
            crow.fill(T::ZERO);
            for (j, brow) in b.chunks_exact(n).enumerate().take(k) {
                let s = a[i * rsa + j * csa];
                for (o, v) in crow.iter_mut().zip(brow) {
                    *o += s * *v;
                }
            }
        }
    }
}

#[inline(always)]
fn reduce<T: Real>(mut acc: [T; LANES]) -> T {
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}

struct RowDots<'a, T> {
    x: &'a [T],
    w: &'a [T],
    n: usize,
    out: &'a mut [T],
}

impl<T: Real> Kernel for RowDots<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let RowDots { x, w, n, out } = self;
        if n == 0 {
            out.fill(T::ZERO);
            return;
        }
        let q = w.len() / n;
        for (xr, orow) in x.chunks_exact(n).zip(out.chunks_exact_mut(q)) {
            for (wr, o) in w.chunks_exact(n).zip(orow.iter_mut()) {
                let mut acc = [T::ZERO; LANES];
                let (xc, wc) = (xr.chunks_exact(LANES), wr.chunks_exact(LANES));
                let mut tail = T::ZERO;
                for (a, b) in xc.remainder().iter().zip(wc.remainder()) {
                    tail += *a * *b;
                }
                for (a, b) in xc.zip(wc) {
                    for i in 0..LANES {
                        acc[i] += a[i] * b[i];
                    }
                }
                *o = reduce(acc) + tail;
            }
        }
    }
}

struct RowSums<'a, T> {
    x: &'a [T],
    n: usize,
    out: &'a mut [T],
}

impl<T: Real> Kernel for RowSums<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let RowSums { x, n, out } = self;
        if n == 0 {
            return;
        }
        for (xr, o) in x.chunks_exact(n).zip(out.iter_mut()) {
            let mut acc = [T::ZERO; LANES];
            let xc = xr.chunks_exact(LANES);
            let mut tail = T::ZERO;
            for v in xc.remainder() {
                tail += *v;
            }
            for a in xc {
                for i in 0..LANES {
                    acc[i] += a[i];
                }
            }
            *o += reduce(acc) + tail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_sums() {
        let (p, q, n) = (3, 5, 37);
        let x: Vec<f64> = (0..p * n).map(|i| (i as f64 * 0.7).sin()).collect();
        let w: Vec<f64> = (0..q * n).map(|i| (i as f64 * 0.3).cos()).collect();
        let mut out = vec![0.0; p * q];
        row_dots(&x, &w, n, &mut out);
        for i in 0..p {
            for j in 0..q {
                let want: f64 = (0..n).map(|r| x[i * n + r] * w[j * n + r]).sum();
                assert!((out[i * q + j] - want).abs() < 1e-12);
            }
        }
        let mut sums = vec![1.0; p];
        row_sums(&x, n, &mut sums);
        for i in 0..p {
            assert!((sums[i] - 1.0 - (0..n).map(|r| x[i * n + r]).sum::<f64>()).abs() < 1e-12);
        }
        // c = a·x with a [q, p] read transposed from a [p, q] buffer (strides 1, q)
        let a: Vec<f64> = (0..p * q).map(|i| i as f64 - 4.0).collect();
        let mut c = vec![7.0; q * n];
        small_gemm((&a, 1, q), q, p, &x, &mut c);
        for i in 0..q {
            for r in 0..n {
                let want: f64 = (0..p).map(|j| a[j * q + i] * x[j * n + r]).sum();
                assert!((c[i * n + r] - want).abs() < 1e-12);
            }
        }
        let mut t = vec![0.0; p * n];
        transpose(&x, p, n, &mut t);
        assert_eq!(t[5 * p + 2], x[2 * n + 5]);
    }
}
