//! libtorch provisioning from PyPI wheels (see docs/architecture.md, "libtorch").
//!
//! The workspace accepts `tch` 0.24 (libtorch 2.11.0) and 0.26 (libtorch 2.13.0); the version
//! that `Cargo.lock` resolves for `torch-sys` decides which libtorch is provisioned.
//!
//! 1. A `LIBTORCH` set by the user, or a `.libtorch/build-version` equal to the resolved version,
//!    means nothing to do.
//! 2. The pinned wheels are fetched once with `pip download` into the user cache
//!    (`$XDG_CACHE_HOME/sciml-rs/wheels` or `~/.cache/sciml-rs/wheels`) and checked by sha256.
//! 3. The CPU libraries and headers are extracted once into `<cache>/libtorch-<version>`, and
//!    `.libtorch` in the workspace links to it, so a second clone is ready in a second.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A pinned wheel.
pub struct Wheel {
    requirement: &'static str,
    file: &'static str,
    sha256: &'static str,
    /// `pip download` tag options selecting exactly this file.
    tags: &'static [&'static str],
}

const TORCH_TAGS: &[&str] = &[
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
];

/// A libtorch release a `tch` version binds, and the PyPI wheel it is taken from.
pub struct Release {
    /// Minor version of `tch` / `torch-sys` (`0.<minor>`).
    pub tch_minor: u32,
    /// libtorch version (`build-version`).
    pub version: &'static str,
    /// The torch wheel (Linux x86_64, CPython 3.11; the CPU and CUDA libraries are both in it).
    pub torch: Wheel,
}

/// The releases the workspace builds against, oldest first. Both link CUDA 13 (the CUDA runtime
/// and CUPTI sonames `libtorch_cpu.so` needs are the same).
pub const RELEASES: [Release; 2] = [
    Release {
        tch_minor: 24,
        version: "2.11.0",
        torch: Wheel {
            requirement: "torch==2.11.0",
            file: "torch-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            sha256: "7aa2f9bbc6d4595ba72138026b2074be1233186150e9292865e04b7a63b8c67a",
            tags: TORCH_TAGS,
        },
    },
    Release {
        tch_minor: 26,
        version: "2.13.0",
        torch: Wheel {
            requirement: "torch==2.13.0",
            file: "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            sha256: "60fcdcb2f3876e21146cb4524ef06397d727ca9ad5f020818547e25075fe3cb7",
            tags: TORCH_TAGS,
        },
    },
];

/// The NVIDIA runtime wheels holding the CUDA libraries `libtorch_cpu.so` needs at load time.
const NVIDIA_WHEELS: [Wheel; 2] = [
    Wheel {
        requirement: "nvidia-cuda-runtime==13.0.96",
        file: "nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        sha256: "7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548",
        tags: &["--platform", "manylinux_2_17_x86_64", "--python-version", "3.11"],
    },
    Wheel {
        requirement: "nvidia-cuda-cupti==13.0.85",
        file: "nvidia_cuda_cupti-13.0.85-py3-none-manylinux_2_25_x86_64.whl",
        sha256: "4eb01c08e859bf924d222250d2e8f8b8ff6d3db4721288cf35d14252a4d933c8",
        tags: &["--platform", "manylinux_2_25_x86_64", "--python-version", "3.11"],
    },
];

/// The release for `tch` 0.`minor`, or an error listing the supported ones.
pub fn release_for(minor: u32) -> Result<&'static Release, String> {
    RELEASES.iter().find(|r| r.tch_minor == minor).ok_or_else(|| {
        let known: Vec<String> =
            RELEASES.iter().map(|r| format!("tch 0.{} (libtorch {})", r.tch_minor, r.version)).collect();
        format!(
            "Cargo.lock resolves torch-sys 0.{minor}, which this workspace has no libtorch pin for; supported: {}. \
             Run `cargo update -p tch --precise 0.26.0` (or 0.24.0), or set LIBTORCH to a matching libtorch",
            known.join(", ")
        )
    })
}

