//! Live peer measurements: the pinned Python environment (`cargo xtask peers setup`) and the peer
//! scripts of `benches/peers/`, each timing the workload of one or more criterion benches.
//!
//! The environment is a virtual environment in the user cache,
//! `<cache>/sciml-rs/peers-<hash>`, where the hash covers `benches/peers/requirements.txt` and the
//! Python version: a second clone with the same pins reuses it and downloads nothing. pip finds the
//! torch wheel that `cargo xtask setup` already cached in `<cache>/sciml-rs/wheels`.

use crate::setup::{cache_root, sha256_hex, which_python};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pinned package list, relative to the workspace root.
pub const REQUIREMENTS: &str = "benches/peers/requirements.txt";
/// Folder of the peer scripts, relative to the workspace root.
pub const SCRIPTS: &str = "benches/peers";
/// Free space the environment needs (torch with its CUDA wheels, JAX, the peers): about 7 GB.
const NEEDED_FREE_KB: u64 = 8 * 1024 * 1024;
/// Oldest Python the pinned packages support.
const MIN_PYTHON: (u32, u32) = (3, 10);

const SKIP: &str = "Peers are optional: `cargo xtask bench` without `--peers` runs everything else and \
the report says \"peers not run\".";

fn step(msg: &str) {
    eprintln!("[peers] {msg}");
}

/// A ready peer environment.
#[derive(Debug, Clone)]
pub struct PeerEnv {
    /// The environment's interpreter.
    pub python: PathBuf,
    /// `python --version` of the interpreter.
    pub python_version: String,
}

/// One peer workload as a script reports it (a JSON line on its stdout).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScriptLine {
    pub id: String,
    pub peer: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub median_ns: Option<f64>,
    #[serde(default)]
    pub samples: Option<u64>,
    #[serde(default)]
    pub threads: Option<i64>,
    #[serde(default)]
    pub workload: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `(major, minor)` of a `Python X.Y.Z` version line.
fn parse_python_version(s: &str) -> Option<(u32, u32)> {
    let v = s.trim().strip_prefix("Python ")?;
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?))
}

fn python_version(python: &str) -> Result<String, String> {
    let out = Command::new(python)
        .arg("--version")
        .output()
        .map_err(|e| format!("could not run `{python} --version`: {e}"))?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout })
        .trim()
        .to_string();
    Ok(text)
}

