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
use super::windows::{Cut, WindowSearch};
use crate::data::Catalogue;
use crate::error::{invalid, Error, Result};
use crate::simd::Simd;
use rayon::prelude::*;
use std::f64::consts::LN_10;

/// Targets summed per chunk: the chunks' partial sums are added in index order, so the result
/// does not depend on the number of threads.
const CHUNK: usize = 256;

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
    let sh = Shape::of(model);
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
    let ev = cat.events();
    let first = cat.first_target();
    let span = pr.t.last().copied().unwrap_or(0.0) - pr.t.first().copied().unwrap_or(0.0);
    // compensator: exact, one term per source
    let (comp_sum, comp_grad) = compensator(model, cat, with_grad);
    let targets: Vec<usize> = (first..ev.len()).collect();
    let n_targets = targets.len().max(1) as f64;
    let search = WindowSearch::new(model, &pr, ev, with_grad);
    // pass 1: a short window gives intensities that bound those of every longer window below
    let none = Cut { window: search.shortest(), omitted: 0.0, omitted_grad: 0.0 };
    let first_pass = pass(model, &pr, &targets, &vec![none; targets.len()], with_grad)?;
    let ll_lo = first_pass.ll - comp_sum;
    // the gradient's tolerance is relative to the size of its terms; the first pass's are close
    // to the final ones (a longer window only adds triggering terms)
    let g_scale = first_pass.grad_scale(&comp_grad);
    // each target's window: the shortest rung whose bound meets its share of the tolerance
    // (shares shrink fourfold whenever the check after the pass fails); the first pass's
    // intensities bound the final ones from below, so the shares hold at the first try unless a
    // target's largest gradient term grows with its window
    let mut share = 1.0;
    for _ in 0..8 {
        let budget_ll = share * rel_tol * ll_lo.abs() / n_targets;
        let budget_g = share * rel_tol * g_scale / n_targets;
        let cuts = search.cuts(&targets, |n, cut| {
            let lam = first_pass.lam[n];
            cut.omitted / lam <= budget_ll
                && (!with_grad || (cut.omitted_grad + cut.omitted * first_pass.largest[n]) / lam <= budget_g)
        });
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
