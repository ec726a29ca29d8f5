//! Spike encoders and decoders.
//!
//! Dense spike tensors are time-first, `[T, ...]`, with values in {0, 1} (or {−1, 0, 1} for delta
//! coding with off-spikes), in the dtype of the input. Continuous-time spike trains are sorted
//! `Vec<f64>` of spike times per channel, in the time unit of the caller.

use tch::{Kind, Tensor};

use crate::{Error, Result};

fn ensure_steps(num_steps: i64) -> Result<()> {
    if num_steps < 1 {
        return Err(Error::invalid("num_steps", num_steps, "must be ≥ 1"));
    }
    Ok(())
}

/// Rate coding: `S_t ~ Bernoulli(clamp(x·gain + offset, 0, 1))` independently for `t < T`.
///
/// `x` of any shape → `[num_steps, ...x.shape]`. Uses libtorch's global generator.
///
/// # Errors
/// `num_steps < 1`, or non-finite `x`.
pub fn rate(x: &Tensor, num_steps: i64, gain: f64, offset: f64) -> Result<Tensor> {
    ensure_steps(num_steps)?;
    core_tensor::error::ensure_finite_tensor("x", x)?;
    let p = (x * gain + offset).clamp(0.0, 1.0).unsqueeze(0);
    let mut shape = vec![num_steps];
    shape.extend(x.size());
    Ok(p.expand(&shape, false).bernoulli())
}

/// How latency coding maps an intensity to a firing time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// RC-circuit charging time `t = τ ln(x / (x − θ))` for `x > θ`; no spike for `x ≤ θ`.
    Log {
        /// Time constant τ (time steps).
        tau: f64,
        /// Intensity threshold θ (0.01 in snnTorch).
        threshold: f64,
    },
    /// Linear: `t = τ (1 − x)` for `x > θ`; no spike for `x ≤ θ`.
    Linear {
        /// Time constant τ (time steps).
        tau: f64,
        /// Intensity threshold θ.
        threshold: f64,
    },
}

impl Latency {
    /// Firing time (in steps, before rounding) of intensity `x`, or `None` when it does not fire.
    pub fn time(&self, x: f64) -> Option<f64> {
        match *self {
            Latency::Log { tau, threshold } => (x > threshold).then(|| tau * (x / (x - threshold)).ln()),
            Latency::Linear { tau, threshold } => (x > threshold).then_some(tau * (1.0 - x)),
        }
    }
}

/// Latency coding: each element fires once, at step `round(t(x))` (half to even, as `torch.round`;
/// clipped to `T − 1`), or never.
///
/// With `normalize`, τ is rescaled so that the firing times span the window: for the linear code
/// `τ = (T − 1)/(1 − θ)`, so `x = 1` fires at step 0 and `x → θ⁺` at `T − 1`; for the log code
/// `τ = (T − 1) / ln(x_w / (x_w − θ))` with `x_w = 1.01 θ`, the weakest intensity mapped inside.
/// `x` of any shape with values in [0, 1] → `[num_steps, ...x.shape]`.
///
/// # Errors
/// `num_steps < 1`, `x` outside [0, 1] or non-finite, τ ≤ 0, θ ∉ [0, 1).
pub fn latency(x: &Tensor, num_steps: i64, code: Latency, normalize: bool) -> Result<Tensor> {
    ensure_steps(num_steps)?;
    core_tensor::error::ensure_finite_tensor("x", x)?;
    let (tau, threshold) = match code {
        Latency::Log { tau, threshold } | Latency::Linear { tau, threshold } => (tau, threshold),
    };
    core_tensor::error::ensure_positive("tau", tau)?;
    if !(0.0..1.0).contains(&threshold) {
        return Err(Error::invalid("threshold", threshold, "must lie in [0, 1)"));
    }
    let xs: Vec<f64> = Vec::try_from(x.to_kind(Kind::Double).flatten(0, -1).to_device(tch::Device::Cpu))
        .map_err(Error::from)?;
    if let Some(v) = xs.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(Error::invalid("x", v, "latency coding expects intensities in [0, 1]"));
    }
    let last = (num_steps - 1) as f64;
    let code = if normalize {
        match code {
            Latency::Linear { .. } => Latency::Linear { tau: last / (1.0 - threshold), threshold },
            Latency::Log { .. } => {
                let weakest = threshold * 1.01;
                Latency::Log { tau: last / (weakest / (weakest - threshold)).ln(), threshold }
            }
        }
    } else {
        code
    };
    let n = xs.len() as i64;
    let mut out = vec![0f64; (num_steps * n) as usize];
    for (i, &v) in xs.iter().enumerate() {
        if let Some(t) = code.time(v) {
            let step = t.round_ties_even().clamp(0.0, last) as i64;
            out[(step * n) as usize + i] = 1.0;
        }
    }
    let mut shape = vec![num_steps];
    shape.extend(x.size());
    Ok(Tensor::from_slice(&out).reshape(&shape).to_kind(x.kind()).to_device(x.device()))
}

