//! The two floating-point types of the native path, with their matrix product and `tanh`.

use crate::simd::{self, Kernel, MulAdd, Simd};
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// `f32` or `f64`: arithmetic, conversions, a strided GEMM and a vectorised `tanh` (the dtype,
/// `ZERO` and `ONE` come from [`tch::kind::Element`]).
pub trait Real:
    tch::kind::Element
    + Copy
    + Send
    + Sync
    + Default
    + Debug
    + PartialOrd
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// 1.
    const ONE: Self;
    /// Conversion from `f64` (rounding to nearest for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Whether the value is neither infinite nor NaN.
    fn finite(self) -> bool;
    /// `C ← α A B + β C` for an `m × k` matrix `A` and a `k × n` matrix `B`, each element `(i, j)`
    /// of a matrix `X` at `X[i·rsx + j·csx]`. Panics if a matrix does not fit its slice (the
    /// callers in this crate size them; this is not an input check).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (&[Self], usize, usize),
        b: (&[Self], usize, usize),
        beta: Self,
        c: (&mut [Self], usize, usize),
    );
    /// `x ← tanh(x)` elementwise, vectorised (within 3 units in the last place; NaN stays NaN).
    fn tanh_in_place(xs: &mut [Self]);
    /// `x[j, r] ← tanh(x[j, r] + bias[j])` for `x [bias.len(), n]` (one pass; feature-major rows).
    fn bias_tanh_in_place(xs: &mut [Self], bias: &[Self], n: usize);
}

/// Panics unless an `r × c` matrix with strides `(rs, cs)` lies inside a slice of length `len`.
fn check_fits(what: &str, r: usize, c: usize, rs: usize, cs: usize, len: usize) {
    if r == 0 || c == 0 {
        return;
    }
    let last = (r - 1) * rs + (c - 1) * cs;
    assert!(last < len, "native gemm: {what} ({r} × {c}, strides {rs}, {cs}) does not fit {len} elements");
}

macro_rules! gemm_body {
    ($f:path, $m:ident, $k:ident, $n:ident, $alpha:ident, $a:ident, $b:ident, $beta:ident, $c:ident) => {{
        check_fits("A", $m, $k, $a.1, $a.2, $a.0.len());
        check_fits("B", $k, $n, $b.1, $b.2, $b.0.len());
        check_fits("C", $m, $n, $c.1, $c.2, $c.0.len());
        if $m == 0 || $n == 0 {
            return;
        }
        // SAFETY: the three matrices lie inside their slices (checked above), `c` is borrowed
        // mutably so it aliases neither `a` nor `b`, and the strides fit `isize` because the
        // slices' lengths do.
        #[allow(unsafe_code)]
        unsafe {
            $f(
                $m,
                $k,
                $n,
                $alpha,
                $a.0.as_ptr(),
                $a.1 as isize,
                $a.2 as isize,
                $b.0.as_ptr(),
                $b.1 as isize,
                $b.2 as isize,
                $beta,
                $c.0.as_mut_ptr(),
                $c.1 as isize,
                $c.2 as isize,
            )
        }
    }};
}

/// The methods `f32` and `f64` implement alike: conversions, finiteness and the GEMM of `$gemm`.
macro_rules! real_common {
    ($gemm:path) => {
        const ONE: Self = 1.0;
        #[inline(always)]
        fn from_f64(x: f64) -> Self {
            x as Self
        }
        #[inline(always)]
        fn to_f64(self) -> f64 {
            self as f64
        }
        #[inline(always)]
        fn finite(self) -> bool {
            self.is_finite()
        }
        fn gemm(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: (&[Self], usize, usize),
            b: (&[Self], usize, usize),
            beta: Self,
            c: (&mut [Self], usize, usize),
        ) {
            gemm_body!($gemm, m, k, n, alpha, a, b, beta, c)
        }
    };
}

impl Real for f32 {
    real_common!(matrixmultiply::sgemm);
    fn tanh_in_place(xs: &mut [Self]) {
        simd::dispatch(Simd::detected(), TanhF32 { xs, bias: &[], n: 0 })
    }
    fn bias_tanh_in_place(xs: &mut [Self], bias: &[Self], n: usize) {
        simd::dispatch(Simd::detected(), TanhF32 { xs, bias, n })
    }
}

impl Real for f64 {
    real_common!(matrixmultiply::dgemm);
    fn tanh_in_place(xs: &mut [Self]) {
        // the standard library's, to full double precision (the f32 kernel's polynomials are
        // accurate to f32 only)
        for x in xs {
            *x = x.tanh();
        }
    }
    fn bias_tanh_in_place(xs: &mut [Self], bias: &[Self], n: usize) {
        for (row, b) in xs.chunks_exact_mut(n.max(1)).zip(bias) {
            for x in row {
                *x = (*x + b).tanh();
            }
        }
    }
}

/// `tanh` of `f32` values in `f32` arithmetic, branch-free so that it vectorises (16 lanes with
/// AVX-512): `tanh a = m / (m + 2)` with `m = e^{2a} − 1` for `a = |x|` (clipped at 10, where
/// `tanh` rounds to 1). With `2a = n ln 2 + r`, `|r| ≤ ln 2 / 2`, `m = 2ⁿ · r q(r) + (2ⁿ − 1)`
/// where `r q(r) = e^r − 1` (Taylor, degree 7): no cancellation near 0, so the relative error stays
/// within 3 ulp of the correctly rounded value (tested) down to the smallest inputs. NaN stays NaN.
/// With a `bias` (one per run of `n` values), `tanh(x + bias)`.
struct TanhF32<'a> {
    xs: &'a mut [f32],
    bias: &'a [f32],
    n: usize,
}