/// The `torch-sys` minor version `Cargo.lock` resolves (0.26 when there is no lock file yet).
pub fn locked_tch_minor(root: &Path) -> Result<u32, String> {
    let lock = root.join("Cargo.lock");
    let Ok(text) = std::fs::read_to_string(&lock) else { return Ok(RELEASES[RELEASES.len() - 1].tch_minor) };
    parse_locked_minor(&text).ok_or_else(|| format!("{} has no readable torch-sys entry", lock.display()))
}

/// The minor version of the `torch-sys` package in a `Cargo.lock` text.
fn parse_locked_minor(lock: &str) -> Option<u32> {
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"torch-sys\"" {
            let v = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
            let mut parts = v.split('.');
            return (parts.next()? == "0").then(|| parts.next()?.parse().ok())?;
        }
    }
    None
}

/// Libraries taken from `torch/lib/` (the CUDA ones are skipped: rustc links with `--as-needed`).
pub const TORCH_LIBS: [&str; 6] =
    ["libtorch_cpu.so", "libtorch.so", "libc10.so", "libgomp.so.1", "libshm.so", "libtorch_global_deps.so"];
/// The CUDA libraries of `torch/lib/` a CUDA build links against (see `device-pack`).
pub const TORCH_CUDA_LIBS: [&str; 2] = ["libtorch_cuda.so", "libc10_cuda.so"];
/// Libraries from the NVIDIA wheels that `libtorch_cpu.so` needs at load time.
const NVIDIA_LIBS: [&str; 2] = ["libcudart.so.13", "libcupti.so.13"];

/// Where libtorch lives for this workspace.
pub fn workspace_libtorch(root: &Path) -> PathBuf {
    root.join(".libtorch")
}

/// `LIBTORCH` when the user set it (our `.cargo/config.toml` sets it to `.libtorch` otherwise).
fn user_libtorch(root: &Path) -> Option<PathBuf> {
    let v = std::env::var_os("LIBTORCH")?;
    let p = PathBuf::from(v);
    let ours = workspace_libtorch(root);
    let same = p == ours || p.canonicalize().ok().zip(ours.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    (!same).then_some(p)
}

/// `$XDG_CACHE_HOME/sciml-rs` or `~/.cache/sciml-rs`: the wheels, libtorch and the peer environment.
pub fn cache_root() -> Result<PathBuf, String> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("sciml-rs"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".cache").join("sciml-rs")),
        None => {
            Err("neither XDG_CACHE_HOME nor HOME is set: set one of them (the wheel cache lives there), \
                     or set LIBTORCH to an existing libtorch"
                .into())
        }
    }
}

fn step(msg: &str) {
    eprintln!("[setup] {msg}");
}

fn is_ready(dir: &Path, version: &str, cuda: bool) -> bool {
    std::fs::read_to_string(dir.join("build-version")).is_ok_and(|v| v.trim() == version)
        && dir.join("lib").join("libtorch_cpu.so").is_file()
        && (!cuda || TORCH_CUDA_LIBS.iter().all(|l| dir.join("lib").join(l).is_file()))
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

const HELP: &str = "Install python3 with pip (Debian/Ubuntu: `apt-get install python3-pip`), make sure \
https://pypi.org is reachable and the cache has about 2 GB free, then run `cargo xtask setup` again. \
Alternatively download libtorch (2.13.0 for tch 0.26, 2.11.0 for tch 0.24) yourself (CPU or CUDA build) and set LIBTORCH to its directory: \
nothing is downloaded then.";

fn fetch_wheel(w: &Wheel, dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join(w.file);
    if path.is_file() {
        if sha256_file(&path)? == w.sha256 {
            step(&format!("{} cached", w.requirement));
            return Ok(path);
        }
        step(&format!("{} in the cache has a wrong checksum; downloading again", w.requirement));
        let _ = std::fs::remove_file(&path);
    }
    step(&format!("downloading {} from PyPI with pip", w.requirement));
    let python = which_python().ok_or_else(|| format!("python3 was not found on PATH. {HELP}"))?;
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(dir)
        .args(w.tags)
        .arg(w.requirement)
        .status()
        .map_err(|e| format!("could not run `{python} -m pip`: {e}. {HELP}"))?;
    if !out.success() {
        return Err(format!("`{python} -m pip download {}` failed (exit {out}). {HELP}", w.requirement));
    }
    if !path.is_file() {
        return Err(format!("pip did not produce {} in {}. {HELP}", w.file, dir.display()));
    }
    let got = sha256_file(&path)?;
    if got != w.sha256 {
        let _ = std::fs::remove_file(&path);
        return Err(format!(
            "{} has sha256 {got}, expected {}: the download was corrupted or the package changed. {HELP}",
            w.file, w.sha256
        ));
    }
    Ok(path)
}

/// `python3` (or `python`) when it runs.
pub fn which_python() -> Option<String> {
    for p in ["python3", "python"] {
        if Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(p.to_string());
        }
    }
    None
}

