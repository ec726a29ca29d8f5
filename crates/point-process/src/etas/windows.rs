//! Per-target time windows for the ETAS sums over earlier events, each with a proved bound on
//! what the events before it could add to the target's intensity and gradient terms.
//!
//! The events more than `T` before target `i` add at most `E_i = Σ_k f(σ_k) W_k` to its
//! intensity, `f(s) = e^{−s/τ}(s + c)^{−(1+ω)}` (blocks by age from `CellBound::blocks`), and to
//! each `∂_k λ_i` at most `Σ_k W_k (f(σ_k) G + U(σ_k))` ([`gradient_constant`],
//! [`age_gradient_sup`]). A target's window is the shortest rung of a geometric ladder (ratio
//! 2^(1/16), from a short window up to the catalogue's span) whose bounds pass the caller's test,
//! found by a galloping search that starts from the previous target's rung.

use super::model::Etas;
use super::pair_sum::Sources;
use super::truncation_bound::{CellBound, Row};
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::Quake;
use crate::simd::{exp, ln, Separate};
use rayon::prelude::*;
use std::f64::consts::LN_10;

/// Largest number of window doublings.
const MAX_DOUBLINGS: usize = 64;
/// Targets per parallel chunk (each chunk's search carries its previous rung).
const CHUNK: usize = 256;

/// One target's window and the bounds on what the events before it add to its intensity
/// (`omitted`) and, but for the `|∂ ln λ̃_i|` factor, to its gradient terms (`omitted_grad`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    pub(super) window: f64,
    pub(super) omitted: f64,
    pub(super) omitted_grad: f64,
}

/// The ladder of windows and what the bounds need, for one model and catalogue.
pub(super) struct WindowSearch<'a> {
    model: &'a Etas,
    src: &'a Sources,
    events: &'a [Quake],
    cells: CellBound,
    ladder: Vec<f64>,
    /// `U` at each rung (0 without a gradient).
    u_l: Vec<f64>,
    g_const: f64,
    with_grad: bool,
}

impl<'a> WindowSearch<'a> {
    /// The search over `events` (time-sorted; `src` prepared from them), with gradient bounds
    /// when `with_grad`.
    pub(super) fn new(model: &'a Etas, src: &'a Sources, events: &'a [Quake], with_grad: bool) -> Self {
        let p = &model.params;
        let (c, tau) = (p.c(), p.tau());
        let span = src.t.last().copied().unwrap_or(0.0) - src.t.first().copied().unwrap_or(0.0);
        let short = span.min(tau.min(1.0).max(c)).max(f64::MIN_POSITIVE);
        let mut ladder = vec![short];
        while *ladder.last().expect("non-empty") < span && ladder.len() < 16 * MAX_DOUBLINGS {
            let w = ladder.last().expect("non-empty") * 2f64.powf(1.0 / 16.0);
            ladder.push(w);
        }
        // U(σ) at each rung; for an age between rungs the rung below bounds it (U falls)
        let u_l =
            ladder.iter().map(|&w| if with_grad { age_gradient_sup(model, w, span) } else { 0.0 }).collect();
        WindowSearch {
            model,
            src,
            events,
            cells: CellBound::new(model, events),
            ladder,
            u_l,
            g_const: if with_grad { gradient_constant(model, src) } else { 0.0 },
            with_grad,
        }
    }

    /// The shortest window of the ladder (at most one day, at least `c`).
    pub(super) fn shortest(&self) -> f64 {
        self.ladder[0]
    }

    /// For each event index in `targets`, the shortest rung whose [`Cut`] passes
    /// `fits(position in targets, cut)` (an infinite window with zero bounds when none does).
    pub(super) fn cuts(&self, targets: &[usize], fits: impl Fn(usize, &Cut) -> bool + Sync) -> Vec<Cut> {
        let p = &self.model.params;
        let (c, tau, om) = (p.c(), p.tau(), p.omega);
        // f(age), by the branch-free exp and ln (within a few ulp), rounded up by a relative 1e-12
        let f = |w: f64| exp::<Separate>(-w / tau - (1.0 + om) * ln::<Separate>(w + c)) * (1.0 + 1e-12);
        let ladder = &self.ladder;
        let u_at = |age: f64| self.u_l[ladder.partition_point(|&w| w <= age).max(1) - 1];
        let idx: Vec<usize> = (0..targets.len()).collect();
        idx.par_chunks(CHUNK)
            .flat_map_iter(|chunk| {
                // consecutive targets tend to need similar windows: each search starts at the
                // rung of the one before and gallops from there
                let mut prev = ladder.len() / 2;
                let mut row = Row::default();
                chunk
                    .iter()
                    .map(|&n| {
                        let i = targets[n];
                        self.cells.row_into(self.events[i].lon, self.events[i].lat, &mut row);
                        let bound = |k: usize| {
                            let (mut e, mut eg) = (0.0, 0.0);
                            for (age, w) in self.cells.blocks(&row, self.src.t[i], ladder[k], tau) {
                                let fa = f(age);
                                e += w * fa;
                                if self.with_grad {
                                    eg += w * (fa * self.g_const + u_at(age));
                                }
                            }
                            Cut { window: ladder[k], omitted: e, omitted_grad: eg }
                        };
                        let found = shortest_fitting(ladder.len(), prev, |k| {
                            let cut = bound(k);
                            fits(n, &cut).then_some(cut)
                        });
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
            .collect()
    }
}

/// `G`, a bound of the `|∂_k ln g|` of a pair that do not depend on `Δt`: `ln 10`,
/// `max |m − Mc|`, and for the spatial factor `(1+ρ) ln 10`, `(1+ρ) max |m − Mc|` and
/// `|ln(r² + D)|` over all distances up to half the Earth's circumference and all `D` of the
/// catalogue.
pub(super) fn gradient_constant(model: &Etas, pr: &Sources) -> f64 {
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
}
