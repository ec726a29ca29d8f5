//! Benchmark-suite tasks of the nas crate (see `cargo xtask bench`).
//!
//! All three tasks share the tabular micro-benchmark ([`crate::table`]). The quick profile reads
//! the table shipped with the crate (`data/micro_table.json`, built by
//! `nas-table build --out crates/nas/data/micro_table.json --seeds 3`); the full profile rebuilds it
//! in the work directory (resumable) with the same settings.
//!
//! - `nas_microbench`: the table itself — random-architecture mean, best class, seed-to-seed rank
//!   correlation (the noise ceiling of every ranking below).
//! - `nas_proxies`: Kendall τ, Spearman ρ and precision@top-10 % of each zero-cost proxy against
//!   the table's mean test accuracy, next to the noise ceiling; score-vs-accuracy plots.
//! - `nas_search`: random search, regularised evolution, DARTS (first and second order, softmax and
//!   Max-W) with magnitude selection, and DARTS-PT selection from the first-order supernet, over
//!   seeds: test accuracy of the found cell (from the table, trained under the same protocol),
//!   relative improvement over random architectures and the seed-to-seed spread.

use std::path::PathBuf;

use tch::{nn, Device};

use core_tensor::bench::{Better, Metric, Plot, SuiteConfig, Task, TaskGroup, TaskReport, TaskResult};
use core_tensor::device::with_single_thread;
use core_tensor::metrics::{kendall_tau, mean_var, precision_at_k, spearman_rho};
use core_tensor::seed::{derive_seed, rng};

use crate::proxies::{score, Proxy};
use crate::search::{random_search, regularized_evolution};
use crate::space::{Cell, SearchSpace};
use crate::supernet::{darts_pt_select, darts_search, DartsConfig, DartsOrder, MixRule, Supernet};
use crate::table::{BuildPlan, Shard, Table, TableConfig};
use crate::train::{ImageData, TrainConfig};
use crate::{Error, Result};

/// The table shipped with the crate.
const SHIPPED_TABLE: &str = include_str!("../../data/micro_table.json");

/// Epochs of the micro-benchmark protocol.
pub const TABLE_EPOCHS: usize = 10;

pub mod darts_space;
pub mod forecast;

/// Training seeds of the micro-benchmark.
pub const TABLE_SEEDS: [u64; 3] = [0, 1, 2];

/// Every nas task.
pub fn tasks() -> TaskGroup {
    TaskGroup::new("nas").with_all([
        NAS_MICROBENCH,
        NAS_PROXIES,
        NAS_SEARCH,
        forecast::NAS_FORECAST,
        darts_space::DARTS_SPACE_SEARCH,
    ])
}

/// The micro-benchmark table for this profile.
///
/// # Errors
/// A shipped table that does not match [`TableConfig::micro`], or a failed build.
pub fn micro_table(cfg: &SuiteConfig) -> Result<Table> {
    let config = TableConfig::micro(TABLE_EPOCHS);
    match cfg.profile {
        core_tensor::bench::Profile::Quick => {
            let t = Table::parse(SHIPPED_TABLE, "the shipped micro_table.json")?;
            if t.config != config {
                return Err(Error::invalid(
                    "micro_table.json",
                    "config",
                    "the shipped table was built with other settings; rebuild it with nas-table",
                ));
            }
            Ok(t)
        }
        core_tensor::bench::Profile::Full => {
            let path: PathBuf = cfg.work_dir.join("nas").join("micro_table.json");
            let plan =
                BuildPlan { shard: Shard::ALL, limit: None, progress: cfg.progress, seeds: &TABLE_SEEDS };
            Table::build(&config, plan, &path, cfg.device)
        }
    }
}

/// Mean over seed pairs of the Kendall τ and Spearman ρ between the per-seed test accuracies.
fn noise_ceiling(entries: &[&crate::table::Entry]) -> Result<(f64, f64)> {
    let (mut kt, mut sr, mut n) = (0.0, 0.0, 0.0);
    for (i, a) in TABLE_SEEDS.iter().enumerate() {
        for b in &TABLE_SEEDS[i + 1..] {
            let xa: Vec<f64> = entries.iter().map(|e| e.runs[a].test_acc).collect();
            let xb: Vec<f64> = entries.iter().map(|e| e.runs[b].test_acc).collect();
            kt += kendall_tau(&xa, &xb)?;
            sr += spearman_rho(&xa, &xb)?;
            n += 1.0;
        }
    }
    Ok((kt / n, sr / n))
}