/// Free kilobytes on the file system holding `dir` (from `df`), if it can be read.
fn free_kb(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

/// The environment directory for these pins and this Python.
fn env_dir(root: &Path, python_version: &str) -> Result<(PathBuf, String), String> {
    let req = root.join(REQUIREMENTS);
    let text = std::fs::read_to_string(&req).map_err(|e| format!("cannot read {}: {e}", req.display()))?;
    let hash = sha256_hex(format!("{python_version}\n{text}").as_bytes());
    Ok((cache_root()?.join(format!("peers-{}", &hash[..12])), hash))
}

/// Creates (once) and returns the pinned peer environment.
pub fn setup(root: &Path) -> Result<PeerEnv, String> {
    let python = which_python().ok_or_else(|| {
        format!(
            "python3 was not found on PATH: install Python {}.{}+ with the venv module. {SKIP}",
            MIN_PYTHON.0, MIN_PYTHON.1
        )
    })?;
    let version = python_version(&python)?;
    match parse_python_version(&version) {
        Some(v) if v >= MIN_PYTHON => {}
        _ => {
            return Err(format!(
                "`{python} --version` says `{version}`; the peer packages need Python {}.{} or newer. {SKIP}",
                MIN_PYTHON.0, MIN_PYTHON.1
            ))
        }
    }
    let (dir, hash) = env_dir(root, &version)?;
    let env_python = dir.join("bin").join("python");
    let marker = dir.join(".sciml-ready");
    if std::fs::read_to_string(&marker).is_ok_and(|h| h.trim() == hash) && env_python.is_file() {
        step(&format!("environment ready at {} ({version})", dir.display()));
        return Ok(PeerEnv { python: env_python, python_version: version });
    }
    let venv_ok = Command::new(&python)
        .args(["-c", "import venv, ensurepip"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !venv_ok {
        return Err(format!(
            "`{python}` has no working venv/ensurepip module (Debian/Ubuntu: `apt-get install python3-venv`). {SKIP}"
        ));
    }
    let cache = cache_root()?;
    std::fs::create_dir_all(&cache).map_err(|e| format!("cannot create {}: {e}. {SKIP}", cache.display()))?;
    if let Some(kb) = free_kb(&cache) {
        if kb < NEEDED_FREE_KB {
            return Err(format!(
                "{} has {:.1} GB free; the peer environment needs about {:.0} GB. Free some space or set \
                 XDG_CACHE_HOME to a larger disk. {SKIP}",
                cache.display(),
                kb as f64 / 1048576.0,
                NEEDED_FREE_KB as f64 / 1048576.0
            ));
        }
    }
    // A directory without the marker is an interrupted earlier attempt: pip resumes it, unless
    // it has no interpreter, then it is made again.
    if dir.exists() && !env_python.is_file() {
        step(&format!("removing an incomplete environment at {}", dir.display()));
        std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    if dir.exists() {
        step(&format!("resuming the set-up of {}", dir.display()));
    } else {
        step(&format!("creating a virtual environment at {} with {version}", dir.display()));
        crate::run_step("python -m venv", {
            let mut c = Command::new(&python);
            c.args(["-m", "venv"]).arg(&dir);
            c
        })
        .map_err(|e| format!("{e}. {SKIP}"))?;
    }
    let wheels = cache.join("wheels");
    let pinned_torch = torch_pin(&std::fs::read_to_string(root.join(REQUIREMENTS)).unwrap_or_default());
    // pip prefers the index over --find-links for the same version: install the cached torch wheel
    // on its own, offline, so that the full install below finds it already satisfied.
    if let Some(v) = pinned_torch.as_deref().filter(|_| wheels.is_dir()) {
        let has_wheel = std::fs::read_dir(&wheels).is_ok_and(|rd| {
            rd.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&format!("torch-{v}-")))
        });
        if has_wheel {
            step(&format!("installing the cached torch {v} wheel from {}", wheels.display()));
            let mut pip = pip_install(&env_python);
            pip.args(["--no-deps", "--no-index", "--find-links"]).arg(&wheels).arg(format!("torch=={v}"));
            crate::run_step("pip install torch (cached wheel)", pip).map_err(|e| format!("{e}. {SKIP}"))?;
        }
    }
    step(&format!("installing the pinned peers of {REQUIREMENTS} from PyPI (several GB on a first run)"));
    let mut pip = pip_install(&env_python);
    pip.arg("-r").arg(root.join(REQUIREMENTS));
    crate::run_step("pip install -r benches/peers/requirements.txt", pip).map_err(|e| {
        format!("{e}: see pip's message above (network, disk or a package without a wheel for this Python). {SKIP}")
    })?;
    step("checking that the peers import");
    let mut check = Command::new(&env_python);
    check.arg(root.join(SCRIPTS).join("_check.py"));
    crate::run_step("import check", check).map_err(|e| format!("{e}. {SKIP}"))?;
    std::fs::write(&marker, &hash).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    step(&format!("environment ready at {}", dir.display()));
    Ok(PeerEnv { python: env_python, python_version: version })
}

/// `python -m pip install` with quiet, non-interactive options.
fn pip_install(python: &Path) -> Command {
    let mut c = Command::new(python);
    c.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input"]);
    c
}

/// The version pinned for torch in a requirements text (`torch==X`).
fn torch_pin(requirements: &str) -> Option<String> {
    requirements.lines().find_map(|l| l.trim().strip_prefix("torch==").map(|v| v.trim().to_string()))
}

/// The peer scripts: `benches/peers/*.py` except helpers whose name starts with `_`, sorted.
pub fn scripts(root: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = root.join(SCRIPTS);
    let rd = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "py")
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('_'))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// The peer name of a script (its file stem).
pub fn peer_name(script: &Path) -> String {
    script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Environment variables that fix the thread count of libtorch, OpenMP, MKL and the scripts.
pub fn thread_env(c: &mut Command, threads: usize) {
    let n = threads.to_string();
    for k in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "SCIML_BENCH_THREADS"] {
        c.env(k, &n);
    }
}

/// The workload ids a script times.
pub fn list(env: &PeerEnv, script: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(&env.python)
        .arg(script)
        .arg("--list")
        .output()
        .map_err(|e| format!("could not run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --list failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Settings of one script run.
pub struct RunSettings {
    pub threads: usize,
    pub samples: usize,
    pub warmup_s: f64,
}

/// Parses a script's stdout: one JSON object per line; anything else is an error naming the line.
pub fn parse_lines(script: &str, stdout: &str) -> Result<Vec<ScriptLine>, String> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<ScriptLine>(l)
                .map_err(|e| format!("{script} printed a line that is not a result ({e}): {l}"))
                .and_then(|r| match (r.median_ns, &r.error) {
                    (Some(m), _) if !(m.is_finite() && m > 0.0) => {
                        Err(format!("{script}: {} has median_ns {m}, not a positive time", r.id))
                    }
                    (None, None) => Err(format!("{script}: {} has neither median_ns nor error", r.id)),
                    _ => Ok(r),
                })
        })
        .collect()
}

/// Runs `script` on the workloads `ids` and returns its results (stderr streams to the terminal).
pub fn run(env: &PeerEnv, script: &Path, ids: &[String], s: &RunSettings) -> Result<Vec<ScriptLine>, String> {
    let filter = format!("^({})$", ids.iter().map(|i| regex::escape(i)).collect::<Vec<_>>().join("|"));
    let mut c = Command::new(&env.python);
    c.arg(script)
        .args(["--filter", &filter, "--threads", &s.threads.to_string(), "--samples", &s.samples.to_string()])
        .args(["--warmup", &s.warmup_s.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    thread_env(&mut c, s.threads);
    let name = peer_name(script);
    let out = c.output().map_err(|e| format!("could not run {}: {e}", script.display()))?;
    let lines = parse_lines(&name, &String::from_utf8_lossy(&out.stdout))?;
    if lines.is_empty() && !out.status.success() {
        return Err(format!("{name} failed ({}) before printing a result", out.status));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_pin_is_read() {
        assert_eq!(torch_pin("# x\ntorchaudio==2.11.1\ntorch==2.13.0\n"), Some("2.13.0".into()));
        assert_eq!(torch_pin("numpy==2.0\n"), None);
    }

    #[test]
    fn python_versions() {
        assert_eq!(parse_python_version("Python 3.11.7"), Some((3, 11)));
        assert_eq!(parse_python_version("Python 3.13.0rc1"), Some((3, 13)));
        assert_eq!(parse_python_version("Python 3.9.18\n"), Some((3, 9)));
        assert!(parse_python_version("Python 3.9.18").unwrap() < MIN_PYTHON);
        assert_eq!(parse_python_version("pypy"), None);
    }

    #[test]
    fn script_output_is_checked() {
        let ok = r#"{"id":"a/b","peer":"p","version":"1.0","median_ns":1.5e6,"samples":10,"threads":2,"workload":"w"}
{"id":"a/c","peer":"p","version":"1.0","error":"ImportError: x"}
"#;
        let v = parse_lines("p", ok).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].median_ns, Some(1.5e6));
        assert!(v[1].error.as_deref().unwrap().contains("ImportError"));
        assert!(parse_lines("p", "warming up\n").unwrap_err().contains("warming up"));
        let neg = r#"{"id":"a/b","peer":"p","median_ns":-1}"#;
        assert!(parse_lines("p", neg).unwrap_err().contains("positive"));
        let nan = r#"{"id":"a/b","peer":"p","median_ns":null}"#;
        assert!(parse_lines("p", nan).unwrap_err().contains("neither"));
    }
}
