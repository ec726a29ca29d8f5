//! Neural controlled differential equations (Kidger et al. 2020): `dz = f_θ(z) dX(t)`, where `X` is a
//! continuous interpolation of the (time-augmented, partly missing) observations.
//!
//! Observations live on a common time grid `[B, T, D]` with NaN for missing values (irregular
//! sampling is missingness on the union grid). The control path has channels
//! `[t, x₁…x_D (forward-filled), c₁…c_D]` with `c_d` the cumulative count of observed values of
//! channel `d`, so the model sees when and what was observed (Kidger et al., "observational
//! intensity").

use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solve::{solve, SaveAt};
use crate::solver::{ExplicitRk, Stats};
use crate::term::OdeTerm;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, Kind, Tensor};

/// How the observations are interpolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Piecewise linear (derivative jumps at the knots, which the solver steps onto).
    Linear,
    /// Cubic Hermite with backward-difference slopes (Morrill et al. 2021): C¹ and causal, so
    /// online prediction never looks ahead.
    HermiteBackward,
    /// Rectilinear (Morrill et al. 2021): time advances with the values held, then the values jump
    /// at the new time; the path is parameterised by `s ∈ [0, 2(T − 1)]` and is causal.
    Rectilinear,
    /// Natural cubic spline (Kidger et al. 2020): C², second derivative 0 at both ends. Each
    /// piece's slopes solve one tridiagonal system over the whole grid, so the path at `t` depends
    /// on later observations too (not causal: for offline classification and regression).
    NaturalCubic,
}

/// The control path `X(t)` of a batch, `[B, C]` at any `t` in the grid's span.
#[derive(Debug)]
pub struct ControlPath {
    times: Vec<f64>,
    /// Knots of the path's parameter (the times, or `0, 1, …, 2(T − 1)` for rectilinear paths).
    knots: Vec<f64>,
    /// `[B, T, C]` knot values.
    values: Tensor,
    /// `[B, T, C]` knot slopes (Hermite) — unused for linear.
    slopes: Tensor,
    interp: Interpolation,
}

/// Forward fill along time (`[B, T, D]`, NaN = missing); leading gaps take the first observed value
/// (0 if a channel is never observed).
fn forward_fill(x: &Tensor) -> Tensor {
    let (_b, t, _d) = x.size3().expect("3-d");
    let mask = x.isnan().logical_not();
    let mut out = Vec::with_capacity(t as usize);
    // first observed value per channel, for leading gaps
    let first_idx = mask.to_kind(Kind::Int64).argmax(1, true); // [B, 1, D]
    let first = x.gather(1, &first_idx, false).nan_to_num(0.0, None, None);
    let mut last = first.squeeze_dim(1);
    for k in 0..t {
        let xk = x.select(1, k);
        let mk = mask.select(1, k);
        last = xk.where_self(&mk, &last);
        out.push(last.shallow_clone());
    }
    Tensor::stack(&out, 1)
}

