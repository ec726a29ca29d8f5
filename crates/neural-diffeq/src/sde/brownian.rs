//! Brownian motion: a path stored on a grid, and a virtual Brownian tree answering any query
//! deterministically from a seed.

use crate::error::{invalid, Result};
use core_tensor::seed::{derive_seed, rng};
use rand_distr::{Distribution, StandardNormal};
use tch::{Device, Kind, Tensor};

/// A span `t0 < t1` (finite) and a positive leaf width `tol`, or the error naming them.
pub(crate) fn check_span_and_tol(t0: f64, t1: f64, tol: f64) -> Result<()> {
    if !(t0 < t1 && t0.is_finite() && t1.is_finite()) {
        return Err(invalid("t0, t1", format!("{t0}, {t1}"), "need finite t0 < t1"));
    }
    if !(tol > 0.0) {
        return Err(invalid("tol", tol, "must be > 0"));
    }
    Ok(())
}

/// `shape` standard normals from `seed`.
pub(crate) fn normals(seed: u64, shape: &[i64], kind: Kind, device: Device) -> Tensor {
    let n: i64 = shape.iter().product();
    let mut r = rng(seed);
    let v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut r)).collect();
    Tensor::from_slice(&v).view(shape).to_kind(kind).to(device)
}

/// Brownian increments on a uniform grid `t0 + k h`, `k = 0..n`, generated once from a seed, with
/// the space-time Lévy areas `H_k ~ N(0, h/12)` (independent of the increments).
#[derive(Debug)]
pub struct BrownianPath {
    t0: f64,
    h: f64,
    /// `[n, B, m]` increments `W(t_{k+1}) − W(t_k) ~ N(0, h)`.
    dw: Tensor,
    /// `[n, B, m]` space-time Lévy areas.
    levy: Tensor,
}

impl BrownianPath {
    /// A path on `[t0, t0 + n h]` of shape `[B, m]` per time, from `seed`.
    pub fn new(
        t0: f64,
        h: f64,
        n: usize,
        shape: &[i64],
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        Self::build(t0, h, n, shape, seed, kind, device, true)
    }

    /// Like [`BrownianPath::new`] without Lévy areas (zeros): half the sampling cost, for methods
    /// that only use increments.
    pub fn increments_only(
        t0: f64,
        h: f64,
        n: usize,
        shape: &[i64],
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        Self::build(t0, h, n, shape, seed, kind, device, false)
    }

