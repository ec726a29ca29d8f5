//! Spiking datasets and spike-train generators in plain Rust (no tensors).
//!
//! * [`Randman`]: random smooth manifold classification task (Zenke & Vogels 2021, *Neural Computation*
//!   33(4), "The remarkable robustness of surrogate gradient learning for instilling complex function in
//!   spiking neural networks"); every input neuron fires exactly once per sample, so the class is coded in
//!   spike timing only.
//! * N-MNIST / ATIS event files (Orchard et al. 2015, *Front. Neurosci.* 9:437): [`read_nmnist`],
//!   [`write_nmnist`], [`read_nmnist_file`], [`decode_events`], [`encode_events`], and [`bin_events`] to
//!   turn events into frame counts.
//! * Poisson spike trains ([`poisson_train`]) and a stream of Poisson noise with an embedded repeating
//!   ("frozen") spike pattern ([`PatternStreamConfig`], Masquelier, Guyonneau & Thorpe 2008, *PLoS ONE*
//!   3(1):e1377), used by the plasticity experiments in [`crate::plasticity`].
//!
//! Dense outputs are plain row-major `Vec<f32>` whose layout is stated on each function; the caller turns
//! them into tensors. All randomness comes from a caller-supplied [`rand::Rng`], so results are
//! reproducible from a seed.

use std::f64::consts::PI;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------------
// Spike dataset container
// ---------------------------------------------------------------------------------------------------

/// A labelled set of sparse spike rasters on a common time grid.
///
/// Sample `s` is the event list `events[s]` of `(step, neuron)` pairs, sorted by step then neuron, with
/// `step < n_steps` and `neuron < n_inputs`; its class is `labels[s] < n_classes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeDataset {
    /// Per sample, the spikes as `(step, neuron)` pairs sorted by `(step, neuron)`.
    pub events: Vec<Vec<(u32, u32)>>,
    /// Class label of each sample.
    pub labels: Vec<usize>,
    /// Number of time steps `T` of every sample.
    pub n_steps: usize,
    /// Number of input neurons `N`.
    pub n_inputs: usize,
    /// Number of classes.
    pub n_classes: usize,
}

impl SpikeDataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset holds no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// All samples as tensors: spikes `[N, T, n_inputs]` (f32, batch-first, ready for
    /// [`SequenceBatches`](crate::train::SequenceBatches)) and labels `[N]` (int64).
    ///
    /// # Errors
    /// An event outside `[0, T) × [0, n_inputs)`.
    pub fn to_tensors(&self) -> Result<(tch::Tensor, tch::Tensor)> {
        let mut x = Vec::with_capacity(self.len() * self.n_steps * self.n_inputs);
        for i in 0..self.len() {
            x.extend(self.to_dense(i)?);
        }
        let y: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        let shape = [self.len() as i64, self.n_steps as i64, self.n_inputs as i64];
        Ok((tch::Tensor::from_slice(&x).reshape(shape), tch::Tensor::from_slice(&y)))
    }

    /// Dense raster of sample `idx`, time-first: `[n_steps][n_inputs]` row-major, entries 0 or 1.
    ///
    /// # Errors
    /// `idx ≥ len()`, or an event outside the grid (only possible if `events` was edited by hand).
    pub fn to_dense(&self, idx: usize) -> Result<Vec<f32>> {
        let events = self.events.get(idx).ok_or_else(|| {
            Error::invalid("idx", idx, format!("must be < number of samples {}", self.len()))
        })?;
        let mut dense = vec![0.0f32; self.n_steps * self.n_inputs];
        for &(step, neuron) in events {
            let (step, neuron) = (step as usize, neuron as usize);
            if step >= self.n_steps || neuron >= self.n_inputs {
                return Err(Error::invalid(
                    "events",
                    format!("({step}, {neuron})"),
                    format!("(step, neuron) must lie in [0, {}) × [0, {})", self.n_steps, self.n_inputs),
                ));
            }
            dense[step * self.n_inputs + neuron] = 1.0;
        }
        Ok(dense)
    }

    /// Number of spikes of each input neuron in sample `idx` (length `n_inputs`).
    ///
    /// # Errors
    /// `idx ≥ len()`, or an event with `neuron ≥ n_inputs`.
    pub fn spike_counts(&self, idx: usize) -> Result<Vec<u32>> {
        let events = self.events.get(idx).ok_or_else(|| {
            Error::invalid("idx", idx, format!("must be < number of samples {}", self.len()))
        })?;
        let mut counts = vec![0u32; self.n_inputs];
        for &(_, neuron) in events {
            let c = counts.get_mut(neuron as usize).ok_or_else(|| {
                Error::invalid("events", neuron, format!("neuron must be < n_inputs {}", self.n_inputs))
            })?;
            *c += 1;
        }
        Ok(counts)
    }
}

