//! Suite tasks of `point-process` (classical half): Hawkes parameter recovery over seeds,
//! goodness of fit of true and misspecified models, an intensity plot, and an ETAS fit with
//! held-out temporal/spatial scores and a forecast number test.

use crate::data::Region;
use crate::error::Result as PpResult;
use crate::etas::{self, Etas, EtasFitConfig, PARAM_NAMES};
use crate::hawkes::{
    self, fit_em, fit_mle, goodness_of_fit, residuals, Basis, EmConfig, FitConfig, Hawkes, SimOptions,
};
use core_tensor::bench::{
    progress_bar, Better, Metric, Plot, SuiteConfig, Task, TaskGroup, TaskReport, TaskResult,
};
use core_tensor::seed::{derive_seed, rng};
use nalgebra::DMatrix;

/// All `point-process` tasks.
pub fn tasks() -> TaskGroup {
    TaskGroup::new("point-process").with_all([
        HAWKES_PARAMETER_RECOVERY,
        HAWKES_GOODNESS_OF_FIT,
        HAWKES_INTENSITY,
        ETAS_FIT,
        crate::neural::suite::NEURAL_TPP_HAWKES_GAP,
        crate::neural::suite::NEURAL_TPP_ETAS_PROTOCOL,
        crate::neural::real_data::ETAS_VS_NPP_REAL,
    ])
}

fn percentile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((q * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)]
}

/// The 3-D model of the recovery task.
fn recovery_truth() -> PpResult<Hawkes> {
    let a = DMatrix::from_row_slice(3, 3, &[0.30, 0.10, 0.15, 0.20, 0.25, 0.10, 0.10, 0.15, 0.30]);
    Hawkes::exponential(vec![0.3, 0.4, 0.5], a, 2.0)
}

/// Simulate → fit (MLE with the decay learned, and EM) → relative error of every parameter, over
/// seeds.
pub const HAWKES_PARAMETER_RECOVERY: Task = Task::new(
    "hawkes_parameter_recovery",
    "3-D exponential Hawkes (~80k events per seed): MLE (β learned) and EM vs the true μ, α, β",
    hawkes_parameter_recovery,
);

