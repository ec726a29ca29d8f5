//! The Lorenz-96 system (Lorenz 1996), a pure-Rust RK4 integrator and forecasting data sets.
//!
//! State `x ∈ ℝᴺ` (`N ≥ 4`), cyclic indices (`x₋₁ = x_{N−1}`, `x_N = x₀`, …):
//!
//! ```text
//! dxᵢ/dt = (x_{i+1} − x_{i−2}) · x_{i−1} − xᵢ + F
//! ```
//!
//! `xᵢ = F` for all `i` is an equilibrium; for `F = 8` (and `N ≳ 20`) the flow is chaotic with a
//! leading Lyapunov exponent ≈ 1.7 per model time unit. Time is in model units (Lorenz's "1 unit ≈
//! 5 days").
//!
//! The integrator is the classical fourth-order Runge–Kutta scheme in `f64`. Data sets
//! ([`Lorenz96Data`]) start every series at the equilibrium plus a small Gaussian perturbation,
//! discard a burn-in, then record one state every `dt` (integrated with `substeps` RK4 steps of
//! `dt / substeps`); they are returned as `[n_series, T, N]` tensors. [`forecasting_pairs`] cuts
//! series into (window → next steps) training pairs.

use rand_distr::{Distribution, Normal};
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

/// The Lorenz-96 vector field with `n` variables and forcing `forcing` (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lorenz96 {
    n: usize,
    forcing: f64,
}

impl Lorenz96 {
    /// A system with `n ≥ 4` variables and a finite forcing `F`.
    ///
    /// # Errors
    /// `n < 4` (the stencil `i−2 … i+1` needs four distinct indices) or a non-finite `forcing`.
    pub fn new(n: usize, forcing: f64) -> Result<Self> {
        if n < 4 {
            return Err(Error::invalid("n", n, "Lorenz-96 needs at least 4 variables"));
        }
        if !forcing.is_finite() {
            return Err(Error::invalid("forcing", forcing, "must be finite"));
        }
        Ok(Lorenz96 { n, forcing })
    }

    /// Number of variables `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The forcing `F`.
    pub fn forcing(&self) -> f64 {
        self.forcing
    }

    /// Writes `dx/dt` at `x` into `dx` (both of length `N`; the caller guarantees the lengths).
    fn rhs_into(&self, x: &[f64], dx: &mut [f64]) {
        let n = self.n;
        for i in 0..n {
            let xp1 = x[(i + 1) % n];
            let xm1 = x[(i + n - 1) % n];
            let xm2 = x[(i + n - 2) % n];
            dx[i] = (xp1 - xm2) * xm1 - x[i] + self.forcing;
        }
    }

    fn check_state(&self, x: &[f64]) -> Result<()> {
        if x.len() != self.n {
            return Err(Error::shape("x", [self.n], [x.len()]));
        }
        core_tensor::error::ensure_finite("x", x)
    }

    /// The vector field `dx/dt` at `x`.
    ///
    /// # Errors
    /// `x` of the wrong length or with non-finite entries.
    pub fn rhs(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.check_state(x)?;
        let mut dx = vec![0.0; self.n];
        self.rhs_into(x, &mut dx);
        Ok(dx)
    }

    /// One classical RK4 step of size `h` in place:
    /// `x ← x + h/6 (k₁ + 2k₂ + 2k₃ + k₄)`, `k₁ = f(x)`, `k₂ = f(x + h/2 k₁)`, `k₃ = f(x + h/2 k₂)`,
    /// `k₄ = f(x + h k₃)`. `work` holds five scratch vectors of length `N`.
    fn rk4_step(&self, x: &mut [f64], h: f64, work: &mut [Vec<f64>; 5]) {
        let [k1, k2, k3, k4, tmp] = work;
        self.rhs_into(x, k1);
        for i in 0..self.n {
            tmp[i] = x[i] + 0.5 * h * k1[i];
        }
        self.rhs_into(tmp, k2);
        for i in 0..self.n {
            tmp[i] = x[i] + 0.5 * h * k2[i];
        }
        self.rhs_into(tmp, k3);
        for i in 0..self.n {
            tmp[i] = x[i] + h * k3[i];
        }
        self.rhs_into(tmp, k4);
        for i in 0..self.n {
            x[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }

    /// Integrates from `x0` with `steps` RK4 steps of size `h` and returns the final state.
    ///
    /// # Errors
    /// A bad `x0` (length, non-finite), `h ≤ 0` or non-finite, or a state that overflows.
    pub fn integrate(&self, x0: &[f64], h: f64, steps: usize) -> Result<Vec<f64>> {
        Ok(self.trajectory(x0, h, 1, steps)?.pop().expect("trajectory holds x0"))
    }

    /// The states `x(0), x(dt), …, x(samples·dt)` (`samples + 1` of them), each sample reached with
    /// `substeps` RK4 steps of size `dt / substeps`.
    ///
    /// # Errors
    /// A bad `x0`, `dt ≤ 0` or non-finite, `substeps = 0`, or a state that overflows.
    pub fn trajectory(&self, x0: &[f64], dt: f64, substeps: usize, samples: usize) -> Result<Vec<Vec<f64>>> {
        self.check_state(x0)?;
        core_tensor::error::ensure_positive("dt", dt)?;
        if substeps == 0 {
            return Err(Error::invalid("substeps", substeps, "must be ≥ 1"));
        }
        let h = dt / substeps as f64;
        let mut work: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; self.n]);
        let mut x = x0.to_vec();
        let mut out = Vec::with_capacity(samples + 1);
        out.push(x.clone());
        for s in 0..samples {
            for _ in 0..substeps {
                self.rk4_step(&mut x, h, &mut work);
            }
            if x.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    "dt",
                    dt,
                    format!("the state became non-finite at sample {}; use a smaller step", s + 1),
                ));
            }
            out.push(x.clone());
        }
        Ok(out)
    }
}

