//! The EarthquakeNPP protocol on a real catalogue: ETAS (temporal and spatio-temporal) against
//! every neural TPP on the 2019 Ridgecrest aftershocks, scored by test log-likelihoods per event
//! and by CSEP consistency tests of daily forecasts over the test period.

use super::benchmark::{chronological_windows, ModelRun, RunSettings};
use super::config::Model;
use super::sample::{generate, SampleConfig};
use super::suite::{magnitude_class, report_forecast, run_all};
use super::train::TppTrainConfig;
use crate::csep::{self, CatalogueForecast, Grid, GriddedForecast, Quantile, TestResult};
use crate::data::{Catalogue, EventSequence, Quake};
use crate::etas::{self, Etas, EtasFitConfig};
use core_tensor::bench::{progress_bar, Better, Metric, Plot, SuiteConfig, Task, TaskReport, TaskResult};
use core_tensor::seed::{derive_seed, rng};
use core_tensor::Result;
use tch::Kind;

/// Lower edges of the magnitude classes the neural models see as marks (`Mc`, `Mc + 0.5`,
/// `Mc + 1.5` for `Mc = 2.5`), the magnitude bins of every daily forecast.
const CLASS_EDGES: [f64; 3] = [2.5, 3.0, 4.0];
/// A magnitude inside each class, given to the events a neural model generates.
const CLASS_MAGS: [f64; 3] = [2.75, 3.5, 4.5];

/// The CSEP tests of one model on one test day.
struct DayTests {
    /// Number test (Poisson for the gridded ETAS forecasts, catalogue-based for simulated ones).
    n: TestResult,
    /// L-test on the magnitude classes over the whole region.
    l: Option<TestResult>,
    /// L- and S-tests on the 0.1° space grid (spatial models).
    space: Option<(TestResult, TestResult)>,
}

fn deltas(r: &TestResult) -> (f64, f64) {
    match r.quantile {
        Quantile::Deltas { delta1, delta2 } => (delta1, delta2),
        Quantile::Gamma(g) => (g, g),
    }
}

/// Events of the day window `[t0, t1)` (`[t0, t1]` for the last window).
fn observed_in(events: &[Quake], t0: f64, t1: f64, last: bool) -> Vec<Quake> {
    events.iter().filter(|q| q.time >= t0 && (q.time < t1 || (last && q.time <= t1))).copied().collect()
}

/// ETAS's gridded one-step forecast of the day, tested on the class grid and (spatial models) on
/// the space grid.
fn etas_day(
    model: &Etas,
    full: &Catalogue,
    (t0, t1, last): (f64, f64, bool),
    (space, classes): (&Grid, &Grid),
    seed: u64,
) -> Result<DayTests> {
    let history = full.until(t0)?;
    let obs = observed_in(full.events(), t0, t1, last);
    let fc = etas::gridded_forecast(model, &history, t0, t1, space)?;
    let counts = space.counts_strict(&obs)?;
    let fc_classes = GriddedForecast::new(classes.clone(), fc.magnitude_rates(), t0, t1)?;
    let class_counts = space.magnitude_marginal(&counts);
    let mut r = rng(seed);
    let n = csep::gridded::n_test(&fc_classes, &class_counts)?;
    let l = csep::gridded::l_test(&fc_classes, &class_counts, 1000, &mut r)?;
    let space_tests = if model.spatial {
        Some((
            csep::gridded::l_test(&fc, &counts, 1000, &mut r)?,
            csep::gridded::s_test(&fc, &counts, 1000, &mut r)?,
        ))
    } else {
        None
    };
    Ok(DayTests { n, l: Some(l), space: space_tests })
}

