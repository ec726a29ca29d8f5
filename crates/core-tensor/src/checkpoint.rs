//! Checkpoints: model variables as safetensors plus a serde config as JSON, written atomically.
//!
//! A checkpoint is a directory holding `model.safetensors` and `config.json`. It is written to a
//! temporary sibling directory and renamed into place, so a crash never leaves a half-written
//! checkpoint and never destroys the previous one. Loading checks every variable's name, shape and
//! dtype against the target [`VarStore`](tch::nn::VarStore) and reports the first mismatch.

use crate::error::{Error, Result};
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

/// File name of the variables inside a checkpoint directory.
pub const MODEL_FILE: &str = "model.safetensors";
/// File name of the JSON config inside a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";

/// Writes a file atomically: `write` fills a unique temporary sibling path, which is flushed to
/// disk and renamed onto `path` (then the directory entry is flushed). On error the temporary file
/// is removed and `path` is untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    sciml_report::fs::write_atomic_with(path, write)
}

/// Writes bytes atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| Ok(std::fs::write(tmp, bytes)?))
}

/// Saves named tensors as safetensors, atomically.
pub fn save_tensors(path: &Path, named: &[(String, Tensor)]) -> Result<()> {
    write_atomic(path, |tmp| {
        let cpu: Vec<(String, Tensor)> =
            named.iter().map(|(n, t)| (n.clone(), t.detach().to(tch::Device::Cpu).contiguous())).collect();
        // safetensors requires the suffix to pick the format; the temp name has none.
        Tensor::write_safetensors(&cpu, tmp)?;
        Ok(())
    })
}

/// Reads named tensors from a safetensors file; a missing or corrupt file is an
/// [`Error::Checkpoint`] naming the path.
pub fn load_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    if !path.is_file() {
        return Err(Error::checkpoint(path, "file not found"));
    }
    Tensor::read_safetensors(path)
        .map_err(|e| Error::checkpoint(path, format!("not a readable safetensors file ({e})")))
}

/// All variables of a var store (trainable or not), sorted by name.
pub fn named_variables(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Copies `src` into the variables of `vs`, checking names, shapes and dtypes; `path` is used
/// in error messages.
pub fn assign_variables(vs: &nn::VarStore, src: &[(String, Tensor)], path: &Path) -> Result<()> {
    let vars = vs.variables();
    for (name, _) in src {
        if !vars.contains_key(name) {
            return Err(Error::checkpoint(path, format!("unexpected variable `{name}` (model mismatch)")));
        }
    }
    let dst = named_variables(vs);
    let mut pairs = Vec::with_capacity(dst.len());
    for (name, d) in dst {
        let (_, s) = src
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::checkpoint(path, format!("missing variable `{name}` (model mismatch)")))?;
        pairs.push((name, d, s));
    }
    for (name, d, s) in &pairs {
        if s.size() != d.size() {
            return Err(Error::checkpoint(
                path,
                format!("variable `{name}` has shape {:?}, model expects {:?}", s.size(), d.size()),
            ));
        }
        if s.kind() != d.kind() {
            return Err(Error::checkpoint(
                path,
                format!("variable `{name}` has dtype {:?}, model expects {:?}", s.kind(), d.kind()),
            ));
        }
    }
    tch::no_grad(|| -> Result<()> {
        for (_, mut d, s) in pairs {
            d.f_copy_(s)?;
        }
        Ok(())
    })
}

/// Saves the variables of `vs` as safetensors at `path`, atomically.
pub fn save_var_store(path: &Path, vs: &nn::VarStore) -> Result<()> {
    save_tensors(path, &named_variables(vs))
}

/// Loads `path` into `vs`, checking names, shapes and dtypes.
pub fn load_var_store(path: &Path, vs: &nn::VarStore) -> Result<()> {
    let src = load_tensors(path)?;
    assign_variables(vs, &src, path)
}

/// Saves a checkpoint directory (`model.safetensors` + `config.json`) atomically: the directory
/// is written under a temporary name and renamed; an existing checkpoint at `dir` is replaced only
/// once the new one is complete.
pub fn save<C: Serialize>(dir: &Path, vs: &nn::VarStore, config: &C) -> Result<()> {
    save_dir_with(dir, |tmp| {
        save_var_store(&tmp.join(MODEL_FILE), vs)?;
        std::fs::write(tmp.join(CONFIG_FILE), serde_json::to_vec_pretty(config)?)?;
        Ok(())
    })
}

/// The sibling that holds the previous contents of `dir` while a new version is swapped in.
fn previous_sibling(dir: &Path) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.with_file_name(format!(".{name}.old"))
}

/// The directory that holds the newest complete version of `dir`: `dir` itself, or, when a run was
/// killed between the two renames of [`save_dir_with`], the previous version it kept aside.
pub fn existing_dir(dir: &Path) -> PathBuf {
    let prev = previous_sibling(dir);
    if !dir.exists() && prev.is_dir() {
        prev
    } else {
        dir.to_path_buf()
    }
}