impl Kernel for TanhF32<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        if self.bias.is_empty() {
            for x in self.xs.iter_mut() {
                *x = tanh_f32::<F>(*x);
            }
            return;
        }
        for (row, b) in self.xs.chunks_exact_mut(self.n.max(1)).zip(self.bias) {
            for x in row.iter_mut() {
                *x = tanh_f32::<F>(*x + *b);
            }
        }
    }
}

#[inline(always)]
fn tanh_f32<F: MulAdd>(x: f32) -> f32 {
    let a = x.abs();
    // comparisons, not `min`, so that NaN stays NaN
    let c = if a > 10.0 { 10.0 } else { a };
    let y = 2.0 * c;
    // round y / ln 2 to nearest by adding 1.5·2²³ (no float-to-int conversion, which would not
    // vectorise): the low mantissa bits of `shifted` then hold n ∈ [0, 29]
    const SHIFT: f32 = 12_582_912.0;
    let shifted = F::mul_add32(y, std::f32::consts::LOG2_E, SHIFT);
    let n = shifted.to_bits().wrapping_sub(SHIFT.to_bits());
    let nf = shifted - SHIFT;
    // ln 2 in two parts; the first has 15 significant bits, so n · part is exact
    let r = F::mul_add32(-nf, 1.428_606_8e-6, F::mul_add32(-nf, 0.693_145_75, y));
    // q(r) = (e^r − 1) / r = Σ r^k / (k + 1)!
    let mut q = 1.0 / 40_320.0;
    for k in [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0] {
        q = F::mul_add32(q, r, k);
    }
    let scale = f32::from_bits(n.wrapping_add(127) << 23);
    let m = F::mul_add32(scale * r, q, scale - 1.0);
    let t = m / (m + 2.0);
    t.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps32(a: f32, b: f32) -> f32 {
        if a == b {
            return 0.0;
        }
        let spacing = |x: f32| {
            let x = x.abs().max(f32::from_bits(1));
            f32::from_bits(x.to_bits() + 1) - x
        };
        (a - b).abs() / spacing(b)
    }

    #[test]
    fn f32_tanh_is_within_three_ulp_of_the_correctly_rounded_value() {
        let mut xs: Vec<f32> = (0..=400_000).map(|i| -20.0 + 40.0 * i as f32 / 400_000.0).collect();
        xs.extend((0..=100_000).map(|i| -0.01 + 0.02 * i as f32 / 100_000.0));
        xs.extend([0.0, -0.0, 1e-30, -1e-7, 3e-4, 100.0, -1e30, f32::MAX, f32::INFINITY, f32::NEG_INFINITY]);
        let mut got = xs.clone();
        f32::tanh_in_place(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = (*x as f64).tanh() as f32;
            assert!(ulps32(*g, want) <= 3.0, "tanh({x}) = {g}, want {want}");
        }
        let mut nan = [f32::NAN, 1.0];
        f32::tanh_in_place(&mut nan);
        assert!(nan[0].is_nan() && (nan[1] - 1f32.tanh()).abs() < 1e-7);
        // every instruction set is as accurate
        for s in Simd::available() {
            let mut again = xs.clone();
            simd::dispatch(s, TanhF32 { xs: &mut again, bias: &[], n: 0 });
            for (x, g) in xs.iter().zip(&again) {
                assert!(ulps32(*g, (*x as f64).tanh() as f32) <= 3.0, "{s:?}: tanh({x}) = {g}");
            }
        }
    }

    #[test]
    fn bias_tanh_adds_one_bias_per_run() {
        let x: Vec<f32> = (0..12).map(|i| i as f32 * 0.3 - 2.0).collect();
        let bias = [0.5f32, -1.0, 0.25];
        let mut got = x.clone();
        f32::bias_tanh_in_place(&mut got, &bias, 4);
        let mut got64: Vec<f64> = x.iter().map(|v| *v as f64).collect();
        f64::bias_tanh_in_place(&mut got64, &[0.5, -1.0, 0.25], 4);
        for i in 0..12 {
            let want = ((x[i] + bias[i / 4]) as f64).tanh();
            assert!((got[i] as f64 - want).abs() < 1e-6 && (got64[i] - want).abs() < 1e-6);
        }
    }

    #[test]
    fn gemm_matches_a_naive_product_with_strides() {
        let (m, k, n) = (5, 3, 4);
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 2.0).collect(); // row-major
        let b: Vec<f64> = (0..n * k).map(|i| 1.0 - i as f64 * 0.25).collect(); // [n, k]: Bᵀ stored
        let mut c = vec![1.0; m * n];
        f64::gemm(m, k, n, 2.0, (&a, k, 1), (&b, 1, k), 0.5, (&mut c, n, 1));
        for i in 0..m {
            for j in 0..n {
                let want: f64 = 0.5 + 2.0 * (0..k).map(|l| a[i * k + l] * b[j * k + l]).sum::<f64>();
                assert!((c[i * n + j] - want).abs() < 1e-12);
            }
        }
    }
}