/// A neural model's catalogue forecast of the day: `n_sims` continuations of the day before,
/// tested by the catalogue N-test and by the L-test of their mean class counts.
#[allow(clippy::too_many_arguments)]
fn neural_day(
    run: &ModelRun,
    events: &[Quake],
    (t0, t1, last): (f64, f64, bool),
    classes: &Grid,
    centre: (f64, f64),
    n_sims: usize,
    seed: u64,
    device: tch::Device,
) -> Result<DayTests> {
    let ctx: Vec<&Quake> = events.iter().filter(|q| q.time >= t0 - 1.0 && q.time < t0).collect();
    let hist = EventSequence::new(
        ctx.iter().map(|q| q.time).collect(),
        Some(ctx.iter().map(|q| magnitude_class(q.mag, CLASS_EDGES[0])).collect()),
        3,
        t0 - 1.0,
        t0,
    )?;
    let cfg = SampleConfig::default();
    let mut cats = Vec::with_capacity(n_sims);
    for k in 0..n_sims {
        let g =
            generate(&run.tpp, &hist, t1, &mut rng(derive_seed(seed, k as u64)), &cfg, Kind::Float, device)?;
        cats.push(
            g.iter()
                .map(|(t, m)| Quake { time: t, lon: centre.0, lat: centre.1, mag: CLASS_MAGS[m], depth: 0.0 })
                .collect(),
        );
    }
    let cf = CatalogueForecast::new(cats, t0, t1)?;
    let obs = observed_in(events, t0, t1, last);
    let n = csep::catalogue::n_test(&cf, classes, &obs)?;
    let rates = cf.expected_rates(classes);
    let l = if rates.iter().sum::<f64>() > 0.0 {
        let fc = GriddedForecast::new(classes.clone(), rates, t0, t1)?;
        Some(csep::gridded::l_test(
            &fc,
            &classes.counts_strict(&obs)?,
            1000,
            &mut rng(derive_seed(seed, 1 << 40)),
        )?)
    } else {
        None
    };
    Ok(DayTests { n, l, space: None })
}

/// Reports one model's daily tests; returns the table cells `N δ1/δ2` and `L γ` over the days.
fn report_days(r: &mut TaskReport, name: &str, days: &[DayTests]) -> Result<(String, String)> {
    let (mut ncell, mut lcell) = (Vec::new(), Vec::new());
    for (d, t) in days.iter().enumerate() {
        let day = d + 6;
        let (d1, d2) = deltas(&t.n);
        r.metric(format!("{name}_day{day}_ntest_delta1"), Metric::new(d1, "", Better::Higher))?;
        r.metric(format!("{name}_day{day}_ntest_delta2"), Metric::new(d2, "", Better::Higher))?;
        ncell.push(format!("{d1:.2}/{d2:.2}"));
        match &t.l {
            Some(l) => {
                r.metric(format!("{name}_day{day}_ltest_gamma"), Metric::new(l.score(), "", Better::Higher))?;
                lcell.push(format!("{:.2}", l.score()));
            }
            None => lcell.push("-".into()),
        }
        if let Some((ls, ss)) = &t.space {
            r.metric(
                format!("{name}_day{day}_space_ltest_gamma"),
                Metric::new(ls.score(), "", Better::Higher),
            )?;
            r.metric(format!("{name}_day{day}_stest_gamma"), Metric::new(ss.score(), "", Better::Higher))?;
        }
    }
    Ok((ncell.join(", "), lcell.join(", ")))
}

/// ETAS (temporal and spatio-temporal) against every neural model on a real catalogue, the 2019
/// Ridgecrest aftershocks ([`crate::data::datasets::ridgecrest_2019`]), with EarthquakeNPP's
/// chronological protocol: days 1–4 train, day 5 validation, days 6–7 (and 3 h of day 8) test,
/// scored by test TLL / SLL per event and by daily CSEP N- and L-tests (S-test for the spatial
/// ETAS).
pub const ETAS_VS_NPP_REAL: Task = Task::new(
    "etas_vs_npp_real",
    "Ridgecrest 2019 (ComCat, 829 events): ETAS vs every neural TPP on days 1-4 / 5 / 6-7, test TLL and SLL per event, daily CSEP N- and L-tests",
    etas_vs_npp_real,
);

