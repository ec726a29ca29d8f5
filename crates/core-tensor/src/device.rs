//! Device selection: every model takes its device from its inputs or from [`device()`].
//!
//! The environment variable `SCIML_DEVICE` (`cpu`, `cuda`, `cuda:N`) overrides the default, which
//! is the first CUDA device when libtorch sees one and the CPU otherwise.

use crate::error::{Error, Result};
use tch::Device;

/// Name of the environment variable read by [`device()`].
pub const DEVICE_ENV: &str = "SCIML_DEVICE";

/// Parses a device string: `cpu`, `cuda` (device 0), `cuda:N`, or `mps`.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim().to_ascii_lowercase();
    match s.as_str() {
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => Ok(Device::Cuda(0)),
        "mps" => Ok(Device::Mps),
        _ => {
            if let Some(n) = s.strip_prefix("cuda:") {
                n.parse::<usize>()
                    .map(Device::Cuda)
                    .map_err(|_| Error::invalid(DEVICE_ENV, &s, "expected cpu, cuda, cuda:N or mps"))
            } else {
                Err(Error::invalid(DEVICE_ENV, &s, "expected cpu, cuda, cuda:N or mps"))
            }
        }
    }
}

/// The device to use: `SCIML_DEVICE` if set, else CUDA if available, else CPU.
///
/// A requested CUDA device that libtorch cannot see is an error rather than a silent fall-back.
pub fn try_device() -> Result<Device> {
    match std::env::var(DEVICE_ENV) {
        Ok(s) if !s.trim().is_empty() => {
            let d = parse_device(&s)?;
            if let Device::Cuda(i) = d {
                let n = tch::Cuda::device_count();
                if (i as i64) >= n {
                    return Err(Error::invalid(DEVICE_ENV, s, format!("libtorch sees {n} CUDA device(s)")));
                }
            }
            Ok(d)
        }
        _ => Ok(Device::cuda_if_available()),
    }
}

/// The device to use; like [`try_device`] but falls back to the default on a bad variable,
/// printing a warning once.
pub fn device() -> Device {
    match try_device() {
        Ok(d) => d,
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("warning: {e}; using the default device"));
            Device::cuda_if_available()
        }
    }
}

/// Runs `f` with one libtorch intra-op thread, restoring the previous count afterwards.
///
/// Small, latency-bound networks (NAS cells, neural TPP recurrences) lose more to thread
/// synchronisation in parallel kernels than they gain: 5–50× slower with two threads on a shared
/// 2-core machine. Tasks and benches of such models run through this.
pub fn with_single_thread<T>(f: impl FnOnce() -> T) -> T {
    let prev = tch::get_num_threads();
    tch::set_num_threads(1);
    let out = f();
    tch::set_num_threads(prev);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_devices() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device(" CUDA ").unwrap(), Device::Cuda(0));
        assert_eq!(parse_device("cuda:3").unwrap(), Device::Cuda(3));
        assert_eq!(parse_device("mps").unwrap(), Device::Mps);
    }

    #[test]
    fn rejects_unknown_devices() {
        let e = parse_device("tpu").unwrap_err().to_string();
        assert!(e.contains("SCIML_DEVICE") && e.contains("tpu"), "{e}");
        assert!(parse_device("cuda:x").is_err());
    }
}
