//! ETAS log-likelihood for large catalogues: the sum over earlier events truncated, target by
//! target, to a time window, with a proved bound on what is left out.
//!
//! The triggering density decreases with the age `Δt` (the Omori factor and the taper both do),
//! so the events more than `T` before target `i` add at most `E_i = Σ_k f(σ_k) W_k` to its
//! intensity, `f(s) = e^{−s/τ}(s + c)^{−(1+ω)}`, where `CellBound::blocks` splits those events
//! into blocks by age (`T`, `T + τ`, `T + 2τ`, `T + 4τ`, …; `σ_k` the youngest age a block's
//! events can have) and bounds each block's spatial sum `W_k` from space–time cumulative sums over
//! 16 × 16 cells and 1024 time bins (each cell's kernel at the smallest distance its events can
//! have from the target). The log-likelihood computed without them is below the exact one by at
//! most `Σ_i ln(1 + E_i / λ̃_i)`, `λ̃_i` the truncated intensity. A first pass over a short window
//! gives intensities that bound those of every longer window from below; each target then takes
//! the shortest window of a geometric ladder (ratio 2^(1/16)) whose bound meets its share of the
//! tolerance (a galloping search from the previous target's rung); the second pass checks the
//! bounds with its own intensities and the shares shrink fourfold until they hold. The
//! compensator is a sum over sources and is never truncated.
//!
//! The gradient's tolerance is relative to the size of its terms,
//! `max_k Σ_i |∂_k ln λ̃_i| + |∂_k Λ|` (the gradient is a difference of such sums and vanishes at
//! the maximum, so it is no scale itself). The pairs inside the windows are summed by
//! `etas::pair_sum`. The exponential taper makes the windows short against long catalogues:
//! with τ = 31.6 days they stay within about 25 τ at a tolerance of 1e-6.

use super::likelihood::{compensator, NPAR};
use super::model::Etas;
use super::pair_sum::{pair_sums, Shape, Sources};
use super::truncation_bound::CellBound;
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::Catalogue;
use crate::error::{invalid, Error, Result};
use crate::simd::{exp, ln, Separate, Simd};
use rayon::prelude::*;
use std::f64::consts::LN_10;

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
    /// The magnitude the gradient's tolerance is relative to: the largest over components of
    /// `Σ_i |∂_k ln λ̃_i| + |∂_k Λ|`, the size of the terms whose difference is the gradient (it is
    /// near zero at the maximum, so not a scale itself); 0 without a gradient.
    pub grad_scale: f64,
    /// The longest time window `T` (days) used (each target has its own).
    pub window: f64,
    /// Event pairs evaluated.
    pub pairs: u64,
}

/// One target's truncated intensity, its unnormalised gradient terms and the pairs evaluated.
struct Target {
    lam: f64,
    acc: [f64; NPAR],
    pairs: u64,
}

fn target(model: &Etas, pr: &Sources, simd: Simd, i: usize, window: f64, with_grad: bool) -> Target {
    let p = &model.params;
    let ti = pr.t[i];
    let start = pr.t[..i].partition_point(|&t| t < ti - window);
    let sh = Shape { c: p.c(), tau: p.tau(), omega: p.omega, rho: p.rho, spatial: model.spatial };
    let s = pair_sums(simd, pr, &sh, i, start, with_grad);
    Target { lam: p.mu() + s.trig, acc: s.acc, pairs: (i - start) as u64 }
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
    /// `Σ_i |∂_k ln λ̃_i|` per component.
    abs_grad: [f64; NPAR],
    pairs: u64,
    lam: Vec<f64>,
}

impl Pass {
    /// `max_k Σ_i |∂_k ln λ̃_i| + |∂_k Λ|` for the compensator gradient `comp`.
    fn grad_scale(&self, comp: &[f64; NPAR]) -> f64 {
        self.abs_grad.iter().zip(comp).map(|(a, b)| a + b.abs()).fold(0.0, f64::max)
    }
}