/// Delta modulation of a time series `x` `[T, ...]`: a spike where `x_t − x_{t−1} ≥ threshold`
/// (the first step compares against 0, or against itself with `padding`), and with `off_spikes` a
/// `−1` where the change is `≤ −threshold`.
///
/// # Errors
/// `x` without a time axis, non-finite values, threshold ≤ 0.
pub fn delta(x: &Tensor, threshold: f64, padding: bool, off_spikes: bool) -> Result<Tensor> {
    if x.dim() < 1 || x.size()[0] < 1 {
        return Err(Error::shape("x", "[T ≥ 1, ...]", x.size()));
    }
    core_tensor::error::ensure_finite_tensor("x", x)?;
    core_tensor::error::ensure_positive("threshold", threshold)?;
    let first = if padding { x.get(0).unsqueeze(0) } else { x.get(0).zeros_like().unsqueeze(0) };
    let t = x.size()[0];
    let prev = Tensor::cat(&[first, x.narrow(0, 0, t - 1)], 0);
    let d = x - prev;
    let on = d.ge(threshold).to_kind(x.kind());
    Ok(if off_spikes { on - d.le(-threshold).to_kind(x.kind()) } else { on })
}

/// Bins continuous-time spike trains (one per channel) into a dense `[T, channels]` count tensor
/// with bins of width `dt` starting at 0 (`T = ceil(duration / dt)`); spikes outside `[0, duration)`
/// are dropped.
///
/// # Errors
/// Non-positive `dt`/`duration`, non-finite or unsorted spike times.
pub fn bin_trains(trains: &[Vec<f64>], duration: f64, dt: f64, kind: Kind) -> Result<Tensor> {
    core_tensor::error::ensure_positive("dt", dt)?;
    core_tensor::error::ensure_positive("duration", duration)?;
    let steps = (duration / dt).ceil() as usize;
    let n = trains.len();
    let mut out = vec![0f64; steps * n];
    for (c, train) in trains.iter().enumerate() {
        core_tensor::error::ensure_finite(&format!("trains[{c}]"), train)?;
        if let Some(k) = train.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::invalid(
                format!("trains[{c}][{}]", k + 1),
                train[k + 1],
                "spike times must be sorted",
            ));
        }
        for &t in train {
            if (0.0..duration).contains(&t) {
                let b = ((t / dt) as usize).min(steps - 1);
                out[b * n + c] += 1.0;
            }
        }
    }
    // cpu: a data source: batches move to the model's device when used
    Ok(Tensor::from_slice(&out).reshape([steps as i64, n as i64]).to_kind(kind))
}

/// Spike-count readout: `Σ_t S_t` of `[T, ...]` → `[...]`.
pub fn spike_count(spikes: &Tensor) -> Tensor {
    spikes.sum_dim_intlist([0i64].as_slice(), false, spikes.kind())
}

/// How a membrane trace `[T, ...]` is read out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembraneReadout {
    /// `U_{T−1}`.
    Last,
    /// `max_t U_t`.
    Max,
    /// `mean_t U_t`.
    Mean,
}

/// Membrane readout of `[T, ...]` → `[...]`.
///
/// # Errors
/// A tensor without a time dimension or with `T = 0`.
pub fn membrane_readout(mem: &Tensor, how: MembraneReadout) -> Result<Tensor> {
    let t = mem.size().first().copied().unwrap_or(0);
    if t < 1 {
        return Err(Error::shape("mem", "[T ≥ 1, ...]", mem.size()));
    }
    Ok(match how {
        MembraneReadout::Last => mem.get(t - 1),
        MembraneReadout::Max => mem.amax([0i64].as_slice(), false),
        MembraneReadout::Mean => mem.mean_dim([0i64].as_slice(), false, mem.kind()),
    })
}

/// Lempel–Ziv (LZ76) complexity of a binary string: the number of distinct phrases of the
/// Kaspar–Schuster parsing.
pub fn lz76_phrases(bits: &[bool]) -> usize {
    let n = bits.len();
    if n == 0 {
        return 0;
    }
    if n == 1 {
        return 1;
    }
    // Kaspar & Schuster (1987): scan for the longest prefix match of the current phrase in the past.
    let (mut c, mut l, mut i, mut k, mut k_max) = (1usize, 1usize, 0usize, 1usize, 1usize);
    loop {
        if bits[i + k - 1] == bits[l + k - 1] {
            k += 1;
            if l + k > n {
                c += 1;
                break;
            }
        } else {
            k_max = k_max.max(k);
            i += 1;
            if i == l {
                c += 1;
                l += k_max;
                if l + 1 > n {
                    break;
                }
                i = 0;
                k = 1;
                k_max = 1;
            } else {
                k = 1;
            }
        }
    }
    c
}

