//! `cargo xtask cpu-audit`: library code that would pin a tensor to the CPU.
//!
//! A model must work where its inputs live. In library code (every `src/` of the crates and the
//! bench harness, test modules excluded) this flags
//! - `Device::Cpu` anywhere except as the target of a host read-back (`.to(Device::Cpu)`,
//!   `.to_device(Device::Cpu)`, their `f_` forms) and the device parser;
//! - `Tensor::from_slice(..)` / `Tensor::from(..)` (CPU tensors) whose statement never moves the
//!   tensor (`.to(..)`, `.to_device(..)`, `f_to..`).
//!
//! A line that is deliberate says why in a `// cpu: <reason>` comment on the line or the line above
//! (a host-side computation, a tensor that never meets device data).

use std::path::{Path, PathBuf};

/// One flagged line.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub file: PathBuf,
    pub line: usize,
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.text.trim())
    }
}

const MOVES: [&str; 4] = [".to(", ".to_device(", ".f_to(", ".f_to_device("];
/// How many lines a statement may span for its move to count.
const STATEMENT_LINES: usize = 6;

fn is_read_back(code: &str) -> bool {
    let squeezed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let cpu = squeezed.replace("tch::Device::Cpu", "Device::Cpu");
    let mut rest = cpu.as_str();
    // Every Device::Cpu on the line must be a move target.
    while let Some(i) = rest.find("Device::Cpu") {
        let before = &rest[..i];
        let ok = ["to(", "to_device(", "=>Ok("].iter().any(|p| before.ends_with(p));
        if !ok {
            return false;
        }
        rest = &rest[i + "Device::Cpu".len()..];
    }
    true
}

fn code_of(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

fn annotated(lines: &[&str], i: usize) -> bool {
    let mark = |l: &str| l.contains("// cpu:");
    mark(lines[i]) || (i > 0 && mark(lines[i - 1]) && lines[i - 1].trim_start().starts_with("//"))
}

/// The flagged lines of one file's text.
pub fn audit_text(file: &Path, text: &str) -> Vec<Finding> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines.iter().position(|l| l.starts_with("#[cfg(test)]")).unwrap_or(lines.len());
    let mut out = Vec::new();
    for i in 0..end {
        let code = code_of(lines[i]);
        let cpu = code.contains("Device::Cpu") && !is_read_back(code);
        let host = (code.contains("Tensor::from_slice(") || code.contains("Tensor::from(")) && {
            let mut moved = false;
            for l in lines.iter().take(end.min(i + STATEMENT_LINES)).skip(i) {
                let c = code_of(l);
                moved |= MOVES.iter().any(|m| c.contains(m));
                if c.trim_end().ends_with(';') || moved {
                    break;
                }
            }
            !moved
        };
        if (cpu || host) && !annotated(&lines, i) {
            out.push(Finding { file: file.to_path_buf(), line: i + 1, text: lines[i].to_string() });
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name != "tests.rs" && !name.ends_with("_tests.rs") {
                out.push(p);
            }
        }
    }
}

/// The library sources audited: `crates/*/src/**.rs` and `benches/src/**.rs`, tests excluded.
pub fn library_sources(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root.join("crates")) {
        let mut crates: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path().join("src"))).collect();
        crates.sort();
        for c in crates {
            rust_files(&c, &mut files);
        }
    }
    rust_files(&root.join("benches").join("src"), &mut files);
    files
}

/// Every flagged line of the workspace's library code.
pub fn audit(root: &Path) -> Result<Vec<Finding>, String> {
    let mut out = Vec::new();
    for f in library_sources(root) {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let rel = f.strip_prefix(root).unwrap_or(&f);
        out.extend(audit_text(rel, &text));
    }
    Ok(out)
}

/// `cargo xtask cpu-audit`: prints the findings; an error when there are any.
pub fn run(root: &Path) -> Result<(), String> {
    let found = audit(root)?;
    let files = library_sources(root).len();
    for f in &found {
        println!("{f}");
    }
    if found.is_empty() {
        eprintln!("[cpu-audit] {files} library files: no tensor pinned to the CPU");
        Ok(())
    } else {
        Err(format!(
            "{} line(s) pin tensors to the CPU; move them to the input's device, or say why with `// cpu: <reason>`",
            found.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(src: &str) -> Vec<usize> {
        audit_text(Path::new("x.rs"), src).into_iter().map(|f| f.line).collect()
    }

    #[test]
    fn read_backs_and_moves_pass_and_pinned_tensors_are_flagged() {
        let src = "\
let v = Vec::<f64>::try_from(t.to(Device::Cpu))?;
let w = t.f_detach()?.f_to(tch::Device::Cpu)?;
\"cpu\" => Ok(Device::Cpu),
let z = Tensor::zeros([3], (Kind::Double, Device::Cpu));
let a = Tensor::from_slice(&v).to_device(x.device());
let b = Tensor::from_slice(&v)
    .view([2, 2])
    .to(dev);
let c = Tensor::from_slice(&v);
// cpu: host-side table, read back below
let d = Tensor::from_slice(&v);
let e = Tensor::rand([b], (Kind::Double, Device::Cpu)); // cpu: host inverse CDF
let f = x.to(Device::Cpu) + Tensor::ones([1], (Kind::Float, Device::Cpu));
#[cfg(test)]
let g = Tensor::from_slice(&v);
";
        assert_eq!(flagged(src), vec![4, 9, 13]);
    }

    /// The grep behind "no code path hard-codes the CPU": run over the workspace itself.
    #[test]
    fn no_library_code_pins_tensors_to_the_cpu() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
        assert!(library_sources(root).len() > 100, "the audit sees the crates' sources");
        let found = audit(root).expect("sources readable");
        let list: Vec<String> = found.iter().map(|f| f.to_string()).collect();
        assert!(found.is_empty(), "{} line(s) pin tensors to the CPU:\n{}", found.len(), list.join("\n"));
    }
}