/// The tabular micro-benchmark: accuracy spread over the cell classes and the seed-to-seed noise
/// ceiling any ranking on it can reach.
pub const NAS_MICROBENCH: Task = Task::new(
    "nas_microbench",
    "Tabular micro-benchmark (NB201-style, 3 ops, 127 classes × 3 seeds): spread and seed-to-seed noise ceiling",
    nas_microbench,
);

fn nas_microbench(cfg: &SuiteConfig) -> TaskResult {
    Ok(with_single_thread(|| microbench(cfg))?)
}

fn microbench(cfg: &SuiteConfig) -> Result<TaskReport> {
    let t = micro_table(cfg)?;
    let entries = t.complete(&TABLE_SEEDS);
    if entries.len() < 10 {
        return Err(Error::invalid("table", entries.len(), "fewer than 10 classes with every seed"));
    }
    let accs: Vec<f64> = entries.iter().map(|e| e.mean_test()).collect();
    let (kt, sr) = noise_ceiling(&entries)?;
    let best = entries.iter().max_by(|a, b| a.mean_test().total_cmp(&b.mean_test())).expect("non-empty");
    let sd: f64 = entries
        .iter()
        .map(|e| {
            let v: Vec<f64> = e.runs.values().map(|r| r.test_acc).collect();
            mean_var(&v).map(|(_, var)| var.sqrt()).unwrap_or(0.0)
        })
        .sum::<f64>()
        / entries.len() as f64;
    let mut r = TaskReport::new();
    r.metric("classes", Metric::new(entries.len() as f64, "", Better::Higher))?;
    r.metric("random_mean_test_acc", Metric::new(t.random_mean(), "", Better::Higher))?;
    r.metric("best_test_acc", Metric::new(best.mean_test(), "", Better::Higher))?;
    r.metric(
        "worst_test_acc",
        Metric::new(accs.iter().cloned().fold(f64::INFINITY, f64::min), "", Better::Higher),
    )?;
    r.metric("mean_seed_sd", Metric::new(sd, "", Better::Lower))?;
    r.metric("seed_kendall_tau", Metric::new(kt, "", Better::Higher))?;
    r.metric("seed_spearman_rho", Metric::new(sr, "", Better::Higher))?;
    r.note(format!("Best class: `{}` ({} cells of the space).", best.cell, best.multiplicity));
    let pts: Vec<(f64, f64)> = entries
        .iter()
        .map(|e| (e.runs[&TABLE_SEEDS[0]].test_acc, e.runs[&TABLE_SEEDS[1]].test_acc))
        .collect();
    r.plot(
        Plot::new("seed_vs_seed", "Test accuracy of every class: seed 0 vs seed 1", "seed 0", "seed 1")
            .scatter("classes", pts),
    );
    Ok(r)
}

/// Zero-cost proxies ranked against the micro-benchmark's trained accuracies (Kendall τ, Spearman
/// ρ, precision@10 %), beside the noise ceiling.
pub const NAS_PROXIES: Task = Task::new(
    "nas_proxies",
    "Zero-cost proxies vs micro-benchmark accuracy: Kendall τ, Spearman ρ, precision@10% and the noise ceiling",
    nas_proxies,
);

fn nas_proxies(cfg: &SuiteConfig) -> TaskResult {
    Ok(with_single_thread(|| proxy_ranking(cfg))?)
}

