//! Consistency tests of gridded forecasts (Schorlemmer et al. 2007; Zechar et al. 2010), as
//! pycsep 0.8.0 computes them.
//!
//! Observed counts `ω` come from [`Grid::counts_strict`](super::Grid::counts_strict) of the
//! observed events (filter them to the window and grid first). With forecast rates `λ` and total
//! `Λ`:
//! - **N-test** (Poisson): `δ1 = P(X ≥ N_obs)`, `δ2 = P(X ≤ N_obs)` for `X ~ Poisson(Λ)`; the
//!   negative-binomial version uses the law of mean `Λ` and a given variance.
//! - **L-test**: the joint log-likelihood `L = Σ (ω_i log λ_i − ln ω_i!) − Λ`, against `L` of
//!   catalogues simulated from the forecast (a Poisson(Λ) number of events placed in bins with
//!   probabilities `λ_i / Λ`); `γ = P(L_sim ≤ L_obs)`.
//! - **CL-test**: as the L-test, each simulation holding exactly `N_obs` events (the statistic is
//!   not rescaled, as in pycsep 0.8.0).
//! - **M-test** / **S-test**: the same with the magnitude / spatial marginals, rates rescaled to
//!   sum to `N_obs` and `N_obs` events per simulation.
//!
//! An observed event in a bin of rate 0 makes the observed statistic `−∞` and `γ = 0`.

use super::forecast::GriddedForecast;
use super::result::{Quantile, Status, TestDistribution, TestResult};
use super::sampler::Sampler;
use super::stats::{negative_binomial_cdf, poisson_cdf, poisson_joint_ll};
use crate::error::{invalid, Result};

/// Largest number of simulations a test runs.
pub const MAX_SIMULATIONS: usize = 10_000_000;

/// Largest expected number of events per simulated catalogue.
pub const MAX_EVENTS_PER_SIMULATION: f64 = 1e8;

/// Largest number of uniform draws (simulations × events) one test makes.
pub const MAX_DRAWS: f64 = 1e10;

fn check_counts(fc: &GriddedForecast, observed: &[f64]) -> Result<f64> {
    if observed.len() != fc.rates().len() {
        return Err(invalid(
            "observed",
            format!("{} bins", observed.len()),
            &format!("need the forecast's {} bins", fc.rates().len()),
        ));
    }
    if let Some((i, x)) =
        observed.iter().enumerate().find(|(_, x)| !(x.is_finite() && **x >= 0.0 && x.fract() == 0.0))
    {
        return Err(invalid(&format!("observed[{i}]"), x, "must be a whole count >= 0"));
    }
    Ok(observed.iter().sum())
}

/// Poisson N-test of observed counts (one per bin of the forecast's grid).
///
/// # Errors
/// Observed counts of the wrong length or not whole non-negative numbers.
pub fn n_test(fc: &GriddedForecast, observed: &[f64]) -> Result<TestResult> {
    let n = check_counts(fc, observed)?;
    let l = fc.total();
    Ok(TestResult {
        name: "Poisson N-Test".into(),
        observed: n,
        quantile: Quantile::Deltas { delta1: 1.0 - poisson_cdf(n - 1.0, l), delta2: poisson_cdf(n, l) },
        distribution: TestDistribution::Poisson { mean: l },
        status: Status::Normal,
    })
}

/// Negative-binomial N-test with the forecast total as mean and the given `variance`.
///
/// # Errors
/// As [`n_test`], and a variance not greater than the mean.
pub fn n_test_negative_binomial(fc: &GriddedForecast, observed: &[f64], variance: f64) -> Result<TestResult> {
    let n = check_counts(fc, observed)?;
    let m = fc.total();
    if !(variance.is_finite() && variance > m) {
        return Err(invalid("variance", variance, &format!("must be finite and exceed the mean {m}")));
    }
    Ok(TestResult {
        name: "NBD N-Test".into(),
        observed: n,
        quantile: Quantile::Deltas {
            delta1: 1.0 - negative_binomial_cdf(n - 1.0, m, variance),
            delta2: negative_binomial_cdf(n, m, variance),
        },
        distribution: TestDistribution::NegativeBinomial { mean: m, variance },
        status: Status::Normal,
    })
}

