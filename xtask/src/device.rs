//! `cargo xtask device-pack`: build the tests and the suite here, run them on a CUDA machine.
//!
//! A CUDA machine without a Rust toolchain (a lent GPU box, a cluster node) can run what this
//! machine builds when both agree on libtorch: the pack is built against the CPU *and* CUDA
//! libraries of a PyPI torch wheel (2.11.0 for tch 0.24 by default, the version most GPU images
//! carry), linking `libtorch_cuda.so` without shipping it. The machine that runs the pack uses its
//! own torch installation's libraries (`LD_LIBRARY_PATH`), which bring the CUDA toolkit along.
//!
//! 1. The workspace's files (`git ls-files`, uncommitted changes included) are copied to
//!    `target/device/src`, whose `Cargo.lock` is moved to the requested `tch` when needed; the
//!    user's lock file is never touched.
//! 2. `cargo test --no-run` and the suite binary are built with the `device` profile (release,
//!    stripped) for `x86_64-unknown-linux-gnu`, with `-Wl,--no-as-needed -ltorch_cuda -lc10_cuda`
//!    so the binaries load libtorch's CUDA backend (rustc's default `--as-needed` would drop it:
//!    nothing refers to its symbols directly).
//! 3. The binaries, the sources (tests read fixtures under their crate directory, whose build-time
//!    path the run script recreates as a link), a table of the test binaries and `run.sh` are packed
//!    into one `.tar.xz` with a dictionary large enough to share the common code across binaries.
//!    The pack must fit in `--max-mib` (64 by default).
//!
//! On the CUDA machine: `tar -xJf sciml-device.tar.xz -C DIR && DIR/run.sh OUT` (see `run.sh`).

use crate::setup;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The script that runs a pack (packed as `run.sh`).
const RUN_SH: &str = include_str!("../device/run.sh");

/// Target triple the pack is built for: naming it keeps the link flags away from build scripts.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Options of `cargo xtask device-pack`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackArgs {
    /// `tch` minor version to build with (24 = libtorch 2.11.0).
    pub tch_minor: u32,
    /// The archive to write.
    pub out: Option<PathBuf>,
    /// Largest archive accepted, MiB.
    pub max_mib: u64,
}

impl PackArgs {
    /// Parses `[--tch 0.24|0.26] [--out FILE] [--max-mib N]`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut a = PackArgs { tch_minor: 24, out: None, max_mib: 64 };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--tch" => {
                    let v = value()?;
                    let minor = v.strip_prefix("0.").and_then(|m| m.split('.').next()?.parse().ok());
                    a.tch_minor = minor.ok_or_else(|| format!("--tch: expected 0.24 or 0.26, got `{v}`"))?;
                    setup::release_for(a.tch_minor)?;
                }
                "--out" => a.out = Some(PathBuf::from(value()?)),
                "--max-mib" => {
                    let v = value()?;
                    a.max_mib = v
                        .parse()
                        .ok()
                        .filter(|&m| m > 0)
                        .ok_or_else(|| format!("--max-mib: expected a positive integer, got `{v}`"))?;
                }
                other => return Err(format!("device-pack: unknown option `{other}`")),
            }
        }
        Ok(a)
    }
}

fn step(msg: &str) {
    eprintln!("[device-pack] {msg}");
}

/// A built test binary.
#[derive(Debug, Clone, PartialEq)]
struct TestBinary {
    package: String,
    target: String,
    executable: PathBuf,
    /// The package directory, relative to the staged workspace.
    package_dir: PathBuf,
}

/// Copies the files git knows of (tracked and untracked, not ignored) into `stage`.
fn stage_sources(root: &Path, stage: &Path) -> Result<usize, String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .map_err(|e| format!("could not run git (the pack copies the files git lists): {e}"))?;
    if !out.status.success() {
        return Err(format!("git ls-files failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    if stage.exists() {
        std::fs::remove_dir_all(stage).map_err(|e| format!("cannot clear {}: {e}", stage.display()))?;
    }
    let mut n = 0;
    for rel in out.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).map_err(|_| "a file name is not UTF-8".to_string())?);
        let src = root.join(rel);
        if !src.is_file() {
            continue; // deleted in the work tree
        }
        let dst = stage.join(rel);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        }
        std::fs::copy(&src, &dst).map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
        n += 1;
    }
    Ok(n)
}

