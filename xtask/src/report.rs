//! `report.json` types (the schema of docs/architecture.md), the markdown report and baseline
//! comparison.

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use sciml_report::{CriterionResult, Machine, PeerRun, Plot, Profile, Report, Series, SuiteOutput};

/// Relative change beyond which a metric counts as changed.
const METRIC_TOLERANCE: f64 = 0.05;

/// A difference against a baseline.
pub struct Change {
    pub what: String,
    pub before: f64,
    pub after: f64,
    pub regression: bool,
}

/// Compares `new` with `base`. Criterion medians regress when slower by more than 5% *and* the
/// confidence intervals do not overlap (beyond noise); metrics regress when worse by more than 5%.
pub fn compare(base: &Report, new: &Report) -> Vec<Change> {
    let mut out = Vec::new();
    for c in &new.criterion {
        if let Some(b) = base.criterion.iter().find(|b| b.id == c.id) {
            let slower = c.median_ns > b.median_ns * (1.0 + METRIC_TOLERANCE) && c.lower_ns > b.upper_ns;
            let faster = c.median_ns < b.median_ns * (1.0 - METRIC_TOLERANCE) && c.upper_ns < b.lower_ns;
            if slower || faster {
                out.push(Change {
                    what: format!("bench {}", c.id),
                    before: b.median_ns,
                    after: c.median_ns,
                    regression: slower,
                });
            }
        }
    }
    for t in &new.tasks {
        let Some(bt) = base.tasks.iter().find(|b| b.crate_name == t.crate_name && b.task == t.task) else {
            continue;
        };
        for (name, m) in &t.metrics {
            let Some(bm) = bt.metrics.get(name) else { continue };
            let scale = bm.value.abs().max(1e-12);
            let rel = (m.value - bm.value) / scale;
            if rel.abs() <= METRIC_TOLERANCE {
                continue;
            }
            let worse = m.is_worse_than(bm.value);
            out.push(Change {
                what: format!("{}/{} {name}", t.crate_name, t.task),
                before: bm.value,
                after: m.value,
                regression: worse,
            });
        }
    }
    out
}

fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// Formats nanoseconds with a readable unit.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The markdown report; `svgs` are the plot files, relative to the report.
pub fn markdown(r: &Report, svgs: &BTreeMap<String, Vec<String>>, changes: Option<&[Change]>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# sciml-rs benchmark report\n");
    let _ = writeln!(s, "profile `{}` · git `{}` · libtorch threads {}\n", r.profile, r.git_rev, r.threads);
    s.push_str(&task_summary_md(r));
    s.push_str(&peer_section(r));
    if let Some(files) = svgs.get("") {
        for f in files {
            let _ = writeln!(s, "\n![{f}]({f})");
        }
    }
    let _ = writeln!(s, "\n## Criterion benches\n");
    let _ = writeln!(s, "| id | median | 95% CI |");
    let _ = writeln!(s, "|---|---|---|");
    for c in &r.criterion {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} – {} |",
            c.id,
            fmt_ns(c.median_ns),
            fmt_ns(c.lower_ns),
            fmt_ns(c.upper_ns)
        );
    }
    let _ = writeln!(s, "\n## Suite tasks\n");
    let mut crates: Vec<&str> = r.tasks.iter().map(|t| t.crate_name.as_str()).collect();
    crates.dedup();
    for krate in crates {
        let _ = writeln!(s, "### {krate}\n");
        for t in r.tasks.iter().filter(|t| t.crate_name == krate) {
            let _ = writeln!(s, "#### {} ({:.1} s)\n", t.task, t.wall_s);
            let _ = writeln!(s, "| metric | value | unit | better | reference | source |");
            let _ = writeln!(s, "|---|---|---|---|---|---|");
            for (name, m) in &t.metrics {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} | {} | {} | {} |",
                    fmt_num(m.value),
                    m.unit,
                    m.better,
                    m.reference.map(fmt_num).unwrap_or_default(),
                    m.source.clone().unwrap_or_default()
                );
            }
            for n in &t.notes {
                let _ = writeln!(s, "\n- {n}");
            }
            if let Some(files) = svgs.get(&format!("{}/{}", t.crate_name, t.task)) {
                for f in files {
                    let _ = writeln!(s, "\n![{f}]({f})");
                }
            }
            let _ = writeln!(s);
        }
    }
    if !r.full_only.is_empty() {
        let _ = writeln!(s, "Run only by `cargo xtask bench --full`: {}.\n", r.full_only.join(", "));
    }
    if !r.failed.is_empty() {
        let _ = writeln!(s, "## Failed tasks\n");
        for f in &r.failed {
            let _ = writeln!(s, "- {}/{}: {}", f.crate_name, f.task, f.error);
        }
    }
    if let Some(ch) = changes {
        let _ = writeln!(s, "\n## Against the baseline\n");
        if ch.is_empty() {
            let _ = writeln!(s, "No change beyond noise.");
        } else {
            let _ = writeln!(s, "| what | before | after | verdict |");
            let _ = writeln!(s, "|---|---|---|---|");
            for c in ch {
                let v = if c.regression { "**regression**" } else { "improvement" };
                let _ = writeln!(s, "| {} | {} | {} | {v} |", c.what, fmt_num(c.before), fmt_num(c.after));
            }
        }
    }
    s
}

