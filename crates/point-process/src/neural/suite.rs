//! Suite tasks of the neural half: every neural model against the true NLL on 5-D Hawkes data,
//! and ETAS against every neural model on a simulated catalogue under EarthquakeNPP's
//! chronological protocol.

use super::benchmark::{
    chronological_windows, fit_and_evaluate, hawkes_5d, hawkes_nll_per_event, simulate_many, ModelRun,
    RunSettings,
};
use super::config::Model;
use super::train::TppTrainConfig;
use crate::data::{EventSequence, Region};
use crate::etas::{self, Etas, EtasFitConfig};
use core_tensor::bench::{progress_bar, Better, Metric, Plot, SuiteConfig, Task, TaskReport, TaskResult};
use core_tensor::seed::{derive_seed, rng};
use core_tensor::Result;

/// Trains every model in `Model::ALL` with a progress bar.
pub(super) fn run_all(
    cfg: &SuiteConfig,
    k: usize,
    data: [&[EventSequence]; 3],
    from: Option<&[f64]>,
    s: &RunSettings,
) -> Result<Vec<ModelRun>> {
    let pb = progress_bar(Model::ALL.len() as u64, "neural tpps", cfg.progress);
    let mut out = Vec::new();
    for m in Model::ALL {
        out.push(fit_and_evaluate(m, k, data, from, s, cfg.seed)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// Validation NLL per epoch of every model.
fn curves(id: &str, title: &str, runs: &[ModelRun], reference: Option<(f64, &str)>) -> Plot {
    let mut p = Plot::new(id, title, "epoch", "validation NLL per event");
    for r in runs {
        let pts =
            r.history.epochs.iter().filter_map(|e| e.val_loss.map(|v| ((e.epoch + 1) as f64, v))).collect();
        p = p.line(r.spec.name(), pts);
    }
    if let Some((v, name)) = reference {
        let n = runs.iter().map(|r| r.history.epochs.len()).max().unwrap_or(1) as f64;
        p = p.line(name, vec![(1.0, v), (n, v)]);
    }
    p
}

/// Every neural model on 5-D exponential Hawkes data, against the exact NLL of the true model.
pub const NEURAL_TPP_HAWKES_GAP: Task = Task::new(
    "neural_tpp_hawkes_gap",
    "RMTPP, NHP, SAHP, THP, AttNHP, FullyNN, IntensityFree on 5-D Hawkes data: test NLL/event gap to the true model",
    neural_tpp_hawkes_gap,
);

fn neural_tpp_hawkes_gap(cfg: &SuiteConfig) -> TaskResult {
    let truth = hawkes_5d()?;
    let t_end = 20.0;
    let (n_train, n_val, n_test) = cfg.pick((250, 50, 120), (2000, 300, 500));
    let train = simulate_many(&truth, n_train, t_end, derive_seed(cfg.seed, 1))?;
    let val = simulate_many(&truth, n_val, t_end, derive_seed(cfg.seed, 2))?;
    let test = simulate_many(&truth, n_test, t_end, derive_seed(cfg.seed, 3))?;
    let true_nll = hawkes_nll_per_event(&truth, &test)?;
    let true_val = hawkes_nll_per_event(&truth, &val)?;
    let settings = RunSettings {
        hidden: 32,
        layers: 1,
        train: TppTrainConfig {
            epochs: cfg.pick(6, 60),
            batch_size: 32,
            lr: 5e-3,
            patience: cfg.pick(3, 6),
            progress: false,
            ..Default::default()
        },
        device: cfg.device,
    };
    let runs = run_all(cfg, 5, [&train, &val, &test], None, &settings)?;
    let threshold = cfg.pick(QUICK_GAP, 0.05);
    let mut r = TaskReport::new();
    r.metric("true_test_nll_per_event", Metric::new(true_nll, "nats/event", Better::Lower))?;
    let events: usize = test.iter().map(|s| s.len()).sum();
    r.metric("test_events", Metric::new(events as f64, "events", Better::Higher))?;
    let mut gaps = Vec::new();
    let mut table = String::from("model | NLL | gap | time | mark | RMSE | acc | PCE | ECE | train s\n");
    for run in &runs {
        let (n, x) = (run.spec.name(), run.metrics);
        let gap = x.nll_per_event - true_nll;
        gaps.push(gap);
        r.metric(
            format!("{n}_test_nll_per_event"),
            Metric::new(x.nll_per_event, "nats/event", Better::Lower)
                .with_reference(true_nll, "true Hawkes model"),
        )?;
        r.metric(format!("{n}_nll_gap"), Metric::new(gap, "nats/event", Better::Lower))?;
        report_forecast(&mut r, &n, run)?;
        table.push_str(&format!(
            "{n} | {:.4} | {gap:.4} | {:.4} | {:.4} | {:.4} | {:.3} | {:.4} | {:.4} | {:.1}\n",
            x.nll_per_event,
            x.nll_time_per_event,
            x.nll_mark_per_event,
            x.rmse_next_time,
            x.mark_accuracy,
            x.time_calibration_error,
            x.mark_ece,
            run.train_s
        ));
    }
    let best = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    r.metric("best_nll_gap", Metric::new(best, "nats/event", Better::Lower).with_goal(threshold))?;
    r.headline("best_nll_gap");
    r.note(format!(
        "{n_train} training / {n_val} validation / {n_test} test sequences on [0, {t_end}], H = 32, 1 attention layer, Adam 5e-3, batch 32, early stopping on the validation NLL; true test NLL/event = {true_nll:.4}. Gap = model NLL − true NLL (log L with the tail compensator, not tick's score)."
    ));
    r.note(table);
    let pts: Vec<(f64, f64)> = gaps.iter().enumerate().map(|(i, g)| (i as f64, *g)).collect();
    let last = (Model::ALL.len() - 1) as f64;
    r.plot(
        Plot::new("nll_gap", "Test NLL gap to the true Hawkes model", "model", "gap (nats/event)")
            .categories(Model::ALL.iter().map(|m| m.name()))
            .scatter("gap", pts)
            .line("goal", vec![(0.0, threshold), (last, threshold)]),
    );
    r.plot(curves(
        "validation_nll",
        "Validation NLL per event while training",
        &runs,
        Some((true_val, "true model")),
    ));
    Ok(r)
}

/// The quick profile's reachable bound on the best model's gap (few sequences and epochs).
pub const QUICK_GAP: f64 = 0.05;

pub(super) fn report_forecast(r: &mut TaskReport, n: &str, run: &ModelRun) -> Result<()> {
    let x = run.metrics;
    r.metric(
        format!("{n}_nll_time_per_event"),
        Metric::new(x.nll_time_per_event, "nats/event", Better::Lower),
    )?;
    r.metric(
        format!("{n}_nll_mark_per_event"),
        Metric::new(x.nll_mark_per_event, "nats/event", Better::Lower),
    )?;
    r.metric(format!("{n}_rmse_next_time"), Metric::new(x.rmse_next_time, "time", Better::Lower))?;
    r.metric(format!("{n}_mark_accuracy"), Metric::new(x.mark_accuracy, "", Better::Higher))?;
    r.metric(
        format!("{n}_time_calibration_error"),
        Metric::new(x.time_calibration_error, "", Better::Lower).with_reference(0.0, "calibrated"),
    )?;
    r.metric(
        format!("{n}_mark_ece"),
        Metric::new(x.mark_ece, "", Better::Lower).with_reference(0.0, "calibrated"),
    )?;
    r.metric(format!("{n}_train_s"), Metric::new(run.train_s, "s", Better::Lower))?;
    r.metric(format!("{n}_epochs"), Metric::new(run.history.epochs.len() as f64, "", Better::Lower))?;
    Ok(())
}

/// Magnitude classes used as marks by the neural models: `[Mc, Mc + 0.5)`, `[Mc + 0.5, Mc + 1.5)`,
/// `≥ Mc + 1.5`.
pub(super) fn magnitude_class(m: f64, mc: f64) -> usize {
    if m < mc + 0.5 {
        0
    } else if m < mc + 1.5 {
        1
    } else {
        2
    }
}

/// Temporal ETAS (the classical half) against every neural model on a simulated catalogue, with
/// EarthquakeNPP's protocol: chronological train / validation / test periods, the earlier history
/// as context of the test period, temporal log-likelihood per test event (TLL, tail included).
pub const NEURAL_TPP_ETAS_PROTOCOL: Task = Task::new(
    "neural_tpp_etas_protocol",
    "EarthquakeNPP protocol on a simulated temporal ETAS catalogue: fitted ETAS vs every neural TPP, test TLL/event",
    neural_tpp_etas_protocol,
);

fn neural_tpp_etas_protocol(cfg: &SuiteConfig) -> TaskResult {
    let truth = crate::etas::presets::benchmark_truth(-0.3, false)?; // μ in events per day
    let region = Region::new(-118.0, -116.0, 33.0, 35.0)?;
    let (t_val, t_test, t_end) = cfg.pick((900.0, 1050.0, 1300.0), (4000.0, 4500.0, 5500.0));
    let full =
        etas::simulate(&truth, region, 0.0, 100.0, t_end, &mut rng(derive_seed(cfg.seed, 7)), 5_000_000)?;
    // ETAS: fit on the training period (history before 100 days), score the test period
    let train_cat = full.until(t_val)?;
    let start = crate::etas::presets::benchmark_start(-0.8, false, train_cat.b_value()?)?;
    let fit = etas::fit(&train_cat, &start, &EtasFitConfig::default())?;
    let test_cat = crate::data::Catalogue::new(full.events().to_vec(), 0.0, t_test, t_end, 3.0, region)?;
    let tll = |m: &Etas| -> Result<(f64, usize)> {
        let s = etas::event_scores(m, &test_cat)?;
        let n = s.tll.len();
        Ok(((s.tll.iter().sum::<f64>() + s.tail) / n.max(1) as f64, n))
    };
    let (etas_fit_tll, n_test) = tll(&fit.model)?;
    let (etas_true_tll, _) = tll(&Etas { b_value: fit.model.b_value, ..truth })?;
    // neural models: magnitude classes as marks, windows of the training and validation periods
    let times: Vec<f64> = full.events().iter().map(|q| q.time).collect();
    let marks: Vec<usize> = full.events().iter().map(|q| magnitude_class(q.mag, 3.0)).collect();
    let seq = EventSequence::new(times, Some(marks), 3, 0.0, t_end)?;
    let (train, val, test, from) = chronological_windows(&seq, t_val, t_test, cfg.pick(50.0, 100.0), 100.0)?;
    let settings = RunSettings {
        hidden: 32,
        layers: 1,
        train: TppTrainConfig {
            epochs: cfg.pick(12, 40),
            batch_size: 8,
            lr: 5e-3,
            patience: cfg.pick(4, 6),
            ..Default::default()
        },
        device: cfg.device,
    };
    let runs = run_all(cfg, 3, [&train, &val, std::slice::from_ref(&test)], Some(&[from]), &settings)?;
    let mut r = TaskReport::new();
    r.headline("etas_fitted_test_tll_per_event");
    r.metric("test_events", Metric::new(n_test as f64, "events", Better::Higher))?;
    r.metric(
        "etas_fitted_test_tll_per_event",
        Metric::new(etas_fit_tll, "nats/event", Better::Higher).with_reference(etas_true_tll, "true ETAS"),
    )?;
    r.metric("etas_true_test_tll_per_event", Metric::new(etas_true_tll, "nats/event", Better::Higher))?;
    let n_train_ev = train_cat.len() - train_cat.first_target();
    let rate = n_train_ev as f64 / (t_val - train_cat.t_start());
    let pois = rate.ln() - rate * (t_end - t_test) / n_test.max(1) as f64;
    r.metric("poisson_test_tll_per_event", Metric::new(pois, "nats/event", Better::Higher))?;
    let mut pts = vec![(0.0, etas_fit_tll)];
    let mut table = String::from("model | test TLL/event | mark NLL/event | train s\n");
    table.push_str(&format!(
        "etas (fitted) | {etas_fit_tll:.4} | - | -\netas (true) | {etas_true_tll:.4} | - | -\n"
    ));
    for (i, run) in runs.iter().enumerate() {
        let n = run.spec.name();
        let tll_n = -run.metrics.nll_time_per_event;
        r.metric(
            format!("{n}_test_tll_per_event"),
            Metric::new(tll_n, "nats/event", Better::Higher).with_reference(etas_fit_tll, "fitted ETAS"),
        )?;
        report_forecast(&mut r, &n, run)?;
        pts.push(((i + 1) as f64, tll_n));
        table.push_str(&format!(
            "{n} | {tll_n:.4} | {:.4} | {:.1}\n",
            run.metrics.nll_mark_per_event, run.train_s
        ));
    }
    r.note(format!(
        "Temporal ETAS catalogue (branching ratio 0.6, Mc = 3) on [0, {t_end}] days; training period [100, {t_val}] (neural models: windows of {} days), validation [{t_val}, {t_test}], test [{t_test}, {t_end}] with 100 days of context. TLL = Σ(log λ*(t_i) − Λ since the previous event) + tail, per test event; the neural models see magnitude classes as marks and their mark part is reported separately.",
        cfg.pick(50, 100)
    ));
    r.note(table);
    let names = std::iter::once("fitted ETAS").chain(Model::ALL.iter().map(|m| m.name()));
    r.plot(
        Plot::new("test_tll", "Test TLL per event", "model", "TLL (nats/event)")
            .categories(names)
            .scatter("TLL", pts)
            .line("true ETAS", vec![(0.0, etas_true_tll), (Model::ALL.len() as f64, etas_true_tll)]),
    );
    r.plot(curves(
        "validation_nll",
        "Validation NLL per event while training (catalogue windows)",
        &runs,
        None,
    ));
    Ok(r)
}
