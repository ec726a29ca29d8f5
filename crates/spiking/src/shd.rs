//! Loader for the Spiking Heidelberg Digits / Spiking Speech Commands HDF5 format (Cramer et al.
//! 2020), behind the `shd` feature (needs the HDF5 C library, e.g. Debian's `libhdf5-dev`).
//!
//! Layout: `spikes/times` — one variable-length array of spike times (seconds, float) per sample;
//! `spikes/units` — the matching variable-length array of input-channel indices (0..700, uint16);
//! `labels` — one class index per sample (uint16). Other groups (`extra/...`) are ignored.

use std::path::Path;

use hdf5::types::VarLenArray;
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// Number of input channels of SHD/SSC (cochlea model output).
pub const SHD_CHANNELS: usize = 700;

/// One SHD sample: spike times (s) and channel indices, and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct ShdSample {
    /// Spike times in seconds, in file order.
    pub times: Vec<f32>,
    /// Channel of each spike.
    pub units: Vec<u16>,
    /// Class index.
    pub label: u16,
}

fn h5(path: &Path, what: &str, e: hdf5::Error) -> Error {
    Error::invalid("path", path.display(), format!("cannot read {what}: {e}"))
}

/// Reads every sample of an SHD/SSC file.
///
/// # Errors
/// A missing or unreadable file or dataset, sample counts that differ between datasets, a sample
/// whose times and units differ in length, non-finite or negative times, channels ≥ 700.
pub fn read_shd(path: impl AsRef<Path>) -> Result<Vec<ShdSample>> {
    let path = path.as_ref();
    let f = hdf5::File::open(path).map_err(|e| h5(path, "file", e))?;
    let times: Vec<VarLenArray<f32>> =
        f.dataset("spikes/times").and_then(|d| d.read_raw()).map_err(|e| h5(path, "spikes/times", e))?;
    let units: Vec<VarLenArray<u16>> =
        f.dataset("spikes/units").and_then(|d| d.read_raw()).map_err(|e| h5(path, "spikes/units", e))?;
    let labels: Vec<u16> =
        f.dataset("labels").and_then(|d| d.read_raw()).map_err(|e| h5(path, "labels", e))?;
    if times.len() != units.len() || times.len() != labels.len() {
        return Err(Error::invalid(
            "path",
            path.display(),
            format!("{} time arrays, {} unit arrays and {} labels", times.len(), units.len(), labels.len()),
        ));
    }
    times
        .into_iter()
        .zip(units)
        .zip(labels)
        .enumerate()
        .map(|(i, ((t, u), label))| {
            let sample = ShdSample { times: t.as_slice().to_vec(), units: u.as_slice().to_vec(), label };
            sample
                .check()
                .map_err(|e| Error::invalid(format!("sample {i}"), path.display(), e.to_string()))?;
            Ok(sample)
        })
        .collect()
}

/// Writes samples in the SHD layout (for tests and for exporting synthetic data).
///
/// # Errors
/// HDF5 errors; a sample whose times and units differ in length or with a unit ≥ 700.
pub fn write_shd(path: impl AsRef<Path>, samples: &[ShdSample]) -> Result<()> {
    let path = path.as_ref();
    for (i, s) in samples.iter().enumerate() {
        s.check().map_err(|e| Error::invalid(format!("samples[{i}]"), "sample", e.to_string()))?;
    }
    write_unchecked(path, samples)
}

/// [`write_shd`] without the checks (tests write invalid files through it).
fn write_unchecked(path: &Path, samples: &[ShdSample]) -> Result<()> {
    let w = |e: hdf5::Error| Error::invalid("path", path.display(), format!("cannot write: {e}"));
    let times: Vec<VarLenArray<f32>> = samples.iter().map(|s| VarLenArray::from_slice(&s.times)).collect();
    let units: Vec<VarLenArray<u16>> = samples.iter().map(|s| VarLenArray::from_slice(&s.units)).collect();
    let labels: Vec<u16> = samples.iter().map(|s| s.label).collect();
    // Written under a temporary name and renamed: a killed run keeps the previous file.
    core_tensor::checkpoint::write_atomic(path, |tmp| {
        let f = hdf5::File::create(tmp).map_err(w)?;
        let g = f.create_group("spikes").map_err(w)?;
        g.new_dataset_builder().with_data(&times).create("times").map_err(w)?;
        g.new_dataset_builder().with_data(&units).create("units").map_err(w)?;
        f.new_dataset_builder().with_data(&labels).create("labels").map_err(w)?;
        f.close().map_err(w)
    })
}