/// `docs/benchmarks.md`: the peer table, the other benches and every task's metrics (no plots).
pub fn docs_page(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Numbers from one `cargo xtask bench{}` run ({} profile) on {} ({} cores), {}, {} libtorch threads, \
         git `{}`.\nRegenerate with `cargo xtask bench --peers` then `cargo xtask report --docs`; the full \
         report with SVG plots is\n`target/bench-report/report.md`.\n",
        if r.peers_run { " --peers" } else { "" },
        r.profile,
        r.machine.cpu,
        r.machine.cores,
        r.machine.date,
        r.threads,
        r.git_rev
    );
    s.push_str(&task_summary_md(r));
    s.push_str(&peer_section(r));
    let _ = writeln!(s, "\n## Criterion benches\n\n| id | median |\n|---|---|");
    for c in &r.criterion {
        let _ = writeln!(s, "| `{}` | {} |", c.id, fmt_ns(c.median_ns));
    }
    let _ = writeln!(s, "\n## Suite tasks\n");
    for t in &r.tasks {
        let _ = writeln!(
            s,
            "### {} / {} ({:.1} s)\n\n| metric | value | reference | source |\n|---|---|---|---|",
            t.crate_name, t.task, t.wall_s
        );
        for (name, m) in &t.metrics {
            let _ = writeln!(
                s,
                "| {name} | {} {} | {} | {} |",
                fmt_num(m.value),
                m.unit,
                m.reference.map(fmt_num).unwrap_or_default(),
                m.source.clone().unwrap_or_default()
            );
        }
        for n in &t.notes {
            let _ = writeln!(s, "\n- {n}");
        }
        let _ = writeln!(s);
    }
    s
}

/// One row per task: its headline metric, the value, the goal and whether it was met.
pub fn task_summary_md(r: &Report) -> String {
    let mut s = String::new();
    if r.tasks.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "## Summary\n\n| task | headline metric | value | goal | met | wall |\n|---|---|---|---|---|---|"
    );
    for t in &r.tasks {
        let Some((name, m)) = t.headline_metric() else { continue };
        let met = match m.goal_met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            s,
            "| {}/{} | {name} | {} {} | {} | {met} | {:.0} s |",
            t.crate_name,
            t.task,
            fmt_num(m.value),
            m.unit,
            m.goal.map(fmt_num).unwrap_or_else(|| "—".into()),
            t.wall_s
        );
    }
    let total: f64 = r.tasks.iter().map(|t| t.wall_s).sum();
    let _ = writeln!(s, "\nSuite wall time {:.0} s ({:.1} min).\n", total, total / 60.0);
    s
}