    fn build(
        t0: f64,
        h: f64,
        n: usize,
        shape: &[i64],
        seed: u64,
        kind: Kind,
        device: Device,
        with_levy: bool,
    ) -> Result<Self> {
        if !(h.is_finite() && h > 0.0) || n == 0 {
            return Err(invalid("h, n", format!("{h}, {n}"), "need h > 0 and n > 0"));
        }
        let mut full = vec![n as i64];
        full.extend_from_slice(shape);
        let dw = normals(derive_seed(seed, 0), &full, kind, device) * h.sqrt();
        let levy = if with_levy {
            normals(derive_seed(seed, 1), &full, kind, device) * (h / 12.0).sqrt()
        } else {
            Tensor::zeros(full.as_slice(), (kind, device))
        };
        Ok(BrownianPath { t0, h, dw, levy })
    }
    /// Step size of the grid.
    pub fn h(&self) -> f64 {
        self.h
    }
    /// Number of grid steps.
    pub fn steps(&self) -> usize {
        self.dw.size()[0] as usize
    }
    /// Start time.
    pub fn t0(&self) -> f64 {
        self.t0
    }
    /// End time `t0 + n h`.
    pub fn t1(&self) -> f64 {
        self.t0 + self.steps() as f64 * self.h
    }
    /// `(t0, t1)`, the span to give [`sdeint`](super::sdeint) for a solve over the whole path.
    pub fn span(&self) -> (f64, f64) {
        (self.t0, self.t1())
    }
    /// Every increment, `[steps, shape...]`.
    pub fn increments(&self) -> &Tensor {
        &self.dw
    }
    /// Increment of step `k`.
    ///
    /// # Errors
    /// `k` beyond the last step.
    pub fn increment(&self, k: usize) -> Result<Tensor> {
        self.check_step(k)?;
        Ok(self.dw.get(k as i64))
    }
    /// Lévy area of step `k`.
    ///
    /// # Errors
    /// `k` beyond the last step.
    pub fn levy_area(&self, k: usize) -> Result<Tensor> {
        self.check_step(k)?;
        Ok(self.levy.get(k as i64))
    }
    fn check_step(&self, k: usize) -> Result<()> {
        if k >= self.steps() {
            return Err(invalid("k", k, &format!("the path has steps 0..{}", self.steps())));
        }
        Ok(())
    }
    /// The same path on a grid `factor` times coarser (increments summed; Lévy areas combined
    /// exactly: `H = Σ_i (h_i/h)(H_i + ½ W_i) − ½ W` over the sub-steps with `W_i` relative
    /// increments).
    pub fn coarsen(&self, factor: usize) -> Result<Self> {
        let n = self.steps();
        if factor == 0 || !n.is_multiple_of(factor) {
            return Err(invalid("factor", factor, &format!("must divide the number of steps {n}")));
        }
        let mut shape = self.dw.size();
        shape[0] = (n / factor) as i64;
        let mut sub = vec![(n / factor) as i64, factor as i64];
        sub.extend_from_slice(&shape[1..]);
        let dw_sub = self.dw.view(sub.as_slice());
        let levy_sub = self.levy.view(sub.as_slice());
        let dw = dw_sub.sum_dim_intlist([1].as_slice(), false, self.dw.kind());
        let parts = (0..factor as i64).map(|i| (dw_sub.select(1, i), levy_sub.select(1, i)));
        let (_, integral) = path_integral(parts, self.h);
        let big = self.h * factor as f64;
        let levy = integral / big - &dw * 0.5;
        Ok(BrownianPath { t0: self.t0, h: big, dw, levy })
    }
}

/// For consecutive sub-intervals of width `h` with increments and space-time Lévy areas
/// `(ΔW_i, H_i)` (time order, not empty): the summed increment and `∫ W` over their union relative
/// to its start, `Σ_i h (W(s_i) + ½ ΔW_i + H_i)`. The union's Lévy area is then
/// `H = (1/L)∫ W − ½ W_L` for its width `L`.
fn path_integral(parts: impl Iterator<Item = (Tensor, Tensor)>, h: f64) -> (Tensor, Tensor) {
    let mut acc: Option<Tensor> = None;
    let mut w: Option<Tensor> = None;
    for (dwi, hi) in parts {
        let w0 = w.unwrap_or_else(|| dwi.zeros_like());
        let a0 = acc.unwrap_or_else(|| dwi.zeros_like());
        acc = Some(a0 + (&w0 + &dwi * 0.5 + &hi) * h);
        w = Some(w0 + &dwi);
    }
    (w.expect("parts not empty"), acc.expect("parts not empty"))
}

/// A Brownian motion an SDE solve draws its increments from: a [`BrownianPath`] stored on a grid
/// (constant steps on that grid) or a [`VirtualBrownianTree`] (any time, so adaptive steps and
/// retried steps see one path).
pub trait BrownianMotion {
    /// The path at one time, from which increments to later times follow.
    type Point;
    /// `(t0, t1)`: where the motion is defined.
    fn span(&self) -> (f64, f64);
    /// Shape of `W(t)`, `[B, m]`.
    fn shape(&self) -> Vec<i64>;
    /// Spacing of the grid the motion lives on (`None`: any time in the span can be queried).
    fn grid(&self) -> Option<f64>;
    /// The path at `t`.
    ///
    /// # Errors
    /// `t` outside the span, or off the grid of a grid path.
    fn point(&self, t: f64) -> Result<Self::Point>;
    /// `(W(b) − W(a), H_{a,b})`: the increment and the space-time Lévy area from `a` to a later `b`.
    ///
    /// # Errors
    /// `b` not after `a`.
    fn increment(&self, a: &Self::Point, b: &Self::Point) -> Result<(Tensor, Tensor)>;
}

