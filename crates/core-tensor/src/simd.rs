//! Branch-free `exp` and `ln` that the compiler can vectorise, and the choice of instruction set
//! for the loops that use them.
//!
//! Hot pair loops are written over arrays of [`LANES`] values and compiled three times: for the
//! baseline x86-64 target (SSE2, two `f64` per instruction), for AVX2 with FMA (four) and for
//! AVX-512 (eight); [`Simd::detected`] picks the widest the processor has, once. On other
//! architectures only the baseline exists (the compiler still vectorises for the target's own
//! vector unit). The functions below use only arithmetic, comparisons that become selects, and
//! integer operations on the bit patterns, so that each lane loop becomes straight vector code.
//!
//! Accuracy (tested against the standard library over the whole range): [`exp`] within 2 ulp,
//! gradual underflow included; [`ln`] within 2 ulp for normal and subnormal inputs.

use std::sync::OnceLock;

/// Values per lane array (one AVX-512 register of `f64`).
pub const LANES: usize = 8;

/// The instruction sets a lane loop is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    /// The architecture's baseline (SSE2 on x86-64).
    Baseline,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512 (F and DQ) with FMA.
    Avx512,
}

impl Simd {
    /// The widest instruction set this processor supports (detected once), or the narrower one
    /// named by the environment variable `SCIML_SIMD` (`baseline`, `avx2`, `avx512`) to compare
    /// them; a wider or unknown name there is ignored.
    pub fn detected() -> Simd {
        static LEVEL: OnceLock<Simd> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let available = Simd::available();
            let widest = available.last().copied().unwrap_or(Simd::Baseline);
            let asked = match std::env::var("SCIML_SIMD").as_deref() {
                Ok("baseline") => Some(Simd::Baseline),
                Ok("avx2") => Some(Simd::Avx2),
                Ok("avx512") => Some(Simd::Avx512),
                _ => None,
            };
            asked.filter(|s| available.contains(s)).unwrap_or(widest)
        })
    }

    /// Every instruction set this processor supports, narrowest first.
    pub fn available() -> Vec<Simd> {
        #[allow(unused_mut)]
        let mut out = vec![Simd::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                out.push(Simd::Avx2);
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                    out.push(Simd::Avx512);
                }
            }
        }
        out
    }
}