/// The peer section of the report: measured rows with both medians and their ratio, or a line
/// saying that peers were not run.
pub fn peer_section(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Speed against peers\n");
    if !r.peers_run {
        let _ = writeln!(
            s,
            "Peers not run. `cargo xtask bench --peers` times the peer libraries (`benches/peers/*.py`) \
             on this machine, each right after the criterion bench of the same workload.\n"
        );
        return s;
    }
    let m = &r.machine;
    let _ = writeln!(
        s,
        "Measured in this run on {} ({} cores), {}, {} threads on both sides{}. Each peer ran right after \
         our criterion bench of the same workload; ratio = peer median / sciml-rs median (above 1: \
         sciml-rs is faster).\n",
        m.cpu,
        m.cores,
        m.date,
        r.threads,
        m.python.as_deref().map(|p| format!(", peers on {p}")).unwrap_or_default()
    );
    let _ = writeln!(s, "| workload | peer | peer median | sciml-rs median | ratio | threads |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for p in &r.peers {
        let peer = format!("{} {}", p.peer, p.version);
        let cell = |v: Option<f64>| v.map(fmt_ns).unwrap_or_else(|| "—".into());
        let ratio = match (p.ratio(), &p.error) {
            (Some(x), _) => format!("{x:.2}×"),
            (None, Some(e)) => format!("could not run: {}", e.replace('|', "/")),
            (None, None) => "—".into(),
        };
        let _ = writeln!(
            s,
            "| `{}` | {peer} | {} | {} | {ratio} | {} |",
            p.id,
            cell(p.peer_median_ns),
            cell(p.ours_median_ns),
            p.threads
        );
    }
    let notes: Vec<_> = r.peers.iter().filter(|p| p.note.is_some() || !p.workload.is_empty()).collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\nWorkloads as the peer scripts describe them:\n");
        for p in notes {
            let note = p.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            let _ = writeln!(s, "- `{}`, {}: {}{note}", p.id, p.peer, p.workload);
        }
    }
    let _ = writeln!(s);
    s
}

/// The compact table printed at the end of `cargo xtask bench`: peer ratios (when run) and one
/// line per task with its headline metric, goal and verdict.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    if r.peers_run {
        let _ = writeln!(
            s,
            "{:<40} {:<22} {:>11} {:>11} {:>8}",
            "peer workload", "peer", "peer", "sciml-rs", "ratio"
        );
        for p in &r.peers {
            let cell = |v: Option<f64>| v.map(fmt_ns).unwrap_or_else(|| "-".into());
            let ratio = p.ratio().map(|x| format!("{x:.2}x")).unwrap_or_else(|| "not run".into());
            let _ = writeln!(
                s,
                "{:<40} {:<22} {:>11} {:>11} {:>8}",
                clip(&p.id, 40),
                clip(&format!("{} {}", p.peer, p.version), 22),
                cell(p.peer_median_ns),
                cell(p.ours_median_ns),
                ratio
            );
        }
        let _ = writeln!(s);
    } else {
        let _ = writeln!(s, "peers not run (add --peers to time them on this machine)\n");
    }
    if !r.tasks.is_empty() {
        let _ = writeln!(
            s,
            "{:<44} {:<26} {:>11} {:>11} {:>5}",
            "task", "headline metric", "value", "goal", "met"
        );
        for t in &r.tasks {
            let name = format!("{}/{}", t.crate_name, t.task);
            let Some((m, v)) = t.headline_metric() else {
                let _ = writeln!(s, "{:<44} (no metrics)", clip(&name, 44));
                continue;
            };
            let met = match v.goal_met() {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            let _ = writeln!(
                s,
                "{:<44} {:<26} {:>11} {:>11} {:>5}",
                clip(&name, 44),
                clip(m, 26),
                fmt_num(v.value),
                v.goal.map(fmt_num).unwrap_or_else(|| "-".into()),
                met
            );
        }
    }
    for f in &r.failed {
        let _ = writeln!(s, "FAILED {}/{}: {}", f.crate_name, f.task, f.error);
    }
    if !r.full_only.is_empty() {
        let _ = writeln!(s, "\nleft to --full: {}", r.full_only.join(", "));
    }
    s
}

