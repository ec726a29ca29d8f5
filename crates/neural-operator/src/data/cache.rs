//! On-disk cache of generated data sets as safetensors files, so that a PDE data set is solved
//! once per `(generator, parameters, seed)` and then loaded in milliseconds.

use crate::error::Result;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Generator version, part of every cache key: bump it when a generator's output changes.
pub const CACHE_VERSION: u32 = 1;

/// The cache file for `key` under `dir`: `dir/<key>.v<version>.safetensors`.
pub fn cache_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.v{CACHE_VERSION}.safetensors"))
}

/// Loads the `(x, y)` pair cached under `key` in `dir`, or calls `make`, stores its result
/// (written to a temporary file and renamed, so an interrupted run never leaves a partial file)
/// and returns it. A cache file that is unreadable, lacks `x` or `y`, holds tensors that are not
/// floating point, disagree in their number of samples or contain NaN/inf is reported on stderr
/// and regenerated.
pub fn cached_pair(
    dir: &Path,
    key: &str,
    make: impl FnOnce() -> Result<(Tensor, Tensor)>,
) -> Result<(Tensor, Tensor)> {
    let path = cache_path(dir, key);
    if path.exists() {
        match Tensor::read_safetensors(&path) {
            Ok(named) => {
                let get = |n: &str| named.iter().find(|(k, _)| k == n).map(|(_, t)| t.shallow_clone());
                match (get("x"), get("y")) {
                    (Some(x), Some(y)) => match check_pair(&x, &y) {
                        Ok(()) => return Ok((x, y)),
                        Err(why) => {
                            eprintln!("warning: cache file {} {why}; regenerating", path.display())
                        }
                    },
                    _ => eprintln!("warning: cache file {} lacks x/y; regenerating", path.display()),
                }
            }
            Err(e) => eprintln!("warning: cache file {} is unreadable ({e}); regenerating", path.display()),
        }
    }
    let (x, y) = make()?;
    core_tensor::checkpoint::write_atomic(&path, |tmp| {
        Ok(Tensor::write_safetensors(&[("x", &x), ("y", &y)], tmp)?)
    })?;
    Ok((x, y))
}

/// Why a loaded pair cannot be a generated data set, if it cannot.
fn check_pair(x: &Tensor, y: &Tensor) -> std::result::Result<(), String> {
    for (name, t) in [("x", x), ("y", y)] {
        if !matches!(t.kind(), tch::Kind::Float | tch::Kind::Double) {
            return Err(format!("holds {name} of dtype {:?}, not floating point", t.kind()));
        }
        if t.dim() == 0 || t.numel() == 0 {
            return Err(format!("holds an empty {name} of shape {:?}", t.size()));
        }
        if !bool::try_from(t.isfinite().all()).unwrap_or(false) {
            return Err(format!("holds non-finite values in {name}"));
        }
    }
    if x.size()[0] != y.size()[0] {
        return Err(format!("holds {} inputs but {} outputs", x.size()[0], y.size()[0]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_loads_and_recovers_from_corruption() {
        let dir = std::env::temp_dir().join(format!("no-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let make = || Ok((Tensor::from_slice(&[1.0f32, 2.0]), Tensor::from_slice(&[3.0f32, 4.0])));
        let (x, _) = cached_pair(&dir, "k", make).unwrap();
        assert!(cache_path(&dir, "k").exists());
        // second call must not regenerate
        let (x2, y2) = cached_pair(&dir, "k", || panic!("regenerated")).unwrap();
        assert_eq!(Vec::<f32>::try_from(&x2).unwrap(), Vec::<f32>::try_from(&x).unwrap());
        assert_eq!(Vec::<f32>::try_from(&y2).unwrap(), vec![3.0, 4.0]);
        std::fs::write(cache_path(&dir, "k"), b"garbage").unwrap();
        let (x3, _) = cached_pair(&dir, "k", make).unwrap();
        assert_eq!(x3.size(), vec![2]);
        // a readable file with the wrong dtype, mismatched sample counts or NaN is regenerated too
        let bad = [
            (Tensor::from_slice(&[1i64, 2]), Tensor::from_slice(&[3.0f32, 4.0])),
            (Tensor::from_slice(&[1.0f32, 2.0, 5.0]), Tensor::from_slice(&[3.0f32, 4.0])),
            (Tensor::from_slice(&[f32::NAN, 2.0]), Tensor::from_slice(&[3.0f32, 4.0])),
        ];
        for (bx, by) in bad {
            Tensor::write_safetensors(&[("x", &bx), ("y", &by)], cache_path(&dir, "k")).unwrap();
            let (x4, y4) = cached_pair(&dir, "k", make).unwrap();
            assert_eq!(Vec::<f32>::try_from(&x4).unwrap(), vec![1.0, 2.0]);
            assert_eq!(y4.size(), vec![2]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