/// Writes a directory atomically: `fill` populates a unique temporary sibling directory, whose
/// files are flushed to disk before it replaces `dir`. The previous version of `dir` is renamed to
/// a hidden `.<name>.old` sibling first and removed only once the new one is in place, so at every
/// moment one complete version exists ([`existing_dir`] and [`load`] find it).
pub fn save_dir_with(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = sciml_report::fs::temp_sibling(dir);
    std::fs::create_dir_all(&tmp)?;
    let filled = fill(&tmp).and_then(|_| {
        for entry in std::fs::read_dir(&tmp)? {
            sciml_report::fs::sync_path(&entry?.path())?;
        }
        Ok(sciml_report::fs::sync_path(&tmp)?)
    });
    if let Err(e) = filled {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let prev = previous_sibling(dir);
    if dir.exists() {
        // An older kept-aside version is superseded by `dir`, which is complete.
        let _ = std::fs::remove_dir_all(&prev);
        std::fs::rename(dir, &prev)?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if !dir.exists() && prev.is_dir() {
            let _ = std::fs::rename(&prev, dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.into());
    }
    sciml_report::fs::sync_parent(dir)?;
    let _ = std::fs::remove_dir_all(&prev);
    Ok(())
}

/// Reads the JSON config of a checkpoint directory.
pub fn load_config<C: DeserializeOwned>(dir: &Path) -> Result<C> {
    load_json(&existing_dir(dir).join(CONFIG_FILE))
}

/// Reads a JSON file; a missing or malformed file is an [`Error::Checkpoint`] naming it.
pub fn load_json<C: DeserializeOwned>(path: &Path) -> Result<C> {
    let path = path.to_path_buf();
    let bytes = std::fs::read(&path).map_err(|e| Error::checkpoint(&path, e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::checkpoint(&path, format!("invalid config JSON ({e})")))
}

/// Loads a checkpoint directory into `vs` and returns its config.
pub fn load<C: DeserializeOwned>(dir: &Path, vs: &nn::VarStore) -> Result<C> {
    let dir = &existing_dir(dir);
    let config = load_config(dir)?;
    load_var_store(&dir.join(MODEL_FILE), vs)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Mlp, MlpConfig};
    use tch::Device;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Cfg {
        widths: Vec<i64>,
    }

    fn model(widths: &[i64]) -> (nn::VarStore, Mlp) {
        let vs = nn::VarStore::new(Device::Cpu);
        let m = Mlp::new(&vs.root(), widths, MlpConfig::default()).unwrap();
        (vs, m)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let (vs, _m) = model(&[3, 5, 2]);
        save(&ck, &vs, &Cfg { widths: vec![3, 5, 2] }).unwrap();
        let (vs2, _m2) = model(&[3, 5, 2]);
        let cfg: Cfg = load(&ck, &vs2).unwrap();
        assert_eq!(cfg.widths, vec![3, 5, 2]);
        for ((n1, a), (n2, b)) in named_variables(&vs).iter().zip(named_variables(&vs2).iter()) {
            assert_eq!(n1, n2);
            assert!(a.equal(b));
        }
        // Overwriting keeps a complete checkpoint and leaves no temporary files behind.
        save(&ck, &vs2, &Cfg { widths: vec![1] }).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn mismatched_model_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let (vs, _m) = model(&[3, 5, 2]);
        save(&ck, &vs, &Cfg { widths: vec![] }).unwrap();
        let (vs2, _m2) = model(&[3, 6, 2]);
        let e = load::<Cfg>(&ck, &vs2).unwrap_err().to_string();
        assert!(e.contains("shape") && e.contains("layer0"), "{e}");
        let (vs3, _m3) = model(&[3, 5, 5, 2]);
        let e = load::<Cfg>(&ck, &vs3).unwrap_err().to_string();
        assert!(e.contains("missing variable `layer2"), "{e}");
    }

    #[test]
    fn corrupt_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let (vs, _m) = model(&[2, 2]);
        save(&ck, &vs, &Cfg { widths: vec![] }).unwrap();
        std::fs::write(ck.join(MODEL_FILE), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json").unwrap();
        let e = load::<Cfg>(&ck, &vs).unwrap_err().to_string();
        assert!(e.contains("model.safetensors") && e.contains("safetensors"), "{e}");
        std::fs::write(ck.join(CONFIG_FILE), b"{").unwrap();
        let e = load::<Cfg>(&ck, &vs).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        let e = load::<Cfg>(&dir.path().join("nope"), &vs).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn a_run_killed_between_the_renames_leaves_the_previous_checkpoint_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("ck");
        let (vs, _m) = model(&[2, 3]);
        save(&ck, &vs, &Cfg { widths: vec![7] }).unwrap();
        // The state right after `save_dir_with`'s first rename: `ck` kept aside, nothing in place.
        std::fs::rename(&ck, previous_sibling(&ck)).unwrap();
        let cfg: Cfg = load(&ck, &vs).unwrap();
        assert_eq!(cfg.widths, vec![7]);
        // The next save completes the swap and leaves one directory.
        save(&ck, &vs, &Cfg { widths: vec![8] }).unwrap();
        assert_eq!(load::<Cfg>(&ck, &vs).unwrap().widths, vec![8]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A fill that fails leaves the existing checkpoint and no temporaries.
        let e = save_dir_with(&ck, |_| Err(Error::invalid("fill", 0, "fails"))).unwrap_err();
        assert!(e.to_string().contains("fill"));
        assert_eq!(load::<Cfg>(&ck, &vs).unwrap().widths, vec![8]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_bytes_atomic(&p, b"old").unwrap();
        let r = write_atomic(&p, |_| Err(Error::invalid("x", 1, "fail")));
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