/// `s` cut to `n` characters (with `…` when cut).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sciml_report::{Better, FailedTask, Metric, TaskReport};

    fn report(median: f64, lo: f64, hi: f64, metric: f64) -> Report {
        let mut metrics = BTreeMap::new();
        metrics.insert(
            "err".into(),
            Metric {
                value: metric,
                unit: "".into(),
                better: Better::Lower,
                reference: None,
                source: None,
                goal: None,
            },
        );
        Report {
            profile: Profile::Quick,
            git_rev: "x".into(),
            threads: 2,
            tasks: vec![TaskReport {
                crate_name: "c".into(),
                task: "t".into(),
                metrics,
                plots: vec![],
                notes: vec![],
                headline: None,
                wall_s: 1.0,
            }],
            criterion: vec![CriterionResult {
                id: "g/f".into(),
                median_ns: median,
                lower_ns: lo,
                upper_ns: hi,
                throughput: None,
            }],
            failed: vec![],
            full_only: vec![],
            peers_run: false,
            peers: vec![],
            machine: Machine::default(),
        }
    }

    #[test]
    fn flags_only_changes_beyond_noise() {
        let base = report(100.0, 95.0, 105.0, 1.0);
        // 10% slower but overlapping intervals: noise.
        assert!(compare(&base, &report(110.0, 104.0, 116.0, 1.0)).is_empty());
        let ch = compare(&base, &report(120.0, 115.0, 125.0, 1.0));
        assert_eq!(ch.len(), 1);
        assert!(ch[0].regression);
        let ch = compare(&base, &report(100.0, 95.0, 105.0, 1.2));
        assert!(ch[0].regression && ch[0].what.contains("err"));
        let ch = compare(&base, &report(100.0, 95.0, 105.0, 0.5));
        assert!(!ch[0].regression);
    }

    /// A report with every kind of row: goals met and not, no goal, a measured peer, a peer that
    /// failed, a failed task and a task left to `--full`.
    fn fixture() -> Report {
        let mut r = report(1.5e6, 1.4e6, 1.6e6, 0.004);
        r.machine = Machine {
            cpu: "Test CPU @ 2.0GHz".into(),
            cores: 2,
            date: "2026-01-01T00:00:00Z".into(),
            python: Some("3.11.7".into()),
        };
        let t = &mut r.tasks[0];
        t.metrics.get_mut("err").unwrap().goal = Some(0.01);
        t.notes.push("one note".into());
        let mut t2 = TaskReport::new();
        t2.crate_name = "c".into();
        t2.task = "steps".into();
        t2.metric("steps", Metric::new(1067.0, "", Better::Lower).with_goal(300.0)).unwrap();
        t2.metric("acc", Metric::new(0.97, "", Better::Higher).with_reference(0.98, "paper")).unwrap();
        t2.wall_s = 2.0;
        r.tasks.push(t2);
        r.peers_run = true;
        r.peers = vec![
            PeerRun {
                id: "g/f".into(),
                peer: "peerlib".into(),
                version: "1.2.3".into(),
                workload: "the same workload".into(),
                peer_median_ns: Some(3.0e6),
                peer_samples: Some(20),
                ours_median_ns: Some(1.5e6),
                threads: 2,
                measured: true,
                timestamp: "2026-01-01T00:01:00Z".into(),
                note: Some("float32 on both sides".into()),
                error: None,
            },
            PeerRun {
                id: "g/h".into(),
                peer: "otherlib".into(),
                threads: 2,
                error: Some("could not import otherlib".into()),
                ..Default::default()
            },
        ];
        r.failed.push(FailedTask { crate_name: "c".into(), task: "broken".into(), error: "boom".into() });
        r.full_only.push("c/long".into());
        r
    }

    #[test]
    fn terminal_summary_snapshot() {
        insta::assert_snapshot!(summary(&fixture()));
    }

    #[test]
    fn markdown_report_snapshot() {
        let svgs = BTreeMap::from([("c".to_string(), vec!["c_t_fit.svg".to_string()])]);
        insta::assert_snapshot!(markdown(&fixture(), &svgs, None));
    }

    #[test]
    fn docs_page_snapshot() {
        insta::assert_snapshot!(docs_page(&fixture()));
    }

    #[test]
    fn report_json_round_trips() {
        let r = fixture();
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ns(1.5e6), "1.50 ms");
        assert_eq!(fmt_ns(2.0e9), "2.000 s");
        assert_eq!(fmt_num(0.5), "0.5000");
        assert_eq!(fmt_num(1e-5), "1.000e-5");
    }
}