fn proxy_ranking(cfg: &SuiteConfig) -> Result<TaskReport> {
    let t = micro_table(cfg)?;
    let entries = t.complete(&TABLE_SEEDS);
    let space = t.config.space()?;
    let data = t.config.data(cfg.device)?;
    let b = cfg.pick(32, 64);
    let (x, y) = (data.x_train.narrow(0, 0, b), data.y_train.narrow(0, 0, b));
    let cells: Vec<Cell> = entries.iter().map(|e| space.decode(&e.cell)).collect::<Result<_>>()?;
    let accs: Vec<f64> = entries.iter().map(|e| e.mean_test()).collect();
    let (kt0, sr0) = noise_ceiling(&entries)?;
    let k = (entries.len() / 10).max(1);
    let mut r = TaskReport::new();
    let mut lines = vec![
        "| proxy | Kendall τ | Spearman ρ | precision@10% | NB201 CIFAR-10 (published) |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    let published = |p: Proxy| match p {
        Proxy::Synflow => "ρ 0.74",
        Proxy::JacobCov => "ρ 0.73",
        Proxy::Snip => "ρ 0.60",
        Proxy::GradNorm => "ρ 0.59",
        Proxy::Naswot => "τ 0.574",
        _ => "",
    };
    let pb =
        core_tensor::bench::progress_bar((Proxy::ALL.len() * cells.len()) as u64, "proxies", cfg.progress);
    let (mut taus, mut rhos) = (Vec::new(), Vec::new());
    for p in Proxy::ALL {
        let mut scores = Vec::with_capacity(cells.len());
        for c in &cells {
            scores.push(score(p, &space, c, t.config.network, &x, &y, derive_seed(cfg.seed, 11))?);
            pb.inc(1);
        }
        let (kt, sr) = (kendall_tau(&scores, &accs)?, spearman_rho(&scores, &accs)?);
        let pk = precision_at_k(&scores, &accs, k)?;
        taus.push((taus.len() as f64, kt));
        rhos.push((rhos.len() as f64, sr));
        r.metric(format!("{}_kendall_tau", p.name()), Metric::new(kt, "", Better::Higher))?;
        r.metric(format!("{}_spearman_rho", p.name()), Metric::new(sr, "", Better::Higher))?;
        r.metric(format!("{}_precision_at_10pct", p.name()), Metric::new(pk, "", Better::Higher))?;
        lines.push(format!("| {} | {kt:.3} | {sr:.3} | {pk:.2} | {} |", p.name(), published(p)));
        let log = matches!(p, Proxy::Synflow | Proxy::Params | Proxy::Flops | Proxy::GradNorm | Proxy::Snip);
        // NASWOT scores a singular kernel as f64::MIN (ranked last); such points have no place on
        // an axis, nor do non-positive scores on a log axis
        let pts: Vec<(f64, f64)> = scores
            .iter()
            .cloned()
            .zip(accs.iter().cloned())
            .filter(|(s, _)| *s > f64::MIN && (!log || *s > 0.0))
            .collect();
        r.plot(
            Plot::new(
                format!("proxy_{}", p.name()),
                format!("{} at initialisation vs trained test accuracy", p.name()),
                p.name(),
                "test accuracy (mean of 3 seeds)",
            )
            .log(log, false)
            .scatter("classes", pts),
        );
    }
    pb.finish_and_clear();
    // The proxies are scored against the mean of the seeds, which is less noisy than one run:
    // its reliability by the Spearman–Brown formula is n ρ / (1 + (n − 1) ρ).
    let n = TABLE_SEEDS.len() as f64;
    let sb = n * sr0 / (1.0 + (n - 1.0) * sr0);
    lines.push(format!(
        "| one training run vs another (single-run noise ceiling) | {kt0:.3} | {sr0:.3} | | |"
    ));
    lines.push(format!("| mean of {n} runs: Spearman–Brown reliability | | {sb:.3} | | |"));
    let last = (Proxy::ALL.len() - 1) as f64;
    r.plot(
        Plot::new(
            "proxy_rank_correlation",
            "Zero-cost proxies: rank correlation with test accuracy",
            "proxy",
            "correlation",
        )
        .categories(Proxy::ALL.iter().map(|p| p.name()))
        .scatter("Kendall τ", taus)
        .scatter("Spearman ρ", rhos)
        .line("seed-to-seed Kendall τ", vec![(0.0, kt0), (last, kt0)]),
    );
    r.metric("noise_ceiling_kendall_tau", Metric::new(kt0, "", Better::Higher))?;
    r.metric("noise_ceiling_spearman_rho", Metric::new(sr0, "", Better::Higher))?;
    r.metric("seed_mean_reliability_spearman_brown", Metric::new(sb, "", Better::Higher))?;
    r.note(lines.join("\n"));
    Ok(r)
}

