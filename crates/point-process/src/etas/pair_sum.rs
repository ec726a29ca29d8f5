//! The inner sum of the truncated ETAS likelihood: one target's triggering intensity and the
//! sums its gradient needs, over the earlier events of its window.
//!
//! Per pair the kernel is one exponential of a sum of logarithms, `g = exp(ln K_j − Δt/τ
//! − (1+ω) ln(Δt + c) − (1+ρ) ln(r² + D_j))`, with the distance from unit vectors
//! (`r = 2R asin(|u_i − u_j| / 2)`, the haversine distance); the gradient reuses those
//! logarithms. Sources go [`LANES`] at a time through the branch-free `exp` and `ln` of
//! [`crate::simd`], compiled for the processor's widest vector unit.

use super::likelihood::NPAR;
use super::model::Etas;
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::{Catalogue, Quake};
use crate::simd::{dispatch, exp, ln, Kernel, MulAdd, Simd, LANES};

/// The events as the pair loop reads them, one quantity per array.
pub(super) struct Sources {
    pub(super) t: Vec<f64>,
    /// Unit vectors, one coordinate per array.
    pub(super) u: [Vec<f64>; 3],
    pub(super) ln_k: Vec<f64>,
    pub(super) dm: Vec<f64>,
    pub(super) d: Vec<f64>,
}

impl Sources {
    pub(super) fn new(model: &Etas, cat: &Catalogue) -> Self {
        let ev = cat.events();
        let unit = |q: &Quake| {
            let (la, lo) = (q.lat.to_radians(), q.lon.to_radians());
            [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
        };
        Sources {
            t: ev.iter().map(|q| q.time).collect(),
            u: [0, 1, 2].map(|k| ev.iter().map(|q| unit(q)[k]).collect()),
            ln_k: ev.iter().map(|q| model.productivity(q.mag).ln()).collect(),
            dm: ev.iter().map(|q| q.mag - model.mc).collect(),
            d: ev.iter().map(|q| if model.spatial { model.spatial_scale(q.mag) } else { 0.0 }).collect(),
        }
    }
}

/// The kernel's shape parameters.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub(super) c: f64,
    pub(super) tau: f64,
    pub(super) omega: f64,
    pub(super) rho: f64,
    pub(super) spatial: bool,
}

impl Shape {
    pub(super) fn of(model: &Etas) -> Self {
        let p = &model.params;
        Shape { c: p.c(), tau: p.tau(), omega: p.omega, rho: p.rho, spatial: model.spatial }
    }
}

/// One target's sums over its window: `trig = Σ_j g_j` and, with a gradient, `acc[1] = Σ g`,
/// `acc[2] = Σ g (m_j − Mc)`, `acc[3] = Σ g / (Δt + c)`, `acc[4] = −Σ g ln(Δt + c)`,
/// `acc[5] = Σ g Δt`, and for spatial models `acc[6] = Σ g D/(r² + D)`, `acc[7] = Σ g (m_j − Mc)
/// D/(r² + D)`, `acc[8] = −Σ g ln(r² + D)` (`acc[0]` unused).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sums {
    pub(super) trig: f64,
    pub(super) acc: [f64; NPAR],
}

/// `asin(x)` from `x²` (`x` half the chord between two unit vectors): the Taylor series to `x⁹`
/// below `x = 0.05` (about 640 km on the Earth; the first omitted term is below 3e-15 of the
/// value), `asin` beyond.
#[inline(always)]
fn half_chord_arc(x2: f64) -> f64 {
    if x2 < 0.0025 {
        x2.sqrt() * arc_over_x(x2)
    } else {
        x2.sqrt().min(1.0).asin()
    }
}

/// `asin(x) / x` by its series to `x⁸`, from `x²`.
#[inline(always)]
fn arc_over_x(x2: f64) -> f64 {
    1.0 + x2 * (1.0 / 6.0 + x2 * (3.0 / 40.0 + x2 * (5.0 / 112.0 + x2 * (35.0 / 1152.0))))
}

type Lanes = [f64; LANES];

/// Running sums, one per lane.
struct Acc {
    trig: Lanes,
    acc: [Lanes; NPAR],
}

