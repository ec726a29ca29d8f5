//! Poisson processes: homogeneous and inhomogeneous (simulation by thinning, exact likelihood).

use crate::data::EventSequence;
use crate::error::{invalid, non_negative, positive, Error, Result};
use core_tensor::seed::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, Exp};

/// Most candidate events a Poisson simulation draws on average (`rate · window`); a larger
/// expected count is refused before the loop rather than filling memory for hours.
pub const MAX_EXPECTED_EVENTS: f64 = 1e9;

/// A Poisson count with mean `mean` for a simulation capped at `max_events`. A mean so large that
/// the count would exceed the cap (by more than ten standard deviations), or exceed
/// [`MAX_EXPECTED_EVENTS`], is refused before sampling: a Poisson sampler given an astronomically
/// large mean can spin for hours.
///
/// # Errors
/// A NaN or negative mean; [`Error::TooManyEvents`] for a mean far beyond `max_events`.
pub fn poisson_count(mean: f64, max_events: usize, rng: &mut Rng) -> Result<usize> {
    if !(mean >= 0.0) {
        return Err(invalid("expected count", mean, "must be >= 0"));
    }
    if mean == 0.0 {
        return Ok(0);
    }
    let cap = (max_events as f64).min(MAX_EXPECTED_EVENTS);
    if mean > cap + 10.0 * cap.sqrt() + 10.0 {
        return Err(Error::TooManyEvents { max_events: max_events.min(MAX_EXPECTED_EVENTS as usize) });
    }
    let p = rand_distr::Poisson::new(mean).map_err(|e| invalid("expected count", mean, &e.to_string()))?;
    Ok(p.sample(rng) as usize)
}

/// A waiting time that rounds to zero at `t` (times so large that their f64 spacing exceeds the
/// gaps between events) would loop forever on one instant: an error instead.
pub(crate) fn check_advance(t: f64, t_new: f64) -> Result<()> {
    if t_new > t {
        return Ok(());
    }
    Err(invalid(
        "t_start, t_end",
        t,
        "times this large are spaced more coarsely in f64 than the waiting times between events; shift the window towards 0",
    ))
}

/// Checks a simulation window and the expected number of candidate draws `rate · (t_end − t_start)`.
fn check_window(t_start: f64, t_end: f64, rate: f64) -> Result<()> {
    if !(t_start.is_finite() && t_end.is_finite() && t_end >= t_start) {
        return Err(invalid(
            "t_start, t_end",
            format!("{t_start}, {t_end}"),
            "need finite times with t_end >= t_start",
        ));
    }
    let expected = rate * (t_end - t_start);
    if !(expected <= MAX_EXPECTED_EVENTS) {
        return Err(invalid(
            "rate × window",
            expected,
            &format!("more than {MAX_EXPECTED_EVENTS:e} expected draws"),
        ));
    }
    Ok(())
}

/// Homogeneous Poisson process with constant rate λ (events per time unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HomogeneousPoisson {
    rate: f64,
}

impl HomogeneousPoisson {
    /// Process with rate `rate ≥ 0`.
    pub fn new(rate: f64) -> Result<Self> {
        non_negative("rate", rate)?;
        Ok(HomogeneousPoisson { rate })
    }
    /// The rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }
    /// Events on `[t_start, t_end]` (exponential gaps).
    pub fn simulate(&self, t_start: f64, t_end: f64, rng: &mut Rng) -> Result<EventSequence> {
        check_window(t_start, t_end, self.rate)?;
        let mut times = Vec::new();
        if self.rate > 0.0 {
            let exp = Exp::new(self.rate).map_err(|e| invalid("rate", self.rate, &e.to_string()))?;
            let mut t = t_start;
            loop {
                let t_new = t + exp.sample(rng);
                if t_new > t_end {
                    break;
                }
                check_advance(t, t_new)?;
                t = t_new;
                times.push(t);
            }
        }
        EventSequence::new(times, None, 1, t_start, t_end)
    }
    /// `log L = N log λ − λ (t_end − t_start)`.
    pub fn log_likelihood(&self, seq: &EventSequence) -> f64 {
        let n = seq.len() as f64;
        if n == 0.0 {
            -self.rate * seq.duration()
        } else {
            n * self.rate.ln() - self.rate * seq.duration()
        }
    }
    /// Maximum-likelihood rate `N / T` over several sequences.
    pub fn fit(seqs: &[EventSequence]) -> Result<Self> {
        let n: usize = seqs.iter().map(|s| s.len()).sum();
        let t: f64 = seqs.iter().map(|s| s.duration()).sum();
        if seqs.is_empty() {
            return Err(Error::Data("no sequences to fit".into()));
        }
        Self::new(n as f64 / t)
    }
}