// ---------------------------------------------------------------------------------------------------
// Randman
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// N-MNIST / ATIS event files
// ---------------------------------------------------------------------------------------------------

/// Side length of the N-MNIST sensor crop, in pixels (34 × 34).
pub const NMNIST_SIZE: u16 = 34;

/// Largest timestamp representable in the 23-bit field of the event format, in µs (`2^23 − 1`).
pub const MAX_TIMESTAMP_US: u64 = (1 << 23) - 1;

/// One address event of a dynamic vision sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DvsEvent {
    /// Column, in pixels.
    pub x: u16,
    /// Row, in pixels.
    pub y: u16,
    /// Timestamp, in µs from the start of the recording.
    pub t_us: u64,
    /// Polarity: `true` = ON (brightness increase), `false` = OFF.
    pub p: bool,
}

/// Decodes the 40-bit ATIS event format used by N-MNIST and N-Caltech101 (Orchard et al. 2015).
///
/// Each event is 5 bytes: byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity (1 = ON), and the remaining
/// 23 bits (bits 6..0 of byte 2, then bytes 3 and 4, big-endian) = timestamp in µs. No range check on x/y
/// beyond the byte; see [`read_nmnist`] for the N-MNIST 34 × 34 check.
///
/// # Errors
/// `bytes.len()` not a multiple of 5.
pub fn decode_events(bytes: &[u8]) -> Result<Vec<DvsEvent>> {
    if bytes.len() % 5 != 0 {
        return Err(Error::invalid("bytes.len()", bytes.len(), "must be a multiple of 5 (40-bit events)"));
    }
    Ok(bytes
        .chunks_exact(5)
        .map(|b| DvsEvent {
            x: u16::from(b[0]),
            y: u16::from(b[1]),
            p: b[2] & 0x80 != 0,
            t_us: (u64::from(b[2] & 0x7F) << 16) | (u64::from(b[3]) << 8) | u64::from(b[4]),
        })
        .collect())
}

/// Encodes events in the 40-bit ATIS format (inverse of [`decode_events`]).
///
/// # Errors
/// An event with `x > 255`, `y > 255` or `t_us > 2^23 − 1` (the error names the event index).
pub fn encode_events(events: &[DvsEvent]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(events.len() * 5);
    for (k, e) in events.iter().enumerate() {
        let x =
            u8::try_from(e.x).map_err(|_| Error::invalid(format!("events[{k}].x"), e.x, "must be ≤ 255"))?;
        let y =
            u8::try_from(e.y).map_err(|_| Error::invalid(format!("events[{k}].y"), e.y, "must be ≤ 255"))?;
        if e.t_us > MAX_TIMESTAMP_US {
            return Err(Error::invalid(
                format!("events[{k}].t_us"),
                e.t_us,
                "must be < 2^23 µs (23-bit field)",
            ));
        }
        let t = e.t_us as u32;
        out.extend_from_slice(&[
            x,
            y,
            (u8::from(e.p) << 7) | ((t >> 16) as u8 & 0x7F),
            (t >> 8) as u8,
            t as u8,
        ]);
    }
    Ok(out)
}

fn check_nmnist_range(events: &[DvsEvent]) -> Result<()> {
    for (k, e) in events.iter().enumerate() {
        if e.x >= NMNIST_SIZE {
            return Err(Error::invalid(format!("events[{k}].x"), e.x, "must be < 34 (N-MNIST sensor)"));
        }
        if e.y >= NMNIST_SIZE {
            return Err(Error::invalid(format!("events[{k}].y"), e.y, "must be < 34 (N-MNIST sensor)"));
        }
    }
    Ok(())
}

/// Decodes an N-MNIST sample file's bytes ([`decode_events`] plus the 34 × 34 sensor check).
///
/// # Errors
/// Length not a multiple of 5, or an event with `x ≥ 34` or `y ≥ 34` (named by index).
pub fn read_nmnist(bytes: &[u8]) -> Result<Vec<DvsEvent>> {
    let events = decode_events(bytes)?;
    check_nmnist_range(&events)?;
    Ok(events)
}

/// Encodes events as an N-MNIST sample file ([`encode_events`] plus the 34 × 34 sensor check).
///
/// # Errors
/// An event with `x ≥ 34`, `y ≥ 34` or `t_us ≥ 2^23` (named by index).
pub fn write_nmnist(events: &[DvsEvent]) -> Result<Vec<u8>> {
    check_nmnist_range(events)?;
    encode_events(events)
}

/// Reads and decodes an N-MNIST `.bin` sample file.
///
/// # Errors
/// I/O failure, or as [`read_nmnist`].
pub fn read_nmnist_file(path: impl AsRef<Path>) -> Result<Vec<DvsEvent>> {
    read_nmnist(&std::fs::read(path)?)
}

