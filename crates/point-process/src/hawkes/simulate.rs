//! Simulation: Ogata's thinning and the branching (cluster) construction.

use super::kernel::Basis;
use super::model::{Aggregator, Hawkes};
use crate::data::EventSequence;
use crate::error::{positive, Error, Result};
use core_tensor::seed::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, Exp, Poisson};

/// Options of a simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOptions {
    /// Start of the window.
    pub t_start: f64,
    /// End of the window.
    pub t_end: f64,
    /// Abort with [`Error::TooManyEvents`] beyond this many events, burn-in included (explosive
    /// parameters, or a window whose immigrants alone would exceed it: refused before sampling).
    pub max_events: usize,
    /// Simulate this long before `t_start` and discard it, so the window starts near stationarity
    /// (requires a branching ratio < 1).
    pub burn_in: f64,
}

impl SimOptions {
    /// Window `[0, t_end]`, no burn-in, at most 10 million events.
    pub fn new(t_end: f64) -> Self {
        SimOptions { t_start: 0.0, t_end, max_events: 10_000_000, burn_in: 0.0 }
    }
    /// Sets a burn-in length.
    pub fn burn_in(mut self, b: f64) -> Self {
        self.burn_in = b;
        self
    }
    /// Sets the event cap.
    pub fn max_events(mut self, n: usize) -> Self {
        self.max_events = n;
        self
    }
    fn validate(&self, model: &Hawkes) -> Result<()> {
        if !(self.t_start.is_finite() && self.t_end.is_finite() && self.t_start < self.t_end) {
            return Err(Error::Data(format!(
                "window [{}, {}] must be finite and non-empty",
                self.t_start, self.t_end
            )));
        }
        if !(self.burn_in.is_finite() && self.burn_in >= 0.0) {
            return Err(crate::error::invalid("burn_in", self.burn_in, "must be finite and >= 0"));
        }
        if self.burn_in > 0.0 {
            let r = model.branching_ratio();
            if r >= 1.0 {
                return Err(Error::NotStationary { ratio: r });
            }
        }
        // the immigrants alone: refused when far (ten standard deviations) beyond the cap
        let immigrants = model.mu().iter().sum::<f64>() * (self.t_end - (self.t_start - self.burn_in));
        let cap = self.max_events as f64;
        if !(immigrants <= cap + 10.0 * cap.sqrt() + 10.0) {
            return Err(Error::TooManyEvents { max_events: self.max_events });
        }
        Ok(())
    }
}

/// A simulated sequence with its branching structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// The events.
    pub seq: EventSequence,
    /// `parents[k]` is the index of the event that triggered event `k`, `None` for an immigrant
    /// (or for a child of a discarded burn-in event).
    pub parents: Vec<Option<usize>>,
}

