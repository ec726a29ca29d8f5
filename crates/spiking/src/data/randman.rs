//! The Randman random-manifold task (Zenke & Vogels 2021): [`RandmanConfig`], [`Randman`], [`randman`].

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::dataset::SpikeDataset;
use crate::{Error, Result};

/// Parameters of the [`Randman`] task (Zenke & Vogels 2021).
#[derive(Debug, Clone, PartialEq)]
pub struct RandmanConfig {
    /// Number of classes (one random manifold each), ≥ 1.
    pub n_classes: usize,
    /// Embedding dimension `N` = number of input neurons, ≥ 1.
    pub n_inputs: usize,
    /// Number of time steps `T` per sample, ≥ 1.
    pub n_steps: usize,
    /// Intrinsic manifold dimension `d`, ≥ 1.
    pub dim_manifold: usize,
    /// Number of Fourier components `m` per intrinsic coordinate, ≥ 1.
    pub n_fourier: usize,
    /// Smoothness exponent `α ≥ 0`: component `k` has amplitude `U(0,1)/k^α`.
    pub alpha: f64,
    /// Standard deviation of Gaussian spike-time jitter, in time steps (0 = none).
    pub jitter_steps: f64,
    /// Number of random probe points used to estimate each coordinate's range for rescaling, ≥ 2.
    pub n_probe: usize,
}

impl Default for RandmanConfig {
    /// 10 classes, `N = 20` inputs, `T = 50` steps, `d = 1`, `m = 3`, `α = 2`, no jitter, 1000 probes.
    fn default() -> Self {
        RandmanConfig {
            n_classes: 10,
            n_inputs: 20,
            n_steps: 50,
            dim_manifold: 1,
            n_fourier: 3,
            alpha: 2.0,
            jitter_steps: 0.0,
            n_probe: 1000,
        }
    }
}

impl RandmanConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// A count of zero (or `n_probe < 2`, or `n_steps`/`n_inputs` beyond `u32`), a negative or non-finite
    /// `alpha` or `jitter_steps`.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("n_classes", self.n_classes),
            ("n_inputs", self.n_inputs),
            ("n_steps", self.n_steps),
            ("dim_manifold", self.dim_manifold),
            ("n_fourier", self.n_fourier),
        ] {
            if v == 0 {
                return Err(Error::invalid(name, v, "must be ≥ 1"));
            }
        }
        if self.n_probe < 2 {
            return Err(Error::invalid("n_probe", self.n_probe, "must be ≥ 2"));
        }
        if u32::try_from(self.n_steps).is_err() {
            return Err(Error::invalid("n_steps", self.n_steps, "must fit in u32"));
        }
        if u32::try_from(self.n_inputs).is_err() {
            return Err(Error::invalid("n_inputs", self.n_inputs, "must fit in u32"));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::invalid("alpha", self.alpha, "must be finite and ≥ 0"));
        }
        if !(self.jitter_steps.is_finite() && self.jitter_steps >= 0.0) {
            return Err(Error::invalid("jitter_steps", self.jitter_steps, "must be finite and ≥ 0"));
        }
        Ok(())
    }
}

