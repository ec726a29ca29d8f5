//! Builds, merges and summarises the tabular micro-benchmark.
//!
//! ```text
//! nas-table build --out table.json [--epochs 10] [--seeds 3] [--shard i/n] [--limit K] [--threads 1]
//! nas-table merge --out table.json shard0.json shard1.json …
//! nas-table show table.json
//! ```
//!
//! `build` resumes from an existing `--out` file built with the same settings; run one `--shard`
//! per job of a cluster array, then `merge`.

use std::path::PathBuf;
use std::process::ExitCode;

use nas::table::{BuildPlan, Shard, Table, TableConfig};
use nas::{Error, Result};

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn number(args: &[String], flag: &str, default: usize) -> Result<usize> {
    value(args, flag)
        .map(|v| v.parse().map_err(|_| Error::invalid(flag, v, "expected a non-negative integer")))
        .unwrap_or(Ok(default))
}

fn out_path(args: &[String]) -> Result<PathBuf> {
    value(args, "--out")
        .map(PathBuf::from)
        .ok_or_else(|| Error::invalid("--out", "missing", "give the table path"))
}

fn summary(t: &Table) {
    let n: usize = t.entries.values().map(|e| e.runs.len()).sum();
    let best = t
        .entries
        .values()
        .filter(|e| !e.runs.is_empty())
        .max_by(|a, b| a.mean_test().total_cmp(&b.mean_test()));
    println!(
        "{} classes trained, {n} runs; random-architecture mean test accuracy {:.4}",
        t.entries.len(),
        t.random_mean()
    );
    if let Some(b) = best {
        println!("best class: {} (test {:.4}, {} cells)", b.cell, b.mean_test(), b.multiplicity);
    }
}

fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("build") => {
            // Small networks gain nothing from intra-op threads; one thread per process lets
            // shards share a machine without oversubscription.
            tch::set_num_threads(number(args, "--threads", 1)? as i32);
            let cfg = TableConfig::micro(number(args, "--epochs", nas::suite::TABLE_EPOCHS)?);
            let seeds: Vec<u64> = (0..number(args, "--seeds", 3)? as u64).collect();
            let shard = value(args, "--shard").map(Shard::parse).transpose()?.unwrap_or(Shard::ALL);
            let limit = value(args, "--limit").map(|_| number(args, "--limit", 0)).transpose()?;
            let plan = BuildPlan { shard, limit, progress: true, seeds: &seeds };
            let t = Table::build(&cfg, plan, &out_path(args)?, core_tensor::device::device())?;
            summary(&t);
            Ok(())
        }
        Some("merge") => {
            let out = out_path(args)?;
            // Every argument except `--out` and its value is an input table.
            let mut inputs = Vec::new();
            let mut rest = args[1..].iter();
            while let Some(a) = rest.next() {
                if a == "--out" {
                    rest.next();
                } else {
                    inputs.push(a);
                }
            }
            let tables = inputs.iter().map(|p| Table::load(p.as_ref())).collect::<Result<Vec<_>>>()?;
            let t = Table::merge(tables)?;
            t.save(&out)?;
            summary(&t);
            Ok(())
        }
        Some("show") => {
            let p = args.get(1).ok_or_else(|| Error::invalid("path", "missing", "give a table file"))?;
            summary(&Table::load(p.as_ref())?);
            Ok(())
        }
        other => Err(Error::invalid("command", format!("{other:?}"), "expected build, merge or show")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
