//! The CSEP tests against pycsep 0.8.0 on the same inputs: a gridded and a catalogue-based ETAS
//! forecast of 2019-07-12 for the Ridgecrest sequence, and the observed ComCat events of that day.
//! `tests/golden/csep/make_goldens.py` wrote the goldens with pycsep; the inputs come from
//! `examples/csep_ridgecrest.rs`.
//!
//! Tolerances: the number tests are closed forms (pycsep through scipy, ours by summing the
//! probability mass in log space), equal to 1e-9. The simulation-based tests draw from numpy's
//! legacy generator seeded as pycsep seeds it ([`NumpyLegacy`]), so the simulated catalogues are
//! the same draw for draw: quantiles must be equal, and statistics equal to 1e-9 relative (the
//! sums run in a different order). The catalogue-based tests draw nothing and must agree to 1e-9.

use point_process::csep::{
    self, CatalogueForecast, GriddedForecast, NumpyLegacy, Quantile, TestDistribution, TestResult,
};
use point_process::data::datasets::{ridgecrest_2019, RIDGECREST_T_START};
use point_process::etas::{self, Etas};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/csep")
}

fn close(a: f64, b: f64, rel: f64, what: &str) {
    assert!((a - b).abs() <= rel * b.abs().max(1.0), "{what}: ours {a}, pycsep {b}");
}

fn compare(ours: &TestResult, golden: &Value, key: &str) {
    let g = &golden[key];
    assert_eq!(ours.name, g["name"].as_str().unwrap(), "{key}");
    close(ours.observed, g["observed_statistic"].as_f64().unwrap(), 1e-9, &format!("{key} statistic"));
    let q: Vec<f64> = g["quantile"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    match ours.quantile {
        Quantile::Gamma(x) => assert_eq!(x, q[0], "{key} γ"),
        Quantile::Deltas { delta1, delta2 } => {
            close(delta1, q[0], 1e-9, &format!("{key} δ1"));
            close(delta2, q[1], 1e-9, &format!("{key} δ2"));
        }
    }
    if let TestDistribution::Samples(s) = &ours.distribution {
        let d = &g["test_distribution"];
        assert_eq!(s.len() as u64, d["n"].as_u64().unwrap(), "{key} n");
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        close(mean, d["mean"].as_f64().unwrap(), 1e-9, &format!("{key} mean"));
        let min = s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        close(min, d["min"].as_f64().unwrap(), 1e-9, &format!("{key} min"));
        close(max, d["max"].as_f64().unwrap(), 1e-9, &format!("{key} max"));
    }
    let status = format!("{:?}", ours.status).to_lowercase();
    assert_eq!(status, g["status"].as_str().unwrap(), "{key} status");
}

#[test]
fn csep_tests_match_pycsep() {
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("pycsep_0.8.0.json")).unwrap()).unwrap();
    let (t0, t1) = (RIDGECREST_T_START + 6.0, RIDGECREST_T_START + 7.0);
    let fc = GriddedForecast::read_dat(&dir().join("forecast.dat"), t0, t1).unwrap();
    let text = std::fs::read_to_string(dir().join("catalogue_forecast.csv")).unwrap();
    let cf = CatalogueForecast::from_csv_str(&text, "catalogue_forecast.csv", t0, t1).unwrap();
    let grid = fc.grid().clone();
    let cat = ridgecrest_2019().unwrap();
    let observed = grid.observed(cat.events(), t0, t1);
    assert_eq!(observed.len() as u64, golden["observed_events"].as_u64().unwrap());
    close(fc.total(), golden["forecast_total"].as_f64().unwrap(), 1e-12, "forecast total");
    let counts = grid.counts_strict(&observed).unwrap();
    let seed = golden["seed"].as_u64().unwrap() as u32;
    let n = golden["num_simulations"].as_u64().unwrap() as usize;
    let variance = golden["nbd_variance"].as_f64().unwrap();
    let g = csep::gridded::n_test(&fc, &counts).unwrap();
    compare(&g, &golden, "N");
    compare(&csep::gridded::n_test_negative_binomial(&fc, &counts, variance).unwrap(), &golden, "NBD");
    compare(&csep::gridded::l_test(&fc, &counts, n, &mut NumpyLegacy::new(seed)).unwrap(), &golden, "L");
    compare(&csep::gridded::cl_test(&fc, &counts, n, &mut NumpyLegacy::new(seed)).unwrap(), &golden, "CL");
    compare(&csep::gridded::m_test(&fc, &counts, n, &mut NumpyLegacy::new(seed)).unwrap(), &golden, "M");
    compare(&csep::gridded::s_test(&fc, &counts, n, &mut NumpyLegacy::new(seed)).unwrap(), &golden, "S");
    compare(&csep::catalogue::n_test(&cf, &grid, &observed).unwrap(), &golden, "catalog_N");
    compare(&csep::catalogue::s_test(&cf, &grid, &observed).unwrap(), &golden, "catalog_S");
    compare(&csep::catalogue::m_test(&cf, &grid, &observed).unwrap(), &golden, "catalog_M");
    compare(&csep::catalogue::pseudo_likelihood_test(&cf, &grid, &observed).unwrap(), &golden, "catalog_PL");
}

/// The committed gridded forecast is what `etas::gridded_forecast` makes of the committed model
/// and the catalogue's first six days (the file holds 13 significant digits).
#[test]
fn the_gridded_input_is_the_etas_forecast() {
    let model: Etas =
        serde_json::from_str(&std::fs::read_to_string(dir().join("etas_model.json")).unwrap()).unwrap();
    let (t0, t1) = (RIDGECREST_T_START + 6.0, RIDGECREST_T_START + 7.0);
    let file = GriddedForecast::read_dat(&dir().join("forecast.dat"), t0, t1).unwrap();
    let history = ridgecrest_2019().unwrap().until(t0).unwrap();
    let ours = etas::gridded_forecast(&model, &history, t0, t1, file.grid()).unwrap();
    for (i, (a, b)) in ours.rates().iter().zip(file.rates()).enumerate() {
        assert!((a / b - 1.0).abs() < 1e-10, "bin {i}: {a} vs {b}");
    }
}