/// Knot slopes `m_i` (`[B, T, C]`) of the natural cubic spline through knots at `times` with
/// interval slopes `delta` (`[B, T − 1, C]`, `δ_i = (x_{i+1} − x_i)/h_i`): the spline in Hermite
/// form is C² when, at interior knots,
/// `h_i m_{i−1} + 2(h_{i−1} + h_i) m_i + h_{i−1} m_{i+1} = 3(h_i δ_{i−1} + h_{i−1} δ_i)`, and has zero
/// second derivative at the ends when `2m_0 + m_1 = 3δ_0` and `m_{n−1} + 2m_n = 3δ_{n−1}`. The
/// system is diagonally dominant; it is solved by the Thomas algorithm (scalar coefficients,
/// tensor right-hand sides), `O(T)` tensor operations.
fn natural_slopes(times: &[f64], delta: &Tensor) -> Tensor {
    let n = times.len() - 1;
    let h: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let d = |i: usize| delta.select(1, i as i64);
    // row i: a_i m_{i−1} + b_i m_i + c_i m_{i+1} = r_i
    let row = |i: usize| -> (f64, f64, f64, Tensor) {
        if i == 0 {
            (0.0, 2.0, 1.0, d(0) * 3.0)
        } else if i == n {
            (1.0, 2.0, 0.0, d(n - 1) * 3.0)
        } else {
            (h[i], 2.0 * (h[i - 1] + h[i]), h[i - 1], (d(i - 1) * h[i] + d(i) * h[i - 1]) * 3.0)
        }
    };
    let mut cp = Vec::with_capacity(n + 1);
    let mut rp: Vec<Tensor> = Vec::with_capacity(n + 1);
    for i in 0..=n {
        let (a, b, c, r) = row(i);
        let (den, r) = if i == 0 { (b, r) } else { (b - a * cp[i - 1], r - &rp[i - 1] * a) };
        cp.push(c / den);
        rp.push(r / den);
    }
    // back substitution, from the last knot down
    let mut m: Vec<Tensor> = Vec::with_capacity(n + 1);
    m.push(rp[n].shallow_clone());
    for i in (0..n).rev() {
        let next = &rp[i] - m.last().expect("non-empty") * cp[i];
        m.push(next);
    }
    m.reverse();
    Tensor::stack(&m, 1)
}

impl ControlPath {
    /// Builds the path from grid `times` (strictly increasing) and observations `[B, T, D]`, with
    /// channels `[t, x₁…x_D, c₁…c_D]` (C = 1 + 2D; NaN marks a missing value).
    pub fn new(times: &[f64], obs: &Tensor, interp: Interpolation) -> Result<Self> {
        Self::build(times, obs, interp, true)
    }

    /// Builds the path of fully observed data with channels `[t, x₁…x_D]` only (C = 1 + D), the
    /// time-augmented path of Kidger et al. 2020 without observation counts. A NaN in `obs` is an
    /// error: missing values need the count channels of [`ControlPath::new`].
    pub fn without_counts(times: &[f64], obs: &Tensor, interp: Interpolation) -> Result<Self> {
        if obs.isnan().any().int64_value(&[]) != 0 {
            return Err(invalid(
                "obs",
                "contains NaN",
                "a path without count channels needs fully observed data (use ControlPath::new)",
            ));
        }
        Self::build(times, obs, interp, false)
    }