fn extract(zip_path: &Path, dest: &Path, select: impl Fn(&str) -> Option<PathBuf>) -> Result<usize, String> {
    let f = std::fs::File::open(zip_path).map_err(|e| format!("cannot open {}: {e}", zip_path.display()))?;
    let mut z =
        zip::ZipArchive::new(f).map_err(|e| format!("{} is not a valid wheel: {e}", zip_path.display()))?;
    let mut n = 0;
    for i in 0..z.len() {
        let mut entry = z.by_index(i).map_err(|e| format!("{}: {e}", zip_path.display()))?;
        if entry.is_dir() {
            continue;
        }
        let Some(rel) = select(entry.name()) else { continue };
        let out = dest.join(rel);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| disk_error(parent, e))?;
        }
        let mut o = std::fs::File::create(&out).map_err(|e| disk_error(&out, e))?;
        std::io::copy(&mut entry, &mut o).map_err(|e| disk_error(&out, e))?;
        o.flush().map_err(|e| disk_error(&out, e))?;
        n += 1;
    }
    Ok(n)
}

fn disk_error(p: &Path, e: std::io::Error) -> String {
    format!("cannot write {}: {e}. libtorch needs about 1.5 GB in the cache directory. {HELP}", p.display())
}

/// Ensures libtorch is available; returns the directory to use as `LIBTORCH`.
pub fn setup(root: &Path) -> Result<PathBuf, String> {
    if let Some(p) = user_libtorch(root) {
        step(&format!("using LIBTORCH={} (set by you); nothing to download", p.display()));
        return Ok(p);
    }
    let release = release_for(locked_tch_minor(root)?)?;
    let local = workspace_libtorch(root);
    if is_ready(&local, release.version, false) {
        return Ok(local);
    }
    let extracted = provision(release, false)?;
    // Replace a stale .libtorch (file, link or directory) by a link to the shared copy.
    if local.is_symlink() || local.is_file() {
        std::fs::remove_file(&local).map_err(|e| disk_error(&local, e))?;
    } else if local.exists() {
        std::fs::remove_dir_all(&local).map_err(|e| disk_error(&local, e))?;
    }
    link_dir(&extracted, &local).map_err(|e| disk_error(&local, e))?;
    step(&format!("linked {} -> {} (libtorch {})", local.display(), extracted.display(), release.version));
    Ok(local)
}