/// `G`, a bound of the `|∂_k ln g|` of a pair that do not depend on `Δt`: `ln 10`,
/// `max |m − Mc|`, and for the spatial factor `(1+ρ) ln 10`, `(1+ρ) max |m − Mc|` and
/// `|ln(r² + D)|` over all distances up to half the Earth's circumference and all `D` of the
/// catalogue.
fn gradient_constant(model: &Etas, pr: &Sources) -> f64 {
    let rho = model.params.rho;
    let dm_max = pr.dm.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
    let mut g = LN_10.max(dm_max);
    if model.spatial {
        let d_max = pr.d.iter().copied().fold(0.0f64, f64::max);
        let r_max = std::f64::consts::PI * EARTH_RADIUS_KM;
        let ln_d =
            pr.d.iter().fold(0.0f64, |a, &x| a.max(x.ln().abs())).max((r_max * r_max + d_max).ln().abs());
        g = g.max((1.0 + rho) * LN_10).max((1.0 + rho) * dm_max).max(ln_d);
    }
    g
}

/// `U(σ) = sup_{s ≥ σ} f(s) h(s)`, `h` the largest `|∂_k ln g|` of the three that depend on the
/// age `s` (`c`: `ln 10 c (1+ω)/(s+c)`, `ω`: `|ln(s+c)|`, `τ`: `ln 10 s/τ`), over ages up to
/// `span`; taken over a geometric grid of ratio 1.02 with each cell's worst corner combination
/// (`f` decreases, the factors are monotone). With it, the pairs left out of a target's sum change
/// `∂_k ln λ_i` by at most `Σ_k W_k (f(σ_k) (G + |∂_k ln λ̃_i|) + U(σ_k)) / λ̃_i` (the blocks of
/// `CellBound::blocks`, `G` from [`gradient_constant`]).
fn age_gradient_sup(model: &Etas, from: f64, span: f64) -> f64 {
    let p = &model.params;
    let (c, tau, om) = (p.c(), p.tau(), p.omega);
    let f = |s: f64| (-s / tau).exp() * (s + c).powf(-(1.0 + om));
    let mut sup = 0.0f64;
    let mut lo = from;
    // at most log(span / from) / log(1.02) + 1 cells
    while lo < span {
        let hi = (lo * 1.02).min(span).max(lo + f64::EPSILON * lo.abs().max(1.0));
        let t3 = LN_10 * c * (1.0 + om).abs() / (lo + c);
        let t4 = (lo + c).ln().abs().max((hi + c).ln().abs());
        let t5 = LN_10 * hi / tau;
        sup = sup.max(f(lo) * t3.max(t4).max(t5));
        lo = hi;
    }
    sup
}