/// The test executables in cargo's JSON messages (`--message-format=json`).
fn test_binaries(json: &str, stage: &Path) -> Result<Vec<TestBinary>, String> {
    let mut out = Vec::new();
    for line in json.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("cargo message: {e}"))?;
        if v["reason"] != "compiler-artifact" || v["profile"]["test"] != true {
            continue;
        }
        let Some(exe) = v["executable"].as_str() else { continue };
        let manifest = PathBuf::from(v["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest
            .parent()
            .unwrap_or(Path::new(""))
            .strip_prefix(stage)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let package = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let target = v["target"]["name"].as_str().unwrap_or("?").to_string();
        out.push(TestBinary { package, target, executable: PathBuf::from(exe), package_dir: dir });
    }
    out.sort_by(|a, b| (&a.package, &a.target).cmp(&(&b.package, &b.target)));
    out.dedup_by(|a, b| a.executable == b.executable);
    Ok(out)
}

/// The executable of a `--bin` build in cargo's JSON messages.
fn bin_executable(json: &str, name: &str) -> Option<PathBuf> {
    json.lines().filter(|l| l.starts_with('{')).find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        let wanted = v["reason"] == "compiler-artifact"
            && v["target"]["name"] == name
            && v["profile"]["test"] == false;
        wanted.then(|| v["executable"].as_str().map(PathBuf::from)).flatten()
    })
}