    fn build(times: &[f64], obs: &Tensor, interp: Interpolation, with_counts: bool) -> Result<Self> {
        let (b, t, _d) = obs
            .size3()
            .map_err(|_| invalid("obs", format!("{:?}", obs.size()), "expected [batch, time, channels]"))?;
        if times.len() as i64 != t || t < 2 {
            return Err(invalid(
                "times",
                format!("{} times", times.len()),
                &format!("need the {t} (≥ 2) grid times of obs"),
            ));
        }
        if times.windows(2).any(|w| !(w[0] < w[1])) || times.iter().any(|v| !v.is_finite()) {
            return Err(invalid(
                "times",
                "unsorted or non-finite",
                "grid times must be finite and strictly increasing",
            ));
        }
        let kind = if obs.is_floating_point() { obs.kind() } else { Kind::Float };
        let obs = obs.to_kind(kind);
        let observed = obs.isnan().logical_not().to_kind(kind);
        let counts = observed.cumsum(1, kind);
        let tt =
            Tensor::from_slice(times).to_kind(kind).to(obs.device()).view([1, t, 1]).expand([b, t, 1], false);
        let values = if with_counts {
            Tensor::cat(&[tt, forward_fill(&obs), counts], 2)
        } else {
            Tensor::cat(&[tt, obs.shallow_clone()], 2)
        };
        // backward-difference slopes: slope over [t_{i-1}, t_i] at knot i; knot 0 uses the first interval
        let dt = Tensor::from_slice(&times.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>())
            .to_kind(kind)
            .to(obs.device())
            .view([1, t - 1, 1]);
        let diff = (values.narrow(1, 1, t - 1) - values.narrow(1, 0, t - 1)) / dt;
        let slopes = if interp == Interpolation::NaturalCubic {
            natural_slopes(times, &diff)
        } else {
            Tensor::cat(&[diff.narrow(1, 0, 1), diff], 1)
        };
        if interp == Interpolation::Rectilinear {
            // knot 2i = X_i; knot 2i + 1 = (t_{i+1}, values of X_i)
            let c = values.size()[2];
            let mut rows = Vec::with_capacity(2 * t as usize - 1);
            for i in 0..t {
                let vi = values.select(1, i);
                rows.push(vi.shallow_clone());
                if i + 1 < t {
                    let next_t = values.select(1, i + 1).narrow(1, 0, 1);
                    rows.push(Tensor::cat(&[next_t, vi.narrow(1, 1, c - 1)], 1));
                }
            }
            let values = Tensor::stack(&rows, 1);
            let knots: Vec<f64> = (0..2 * t - 1).map(|k| k as f64).collect();
            let slopes = values.zeros_like();
            return Ok(ControlPath { times: times.to_vec(), knots, values, slopes, interp });
        }
        Ok(ControlPath { times: times.to_vec(), knots: times.to_vec(), values, slopes, interp })
    }
    /// Knots of the path parameter: the observation times, or `0 … 2(T − 1)` for rectilinear
    /// paths. Solvers integrate over this parameter and step onto the knots.
    pub fn knots(&self) -> &[f64] {
        &self.knots
    }
    /// Number of channels: C = 1 + 2D, or 1 + D without counts.
    pub fn channels(&self) -> i64 {
        self.values.size()[2]
    }
    /// Observation grid times.
    pub fn times(&self) -> &[f64] {
        &self.times
    }
    /// Largest absolute knot value of each channel over the batch and time, `[C]` (at least 1e-6):
    /// a scale for models that read `X(t)` itself rather than its derivative.
    pub fn channel_scale(&self) -> Tensor {
        self.values.abs().amax([0, 1].as_slice(), false).clamp_min(1e-6)
    }
    /// Knots, knot values `[B, T, C]`, knot slopes `[B, T, C]` and the interpolation (for the
    /// native path's host copy).
    pub(crate) fn parts(&self) -> (&[f64], &Tensor, &Tensor, Interpolation) {
        (&self.knots, &self.values, &self.slopes, self.interp)
    }
    /// `X` at the first knot, `[B, C]`.
    pub fn initial(&self) -> Tensor {
        self.values.select(1, 0)
    }
    fn interval(&self, t: f64) -> (usize, f64, f64) {
        let i = self.knots.partition_point(|&s| s <= t).clamp(1, self.knots.len() - 1) - 1;
        let (a, b) = (self.knots[i], self.knots[i + 1]);
        (i, (t - a) / (b - a), b - a)
    }
    /// `X(t)`, `[B, C]`.
    pub fn evaluate(&self, t: f64) -> Tensor {
        let (i, th, h) = self.interval(t);
        let (x0, x1) = (self.values.select(1, i as i64), self.values.select(1, i as i64 + 1));
        match self.interp {
            Interpolation::Linear | Interpolation::Rectilinear => &x0 + (&x1 - &x0) * th,
            Interpolation::HermiteBackward | Interpolation::NaturalCubic => {
                let (m0, m1) = (self.slopes.select(1, i as i64), self.slopes.select(1, i as i64 + 1));
                let (t2, t3) = (th * th, th * th * th);
                x0 * (2.0 * t3 - 3.0 * t2 + 1.0)
                    + m0 * (h * (t3 - 2.0 * t2 + th))
                    + x1 * (-2.0 * t3 + 3.0 * t2)
                    + m1 * (h * (t3 - t2))
            }
        }
    }
    /// `dX/dt (t)`, `[B, C]` (right derivative at knots).
    pub fn derivative(&self, t: f64) -> Tensor {
        let (i, th, h) = self.interval(t);
        let (x0, x1) = (self.values.select(1, i as i64), self.values.select(1, i as i64 + 1));
        match self.interp {
            Interpolation::Linear | Interpolation::Rectilinear => (x1 - x0) / h,
            Interpolation::HermiteBackward | Interpolation::NaturalCubic => {
                let (m0, m1) = (self.slopes.select(1, i as i64), self.slopes.select(1, i as i64 + 1));
                let t2 = th * th;
                (x0 * (6.0 * t2 - 6.0 * th) + x1 * (-6.0 * t2 + 6.0 * th)) / h
                    + m0 * (3.0 * t2 - 4.0 * th + 1.0)
                    + m1 * (3.0 * t2 - 2.0 * th)
            }
        }
    }
}