impl Hawkes {
    /// Ogata's thinning algorithm (Ogata 1981). Kernels are non-increasing, so the intensity just
    /// after the last event bounds the intensity until the next one. Exponential bases update in
    /// O(D) per candidate; other bases sum over the history (O(N) per candidate).
    pub fn simulate_ogata(&self, opts: SimOptions, rng: &mut Rng) -> Result<EventSequence> {
        opts.validate(self)?;
        let d = self.dim();
        let t0 = opts.t_start - opts.burn_in;
        let mu_sum: f64 = self.mu().iter().sum();
        let mut times = Vec::new();
        let mut marks = Vec::new();
        if self.all_exp() {
            // excitation state per basis and target dimension: Σ_j α^u_ij k_u(t − t_l)
            let betas: Vec<f64> =
                self.bases().iter().map(|b| if let Basis::Exp { beta } = b { *beta } else { 0.0 }).collect();
            // jump of target i's state after an event of type j: α^u_ij β_u
            let jumps: Vec<Vec<f64>> = (0..d)
                .map(|j| {
                    (0..betas.len())
                        .flat_map(|u| (0..d).map(move |i| (u, i)))
                        .map(|(u, i)| self.alpha()[u][(i, j)] * betas[u])
                        .collect()
                })
                .collect();
            let mut state = vec![0.0; betas.len() * d];
            let mut n_all = 0usize;
            let mut t = t0;
            let mut lam_total = mu_sum;
            loop {
                if lam_total <= 0.0 {
                    break;
                }
                let w = Exp::new(lam_total).expect("positive rate").sample(rng);
                let t_new = t + w;
                if t_new > opts.t_end {
                    break;
                }
                crate::poisson::check_advance(t, t_new)?;
                for (u, &beta) in betas.iter().enumerate() {
                    let decay = (-beta * w).exp();
                    state[u * d..(u + 1) * d].iter_mut().for_each(|s| *s *= decay);
                }
                t = t_new;
                let lam_now = mu_sum + state.iter().sum::<f64>();
                if rng.gen::<f64>() * lam_total <= lam_now {
                    // pick the dimension with probability λ_i / λ
                    let mut x = rng.gen::<f64>() * lam_now;
                    let mut i = d - 1;
                    for r in 0..d {
                        let li = self.mu()[r] + (0..betas.len()).map(|u| state[u * d + r]).sum::<f64>();
                        if x < li {
                            i = r;
                            break;
                        }
                        x -= li;
                    }
                    for (s, j) in state.iter_mut().zip(&jumps[i]) {
                        *s += j;
                    }
                    n_all += 1;
                    if n_all > opts.max_events {
                        return Err(Error::TooManyEvents { max_events: opts.max_events });
                    }
                    if t >= opts.t_start {
                        times.push(t);
                        marks.push(i);
                    }
                    lam_total = mu_sum + state.iter().sum::<f64>();
                } else {
                    lam_total = lam_now;
                }
            }
        } else {
            let mut aggs: Vec<Aggregator> = self.bases().iter().map(|b| Aggregator::new(*b, d)).collect();
            let mut sums = vec![0.0; d];
            let lam_at = |aggs: &mut [Aggregator], t: f64, sums: &mut [f64]| -> Vec<f64> {
                let mut lam = self.mu().to_vec();
                for (u, a) in aggs.iter_mut().enumerate() {
                    a.advance(t);
                    a.density_sums(sums);
                    for (i, l) in lam.iter_mut().enumerate() {
                        *l += (0..d).map(|j| self.alpha()[u][(i, j)] * sums[j]).sum::<f64>();
                    }
                }
                lam
            };
            let mut t = t0;
            let mut bound = mu_sum;
            let mut n_all = 0usize;
            loop {
                if bound <= 0.0 {
                    break;
                }
                let t_new = t + Exp::new(bound).expect("positive rate").sample(rng);
                if t_new > opts.t_end {
                    break;
                }
                crate::poisson::check_advance(t, t_new)?;
                t = t_new;
                let lam = lam_at(&mut aggs, t, &mut sums);
                let total: f64 = lam.iter().sum();
                if rng.gen::<f64>() * bound <= total {
                    let mut x = rng.gen::<f64>() * total;
                    let i = lam.iter().position(|&l| {
                        let hit = x < l;
                        x -= l;
                        hit
                    });
                    let i = i.unwrap_or(d - 1);
                    for a in aggs.iter_mut() {
                        a.add(i);
                    }
                    n_all += 1;
                    if n_all > opts.max_events {
                        return Err(Error::TooManyEvents { max_events: opts.max_events });
                    }
                    if t >= opts.t_start {
                        times.push(t);
                        marks.push(i);
                    }
                    // the intensity just after the event bounds the future until the next event
                    bound = lam_at(&mut aggs, t, &mut sums).iter().sum();
                } else {
                    bound = total;
                }
            }
        }
        EventSequence::new(times, Some(marks), d, opts.t_start, opts.t_end)
    }

    /// The branching (cluster) construction: immigrants of type i arrive as a Poisson process of
    /// rate μ_i; every event of type j has Poisson(α^u_ij) children of type i through basis u, at
    /// lags drawn from `k_u`. O(N). Returns the parent of each event.
    pub fn simulate_branching(&self, opts: SimOptions, rng: &mut Rng) -> Result<Simulation> {
        opts.validate(self)?;
        let d = self.dim();
        let t0 = opts.t_start - opts.burn_in;
        let span = opts.t_end - t0;
        // (time, mark, parent index in `all`)
        let mut all: Vec<(f64, usize, Option<usize>)> = Vec::new();
        for (i, &m) in self.mu().iter().enumerate() {
            if m > 0.0 {
                let n = crate::poisson::poisson_count(m * span, opts.max_events, rng)?;
                // the count is known before anything is stored
                if all.len().saturating_add(n) > opts.max_events {
                    return Err(Error::TooManyEvents { max_events: opts.max_events });
                }
                for _ in 0..n {
                    all.push((t0 + rng.gen::<f64>() * span, i, None));
                }
            }
            if all.len() > opts.max_events {
                return Err(Error::TooManyEvents { max_events: opts.max_events });
            }
        }
        let poissons: Vec<Vec<Option<Poisson<f64>>>> = self
            .alpha()
            .iter()
            .map(|a| a.iter().map(|&v| if v > 0.0 { Poisson::new(v).ok() } else { None }).collect())
            .collect();
        let mut next = 0;
        while next < all.len() {
            let (t, j, _) = all[next];
            for (u, b) in self.bases().iter().enumerate() {
                for i in 0..d {
                    // nalgebra is column-major: (i, j) is at i + j·d
                    if let Some(p) = &poissons[u][i + j * d] {
                        let n = p.sample(rng) as usize;
                        for _ in 0..n {
                            let tc = t + b.quantile(rng.gen::<f64>());
                            if tc <= opts.t_end {
                                all.push((tc, i, Some(next)));
                            }
                        }
                    }
                }
            }
            if all.len() > opts.max_events {
                return Err(Error::TooManyEvents { max_events: opts.max_events });
            }
            next += 1;
        }
        let mut order: Vec<usize> = (0..all.len()).filter(|&k| all[k].0 >= opts.t_start).collect();
        order.sort_by(|&a, &b| all[a].0.total_cmp(&all[b].0));
        let mut pos = vec![usize::MAX; all.len()];
        for (new, &old) in order.iter().enumerate() {
            pos[old] = new;
        }
        let times = order.iter().map(|&k| all[k].0).collect();
        let marks = order.iter().map(|&k| all[k].1).collect();
        let parents = order.iter().map(|&k| all[k].2.map(|p| pos[p]).filter(|&p| p != usize::MAX)).collect();
        let seq = EventSequence::new(times, Some(marks), d, opts.t_start, opts.t_end)?;
        Ok(Simulation { seq, parents })
    }