fn hawkes_parameter_recovery(cfg: &SuiteConfig) -> TaskResult {
    let truth = recovery_truth()?;
    let seeds = cfg.pick(5, 20);
    let t_end = 30_000.0;
    let start = Hawkes::exponential(vec![0.1; 3], DMatrix::from_element(3, 3, 0.05), 0.5)?;
    let (mut e_mu, mut e_alpha, mut e_beta, mut e_em, mut n_events) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut scatter = Vec::new();
    let pb = progress_bar(seeds as u64, "hawkes recovery", cfg.progress);
    for s in 0..seeds {
        let mut r = rng(derive_seed(cfg.seed, s as u64));
        let seq = truth.simulate_ogata(SimOptions::new(t_end), &mut r)?;
        n_events.push(seq.len() as f64);
        let f = fit_mle(&start, std::slice::from_ref(&seq), &FitConfig::default())?;
        let em = fit_em(&start, std::slice::from_ref(&seq), &EmConfig::default())?;
        let rel = |e: f64, t: f64| (e - t).abs() / t;
        e_mu.push(f.model.mu().iter().zip(truth.mu()).map(|(e, t)| rel(*e, *t)).fold(0.0, f64::max));
        e_alpha.push(
            f.model.alpha()[0]
                .iter()
                .zip(truth.alpha()[0].iter())
                .map(|(e, t)| rel(*e, *t))
                .fold(0.0, f64::max),
        );
        let (Basis::Exp { beta }, Basis::Exp { beta: bt }) = (f.model.bases()[0], truth.bases()[0]) else {
            unreachable!()
        };
        e_beta.push(rel(beta, bt));
        e_em.push((f.log_likelihood - em.log_likelihood).abs() / f.log_likelihood.abs());
        scatter.extend(truth.mu().iter().zip(f.model.mu()).map(|(t, e)| (*t, *e)));
        scatter.extend(truth.alpha()[0].iter().zip(f.model.alpha()[0].iter()).map(|(t, e)| (*t, *e)));
        scatter.push((bt / 4.0, beta / 4.0));
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut r = TaskReport::new();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (name, v) in [("mu", &e_mu), ("alpha", &e_alpha), ("beta", &e_beta)] {
        r.metric(
            format!("max_rel_error_{name}_mean"),
            Metric::new(mean(v), "", Better::Lower).with_goal(0.1),
        )?;
        r.metric(format!("max_rel_error_{name}_p90"), Metric::new(percentile(v, 0.9), "", Better::Lower))?;
    }
    r.metric(
        "mle_vs_em_rel_loglik_gap",
        Metric::new(mean(&e_em), "", Better::Lower).with_reference(0.0, "both maximise the same likelihood"),
    )?;
    r.metric("events_per_seed", Metric::new(mean(&n_events), "events", Better::Higher))?;
    r.metric("seeds", Metric::new(seeds as f64, "", Better::Higher))?;
    r.note("Relative errors are the maximum over the parameters of each kind, per seed; p90 is over seeds. β is shown scaled by 1/4 in the plot.");
    r.plot(
        Plot::new(
            "estimates_vs_truth",
            "Hawkes MLE: estimates against the truth (all seeds)",
            "true value",
            "estimate",
        )
        .scatter("μ, α, β/4", scatter)
        .line("y = x", vec![(0.0, 0.0), (0.55, 0.55)]),
    );
    Ok(r)
}

/// Time-rescaling KS tests of the true model, a refitted Hawkes model and misspecified models.
pub const HAWKES_GOODNESS_OF_FIT: Task = Task::new(
    "hawkes_goodness_of_fit",
    "KS test of time-rescaled residuals: true and refitted Hawkes vs Poisson and a wrong-decay misfit",
    hawkes_goodness_of_fit,
);

fn hawkes_goodness_of_fit(cfg: &SuiteConfig) -> TaskResult {
    let truth =
        Hawkes::exponential(vec![0.3, 0.3], DMatrix::from_row_slice(2, 2, &[0.4, 0.2, 0.1, 0.5]), 2.0)?;
    let mut g = rng(cfg.seed);
    let seq = truth.simulate_ogata(SimOptions::new(cfg.pick(3000.0, 20_000.0)), &mut g)?;
    let seqs = std::slice::from_ref(&seq);
    let refit = fit_mle(
        &Hawkes::exponential(vec![0.1; 2], DMatrix::from_element(2, 2, 0.1), 1.0)?,
        seqs,
        &FitConfig::default(),
    )?
    .model;
    let rates: Vec<f64> = seq.counts().iter().map(|c| *c as f64 / seq.duration()).collect();
    let poisson = Hawkes::exponential(rates, DMatrix::zeros(2, 2), 1.0)?;
    // misspecified time scale: the decay fixed 10× too slow, μ and α refitted
    let slow = FitConfig { learn_kernel: false, ..Default::default() };
    let wrong =
        fit_mle(&Hawkes::exponential(vec![0.1; 2], DMatrix::from_element(2, 2, 0.1), 0.2)?, seqs, &slow)?
            .model;
    let mut r = TaskReport::new();
    let mut qq = Plot::new(
        "residual_qq",
        "Time-rescaled residuals against Exp(1)",
        "Exp(1) quantile",
        "residual quantile",
    );
    for (name, m) in
        [("true", &truth), ("refitted_exp", &refit), ("poisson", &poisson), ("wrong_decay", &wrong)]
    {
        let ks = goodness_of_fit(m, seqs)?;
        r.metric(format!("ks_pvalue_{name}"), Metric::new(ks.p_value, "", Better::Higher))?;
        r.metric(format!("ks_statistic_{name}"), Metric::new(ks.statistic, "", Better::Lower))?;
        let mut res: Vec<f64> = residuals(m, &seq)?.into_iter().flatten().collect();
        res.sort_by(f64::total_cmp);
        let n = res.len();
        let pts = (1..100).map(|k| {
            let q = k as f64 / 100.0;
            (-(1.0 - q).ln(), res[((q * n as f64) as usize).min(n - 1)])
        });
        qq = qq.line(name, pts.collect());
    }
    r.note("p-values above 0.05 mean the model is not rejected; the Poisson model (no self-excitation) and the model with a 10× too slow decay should be rejected.");
    r.plot(qq.line("y = x", vec![(0.0, 0.0), (4.6, 4.6)]));
    Ok(r)
}

/// The intensity of a simulated 2-D process on a grid, with its events; checks that the grid
/// integral of the intensity matches the exact compensator.
pub const HAWKES_INTENSITY: Task = Task::new(
    "hawkes_intensity",
    "intensity of a 2-D Hawkes process on a grid (SVG) and its integral against the exact compensator",
    hawkes_intensity,
);

fn hawkes_intensity(cfg: &SuiteConfig) -> TaskResult {
    let h = Hawkes::exponential(vec![0.4, 0.2], DMatrix::from_row_slice(2, 2, &[0.5, 0.3, 0.2, 0.4]), 1.5)?;
    let seq = h.simulate_ogata(SimOptions::new(60.0), &mut rng(cfg.seed))?;
    let n_grid = 60_001;
    let grid: Vec<f64> = (0..n_grid).map(|k| 60.0 * k as f64 / (n_grid - 1) as f64).collect();
    let lam = h.intensity_grid(&seq, &grid)?;
    // trapezoid rule of λ_0 + λ_1 against the compensator at t_end
    let dt = grid[1] - grid[0];
    let trap: f64 = lam.windows(2).map(|w| 0.5 * dt * (w[0][0] + w[0][1] + w[1][0] + w[1][1])).sum();
    let (ll, _) = hawkes::log_likelihood_with_grad(&h, &seq, false)?;
    let log_sum: f64 = {
        let at = h.intensity_grid(&seq, seq.times())?;
        seq.iter().zip(at).map(|((_, i), l)| l[i].ln()).sum()
    };
    let exact = log_sum - ll;
    let mut r = TaskReport::new();
    r.metric(
        "grid_integral_rel_error",
        Metric::new((trap - exact).abs() / exact, "", Better::Lower).with_reference(0.0, "exact compensator"),
    )?;
    r.metric("events", Metric::new(seq.len() as f64, "events", Better::Higher))?;
    let step = 50;
    let mut plot = Plot::new("intensity", "2-D Hawkes intensity and events", "time", "intensity");
    for d in 0..2 {
        plot = plot.line(
            format!("λ_{d}(t)"),
            grid.iter().zip(&lam).step_by(step).map(|(t, l)| (*t, l[d])).collect(),
        );
    }
    for d in 0..2 {
        plot = plot.scatter(
            format!("events of type {d}"),
            seq.times_of(d).into_iter().map(|t| (t, 0.05 + 0.1 * d as f64)).collect(),
        );
    }
    r.plot(plot);
    Ok(r)
}

fn etas_truth() -> PpResult<Etas> {
    etas::presets::benchmark_truth(-4.6, true)
}

/// ETAS on a simulated spatio-temporal catalogue: fit on a training window, report estimates
/// against the truth with standard errors, held-out temporal and spatial log-likelihood per event
/// (fitted vs true vs Poisson), and a 30-day forecast number test.
pub const ETAS_FIT: Task = Task::new(
    "etas_fit",
    "spatio-temporal ETAS: EM + MLE on a simulated catalogue, estimates vs truth, held-out TLL/SLL, N-test",
    etas_fit,
);

fn etas_fit(cfg: &SuiteConfig) -> TaskResult {
    let truth = etas_truth()?;
    let region = Region::new(-118.0, -116.0, 33.0, 35.0)?;
    let (t_train, t_test) = (cfg.pick(1000.0, 5000.0), cfg.pick(1200.0, 6000.0));
    let full = etas::simulate(&truth, region, 0.0, 200.0, t_test, &mut rng(cfg.seed), 5_000_000)?;
    let train = full.until(t_train)?;
    let start = etas::presets::benchmark_start(-4.0, true, train.b_value()?)?;
    let pb = progress_bar(1, "etas fit", cfg.progress);
    let fit = etas::fit(&train, &start, &EtasFitConfig::default())?;
    pb.finish_and_clear();
    let mut r = TaskReport::new();
    r.headline("likelihood_ratio_vs_truth");
    r.metric(
        "train_events",
        Metric::new((train.len() - train.first_target()) as f64, "events", Better::Higher),
    )?;
    let lr = 2.0
        * (fit.log_likelihood - etas::log_likelihood(&Etas { b_value: fit.model.b_value, ..truth }, &train)?);
    r.metric(
        "likelihood_ratio_vs_truth",
        Metric::new(lr, "", Better::Lower).with_goal(27.88).with_reference(27.88, "χ²(9) 99.9% quantile"),
    )?;
    let est = fit.model.params.to_vec();
    let tru = truth.params.to_vec();
    let mut within = 0;
    let se = fit.std_errors.unwrap_or([f64::NAN; 9]);
    for k in 0..9 {
        r.metric(
            format!("estimate_{}", PARAM_NAMES[k]),
            Metric::new(est[k], "", Better::Lower).with_reference(tru[k], "simulation truth"),
        )?;
        if se[k].is_finite() {
            r.metric(
                format!("z_{}", PARAM_NAMES[k]),
                Metric::new((est[k] - tru[k]) / se[k], "σ", Better::Lower)
                    .with_reference(0.0, "unbiased estimate"),
            )?;
            within += ((est[k] - tru[k]).abs() < 2.0 * se[k]) as usize;
        }
    }
    r.metric("params_within_2_se", Metric::new(within as f64, "of 9", Better::Higher))?;
    // held-out window: history = everything before t_train
    let test = crate::data::Catalogue::new(full.events().to_vec(), 0.0, t_train, t_test, 3.0, region)?;
    for (name, m) in [("fitted", fit.model), ("true", Etas { b_value: fit.model.b_value, ..truth })] {
        let s = etas::event_scores(&m, &test)?;
        r.metric(
            format!("test_tll_per_event_{name}"),
            Metric::new(s.mean_tll(), "nats/event", Better::Higher),
        )?;
        r.metric(
            format!("test_sll_per_event_{name}"),
            Metric::new(s.mean_sll(), "nats/event", Better::Higher),
        )?;
    }
    // a homogeneous Poisson baseline in time and space
    let n_test = (test.len() - test.first_target()) as f64;
    let rate = (train.len() - train.first_target()) as f64 / (t_train - train.t_start());
    let pois_tll = rate.ln() - rate * (t_test - t_train) / n_test;
    r.metric("test_tll_per_event_poisson", Metric::new(pois_tll, "nats/event", Better::Higher))?;
    r.metric(
        "test_sll_per_event_poisson",
        Metric::new(-region.area_km2().ln(), "nats/event", Better::Higher),
    )?;
    // 30-day forecast from the end of training
    let fc = etas::forecast(&fit.model, &train, 30.0, cfg.pick(300, 5000), cfg.seed)?;
    let observed = full.events().iter().filter(|q| q.time > t_train && q.time <= t_train + 30.0).count();
    let nt = fc.n_test(observed);
    r.metric(
        "forecast_30d_mean",
        Metric::new(fc.mean(), "events", Better::Lower).with_reference(observed as f64, "observed count"),
    )?;
    r.metric("ntest_delta1", Metric::new(nt.delta1, "", Better::Higher))?;
    r.metric("ntest_delta2", Metric::new(nt.delta2, "", Better::Higher))?;
    r.note(format!("N-test at α = 0.05: {}", if nt.passes(0.05) { "passed" } else { "failed" }));
    r.note("TLL = log λ*(t_i) − ∫ λ* since the previous event; SLL = log λ(t_i, x_i) − log λ*(t_i) (EarthquakeNPP's metrics).");
    let mut hist = Plot::new(
        "forecast_counts",
        "30-day forecast: simulated counts",
        "events in 30 days",
        "fraction of simulations",
    );
    let max = *fc.counts.iter().max().unwrap_or(&0);
    let bins: Vec<(f64, f64)> = (0..=max)
        .map(|k| (k as f64, fc.counts.iter().filter(|&&c| c == k).count() as f64 / fc.counts.len() as f64))
        .collect();
    hist = hist.line("forecast", bins).scatter("observed", vec![(observed as f64, 0.0)]);
    r.plot(hist);
    Ok(r)
}
