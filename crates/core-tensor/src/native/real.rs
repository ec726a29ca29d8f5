//! The two floating-point types of the native path, with their matrix product and `tanh`.

use crate::simd::{self, Kernel, MulAdd, Simd};
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};
use tch::Kind;

/// `f32` or `f64`: arithmetic, conversions, a strided GEMM and a vectorised `tanh`.
pub trait Real:
    Copy
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
    /// The libtorch dtype of the same width.
    const KIND: Kind;
    /// 0.
    const ZERO: Self;
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
    /// `x ← tanh(x)` elementwise, vectorised (within a few units in the last place; NaN stays NaN).
    fn tanh_in_place(xs: &mut [Self]);
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

impl Real for f32 {
    const KIND: Kind = Kind::Float;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
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
        gemm_body!(matrixmultiply::sgemm, m, k, n, alpha, a, b, beta, c)
    }
    fn tanh_in_place(xs: &mut [Self]) {
        simd::dispatch(Simd::detected(), TanhF32(xs))
    }
}

impl Real for f64 {
    const KIND: Kind = Kind::Double;
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
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
        gemm_body!(matrixmultiply::dgemm, m, k, n, alpha, a, b, beta, c)
    }
    fn tanh_in_place(xs: &mut [Self]) {
        // full double precision: the standard library's (the exp-based form below loses relative
        // accuracy near 0, harmless in f32 but not here)
        for x in xs {
            *x = x.tanh();
        }
    }
}

/// `tanh` of `f32` values evaluated in `f64` as `1 − 2 / (e^{2|x|} + 1)` with the vectorisable
/// [`simd::exp`], `|x| − |x|³/3` below 2⁻¹² (where the quotient would cancel), then rounded to
/// `f32`: within 1 ulp of the correctly rounded value.
struct TanhF32<'a>(&'a mut [f32]);

impl Kernel for TanhF32<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        for x in self.0.iter_mut() {
            *x = tanh_via_exp::<F>(*x);
        }
    }
}

#[inline(always)]
fn tanh_via_exp<F: MulAdd>(x: f32) -> f32 {
    let v = x as f64;
    let a = v.abs();
    // comparisons, not `min`, so that NaN stays NaN; tanh(20) = 1 in f64 already
    let clipped = if a > 20.0 { 20.0 } else { a };
    let e = simd::exp::<F>(2.0 * clipped);
    let big = 1.0 - 2.0 / (e + 1.0);
    let small = a - a * a * a * (1.0 / 3.0);
    let t = if a < 1.0 / 4096.0 { small } else { big };
    (t.copysign(v)) as f32
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
    fn f32_tanh_is_within_one_ulp_of_the_double_precision_value() {
        let mut xs: Vec<f32> = (0..=400_000).map(|i| -20.0 + 40.0 * i as f32 / 400_000.0).collect();
        xs.extend((0..=100_000).map(|i| -0.01 + 0.02 * i as f32 / 100_000.0));
        xs.extend([0.0, -0.0, 1e-30, -1e-7, 3e-4, 100.0, -1e30, f32::MAX, f32::INFINITY, f32::NEG_INFINITY]);
        let mut got = xs.clone();
        f32::tanh_in_place(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = (*x as f64).tanh() as f32;
            assert!(ulps32(*g, want) <= 1.0, "tanh({x}) = {g}, want {want}");
        }
        let mut nan = [f32::NAN, 1.0];
        f32::tanh_in_place(&mut nan);
        assert!(nan[0].is_nan() && (nan[1] - 1f32.tanh()).abs() < 1e-7);
        // every instruction set is as accurate
        for s in Simd::available() {
            let mut again = xs.clone();
            simd::dispatch(s, TanhF32(&mut again));
            for (x, g) in xs.iter().zip(&again) {
                assert!(ulps32(*g, (*x as f64).tanh() as f32) <= 1.0, "{s:?}: tanh({x}) = {g}");
            }
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
