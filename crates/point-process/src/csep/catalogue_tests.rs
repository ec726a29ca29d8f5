//! Consistency tests of catalogue-based forecasts (Savran et al. 2020, BSSA 110(4)), as pycsep
//! 0.8.0 computes them. No randomness: the forecast catalogues are the test distribution.
//!
//! Expected rates `E` are the mean bin counts over all `J` catalogues (empty ones included);
//! `λ_c = Σ_k E[c, k]`, `Λ = Σ E`, `p_c = λ_c / Σ λ`. For a catalogue with spatial counts `g`
//! (`n = Σ g`):
//! - **N-test**: the event counts; `δ1 = P(N ≥ N_obs)`, `δ2 = P(N ≤ N_obs)`.
//! - **S-test**: `S = Σ_{g_c > 0} g_c ln p_c / n` (empty catalogues dropped); judged by `δ2`.
//! - **Pseudo-likelihood test**: `PL = Σ_{g_c > 0} g_c ln λ_c − Λ` (an empty catalogue scores
//!   `−Λ`); judged by `δ2`.
//! - **M-test**: with the union magnitude histogram `U` scaled to the observed count, `Û`, and
//!   each catalogue's histogram `m_j` scaled to the observed count,
//!   `D = Σ_k (log10(h_k + 1) − log10(Û_k + 1))²` (the observed histogram unscaled; empty
//!   catalogues dropped); judged by `δ1`.
//!
//! An observed event in a cell no forecast catalogue reached makes `S` / `PL` `−∞`; as pycsep does,
//! the statistic is then recomputed over the reached cells and the status is
//! [`Status::Undersampled`].

use super::forecast::CatalogueForecast;
use super::grid::Grid;
use super::result::{Quantile, Status, TestDistribution, TestResult};
use super::stats::deltas;
use crate::data::Quake;
use crate::error::Result;

fn two_sided(name: &str, observed: f64, samples: Vec<f64>, status: Status) -> TestResult {
    let (delta1, delta2) = deltas(&samples, observed);
    TestResult {
        name: name.into(),
        observed,
        quantile: Quantile::Deltas { delta1, delta2 },
        distribution: TestDistribution::Samples(samples),
        status,
    }
}

fn not_valid(name: &str, samples: Vec<f64>) -> TestResult {
    TestResult {
        name: name.into(),
        observed: f64::NAN,
        quantile: Quantile::Deltas { delta1: f64::NAN, delta2: f64::NAN },
        distribution: TestDistribution::Samples(samples),
        status: Status::NotValid,
    }
}

/// Catalogue N-test: counts of the forecast catalogues' events inside the grid against the
/// observed count (observed events must lie inside the grid).
///
/// # Errors
/// An observed event outside the grid.
pub fn n_test(fc: &CatalogueForecast, grid: &Grid, observed: &[Quake]) -> Result<TestResult> {
    let n_obs = grid.counts_strict(observed)?.iter().sum::<f64>();
    let counts =
        fc.catalogues.iter().map(|c| c.iter().filter(|q| grid.bin_of(q).is_some()).count() as f64).collect();
    Ok(two_sided("Catalog N-Test", n_obs, counts, Status::Normal))
}

/// `(PL, S)` of spatial counts `g` under expected spatial counts `lam` (total `big_lambda`),
/// summing only over the cells where `keep` holds.
fn pl_and_s(g: &[f64], lam: &[f64], big_lambda: f64, keep: &dyn Fn(usize) -> bool) -> (f64, f64) {
    let n: f64 = (0..g.len()).filter(|&c| keep(c)).map(|c| g[c]).sum();
    if n == 0.0 {
        return (-big_lambda, f64::NAN);
    }
    let total: f64 = (0..lam.len()).filter(|&c| keep(c)).map(|c| lam[c]).sum();
    let (mut pl, mut s) = (0.0, 0.0);
    for c in 0..g.len() {
        if keep(c) && g[c] > 0.0 {
            pl += g[c] * lam[c].ln();
            s += g[c] * (lam[c] / total).ln();
        }
    }
    (pl - big_lambda, s / n)
}

/// The spatial and pseudo-likelihood statistics of every forecast catalogue and of the
/// observation, with the undersampling fallback.
fn spatial_stats(fc: &CatalogueForecast, grid: &Grid, observed: &[Quake]) -> Result<SpatialStats> {
    let obs = grid.spatial_marginal(&grid.counts_strict(observed)?);
    let lam = grid.spatial_marginal(&fc.expected_rates(grid));
    let big_lambda: f64 = lam.iter().sum();
    let all = |_: usize| true;
    let per_cat: Vec<(f64, f64)> = fc
        .catalogues
        .iter()
        .map(|c| pl_and_s(&grid.spatial_marginal(&grid.counts(c).0), &lam, big_lambda, &all))
        .collect();
    let (mut pl_obs, mut s_obs) = pl_and_s(&obs, &lam, big_lambda, &all);
    let mut status = Status::Normal;
    if pl_obs == f64::NEG_INFINITY || s_obs == f64::NEG_INFINITY {
        let reached = |c: usize| lam[c] > 0.0;
        let (pl, s) = pl_and_s(&obs, &lam, big_lambda, &reached);
        pl_obs = pl;
        s_obs = s;
        status = Status::Undersampled;
    }
    Ok(SpatialStats { per_cat, pl_obs, s_obs, n_obs: obs.iter().sum(), status })
}

struct SpatialStats {
    per_cat: Vec<(f64, f64)>,
    pl_obs: f64,
    s_obs: f64,
    n_obs: f64,
    status: Status,
}