/// One search method's found test accuracies over seeds.
struct MethodResult {
    name: &'static str,
    accs: Vec<f64>,
}

/// Search methods against architectures sampled at random from the same space (relative
/// improvement over seeds, Yang et al. 2020), and DARTS against DARTS-PT selection.
pub const NAS_SEARCH: Task = Task::new(
    "nas_search",
    "Search methods vs random architectures on the micro-benchmark (RI, seeds); DARTS vs DARTS-PT selection",
    nas_search,
);

fn nas_search(cfg: &SuiteConfig) -> TaskResult {
    Ok(with_single_thread(|| search_protocol(cfg))?)
}

fn search_protocol(cfg: &SuiteConfig) -> Result<TaskReport> {
    let mut t = micro_table(cfg)?;
    let space = t.config.space()?;
    let data = t.config.data(cfg.device)?;
    let seeds: Vec<u64> = (0..cfg.pick(3, 5)).map(|s| derive_seed(cfg.seed, 100 + s)).collect();
    let budget = cfg.pick(25, 50);
    let darts_epochs = cfg.pick(3, 20);
    let random = t.random_mean();
    let val_of = |t: &Table, c: &Cell| -> Result<f64> {
        t.query(c)?
            .map(|e| e.mean_val())
            .ok_or_else(|| Error::invalid("cell", format!("{c:?}"), "not in the table"))
    };
    let mut methods = [
        MethodResult { name: "random search", accs: vec![] },
        MethodResult { name: "regularised evolution", accs: vec![] },
        MethodResult { name: "DARTS 1st order (magnitude)", accs: vec![] },
        MethodResult { name: "DARTS-PT (same supernet)", accs: vec![] },
        MethodResult { name: "DARTS 2nd order (magnitude)", accs: vec![] },
        MethodResult { name: "Max-W DARTS + cosine power (magnitude)", accs: vec![] },
    ];
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); methods.len()];
    let pb = core_tensor::bench::progress_bar(seeds.len() as u64, "nas search", cfg.progress);
    let mut found = |t: &mut Table, m: usize, c: &Cell| -> Result<()> {
        let e = t.ensure(c, &data, &TABLE_SEEDS)?;
        methods[m].accs.push(e.mean_test());
        cells[m].push(e.cell.clone());
        Ok(())
    };
    for &seed in &seeds {
        // Black-box methods query the table's validation accuracy.
        let rs = random_search(&space, budget, &mut rng(seed), |c| val_of(&t, c))?;
        found(&mut t, 0, &rs.best)?;
        let re = regularized_evolution(&space, budget, 10, 3, &mut rng(seed), |c| val_of(&t, c))?;
        found(&mut t, 1, &re.best)?;
        // One-shot methods train a supernet on the same data.
        let (cell1, cell_pt) =
            one_shot(&t, &data, cfg.device, seed, darts_epochs, DartsOrder::First, MixRule::Softmax, true)?;
        found(&mut t, 2, &cell1)?;
        found(&mut t, 3, &cell_pt.expect("DARTS-PT requested"))?;
        let (cell2, _) = one_shot(
            &t,
            &data,
            cfg.device,
            seed,
            darts_epochs.div_ceil(2),
            DartsOrder::Second,
            MixRule::Softmax,
            false,
        )?;
        found(&mut t, 4, &cell2)?;
        let (cell3, _) =
            one_shot(&t, &data, cfg.device, seed, darts_epochs, DartsOrder::First, MixRule::MaxW, false)?;
        found(&mut t, 5, &cell3)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut r = TaskReport::new();
    let best = t.entries.values().map(|e| e.mean_test()).fold(0.0, f64::max);
    r.metric("random_mean_test_acc", Metric::new(random, "", Better::Higher))?;
    r.metric("optimum_test_acc", Metric::new(best, "", Better::Higher))?;
    let mut lines = vec![
        format!(
            "Random-architecture mean test accuracy {random:.4}; best class {best:.4}; {} seeds.",
            seeds.len()
        ),
        String::new(),
        "| method | test accuracy (mean ± sd over seeds) | RI vs random (%) | cells found |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    let (mut seed_points, mut mean_points) = (Vec::new(), Vec::new());
    for (i, (m, c)) in methods.iter().zip(&cells).enumerate() {
        let (mean, var) = mean_var(&m.accs)?;
        let ri = 100.0 * (mean - random) / random;
        seed_points.extend(m.accs.iter().map(|a| (i as f64, *a)));
        mean_points.push((i as f64, mean));
        let key = slug(m.name);
        r.metric(
            format!("{key}_test_acc"),
            Metric::new(mean, "", Better::Higher).with_reference(random, "random architectures"),
        )?;
        r.metric(format!("{key}_test_acc_sd"), Metric::new(var.sqrt(), "", Better::Lower))?;
        r.metric(format!("{key}_ri_pct"), Metric::new(ri, "%", Better::Higher))?;
        let mut uniq = c.clone();
        uniq.sort();
        uniq.dedup();
        lines.push(format!("| {} | {mean:.4} ± {:.4} | {ri:+.2} | {} |", m.name, var.sqrt(), uniq.len()));
    }
    let last = (methods.len() - 1) as f64;
    r.plot(
        Plot::new(
            "search_methods",
            "Search methods: test accuracy of the architecture found",
            "method",
            "test accuracy",
        )
        .categories(methods.iter().map(|m| m.name))
        .scatter("one seed", seed_points)
        .scatter("mean over seeds", mean_points)
        .line("random architectures (mean)", vec![(0.0, random), (last, random)]),
    );
    let pt_wins = methods[3].accs.iter().zip(&methods[2].accs).filter(|(a, b)| a > b).count();
    let ties = methods[3].accs.iter().zip(&methods[2].accs).filter(|(a, b)| a == b).count();
    let (pt, mag) = (mean_var(&methods[3].accs)?.0, mean_var(&methods[2].accs)?.0);
    r.metric("darts_pt_minus_magnitude", Metric::new(pt - mag, "", Better::Higher))?;
    lines.push(String::new());
    lines.push(format!(
        "DARTS-PT vs magnitude selection on the same supernets: better on {pt_wins}, tied on {ties} of {} seeds; mean difference {:+.4}.",
        seeds.len(),
        pt - mag
    ));
    r.note(lines.join("\n"));
    Ok(r)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Trains a supernet with DARTS and returns the magnitude-selected cell and, when asked, the
/// DARTS-PT cell selected from the same trained supernet.
#[allow(clippy::too_many_arguments)]
fn one_shot(
    t: &Table,
    data: &ImageData,
    device: Device,
    seed: u64,
    epochs: usize,
    order: DartsOrder,
    rule: MixRule,
    pt: bool,
) -> Result<(Cell, Option<Cell>)> {
    core_tensor::seed::seed_torch(seed);
    let space = t.config.space()?;
    let (wv, av) = (nn::VarStore::new(device), nn::VarStore::new(device));
    let mut net = Supernet::new(&wv.root(), &av.root(), &space, t.config.network, rule)?;
    let dc = if rule == MixRule::MaxW {
        DartsConfig::sharp(order, epochs, 50)
    } else {
        DartsConfig::new(order, epochs, 50)
    };
    let mut r = rng(derive_seed(seed, 7));
    darts_search(&net, &wv, data, &dc, &mut r, |_, _| {})?;
    let magnitude = net.magnitude_cell();
    let pt_cell = if pt {
        let tune = TrainConfig {
            lr: 0.01,
            schedule: core_tensor::train::LrSchedule::Constant,
            ..TrainConfig::new(1, 50)
        };
        Some(darts_pt_select(&mut net, &wv, data, &tune, 1, &mut r)?.0)
    } else {
        None
    };
    Ok((magnitude, pt_cell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_matches_the_protocol() {
        let t = micro_table(&SuiteConfig::quick(std::env::temp_dir())).unwrap();
        assert_eq!(t.complete(&TABLE_SEEDS).len(), 127);
        assert!(t.random_mean() > 1.0 / 8.0, "better than chance on average");
    }
}