/// Extracts `release` from its wheels into the cache once, and returns the directory:
/// `<cache>/libtorch-<version>` with the CPU libraries, or `<cache>/libtorch-<version>-cuda` with
/// `libtorch_cuda.so` and `libc10_cuda.so` too (for linking a CUDA build; the CUDA toolkit
/// libraries those need are not extracted: the machine that runs the binaries has them).
pub fn provision(release: &Release, cuda: bool) -> Result<PathBuf, String> {
    let version = release.version;
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return Err(format!(
            "automatic libtorch set-up supports Linux x86_64 only. Download libtorch {version} for \
             your platform and set LIBTORCH to its directory."
        ));
    }
    let cache = cache_root()?;
    let name = if cuda { format!("libtorch-{version}-cuda") } else { format!("libtorch-{version}") };
    let extracted = cache.join(&name);
    if is_ready(&extracted, version, cuda) {
        step(&format!("libtorch {version} already extracted in {}", extracted.display()));
        return Ok(extracted);
    }
    let wheels_dir = cache.join("wheels");
    std::fs::create_dir_all(&wheels_dir).map_err(|e| disk_error(&wheels_dir, e))?;
    let torch = fetch_wheel(&release.torch, &wheels_dir)?;
    let nvidia = NVIDIA_WHEELS.iter().map(|w| fetch_wheel(w, &wheels_dir)).collect::<Result<Vec<_>, _>>()?;
    let tmp = cache.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    step(&format!("extracting headers and libraries into {}", extracted.display()));
    let n = extract(&torch, &tmp, |entry| {
        if let Some(rest) = entry.strip_prefix("torch/include/") {
            return Some(Path::new("include").join(rest));
        }
        let file = entry.strip_prefix("torch/lib/")?;
        (TORCH_LIBS.contains(&file) || (cuda && TORCH_CUDA_LIBS.contains(&file)))
            .then(|| Path::new("lib").join(file))
    })?;
    let mut libs = 0;
    for p in &nvidia {
        libs += extract(p, &tmp, |entry| {
            let file = entry.rsplit('/').next()?;
            NVIDIA_LIBS.contains(&file).then(|| Path::new("lib").join(file))
        })?;
    }
    let wanted = TORCH_LIBS.iter().chain(NVIDIA_LIBS.iter()).chain(TORCH_CUDA_LIBS.iter().filter(|_| cuda));
    for lib in wanted {
        if !tmp.join("lib").join(lib).is_file() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(format!("the wheels did not contain {lib}. {HELP}"));
        }
    }
    std::fs::write(tmp.join("build-version"), version).map_err(|e| disk_error(&tmp, e))?;
    let _ = std::fs::remove_dir_all(&extracted);
    std::fs::rename(&tmp, &extracted).map_err(|e| disk_error(&extracted, e))?;
    step(&format!("extracted {n} files from torch {version} and {libs} from the NVIDIA runtime wheels"));
    Ok(extracted)
}

#[cfg(unix)]
fn link_dir(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn link_dir(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symbolic links need a Unix system"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locked_torch_sys_minor_is_read_from_a_lock_file() {
        let lock = "[[package]]\nname = \"tch\"\nversion = \"0.24.0\"\n\n[[package]]\nname = \"torch-sys\"\nversion = \"0.24.0\"\nsource = \"x\"\n";
        assert_eq!(parse_locked_minor(lock), Some(24));
        assert_eq!(parse_locked_minor("[[package]]\nname = \"tch\"\n"), None);
        assert_eq!(parse_locked_minor("name = \"torch-sys\"\nversion = \"1.2.0\"\n"), None);
    }

    #[test]
    fn every_release_has_a_pin_and_unknown_versions_are_named() {
        assert_eq!(release_for(24).map(|r| r.version), Ok("2.11.0"));
        assert_eq!(release_for(26).map(|r| r.version), Ok("2.13.0"));
        let e = release_for(25).err().unwrap_or_default();
        assert!(e.contains("torch-sys 0.25") && e.contains("tch 0.24 (libtorch 2.11.0)"), "{e}");
        for r in &RELEASES {
            assert!(r.torch.file.contains(r.version) && r.torch.sha256.len() == 64);
        }
    }

    #[test]
    fn the_workspace_lock_resolves_a_supported_release() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
        let minor = locked_tch_minor(root).expect("lock file");
        assert!(release_for(minor).is_ok(), "torch-sys 0.{minor}");
    }
}