/// Catalogue S-test (see the module documentation).
///
/// # Errors
/// An observed event outside the grid.
pub fn s_test(fc: &CatalogueForecast, grid: &Grid, observed: &[Quake]) -> Result<TestResult> {
    let st = spatial_stats(fc, grid, observed)?;
    let samples: Vec<f64> = st.per_cat.iter().map(|p| p.1).filter(|s| !s.is_nan()).collect();
    if st.n_obs == 0.0 || st.s_obs.is_nan() || samples.is_empty() {
        return Ok(not_valid("Catalog S-Test", samples));
    }
    Ok(two_sided("Catalog S-Test", st.s_obs, samples, st.status))
}

/// Catalogue pseudo-likelihood test (see the module documentation).
///
/// # Errors
/// An observed event outside the grid.
pub fn pseudo_likelihood_test(fc: &CatalogueForecast, grid: &Grid, observed: &[Quake]) -> Result<TestResult> {
    let st = spatial_stats(fc, grid, observed)?;
    let samples: Vec<f64> = st.per_cat.iter().map(|p| p.0).filter(|s| !s.is_nan()).collect();
    if st.n_obs == 0.0 || st.pl_obs.is_nan() {
        return Ok(not_valid("Catalog PL-Test", samples));
    }
    Ok(two_sided("Catalog PL-Test", st.pl_obs, samples, st.status))
}

/// Catalogue M-test with the D statistic (see the module documentation).
///
/// # Errors
/// An observed event outside the grid.
pub fn m_test(fc: &CatalogueForecast, grid: &Grid, observed: &[Quake]) -> Result<TestResult> {
    let obs = grid.magnitude_marginal(&grid.counts_strict(observed)?);
    let n_obs: f64 = obs.iter().sum();
    if n_obs == 0.0 {
        return Ok(not_valid("Catalog M-Test", Vec::new()));
    }
    let union = grid.magnitude_marginal(&fc.expected_rates(grid));
    let n_union: f64 = union.iter().sum();
    if n_union == 0.0 {
        return Ok(not_valid("Catalog M-Test", Vec::new()));
    }
    let scaled: Vec<f64> = union.iter().map(|u| u * n_obs / n_union).collect();
    let d = |h: &[f64]| -> f64 {
        h.iter().zip(&scaled).map(|(a, b)| ((a + 1.0).log10() - (b + 1.0).log10()).powi(2)).sum()
    };
    let samples: Vec<f64> = fc
        .catalogues
        .iter()
        .filter_map(|c| {
            let m = grid.magnitude_marginal(&grid.counts(c).0);
            let n: f64 = m.iter().sum();
            (n > 0.0).then(|| d(&m.iter().map(|x| x * n_obs / n).collect::<Vec<_>>()))
        })
        .collect();
    if samples.is_empty() {
        return Ok(not_valid("Catalog M-Test", samples));
    }
    Ok(two_sided("Catalog M-Test", d(&obs), samples, Status::Normal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(lon: f64, mag: f64) -> Quake {
        Quake { time: 0.5, lon, lat: 0.5, mag, depth: 5.0 }
    }

    #[test]
    fn statistics_by_hand() {
        let g = Grid::new(0.0, 0.0, 1.0, 3, 1, vec![3.0, 4.0]).unwrap();
        let fc = CatalogueForecast::new(
            vec![
                vec![q(0.5, 3.2), q(0.5, 4.5)],
                vec![],
                vec![q(1.5, 3.1), q(0.5, 3.3), q(0.5, 3.0)],
                vec![q(1.5, 3.9)],
            ],
            0.0,
            1.0,
        )
        .unwrap();
        let obs = [q(0.5, 3.5), q(1.5, 4.2)];
        let n = n_test(&fc, &g, &obs).unwrap();
        assert_eq!(n.quantile, Quantile::Deltas { delta1: 0.5, delta2: 0.75 });
        // λ = (4/4, 2/4, 0), Λ = 1.5, p = (2/3, 1/3, 0)
        let pl = pseudo_likelihood_test(&fc, &g, &obs).unwrap();
        assert!((pl.observed - (1f64.ln() + 0.5f64.ln() - 1.5)).abs() < 1e-12);
        let TestDistribution::Samples(s) = &pl.distribution else { panic!() };
        assert_eq!(s.len(), 4);
        assert!((s[1] + 1.5).abs() < 1e-12, "an empty catalogue scores −Λ");
        let st = s_test(&fc, &g, &obs).unwrap();
        assert!((st.observed - ((2f64 / 3.0).ln() + (1f64 / 3.0).ln()) / 2.0).abs() < 1e-12);
        let TestDistribution::Samples(s) = &st.distribution else { panic!() };
        assert_eq!(s.len(), 3, "empty catalogues are dropped");
        // an observed event where no catalogue reached: undersampled, computed over reached cells
        let under = s_test(&fc, &g, &[q(2.5, 3.5), q(0.5, 3.5)]).unwrap();
        assert_eq!(under.status, Status::Undersampled);
        assert!((under.observed - (2f64 / 3.0).ln()).abs() < 1e-12);
        // M: union (3 + 1 + ... ) by hand for the observed histogram (1, 1)
        let m = m_test(&fc, &g, &obs).unwrap();
        let union = [5.0 / 4.0, 1.0 / 4.0];
        let scaled: Vec<f64> = union.iter().map(|u| u * 2.0 / 1.5).collect();
        let d_obs: f64 = (0..2).map(|k| (2f64.log10() - (scaled[k] + 1.0f64).log10()).powi(2)).sum();
        assert!((m.observed - d_obs).abs() < 1e-12);
        assert_eq!(m_test(&fc, &g, &[]).unwrap().status, Status::NotValid);
        assert!(n_test(&fc, &g, &[q(9.0, 3.0)]).is_err());
    }
}