/// The simulation core of the L, CL, M and S tests: `rates` and observed counts over the same
/// bins; `fixed_count` draws exactly `N_obs` events per simulation (else Poisson(Λ)); `normalise`
/// rescales the rates to sum to `N_obs`.
fn likelihood_test(
    name: &str,
    rates: &[f64],
    observed: &[f64],
    n_sims: usize,
    fixed_count: bool,
    normalise: bool,
    rng: &mut dyn Sampler,
) -> Result<TestResult> {
    if n_sims == 0 || n_sims > MAX_SIMULATIONS {
        return Err(invalid("n_sims", n_sims, "must be in 1..=10^7"));
    }
    let n_obs: f64 = observed.iter().sum();
    let total: f64 = rates.iter().sum();
    if total > MAX_EVENTS_PER_SIMULATION || (fixed_count && n_obs > MAX_EVENTS_PER_SIMULATION) {
        return Err(invalid("forecast total", total, "must be at most 1e8 events per simulation"));
    }
    let work = n_sims as f64 * if fixed_count { n_obs } else { total };
    if work > MAX_DRAWS {
        return Err(invalid(
            "n_sims × events per simulation",
            work,
            "must be at most 1e10 draws (fewer simulations, or a smaller window)",
        ));
    }
    // cumulative sampling weights (sequential sum), the last pinned to 1
    let mut w = Vec::with_capacity(rates.len());
    let mut acc = 0.0;
    for r in rates {
        acc += r;
        w.push(acc / total);
    }
    let (t, log_rates): (f64, Vec<f64>) = if fixed_count && normalise {
        (n_obs, rates.iter().map(|r| (r * n_obs / total).ln()).collect())
    } else {
        (total, rates.iter().map(|r| r.ln()).collect())
    };
    let obs_ll = poisson_joint_ll(observed, &log_rates, t);
    let mut sims = Vec::with_capacity(n_sims);
    let mut counts = vec![0.0; rates.len()];
    for _ in 0..n_sims {
        let n = if fixed_count { n_obs as u64 } else { rng.poisson(total) };
        counts.iter_mut().for_each(|c| *c = 0.0);
        for _ in 0..n {
            let u = rng.uniform();
            // the first bin whose cumulative weight exceeds u (a zero-rate bin is never chosen)
            let b = w.partition_point(|&x| x <= u).min(rates.len() - 1);
            counts[b] += 1.0;
        }
        sims.push(poisson_joint_ll(&counts, &log_rates, t));
    }
    let gamma = if obs_ll == f64::NEG_INFINITY {
        0.0
    } else {
        sims.iter().filter(|&&s| s <= obs_ll).count() as f64 / n_sims as f64
    };
    Ok(TestResult {
        name: name.into(),
        observed: obs_ll,
        quantile: Quantile::Gamma(gamma),
        distribution: TestDistribution::Samples(sims),
        status: Status::Normal,
    })
}

/// L-test: joint log-likelihood against `n_sims` catalogues simulated from the forecast.
///
/// # Errors
/// As [`n_test`]; `n_sims` of 0 or above [`MAX_SIMULATIONS`].
pub fn l_test(
    fc: &GriddedForecast,
    observed: &[f64],
    n_sims: usize,
    rng: &mut dyn Sampler,
) -> Result<TestResult> {
    check_counts(fc, observed)?;
    likelihood_test("Poisson L-Test", fc.rates(), observed, n_sims, false, false, rng)
}

/// CL-test: the L-test with simulations of exactly the observed number of events.
///
/// # Errors
/// As [`l_test`].
pub fn cl_test(
    fc: &GriddedForecast,
    observed: &[f64],
    n_sims: usize,
    rng: &mut dyn Sampler,
) -> Result<TestResult> {
    check_counts(fc, observed)?;
    likelihood_test("Poisson CL-Test", fc.rates(), observed, n_sims, true, false, rng)
}

/// M-test: the magnitude marginal, rates rescaled to the observed count.
///
/// # Errors
/// As [`l_test`].
pub fn m_test(
    fc: &GriddedForecast,
    observed: &[f64],
    n_sims: usize,
    rng: &mut dyn Sampler,
) -> Result<TestResult> {
    check_counts(fc, observed)?;
    let g = fc.grid();
    likelihood_test(
        "Poisson M-Test",
        &fc.magnitude_rates(),
        &g.magnitude_marginal(observed),
        n_sims,
        true,
        true,
        rng,
    )
}