impl ShdSample {
    /// Refuses a sample whose times and units differ in length, whose units reach 700 or whose
    /// times are negative or not finite: the one check that reading, writing and binning share.
    fn check(&self) -> Result<()> {
        if self.times.len() != self.units.len() {
            return Err(Error::invalid(
                "units",
                self.units.len(),
                format!("{} spike times", self.times.len()),
            ));
        }
        if let Some(&u) = self.units.iter().find(|&&u| u as usize >= SHD_CHANNELS) {
            return Err(Error::invalid("units", u, format!("unit ids must be < {SHD_CHANNELS}")));
        }
        if let Some(t) = self.times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(Error::invalid("times", t, "spike times must be finite and ≥ 0"));
        }
        Ok(())
    }

    /// Dense spike counts `[n_bins, 700]` over `[0, duration)` seconds (spikes at or after
    /// `duration` are dropped).
    ///
    /// # Errors
    /// `n_bins = 0`, non-positive duration, a unit ≥ 700 or times and units of different lengths.
    pub fn to_dense(&self, n_bins: usize, duration: f64) -> Result<Tensor> {
        if n_bins == 0 {
            return Err(Error::invalid("n_bins", n_bins, "must be ≥ 1"));
        }
        self.check()?;
        core_tensor::error::ensure_positive("duration", duration)?;
        let mut out = vec![0f32; n_bins * SHD_CHANNELS];
        for (&t, &u) in self.times.iter().zip(&self.units) {
            let t = t as f64;
            if t < duration {
                let b = ((t / duration * n_bins as f64) as usize).min(n_bins - 1);
                out[b * SHD_CHANNELS + u as usize] += 1.0;
            }
        }
        // cpu: a data source: batches move to the model's device when used
        Ok(Tensor::from_slice(&out).reshape([n_bins as i64, SHD_CHANNELS as i64]).to_kind(Kind::Float))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binning() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shd.h5");
        let samples = vec![
            ShdSample { times: vec![0.01, 0.5, 0.99], units: vec![3, 699, 3], label: 7 },
            ShdSample { times: vec![], units: vec![], label: 0 },
        ];
        write_shd(&p, &samples).unwrap();
        let back = read_shd(&p).unwrap();
        assert_eq!(back, samples);
        let d = back[0].to_dense(10, 1.0).unwrap();
        assert_eq!(d.size(), vec![10, 700]);
        assert_eq!(d.double_value(&[0, 3]), 1.0);
        assert_eq!(d.double_value(&[5, 699]), 1.0);
        assert_eq!(d.double_value(&[9, 3]), 1.0);
        assert_eq!(d.sum(Kind::Double).double_value(&[]), 3.0);
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.h5");
        std::fs::write(&p, b"not an hdf5 file").unwrap();
        let e = read_shd(&p).unwrap_err().to_string();
        assert!(e.contains("bad.h5"), "{e}");
        let p2 = dir.path().join("units.h5");
        let unit_700 = [ShdSample { times: vec![0.1], units: vec![700], label: 1 }];
        let e = write_shd(&p2, &unit_700).unwrap_err().to_string();
        assert!(e.contains("samples[0]") && e.contains("700"), "{e}");
        assert!(unit_700[0].to_dense(4, 1.0).unwrap_err().to_string().contains("700"));
        write_unchecked(&p2, &unit_700).unwrap();
        assert!(read_shd(&p2).unwrap_err().to_string().contains("700"));
        assert!(write_shd(&p2, &[ShdSample { times: vec![0.1], units: vec![], label: 1 }]).is_err());
        // a file with a negative spike time (written around the checks) is refused on reading
        write_unchecked(&p2, &[ShdSample { times: vec![-0.5], units: vec![3], label: 1 }]).unwrap();
        let e = read_shd(&p2).unwrap_err().to_string();
        assert!(e.contains("sample 0") && e.contains("-0.5"), "{e}");
    }
}