impl BrownianMotion for BrownianPath {
    /// Index `k` of the grid time `t0 + k h`.
    type Point = usize;
    fn span(&self) -> (f64, f64) {
        BrownianPath::span(self)
    }
    fn shape(&self) -> Vec<i64> {
        self.dw.size()[1..].to_vec()
    }
    fn grid(&self) -> Option<f64> {
        Some(self.h)
    }
    fn point(&self, t: f64) -> Result<usize> {
        let x = (t - self.t0) / self.h;
        let k = x.round();
        if !(k >= 0.0 && k <= self.steps() as f64 && (x - k).abs() <= 1e-9) {
            return Err(invalid(
                "t",
                t,
                &format!(
                    "the Brownian path is known at t0 + k·h = {} + k·{} for k = 0..={} only",
                    self.t0,
                    self.h,
                    self.steps()
                ),
            ));
        }
        Ok(k as usize)
    }
    fn increment(&self, a: &usize, b: &usize) -> Result<(Tensor, Tensor)> {
        let (a, b) = (*a, *b);
        if !(a < b && b <= self.steps()) {
            return Err(invalid("a, b", format!("{a}, {b}"), "need grid indices a < b <= steps"));
        }
        if b == a + 1 {
            return Ok((self.dw.get(a as i64), self.levy.get(a as i64)));
        }
        let parts = (a..b).map(|k| (self.dw.get(k as i64), self.levy.get(k as i64)));
        let (w, integral) = path_integral(parts, self.h);
        let levy = integral / (self.h * (b - a) as f64) - &w * 0.5;
        Ok((w, levy))
    }
}

impl BrownianMotion for VirtualBrownianTree {
    type Point = TreeState;
    fn span(&self) -> (f64, f64) {
        (self.t0, self.t1)
    }
    fn shape(&self) -> Vec<i64> {
        self.shape.clone()
    }
    fn grid(&self) -> Option<f64> {
        None
    }
    fn point(&self, t: f64) -> Result<TreeState> {
        self.state(t)
    }
    fn increment(&self, a: &TreeState, b: &TreeState) -> Result<(Tensor, Tensor)> {
        if !(a.t < b.t) {
            return Err(invalid("a, b", format!("{}, {}", a.t, b.t), "need a before b"));
        }
        Ok(a.area_to(b))
    }
}

/// A virtual Brownian tree (Gaines & Lyons 1997; Li et al. 2020) with space-time Lévy area:
/// `W(t)` and `H_{s,t}` on `[t0, t1]` for any query in any order, deterministic given the seed.
///
/// Every tree node `[a, b]` (width `h`) carries its increment `W` and space-time Lévy area
/// `H = (1/h)∫_a^b (W_r − W_a − (r − a)/h · W) dr ~ N(0, h/12)`, independent of `W`. Bisection
/// at the midpoint samples the left half exactly from its law given `(W, H)` (Gaussian
/// conditioning of the four independent half-interval quantities, `h′ = h/2`):
///
/// `W₁ = W/2 + 3H/2 + √(h′/8) z₁`, `H₁ = H/4 − √(h′/32) z₁ + √(h′/24) z₂`,
///
/// and the right half follows from `W₂ = W − W₁` and Chen's relation `H₂ = 2H + W/2 − W₁ − H₁`.
/// Below the leaf width `tol` a query at `r = a + h₁` uses the conditional mean
/// `W(r) = W(a) + (h₁/h) W + 6 h₁h₂/h² · H`. The tree also tracks `I(r) = ∫_{t0}^r W`, from
/// which the Lévy area of any interval follows: `H_{s,t} = (I(t) − I(s) − (t − s)W(s))/(t − s) −
/// (W(t) − W(s))/2`, so areas of adjacent intervals satisfy Chen's relation exactly.
#[derive(Debug, Clone)]
pub struct VirtualBrownianTree {
    t0: f64,
    t1: f64,
    tol: f64,
    seed: u64,
    shape: Vec<i64>,
    kind: Kind,
    device: Device,
}

