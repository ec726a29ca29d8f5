//! CSEP evaluation of an ETAS forecast on real data: fit a spatio-temporal ETAS to the first six
//! days of the 2019 Ridgecrest aftershocks, forecast the seventh day on a 0.1° grid (a gridded
//! forecast and 30 simulated catalogues), and run the gridded tests (N Poisson and negative
//! binomial, L, CL, M, S) and the catalogue-based tests (N, S, M, pseudo-likelihood).
//!
//! `cargo run -p sciml-point-process --example csep_ridgecrest --release [-- OUT_DIR]`
//!
//! With `OUT_DIR`, the forecasts are written there in pycsep's layouts (`forecast.dat`,
//! `catalogue_forecast.csv`) with the fitted model (`etas_model.json`): these are the inputs of the
//! pycsep cross-check in `tests/golden/csep/`.

use point_process::csep::{self, Grid, NumpyLegacy, TestResult};
use point_process::data::datasets::{ridgecrest_2019, RIDGECREST_MC, RIDGECREST_T_START};
use point_process::data::Region;
use point_process::etas::{self, Etas, EtasFitConfig, EtasParams};

/// Seed of the simulation-based gridded tests (pycsep's `seed=`) and their number of simulations.
const TEST_SEED: u32 = 12345;
const N_SIMS: usize = 1000;

fn show(r: &TestResult) {
    println!(
        "{:>16}: observed {:>10.4}  quantile {:?}  ({:?}, {})",
        r.name,
        r.observed,
        r.quantile,
        r.status,
        if r.passes(0.05) { "passes at 5 %" } else { "rejected at 5 %" }
    );
}

fn main() -> point_process::Result<()> {
    let out = std::env::args().nth(1).map(std::path::PathBuf::from);
    let cat = ridgecrest_2019()?;
    let (t0, t1) = (RIDGECREST_T_START + 6.0, RIDGECREST_T_START + 7.0);
    let history = cat.until(t0)?;
    let region = *cat.region();
    let start = Etas::new(
        EtasParams::fit_start((30.0 / region.area_km2()).log10()),
        RIDGECREST_MC,
        history.b_value()?,
    )?;
    let fit = etas::fit(&history, &start, &EtasFitConfig::default())?;
    let model = fit.model;
    println!("fitted on {} events, branching ratio {:.3}", history.len(), model.branching_ratio());

    // the sequence's 0.1° cells, magnitude bins of 0.5 from Mc (the last one open)
    let grid = Grid::covering(&Region::new(-118.0, -117.2, 35.3, 36.3)?, 0.1, RIDGECREST_MC, 4.5, 0.5)?;
    let gridded = etas::gridded_forecast(&model, &history, t0, t1, &grid)?;
    let mut sims = etas::forecast_catalogues(&model, &history, t1 - t0, 30, 2019, 200_000)?;
    for c in &mut sims.catalogues {
        c.retain(|q| grid.bin_of(q).is_some());
    }
    let observed = grid.observed(cat.events(), t0, t1);
    let counts = grid.counts_strict(&observed)?;
    println!(
        "day 7: {} events observed in the grid; gridded forecast {:.1}, simulated mean {:.1}",
        observed.len(),
        gridded.total(),
        sims.catalogues.iter().map(Vec::len).sum::<usize>() as f64 / sims.len() as f64
    );

    let seeded = || NumpyLegacy::new(TEST_SEED);
    show(&csep::gridded::n_test(&gridded, &counts)?);
    show(&csep::gridded::n_test_negative_binomial(&gridded, &counts, 2.0 * gridded.total())?);
    show(&csep::gridded::l_test(&gridded, &counts, N_SIMS, &mut seeded())?);
    show(&csep::gridded::cl_test(&gridded, &counts, N_SIMS, &mut seeded())?);
    show(&csep::gridded::m_test(&gridded, &counts, N_SIMS, &mut seeded())?);
    show(&csep::gridded::s_test(&gridded, &counts, N_SIMS, &mut seeded())?);
    show(&csep::catalogue::n_test(&sims, &grid, &observed)?);
    show(&csep::catalogue::s_test(&sims, &grid, &observed)?);
    show(&csep::catalogue::m_test(&sims, &grid, &observed)?);
    show(&csep::catalogue::pseudo_likelihood_test(&sims, &grid, &observed)?);

    if let Some(dir) = out {
        std::fs::create_dir_all(&dir)?;
        gridded.write_dat(&dir.join("forecast.dat"))?;
        sims.write_csv(&dir.join("catalogue_forecast.csv"))?;
        core_tensor::checkpoint::write_bytes_atomic(
            &dir.join("etas_model.json"),
            serde_json::to_string_pretty(&model)?.as_bytes(),
        )?;
        println!("wrote forecast.dat, catalogue_forecast.csv and etas_model.json to {}", dir.display());
    }
    Ok(())
}
