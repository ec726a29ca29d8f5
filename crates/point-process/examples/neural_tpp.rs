//! Neural TPPs against the true model on 5-D exponential Hawkes data: trains the chosen models,
//! then prints each one's test NLL per event, its gap to the true model's NLL and the forecast
//! metrics, and samples continuations from the best one. MODELS are preset names or
//! `encoder+decoder` combinations of the study's grid.
//!
//! ```text
//! cargo run -p sciml-point-process --release --example neural_tpp -- [MODELS] [TRAIN_SEQS] [EPOCHS]
//! cargo run -p sciml-point-process --release --example neural_tpp -- rmtpp,sahp,intensity_free 500 20
//! cargo run -p sciml-point-process --release --example neural_tpp -- gru+sahp,self_attention+log_normal_mixture
//! ```

use point_process::neural::benchmark::Spec;
use point_process::neural::benchmark::{
    fit_and_evaluate, hawkes_5d, hawkes_nll_per_event, simulate_many, RunSettings,
};
use point_process::neural::{generate, Model, SampleConfig, TppTrainConfig};

fn main() -> point_process::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let models: Vec<Spec> = match args.first() {
        Some(s) => s.split(',').map(str::parse).collect::<point_process::Result<_>>()?,
        None => Model::ALL.into_iter().map(Spec::from).collect(),
    };
    let n_train: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let epochs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(15);
    let device = core_tensor::device::device();
    let truth = hawkes_5d()?;
    let t_end = 20.0;
    let train = simulate_many(&truth, n_train, t_end, 1)?;
    let val = simulate_many(&truth, 100, t_end, 2)?;
    let test = simulate_many(&truth, 200, t_end, 3)?;
    let true_nll = hawkes_nll_per_event(&truth, &test)?;
    println!("5-D Hawkes, {n_train} training sequences on [0, {t_end}], true test NLL/event = {true_nll:.4}");
    println!(
        "{:<15} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "model", "NLL", "gap", "time", "mark", "RMSE", "acc", "PCE", "train_s"
    );
    let settings = RunSettings {
        hidden: 32,
        layers: 1,
        train: TppTrainConfig { epochs, batch_size: 32, lr: 5e-3, patience: 3, ..Default::default() },
        device,
    };
    let mut best: Option<point_process::neural::benchmark::ModelRun> = None;
    for m in models {
        let r = fit_and_evaluate(m, 5, [&train, &val, &test], None, &settings, 0)?;
        let x = r.metrics;
        println!(
            "{:<15} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>7.1}",
            m.name(),
            x.nll_per_event,
            x.nll_per_event - true_nll,
            x.nll_time_per_event,
            x.nll_mark_per_event,
            x.rmse_next_time,
            x.mark_accuracy,
            x.time_calibration_error,
            r.train_s
        );
        if best.as_ref().is_none_or(|b| x.nll_per_event < b.metrics.nll_per_event) {
            best = Some(r);
        }
    }
    if let Some(b) = best {
        // continue the first half of a test sequence with the best model, 20 times: the mean
        // number of events against the observed one
        let (hist, t_end) = (test[0].window(0.0, 10.0)?, 20.0);
        let observed = test[0].window(10.0, t_end)?.len();
        let mut rng = core_tensor::seed::rng(0);
        let mut total = 0;
        for _ in 0..20 {
            let cont =
                generate(&b.tpp, &hist, t_end, &mut rng, &SampleConfig::default(), tch::Kind::Float, device)?;
            total += cont.len();
        }
        println!(
            "best model: {}; continuations of [0, 10] to {t_end}: {:.1} events on average, {observed} observed",
            b.spec.name(),
            total as f64 / 20.0
        );
    }
    Ok(())
}