impl VirtualBrownianTree {
    /// Tree over `[t0, t1]` with leaf width ≤ `tol`, values of shape `shape`.
    pub fn new(
        t0: f64,
        t1: f64,
        tol: f64,
        shape: &[i64],
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        check_span_and_tol(t0, t1, tol)?;
        Ok(VirtualBrownianTree { t0, t1, tol, seed, shape: shape.to_vec(), kind, device })
    }

    /// Start of the interval.
    pub fn t0(&self) -> f64 {
        self.t0
    }

    /// End of the interval.
    pub fn t1(&self) -> f64 {
        self.t1
    }

    /// Shape of `W(t)`.
    pub fn shape(&self) -> &[i64] {
        &self.shape
    }

    fn normal(&self, stream: u64) -> Tensor {
        normals(derive_seed(self.seed, stream), &self.shape, self.kind, self.device)
    }

    /// The path at `r`: `W(r)` and `∫_{t0}^r W` (one descent of the tree).
    fn state(&self, r: f64) -> Result<TreeState> {
        if !(r >= self.t0 - 1e-12 && r <= self.t1 + 1e-12) {
            return Err(invalid("t", r, &format!("outside [{}, {}]", self.t0, self.t1)));
        }
        let r = r.clamp(self.t0, self.t1);
        let (mut a, mut b) = (self.t0, self.t1);
        let h = b - a;
        let mut w_a = Tensor::zeros(self.shape.as_slice(), (self.kind, self.device));
        let mut i_a = w_a.zeros_like();
        let mut w = self.normal(1) * h.sqrt();
        let mut area = self.normal(2) * (h / 12.0).sqrt();
        let mut node: u64 = 1;
        // At most 62 levels (node keys stay distinct in a u64), and never below the float spacing:
        // once the midpoint rounds onto an endpoint the interval cannot shrink further.
        let mut depth = 0;
        while b - a > self.tol && depth < 62 {
            let m = 0.5 * (a + b);
            if m <= a || m >= b {
                break;
            }
            depth += 1;
            let hh = 0.5 * (b - a);
            let key = node.wrapping_mul(2).wrapping_add(1) ^ 0xB5AD_4ECE_DA1C_E2A9;
            let z1 = self.normal(key);
            let z2 = self.normal(key ^ 0x5DEE_CE66_D1CE_4E5B);
            let w1 = &w * 0.5 + &area * 1.5 + &z1 * (hh / 8.0).sqrt();
            let h1 = &area * 0.25 - &z1 * (hh / 32.0).sqrt() + z2 * (hh / 24.0).sqrt();
            if r <= m {
                b = m;
                w = w1;
                area = h1;
                node = node.wrapping_mul(2);
            } else {
                let w2 = &w - &w1;
                let h2 = &area * 2.0 + &w * 0.5 - &w1 - &h1;
                i_a += (&w_a + &w1 * 0.5 + &h1) * hh;
                w_a += &w1;
                a = m;
                w = w2;
                area = h2;
                node = node.wrapping_mul(2).wrapping_add(1);
            }
        }
        let h = b - a;
        let (h1, h2) = (r - a, b - r);
        if h1 <= 0.0 || h <= 0.0 {
            return Ok(TreeState { t: r, w: w_a, integral: i_a });
        }
        // Conditional means of the left part [a, r] given the leaf's (W, H).
        let w1 = &w * (h1 / h) + &area * (6.0 * h1 * h2 / (h * h));
        let a1 = &area * ((h1 / h) * (h1 / h));
        let i_r = &i_a + (&w_a + &w1 * 0.5 + a1) * h1;
        Ok(TreeState { t: r, w: w_a + w1, integral: i_r })
    }