/// The smallest `k < n` for which `fits(k)` is `Some`, with its value, assuming that it fits from
/// some `k` on (the bounds fall as the window grows; where they do not quite, any fitting `k` is
/// still valid): gallops from `guess` by doubling steps, then bisects; `None` when `n − 1` does
/// not fit. At most about `4 log2 n` calls.
fn shortest_fitting<T>(n: usize, guess: usize, fits: impl Fn(usize) -> Option<T>) -> Option<(usize, T)> {
    let last = n.checked_sub(1)?;
    let guess = guess.min(last);
    // (lo, hi]: hi fits (with its value), lo − 1 does not (or lo = 0)
    let (mut lo, mut hi, mut val);
    match fits(guess) {
        Some(v) => {
            let (mut step, mut h, mut hv) = (1usize, guess, v);
            loop {
                if h == 0 {
                    return Some((0, hv));
                }
                let probe = h.saturating_sub(step);
                match fits(probe) {
                    Some(v) => {
                        h = probe;
                        hv = v;
                        step *= 2;
                    }
                    None => {
                        lo = probe + 1;
                        break;
                    }
                }
            }
            hi = h;
            val = hv;
        }
        None => {
            let (mut step, mut l) = (1usize, guess);
            loop {
                if l == last {
                    return None;
                }
                let probe = (l + step).min(last);
                match fits(probe) {
                    Some(v) => {
                        hi = probe;
                        val = v;
                        lo = l + 1;
                        break;
                    }
                    None => {
                        l = probe;
                        step *= 2;
                    }
                }
            }
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match fits(mid) {
            Some(v) => {
                hi = mid;
                val = v;
            }
            None => lo = mid + 1,
        }
    }
    Some((hi, val))
}

/// One target's window and the bounds on what the events before it add to its intensity
/// (`omitted`) and, but for the `|∂ ln λ̃_i|` factor, to its gradient terms (`omitted_grad`).
#[derive(Clone, Copy)]
struct Cut {
    window: f64,
    omitted: f64,
    omitted_grad: f64,
}

fn pass(model: &Etas, pr: &Sources, targets: &[usize], cuts: &[Cut], with_grad: bool) -> Result<Pass> {
    let p = &model.params;
    let (mu, c, tau, om) = (p.mu(), p.c(), p.tau(), p.omega);
    let simd = Simd::detected();
    let items: Vec<(usize, Cut)> = targets.iter().copied().zip(cuts.iter().copied()).collect();
    let chunks: Vec<Pass> = items
        .par_chunks(CHUNK)
        .map(|idx| {
            let (mut ll, mut grad, mut bound, mut gb, mut pairs) = (0.0, [0.0; NPAR], 0.0, 0.0, 0u64);
            let mut abs_grad = [0.0; NPAR];
            let mut lams = Vec::with_capacity(idx.len());
            let mut largests = Vec::with_capacity(idx.len());
            for &(i, cut) in idx {
                let tg = target(model, pr, simd, i, cut.window, with_grad);
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
                        abs_grad[k] += t[k].abs();
                        largest = largest.max(t[k].abs());
                    }
                    gb += (cut.omitted_grad + cut.omitted * largest) / tg.lam;
                }
                largests.push(largest);
            }
            Ok(Pass { ll, grad, bound, largest: largests, grad_bound: gb, abs_grad, pairs, lam: lams })
        })
        .collect::<Result<_>>()?;
    let mut out = Pass {
        ll: 0.0,
        grad: [0.0; NPAR],
        bound: 0.0,
        largest: Vec::with_capacity(targets.len()),
        grad_bound: 0.0,
        abs_grad: [0.0; NPAR],
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
            out.abs_grad[k] += c.abs_grad[k];
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
    let pr = Sources::new(model, cat);
    let p = &model.params;
    let (c, tau, om) = (p.c(), p.tau(), p.omega);
    let ev = cat.events();
    let first = cat.first_target();
    let span = pr.t.last().copied().unwrap_or(0.0) - pr.t.first().copied().unwrap_or(0.0);
    // compensator: exact, one term per source
    let (comp_sum, comp_grad) = compensator(model, cat, with_grad);
    // f(age), by the branch-free exp and ln (within a few ulp), rounded up by a relative 1e-12
    let f = |w: f64| exp::<Separate>(-w / tau - (1.0 + om) * ln::<Separate>(w + c)) * (1.0 + 1e-12);
    let targets: Vec<usize> = (first..ev.len()).collect();
    let n_targets = targets.len().max(1) as f64;
    let cells = CellBound::new(model, ev);
    // pass 1: a short window gives intensities that bound those of every longer window below
    let short = span.min(tau.min(1.0).max(c)).max(f64::MIN_POSITIVE);
    let none = Cut { window: short, omitted: 0.0, omitted_grad: 0.0 };
    let first_pass = pass(model, &pr, &targets, &vec![none; targets.len()], with_grad)?;
    let ll_lo = first_pass.ll - comp_sum;
    // the gradient's tolerance is relative to the size of its terms; the first pass's are close
    // to the final ones (a longer window only adds triggering terms)
    let g_scale = first_pass.grad_scale(&comp_grad);
    // a ladder of windows (ratio 2^(1/16)) up to the span, with f and the gradient factor of each
    let mut ladder = vec![short];
    while *ladder.last().expect("non-empty") < span && ladder.len() < 16 * MAX_DOUBLINGS {
        let w = ladder.last().expect("non-empty") * 2f64.powf(1.0 / 16.0);
        ladder.push(w);
    }
    // U(σ) at each rung; for an age between rungs the rung below bounds it (U falls)
    let u_l: Vec<f64> =
        ladder.iter().map(|&w| if with_grad { age_gradient_sup(model, w, span) } else { 0.0 }).collect();
    let g_const = if with_grad { gradient_constant(model, &pr) } else { 0.0 };
    let u_at = |age: f64| u_l[ladder.partition_point(|&w| w <= age).max(1) - 1];
    // each target's window: the shortest rung whose bound meets its share of the tolerance
    // (shares shrink fourfold whenever the check after the pass fails); the first pass's
    // intensities bound the final ones from below, so the shares hold at the first try unless a
    // target's largest gradient term grows with its window
    let mut share = 1.0;
    for _ in 0..8 {
        let budget_ll = share * rel_tol * ll_lo.abs() / n_targets;
        let budget_g = share * rel_tol * g_scale / n_targets;
        let idx: Vec<usize> = (0..targets.len()).collect();
        let cuts: Vec<Cut> = idx
            .par_chunks(CHUNK)
            .flat_map_iter(|chunk| {
                // consecutive targets tend to need similar windows: each search starts at the
                // rung of the one before and gallops from there
                let mut prev = ladder.len() / 2;
                chunk
                    .iter()
                    .map(|&n| {
                        let i = targets[n];
                        let row = cells.row(ev[i].lon, ev[i].lat);
                        let bound = |k: usize| {
                            let (mut e, mut eg) = (0.0, 0.0);
                            for (age, w) in cells.blocks(&row, pr.t[i], ladder[k], tau) {
                                let fa = f(age);
                                e += w * fa;
                                if with_grad {
                                    eg += w * (fa * g_const + u_at(age));
                                }
                            }
                            Cut { window: ladder[k], omitted: e, omitted_grad: eg }
                        };
                        let lam = first_pass.lam[n];
                        let fits = |k: usize| {
                            let cut = bound(k);
                            let ok = cut.omitted / lam <= budget_ll
                                && (!with_grad
                                    || (cut.omitted_grad + cut.omitted * first_pass.largest[n]) / lam
                                        <= budget_g);
                            ok.then_some(cut)
                        };
                        let found = shortest_fitting(ladder.len(), prev, fits);
                        match found {
                            Some((k, cut)) => {
                                prev = k;
                                cut
                            }
                            None => Cut { window: f64::INFINITY, omitted: 0.0, omitted_grad: 0.0 },
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let ps = pass(model, &pr, &targets, &cuts, with_grad)?;
        let ll = ps.ll - comp_sum;
        let mut grad = ps.grad;
        for k in 0..NPAR {
            grad[k] -= comp_grad[k];
        }
        let g_scale = ps.grad_scale(&comp_grad);
        // the log-likelihood is exact − δ with 0 ≤ δ ≤ bound: the tolerance holds against the
        // smaller of the two magnitudes it can have
        let ll_ok = ps.bound <= rel_tol * ll.abs().min((ll + ps.bound).abs());
        let grad_ok = !with_grad || ps.grad_bound <= rel_tol * g_scale;
        if ll_ok && grad_ok {
            let widest = cuts.iter().map(|c| c.window).fold(0.0, f64::max);
            return Ok(TruncatedLikelihood {
                log_likelihood: ll,
                grad: with_grad.then_some(grad),
                bound: ps.bound,
                grad_bound: if with_grad { ps.grad_bound } else { 0.0 },
                grad_scale: if with_grad { g_scale } else { 0.0 },
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
    fn the_search_finds_the_first_fitting_rung_from_any_guess() {
        for n in 0..40usize {
            for first in 0..=n {
                for guess in 0..n + 2 {
                    let calls = std::cell::Cell::new(0);
                    let got = shortest_fitting(n, guess, |k| {
                        calls.set(calls.get() + 1);
                        (k >= first).then_some(k * 10)
                    });
                    let want = (first < n).then_some((first, first * 10));
                    assert_eq!(got, want, "n {n} first {first} guess {guess}");
                    assert!(
                        calls.get() <= 4 * (n.max(2) as f64).log2().ceil() as usize + 2,
                        "{}",
                        calls.get()
                    );
                }
            }
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
                let scale = t.grad_scale;
                assert!(scale >= g_exact.iter().fold(0.0f64, |a, x| a.max(x.abs())), "{scale}");
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
