//! ETAS log-likelihood for large catalogues: the sum over earlier events truncated, target by
//! target, to a time window, with a proved bound on what is left out.
//!
//! The triggering density decreases in `Δt` (the Omori factor and the taper both do), so the
//! events more than `T` before target `i` add at most `E_i = f(T) · B_i(T)` to its intensity,
//! `f(T) = e^{−T/τ}(T + c)^{−(1+ω)}` and `B_i(T)` a spatial bound from space–time cumulative sums
//! over 16 × 16 cells and 1024 time bins (each cell's kernel at the smallest distance its events
//! can have from the target). The log-likelihood computed without
//! them is below the exact one by at most `Σ_i ln(1 + E_i / λ̃_i)`, `λ̃_i` the truncated intensity.
//! A first pass over a short window gives intensities that bound those of every longer window from
//! below; each target then takes the shortest window of a geometric ladder (ratio 2^¼) whose bound
//! meets its share of the tolerance; the second pass checks the bounds with its own intensities
//! and the shares shrink fourfold until they hold. The compensator is a sum over sources and is
//! never truncated.
//!
//! Per pair the kernel is one exponential of a sum of logarithms, `g = exp(ln K_j − Δt/τ
//! − (1+ω) ln(Δt + c) − (1+ρ) ln(r² + D_j))`, four pairs at a time (`wide`'s `f64x4`), with the
//! distance from unit vectors (`r = 2R asin(|u_i − u_j| / 2)`, the haversine distance); the gradient
//! reuses those logarithms. The exponential taper makes the windows short against long
//! catalogues: with τ = 31.6 days they stay within about 30 τ at a tolerance of 1e-6.

use super::likelihood::{compensator, NPAR};
use super::model::Etas;
use super::truncation_bound::CellBound;
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::Catalogue;
use crate::error::{invalid, Error, Result};
use rayon::prelude::*;
use std::f64::consts::LN_10;
use wide::{f64x4, CmpGe};

/// Targets summed per chunk: the chunks' partial sums are added in index order, so the result
/// does not depend on the number of threads.
const CHUNK: usize = 256;

/// Largest number of window doublings.
const MAX_DOUBLINGS: usize = 64;

/// The truncated log-likelihood, its gradient and what the truncation may have cost.
#[derive(Debug, Clone, PartialEq)]
pub struct TruncatedLikelihood {
    /// Log-likelihood (a lower bound of the exact one, within `bound`).
    pub log_likelihood: f64,
    /// Gradient in [`PARAM_NAMES`](super::model::PARAM_NAMES) order, when asked.
    pub grad: Option<[f64; NPAR]>,
    /// Proved bound on `exact − truncated` (≥ 0).
    pub bound: f64,
    /// Proved bound on the error of each gradient component (0 without a gradient).
    pub grad_bound: f64,
    /// The longest time window `T` (days) used (each target has its own).
    pub window: f64,
    /// Event pairs evaluated.
    pub pairs: u64,
}

struct Prepared {
    t: Vec<f64>,
    /// Unit vectors, one coordinate per array (so four events load as one vector).
    u: [Vec<f64>; 3],
    ln_k: Vec<f64>,
    dm: Vec<f64>,
    d: Vec<f64>,
}