/// Inhomogeneous Poisson process with intensity `λ(t)` bounded by `bound` on the window.
///
/// Simulation by thinning (Lewis & Shedler 1979): candidates from a rate-`bound` process, each kept
/// with probability `λ(t)/bound`; a candidate where `λ(t) > bound` is an error (the bound was not
/// one). The compensator `Λ = ∫λ` is either supplied or computed by composite Gauss–Legendre
/// quadrature.
pub struct InhomogeneousPoisson<F: Fn(f64) -> f64> {
    intensity: F,
    bound: f64,
    compensator: Option<Box<dyn Fn(f64, f64) -> f64 + Send + Sync>>,
}

impl<F: Fn(f64) -> f64> std::fmt::Debug for InhomogeneousPoisson<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InhomogeneousPoisson").field("bound", &self.bound).finish()
    }
}

/// 16-point Gauss–Legendre nodes and weights on [-1, 1].
pub(crate) const GL16: [(f64, f64); 8] = [
    (0.095_012_509_837_637_44, 0.189_450_610_455_068_5),
    (0.281_603_550_779_258_9, 0.182_603_415_044_923_6),
    (0.458_016_777_657_227_4, 0.169_156_519_395_002_5),
    (0.617_876_244_402_643_7, 0.149_595_988_816_576_7),
    (0.755_404_408_355_003, 0.124_628_971_255_533_9),
    (0.865_631_202_387_831_7, 0.095_158_511_682_492_78),
    (0.944_575_023_073_232_6, 0.062_253_523_938_647_89),
    (0.989_400_934_991_649_9, 0.027_152_459_411_754_09),
];

/// `∫_a^b f` by 16-point Gauss–Legendre on `panels` equal panels.
pub fn gauss_legendre(f: impl Fn(f64) -> f64, a: f64, b: f64, panels: usize) -> f64 {
    let h = (b - a) / panels as f64;
    let mut s = 0.0;
    for p in 0..panels {
        let c = a + (p as f64 + 0.5) * h;
        for &(x, w) in &GL16 {
            s += w * (f(c - 0.5 * h * x) + f(c + 0.5 * h * x));
        }
    }
    s * 0.5 * h
}