/// A neural CDE classifier/regressor: `z(t0) = ζ(X(t0))`, `dz = f(z) dX`, output `ℓ(z(t_N))`.
#[derive(Debug)]
pub struct NeuralCde {
    init: nn::Linear,
    field: Mlp,
    readout: nn::Linear,
    hidden: i64,
    channels: i64,
}

struct CdeField<'a> {
    model: &'a NeuralCde,
    path: &'a ControlPath,
}

impl OdeTerm<Tensor> for CdeField<'_> {
    fn vf(&self, t: f64, z: &Tensor) -> Result<Tensor> {
        let b = z.size()[0];
        let f = self.model.field.forward_t(z, false).view([b, self.model.hidden, self.model.channels]);
        Ok(f.matmul(&self.path.derivative(t).unsqueeze(-1)).squeeze_dim(-1))
    }
}

impl NeuralCde {
    /// A model for paths with `channels` channels, hidden state `hidden`, field MLP widths
    /// `field_hidden`, and `outputs` outputs.
    pub fn new(
        path: &nn::Path<'_>,
        channels: i64,
        hidden: i64,
        field_hidden: &[i64],
        outputs: i64,
    ) -> Result<Self> {
        if channels <= 0 || hidden <= 0 || outputs <= 0 {
            return Err(invalid(
                "channels, hidden, outputs",
                format!("{channels}, {hidden}, {outputs}"),
                "must be > 0",
            ));
        }
        let mut w = vec![hidden];
        w.extend(field_hidden);
        w.push(hidden * channels);
        let field = Mlp::new(
            &(path / "field"),
            &w,
            MlpConfig::default().activation(Activation::Relu).final_activation(Activation::Tanh),
        )?;
        Ok(NeuralCde {
            init: nn::linear(path / "init", channels, hidden, Default::default()),
            field,
            readout: nn::linear(path / "readout", hidden, outputs, Default::default()),
            hidden,
            channels,
        })
    }
    /// A copy of the three networks for the native path ([`crate::native::cde`]).
    pub fn native<T: core_tensor::native::Real>(&self) -> Result<crate::native::cde::NativeCde<T>> {
        crate::native::cde::NativeCde::from_parts(
            &self.init,
            &self.field,
            &self.readout,
            self.hidden,
            self.channels,
        )
    }
    /// Adds native parameter gradients (from [`crate::native::cde::forward_backward`]) to the
    /// `.grad` of this model's variables.
    pub fn add_native_grads<T: core_tensor::native::Real>(
        &self,
        model: &crate::native::cde::NativeCde<T>,
        grads: &crate::native::cde::CdeGradient<T>,
    ) -> Result<()> {
        model.init().add_grads_to(std::slice::from_ref(&self.init), &grads.grad_init)?;
        model.readout().add_grads_to(std::slice::from_ref(&self.readout), &grads.grad_readout)?;
        Ok(model.field().add_grads_to(self.field.layers(), &grads.grad_field)?)
    }
    /// Outputs `[B, outputs]` for the control path, integrating with Dopri5 (stepping onto the knots,
    /// where a linear path's derivative jumps) and counters.
    pub fn forward(&self, path: &ControlPath, control: &StepControl) -> Result<(Tensor, Stats)> {
        self.forward_with(path, &ExplicitRk::dopri5(), control)
    }

