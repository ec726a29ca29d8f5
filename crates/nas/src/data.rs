//! Data for architecture search: a procedural image-classification generator small enough to train
//! on two cores, and a reader/writer for the CIFAR-10 binary format.
//!
//! **Procedural shapes** (`ProceduralImages`): `classes` classes of `size × size` RGB images; class
//! `c` is a (shape, texture) pair — shapes: disc, square, triangle, ring, cross, horizontal bar;
//! textures: plain, horizontal stripes, vertical stripes, checker — drawn at a random position and
//! scale, with random foreground/background colours, plus Gaussian pixel noise. Everything is
//! deterministic given the seed. Pixels are in [0, 1] before normalisation.
//!
//! **CIFAR-10 binary**: records of `1 + 3072` bytes — the label, then 1024 red, 1024 green and
//! 1024 blue bytes of a 32 × 32 image in row-major order.

use std::path::Path;

use rand::Rng;
use rand_distr::{Distribution, Normal};
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// Settings of the procedural image generator.
#[derive(Debug, Clone, Copy)]
pub struct ProceduralImages {
    /// Number of classes (≤ 24 = 6 shapes × 4 textures).
    pub classes: usize,
    /// Image side in pixels (≥ 8).
    pub size: usize,
    /// Standard deviation of the Gaussian pixel noise.
    pub noise: f64,
}

impl Default for ProceduralImages {
    fn default() -> Self {
        ProceduralImages { classes: 10, size: 16, noise: 0.1 }
    }
}

const SHAPES: usize = 6;
const TEXTURES: usize = 4;

impl ProceduralImages {
    /// Checks the settings.
    ///
    /// # Errors
    /// `classes ∉ [2, 24]`, `size < 8`, negative or non-finite noise.
    pub fn validate(&self) -> Result<()> {
        if !(2..=SHAPES * TEXTURES).contains(&self.classes) {
            return Err(Error::invalid(
                "classes",
                self.classes,
                format!("must lie in [2, {}]", SHAPES * TEXTURES),
            ));
        }
        if self.size < 8 {
            return Err(Error::invalid("size", self.size, "images must be at least 8 × 8"));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::invalid("noise", self.noise, "must be finite and ≥ 0"));
        }
        Ok(())
    }

    /// Whether pixel `(x, y)` (in units of the shape's half-size, centred) lies inside `shape`.
    fn inside(shape: usize, x: f64, y: f64) -> bool {
        match shape {
            0 => x * x + y * y <= 1.0,
            1 => x.abs() <= 0.8 && y.abs() <= 0.8,
            2 => (-0.8..=0.8).contains(&y) && x.abs() <= (0.8 - y) / 1.6,
            3 => {
                let r2 = x * x + y * y;
                (0.36..=1.0).contains(&r2)
            }
            4 => (x.abs() <= 0.3 && y.abs() <= 1.0) || (y.abs() <= 0.3 && x.abs() <= 1.0),
            _ => y.abs() <= 0.35 && x.abs() <= 1.0,
        }
    }

    fn texture(texture: usize, px: usize, py: usize) -> bool {
        match texture {
            0 => true,
            1 => (py / 2).is_multiple_of(2),
            2 => (px / 2).is_multiple_of(2),
            _ => ((px / 2) + (py / 2)).is_multiple_of(2),
        }
    }

    /// `n` images `[n, 3, size, size]` (f32) with balanced labels `[n]` (int64; image `i` has class
    /// `i mod classes`, loaders shuffle), drawn from `rng`.
    ///
    /// # Errors
    /// Invalid settings.
    pub fn generate(&self, n: usize, rng: &mut impl Rng) -> Result<(Tensor, Tensor)> {
        self.validate()?;
        let s = self.size;
        let noise = Normal::new(0.0, self.noise.max(1e-12))
            .map_err(|e| Error::invalid("noise", self.noise, e.to_string()))?;
        let mut px = vec![0f32; n * 3 * s * s];
        let mut labels = Vec::with_capacity(n);
        for k in 0..n {
            let c = k % self.classes;
            labels.push(c as i64);
            // Spread classes over (shape, texture) pairs: shapes first.
            let (shape, texture) = (c % SHAPES, (c / SHAPES) % TEXTURES);
            let half = rng.gen_range(0.3..0.45) * s as f64;
            let cx = rng.gen_range(half..(s as f64 - half));
            let cy = rng.gen_range(half..(s as f64 - half));
            let fg: [f64; 3] = [rng.gen_range(0.5..1.0), rng.gen_range(0.5..1.0), rng.gen_range(0.5..1.0)];
            let bg: [f64; 3] = [rng.gen_range(0.0..0.4), rng.gen_range(0.0..0.4), rng.gen_range(0.0..0.4)];
            for y in 0..s {
                for x in 0..s {
                    let (u, v) = ((x as f64 + 0.5 - cx) / half, (y as f64 + 0.5 - cy) / half);
                    let on = Self::inside(shape, u, v) && Self::texture(texture, x, y);
                    for ch in 0..3 {
                        let base = if on { fg[ch] } else { bg[ch] };
                        let val = base + if self.noise > 0.0 { noise.sample(rng) } else { 0.0 };
                        px[((k * 3 + ch) * s + y) * s + x] = val.clamp(0.0, 1.0) as f32;
                    }
                }
            }
        }
        // cpu: a data source: batches move to the model's device when used
        let x = Tensor::from_slice(&px).reshape([n as i64, 3, s as i64, s as i64]);
        Ok((x, Tensor::from_slice(&labels))) // cpu: as above
    }
}

/// Bytes per CIFAR-10 record.
pub const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;