impl<F: Fn(f64) -> f64> InhomogeneousPoisson<F> {
    /// Process with intensity `intensity` and an upper bound `bound > 0` on the simulation window.
    pub fn new(intensity: F, bound: f64) -> Result<Self> {
        positive("bound", bound)?;
        Ok(InhomogeneousPoisson { intensity, bound, compensator: None })
    }
    /// Supplies the exact compensator `Λ(a, b) = ∫_a^b λ`.
    pub fn with_compensator(mut self, c: impl Fn(f64, f64) -> f64 + Send + Sync + 'static) -> Self {
        self.compensator = Some(Box::new(c));
        self
    }
    /// λ(t).
    pub fn intensity(&self, t: f64) -> f64 {
        (self.intensity)(t)
    }
    /// `∫_a^b λ(t) dt`.
    pub fn compensator(&self, a: f64, b: f64) -> f64 {
        match &self.compensator {
            Some(c) => c(a, b),
            None => gauss_legendre(&self.intensity, a, b, 64),
        }
    }
    /// Events on `[t_start, t_end]` by thinning.
    pub fn simulate(&self, t_start: f64, t_end: f64, rng: &mut Rng) -> Result<EventSequence> {
        check_window(t_start, t_end, self.bound)?;
        let exp = Exp::new(self.bound).map_err(|e| invalid("bound", self.bound, &e.to_string()))?;
        let mut t = t_start;
        let mut times = Vec::new();
        loop {
            let t_new = t + exp.sample(rng);
            if t_new > t_end {
                break;
            }
            check_advance(t, t_new)?;
            t = t_new;
            let l = (self.intensity)(t);
            if !(l >= 0.0 && l.is_finite()) {
                return Err(invalid("intensity", l, &format!("must be finite and >= 0 (at t = {t})")));
            }
            if l > self.bound {
                return Err(invalid("bound", self.bound, &format!("is below the intensity {l} at t = {t}")));
            }
            if rng.gen::<f64>() * self.bound < l {
                times.push(t);
            }
        }
        EventSequence::new(times, None, 1, t_start, t_end)
    }
    /// `log L = Σ log λ(t_k) − Λ(t_start, t_end)`.
    pub fn log_likelihood(&self, seq: &EventSequence) -> f64 {
        seq.times().iter().map(|&t| (self.intensity)(t).ln()).sum::<f64>()
            - self.compensator(seq.t_start(), seq.t_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use core_tensor::seed::rng;

    #[test]
    fn bad_windows_and_huge_counts_are_refused_before_the_loop() {
        let p = HomogeneousPoisson::new(2.0).unwrap();
        let mut r = rng(1);
        for (a, b) in [(0.0, f64::NAN), (f64::NEG_INFINITY, 1.0), (0.0, f64::INFINITY), (2.0, 1.0)] {
            let e = p.simulate(a, b, &mut r).unwrap_err().to_string();
            assert!(e.contains("t_start, t_end"), "{e}");
        }
        let e = HomogeneousPoisson::new(1e12).unwrap().simulate(0.0, 1e3, &mut r).unwrap_err().to_string();
        assert!(e.contains("expected draws"), "{e}");
        let ih = InhomogeneousPoisson::new(|_| 1.0, 2.0).unwrap();
        assert!(ih.simulate(0.0, f64::NAN, &mut r).is_err());
    }

    #[test]
    fn homogeneous_counts_and_likelihood() {
        let p = HomogeneousPoisson::new(2.0).unwrap();
        let mut r = rng(1);
        let seqs: Vec<_> = (0..200).map(|_| p.simulate(0.0, 50.0, &mut r).unwrap()).collect();
        let mean = seqs.iter().map(|s| s.len() as f64).sum::<f64>() / 200.0;
        // Poisson(100): standard error of the mean over 200 draws is 10/√200 ≈ 0.71.
        assert!((mean - 100.0).abs() < 4.0 * 0.71, "mean count {mean}");
        let fit = HomogeneousPoisson::fit(&seqs).unwrap();
        assert_relative_eq!(fit.rate(), mean / 50.0, max_relative = 1e-12);
        let s = EventSequence::univariate(vec![1.0, 2.0, 3.0], 4.0).unwrap();
        assert_relative_eq!(p.log_likelihood(&s), 3.0 * 2f64.ln() - 8.0);
        assert!(HomogeneousPoisson::new(-1.0).unwrap_err().to_string().contains("rate"));
    }

    #[test]
    fn thinning_matches_the_intensity() {
        // λ(t) = 1 + sin(t)  ⇒  Λ(0, 2π k) = 2π k.
        let ip = InhomogeneousPoisson::new(|t: f64| 1.0 + t.sin(), 2.0).unwrap();
        let t_end = 20.0 * std::f64::consts::PI;
        let exact = t_end + 1.0 - t_end.cos();
        assert_relative_eq!(ip.compensator(0.0, t_end), exact, max_relative = 1e-12);
        let mut r = rng(3);
        let n: usize = (0..100).map(|_| ip.simulate(0.0, t_end, &mut r).unwrap().len()).sum();
        let mean = n as f64 / 100.0;
        assert!((mean - exact).abs() < 4.0 * (exact / 100.0).sqrt(), "{mean} vs {exact}");
        let bad = InhomogeneousPoisson::new(|t: f64| 1.0 + t.sin(), 1.5).unwrap();
        let e = bad.simulate(0.0, t_end, &mut r).unwrap_err().to_string();
        assert!(e.contains("bound"), "{e}");
        let with = InhomogeneousPoisson::new(|t: f64| 1.0 + t.sin(), 2.0)
            .unwrap()
            .with_compensator(|a, b| b - a - b.cos() + a.cos());
        let s = EventSequence::univariate(vec![1.0, 2.0], 3.0).unwrap();
        assert_relative_eq!(with.log_likelihood(&s), ip.log_likelihood(&s), max_relative = 1e-12);
    }
}