/// One block of `LANES` sources (padded lanes hold `ln K = −∞`, so they add exactly 0).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<F: MulAdd, const S: bool, const G: bool>(
    sh: &Shape,
    ti: f64,
    ui: [f64; 3],
    t: &Lanes,
    u: [&Lanes; 3],
    ln_k: &Lanes,
    dm: &Lanes,
    d: &Lanes,
    out: &mut Acc,
    values: &mut Lanes,
) {
    let (c, inv_tau, om1, rho1) = (sh.c, 1.0 / sh.tau, 1.0 + sh.omega, 1.0 + sh.rho);
    let mut r2 = [0.0; LANES];
    if S {
        let mut x2 = [0.0; LANES];
        let mut far = false;
        for l in 0..LANES {
            let (dx, dy, dz) = (ui[0] - u[0][l], ui[1] - u[1][l], ui[2] - u[2][l]);
            x2[l] = 0.25 * (dx * dx + dy * dy + dz * dz);
            far |= x2[l] >= 0.0025;
        }
        let two_r = 2.0 * EARTH_RADIUS_KM;
        if far {
            for l in 0..LANES {
                let r = two_r * half_chord_arc(x2[l]);
                r2[l] = r * r;
            }
        } else {
            // r² = (2R)² x² (asin(x)/x)², no square root
            for l in 0..LANES {
                let a = arc_over_x(x2[l]);
                r2[l] = (two_r * two_r) * x2[l] * (a * a);
            }
        }
    }
    for l in 0..LANES {
        let dt = ti - t[l];
        let lt = ln::<F>(dt + c);
        let mut e = F::mul_add(-om1, lt, F::mul_add(-dt, inv_tau, ln_k[l]));
        let mut ls = 0.0;
        if S {
            ls = ln::<F>(r2[l] + d[l]);
            e = F::mul_add(-rho1, ls, e);
        }
        let g = exp::<F>(e);
        values[l] = g;
        out.trig[l] += g;
        if G {
            let gdm = g * dm[l];
            out.acc[1][l] += g;
            out.acc[2][l] += gdm;
            out.acc[3][l] += g / (dt + c);
            out.acc[4][l] -= g * lt;
            out.acc[5][l] += g * dt;
            if S {
                let q = d[l] / (r2[l] + d[l]);
                out.acc[6][l] += g * q;
                out.acc[7][l] += gdm * q;
                out.acc[8][l] -= g * ls;
            }
        }
    }
}

/// The sums of target `i` over the sources `start..i`.
#[inline(always)]
fn sums_with<F: MulAdd, const S: bool, const G: bool>(
    src: &Sources,
    sh: &Shape,
    i: usize,
    start: usize,
    mut keep: Option<&mut Vec<f64>>,
) -> Sums {
    let mut values = [0.0; LANES];
    let ti = src.t[i];
    let ui = [src.u[0][i], src.u[1][i], src.u[2][i]];
    let mut out = Acc { trig: [0.0; LANES], acc: [[0.0; LANES]; NPAR] };
    let full = |v: &[f64], j: usize| -> Lanes { v[j..j + LANES].try_into().expect("a full block") };
    let mut j = start;
    while j + LANES <= i {
        let u = [full(&src.u[0], j), full(&src.u[1], j), full(&src.u[2], j)];
        block::<F, S, G>(
            sh,
            ti,
            ui,
            &full(&src.t, j),
            [&u[0], &u[1], &u[2]],
            &full(&src.ln_k, j),
            &full(&src.dm, j),
            &full(&src.d, j),
            &mut out,
            &mut values,
        );
        if let Some(v) = keep.as_deref_mut() {
            v.extend_from_slice(&values);
        }
        j += LANES;
    }
    if j < i {
        let padded = |v: &[f64], pad: f64| -> Lanes {
            std::array::from_fn(|l| if j + l < i { v[j + l] } else { pad })
        };
        let u = [padded(&src.u[0], ui[0]), padded(&src.u[1], ui[1]), padded(&src.u[2], ui[2])];
        block::<F, S, G>(
            sh,
            ti,
            ui,
            &padded(&src.t, ti - 1.0),
            [&u[0], &u[1], &u[2]],
            &padded(&src.ln_k, f64::NEG_INFINITY),
            &padded(&src.dm, 0.0),
            &padded(&src.d, 1.0),
            &mut out,
            &mut values,
        );
        if let Some(v) = keep {
            v.extend_from_slice(&values[..i - j]);
        }
    }
    // lanes added in a fixed order
    let fold = |v: &Lanes| v.iter().sum::<f64>();
    Sums { trig: fold(&out.trig), acc: std::array::from_fn(|k| fold(&out.acc[k])) }
}

struct Target<'a, 'v> {
    src: &'a Sources,
    sh: &'a Shape,
    i: usize,
    start: usize,
    grad: bool,
    keep: Option<&'v mut Vec<f64>>,
}