fn etas_vs_npp_real(cfg: &SuiteConfig) -> TaskResult {
    use crate::data::datasets::{ridgecrest_2019, RIDGECREST_MC, RIDGECREST_T_END, RIDGECREST_T_START};
    use crate::etas::EtasParams;
    let raw = ridgecrest_2019()?;
    let region = *raw.region();
    // days since 2019-07-06 00:00 UTC
    let events: Vec<Quake> =
        raw.events().iter().map(|q| Quake { time: q.time - RIDGECREST_T_START, ..*q }).collect();
    let (t_val, t_test, t_end) = (4.0, 5.0, RIDGECREST_T_END - RIDGECREST_T_START);
    let full = Catalogue::new(events.clone(), 0.0, 0.0, t_end, RIDGECREST_MC, region)?;
    let train_cat = full.until(t_val)?;
    let b = train_cat.b_value()?;
    let test_cat = Catalogue::new(events.clone(), 0.0, t_test, t_end, RIDGECREST_MC, region)?;
    let n_test = test_cat.len() - test_cat.first_target();
    let mut r = TaskReport::new();
    r.headline("etas_temporal_test_tll_per_event");
    r.metric("train_events", Metric::new(train_cat.len() as f64, "events", Better::Higher))?;
    r.metric("test_events", Metric::new(n_test as f64, "events", Better::Higher))?;
    r.metric("b_value_train", Metric::new(b, "", Better::Higher))?;
    let pb = progress_bar(2, "etas fits", cfg.progress);
    let temporal = Etas::temporal(EtasParams::fit_start(1.5), RIDGECREST_MC, b)?;
    let fit_t = etas::fit(&train_cat, &temporal, &EtasFitConfig::default())?;
    pb.inc(1);
    // background rate per km² per day: ~30 events a day spread over the region's area
    let spatial = Etas::new(EtasParams::fit_start((30.0 / region.area_km2()).log10()), RIDGECREST_MC, b)?;
    let fit_s = etas::fit(&train_cat, &spatial, &EtasFitConfig::default())?;
    pb.finish_and_clear();
    // daily forecasts over the test period: day 6, day 7 and the first 3 h of day 8
    let windows =
        [(t_test, t_test + 1.0, false), (t_test + 1.0, t_test + 2.0, false), (t_test + 2.0, t_end, true)];
    let cells_x = ((region.lon_max - region.lon_min) / 0.1).round() as usize;
    let cells_y = ((region.lat_max - region.lat_min) / 0.1).round() as usize;
    let space = Grid::new(region.lon_min, region.lat_min, 0.1, cells_x, cells_y, CLASS_EDGES.to_vec())?;
    let side = (region.lon_max - region.lon_min).max(region.lat_max - region.lat_min);
    let classes = Grid::new(region.lon_min, region.lat_min, side, 1, 1, CLASS_EDGES.to_vec())?;
    let mut table = String::from(
        "model | test TLL/event | test SLL/event | N-test δ1/δ2 (days 6, 7, 8) | L-test γ (days 6, 7, 8) | train s\n",
    );
    let mut l_rows: Vec<(String, TestResult)> = Vec::new();
    let mut pts = Vec::new();
    for (name, m) in [("etas_temporal", &fit_t.model), ("etas_spatial", &fit_s.model)] {
        let s = etas::event_scores(m, &test_cat)?;
        let tll = (s.tll.iter().sum::<f64>() + s.tail) / n_test.max(1) as f64;
        r.metric(format!("{name}_test_tll_per_event"), Metric::new(tll, "nats/event", Better::Higher))?;
        let sll = if m.spatial { format!("{:.4}", s.mean_sll()) } else { "-".into() };
        if m.spatial {
            r.metric(
                format!("{name}_test_sll_per_event"),
                Metric::new(s.mean_sll(), "nats/event", Better::Higher),
            )?;
        }
        let br = m.branching_ratio();
        if br.is_finite() {
            r.metric(format!("{name}_branching_ratio"), Metric::new(br, "", Better::Lower))?;
        }
        let est = m.params.to_vec();
        let shown = if m.spatial { 9 } else { 6 };
        r.note(format!(
            "{name} estimate: {}; branching ratio {br:.3}",
            (0..shown)
                .map(|k| format!("{} = {:.3}", crate::etas::PARAM_NAMES[k], est[k]))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let days = windows
            .iter()
            .enumerate()
            .map(|(d, &w)| etas_day(m, &full, w, (&space, &classes), derive_seed(cfg.seed, 100 + d as u64)))
            .collect::<Result<Vec<_>>>()?;
        let (ncell, lcell) = report_days(&mut r, name, &days)?;
        if let Some(l) = &days[0].l {
            l_rows.push((name.to_string(), l.clone()));
        }
        if let Some((ls, ss)) = &days[0].space {
            l_rows.push((format!("{name} (0.1° cells)"), ls.clone()));
            if let Some(p) = csep::plots::distribution_plot(
                "ltest_day6_distribution",
                "Ridgecrest 2019, day 6: spatial ETAS L-test on 0.1° cells (simulated log-likelihoods)",
                ls,
                30,
            ) {
                r.plot(p);
            }
            r.plot(csep::plots::consistency_plot(
                "stest_day6",
                "Ridgecrest 2019, day 6: spatial ETAS S-test (0.1° cells)",
                &[(name.to_string(), ss.clone())],
                0.05,
            ));
        }
        table.push_str(&format!("{name} | {tll:.4} | {sll} | {ncell} | {lcell} | -\n"));
        pts.push((pts.len() as f64, tll));
    }
    let n_train_ev = train_cat.len() as f64;
    let pois = (n_train_ev / t_val).ln() - (n_train_ev / t_val) * (t_end - t_test) / n_test.max(1) as f64;
    r.metric("poisson_test_tll_per_event", Metric::new(pois, "nats/event", Better::Higher))?;
    r.metric(
        "poisson_test_sll_per_event",
        Metric::new(-region.area_km2().ln(), "nats/event", Better::Higher),
    )?;
    table.push_str(&format!("poisson | {pois:.4} | {:.4} | - | - | -\n", -region.area_km2().ln()));
    // the whole test period simulated with cascades (needs a finite mean offspring; a supercritical
    // fit is simulated over the finite window)
    let history = full.until(t_test)?;
    let mut sim_notes = Vec::new();
    for (name, m) in [("etas_temporal", &fit_t.model), ("etas_spatial", &fit_s.model)] {
        if !m.branching_ratio().is_finite() {
            sim_notes.push(format!(
                "{name}: not simulated — with a = {:.3} above β − ργ (β = b ln 10 = {:.3}) the mean productivity under an untruncated Gutenberg–Richter law diverges.",
                m.params.a,
                b * std::f64::consts::LN_10
            ));
            continue;
        }
        match etas::forecast(m, &history, t_end - t_test, cfg.pick(200, 2000), cfg.seed) {
            Ok(fc) => {
                let nt = fc.n_test(n_test);
                r.metric(
                    format!("{name}_simulated_forecast_mean"),
                    Metric::new(fc.mean(), "events", Better::Lower)
                        .with_reference(n_test as f64, "observed count"),
                )?;
                r.metric(
                    format!("{name}_simulated_ntest_delta1"),
                    Metric::new(nt.delta1, "", Better::Higher),
                )?;
                r.metric(
                    format!("{name}_simulated_ntest_delta2"),
                    Metric::new(nt.delta2, "", Better::Higher),
                )?;
                sim_notes.push(format!(
                    "{name}: simulated with cascades over the whole test period, mean {:.1} events (5–95 %: {:.0}–{:.0}) against {n_test} observed; N-test δ1 = {:.3}, δ2 = {:.3}.",
                    fc.mean(),
                    fc.quantile(0.05),
                    fc.quantile(0.95),
                    nt.delta1,
                    nt.delta2
                ));
            }
            Err(e) => sim_notes.push(format!("{name}: simulation failed: {e}")),
        }
    }
    // neural models: magnitude classes as marks, half-day training windows, one day of context
    let times: Vec<f64> = events.iter().map(|q| q.time).collect();
    let marks: Vec<usize> = events.iter().map(|q| magnitude_class(q.mag, RIDGECREST_MC)).collect();
    let seq = EventSequence::new(times, Some(marks), 3, 0.0, t_end)?;
    let (train, val, test, from) = chronological_windows(&seq, t_val, t_test, 0.5, 1.0)?;
    let settings = RunSettings {
        hidden: 32,
        layers: 1,
        train: TppTrainConfig {
            epochs: cfg.pick(15, 40),
            batch_size: 4,
            lr: 5e-3,
            patience: cfg.pick(4, 6),
            ..Default::default()
        },
        device: cfg.device,
    };
    let runs = run_all(cfg, 3, [&train, &val, std::slice::from_ref(&test)], Some(&[from]), &settings)?;
    let n_sims = cfg.pick(10, 100);
    let centre = (0.5 * (region.lon_min + region.lon_max), 0.5 * (region.lat_min + region.lat_max));
    let pb = progress_bar(runs.len() as u64, "neural daily forecasts", cfg.progress);
    for (i, run) in runs.iter().enumerate() {
        let n = run.spec.name();
        let tll_n = -run.metrics.nll_time_per_event;
        r.metric(format!("{n}_test_tll_per_event"), Metric::new(tll_n, "nats/event", Better::Higher))?;
        report_forecast(&mut r, &n, run)?;
        let days = windows
            .iter()
            .enumerate()
            .map(|(d, &w)| {
                let seed = derive_seed(cfg.seed, 1000 + 10 * i as u64 + d as u64);
                neural_day(run, &events, w, &classes, centre, n_sims, seed, cfg.device)
            })
            .collect::<Result<Vec<_>>>()?;
        let (ncell, lcell) = report_days(&mut r, &n, &days)?;
        if let Some(l) = &days[0].l {
            l_rows.push((n.clone(), l.clone()));
        }
        table.push_str(&format!("{n} | {tll_n:.4} | - | {ncell} | {lcell} | {:.1}\n", run.train_s));
        pts.push((pts.len() as f64, tll_n));
        pb.inc(1);
    }
    pb.finish_and_clear();
    r.note(format!(
        "Real data: USGS ComCat, 829 events M ≥ 2.5 after the M 7.1 Ridgecrest mainshock (2019-07-06 03:19 UTC), days since 2019-07-06 00:00 UTC. Train [0, 4) ({} events), validation [4, 5), test [5, {t_end}] ({n_test} events, all earlier events as history).",
        train_cat.len(),
    ));
    r.note(format!(
        "Daily CSEP tests (day 6 = [5, 6), day 7 = [6, 7), day 8 = [7, {t_end}]): ETAS forecasts are its intensity given all events before the day, integrated over the day and over 0.1° cells (events triggered within the day not included), tested by the Poisson N-test and, on the three magnitude classes over the whole region, the L-test (1000 simulations); the spatial ETAS also by the L- and S-tests on the 0.1° cells. Each neural model forecasts by {n_sims} simulated continuations of the day before, tested by the catalogue N-test and by the L-test of their mean class counts. δ1 small: too few events forecast; δ2 small: too many; γ small: the observation is less likely than the forecast's own simulations. {}",
        sim_notes.join(" ")
    ));
    r.note(format!("What one week of aftershocks can and cannot show: the mainshock is not in the catalogue, so the early rate is explained by the in-catalogue aftershocks and a background rate that absorbs the mainshock's Omori decay; the background rate and the long-time kernel parameters (ω, τ) are not identifiable from 4 days; four days of training data are too few to rank the neural models reliably, and the test period holds only {n_test} events."));
    r.note(table);
    let names = ["ETAS (temporal)", "ETAS (spatial)"].into_iter().chain(Model::ALL.iter().map(|m| m.name()));
    r.plot(
        Plot::new("test_tll", "Ridgecrest 2019: test TLL per event", "model", "TLL (nats/event)")
            .categories(names)
            .scatter("TLL", pts),
    );
    r.plot(csep::plots::consistency_plot(
        "ltest_day6",
        "Ridgecrest 2019, day 6: L-test of every daily forecast (magnitude classes; ETAS spatial also on 0.1° cells)",
        &l_rows,
        0.05,
    ));
    Ok(r)
}