/// Random smooth manifolds, one per class, embedded in `[0,1]^N`, and spike-timing samples drawn on them.
///
/// For class `c` and embedding coordinate `i ∈ [0, N)`, the raw map on `x ∈ [0,1]^d` is the random
/// Fourier series
///
/// `g_{c,i}(x) = Σ_{j<d} Σ_{k=1}^{m} (a_{cijk} / k^α) · sin(2π (k·b_{cijk}·x_j + φ_{cijk}))`,
///
/// with `a, b, φ ~ U(0,1)` i.i.d. (amplitude, frequency scale so that component `k` has frequency in
/// `[0, k]`, phase in cycles). Each coordinate is then rescaled to the unit interval,
/// `f_{c,i}(x) = clamp((g_{c,i}(x) − lo_{c,i}) / (hi_{c,i} − lo_{c,i}), 0, 1)`, where `lo`/`hi` are the
/// minimum/maximum of `g_{c,i}` over `n_probe` points drawn uniformly from `[0,1]^d` at construction
/// (a constant coordinate maps to 0.5). Larger `α` gives smoother manifolds.
///
/// A sample of class `c` draws `x ~ U[0,1]^d` and lets input neuron `i` fire exactly once, at step
/// `round(f_{c,i}(x)·(T−1) + σ ξ)` clamped to `[0, T−1]` (`ξ ~ N(0,1)`, `σ = jitter_steps`).
#[derive(Debug, Clone)]
pub struct Randman {
    cfg: RandmanConfig,
    /// `[class][input][dim][k]` triples `(a/k^α, 2π·k·b, 2π·φ)`.
    params: Vec<[f64; 3]>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Randman {
    /// Draws the class manifolds.
    ///
    /// # Errors
    /// An invalid configuration (see [`RandmanConfig::validate`]).
    pub fn new(cfg: RandmanConfig, rng: &mut impl Rng) -> Result<Self> {
        cfg.validate()?;
        let n_maps = cfg.n_classes * cfg.n_inputs;
        let per_map = cfg.dim_manifold * cfg.n_fourier;
        let mut params = Vec::with_capacity(n_maps * per_map);
        for _ in 0..n_maps {
            for _ in 0..cfg.dim_manifold {
                for k in 1..=cfg.n_fourier {
                    let kf = k as f64;
                    let a: f64 = rng.gen();
                    let b: f64 = rng.gen();
                    let phi: f64 = rng.gen();
                    params.push([a / kf.powf(cfg.alpha), 2.0 * PI * kf * b, 2.0 * PI * phi]);
                }
            }
        }
        let mut man =
            Randman { lo: vec![f64::INFINITY; n_maps], hi: vec![f64::NEG_INFINITY; n_maps], params, cfg };
        let mut x = vec![0.0; man.cfg.dim_manifold];
        for _ in 0..man.cfg.n_probe {
            x.iter_mut().for_each(|v| *v = rng.gen());
            for m in 0..n_maps {
                let g = man.raw(m, &x);
                man.lo[m] = man.lo[m].min(g);
                man.hi[m] = man.hi[m].max(g);
            }
        }
        Ok(man)
    }

    /// The configuration.
    pub fn config(&self) -> &RandmanConfig {
        &self.cfg
    }

    /// Raw Fourier series `g_m(x)` of map `m = class·N + input`.
    fn raw(&self, m: usize, x: &[f64]) -> f64 {
        let per_dim = self.cfg.n_fourier;
        let base = m * self.cfg.dim_manifold * per_dim;
        let mut g = 0.0;
        for (j, &xj) in x.iter().enumerate() {
            for p in &self.params[base + j * per_dim..base + (j + 1) * per_dim] {
                g += p[0] * (p[1] * xj + p[2]).sin();
            }
        }
        g
    }

    fn scaled(&self, m: usize, x: &[f64]) -> f64 {
        let span = self.hi[m] - self.lo[m];
        if span > 1e-12 {
            ((self.raw(m, x) - self.lo[m]) / span).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    /// The embedding `f_c(x) ∈ [0,1]^N` of intrinsic coordinates `x ∈ [0,1]^d`.
    ///
    /// # Errors
    /// `class ≥ n_classes`, `x.len() ≠ d`, or `x` outside `[0,1]^d` (including NaN).
    pub fn eval(&self, class: usize, x: &[f64]) -> Result<Vec<f64>> {
        if class >= self.cfg.n_classes {
            return Err(Error::invalid(
                "class",
                class,
                format!("must be < n_classes {}", self.cfg.n_classes),
            ));
        }
        if x.len() != self.cfg.dim_manifold {
            return Err(Error::shape("x", [self.cfg.dim_manifold], [x.len()]));
        }
        if let Some(v) = x.iter().find(|v| !(**v >= 0.0 && **v <= 1.0)) {
            return Err(Error::invalid("x", v, "coordinates must lie in [0, 1]"));
        }
        Ok((0..self.cfg.n_inputs).map(|i| self.scaled(class * self.cfg.n_inputs + i, x)).collect())
    }

    /// Draws `n_per_class` samples of every class, in random order (labels in `labels`).
    ///
    /// # Errors
    /// `n_per_class == 0`.
    pub fn sample(&self, n_per_class: usize, rng: &mut impl Rng) -> Result<SpikeDataset> {
        if n_per_class == 0 {
            return Err(Error::invalid("n_per_class", n_per_class, "must be ≥ 1"));
        }
        let (n, t) = (self.cfg.n_inputs, self.cfg.n_steps);
        let mut labels: Vec<usize> =
            (0..self.cfg.n_classes).flat_map(|c| std::iter::repeat_n(c, n_per_class)).collect();
        labels.shuffle(rng);
        let jitter = if self.cfg.jitter_steps > 0.0 {
            Some(
                Normal::new(0.0, self.cfg.jitter_steps)
                    .map_err(|e| Error::invalid("jitter_steps", self.cfg.jitter_steps, e.to_string()))?,
            )
        } else {
            None
        };
        let t_last = (t - 1) as f64;
        let mut x = vec![0.0; self.cfg.dim_manifold];
        let mut events = Vec::with_capacity(labels.len());
        for &c in &labels {
            x.iter_mut().for_each(|v| *v = rng.gen());
            let mut ev: Vec<(u32, u32)> = Vec::with_capacity(n);
            for i in 0..n {
                let mut s = self.scaled(c * n + i, &x) * t_last;
                if let Some(d) = &jitter {
                    s += d.sample(rng);
                }
                let step = s.round().clamp(0.0, t_last) as u32;
                ev.push((step, i as u32));
            }
            ev.sort_unstable();
            events.push(ev);
        }
        Ok(SpikeDataset { events, labels, n_steps: t, n_inputs: n, n_classes: self.cfg.n_classes })
    }
}

/// Convenience: builds a [`Randman`] from `cfg` and draws `n_per_class` samples per class from it.
///
/// # Errors
/// As [`Randman::new`] and [`Randman::sample`].
pub fn randman(cfg: &RandmanConfig, n_per_class: usize, rng: &mut impl Rng) -> Result<SpikeDataset> {
    Randman::new(cfg.clone(), rng)?.sample(n_per_class, rng)
}
