//! `cargo xtask`: workspace automation for sciml-rs.
//!
//! ```text
//! cargo xtask setup                      provision libtorch (once per user, cached)
//! cargo xtask test                       setup + fmt --check + clippy -D warnings + all tests
//! cargo xtask bench [--quick|--full] [--filter RE] [--save-baseline N] [--baseline N]
//!                   [--no-criterion] [--no-suite] [--peers | --peers-only] [--threads N]
//!                                        with --peers, each script of benches/peers/ runs right
//!                                        after the criterion benches of its workloads; the filter
//!                                        also matches `peers/<peer>/<bench id>`
//! cargo xtask peers setup                create the pinned peer environment (once per user, cached)
//! cargo xtask peers list                 the peer workloads and the criterion bench of each
//! cargo xtask report [--baseline N] [--docs]
//!                                        rewrite report.md and the SVGs from report.json
//!                                        (and docs/benchmarks.md with --docs)
//! cargo xtask publish-check              `cargo publish --dry-run` for every publishable crate
//! cargo xtask cpu-audit                  library lines that pin tensors to the CPU (none allowed)
//! cargo xtask device-pack [--tch 0.24|0.26] [--out FILE] [--max-mib N]
//!                                        build the tests and the suite against a CUDA libtorch
//!                                        and pack them for a machine without a toolchain
//! ```
//! xtask never links libtorch: it drives cargo and reads the JSON the benches write.

mod bench;
mod cpu_audit;
mod device;
mod peers;
mod plot;
mod report;
mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// A `cargo` command with libtorch in the environment (also for a custom `CARGO_TARGET_DIR`,
/// where the rpath in `.cargo/config.toml` cannot reach `.libtorch`).
pub fn cargo(root: &Path, libtorch: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    // The workspace's `.libtorch` is passed as the same path `.cargo/config.toml` gives plain
    // `cargo` (not its link target), so torch-sys sees one value and is not rebuilt when a plain
    // `cargo test` follows `cargo xtask test`.
    let lt = if libtorch.is_absolute() { libtorch.to_path_buf() } else { root.join(libtorch) };
    c.env("LIBTORCH", &lt);
    let lib = lt.join("lib");
    let ld = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(old) if !old.is_empty() => {
            let mut paths = vec![lib];
            paths.extend(std::env::split_paths(&old));
            std::env::join_paths(paths).expect("valid paths")
        }
        _ => lib.into_os_string(),
    };
    c.env("LD_LIBRARY_PATH", ld);
    c
}

/// Runs a command, echoing it; an error names the step.
pub fn run_step(name: &str, mut c: Command) -> Result<(), String> {
    eprintln!("\n==> {name}");
    let status = c.status().map_err(|e| format!("{name}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({status})"))
    }
}

fn test(root: &Path) -> Result<(), String> {
    let lt = setup::setup(root)?;
    let mut fmt = cargo(root, &lt);
    fmt.args(["fmt", "--all", "--check"]);
    run_step("cargo fmt --all --check", fmt)?;
    let mut clippy = cargo(root, &lt);
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    run_step("cargo clippy --workspace --all-targets -- -D warnings", clippy)?;
    let mut t = cargo(root, &lt);
    t.args(["test", "--workspace"]);
    run_step("cargo test --workspace", t)?;
    eprintln!("\nall checks passed");
    Ok(())
}

/// `cargo xtask publish-check`: `cargo publish --dry-run` over every publishable crate, in
/// dependency order, each packaged and built from its `.crate` contents (needs the crates.io index).
fn publish_check(root: &Path) -> Result<(), String> {
    let lt = setup::setup(root)?;
    let mut c = cargo(root, &lt);
    c.args(["publish", "--workspace", "--dry-run"]);
    run_step("cargo publish --workspace --dry-run", c)?;
    eprintln!("\nevery crate packages and builds as published");
    Ok(())
}

const USAGE: &str = "usage: cargo xtask <setup | test | bench [--quick|--full] [--filter RE] \
[--save-baseline NAME] [--baseline NAME] [--no-criterion] [--no-suite] [--peers|--peers-only] [--threads N] \
| peers <setup|list> | report [--baseline NAME] [--docs] | publish-check \
| cpu-audit | device-pack [--tch 0.24|0.26] [--out FILE] [--max-mib N]>";

/// `cargo xtask peers setup|list`.
fn peers_command(root: &Path, args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("setup") => peers::setup(root).map(|_| ()),
        Some("list") => {
            let env = peers::setup(root)?;
            for script in peers::scripts(root)? {
                let name = peers::peer_name(&script);
                for id in peers::list(&env, &script)? {
                    println!("peers/{name}/{id}");
                }
            }
            Ok(())
        }
        _ => Err(format!("usage: cargo xtask peers <setup | list>\n{USAGE}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::setup(&root).map(|p| eprintln!("[setup] libtorch ready at {}", p.display())),
        Some("test") => test(&root),
        Some("publish-check") => publish_check(&root),
        Some("cpu-audit") => cpu_audit::run(&root),
        Some("device-pack") => {
            device::PackArgs::parse(&args[1..]).and_then(|a| device::pack(&root, &a)).map(|_| ())
        }
        Some("bench") => bench::BenchArgs::parse(&args[1..]).and_then(|a| bench::bench(&root, &a)),
        Some("peers") => peers_command(&root, &args[1..]),
        Some("report") => bench::BenchArgs::parse(&args[1..]).and_then(|a| bench::report_only(&root, &a)),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