    /// `W(t)` with `W(t0) = 0`.
    pub fn value(&self, t: f64) -> Result<Tensor> {
        Ok(self.state(t)?.w)
    }

    /// `W(t) − W(s)`.
    pub fn increment(&self, s: f64, t: f64) -> Result<Tensor> {
        Ok(self.value(t)? - self.value(s)?)
    }

    /// The increment `W(t) − W(s)` and the space-time Lévy area `H_{s,t}` (type docs), `s < t`.
    pub fn levy_area(&self, s: f64, t: f64) -> Result<(Tensor, Tensor)> {
        if !(s < t) {
            return Err(invalid("s, t", format!("{s}, {t}"), "need s < t"));
        }
        Ok(self.state(s)?.area_to(&self.state(t)?))
    }
}

/// The tree's path at one time: `W(t)` and `I(t) = ∫_{t0}^t W`.
#[derive(Debug)]
pub struct TreeState {
    t: f64,
    w: Tensor,
    integral: Tensor,
}

impl TreeState {
    /// `(W_{s,t}, H_{s,t})` from the states at `s` (self) and `t > s`.
    pub(crate) fn area_to(&self, end: &TreeState) -> (Tensor, Tensor) {
        let len = end.t - self.t;
        let dw = &end.w - &self.w;
        let h = (&end.integral - &self.integral - &self.w * len) / len - &dw * 0.5;
        (dw, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks_normal(x: &[f64], sd: f64) -> f64 {
        let mut v: Vec<f64> = x.iter().map(|a| a / sd).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mut d: f64 = 0.0;
        for (i, &z) in v.iter().enumerate() {
            let f = core_tensor::metrics::normal_cdf(z);
            d = d.max((i as f64 + 1.0) / n - f).max(f - i as f64 / n);
        }
        d * n.sqrt()
    }

    /// Increments are N(0, Δt) and Lévy areas N(0, Δt/12): KS statistics (√n·D) below 1.63 (1 %).
    #[test]
    fn increments_and_levy_areas_have_their_laws() {
        let p = BrownianPath::new(0.0, 0.01, 8, &[2000, 1], 3, Kind::Double, Device::Cpu).unwrap();
        let dw: Vec<f64> = Vec::try_from(p.increment(3).unwrap().flatten(0, -1)).unwrap();
        assert!(ks_normal(&dw, 0.1) < 1.63);
        let h: Vec<f64> = Vec::try_from(p.levy_area(5).unwrap().flatten(0, -1)).unwrap();
        assert!(ks_normal(&h, (0.01f64 / 12.0).sqrt()) < 1.63);
        // coarsening keeps the laws: increments N(0, 0.08), areas N(0, 0.08/12)
        let c = p.coarsen(8).unwrap();
        let dw: Vec<f64> = Vec::try_from(c.increment(0).unwrap().flatten(0, -1)).unwrap();
        assert!(ks_normal(&dw, 0.08f64.sqrt()) < 1.63);
        let h: Vec<f64> = Vec::try_from(c.levy_area(0).unwrap().flatten(0, -1)).unwrap();
        assert!(ks_normal(&h, (0.08f64 / 12.0).sqrt()) < 1.63, "{}", ks_normal(&h, (0.08f64 / 12.0).sqrt()));
        assert!(p.coarsen(3).is_err());
    }

    #[test]
    fn tree_descent_is_bounded_below_the_float_spacing() {
        // a leaf width far below the float spacing of [1e6, 1e6 + 1] must not spin
        let t = VirtualBrownianTree::new(1e6, 1e6 + 1.0, 1e-300, &[2], 3, Kind::Double, Device::Cpu).unwrap();
        let w = t.value(1e6 + 0.3).unwrap();
        assert!(w.isfinite().all().int64_value(&[]) == 1);
    }

    #[test]
    fn tree_is_deterministic_and_consistent() {
        let t = VirtualBrownianTree::new(0.0, 1.0, 1e-6, &[4000], 9, Kind::Double, Device::Cpu).unwrap();
        let a = t.increment(0.3, 0.55).unwrap();
        let b = t.increment(0.3, 0.55).unwrap();
        assert!(a.equal(&b));
        // any query order gives the same values
        let w1 = t.value(0.7).unwrap();
        let _ = t.value(0.1).unwrap();
        assert!(w1.equal(&t.value(0.7).unwrap()));
        let inc: Vec<f64> = Vec::try_from(&a).unwrap();
        assert!(ks_normal(&inc, 0.25f64.sqrt()) < 1.63);
        // additivity
        let sum = t.increment(0.3, 0.4).unwrap() + t.increment(0.4, 0.55).unwrap();
        assert!(sum.allclose(&a, 1e-12, 1e-12, false));
        assert!(t.value(1.5).is_err());
    }

    /// Lévy areas from the tree: N(0, Δt/12) on dyadic and non-dyadic intervals, uncorrelated
    /// with the increment, exactly additive by Chen's relation, and consistent with the areas the
    /// tree splits into.
    #[test]
    fn tree_levy_areas_have_their_law_and_chen_relation() {
        let n = 4000;
        let t = VirtualBrownianTree::new(0.0, 1.0, 1e-5, &[n], 4, Kind::Double, Device::Cpu).unwrap();
        for (s, u) in [(0.0, 0.5), (0.25, 0.5), (0.3, 0.55), (0.123, 0.9)] {
            let (dw, h) = t.levy_area(s, u).unwrap();
            let dwv: Vec<f64> = Vec::try_from(&dw).unwrap();
            let hv: Vec<f64> = Vec::try_from(&h).unwrap();
            let len: f64 = u - s;
            assert!(ks_normal(&dwv, len.sqrt()) < 1.63, "W on [{s}, {u}]");
            assert!(
                ks_normal(&hv, (len / 12.0).sqrt()) < 1.63,
                "H on [{s}, {u}]: {}",
                ks_normal(&hv, (len / 12.0).sqrt())
            );
            let corr = dwv.iter().zip(&hv).map(|(a, b)| a * b).sum::<f64>()
                / (dwv.iter().map(|a| a * a).sum::<f64>() * hv.iter().map(|b| b * b).sum::<f64>()).sqrt();
            assert!(corr.abs() < 4.0 / (n as f64).sqrt(), "corr {corr}");
        }
        // Chen: H_{s,t} = (h₁H₁ + h₂H₂)/h + (h₂W₁ − h₁W₂)/(2h).
        let (s, u, v) = (0.1, 0.37, 0.8);
        let (w1, h1) = t.levy_area(s, u).unwrap();
        let (w2, h2) = t.levy_area(u, v).unwrap();
        let (w, h) = t.levy_area(s, v).unwrap();
        let (a, b, c) = (u - s, v - u, v - s);
        let chen = (&h1 * a + &h2 * b) / c + (&w1 * b - &w2 * a) / (2.0 * c);
        assert!(chen.allclose(&h, 1e-10, 1e-12, false));
        assert!((w1 + w2).allclose(&w, 1e-12, 1e-12, false));
        // The path integral matches the Lévy areas of a fine partition (the tree is one path).
        let k = 64;
        let fine: Vec<(Tensor, Tensor)> =
            (0..k).map(|i| t.levy_area(i as f64 / k as f64, (i + 1) as f64 / k as f64).unwrap()).collect();
        let mut acc = Tensor::zeros([n], (Kind::Double, Device::Cpu));
        let mut wsum = acc.zeros_like();
        for (dw, hh) in &fine {
            acc += (&wsum + dw * 0.5 + hh) / k as f64;
            wsum += dw;
        }
        let (w01, h01) = t.levy_area(0.0, 1.0).unwrap();
        assert!((acc - &w01 * 0.5).allclose(&h01, 1e-10, 1e-12, false));
        assert!(t.levy_area(0.5, 0.5).is_err());
    }
}
