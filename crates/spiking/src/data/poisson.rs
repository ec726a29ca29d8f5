//! Poisson spike trains in continuous time and Bernoulli spike steps in discrete time.

use rand::Rng;

use crate::{Error, Result};

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
    let expected = rate_hz * duration_ms / 1000.0;
    if !(expected <= 1e9) {
        return Err(Error::invalid(
            "rate_hz × duration_ms",
            expected,
            "more than 1e9 expected spikes in one train",
        ));
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
pub(super) fn bernoulli_steps(p: f64, n_steps: usize, rng: &mut impl Rng, mut emit: impl FnMut(usize)) {
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