/// A loop written once over lane arrays and compiled for each instruction set by [`dispatch`].
/// Implementations mark [`Kernel::run`] `#[inline(always)]`, so that it is compiled inside the
/// function that enables the instruction set.
pub trait Kernel {
    /// What the loop returns.
    type Output;
    /// The loop, with `F` the multiply–add of the instruction set.
    fn run<F: MulAdd>(self) -> Self::Output;
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2<K: Kernel>(k: K) -> K::Output {
    k.run::<Fused>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
fn run_avx512<K: Kernel>(k: K) -> K::Output {
    k.run::<Fused>()
}

/// Runs `kernel` compiled for `simd` when the processor has it, for the baseline otherwise.
#[allow(unsafe_code)]
pub fn dispatch<K: Kernel>(simd: Simd, kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        let avx512 = avx2 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq");
        if simd == Simd::Avx512 && avx512 {
            // SAFETY: every feature `run_avx512` is compiled for was detected on this processor.
            return unsafe { run_avx512(kernel) };
        }
        if simd != Simd::Baseline && avx2 {
            // SAFETY: every feature `run_avx2` is compiled for was detected on this processor.
            return unsafe { run_avx2(kernel) };
        }
    }
    let _ = simd;
    kernel.run::<Separate>()
}

/// `a · b + c`, fused where the instruction set has it (the baseline rounds twice).
pub trait MulAdd {
    /// `a · b + c`.
    fn mul_add(a: f64, b: f64, c: f64) -> f64;
    /// `a · b + c` in `f32`.
    fn mul_add32(a: f32, b: f32, c: f32) -> f32;
}

/// Two roundings (no FMA instruction on the baseline target; a software FMA would be slow).
pub struct Separate;
/// One rounding (`vfmadd`).
pub struct Fused;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
    #[inline(always)]
    fn mul_add32(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn mul_add32(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// `c[0] x^{N−1} + … + c[N−1]` by Horner's rule.
#[inline(always)]
fn horner<F: MulAdd, const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    let mut p = c[0];
    for &ck in &c[1..] {
        p = F::mul_add(p, x, ck);
    }
    p
}

/// `1.5 · 2^52`: adding it rounds a float below `2^51` in magnitude to an integer, which the low
/// bits of the sum then hold.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// `ln 2` in two parts: the high one has 20 zero trailing bits, so `k · LN2_HI` is exact for
/// `|k| < 2^20` (0.693147180369123816490 and 1.90821492927058770002e-10).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `2^k` for an integer-valued `k` in `[−1022, 1023]`, from its bit pattern.
#[inline(always)]
fn pow2(k: f64) -> f64 {
    let n = (k + SHIFT).to_bits().wrapping_sub(SHIFT.to_bits());
    f64::from_bits(n.wrapping_add(1023) << 52)
}

/// `e^x`: `x = k ln 2 + r` with `|r| ≤ ln 2 / 2` (Cody–Waite, two-part `ln 2`), `e^r` by its
/// Taylor polynomial to `r^13` (first omitted term below `4e-18` of the value), and `2^k` applied
/// in two halves so that results down to the smallest subnormal come out right. `−∞` and
/// arguments below −746 give 0, above 709.79 `+∞`; NaN stays NaN.
#[inline(always)]
pub fn exp<F: MulAdd>(x: f64) -> f64 {
    let xc = if x < -746.0 { -746.0 } else { x };
    let xc = if xc > 709.79 { 709.79 } else { xc };
    let k = (xc * std::f64::consts::LOG2_E + SHIFT) - SHIFT;
    let r = F::mul_add(-k, LN2_LO, F::mul_add(-k, LN2_HI, xc));
    // 1/n! for n = 13 … 2
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let p = horner::<F, 12>(r, &C);
    // e^r = 1 + r + r² p
    let er = F::mul_add(r * r, p, r) + 1.0;
    let ka = (k * 0.5 + SHIFT) - SHIFT;
    let y = er * pow2(ka) * pow2(k - ka);
    let y = if x > 709.79 { f64::INFINITY } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `x = 2^e m` with `m ∈ [√½, √2)` for finite `x > 0` (subnormals scaled by `2^54` first):
/// `(e, m)`, `e` as a float.
#[inline(always)]
fn split(x: f64) -> (f64, f64) {
    const TWO54: f64 = 18_014_398_509_481_984.0;
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny { x * TWO54 } else { x };
    let bits = xs.to_bits();
    // the biased exponent as a float, exactly: 2^52 + E minus 2^52
    let e_biased = f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - 4_503_599_627_370_496.0;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = e_biased - 1023.0 + if big { 1.0 } else { 0.0 } - if tiny { 54.0 } else { 0.0 };
    (e, m)
}

/// `ln(2^e m)` from `e` and `m`: `ln m = 2 atanh f`, `f = (m − 1)/(m + 1)`, by its
/// odd series to `f^23` (`|f| ≤ 0.1716`; first omitted term below `3e-20`), then `e ln 2 + ln m`
/// with a two-part `ln 2`.
#[inline(always)]
fn ln_from<F: MulAdd>(e: f64, m: f64) -> f64 {
    let f = (m - 1.0) / (m + 1.0);
    let s = f * f;
    // 2/(2k+1) for k = 11 … 1
    const C: [f64; 11] = [
        2.0 / 23.0,
        2.0 / 21.0,
        2.0 / 19.0,
        2.0 / 17.0,
        2.0 / 15.0,
        2.0 / 13.0,
        2.0 / 11.0,
        2.0 / 9.0,
        2.0 / 7.0,
        2.0 / 5.0,
        2.0 / 3.0,
    ];
    let p = horner::<F, 11>(s, &C);
    // ln m = 2f + f s p
    let lm = F::mul_add(f * s, p, 2.0 * f);
    F::mul_add(e, LN2_HI, F::mul_add(e, LN2_LO, lm))
}

/// The special values of `ln`: `0` gives `−∞`, `+∞` gives `+∞`, negative values and NaN give NaN.
#[inline(always)]
fn ln_special(x: f64, y: f64) -> f64 {
    if x > 0.0 && x < f64::INFINITY {
        y
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    }
}

/// `ln x`: `x = 2^e m` with `m ∈ [√½, √2)`, `ln m = 2 atanh((m − 1)/(m + 1))` by its odd series,
/// then `e ln 2 + ln m`. `0` gives `−∞`, `+∞` gives `+∞`, negative values and NaN give NaN.
#[inline(always)]
pub fn ln<F: MulAdd>(x: f64) -> f64 {
    let (e, m) = split(x);
    ln_special(x, ln_from::<F>(e, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::SQRT_2;

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let spacing = |x: f64| {
            let x = x.abs().max(f64::from_bits(1));
            f64::from_bits(x.to_bits() + 1) - x
        };
        (a - b).abs() / spacing(b)
    }

    fn sweep(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..=n).map(move |k| lo + (hi - lo) * k as f64 / n as f64)
    }

    #[test]
    fn exp_is_within_two_ulp_over_its_range() {
        for x in sweep(-745.0, 709.7, 400_000).chain(sweep(-1.0, 1.0, 100_000)) {
            let want = x.exp();
            for got in [exp::<Separate>(x), exp::<Fused>(x)] {
                let tol = if want < f64::MIN_POSITIVE { 1.0 } else { 2.0 };
                assert!(ulps(got, want) <= tol, "exp({x}) = {got}, want {want}");
            }
        }
        assert_eq!(exp::<Separate>(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp::<Separate>(-800.0), 0.0);
        assert_eq!(exp::<Fused>(0.0), 1.0);
        assert_eq!(exp::<Separate>(710.0), f64::INFINITY);
        assert!(exp::<Separate>(f64::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_two_ulp_over_its_range() {
        // bit patterns across the whole positive range, subnormals included
        let mut bits = 1u64;
        while bits < f64::MAX.to_bits() {
            let x = f64::from_bits(bits);
            for y in [x, x * 1.000_1, x * SQRT_2 * 0.999_99, x * SQRT_2 * 1.000_01, x * 1.7]
                .into_iter()
                .filter(|y| y.is_finite())
            {
                let want = y.ln();
                for got in [ln::<Separate>(y), ln::<Fused>(y)] {
                    assert!(ulps(got, want) <= 2.0, "ln({y}) = {got}, want {want}");
                }
            }
            bits += 0x0000_7654_3210_fedc;
        }
        for y in sweep(0.5, 2.0, 200_000) {
            let want = y.ln();
            for got in [ln::<Separate>(y), ln::<Fused>(y)] {
                // near 1 the value is tiny: measure against the value's own spacing
                assert!(ulps(got, want) <= 2.0, "ln({y}) = {got}, want {want}");
            }
        }
        assert_eq!(ln::<Separate>(0.0), f64::NEG_INFINITY);
        assert_eq!(ln::<Separate>(1.0), 0.0);
        assert_eq!(ln::<Separate>(f64::INFINITY), f64::INFINITY);
        assert!(ln::<Separate>(-1.0).is_nan() && ln::<Fused>(f64::NAN).is_nan());
    }

    #[test]
    fn the_detected_set_is_among_the_available_ones() {
        assert!(Simd::available().contains(&Simd::detected()));
        assert_eq!(Simd::available()[0], Simd::Baseline);
    }
}