fn prepare(model: &Etas, cat: &Catalogue) -> Prepared {
    let ev = cat.events();
    Prepared {
        t: ev.iter().map(|q| q.time).collect(),
        u: {
            let unit = |q: &crate::data::Quake| {
                let (la, lo) = (q.lat.to_radians(), q.lon.to_radians());
                [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
            };
            [0, 1, 2].map(|k| ev.iter().map(|q| unit(q)[k]).collect())
        },
        ln_k: ev.iter().map(|q| model.productivity(q.mag).ln()).collect(),
        dm: ev.iter().map(|q| q.mag - model.mc).collect(),
        d: ev.iter().map(|q| if model.spatial { model.spatial_scale(q.mag) } else { 0.0 }).collect(),
    }
}

/// `asin(x)` from `x²` (`x` half the chord between two unit vectors): the Taylor series to `x⁹`
/// below `x = 0.05` (about 640 km on the Earth; the first omitted term is below 3e-15 of the
/// value), `asin` beyond.
#[inline]
fn half_chord_arc(x2: f64) -> f64 {
    if x2 < 0.0025 {
        let x = x2.sqrt();
        x * (1.0 + x2 * (1.0 / 6.0 + x2 * (3.0 / 40.0 + x2 * (5.0 / 112.0 + x2 * (35.0 / 1152.0)))))
    } else {
        x2.sqrt().min(1.0).asin()
    }
}

/// One target's truncated intensity, its unnormalised gradient terms, the truncation bound on the
/// intensity and the pairs evaluated.
struct Target {
    lam: f64,
    acc: [f64; NPAR],
    pairs: u64,
}

fn target(model: &Etas, pr: &Prepared, i: usize, window: f64, with_grad: bool) -> Target {
    let p = &model.params;
    let (c, tau, om, rho) = (p.c(), p.tau(), p.omega, p.rho);
    let ti = pr.t[i];
    let start = pr.t[..i].partition_point(|&t| t < ti - window);
    let ui = [pr.u[0][i], pr.u[1][i], pr.u[2][i]];
    // four pairs at a time (wide's exp and ln); lanes past the last source hold a neutral pad
    // (ln K = −∞, so g = 0 and every gradient term is 0)
    let (mut lam4, mut acc4) = (f64x4::ZERO, [f64x4::ZERO; NPAR]);
    let load = |v: &[f64], j: usize, pad: f64| {
        f64x4::from(std::array::from_fn(|k| if j + k < i { v[j + k] } else { pad }))
    };
    let (c4, inv_tau, om1, rho1) =
        (f64x4::splat(c), f64x4::splat(1.0 / tau), f64x4::splat(1.0 + om), f64x4::splat(1.0 + rho));
    let two_r = f64x4::splat(2.0 * EARTH_RADIUS_KM);
    for j in (start..i).step_by(4) {
        let dt = f64x4::splat(ti) - load(&pr.t, j, ti - 1.0);
        let lt = (dt + c4).ln();
        let mut e = load(&pr.ln_k, j, f64::NEG_INFINITY) - dt * inv_tau - om1 * lt;
        let (mut ls, mut r2, d) = (f64x4::ZERO, f64x4::ZERO, load(&pr.d, j, 1.0));
        if model.spatial {
            let dx = f64x4::splat(ui[0]) - load(&pr.u[0], j, ui[0]);
            let dy = f64x4::splat(ui[1]) - load(&pr.u[1], j, ui[1]);
            let dz = f64x4::splat(ui[2]) - load(&pr.u[2], j, ui[2]);
            let x2 = (dx * dx + dy * dy + dz * dz) * f64x4::splat(0.25);
            let arc = if x2.cmp_ge(f64x4::splat(0.0025)).any() {
                f64x4::from(x2.to_array().map(half_chord_arc))
            } else {
                let x = x2.sqrt();
                let poly = f64x4::splat(35.0 / 1152.0);
                let poly = poly.mul_add(x2, f64x4::splat(5.0 / 112.0));
                let poly = poly.mul_add(x2, f64x4::splat(3.0 / 40.0));
                let poly = poly.mul_add(x2, f64x4::splat(1.0 / 6.0));
                let poly = poly.mul_add(x2, f64x4::ONE);
                x * poly
            };
            let r = two_r * arc;
            r2 = r * r;
            ls = (r2 + d).ln();
            e -= rho1 * ls;
        }
        let g = e.exp();
        lam4 += g;
        if with_grad {
            let dm = load(&pr.dm, j, 0.0);
            acc4[1] += g;
            acc4[2] += g * dm;
            acc4[3] += g / (dt + c4);
            acc4[4] -= g * lt;
            acc4[5] += g * dt;
            if model.spatial {
                let q = d / (r2 + d);
                acc4[6] += g * q;
                acc4[7] += g * dm * q;
                acc4[8] -= g * ls;
            }
        }
    }
    let lam = p.mu() + lam4.reduce_add();
    let acc: [f64; NPAR] = std::array::from_fn(|k| acc4[k].reduce_add());
    Target { lam, acc, pairs: (i - start) as u64 }
}

/// Sums over the targets for one window, in fixed-size chunks added in order.
struct Pass {
    ll: f64,
    grad: [f64; NPAR],
    bound: f64,
    /// Largest `|∂_k ln λ̃_i|` of each target (with a gradient).
    largest: Vec<f64>,
    /// `Σ_i (E_i / λ̃_i)(G + max_k |∂_k ln λ̃_i|)`: with `G` bounding every `|∂_k ln g|` of an
    /// omitted pair, a bound on each gradient component's error.
    grad_bound: f64,
    pairs: u64,
    lam: Vec<f64>,
}

/// The gradient factor of the omitted pairs: with `P` the bound of `CellBound::omitted` (the
/// omitted intensity over `f(T)`), the omitted pairs change `∂_k ln λ_i` by at most
/// `(P / λ̃_i)(f(T)(G + |∂_k ln λ̃_i|) + S_k(T))`, with
/// `G` bounding the `|∂_k ln g|` that do not depend on `Δt` (`ln 10`, `max |m − Mc|`, and for the
/// spatial factor `(1+ρ) ln 10`, `(1+ρ) max |m − Mc|` and `|ln(r² + D)|` over all distances up to
/// half the Earth's circumference and all `D` of the catalogue) and
/// `S_k(T) = sup_{s ≥ T} f(s) |∂_k ln g|(s)` for the three that do (`c`: `ln 10 c (1+ω)/(s+c)`,
/// `ω`: `|ln(s+c)|`, `τ`: `ln 10 s/τ`), taken over a geometric grid of ratio 1.02 with each cell's
/// worst corner combination (`f` decreases, the factors are monotone). Returned as
/// `G + max_k S_k(T) / f(T)`, so that the error bound is `(E_i / λ̃_i)(returned + |∂ ln λ̃_i|)`.
fn pair_gradient_bound(model: &Etas, pr: &Prepared, window: f64, span: f64) -> f64 {
    let p = &model.params;
    let (c, tau, om, rho) = (p.c(), p.tau(), p.omega, p.rho);
    let dm_max = pr.dm.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
    let mut g = LN_10.max(dm_max);
    if model.spatial {
        let d_max = pr.d.iter().copied().fold(0.0f64, f64::max);
        let r_max = std::f64::consts::PI * EARTH_RADIUS_KM;
        let ln_d =
            pr.d.iter().fold(0.0f64, |a, &x| a.max(x.ln().abs())).max((r_max * r_max + d_max).ln().abs());
        g = g.max((1.0 + rho) * LN_10).max((1.0 + rho) * dm_max).max(ln_d);
    }
    let f = |s: f64| (-s / tau).exp() * (s + c).powf(-(1.0 + om));
    let f_t = f(window);
    if !(f_t > 0.0) {
        return g;
    }
    let end = span.max(window);
    let mut sup = 0.0f64;
    let mut lo = window;
    // at most log(end / window) / log(1.02) + 1 cells
    while lo < end {
        let hi = (lo * 1.02).min(end).max(lo + f64::EPSILON * lo.abs().max(1.0));
        let fl = f(lo);
        let t3 = LN_10 * c * (1.0 + om).abs() / (lo + c);
        let t4 = (lo + c).ln().abs().max((hi + c).ln().abs());
        let t5 = LN_10 * hi / tau;
        sup = sup.max(fl * t3.max(t4).max(t5));
        lo = hi;
    }
    g + sup / f_t
}

/// One target's window, the bound on what the events before it add to its intensity, and the
/// gradient factor of those events ([`pair_gradient_bound`]).
#[derive(Clone, Copy)]
struct Cut {
    window: f64,
    omitted: f64,
    g_pair: f64,
}

fn pass(model: &Etas, pr: &Prepared, targets: &[usize], cuts: &[Cut], with_grad: bool) -> Result<Pass> {
    let p = &model.params;
    let (mu, c, tau, om) = (p.mu(), p.c(), p.tau(), p.omega);
    let items: Vec<(usize, Cut)> = targets.iter().copied().zip(cuts.iter().copied()).collect();
    let chunks: Vec<Pass> = items
        .par_chunks(CHUNK)
        .map(|idx| {
            let (mut ll, mut grad, mut bound, mut gb, mut pairs) = (0.0, [0.0; NPAR], 0.0, 0.0, 0u64);
            let mut lams = Vec::with_capacity(idx.len());
            let mut largests = Vec::with_capacity(idx.len());
            for &(i, cut) in idx {
                let tg = target(model, pr, i, cut.window, with_grad);
                if !(tg.lam > 0.0 && tg.lam.is_finite()) {
                    return Err(Error::Data(format!("intensity {} at target event {i}", tg.lam)));
                }
                lams.push(tg.lam);
                ll += tg.lam.ln();
                bound += (cut.omitted / tg.lam).ln_1p();
                pairs += tg.pairs;
                let mut largest = 0.0f64;
                if with_grad {
                    let inv = 1.0 / tg.lam;
                    let mut t = [0.0; NPAR];
                    t[0] = LN_10 * mu * inv;
                    t[1] = LN_10 * tg.acc[1] * inv;
                    t[2] = tg.acc[2] * inv;
                    t[3] = -LN_10 * c * (1.0 + om) * tg.acc[3] * inv;
                    t[4] = tg.acc[4] * inv;
                    t[5] = LN_10 / tau * tg.acc[5] * inv;
                    if model.spatial {
                        t[6] = -(1.0 + p.rho) * LN_10 * tg.acc[6] * inv;
                        t[7] = -(1.0 + p.rho) * tg.acc[7] * inv;
                        t[8] = tg.acc[8] * inv;
                    }
                    for k in 0..NPAR {
                        grad[k] += t[k];
                        largest = largest.max(t[k].abs());
                    }
                    gb += cut.omitted / tg.lam * (cut.g_pair + largest);
                }
                largests.push(largest);
            }
            Ok(Pass { ll, grad, bound, largest: largests, grad_bound: gb, pairs, lam: lams })
        })
        .collect::<Result<_>>()?;
    let mut out = Pass {
        ll: 0.0,
        grad: [0.0; NPAR],
        bound: 0.0,
        largest: Vec::with_capacity(targets.len()),
        grad_bound: 0.0,
        pairs: 0,
        lam: Vec::with_capacity(targets.len()),
    };
    for c in chunks {
        out.ll += c.ll;
        out.bound += c.bound;
        out.grad_bound += c.grad_bound;
        out.pairs += c.pairs;
        out.lam.extend(c.lam);
        out.largest.extend(c.largest);
        for k in 0..NPAR {
            out.grad[k] += c.grad[k];
        }
    }
    Ok(out)
}

/// Log-likelihood (and gradient) with the sum over earlier events truncated to a window chosen so
/// that the proved bound on the error is at most `rel_tol · |log L|` (see the module
/// documentation). Same conventions as [`super::log_likelihood_with_grad`].
///
/// # Errors
/// An invalid model or catalogue, `rel_tol` not in `(0, 1)`, or an intensity that is not finite
/// and positive at a target.
pub fn log_likelihood_truncated(
    model: &Etas,
    cat: &Catalogue,
    with_grad: bool,
    rel_tol: f64,
) -> Result<TruncatedLikelihood> {
    if !(rel_tol > 0.0 && rel_tol < 1.0) {
        return Err(invalid("rel_tol", rel_tol, "must lie in (0, 1)"));
    }
    super::likelihood::check(model, cat)?;
    let pr = prepare(model, cat);
    let p = &model.params;
    let (c, tau, om) = (p.c(), p.tau(), p.omega);
    let ev = cat.events();
    let first = cat.first_target();
    let span = pr.t.last().copied().unwrap_or(0.0) - pr.t.first().copied().unwrap_or(0.0);
    // compensator: exact, one term per source
    let (comp_sum, comp_grad) = compensator(model, cat, with_grad);
    let f = |w: f64| (-w / tau).exp() * (w + c).powf(-(1.0 + om));
    let targets: Vec<usize> = (first..ev.len()).collect();
    let n_targets = targets.len().max(1) as f64;
    let cells = CellBound::new(model, ev);
    // pass 1: a short window gives intensities that bound those of every longer window below
    let short = span.min(tau.min(1.0).max(c)).max(f64::MIN_POSITIVE);
    let none = Cut { window: short, omitted: 0.0, g_pair: 0.0 };
    let first_pass = pass(model, &pr, &targets, &vec![none; targets.len()], with_grad)?;
    let ll_lo = first_pass.ll - comp_sum;
    let g_scale = first_pass.grad.iter().zip(&comp_grad).map(|(a, b)| (a - b).abs()).fold(1.0, f64::max);
    // a ladder of windows (ratio 2^¼) up to the span, with f and the gradient factor of each
    let mut ladder = vec![short];
    while *ladder.last().expect("non-empty") < span && ladder.len() < 4 * MAX_DOUBLINGS {
        let w = ladder.last().expect("non-empty") * 2f64.powf(0.25);
        ladder.push(w);
    }
    let f_l: Vec<f64> = ladder.iter().map(|&w| f(w)).collect();
    let g_l: Vec<f64> = ladder
        .iter()
        .map(|&w| if with_grad { pair_gradient_bound(model, &pr, w, span) } else { 0.0 })
        .collect();
    // each target's window: the shortest rung whose bound meets its share of the tolerance
    // (shares shrink fourfold whenever the check after the pass fails)
    let mut share = 0.5;
    for _ in 0..8 {
        let budget_ll = share * rel_tol * ll_lo.abs() / n_targets;
        let budget_g = share * rel_tol * g_scale / n_targets;
        let cuts: Vec<Cut> = targets
            .par_iter()
            .enumerate()
            .map(|(n, &i)| {
                let row = cells.row(ev[i].lon, ev[i].lat);
                let omitted = |k: usize| f_l[k] * cells.omitted(&row, pr.t[i] - ladder[k]);
                let fits = |k: usize| {
                    let x = omitted(k) / first_pass.lam[n];
                    x <= budget_ll && (!with_grad || x * (g_l[k] + first_pass.largest[n]) <= budget_g)
                };
                // the bound falls as the window grows: bisect the ladder
                let (mut lo, mut hi) = (0usize, ladder.len() - 1);
                if !fits(hi) {
                    return Cut { window: f64::INFINITY, omitted: 0.0, g_pair: 0.0 };
                }
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if fits(mid) {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                Cut { window: ladder[lo], omitted: omitted(lo), g_pair: g_l[lo] }
            })
            .collect();
        let ps = pass(model, &pr, &targets, &cuts, with_grad)?;
        let ll = ps.ll - comp_sum;
        let mut grad = ps.grad;
        for k in 0..NPAR {
            grad[k] -= comp_grad[k];
        }
        let g_norm = grad.iter().fold(1.0f64, |a, x| a.max(x.abs()));
        // the log-likelihood is exact − δ with 0 ≤ δ ≤ bound: the tolerance holds against the
        // smaller of the two magnitudes it can have
        let ll_ok = ps.bound <= rel_tol * ll.abs().min((ll + ps.bound).abs());
        let grad_ok = !with_grad || ps.grad_bound <= rel_tol * (g_norm - ps.grad_bound).max(1.0);
        if ll_ok && grad_ok {
            let widest = cuts.iter().map(|c| c.window).fold(0.0, f64::max);
            return Ok(TruncatedLikelihood {
                log_likelihood: ll,
                grad: with_grad.then_some(grad),
                bound: ps.bound,
                grad_bound: if with_grad { ps.grad_bound } else { 0.0 },
                window: widest.min(span),
                pairs: ps.pairs,
            });
        }
        share /= 4.0;
    }
    Err(Error::Data(format!("no windows met rel_tol = {rel_tol} after eight tightenings")))
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
    use crate::data::Region;
    use crate::etas::{log_likelihood_with_grad, presets, simulate};

    #[test]
    fn truncated_sum_is_within_its_bound_and_the_tolerance_of_the_exact_one() {
        for spatial in [true, false] {
            let truth = presets::benchmark_truth(if spatial { -4.0 } else { 0.0 }, spatial).unwrap();
            let region = Region::new(-118.0, -117.0, 34.0, 35.0).unwrap();
            let cat = simulate(&truth, region, 0.0, 100.0, 3000.0, &mut core_tensor::seed::rng(4), 1_000_000)
                .unwrap();
            assert!(cat.len() > 1500, "{} events", cat.len());
            let (exact, g_exact) = log_likelihood_with_grad(&truth, &cat, true).unwrap();
            let g_exact = g_exact.unwrap();
            for tol in [1e-6, 1e-9] {
                let t = log_likelihood_truncated(&truth, &cat, true, tol).unwrap();
                let err = exact - t.log_likelihood;
                assert!(
                    err >= -1e-9 * exact.abs() && err <= t.bound + 1e-9 * exact.abs(),
                    "{spatial} {tol}: {err} vs {}",
                    t.bound
                );
                assert!(err.abs() <= tol * exact.abs() + 1e-9 * exact.abs(), "{spatial} {tol}: {err}");
                assert!(t.window < 3000.0, "window {}", t.window);
                let g = t.grad.unwrap();
                let scale = g_exact.iter().fold(1.0f64, |a, x| a.max(x.abs()));
                for k in 0..NPAR {
                    let e = (g[k] - g_exact[k]).abs();
                    assert!(
                        e <= t.grad_bound + 1e-9 * scale,
                        "{spatial} {tol} grad {k}: {e} above its bound {}",
                        t.grad_bound
                    );
                    assert!(
                        e <= tol * scale + 1e-9 * scale,
                        "{spatial} {tol} grad {k}: {} vs {}",
                        g[k],
                        g_exact[k]
                    );
                }
            }
        }
    }
}
