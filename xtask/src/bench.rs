//! `cargo xtask bench` and `cargo xtask report`.

use crate::report::{self, CriterionResult, Machine, PeerRun, Profile, Report, SuiteOutput};
use crate::{cargo, peers, plot, run_step, setup};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Parsed options.
#[derive(Debug, Default)]
pub struct BenchArgs {
    full: bool,
    filter: Option<String>,
    save_baseline: Option<String>,
    baseline: Option<String>,
    criterion: bool,
    suite: bool,
    docs: bool,
    peers: bool,
    threads: Option<usize>,
}

fn check_name(n: &str) -> Result<String, String> {
    if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        Ok(n.to_string())
    } else {
        Err(format!("baseline name `{n}` must use letters, digits, '-', '_' or '.'"))
    }
}

impl BenchArgs {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut a = BenchArgs { criterion: true, suite: true, ..Default::default() };
        let mut it = args.iter();
        while let Some(x) = it.next() {
            let mut value = |flag: &str| it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            match x.as_str() {
                "--quick" => a.full = false,
                "--full" => a.full = true,
                "--filter" => {
                    let f = value("--filter")?;
                    regex::Regex::new(&f).map_err(|e| format!("--filter `{f}` is not a valid regex: {e}"))?;
                    a.filter = Some(f);
                }
                "--save-baseline" => a.save_baseline = Some(check_name(&value("--save-baseline")?)?),
                "--baseline" => a.baseline = Some(check_name(&value("--baseline")?)?),
                "--no-criterion" => a.criterion = false,
                "--no-suite" => a.suite = false,
                "--docs" => a.docs = true,
                "--peers" => a.peers = true,
                "--peers-only" => {
                    a.peers = true;
                    a.criterion = false;
                    a.suite = false;
                }
                "--threads" => {
                    let t = value("--threads")?;
                    match t.parse::<usize>() {
                        Ok(n) if n >= 1 => a.threads = Some(n),
                        _ => return Err(format!("--threads `{t}` must be a whole number >= 1")),
                    }
                }
                other => return Err(format!("unknown bench option `{other}`")),
            }
        }
        Ok(a)
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

fn report_dir(root: &Path) -> PathBuf {
    target_dir(root).join("bench-report")
}

fn git_rev(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes `bytes` crash-safely (unique temporary sibling, fsync, rename, directory fsync), so a
/// killed run leaves the previous file intact.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    sciml_report::fs::write_bytes_atomic(path, bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Criterion results written since `since` under `<target>/criterion`.
fn collect_criterion(dir: &Path, since: SystemTime) -> Vec<CriterionResult> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    if let Some(r) = read_criterion(&p, since) {
                        out.push(r);
                    }
                } else {
                    stack.push(p);
                }
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn read_criterion(new_dir: &Path, since: SystemTime) -> Option<CriterionResult> {
    let est_path = new_dir.join("estimates.json");
    let modified = std::fs::metadata(&est_path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let est: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&est_path).ok()?).ok()?;
    let bench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new_dir.join("benchmark.json")).ok()?).ok()?;
    let med = &est["median"];
    Some(CriterionResult {
        id: bench["full_id"].as_str()?.to_string(),
        median_ns: med["point_estimate"].as_f64()?,
        lower_ns: med["confidence_interval"]["lower_bound"].as_f64()?,
        upper_ns: med["confidence_interval"]["upper_bound"].as_f64()?,
        throughput: bench.get("throughput").filter(|t| !t.is_null()).cloned(),
    })
}

/// Criterion options of a profile.
fn criterion_args(c: &mut std::process::Command, full: bool) {
    c.arg("--noplot");
    if !full {
        c.args(["--warm-up-time", "1", "--measurement-time", "3", "--sample-size", "10"]);
    }
}