    /// Expected number of events per dimension on a window of length `t` for the stationary process:
    /// `(I − A)⁻¹ μ t`.
    pub fn expected_counts(&self, t: f64) -> Result<Vec<f64>> {
        positive("t", t)?;
        Ok(self.stationary_mean_intensity()?.iter().map(|m| m * t).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::seed::rng;
    use nalgebra::DMatrix;

    fn mc_check(h: &Hawkes, t_end: f64, reps: usize, branching: bool) {
        let mut r = rng(11);
        let expected = h.expected_counts(t_end).unwrap();
        let d = h.dim();
        let mut counts = vec![Vec::new(); d];
        for _ in 0..reps {
            let opts = SimOptions::new(t_end).burn_in(50.0);
            let s = if branching {
                h.simulate_branching(opts, &mut r).unwrap().seq
            } else {
                h.simulate_ogata(opts, &mut r).unwrap()
            };
            for (i, c) in s.counts().into_iter().enumerate() {
                counts[i].push(c as f64);
            }
        }
        for i in 0..d {
            let n = counts[i].len() as f64;
            let (mean, var) = core_tensor::metrics::mean_var(&counts[i]).unwrap();
            let se = (var / n).sqrt();
            assert!(
                (mean - expected[i]).abs() < 4.0 * se,
                "dim {i}: mean {mean} vs {} (se {se}, branching={branching})",
                expected[i]
            );
        }
    }

    /// Mean counts match `(I − A)⁻¹ μ T` (= μT/(1 − n) in one dimension) within Monte-Carlo error.
    #[test]
    fn mean_counts_match_theory() {
        let uni = Hawkes::univariate_exp(1.0, 0.6, 2.0).unwrap();
        mc_check(&uni, 200.0, 300, false);
        mc_check(&uni, 200.0, 300, true);
        let a = DMatrix::from_row_slice(2, 2, &[0.2, 0.3, 0.1, 0.4]);
        let bi =
            Hawkes::sum_exp(vec![0.5, 0.3], vec![a.clone() * 0.5, a.clone() * 0.5], &[3.0, 0.5]).unwrap();
        mc_check(&bi, 200.0, 300, false);
        mc_check(&bi, 200.0, 300, true);
        let pl = Hawkes::power_law(vec![0.5, 0.3], a, 0.2, 3.0).unwrap();
        mc_check(&pl, 100.0, 150, false);
        mc_check(&pl, 100.0, 300, true);
    }

    #[test]
    fn branching_structure_is_consistent() {
        let h = Hawkes::univariate_exp(0.5, 0.5, 1.0).unwrap();
        let sim = h.simulate_branching(SimOptions::new(500.0), &mut rng(2)).unwrap();
        assert_eq!(sim.parents.len(), sim.seq.len());
        let mut children = 0;
        for (k, p) in sim.parents.iter().enumerate() {
            if let Some(p) = *p {
                assert!(p < k && sim.seq.times()[p] < sim.seq.times()[k]);
                children += 1;
            }
        }
        // about half the events are children when α = 0.5
        let frac = children as f64 / sim.seq.len() as f64;
        assert!((frac - 0.5).abs() < 0.1, "{frac}");
    }

    #[test]
    fn errors() {
        let sup = Hawkes::univariate_exp(1.0, 1.5, 1.0).unwrap();
        let e = sup.simulate_ogata(SimOptions::new(10.0).burn_in(10.0), &mut rng(0)).unwrap_err();
        assert!(matches!(e, Error::NotStationary { .. }), "{e}");
        let e = sup.simulate_branching(SimOptions::new(100.0).max_events(1000), &mut rng(0)).unwrap_err();
        assert!(matches!(e, Error::TooManyEvents { .. }), "{e}");
        let e = sup.simulate_ogata(SimOptions::new(100.0).max_events(1000), &mut rng(0)).unwrap_err();
        assert!(matches!(e, Error::TooManyEvents { .. }), "{e}");
        assert!(sup.simulate_ogata(SimOptions::new(-1.0), &mut rng(0)).is_err());
    }
}