/// Normalised LZ76 complexity `c(n) · log2(n) / n` (≈ 1 for an i.i.d. fair coin, → 0 for periodic
/// strings).
pub fn lz76_complexity(bits: &[bool]) -> f64 {
    let n = bits.len();
    if n < 2 {
        return lz76_phrases(bits) as f64;
    }
    lz76_phrases(bits) as f64 * (n as f64).log2() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn membrane_readouts_need_a_time_step() {
        let mem = Tensor::from_slice(&[1.0f32, 3.0, 2.0]).view([3, 1]);
        let get = |how| f64::try_from(membrane_readout(&mem, how).unwrap().view([-1]).get(0)).unwrap();
        assert_eq!(
            (get(MembraneReadout::Last), get(MembraneReadout::Max), get(MembraneReadout::Mean)),
            (2.0, 3.0, 2.0)
        );
        let empty = Tensor::zeros([0, 4], (Kind::Float, tch::Device::Cpu));
        assert!(membrane_readout(&empty, MembraneReadout::Last).is_err());
    }

    #[test]
    fn rate_has_the_right_mean() {
        core_tensor::seed::seed_torch(0);
        let x = Tensor::from_slice(&[0.0f32, 0.25, 0.5, 1.5]);
        let s = rate(&x, 4000, 1.0, 0.0).unwrap();
        assert_eq!(s.size(), vec![4000, 4]);
        let m: Vec<f32> = Vec::try_from(s.mean_dim([0i64].as_slice(), false, Kind::Float)).unwrap();
        assert_eq!(m[0], 0.0);
        assert_eq!(m[3], 1.0);
        for (mi, p) in m[1..3].iter().zip([0.25f32, 0.5]) {
            assert!((mi - p).abs() < 4.0 * (p * (1.0 - p) / 4000.0).sqrt());
        }
        assert!(rate(&x, 0, 1.0, 0.0).is_err());
    }

    #[test]
    fn latency_times() {
        let x = Tensor::from_slice(&[1.0f64, 0.5, 0.005]);
        let s = latency(&x, 10, Latency::Log { tau: 5.0, threshold: 0.01 }, false).unwrap();
        let idx: Vec<i64> = Vec::try_from(s.argmax(0, false)).unwrap();
        let t0 = (5.0 * (1.0f64 / 0.99).ln()).round() as i64;
        let t1 = (5.0 * (0.5f64 / 0.49).ln()).round() as i64;
        assert_eq!(idx[..2], [t0, t1]);
        assert_eq!(s.sum(Kind::Double).double_value(&[]), 2.0);
        let s = latency(&x, 11, Latency::Linear { tau: 1.0, threshold: 0.0 }, true).unwrap();
        let idx: Vec<i64> = Vec::try_from(s.argmax(0, false)).unwrap();
        assert_eq!(idx, vec![0, 5, 10]);
        assert!(latency(
            &Tensor::from_slice(&[1.2f64]),
            5,
            Latency::Linear { tau: 1.0, threshold: 0.0 },
            false
        )
        .is_err());
    }

    #[test]
    fn delta_on_off() {
        let x = Tensor::from_slice(&[0.0f64, 0.5, 0.55, 0.1, 0.1]);
        let s: Vec<f64> = Vec::try_from(delta(&x, 0.2, false, true).unwrap()).unwrap();
        assert_eq!(s, vec![0.0, 1.0, 0.0, -1.0, 0.0]);
        let s: Vec<f64> = Vec::try_from(delta(&(x + 1.0), 0.2, false, false).unwrap()).unwrap();
        assert_eq!(s[0], 1.0);
    }

    #[test]
    fn poisson_counts_and_binning() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        // 20 Hz over 5 s (times in ms).
        let trains: Vec<Vec<f64>> =
            (0..200).map(|_| crate::data::poisson_train(20.0, 5000.0, &mut rng).unwrap()).collect();
        let n: usize = trains.iter().map(Vec::len).sum();
        let mean = n as f64 / 200.0;
        assert!((mean - 100.0).abs() < 4.0 * (100.0f64 / 200.0).sqrt(), "{mean}");
        let b = bin_trains(&trains, 5000.0, 1.0, Kind::Float).unwrap();
        assert_eq!(b.size(), vec![5000, 200]);
        assert_eq!(b.sum(Kind::Double).double_value(&[]) as usize, n);
        assert!(bin_trains(&[vec![0.3, 0.1]], 1.0, 0.1, Kind::Float).is_err());
    }

    #[test]
    fn lz76_known_values() {
        // Kaspar & Schuster's example 0001101001000101 parses as 0·001·10·100·1000·101 → 6 phrases.
        let s: Vec<bool> = "0001101001000101".chars().map(|c| c == '1').collect();
        assert_eq!(lz76_phrases(&s), 6);
        let periodic: Vec<bool> = (0..4096).map(|i| i % 2 == 0).collect();
        assert!(lz76_complexity(&periodic) < 0.05);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let random: Vec<bool> = (0..4096).map(|_| rng.gen_bool(0.5)).collect();
        let c = lz76_complexity(&random);
        assert!((0.85..1.15).contains(&c), "{c}");
    }
}