/// Bins events into count frames `[n_bins][2][height][width]` (row-major, `f32`).
///
/// Event `(x, y, t, p)` with `t < duration_us` adds 1 to frame `⌊t·n_bins / duration_us⌋`, channel
/// `p as usize` (0 = OFF, 1 = ON), row `y`, column `x`. Events with `t ≥ duration_us` are ignored (this
/// crops a recording); event order does not matter.
///
/// # Errors
/// `width`, `height`, `n_bins` or `duration_us` zero, or an event with `x ≥ width` or `y ≥ height`.
pub fn bin_events(
    events: &[DvsEvent],
    width: usize,
    height: usize,
    n_bins: usize,
    duration_us: u64,
) -> Result<Vec<f32>> {
    for (name, v) in [
        ("width", width as u64),
        ("height", height as u64),
        ("n_bins", n_bins as u64),
        ("duration_us", duration_us),
    ] {
        if v == 0 {
            return Err(Error::invalid(name, v, "must be ≥ 1"));
        }
    }
    let frame = 2 * height * width;
    let mut out = vec![0.0f32; n_bins * frame];
    for (k, e) in events.iter().enumerate() {
        let (x, y) = (usize::from(e.x), usize::from(e.y));
        if x >= width {
            return Err(Error::invalid(format!("events[{k}].x"), e.x, format!("must be < width {width}")));
        }
        if y >= height {
            return Err(Error::invalid(format!("events[{k}].y"), e.y, format!("must be < height {height}")));
        }
        if e.t_us >= duration_us {
            continue;
        }
        let bin = (u128::from(e.t_us) * n_bins as u128 / u128::from(duration_us)) as usize;
        out[bin * frame + usize::from(e.p) * height * width + y * width + x] += 1.0;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// Poisson trains and embedded repeating patterns
// ---------------------------------------------------------------------------------------------------

/// Homogeneous Poisson spike train on `[0, duration_ms)`: sorted spike times in ms, drawn from i.i.d.
/// exponential inter-spike intervals of mean `1000 / rate_hz` ms.
///
/// # Errors
/// Negative or non-finite `rate_hz` or `duration_ms`.
pub fn poisson_train(rate_hz: f64, duration_ms: f64, rng: &mut impl Rng) -> Result<Vec<f64>> {
    if !(rate_hz.is_finite() && rate_hz >= 0.0) {
        return Err(Error::invalid("rate_hz", rate_hz, "must be finite and ≥ 0"));
    }
    if !(duration_ms.is_finite() && duration_ms >= 0.0) {
        return Err(Error::invalid("duration_ms", duration_ms, "must be finite and ≥ 0"));
    }
    let mut out = Vec::new();
    if rate_hz == 0.0 {
        return Ok(out);
    }
    let mean_isi = 1000.0 / rate_hz;
    let mut t = 0.0;
    loop {
        // 1 − U ∈ (0, 1], so the logarithm is finite.
        t += -mean_isi * (1.0 - rng.gen::<f64>()).ln();
        if t >= duration_ms {
            return Ok(out);
        }
        out.push(t);
    }
}

/// Steps of a Bernoulli(p)-per-step process on `[0, n_steps)`, by geometric skipping (cost ∝ spikes).
fn bernoulli_steps(p: f64, n_steps: usize, rng: &mut impl Rng, mut emit: impl FnMut(usize)) {
    if p <= 0.0 || n_steps == 0 {
        return;
    }
    let log_q = (-p).ln_1p();
    let mut t: usize = 0;
    loop {
        // Number of failures before the next success: ⌊ln U / ln(1 − p)⌋, U ∈ (0, 1].
        let u = 1.0 - rng.gen::<f64>();
        let skip = if log_q < 0.0 { (u.ln() / log_q).floor() } else { 0.0 };
        let skip = if skip.is_finite() { (skip as usize).min(n_steps) } else { n_steps };
        t = t.saturating_add(skip);
        if t >= n_steps {
            return;
        }
        emit(t);
        t += 1;
    }
}

/// Poisson noise with an embedded repeating spike pattern, in discrete time (Masquelier et al. 2008).
///
/// All times are in ms; the stream has steps of `dt_ms`. Every afferent fires as a Bernoulli process
/// with probability `rate_hz·dt_ms/1000` per step. The stream is cut into consecutive windows of
/// `L = round(pattern_ms/dt_ms)` steps; a window becomes a pattern presentation with probability
/// `q = f/(1−f)` (`f = pattern_fraction`) unless the previous window was one, so that presentations never
/// abut and a fraction ≈ `f` of the time is pattern. During a presentation the `n_pattern_afferents`
/// pattern afferents replay the frozen pattern (their own noise is suppressed), each spike shifted by
/// Gaussian jitter of SD `jitter_ms` (rounded to a step; a shifted spike may leave the window, and is
/// dropped only if it leaves the stream); the other afferents keep firing
/// as noise, so firing rates carry no information about the pattern. On top, every afferent receives
/// extra Bernoulli noise of rate `noise_hz` everywhere (Masquelier's 10 Hz spontaneous activity).
#[derive(Debug, Clone, PartialEq)]
pub struct PatternStreamConfig {
    /// Number of afferents `N`, ≥ 1.
    pub n_afferents: usize,
    /// Number of afferents taking part in the pattern, in `[1, N]`.
    pub n_pattern_afferents: usize,
    /// Background (and pattern) firing rate `r`, in Hz.
    pub rate_hz: f64,
    /// Extra spontaneous noise rate added everywhere, in Hz (≥ 0).
    pub noise_hz: f64,
    /// Pattern duration `L`, in ms.
    pub pattern_ms: f64,
    /// Fraction of time occupied by pattern presentations, in `[0, 0.5]`.
    pub pattern_fraction: f64,
    /// Gaussian jitter SD of pattern spikes at each presentation, in ms (≥ 0).
    pub jitter_ms: f64,
    /// Time step, in ms.
    pub dt_ms: f64,
}

impl Default for PatternStreamConfig {
    /// `N = 1000`, 500 pattern afferents, 20 Hz, 0 Hz extra noise, 50 ms patterns, 25 % of the time,
    /// no jitter, 1 ms steps.
    fn default() -> Self {
        PatternStreamConfig {
            n_afferents: 1000,
            n_pattern_afferents: 500,
            rate_hz: 20.0,
            noise_hz: 0.0,
            pattern_ms: 50.0,
            pattern_fraction: 0.25,
            jitter_ms: 0.0,
            dt_ms: 1.0,
        }
    }
}

/// A frozen spike pattern: which afferents take part and when they fire within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenPattern {
    /// The pattern afferents, sorted ascending.
    pub afferents: Vec<u32>,
    /// Spikes `(step offset in [0, len_steps), afferent)`, sorted.
    pub spikes: Vec<(u32, u32)>,
    /// Window length `L`, in steps.
    pub len_steps: usize,
}

/// A generated input stream: sparse spikes per step plus the pattern presentation onsets.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternStream {
    /// Number of afferents.
    pub n_afferents: usize,
    /// Number of time steps.
    pub n_steps: usize,
    /// Time step, in ms.
    pub dt_ms: f64,
    /// Pattern window length, in steps.
    pub pattern_len: usize,
    /// Onset step of each presentation (sorted); presentation `k` covers `[s_k, s_k + pattern_len)`.
    pub pattern_starts: Vec<usize>,
    /// CSR offsets: the spikes of step `t` are `afferents[offsets[t]..offsets[t+1]]`.
    pub offsets: Vec<usize>,
    /// Spiking afferents, grouped by step, sorted and without duplicates inside a step.
    pub afferents: Vec<u32>,
}