impl Kernel for Target<'_, '_> {
    type Output = Sums;
    #[inline(always)]
    fn run<F: MulAdd>(self) -> Sums {
        let Target { src, sh, i, start, grad, keep } = self;
        match (sh.spatial, grad) {
            (true, true) => sums_with::<F, true, true>(src, sh, i, start, keep),
            (true, false) => sums_with::<F, true, false>(src, sh, i, start, keep),
            (false, true) => sums_with::<F, false, true>(src, sh, i, start, keep),
            (false, false) => sums_with::<F, false, false>(src, sh, i, start, keep),
        }
    }
}

/// The sums of target `i` over the sources `start..i` (`start ≤ i`), compiled for `simd` when the
/// processor has it (the baseline otherwise).
pub(super) fn pair_sums(simd: Simd, src: &Sources, sh: &Shape, i: usize, start: usize, grad: bool) -> Sums {
    dispatch(simd, Target { src, sh, i, start, grad, keep: None })
}

/// The kernel `g_ij` of each source `j` in `start..i`, appended to `values` in that order, and
/// their sum (as [`Sums::trig`]).
pub(super) fn pair_values(
    simd: Simd,
    src: &Sources,
    sh: &Shape,
    i: usize,
    start: usize,
    values: &mut Vec<f64>,
) -> f64 {
    dispatch(simd, Target { src, sh, i, start, grad: false, keep: Some(values) }).trig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arc_series_matches_asin() {
        for x in [0.0, 1e-6, 1e-3, 0.01, 0.0499, 0.05, 0.2, 0.9, 1.0] {
            let (ours, exact) = (half_chord_arc(x * x), f64::asin(x));
            assert!((ours - exact).abs() <= 4e-15 * exact, "{x}: {ours} vs {exact}");
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_sums() {
        use crate::data::Region;
        use crate::etas::{presets, simulate};
        for spatial in [true, false] {
            let truth = presets::benchmark_truth(if spatial { -5.5 } else { 0.0 }, spatial).unwrap();
            // a wide region, so that some pairs take the asin branch
            let region = Region::new(-120.0, -100.0, 30.0, 40.0).unwrap();
            let cat =
                simulate(&truth, region, 0.0, 0.0, 300.0, &mut core_tensor::seed::rng(5), 100_000).unwrap();
            let src = Sources::new(&truth, &cat);
            let p = &truth.params;
            let sh = Shape { c: p.c(), tau: p.tau(), omega: p.omega, rho: p.rho, spatial };
            for i in [0, 1, 7, 8, 9, cat.len() / 2, cat.len() - 1] {
                let base = pair_sums(Simd::Baseline, &src, &sh, i, 0, true);
                // the plain sum, one pair at a time, with the standard library's exp and ln
                let mut want = 0.0;
                for j in 0..i {
                    let dt = src.t[i] - src.t[j];
                    let mut e = src.ln_k[j] - dt / sh.tau - (1.0 + sh.omega) * (dt + sh.c).ln();
                    if spatial {
                        let x2: f64 = (0..3).map(|k| (src.u[k][i] - src.u[k][j]).powi(2)).sum::<f64>() / 4.0;
                        let r = 2.0 * EARTH_RADIUS_KM * x2.sqrt().asin();
                        e -= (1.0 + sh.rho) * (r * r + src.d[j]).ln();
                    }
                    want += e.exp();
                }
                assert!((base.trig - want).abs() <= 1e-12 * want.max(1e-300), "{i}: {} vs {want}", base.trig);
                assert_eq!(base.trig, pair_sums(Simd::Baseline, &src, &sh, i, 0, false).trig);
                let mut vals = vec![];
                let sum = pair_values(Simd::detected(), &src, &sh, i, 0, &mut vals);
                assert_eq!(vals.len(), i);
                assert!(
                    (vals.iter().sum::<f64>() - want).abs() <= 1e-12 * want.max(1e-300)
                        && (sum - want).abs() <= 1e-12 * want.max(1e-300)
                );
                for simd in Simd::available() {
                    let s = pair_sums(simd, &src, &sh, i, 0, true);
                    assert!((s.trig - base.trig).abs() <= 1e-13 * base.trig.max(1e-300), "{simd:?}");
                    for k in 1..NPAR {
                        let scale = base.acc[k].abs().max(base.trig * 30.0).max(1e-300);
                        assert!((s.acc[k] - base.acc[k]).abs() <= 1e-12 * scale, "{simd:?} {k}");
                    }
                }
            }
        }
    }
}
