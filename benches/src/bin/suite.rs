//! Runs the benchmark-suite tasks and writes their reports as JSON.
//!
//! ```text
//! suite [--profile quick|full] [--filter REGEX] [--out suite.json] [--work-dir DIR] [--seed N] [--list]
//! ```

use core_tensor::bench::{progress_bar, run_task, FailedTask, Profile, SuiteConfig, SuiteOutput, Task};
use std::path::PathBuf;
use std::process::ExitCode;

struct Args {
    profile: Profile,
    filter: Option<regex::Regex>,
    out: PathBuf,
    work_dir: PathBuf,
    seed: u64,
    list: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        profile: Profile::Quick,
        filter: None,
        out: PathBuf::from("suite.json"),
        work_dir: std::env::temp_dir().join("sciml-suite"),
        seed: 0,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut value = |f: &str| it.next().ok_or_else(|| format!("{f} needs a value"));
        match x.as_str() {
            "--profile" => a.profile = value("--profile")?.parse().map_err(|e| format!("{e}"))?,
            "--filter" => {
                let f = value("--filter")?;
                a.filter = Some(regex::Regex::new(&f).map_err(|e| format!("--filter `{f}`: {e}"))?);
            }
            "--out" => a.out = PathBuf::from(value("--out")?),
            "--work-dir" => a.work_dir = PathBuf::from(value("--work-dir")?),
            "--seed" => {
                let s = value("--seed")?;
                a.seed = s.parse().map_err(|_| format!("--seed `{s}` is not a non-negative integer"))?;
            }
            "--list" => a.list = true,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let groups = sciml_bench::all_tasks();
    let id = |c: &str, t: &Task| format!("{c}/{}", t.name());
    let (tasks, full_only): (Vec<_>, Vec<_>) = groups
        .iter()
        .flat_map(|g| g.tasks().map(move |t| (g.crate_name(), t)))
        .filter(|(c, t)| args.filter.as_ref().is_none_or(|f| f.is_match(&id(c, t))))
        .partition(|(_, t)| args.profile == Profile::Full || !t.is_full_only());
    if args.list {
        for (c, t) in &tasks {
            println!("{}: {}", id(c, t), t.description());
        }
        for (c, t) in &full_only {
            println!("{} (full profile only): {}", id(c, t), t.description());
        }
        return ExitCode::SUCCESS;
    }
    let skipped: Vec<String> = full_only.iter().map(|(c, t)| id(c, t)).collect();
    if !skipped.is_empty() {
        eprintln!("full profile only, not run now: {}", skipped.join(", "));
    }
    let config = SuiteConfig {
        profile: args.profile,
        seed: args.seed,
        device: core_tensor::device::device(),
        work_dir: args.work_dir.clone(),
        progress: true,
    };
    let mut out = SuiteOutput {
        profile: args.profile,
        threads: tch::get_num_threads() as i64,
        tasks: vec![],
        failed: vec![],
        full_only: skipped,
    };
    let pb = progress_bar(tasks.len() as u64, "suite", true);
    for &(crate_name, t) in &tasks {
        let id = id(crate_name, t);
        pb.set_message(id.clone());
        pb.suspend(|| eprintln!("-> {id}: {}", t.description()));
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_task(crate_name, t, &config)));
        let err = match res {
            Ok(Ok(r)) => {
                pb.suspend(|| eprintln!("   done in {:.1} s", r.wall_s));
                out.tasks.push(r);
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
            Err(p) => Some(
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into()),
            ),
        };
        if let Some(error) = err {
            pb.suspend(|| eprintln!("   FAILED: {error}"));
            out.failed.push(FailedTask { crate_name: crate_name.into(), task: t.name().into(), error });
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let json = serde_json::to_vec_pretty(&out).expect("serialisable");
    let write = core_tensor::checkpoint::write_bytes_atomic(&args.out, &json);
    if let Err(e) = write {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {} ({} tasks, {} failed)", args.out.display(), out.tasks.len(), out.failed.len());
    if out.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
