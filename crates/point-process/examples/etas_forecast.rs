//! Simulate a spatio-temporal ETAS catalogue, fit it (EM + maximum likelihood, standard errors),
//! score a held-out window with EarthquakeNPP's temporal and spatial log-likelihoods, and forecast
//! the next 30 days with a number test.
//!
//! `cargo run -p sciml-point-process --example etas_forecast --release`

use point_process::data::{Catalogue, Region};
use point_process::etas::{self, Etas, EtasFitConfig, EtasParams, PARAM_NAMES};

fn main() -> point_process::Result<()> {
    let p = etas::presets::benchmark_params(-4.6, -2.4);
    let truth = Etas::new(p, 3.0, 1.0)?;
    println!("branching ratio {:.3}", truth.branching_ratio());
    let region = Region::new(-118.0, -116.0, 33.0, 35.0)?;
    let full = etas::simulate(&truth, region, 0.0, 200.0, 1800.0, &mut core_tensor::seed::rng(1), 5_000_000)?;
    let train = full.until(1500.0)?;
    println!("{} events ({} targets in training)", full.len(), train.len() - train.first_target());

    let start = Etas::new(EtasParams::fit_start(-4.0), 3.0, train.b_value()?)?;
    let fit = etas::fit(&train, &start, &EtasFitConfig::default())?;
    let se = fit.std_errors.unwrap_or([f64::NAN; 9]);
    for (k, name) in PARAM_NAMES.iter().enumerate() {
        println!(
            "{name:>10}: {:8.3} ± {:.3} (truth {:8.3})",
            fit.model.params.to_vec()[k],
            se[k],
            p.to_vec()[k]
        );
    }

    let test = Catalogue::new(full.events().to_vec(), 0.0, 1500.0, 1800.0, 3.0, region)?;
    let s = etas::event_scores(&fit.model, &test)?;
    println!("held-out: TLL {:.3} and SLL {:.3} nats per event", s.mean_tll(), s.mean_sll());

    let fc = etas::forecast(&fit.model, &train, 30.0, 1000, 7)?;
    let observed = full.events().iter().filter(|q| q.time > 1500.0 && q.time <= 1530.0).count();
    let nt = fc.n_test(observed);
    println!(
        "30-day forecast: mean {:.1}, 5–95% [{}, {}], observed {observed}: δ1 = {:.3}, δ2 = {:.3} ({})",
        fc.mean(),
        fc.quantile(0.05),
        fc.quantile(0.95),
        nt.delta1,
        nt.delta2,
        if nt.passes(0.05) { "passes" } else { "fails" }
    );
    Ok(())
}