/// The CPU model from `/proc/cpuinfo` (Linux), or a placeholder.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| format!("unknown {} CPU", std::env::consts::ARCH))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time since the Unix epoch (proleptic Gregorian, UTC).
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (H. Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Runs every selected peer script right after the criterion benches of its workloads.
fn run_peers(
    root: &Path,
    lt: &Path,
    a: &BenchArgs,
    env: &peers::PeerEnv,
    threads: usize,
    errors: &mut Vec<String>,
) -> Result<Vec<PeerRun>, String> {
    let filter = a.filter.as_deref().map(regex::Regex::new).transpose().map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let settings = peers::RunSettings {
        threads,
        samples: if a.full { 20 } else { 10 },
        warmup_s: if a.full { 3.0 } else { 1.0 },
    };
    for script in peers::scripts(root)? {
        let name = peers::peer_name(&script);
        // A broken script is reported and skipped: the results of everything else still get written.
        let listed = match peers::list(env, &script) {
            Ok(ids) => ids,
            Err(e) => {
                eprintln!("peer {name} skipped: {e}");
                errors.push(e);
                continue;
            }
        };
        let ids: Vec<String> = listed
            .into_iter()
            .filter(|id| filter.as_ref().is_none_or(|f| f.is_match(&format!("peers/{name}/{id}"))))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let exact = format!("^({})$", ids.iter().map(|i| regex::escape(i)).collect::<Vec<_>>().join("|"));
        let since = SystemTime::now();
        let mut c = cargo(root, lt);
        c.args(["bench", "-p", "sciml-bench", "--benches", "--", &exact]);
        criterion_args(&mut c, a.full);
        peers::thread_env(&mut c, threads);
        if let Err(e) = run_step(&format!("criterion benches of the {name} workloads"), c) {
            errors.push(e);
        }
        let ours = collect_criterion(&target_dir(root).join("criterion"), since);
        eprintln!("\n==> peer {name}: {}", ids.join(", "));
        let lines = match peers::run(env, &script, &ids, &settings) {
            Ok(l) => l,
            Err(e) => {
                errors.push(e.clone());
                ids.iter()
                    .map(|id| peers::ScriptLine {
                        id: id.clone(),
                        peer: name.clone(),
                        error: Some(e.clone()),
                        ..Default::default()
                    })
                    .collect()
            }
        };
        let stamp = utc_timestamp(SystemTime::now());
        for l in lines {
            let ours_ns = ours.iter().find(|c| c.id == l.id).map(|c| c.median_ns);
            let error = l
                .error
                .clone()
                .or_else(|| ours_ns.is_none().then(|| format!("our criterion bench `{}` did not run", l.id)));
            rows.push(PeerRun {
                measured: l.median_ns.is_some() && ours_ns.is_some(),
                id: l.id,
                peer: l.peer,
                version: l.version,
                workload: l.workload,
                peer_median_ns: l.median_ns,
                peer_samples: l.samples,
                ours_median_ns: ours_ns,
                threads: l.threads.unwrap_or(threads as i64),
                timestamp: stamp.clone(),
                note: l.note,
                error,
            });
        }
    }
    Ok(rows)
}

/// Runs the benches, the suite and (with `--peers`) the peers, then writes the report.
pub fn bench(root: &Path, a: &BenchArgs) -> Result<(), String> {
    let lt = setup::setup(root)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let peer_env = if a.peers { Some(peers::setup(root)?) } else { None };
    let out_dir = report_dir(root);
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let profile = if a.full { Profile::Full } else { Profile::Quick };
    let start = SystemTime::now();
    let mut errors = Vec::new();

    if a.criterion {
        let mut c = cargo(root, &lt);
        c.args(["bench", "-p", "sciml-bench", "--benches", "--"]);
        if let Some(f) = &a.filter {
            c.arg(f);
        }
        criterion_args(&mut c, a.full);
        peers::thread_env(&mut c, threads);
        if let Err(e) = run_step("criterion benches", c) {
            errors.push(e);
        }
    }
    let suite_json = out_dir.join("suite.json");
    let mut suite = SuiteOutput { profile, ..Default::default() };
    if a.suite {
        let mut c = cargo(root, &lt);
        c.args([
            "run",
            "--release",
            "-p",
            "sciml-bench",
            "--bin",
            "suite",
            "--",
            "--profile",
            profile.as_str(),
            "--out",
        ]);
        c.arg(&suite_json);
        c.args(["--work-dir"]).arg(out_dir.join("work"));
        if let Some(f) = &a.filter {
            c.args(["--filter", f]);
        }
        peers::thread_env(&mut c, threads);
        match run_step("benchmark suite", c) {
            Ok(()) => {}
            Err(e) => errors.push(e),
        }
        if let Ok(s) = std::fs::read_to_string(&suite_json) {
            suite = serde_json::from_str(&s)
                .map_err(|e| format!("{} is not valid: {e}", suite_json.display()))?;
        }
    }
    let peer_rows = match &peer_env {
        Some(env) => run_peers(root, &lt, a, env, threads, &mut errors)?,
        None => vec![],
    };
    let criterion = collect_criterion(&target_dir(root).join("criterion"), start);
    let r = Report {
        profile,
        git_rev: git_rev(root),
        threads: if suite.threads > 0 { suite.threads } else { threads as i64 },
        machine: Machine {
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as i64),
            date: utc_timestamp(start),
            python: peer_env.as_ref().map(|e| e.python_version.clone()),
        },
        tasks: suite.tasks,
        criterion,
        failed: suite.failed,
        full_only: suite.full_only,
        peers_run: peer_env.is_some(),
        peers: peer_rows,
    };
    let json = serde_json::to_vec_pretty(&r).map_err(|e| e.to_string())?;
    write_atomic(&out_dir.join("report.json"), &json)?;
    if a.docs {
        write_docs(root, &r)?;
    }
    write_outputs(root, &r, a.baseline.as_deref())?;
    if let Some(name) = &a.save_baseline {
        let dir = out_dir.join("baselines");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        write_atomic(&dir.join(format!("{name}.json")), &json)?;
        eprintln!("saved baseline `{name}`");
    }
    if !r.failed.is_empty() {
        errors.push(format!("{} suite task(s) failed", r.failed.len()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Rewrites report.md and the SVGs from an existing report.json.
pub fn report_only(root: &Path, a: &BenchArgs) -> Result<(), String> {
    let p = report_dir(root).join("report.json");
    let s = std::fs::read_to_string(&p)
        .map_err(|e| format!("cannot read {} (run `cargo xtask bench` first): {e}", p.display()))?;
    let r: Report = serde_json::from_str(&s).map_err(|e| format!("{} is not valid: {e}", p.display()))?;
    if a.docs {
        write_docs(root, &r)?;
    }
    write_outputs(root, &r, a.baseline.as_deref())
}

/// Rewrites `docs/benchmarks.md` from `r`.
fn write_docs(root: &Path, r: &Report) -> Result<(), String> {
    let path = root.join("docs").join("benchmarks.md");
    write_atomic(&path, report::docs_page(r).as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

use sciml_report::fs::write_atomic_with;

fn write_outputs(root: &Path, r: &Report, baseline: Option<&str>) -> Result<(), String> {
    let out_dir = report_dir(root);
    let mut svgs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plot_errors = Vec::new();
    if r.peers.iter().any(|p| p.ratio().is_some()) {
        let f = "speedups.svg".to_string();
        match write_atomic_with(&out_dir.join(&f), |tmp| plot::render_speedups(&r.peers, tmp)) {
            Ok(()) => svgs.entry(String::new()).or_default().push(f),
            Err(e) => plot_errors.push(format!("{f}: {e}")),
        }
    }
    for t in &r.tasks {
        for p in &t.plots {
            let safe: String =
                p.id.chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
                    .collect();
            let f = format!("{}-{}-{safe}.svg", t.crate_name, t.task);
            match write_atomic_with(&out_dir.join(&f), |tmp| plot::render(p, tmp)) {
                Ok(()) => svgs.entry(format!("{}/{}", t.crate_name, t.task)).or_default().push(f),
                Err(e) => plot_errors.push(format!("{f}: {e}")),
            }
        }
    }
    let changes = match baseline {
        Some(name) => {
            let p = out_dir.join("baselines").join(format!("{name}.json"));
            let s = std::fs::read_to_string(&p)
                .map_err(|e| format!("baseline `{name}` not found at {}: {e}", p.display()))?;
            let base: Report =
                serde_json::from_str(&s).map_err(|e| format!("{} is not valid: {e}", p.display()))?;
            Some(report::compare(&base, r))
        }
        None => None,
    };
    let md = report::markdown(r, &svgs, changes.as_deref());
    write_atomic(&out_dir.join("report.md"), md.as_bytes())?;
    println!("\n{}", report::summary(r));
    if let Some(ch) = &changes {
        let reg: Vec<_> = ch.iter().filter(|c| c.regression).collect();
        println!(
            "against baseline `{}`: {} change(s), {} regression(s)",
            baseline.unwrap_or_default(),
            ch.len(),
            reg.len()
        );
        for c in reg {
            println!("  REGRESSION {}: {:.4e} -> {:.4e}", c.what, c.before, c.after);
        }
    }
    println!("report: {}", out_dir.join("report.md").display());
    if plot_errors.is_empty() {
        Ok(())
    } else {
        Err(format!("could not draw: {}", plot_errors.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        use std::time::Duration;
        let at = |s: u64| utc_timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day in a century year divisible by 400), 12:34:56
        assert_eq!(at(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(at(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn parses_options() {
        let a = BenchArgs::parse(&[
            "--full".into(),
            "--filter".into(),
            "hawkes|snn".into(),
            "--baseline".into(),
            "main".into(),
        ])
        .unwrap();
        assert!(a.full && a.criterion && a.suite);
        assert_eq!(a.filter.as_deref(), Some("hawkes|snn"));
        assert_eq!(a.baseline.as_deref(), Some("main"));
        assert!(BenchArgs::parse(&["--filter".into(), "(".into()]).unwrap_err().contains("regex"));
        assert!(BenchArgs::parse(&["--baseline".into(), "../x".into()]).is_err());
        assert!(BenchArgs::parse(&["--fast".into()]).is_err());
        assert!(BenchArgs::parse(&["--filter".into()]).is_err());
        let p = BenchArgs::parse(&["--peers-only".into(), "--threads".into(), "1".into()]).unwrap();
        assert!(p.peers && !p.criterion && !p.suite && p.threads == Some(1));
        assert!(BenchArgs::parse(&["--threads".into(), "0".into()]).unwrap_err().contains("--threads"));
    }
}