/// Runs cargo with the pack's environment and returns its JSON messages.
fn cargo_json(stage: &Path, libtorch: &Path, target_dir: &Path, args: &[&str]) -> Result<String, String> {
    let lib = libtorch.join("lib");
    let flags = format!(
        "-L native={lib} -C link-arg=-Wl,--allow-shlib-undefined -C link-arg=-Wl,--no-as-needed \
         -C link-arg=-ltorch_cuda -C link-arg=-lc10_cuda",
        lib = lib.display()
    );
    let mut c = crate::cargo(stage, libtorch);
    c.args(args)
        .args(["--profile", "device", "--target", TRIPLE, "--message-format=json-render-diagnostics"])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("RUSTFLAGS", flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    eprintln!("\n==> cargo {}", args.join(" "));
    let out = c.output().map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo {} failed ({})", args.join(" "), out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| "cargo printed non-UTF-8 JSON".into())
}

/// `cargo xtask device-pack`.
pub fn pack(root: &Path, a: &PackArgs) -> Result<PathBuf, String> {
    let release = setup::release_for(a.tch_minor)?;
    let libtorch = setup::provision(release, true)?;
    let base = root.join("target").join("device");
    let stage = base.join("src");
    let n = stage_sources(root, &stage)?;
    step(&format!("staged {n} files in {}", stage.display()));
    if setup::locked_tch_minor(&stage)? != a.tch_minor {
        let mut c = crate::cargo(&stage, &libtorch);
        c.args(["update", "-p", "tch", "--precise", &format!("0.{}.0", a.tch_minor)]);
        crate::run_step(&format!("cargo update -p tch --precise 0.{}.0 (staged copy)", a.tch_minor), c)?;
    }
    let target_dir = base.join("target");
    let json = cargo_json(
        &stage,
        &libtorch,
        &target_dir,
        &["test", "--workspace", "--exclude", "xtask", "--no-run"],
    )?;
    let tests = test_binaries(&json, &stage)?;
    if tests.is_empty() {
        return Err("cargo built no test binaries".into());
    }
    let json = cargo_json(&stage, &libtorch, &target_dir, &["build", "-p", "sciml-bench", "--bin", "suite"])?;
    let suite = bin_executable(&json, "suite").ok_or("cargo did not report the suite binary")?;

    // Assemble the pack directory.
    let dir = base.join("pack");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    let mut table = String::from("package\ttarget\tbinary\tpackage_dir\n");
    for t in &tests {
        let name =
            t.executable.file_name().ok_or("a test binary without a name")?.to_string_lossy().into_owned();
        std::fs::copy(&t.executable, bin.join(&name)).map_err(|e| format!("cannot copy {name}: {e}"))?;
        table.push_str(&format!("{}\t{}\t{name}\t{}\n", t.package, t.target, t.package_dir.display()));
    }
    std::fs::copy(&suite, bin.join("suite")).map_err(|e| format!("cannot copy the suite binary: {e}"))?;
    std::fs::write(dir.join("tests.tsv"), table).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("build-root"), format!("{}\n", stage.display())).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("libtorch-version"), format!("{}\n", release.version))
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("run.sh"), RUN_SH).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755));
    }

    // One xz stream over everything, with a dictionary that spans several binaries.
    let out = a.out.clone().unwrap_or_else(|| base.join("sciml-device.tar.xz"));
    let tmp = out.with_extension(format!("tmp-{}", std::process::id()));
    let mut tar = Command::new("tar");
    tar.env("XZ_OPT", "-9 --lzma2=preset=9,dict=256MiB --threads=1")
        .arg("-cJf")
        .arg(&tmp)
        .arg("--owner=0")
        .arg("--group=0")
        .arg("-C")
        .arg(&dir)
        .args(["run.sh", "tests.tsv", "build-root", "libtorch-version", "bin"])
        .arg("-C")
        .arg(&base)
        .arg("src");
    step(&format!(
        "compressing {} test binaries, the suite and the sources (xz, 256 MiB dictionary)",
        tests.len()
    ));
    crate::run_step("tar -cJf (xz)", tar)
        .map_err(|e| format!("{e}; the pack needs `tar` and `xz` on PATH"))?;
    std::fs::rename(&tmp, &out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let size = std::fs::metadata(&out).map_err(|e| e.to_string())?.len();
    let mib = size as f64 / (1024.0 * 1024.0);
    if size > a.max_mib * 1024 * 1024 {
        return Err(format!(
            "{} is {mib:.1} MiB, over --max-mib {}: fewer binaries or a larger limit",
            out.display(),
            a.max_mib
        ));
    }
    step(&format!(
        "{} ({mib:.1} MiB): {} test binaries + suite, libtorch {}; run it with `tar -xJf {} -C DIR && DIR/run.sh OUT`",
        out.display(),
        tests.len(),
        release.version,
        out.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_parse_and_bad_values_are_named() {
        assert_eq!(PackArgs::parse(&[]), Ok(PackArgs { tch_minor: 24, out: None, max_mib: 64 }));
        let a = PackArgs::parse(&s(&["--tch", "0.26", "--out", "p.tar.xz", "--max-mib", "32"])).unwrap();
        assert_eq!((a.tch_minor, a.max_mib), (26, 32));
        for (bad, what) in [
            (vec!["--tch", "1.0"], "1.0"),
            (vec!["--tch", "0.25"], "0.25"),
            (vec!["--max-mib", "0"], "0"),
            (vec!["--bogus"], "--bogus"),
        ] {
            let e = PackArgs::parse(&s(&bad)).unwrap_err();
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn test_executables_are_read_from_cargo_messages() {
        let stage = Path::new("/b/src");
        let json = r#"{"reason":"compiler-artifact","manifest_path":"/b/src/crates/spiking/Cargo.toml","target":{"name":"golden"},"profile":{"test":true},"executable":"/b/t/golden-1"}
{"reason":"compiler-artifact","manifest_path":"/b/src/crates/spiking/Cargo.toml","target":{"name":"sciml_spiking"},"profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","manifest_path":"/b/src/benches/Cargo.toml","target":{"name":"suite"},"profile":{"test":false},"executable":"/b/t/suite"}
{"reason":"build-finished","success":true}"#;
        let t = test_binaries(json, stage).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].package.as_str(), t[0].target.as_str()), ("spiking", "golden"));
        assert_eq!(t[0].package_dir, Path::new("crates/spiking"));
        assert_eq!(bin_executable(json, "suite"), Some(PathBuf::from("/b/t/suite")));
    }

    #[test]
    fn the_run_script_reads_what_the_pack_writes() {
        for name in ["tests.tsv", "build-root", "bin/", "SCIML_DEVICE", "summary.tsv"] {
            assert!(RUN_SH.contains(name), "run.sh does not mention {name}");
        }
    }
}