/// Settings of a Lorenz-96 data set (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lorenz96Data {
    /// Number of variables `N ≥ 4`.
    pub n: usize,
    /// Forcing `F`.
    pub forcing: f64,
    /// Number of independent series.
    pub n_series: usize,
    /// Recorded states per series `T ≥ 1`.
    pub length: usize,
    /// Sampling interval in model time units.
    pub dt: f64,
    /// RK4 steps per sampling interval.
    pub substeps: usize,
    /// Model time discarded before recording (rounded to whole sampling intervals).
    pub burn_in: f64,
    /// Standard deviation of the Gaussian perturbation of the equilibrium `xᵢ = F`.
    pub perturbation: f64,
    /// Seed; series `s` uses the stream `derive_seed(seed, s)`.
    pub seed: u64,
}

impl Default for Lorenz96Data {
    /// The chaotic standard setting: `N = 40`, `F = 8`, 8 series of 500 states every 0.01 time
    /// units (RK4 with `h = 0.0025`), 10 units of burn-in, perturbation 0.01, seed 0.
    fn default() -> Self {
        Lorenz96Data {
            n: 40,
            forcing: 8.0,
            n_series: 8,
            length: 500,
            dt: 0.01,
            substeps: 4,
            burn_in: 10.0,
            perturbation: 0.01,
            seed: 0,
        }
    }
}

impl Lorenz96Data {
    /// Checks the settings.
    ///
    /// # Errors
    /// Any invalid field, named with its value.
    pub fn validate(&self) -> Result<Lorenz96> {
        let sys = Lorenz96::new(self.n, self.forcing)?;
        if self.n_series == 0 {
            return Err(Error::invalid("n_series", self.n_series, "must be ≥ 1"));
        }
        if self.length == 0 {
            return Err(Error::invalid("length", self.length, "must be ≥ 1"));
        }
        core_tensor::error::ensure_positive("dt", self.dt)?;
        if self.substeps == 0 {
            return Err(Error::invalid("substeps", self.substeps, "must be ≥ 1"));
        }
        if !(self.burn_in.is_finite() && self.burn_in >= 0.0) {
            return Err(Error::invalid("burn_in", self.burn_in, "must be finite and ≥ 0"));
        }
        if !(self.perturbation.is_finite() && self.perturbation >= 0.0) {
            return Err(Error::invalid("perturbation", self.perturbation, "must be finite and ≥ 0"));
        }
        Ok(sys)
    }

    /// The series as `f64` vectors: `[series][time][variable]`, deterministic given `seed`.
    ///
    /// # Errors
    /// Invalid settings or a diverging integration.
    pub fn generate_f64(&self) -> Result<Vec<Vec<Vec<f64>>>> {
        let sys = self.validate()?;
        let burn = (self.burn_in / self.dt).round() as usize;
        let noise = Normal::new(0.0, self.perturbation)
            .map_err(|e| Error::invalid("perturbation", self.perturbation, e.to_string()))?;
        (0..self.n_series)
            .map(|s| {
                let mut rng = core_tensor::seed::rng(core_tensor::seed::derive_seed(self.seed, s as u64));
                let x0: Vec<f64> = (0..self.n).map(|_| self.forcing + noise.sample(&mut rng)).collect();
                let start =
                    if burn > 0 { sys.trajectory(&x0, self.dt, self.substeps, burn)?.pop() } else { None };
                let start = start.unwrap_or(x0);
                sys.trajectory(&start, self.dt, self.substeps, self.length - 1)
            })
            .collect()
    }