/// S-test: the spatial marginal, rates rescaled to the observed count.
///
/// # Errors
/// As [`l_test`].
pub fn s_test(
    fc: &GriddedForecast,
    observed: &[f64],
    n_sims: usize,
    rng: &mut dyn Sampler,
) -> Result<TestResult> {
    check_counts(fc, observed)?;
    let g = fc.grid();
    likelihood_test(
        "Poisson S-Test",
        &fc.spatial_rates(),
        &g.spatial_marginal(observed),
        n_sims,
        true,
        true,
        rng,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csep::Grid;

    fn toy() -> GriddedForecast {
        let g = Grid::new(0.0, 0.0, 1.0, 2, 1, vec![3.0, 4.0]).unwrap();
        GriddedForecast::new(g, vec![1.0, 0.5, 2.0, 0.0], 0.0, 1.0).unwrap()
    }

    #[test]
    fn closed_forms_and_edge_cases() {
        let fc = toy();
        let obs = [2.0, 0.0, 1.0, 0.0];
        let n = n_test(&fc, &obs).unwrap();
        let Quantile::Deltas { delta1, delta2 } = n.quantile else { panic!() };
        // Λ = 3.5, N = 3: P(X ≥ 3) and P(X ≤ 3) by hand
        let p = |k: i32| (-3.5f64).exp() * 3.5f64.powi(k) / (1..=k).product::<i32>().max(1) as f64;
        assert!((delta2 - (p(0) + p(1) + p(2) + p(3))).abs() < 1e-12);
        assert!((delta1 - (1.0 - p(0) - p(1) - p(2))).abs() < 1e-12);
        // L statistic by hand: 2 ln 1 − ln 2 + ln 2 − 3.5
        let mut rng = core_tensor::seed::rng(1);
        let l = l_test(&fc, &obs, 200, &mut rng).unwrap();
        assert!((l.observed - (2.0 * 1f64.ln() - 2f64.ln() + 2f64.ln() - 3.5)).abs() < 1e-12);
        // simulations never land in the zero-rate bin; an observation there gives −∞ and γ = 0
        let zero = l_test(&fc, &[0.0, 0.0, 0.0, 1.0], 50, &mut rng).unwrap();
        assert_eq!(zero.observed, f64::NEG_INFINITY);
        assert_eq!(zero.score(), 0.0);
        let TestDistribution::Samples(s) = &zero.distribution else { panic!() };
        assert!(s.iter().all(|x| x.is_finite()));
        // bad input
        assert!(n_test(&fc, &[1.0]).is_err());
        assert!(n_test(&fc, &[0.5, 0.0, 0.0, 0.0]).unwrap_err().to_string().contains("observed[0]"));
        assert!(n_test_negative_binomial(&fc, &obs, 3.0).is_err());
        assert!(l_test(&fc, &obs, 0, &mut rng).is_err());
        let huge = GriddedForecast::new(fc.grid().clone(), vec![1e7, 0.0, 0.0, 0.0], 0.0, 1.0).unwrap();
        let e = l_test(&huge, &obs, 10_000, &mut rng).unwrap_err().to_string();
        assert!(e.contains("1e10 draws"), "{e}");
    }

    #[test]
    fn a_true_forecast_gives_uniform_l_test_quantiles() {
        // observations drawn from the forecast itself: γ is (close to) uniform on [0, 1]
        let fc = toy();
        let mut rng = core_tensor::seed::rng(7);
        let mut gammas = Vec::new();
        for _ in 0..200 {
            let mut obs = vec![0.0; 4];
            for (o, r) in obs.iter_mut().zip(fc.rates()) {
                *o = rng.poisson(*r) as f64;
            }
            gammas.push(l_test(&fc, &obs, 300, &mut rng).unwrap().score());
        }
        let mean = gammas.iter().sum::<f64>() / gammas.len() as f64;
        let low = gammas.iter().filter(|&&g| g < 0.05).count();
        assert!((0.4..0.75).contains(&mean), "mean γ {mean}");
        assert!(low <= 25, "{low} of 200 below 0.05");
    }
}
