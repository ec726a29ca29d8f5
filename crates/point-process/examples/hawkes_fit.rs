//! Simulate a 3-D exponential Hawkes process, fit it by maximum likelihood (decay included) and by
//! EM, check the fit with time-rescaled residuals, and write the data in the neural-TPP JSON layout.
//!
//! `cargo run -p sciml-point-process --example hawkes_fit --release`

use nalgebra::DMatrix;
use point_process::data::io::write_tpp_json;
use point_process::hawkes::{fit_em, fit_mle, goodness_of_fit, EmConfig, FitConfig, Hawkes, SimOptions};

fn main() -> point_process::Result<()> {
    let alpha = DMatrix::from_row_slice(3, 3, &[0.30, 0.10, 0.15, 0.20, 0.25, 0.10, 0.10, 0.15, 0.30]);
    let truth = Hawkes::exponential(vec![0.3, 0.4, 0.5], alpha, 2.0)?;
    println!(
        "branching ratio {:.3}, stationary rates {:?}",
        truth.branching_ratio(),
        truth.stationary_mean_intensity()?
    );
    let mut rng = core_tensor::seed::rng(42);
    let seq = truth.simulate_ogata(SimOptions::new(20_000.0), &mut rng)?;
    println!("{} events, counts per type {:?}", seq.len(), seq.counts());

    let start = Hawkes::exponential(vec![0.1; 3], DMatrix::from_element(3, 3, 0.05), 0.5)?;
    let mle = fit_mle(&start, std::slice::from_ref(&seq), &FitConfig::default())?;
    let em = fit_em(&start, std::slice::from_ref(&seq), &EmConfig::default())?;
    println!(
        "MLE: log L = {:.3} after {} iterations; μ = {:.3?}, β = {:?}",
        mle.log_likelihood,
        mle.iterations,
        mle.model.mu(),
        mle.model.bases()[0]
    );
    println!("EM:  log L = {:.3} after {} iterations", em.log_likelihood, em.iterations);
    println!("α estimate:{}", mle.model.alpha()[0]);
    let ks = goodness_of_fit(&mle.model, std::slice::from_ref(&seq))?;
    println!("time-rescaling KS: D = {:.4}, p = {:.3}", ks.statistic, ks.p_value);

    let path = std::env::temp_dir().join("hawkes_3d.json");
    write_tpp_json(&path, &[seq.window(0.0, 1000.0)?])?;
    println!("wrote the first 1000 time units to {}", path.display());
    Ok(())
}