    /// The series as a `[n_series, length, n]` tensor of `kind` on `device`.
    ///
    /// # Errors
    /// Invalid settings or a diverging integration.
    pub fn generate(&self, kind: Kind, device: Device) -> Result<Tensor> {
        let series = self.generate_f64()?;
        let flat: Vec<f64> = series.into_iter().flatten().flatten().collect();
        Ok(Tensor::from_slice(&flat)
            .f_view([self.n_series as i64, self.length as i64, self.n as i64])?
            .f_to_kind(kind)?
            .f_to_device(device)?)
    }
}

/// Cuts series `[S, T, N]` into forecasting pairs: inputs `[M, window, N]` (states `t … t+window−1`)
/// and targets `[M, horizon, N]` (states `t+window … t+window+horizon−1`), for every start
/// `t = 0, stride, 2·stride, …` with `t + window + horizon ≤ T`, series by series
/// (`M = S · (⌊(T − window − horizon) / stride⌋ + 1)`). Stays on the input's device and kind.
///
/// # Errors
/// `data` not 3-d, `window`, `horizon` or `stride` zero, or `window + horizon > T`.
pub fn forecasting_pairs(
    data: &Tensor,
    window: usize,
    horizon: usize,
    stride: usize,
) -> Result<(Tensor, Tensor)> {
    let (s, t, n) = data.size3().map_err(|_| Error::shape("data", "[series, T, N]", data.size()))?;
    for (name, v) in [("window", window), ("horizon", horizon), ("stride", stride)] {
        if v == 0 {
            return Err(Error::invalid(name, v, "must be ≥ 1"));
        }
    }
    let span = (window + horizon) as i64;
    if span > t {
        return Err(Error::invalid("window + horizon", span, format!("exceeds the series length T = {t}")));
    }
    // unfold: [S, M', N, span] → [S, M', span, N] → [S·M', span, N].
    let w = data.f_unfold(1, span, stride as i64)?.f_permute([0, 1, 3, 2])?.f_contiguous()?;
    let m = w.size()[1];
    let w = w.f_view([s * m, span, n])?;
    Ok((w.f_narrow(1, 0, window as i64)?, w.f_narrow(1, window as i64, horizon as i64)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn vector_field_matches_the_formula() {
        let sys = Lorenz96::new(5, 3.0).unwrap();
        let x = [1.0, -2.0, 0.5, 4.0, 3.0];
        let dx = sys.rhs(&x).unwrap();
        // Written out by hand with the cyclic indices of N = 5.
        let expect = [
            (x[1] - x[3]) * x[4] - x[0] + 3.0,
            (x[2] - x[4]) * x[0] - x[1] + 3.0,
            (x[3] - x[0]) * x[1] - x[2] + 3.0,
            (x[4] - x[1]) * x[2] - x[3] + 3.0,
            (x[0] - x[2]) * x[3] - x[4] + 3.0,
        ];
        assert!(max_diff(&dx, &expect) < 1e-14);
    }

    #[test]
    fn equilibrium_is_stationary() {
        let sys = Lorenz96::new(40, 8.0).unwrap();
        let eq = vec![8.0; 40];
        assert!(sys.rhs(&eq).unwrap().iter().all(|v| *v == 0.0));
        let end = sys.integrate(&eq, 0.01, 1000).unwrap();
        assert!(max_diff(&end, &eq) < 1e-12);
    }

    #[test]
    fn rk4_agrees_with_a_much_finer_rk4_and_is_fourth_order() {
        let sys = Lorenz96::new(40, 8.0).unwrap();
        let data = Lorenz96Data { n_series: 1, length: 1, ..Default::default() };
        let x0 = data.generate_f64().unwrap().remove(0).remove(0);
        let horizon = 0.1;
        let fine = sys.integrate(&x0, horizon / 6400.0, 6400).unwrap();
        let coarse = |steps: usize| sys.integrate(&x0, horizon / steps as f64, steps).unwrap();
        let e1 = max_diff(&coarse(100), &fine);
        let e2 = max_diff(&coarse(200), &fine);
        assert!(e1 < 1e-8, "RK4 error with h = 1e-3: {e1}");
        // Global error O(h⁴): halving h divides it by ≈ 16.
        let ratio = e1 / e2;
        assert!((12.0..20.0).contains(&ratio), "error ratio {ratio}");
    }

    #[test]
    fn chaotic_and_bounded_at_f8() {
        let sys = Lorenz96::new(40, 8.0).unwrap();
        let data = Lorenz96Data { n_series: 1, length: 1, ..Default::default() };
        let a0 = data.generate_f64().unwrap().remove(0).remove(0);
        let mut b0 = a0.clone();
        b0[0] += 1e-8;
        let ta = sys.trajectory(&a0, 0.01, 2, 2000).unwrap();
        let tb = sys.trajectory(&b0, 0.01, 2, 2000).unwrap();
        // Bounded: the advection term conserves ‖x‖², so d‖x‖²/dt = 2(−‖x‖² + F Σxᵢ)
        // ≤ 2‖x‖(F√N − ‖x‖) and ‖x(t)‖ ≤ max(‖x(0)‖, F√N) for all t.
        let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let bound = norm(&a0).max(8.0 * 40f64.sqrt());
        assert!(ta.iter().all(|x| norm(x) <= bound * (1.0 + 1e-9)));
        // Off the equilibrium: the attractor has a spread of several units.
        let last = ta.last().unwrap();
        let mean = last.iter().sum::<f64>() / 40.0;
        let var = last.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 40.0;
        assert!(var > 1.0, "variance across sites {var}");
        // Sensitive dependence: a 1e-8 difference grows to O(1) within 20 time units.
        let d0 = max_diff(&ta[0], &tb[0]);
        let d_end = max_diff(ta.last().unwrap(), tb.last().unwrap());
        assert!(d0 <= 1e-8 && d_end > 1.0, "separation {d0} → {d_end}");
    }

    #[test]
    fn data_sets_are_deterministic_and_shaped() {
        let cfg = Lorenz96Data { n: 8, n_series: 3, length: 20, burn_in: 1.0, ..Default::default() };
        let a = cfg.generate(Kind::Double, Device::Cpu).unwrap();
        let b = cfg.generate(Kind::Double, Device::Cpu).unwrap();
        assert_eq!(a.size(), vec![3, 20, 8]);
        assert!(a.equal(&b));
        let c = Lorenz96Data { seed: 1, ..cfg }.generate(Kind::Double, Device::Cpu).unwrap();
        assert!(!a.equal(&c));
        // Consecutive samples are one `dt` apart along the flow.
        let series = cfg.generate_f64().unwrap();
        let sys = Lorenz96::new(8, 8.0).unwrap();
        let next = sys.integrate(&series[1][4], 0.01 / 4.0, 4).unwrap();
        assert!(max_diff(&next, &series[1][5]) < 1e-12);
    }

    #[test]
    fn forecasting_pairs_slide_over_each_series() {
        let data = Tensor::arange(2 * 7 * 3, (Kind::Double, Device::Cpu)).view([2, 7, 3]);
        let (x, y) = forecasting_pairs(&data, 3, 2, 1).unwrap();
        // Starts t = 0, 1, 2 per series.
        assert_eq!(x.size(), vec![6, 3, 3]);
        assert_eq!(y.size(), vec![6, 2, 3]);
        // Pair 4 = series 1, start 1: inputs rows 1..4, targets rows 4..6.
        assert!(x.get(4).equal(&data.get(1).narrow(0, 1, 3)));
        assert!(y.get(4).equal(&data.get(1).narrow(0, 4, 2)));
        let (x2, _) = forecasting_pairs(&data, 3, 1, 2).unwrap();
        assert_eq!(x2.size(), vec![2 * 2, 3, 3]);
        assert!(forecasting_pairs(&data, 6, 2, 1).is_err());
        assert!(forecasting_pairs(&data, 0, 1, 1).is_err());
        assert!(forecasting_pairs(&data.get(0), 2, 1, 1).is_err());
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        let e = Lorenz96::new(3, 8.0).unwrap_err().to_string();
        assert!(e.contains('n') && e.contains('3'), "{e}");
        let e = Lorenz96::new(10, f64::NAN).unwrap_err().to_string();
        assert!(e.contains("forcing") && e.contains("NaN"), "{e}");
        let sys = Lorenz96::new(10, 8.0).unwrap();
        let e = sys.trajectory(&[8.0; 10], 0.0, 1, 5).unwrap_err().to_string();
        assert!(e.contains("dt"), "{e}");
        assert!(sys.trajectory(&[8.0; 10], -0.1, 1, 5).is_err());
        assert!(sys.trajectory(&[8.0; 9], 0.1, 1, 5).is_err());
        assert!(sys.trajectory(&[8.0; 10], 0.1, 0, 5).is_err());
        assert!(sys.rhs(&[f64::INFINITY; 10]).is_err());
        let e = Lorenz96Data { dt: -1.0, ..Default::default() }.validate().unwrap_err().to_string();
        assert!(e.contains("dt") && e.contains("-1"), "{e}");
        assert!(Lorenz96Data { n: 2, ..Default::default() }.validate().is_err());
        assert!(Lorenz96Data { forcing: f64::INFINITY, ..Default::default() }.validate().is_err());
        assert!(Lorenz96Data { length: 0, ..Default::default() }.validate().is_err());
        assert!(Lorenz96Data { perturbation: -1.0, ..Default::default() }.validate().is_err());
        // An explosive step size is reported, not returned as NaNs.
        assert!(sys.trajectory(&[8.0, 9.0, 7.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0], 5.0, 1, 50).is_err());
    }
}