    /// [`NeuralCde::forward`] with any explicit Runge–Kutta `solver`: e.g. RK4 with
    /// `StepControl::constant(Δt)` on the observation grid, torchcde's usual set-up.
    pub fn forward_with(
        &self,
        path: &ControlPath,
        solver: &ExplicitRk,
        control: &StepControl,
    ) -> Result<(Tensor, Stats)> {
        if path.channels() != self.channels {
            return Err(invalid(
                "path",
                format!("{} channels", path.channels()),
                &format!("model expects {}", self.channels),
            ));
        }
        let z0 = path.initial().apply(&self.init);
        let ts = path.knots();
        let control = match control {
            StepControl::Adaptive(p) => {
                StepControl::Adaptive(crate::controller::PidController { jump_ts: ts.to_vec(), ..p.clone() })
            }
            c => c.clone(),
        };
        let term = CdeField { model: self, path };
        let sol = solve(&term, solver, (ts[0], ts[ts.len() - 1]), &z0, &control, &SaveAt::t1())?;
        Ok((sol.ys.last().expect("t1").apply(&self.readout), sol.stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn path_without_counts_is_time_and_values() {
        let obs = Tensor::from_slice(&[1.0, 2.0, 4.0, -1.0, 0.0, 3.0]).view([1, 3, 2]);
        let times = [0.0, 0.5, 2.0];
        let p = ControlPath::without_counts(&times, &obs, Interpolation::HermiteBackward).unwrap();
        assert_eq!(p.channels(), 3);
        for (k, &t) in times.iter().enumerate() {
            let x = p.evaluate(t);
            assert!((x.double_value(&[0, 0]) - t).abs() < 1e-12);
            assert!(x.narrow(1, 1, 2).allclose(&obs.select(1, k as i64), 1e-12, 1e-12, false));
        }
        let nan = Tensor::from_slice(&[1.0, f64::NAN, 4.0]).view([1, 3, 1]);
        let e = ControlPath::without_counts(&times, &nan, Interpolation::Linear).unwrap_err().to_string();
        assert!(e.contains("obs") && e.contains("NaN"), "{e}");
    }

    /// The natural cubic spline through `(t_i, y_i)` at `t`, from its moments `M_i = S''(t_i)`
    /// (`M_0 = M_n = 0`, `h_{i−1} M_{i−1} + 2(h_{i−1} + h_i) M_i + h_i M_{i+1} = 6(δ_i − δ_{i−1})`),
    /// solved densely: a second, independent construction of the spline.
    fn spline_by_moments(ts: &[f64], ys: &[f64], t: f64) -> f64 {
        let n = ts.len() - 1;
        let h: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        let mut a = vec![vec![0.0; n + 1]; n + 1];
        let mut r = vec![0.0; n + 1];
        a[0][0] = 1.0;
        a[n][n] = 1.0;
        for i in 1..n {
            a[i][i - 1] = h[i - 1];
            a[i][i] = 2.0 * (h[i - 1] + h[i]);
            a[i][i + 1] = h[i];
            r[i] = 6.0 * ((ys[i + 1] - ys[i]) / h[i] - (ys[i] - ys[i - 1]) / h[i - 1]);
        }
        // Gaussian elimination (the matrix is diagonally dominant)
        for k in 0..=n {
            for i in k + 1..=n {
                let f = a[i][k] / a[k][k];
                for j in k..=n {
                    a[i][j] -= f * a[k][j];
                }
                r[i] -= f * r[k];
            }
        }
        let mut m = vec![0.0; n + 1];
        for k in (0..=n).rev() {
            let s: f64 = (k + 1..=n).map(|j| a[k][j] * m[j]).sum();
            m[k] = (r[k] - s) / a[k][k];
        }
        let i = ts.partition_point(|&s| s <= t).clamp(1, n) - 1;
        let (hi, u, v) = (h[i], ts[i + 1] - t, t - ts[i]);
        m[i] * u.powi(3) / (6.0 * hi)
            + m[i + 1] * v.powi(3) / (6.0 * hi)
            + (ys[i] / hi - m[i] * hi / 6.0) * u
            + (ys[i + 1] / hi - m[i + 1] * hi / 6.0) * v
    }

    #[test]
    fn natural_cubic_path_is_the_natural_spline() {
        let times = [0.0, 0.4, 1.0, 1.5, 2.7, 3.0];
        let ys = [1.0, -0.5, 2.0, 0.3, 0.8, -1.2];
        let obs = Tensor::from_slice(&ys).view([1, 6, 1]);
        let p = ControlPath::without_counts(&times, &obs, Interpolation::NaturalCubic).unwrap();
        for k in 0..=300 {
            let t = 3.0 * k as f64 / 300.0;
            let x = p.evaluate(t);
            assert!((x.double_value(&[0, 0]) - t).abs() < 1e-12, "the time channel stays linear");
            let want = spline_by_moments(&times, &ys, t);
            assert!(
                (x.double_value(&[0, 1]) - want).abs() < 1e-12,
                "{t}: {} vs {want}",
                x.double_value(&[0, 1])
            );
            // the analytic derivative against central differences
            let e = 1e-6;
            if t > e && t < 3.0 - e && times.iter().all(|&s| (s - t).abs() > 2.0 * e) {
                let fd = (p.evaluate(t + e) - p.evaluate(t - e)) / (2.0 * e);
                assert!(fd.allclose(&p.derivative(t), 1e-6, 1e-6, false), "{t}");
            }
        }
        // C² at the interior knots, zero curvature at both ends (one-sided second differences)
        let d2 = |t: f64, e: f64| (p.derivative(t + e) - p.derivative(t)).double_value(&[0, 1]) / e;
        for &t in &times[1..5] {
            let (left, right) = (d2(t - 1e-5, 1e-6), d2(t + 1e-5, 1e-6));
            assert!((left - right).abs() < 1e-3, "{t}: {left} vs {right}");
        }
        assert!(d2(0.0, 1e-6).abs() < 1e-4 && d2(3.0 - 1e-6, 1e-6).abs() < 1e-4);
        // a straight line comes back exactly, and two knots give the segment
        let line = Tensor::from_slice(&times.map(|t| 2.0 * t - 1.0)).view([1, 6, 1]);
        let pl = ControlPath::without_counts(&times, &line, Interpolation::NaturalCubic).unwrap();
        for t in [0.1, 0.77, 2.2, 2.95] {
            assert!((pl.evaluate(t).double_value(&[0, 1]) - (2.0 * t - 1.0)).abs() < 1e-12);
            assert!((pl.derivative(t).double_value(&[0, 1]) - 2.0).abs() < 1e-12);
        }
        let two = Tensor::from_slice(&[1.0, 3.0]).view([1, 2, 1]);
        let p2 = ControlPath::without_counts(&[0.0, 2.0], &two, Interpolation::NaturalCubic).unwrap();
        assert!((p2.evaluate(0.5).double_value(&[0, 1]) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn path_interpolates_fills_and_counts() {
        let nan = f64::NAN;
        let obs = Tensor::from_slice(&[nan, 1.0, nan, 3.0]).view([1, 4, 1]);
        let times = [0.0, 1.0, 2.0, 4.0];
        let p = ControlPath::new(&times, &obs, Interpolation::Linear).unwrap();
        assert_eq!(p.channels(), 3);
        // channels: t, forward-filled x (leading gap takes the first observation), count
        let v: Vec<f64> = Vec::try_from(p.values.flatten(0, -1)).unwrap();
        assert_eq!(v, vec![0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 4.0, 3.0, 2.0]);
        let x = p.evaluate(3.0);
        assert!((x.double_value(&[0, 1]) - 2.0).abs() < 1e-12);
        assert!((p.derivative(3.0).double_value(&[0, 1]) - 1.0).abs() < 1e-12);
        // Hermite: exact for a quadratic's knots? it interpolates the knots and is C¹
        let h = ControlPath::new(&times, &obs, Interpolation::HermiteBackward).unwrap();
        for &t in &times {
            assert!(h.evaluate(t).allclose(&p.evaluate(t), 1e-12, 1e-12, false));
        }
        let e = 1e-7;
        let lhs = h.derivative(2.0 - e);
        let rhs = h.derivative(2.0 + e);
        assert!(lhs.allclose(&rhs, 1e-5, 1e-5, false), "C¹ at knots");
        let fd = (h.evaluate(2.5 + e) - h.evaluate(2.5 - e)) / (2.0 * e);
        assert!(fd.allclose(&h.derivative(2.5), 1e-6, 1e-6, false));
        // rectilinear: time first, then the value, on the parameter s ∈ [0, 6]
        let r = ControlPath::new(&times, &obs, Interpolation::Rectilinear).unwrap();
        assert_eq!(r.knots(), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mid = r.evaluate(4.5); // between (t=2, x=1) → (t=4, x=1): time moving
        assert!(
            (mid.double_value(&[0, 0]) - 3.0).abs() < 1e-12
                && (mid.double_value(&[0, 1]) - 1.0).abs() < 1e-12
        );
        let jump = r.evaluate(5.5); // at t = 4 the value moves from 1 to 3
        assert!(
            (jump.double_value(&[0, 0]) - 4.0).abs() < 1e-12
                && (jump.double_value(&[0, 1]) - 2.0).abs() < 1e-12
        );
        assert!(ControlPath::new(&[0.0, 0.0, 1.0, 2.0], &obs, Interpolation::Linear).is_err());
        assert!(ControlPath::new(&times[..3], &obs, Interpolation::Linear).is_err());
    }

    #[test]
    fn cde_forward_shapes_gradients_and_errors() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = NeuralCde::new(&vs.root(), 3, 8, &[16], 2).unwrap();
        let obs = Tensor::randn([5, 6, 1], (Kind::Float, Device::Cpu));
        let p =
            ControlPath::new(&[0.0, 0.3, 0.5, 1.0, 1.2, 2.0], &obs, Interpolation::HermiteBackward).unwrap();
        let (y, stats) = m.forward(&p, &StepControl::adaptive(1e-4, 1e-4)).unwrap();
        assert_eq!(y.size(), vec![5, 2]);
        assert!(stats.nfe > 0);
        y.sum(Kind::Float).backward();
        assert!(vs.trainable_variables().iter().all(|v| v.grad().defined()));
        // the same model over a natural cubic path (f32, with NaN-free counts)
        let pn =
            ControlPath::new(&[0.0, 0.3, 0.5, 1.0, 1.2, 2.0], &obs, Interpolation::NaturalCubic).unwrap();
        let (yn, _) = m.forward(&pn, &StepControl::adaptive(1e-4, 1e-4)).unwrap();
        assert_eq!(yn.size(), vec![5, 2]);
        assert!(yn.isfinite().all().int64_value(&[]) == 1);
        let obs2 = Tensor::randn([5, 6, 2], (Kind::Float, Device::Cpu));
        let p2 = ControlPath::new(&[0.0, 0.3, 0.5, 1.0, 1.2, 2.0], &obs2, Interpolation::Linear).unwrap();
        assert!(m.forward(&p2, &StepControl::adaptive(1e-4, 1e-4)).is_err());
    }
}