/// Decodes CIFAR-10 binary records into images `[n, 3, 32, 32]` (f32 in [0, 1]) and labels `[n]`.
///
/// # Errors
/// A length that is not a multiple of 3073 (naming it), or a label ≥ 10.
pub fn decode_cifar10(bytes: &[u8]) -> Result<(Tensor, Tensor)> {
    if !bytes.len().is_multiple_of(CIFAR_RECORD) {
        return Err(Error::invalid(
            "bytes.len()",
            bytes.len(),
            format!("must be a multiple of {CIFAR_RECORD}"),
        ));
    }
    let n = bytes.len() / CIFAR_RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut px = Vec::with_capacity(n * (CIFAR_RECORD - 1));
    for (i, rec) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
        if rec[0] >= 10 {
            return Err(Error::invalid(format!("record {i} label"), rec[0], "must be < 10"));
        }
        labels.push(rec[0] as i64);
        px.extend(rec[1..].iter().map(|&b| b as f32 / 255.0));
    }
    // cpu: a data source: batches move to the model's device when used
    Ok((Tensor::from_slice(&px).reshape([n as i64, 3, 32, 32]), Tensor::from_slice(&labels)))
}

/// Reads a CIFAR-10 binary batch file (e.g. `data_batch_1.bin`).
///
/// # Errors
/// I/O errors and the errors of [`decode_cifar10`].
pub fn read_cifar10(path: impl AsRef<Path>) -> Result<(Tensor, Tensor)> {
    decode_cifar10(&std::fs::read(path)?)
}

/// Encodes images `[n, 3, 32, 32]` in [0, 1] and labels `[n]` as CIFAR-10 binary records
/// (pixels rounded to bytes).
///
/// # Errors
/// Wrong shapes or labels ≥ 10.
pub fn encode_cifar10(images: &Tensor, labels: &Tensor) -> Result<Vec<u8>> {
    let s = images.size();
    if s.len() != 4 || s[1..] != [3, 32, 32] {
        return Err(Error::shape("images", "[n, 3, 32, 32]", s));
    }
    if labels.size() != [s[0]] {
        return Err(Error::shape("labels", [s[0]], labels.size()));
    }
    let px: Vec<f32> = Vec::try_from(images.to_kind(Kind::Float).clamp(0.0, 1.0).flatten(0, -1))?;
    let lab: Vec<i64> = Vec::try_from(labels.to_kind(Kind::Int64))?;
    let mut out = Vec::with_capacity(lab.len() * CIFAR_RECORD);
    for (i, &l) in lab.iter().enumerate() {
        if !(0..10).contains(&l) {
            return Err(Error::invalid(format!("labels[{i}]"), l, "must lie in 0..10"));
        }
        out.push(l as u8);
        out.extend(px[i * 3072..(i + 1) * 3072].iter().map(|v| (v * 255.0).round() as u8));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn procedural_images_are_deterministic_and_balanced() {
        let g = ProceduralImages::default();
        let mut r1 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut r2 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (a, ya) = g.generate(200, &mut r1).unwrap();
        let (b, yb) = g.generate(200, &mut r2).unwrap();
        assert_eq!(a.size(), vec![200, 3, 16, 16]);
        assert_eq!((&a - &b).abs().max().double_value(&[]), 0.0);
        assert_eq!(ya, yb);
        let counts = ya.bincount::<Tensor>(None, 10);
        let c: Vec<i64> = Vec::try_from(&counts).unwrap();
        assert!(c.iter().all(|&k| k == 20), "{c:?}");
        assert!(a.min().double_value(&[]) >= 0.0 && a.max().double_value(&[]) <= 1.0);
        // Classes differ: the mean image of class 0 (disc) differs from class 1 (square).
        let m0 = a.index_select(0, &ya.eq(0).nonzero().squeeze_dim(1)).mean_dim(
            [0i64].as_slice(),
            false,
            Kind::Float,
        );
        let m1 = a.index_select(0, &ya.eq(1).nonzero().squeeze_dim(1)).mean_dim(
            [0i64].as_slice(),
            false,
            Kind::Float,
        );
        assert!((m0 - m1).abs().mean(Kind::Float).double_value(&[]) > 0.005);
        assert!(ProceduralImages { classes: 30, ..g }.validate().is_err());
        assert!(ProceduralImages { size: 4, ..g }.validate().is_err());
    }

    #[test]
    fn cifar_round_trip_and_errors() {
        let imgs = (Tensor::arange(2 * 3072, (Kind::Float, tch::Device::Cpu)).remainder(256.0) / 255.0)
            .reshape([2, 3, 32, 32]);
        let labels = Tensor::from_slice(&[3i64, 9]);
        let bytes = encode_cifar10(&imgs, &labels).unwrap();
        assert_eq!(bytes.len(), 2 * CIFAR_RECORD);
        assert_eq!(bytes[0], 3);
        assert_eq!(bytes[1 + 1024], (1024 % 256) as u8);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data_batch_1.bin");
        std::fs::write(&p, &bytes).unwrap();
        let (x, y) = read_cifar10(&p).unwrap();
        assert_eq!(y, labels);
        assert!((x - imgs).abs().max().double_value(&[]) < 1e-6);
        let e = decode_cifar10(&bytes[..100]).unwrap_err().to_string();
        assert!(e.contains("100") && e.contains("3073"), "{e}");
        let mut bad = bytes.clone();
        bad[CIFAR_RECORD] = 12;
        assert!(decode_cifar10(&bad).unwrap_err().to_string().contains("12"));
        assert!(encode_cifar10(
            &Tensor::zeros([1, 3, 16, 16], (Kind::Float, tch::Device::Cpu)),
            &Tensor::from_slice(&[0i64])
        )
        .is_err());
    }
}