impl PatternStream {
    /// Afferents that spike at `step` (empty beyond the end).
    pub fn spikes_at(&self, step: usize) -> &[u32] {
        if step >= self.n_steps {
            return &[];
        }
        &self.afferents[self.offsets[step]..self.offsets[step + 1]]
    }

    /// Per step, whether it lies inside a pattern presentation (length `n_steps`).
    pub fn pattern_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.n_steps];
        for &s in &self.pattern_starts {
            mask[s..(s + self.pattern_len).min(self.n_steps)].iter_mut().for_each(|m| *m = true);
        }
        mask
    }

    /// Total number of spikes.
    pub fn n_spikes(&self) -> usize {
        self.afferents.len()
    }
}

impl PatternStreamConfig {
    fn step_prob(&self, rate_hz: f64) -> f64 {
        rate_hz * self.dt_ms / 1000.0
    }

    /// Pattern length in steps.
    fn len_steps(&self) -> usize {
        (self.pattern_ms / self.dt_ms).round() as usize
    }

    /// Checks every field.
    ///
    /// # Errors
    /// `n_afferents == 0` or beyond `u32`, `n_pattern_afferents ∉ [1, N]`, non-positive `dt_ms`/`pattern_ms`,
    /// a pattern shorter than one step, negative or non-finite rates or jitter, per-step spike
    /// probability `(rate_hz + noise_hz)·dt_ms/1000 ≥ 1`, or `pattern_fraction ∉ [0, 0.5]`.
    pub fn validate(&self) -> Result<()> {
        if self.n_afferents == 0 || u32::try_from(self.n_afferents).is_err() {
            return Err(Error::invalid("n_afferents", self.n_afferents, "must be in [1, u32::MAX]"));
        }
        if self.n_pattern_afferents == 0 || self.n_pattern_afferents > self.n_afferents {
            return Err(Error::invalid(
                "n_pattern_afferents",
                self.n_pattern_afferents,
                format!("must be in [1, n_afferents = {}]", self.n_afferents),
            ));
        }
        core_tensor::error::ensure_positive("dt_ms", self.dt_ms)?;
        core_tensor::error::ensure_positive("pattern_ms", self.pattern_ms)?;
        if self.len_steps() == 0 {
            return Err(Error::invalid("pattern_ms", self.pattern_ms, "must last at least one step dt_ms"));
        }
        for (name, v) in
            [("rate_hz", self.rate_hz), ("noise_hz", self.noise_hz), ("jitter_ms", self.jitter_ms)]
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(name, v, "must be finite and ≥ 0"));
            }
        }
        let p = self.step_prob(self.rate_hz + self.noise_hz);
        if !(p < 1.0) {
            return Err(Error::invalid(
                "rate_hz",
                self.rate_hz,
                format!("per-step probability (rate_hz + noise_hz)·dt_ms/1000 = {p} must be < 1"),
            ));
        }
        if !(self.pattern_fraction >= 0.0 && self.pattern_fraction <= 0.5) {
            return Err(Error::invalid("pattern_fraction", self.pattern_fraction, "must be in [0, 0.5]"));
        }
        Ok(())
    }

    /// Draws a frozen pattern: a random subset of `n_pattern_afferents` afferents, each firing as a
    /// Bernoulli process of rate `rate_hz` over the `L`-step window.
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn frozen_pattern(&self, rng: &mut impl Rng) -> Result<FrozenPattern> {
        self.validate()?;
        let len = self.len_steps();
        let mut all: Vec<u32> = (0..self.n_afferents as u32).collect();
        all.shuffle(rng);
        let mut afferents = all[..self.n_pattern_afferents].to_vec();
        afferents.sort_unstable();
        let p = self.step_prob(self.rate_hz);
        let mut spikes = Vec::new();
        for &a in &afferents {
            bernoulli_steps(p, len, rng, |t| spikes.push((t as u32, a)));
        }
        spikes.sort_unstable();
        Ok(FrozenPattern { afferents, spikes, len_steps: len })
    }

    /// Generates a stream of `round(duration_ms/dt_ms)` steps with `pattern` embedded as described on
    /// [`PatternStreamConfig`].
    ///
    /// # Errors
    /// An invalid configuration, a negative or non-finite `duration_ms`, or a `pattern` that does not
    /// match this configuration (window length, afferent indices).
    pub fn stream(
        &self,
        pattern: &FrozenPattern,
        duration_ms: f64,
        rng: &mut impl Rng,
    ) -> Result<PatternStream> {
        self.validate()?;
        if !(duration_ms.is_finite() && duration_ms >= 0.0) {
            return Err(Error::invalid("duration_ms", duration_ms, "must be finite and ≥ 0"));
        }
        let len = self.len_steps();
        if pattern.len_steps != len {
            return Err(Error::invalid(
                "pattern.len_steps",
                pattern.len_steps,
                format!("must equal round(pattern_ms/dt_ms) = {len}"),
            ));
        }
        if let Some(&a) = pattern.afferents.iter().find(|&&a| a as usize >= self.n_afferents) {
            return Err(Error::invalid(
                "pattern.afferents",
                a,
                format!("must be < n_afferents {}", self.n_afferents),
            ));
        }
        if let Some(&(t, a)) =
            pattern.spikes.iter().find(|&&(t, a)| t as usize >= len || a as usize >= self.n_afferents)
        {
            return Err(Error::invalid(
                "pattern.spikes",
                format!("({t}, {a})"),
                format!("(offset, afferent) must lie in [0, {len}) × [0, {})", self.n_afferents),
            ));
        }
        let n_steps = (duration_ms / self.dt_ms).round() as usize;

        // Presentation onsets: windows of L steps, never two in a row.
        let f = self.pattern_fraction;
        let q = if f > 0.0 { f / (1.0 - f) } else { 0.0 };
        let mut pattern_starts = Vec::new();
        let mut prev = false;
        for w in 0..n_steps / len {
            let is_pattern = !prev && q > 0.0 && rng.gen::<f64>() < q;
            if is_pattern {
                pattern_starts.push(w * len);
            }
            prev = is_pattern;
        }
        let mut in_pattern = vec![false; n_steps];
        for &s in &pattern_starts {
            in_pattern[s..s + len].iter_mut().for_each(|m| *m = true);
        }
        let mut is_pattern_aff = vec![false; self.n_afferents];
        for &a in &pattern.afferents {
            is_pattern_aff[a as usize] = true;
        }

        let mut events: Vec<(u32, u32)> = Vec::new();
        let p_rate = self.step_prob(self.rate_hz);
        let p_noise = self.step_prob(self.noise_hz);
        for a in 0..self.n_afferents {
            let skip_pattern = is_pattern_aff[a];
            bernoulli_steps(p_rate, n_steps, rng, |t| {
                if !(skip_pattern && in_pattern[t]) {
                    events.push((t as u32, a as u32));
                }
            });
            bernoulli_steps(p_noise, n_steps, rng, |t| events.push((t as u32, a as u32)));
        }
        let jitter_steps = self.jitter_ms / self.dt_ms;
        let jitter = if jitter_steps > 0.0 {
            Some(
                Normal::new(0.0, jitter_steps)
                    .map_err(|e| Error::invalid("jitter_ms", self.jitter_ms, e.to_string()))?,
            )
        } else {
            None
        };
        for &s in &pattern_starts {
            for &(off, a) in &pattern.spikes {
                let t = match &jitter {
                    Some(d) => (s as f64 + f64::from(off) + d.sample(rng)).round(),
                    None => (s + off as usize) as f64,
                };
                if t >= 0.0 && t < n_steps as f64 {
                    events.push((t as u32, a));
                }
            }
        }

        // Counting sort by step, then sort + dedup inside each step.
        let mut offsets = vec![0usize; n_steps + 1];
        for &(t, _) in &events {
            offsets[t as usize + 1] += 1;
        }
        for t in 0..n_steps {
            offsets[t + 1] += offsets[t];
        }
        let mut fill = offsets.clone();
        let mut afferents = vec![0u32; events.len()];
        for &(t, a) in &events {
            afferents[fill[t as usize]] = a;
            fill[t as usize] += 1;
        }
        drop(events);
        let mut compact = Vec::with_capacity(afferents.len());
        let mut new_offsets = Vec::with_capacity(n_steps + 1);
        new_offsets.push(0);
        for t in 0..n_steps {
            let slot = &mut afferents[offsets[t]..offsets[t + 1]];
            slot.sort_unstable();
            let mut last = None;
            for &a in slot.iter() {
                if last != Some(a) {
                    compact.push(a);
                    last = Some(a);
                }
            }
            new_offsets.push(compact.len());
        }
        Ok(PatternStream {
            n_afferents: self.n_afferents,
            n_steps,
            dt_ms: self.dt_ms,
            pattern_len: len,
            pattern_starts,
            offsets: new_offsets,
            afferents: compact,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn small_randman() -> RandmanConfig {
        RandmanConfig {
            n_classes: 3,
            n_inputs: 12,
            n_steps: 40,
            dim_manifold: 2,
            n_fourier: 4,
            ..Default::default()
        }
    }

    #[test]
    fn randman_is_deterministic_from_seed() {
        let cfg = small_randman();
        let a = randman(&cfg, 5, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
        let b = randman(&cfg, 5, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
        let c = randman(&cfg, 5, &mut ChaCha8Rng::seed_from_u64(8)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 15);
        for k in 0..3 {
            assert_eq!(a.labels.iter().filter(|&&l| l == k).count(), 5);
        }
    }

    #[test]
    fn randman_spike_counts_identical_across_classes() {
        let cfg = RandmanConfig { jitter_steps: 1.5, ..small_randman() };
        let ds = randman(&cfg, 4, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        for s in 0..ds.len() {
            assert_eq!(ds.spike_counts(s).unwrap(), vec![1; cfg.n_inputs]);
            let dense = ds.to_dense(s).unwrap();
            assert_eq!(dense.len(), cfg.n_steps * cfg.n_inputs);
            assert_eq!(dense.iter().sum::<f32>(), cfg.n_inputs as f32);
            // Per-neuron column sums are 1 in the dense layout [T][N].
            for i in 0..cfg.n_inputs {
                let col: f32 = (0..cfg.n_steps).map(|t| dense[t * cfg.n_inputs + i]).sum();
                assert_eq!(col, 1.0);
            }
            assert!(ds.events[s].windows(2).all(|w| w[0] <= w[1]));
        }
        assert!(ds.to_dense(ds.len()).is_err());
    }

    #[test]
    fn randman_maps_span_unit_interval_and_are_smooth() {
        let cfg = RandmanConfig { dim_manifold: 1, n_probe: 2000, ..small_randman() };
        let man = Randman::new(cfg.clone(), &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        for c in 0..cfg.n_classes {
            let grid: Vec<Vec<f64>> = (0..=200).map(|k| man.eval(c, &[k as f64 / 200.0]).unwrap()).collect();
            for i in 0..cfg.n_inputs {
                let lo = grid.iter().map(|v| v[i]).fold(f64::INFINITY, f64::min);
                let hi = grid.iter().map(|v| v[i]).fold(f64::NEG_INFINITY, f64::max);
                assert!(lo < 0.02 && hi > 0.98, "class {c} input {i}: range [{lo}, {hi}]");
                // Lipschitz bound: |g'| ≤ Σ_k 2π k a_k/k^α ≤ 2π Σ_k k^{1−α}; after rescaling steps are small.
                let max_jump = grid.windows(2).map(|w| (w[1][i] - w[0][i]).abs()).fold(0.0, f64::max);
                assert!(max_jump < 0.2, "jump {max_jump}");
            }
        }
        // Different classes have different maps.
        assert_ne!(man.eval(0, &[0.3]).unwrap(), man.eval(1, &[0.3]).unwrap());
    }

    #[test]
    fn randman_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let bad = RandmanConfig { n_inputs: 0, ..small_randman() };
        let e = Randman::new(bad, &mut rng).unwrap_err().to_string();
        assert!(e.contains("n_inputs"), "{e}");
        let bad = RandmanConfig { alpha: f64::NAN, ..small_randman() };
        assert!(Randman::new(bad, &mut rng).unwrap_err().to_string().contains("alpha"));
        let man = Randman::new(small_randman(), &mut rng).unwrap();
        assert!(man.eval(3, &[0.1, 0.2]).is_err());
        assert!(man.eval(0, &[0.1]).is_err());
        assert!(man.eval(0, &[0.1, 1.5]).unwrap_err().to_string().contains("1.5"));
        assert!(man.eval(0, &[0.1, f64::NAN]).is_err());
        assert!(man.sample(0, &mut rng).is_err());
    }

    #[test]
    fn nmnist_decodes_hand_made_bytes() {
        // x = 5, y = 33, ON, t = 0x12_34_56 = 1193046 µs; then x = 0, y = 1, OFF, t = 0x7F_FF_FF.
        let bytes = [5u8, 33, 0x80 | 0x12, 0x34, 0x56, 0, 1, 0x7F, 0xFF, 0xFF];
        let ev = read_nmnist(&bytes).unwrap();
        assert_eq!(
            ev,
            vec![
                DvsEvent { x: 5, y: 33, t_us: 0x12_3456, p: true },
                DvsEvent { x: 0, y: 1, t_us: MAX_TIMESTAMP_US, p: false },
            ]
        );
        assert_eq!(write_nmnist(&ev).unwrap(), bytes.to_vec());
    }

    #[test]
    fn nmnist_round_trip() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut t = 0u64;
        let events: Vec<DvsEvent> = (0..500)
            .map(|_| {
                t += rng.gen_range(0..2000);
                DvsEvent { x: rng.gen_range(0..34), y: rng.gen_range(0..34), t_us: t, p: rng.gen() }
            })
            .collect();
        let bytes = write_nmnist(&events).unwrap();
        assert_eq!(bytes.len(), 5 * events.len());
        assert_eq!(read_nmnist(&bytes).unwrap(), events);
        let path = std::env::temp_dir().join(format!("nmnist_rt_{}.bin", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_nmnist_file(&path).unwrap(), events);
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(read_nmnist_file(&path), Err(Error::Io(_))));
    }

    #[test]
    fn nmnist_errors() {
        let e = read_nmnist(&[1, 2, 3, 4, 5, 6, 7]).unwrap_err().to_string();
        assert!(e.contains("bytes.len()") && e.contains('7'), "{e}");
        // x = 40 is a valid ATIS byte but outside the N-MNIST sensor.
        let bytes = [1u8, 2, 0, 0, 1, 40, 2, 0, 0, 2];
        assert_eq!(decode_events(&bytes).unwrap()[1].x, 40);
        let e = read_nmnist(&bytes).unwrap_err().to_string();
        assert!(e.contains("events[1].x") && e.contains("40"), "{e}");
        let too_late = DvsEvent { x: 1, y: 1, t_us: 1 << 23, p: true };
        assert!(write_nmnist(&[too_late]).unwrap_err().to_string().contains("events[0].t_us"));
        let too_big = DvsEvent { x: 300, y: 1, t_us: 0, p: true };
        assert!(encode_events(&[too_big]).unwrap_err().to_string().contains("events[0].x"));
        assert!(write_nmnist(&[DvsEvent { x: 1, y: 34, t_us: 0, p: true }]).is_err());
        assert_eq!(read_nmnist(&[]).unwrap(), vec![]);
    }

    #[test]
    fn binning_counts_events() {
        let ev = [
            DvsEvent { x: 1, y: 2, t_us: 0, p: true },
            DvsEvent { x: 1, y: 2, t_us: 99, p: true },
            DvsEvent { x: 3, y: 0, t_us: 100, p: false },
            DvsEvent { x: 3, y: 0, t_us: 299, p: false },
            DvsEvent { x: 0, y: 0, t_us: 300, p: false }, // beyond duration: ignored
        ];
        let (w, h) = (4, 3);
        let frames = bin_events(&ev, w, h, 3, 300).unwrap();
        assert_eq!(frames.len(), 3 * 2 * h * w);
        let at = |b: usize, p: usize, y: usize, x: usize| frames[((b * 2 + p) * h + y) * w + x];
        assert_eq!(at(0, 1, 2, 1), 2.0);
        assert_eq!(at(1, 0, 0, 3), 1.0);
        assert_eq!(at(2, 0, 0, 3), 1.0);
        assert_eq!(frames.iter().sum::<f32>(), 4.0);
        assert!(bin_events(&ev, 3, h, 3, 300).unwrap_err().to_string().contains("events[2].x"));
        assert!(bin_events(&ev, w, 2, 3, 300).unwrap_err().to_string().contains("events[0].y"));
        assert!(bin_events(&ev, w, h, 0, 300).is_err());
        assert!(bin_events(&ev, w, h, 3, 0).is_err());
    }

    #[test]
    fn poisson_train_rate_and_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let tr = poisson_train(50.0, 100_000.0, &mut rng).unwrap();
        assert!(tr.windows(2).all(|w| w[0] <= w[1]));
        assert!(tr.iter().all(|&t| (0.0..100_000.0).contains(&t)));
        let rate = tr.len() as f64 / 100.0;
        assert!((rate - 50.0).abs() < 3.0, "rate {rate}");
        assert!(poisson_train(0.0, 10.0, &mut rng).unwrap().is_empty());
        assert!(poisson_train(-1.0, 10.0, &mut rng).unwrap_err().to_string().contains("rate_hz"));
        assert!(poisson_train(1.0, f64::INFINITY, &mut rng).is_err());
    }

    #[test]
    fn pattern_stream_structure() {
        let cfg = PatternStreamConfig {
            n_afferents: 200,
            n_pattern_afferents: 100,
            rate_hz: 30.0,
            noise_hz: 5.0,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let pat = cfg.frozen_pattern(&mut rng).unwrap();
        assert_eq!(pat.afferents.len(), 100);
        assert_eq!(pat.len_steps, 50);
        let s = cfg.stream(&pat, 20_000.0, &mut rng).unwrap();
        assert_eq!(s.n_steps, 20_000);
        // Presentations never abut and occupy ≈ 25 % of the time.
        assert!(s.pattern_starts.windows(2).all(|w| w[1] >= w[0] + 2 * s.pattern_len));
        let frac = (s.pattern_starts.len() * s.pattern_len) as f64 / s.n_steps as f64;
        assert!((frac - 0.25).abs() < 0.05, "fraction {frac}");
        // Every pattern spike is present at every presentation (no jitter).
        for &st in &s.pattern_starts {
            for &(off, a) in &pat.spikes {
                assert!(s.spikes_at(st + off as usize).contains(&a));
            }
        }
        // Rates: every afferent ≈ 35 Hz, inside and outside patterns.
        let rate = s.n_spikes() as f64 / (200.0 * 20.0);
        assert!((rate - 35.0).abs() < 2.0, "rate {rate}");
        for t in 0..s.n_steps {
            assert!(s.spikes_at(t).windows(2).all(|w| w[0] < w[1]));
        }
        assert!(s.spikes_at(s.n_steps).is_empty());
        // Same seed, same stream.
        let mut r1 = ChaCha8Rng::seed_from_u64(9);
        let mut r2 = ChaCha8Rng::seed_from_u64(9);
        assert_eq!(cfg.stream(&pat, 1000.0, &mut r1).unwrap(), cfg.stream(&pat, 1000.0, &mut r2).unwrap());
    }

    #[test]
    fn pattern_stream_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let bad = PatternStreamConfig { rate_hz: 2000.0, ..Default::default() };
        assert!(bad.frozen_pattern(&mut rng).unwrap_err().to_string().contains("rate_hz"));
        let bad = PatternStreamConfig { pattern_fraction: 0.7, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("pattern_fraction"));
        let bad = PatternStreamConfig { n_pattern_afferents: 2000, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("n_pattern_afferents"));
        let bad = PatternStreamConfig { dt_ms: 0.0, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("dt_ms"));
        let cfg = PatternStreamConfig::default();
        let pat = cfg.frozen_pattern(&mut rng).unwrap();
        let other = PatternStreamConfig { pattern_ms: 20.0, ..Default::default() };
        assert!(other.stream(&pat, 100.0, &mut rng).unwrap_err().to_string().contains("pattern.len_steps"));
        assert!(cfg.stream(&pat, -1.0, &mut rng).is_err());
    }
}
