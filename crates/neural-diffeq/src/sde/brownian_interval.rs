//! The Brownian interval: exact increments and space-time Lévy areas over any intervals, from a
//! seed, with every sampled piece kept.

use super::brownian::{check_span_and_tol, normals, BrownianMotion};
use crate::error::{invalid, Result};
use core_tensor::seed::derive_seed;
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// A Brownian motion on `[t0, t1]` sampled exactly at the times it is asked for (Li et al. 2020's
/// Brownian interval, with space-time Lévy area), keeping what it has sampled.
///
/// The interval is a binary tree of pieces `[a, b]`, each with its increment `W` and space-time
/// Lévy area `H = (1/h)∫_a^b (W_r − W_a − (r − a)/h · W) dr`. A query time inside a piece splits
/// it: pieces wider than `tol` at their midpoint (so the coarse levels do not depend on the order
/// of the queries), narrower ones at the query time itself. A split at `a + h₁` (`h₂ = b − a − h₁`)
/// samples the left part from its exact law given `(W, H)`:
///
/// `E[W₁] = (h₁/h) W + 6 h₁h₂/h² · H`, `E[H₁] = (h₁/h)² H`,
/// `Var W₁ = (h₁h₂/h)(1 − 3h₁h₂/h²)`, `Var H₁ = (h₁/12)(1 − h₁³/h³)`,
/// `Cov(W₁, H₁) = −h₁³h₂/(2h³)`,
///
/// and the right part from `W₂ = W − W₁` and `h H = (h₂W₁ − h₁W₂)/2 + h₁H₁ + h₂H₂` (Chen's
/// relation), which also joins pieces back into the answer of a query. Unlike
/// [`VirtualBrownianTree`](super::VirtualBrownianTree), no query is answered by a conditional
/// mean: every increment has the exact law. Queries are consistent (asking again returns the
/// same tensors) and deterministic given the seed and the sequence of queries; memory grows with
/// the number of distinct query times (two pieces per new time, plus at most
/// `log2((t1 − t0)/tol)` levels of midpoints).
#[derive(Debug)]
pub struct BrownianInterval {
    t0: f64,
    t1: f64,
    tol: f64,
    seed: u64,
    shape: Vec<i64>,
    kind: Kind,
    device: Device,
    pieces: Mutex<Vec<Piece>>,
}

#[derive(Debug)]
struct Piece {
    a: f64,
    b: f64,
    w: Tensor,
    h: Tensor,
    key: u64,
    /// Split point and the left and right pieces.
    children: Option<(f64, usize, usize)>,
}

/// Largest depth of the tree: the midpoint levels stop at the float spacing (about 60 levels);
/// the rest are query splits inside one piece narrower than `tol`.
const MAX_DEPTH: usize = 4096;

impl BrownianInterval {
    /// The motion on `[t0, t1]` with values of shape `shape`; pieces wider than `tol` split at
    /// their midpoints.
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
        let h = t1 - t0;
        let root = Piece {
            a: t0,
            b: t1,
            w: normals(derive_seed(seed, 1), shape, kind, device) * h.sqrt(),
            h: normals(derive_seed(seed, 2), shape, kind, device) * (h / 12.0).sqrt(),
            key: 1,
            children: None,
        };
        Ok(BrownianInterval {
            t0,
            t1,
            tol,
            seed,
            shape: shape.to_vec(),
            kind,
            device,
            pieces: Mutex::new(vec![root]),
        })
    }

    /// Splits piece `i` at `r` (`a < r < b`), sampling the two halves.
    fn split(&self, pieces: &mut Vec<Piece>, i: usize, r: f64) {
        let p = &pieces[i];
        let (h, h1, h2) = (p.b - p.a, r - p.a, p.b - r);
        let key = p.key;
        let z1 = normals(derive_seed(self.seed, derive_seed(key, 3)), &self.shape, self.kind, self.device);
        let z2 = normals(derive_seed(self.seed, derive_seed(key, 4)), &self.shape, self.kind, self.device);
        let (u, v) = (h1 / h, h2 / h);
        let var_w = (h1 * v) * (1.0 - 3.0 * u * v).max(0.0);
        let var_h = (h1 / 12.0) * (1.0 - u * u * u).max(0.0);
        let cov = -h1 * u * u * v / 2.0;
        let sw = var_w.sqrt();
        let (c1, c2) = if sw > 0.0 {
            (cov / sw, (var_h - cov * cov / var_w).max(0.0).sqrt())
        } else {
            (0.0, var_h.sqrt())
        };
        let w1 = &p.w * u + &p.h * (6.0 * u * v) + &z1 * sw;
        let hh1 = &p.h * (u * u) + &z1 * c1 + z2 * c2;
        let w2 = &p.w - &w1;
        let hh2 = (&p.h * h - (&w1 * h2 - &w2 * h1) * 0.5 - &hh1 * h1) / h2;
        let (a, b) = (p.a, p.b);
        let n = pieces.len();
        // children's keys hashed from the parent's, so no depth makes two of them collide
        pieces.push(Piece { a, b: r, w: w1, h: hh1, key: derive_seed(key, 1), children: None });
        pieces.push(Piece { a: r, b, w: w2, h: hh2, key: derive_seed(key, 2), children: None });
        pieces[i].children = Some((r, n, n + 1));
    }

    /// Makes `t` a piece boundary.
    fn mark(&self, pieces: &mut Vec<Piece>, t: f64) -> Result<()> {
        let mut i = 0;
        for _ in 0..MAX_DEPTH {
            let (a, b) = (pieces[i].a, pieces[i].b);
            if t <= a || t >= b {
                return Ok(());
            }
            match pieces[i].children {
                Some((m, l, r)) => {
                    if t == m {
                        return Ok(());
                    }
                    i = if t < m { l } else { r };
                }
                None => {
                    let mid = 0.5 * (a + b);
                    let at = if b - a > self.tol && mid > a && mid < b { mid } else { t };
                    self.split(pieces, i, at);
                }
            }
        }
        Err(invalid(
            "tol",
            self.tol,
            &format!("a query at t = {t} needs more than {MAX_DEPTH} levels of pieces: use a tol near the step size"),
        ))
    }

    /// `(W, H)` of `[s, t]` from the pieces below `i` (both are piece boundaries), joined left
    /// to right; `None` when `[s, t]` misses the piece.
    fn gather(pieces: &[Piece], i: usize, s: f64, t: f64, out: &mut Option<(f64, Tensor, Tensor)>) {
        let p = &pieces[i];
        if p.b <= s || p.a >= t {
            return;
        }
        if p.a >= s && p.b <= t {
            *out = Some(match out.take() {
                None => (p.b - p.a, p.w.shallow_clone(), p.h.shallow_clone()),
                Some((h1, w1, a1)) => {
                    let h2 = p.b - p.a;
                    let h = h1 + h2;
                    let w = &w1 + &p.w;
                    let area = ((&w1 * h2 - &p.w * h1) * 0.5 + a1 * h1 + &p.h * h2) / h;
                    (h, w, area)
                }
            });
            return;
        }
        if let Some((_, l, r)) = p.children {
            Self::gather(pieces, l, s, t, out);
            Self::gather(pieces, r, s, t, out);
        }
    }

    /// The increment `W(t) − W(s)` and space-time Lévy area `H_{s,t}`, `t0 ≤ s < t ≤ t1`.
    pub fn levy_area(&self, s: f64, t: f64) -> Result<(Tensor, Tensor)> {
        if !(s < t && s >= self.t0 && t <= self.t1) {
            return Err(invalid(
                "s, t",
                format!("{s}, {t}"),
                &format!("need {} ≤ s < t ≤ {}", self.t0, self.t1),
            ));
        }
        let mut pieces =
            self.pieces.lock().map_err(|_| invalid("interval", "poisoned", "a query panicked"))?;
        self.mark(&mut pieces, s)?;
        self.mark(&mut pieces, t)?;
        let mut out = None;
        Self::gather(&pieces, 0, s, t, &mut out);
        let (_, w, h) =
            out.ok_or_else(|| invalid("s, t", format!("{s}, {t}"), "no piece covers the interval"))?;
        Ok((w, h))
    }

    /// `W(t) − W(s)`.
    pub fn increment(&self, s: f64, t: f64) -> Result<Tensor> {
        Ok(self.levy_area(s, t)?.0)
    }

    /// Pieces sampled so far.
    pub fn pieces(&self) -> usize {
        self.pieces.lock().map(|p| p.len()).unwrap_or(0)
    }
}

impl BrownianMotion for BrownianInterval {
    /// The time itself.
    type Point = f64;
    fn span(&self) -> (f64, f64) {
        (self.t0, self.t1)
    }
    fn shape(&self) -> Vec<i64> {
        self.shape.clone()
    }
    fn grid(&self) -> Option<f64> {
        None
    }
    fn point(&self, t: f64) -> Result<f64> {
        if !(t >= self.t0 && t <= self.t1) {
            return Err(invalid("t", t, &format!("outside [{}, {}]", self.t0, self.t1)));
        }
        Ok(t)
    }
    fn increment(&self, a: &f64, b: &f64) -> Result<(Tensor, Tensor)> {
        self.levy_area(*a, *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_and_areas_have_their_laws_and_join_by_chen() {
        // 4000 paths at once: the law of W and H over [0.3, 0.7] and over a split of it
        let n = 4000;
        let bi = BrownianInterval::new(0.0, 1.0, 0.1, &[n], 3, Kind::Double, Device::Cpu).unwrap();
        let (w, h) = bi.levy_area(0.3, 0.7).unwrap();
        let var = |x: &Tensor| x.square().mean(Kind::Double).double_value(&[]);
        let cov = |x: &Tensor, y: &Tensor| (x * y).mean(Kind::Double).double_value(&[]);
        // standard errors of a variance estimate: sqrt(2/n) σ²
        let se = (2.0 / n as f64).sqrt();
        assert!((var(&w) / 0.4 - 1.0).abs() < 4.0 * se, "Var W {}", var(&w));
        assert!((var(&h) / (0.4 / 12.0) - 1.0).abs() < 4.0 * se, "Var H {}", var(&h));
        assert!(cov(&w, &h).abs() / (0.4 * (0.4f64 / 12.0).sqrt()) < 4.0 / (n as f64).sqrt());
        // the parts [0.3, 0.45] and [0.45, 0.7]: independent with their own laws, joined by Chen
        let (w1, h1) = bi.levy_area(0.3, 0.45).unwrap();
        let (w2, h2) = bi.levy_area(0.45, 0.7).unwrap();
        assert!(
            (var(&w1) / 0.15 - 1.0).abs() < 4.0 * se && (var(&h1) / (0.15 / 12.0) - 1.0).abs() < 4.0 * se
        );
        assert!(
            (var(&w2) / 0.25 - 1.0).abs() < 4.0 * se && (var(&h2) / (0.25 / 12.0) - 1.0).abs() < 4.0 * se
        );
        for (x, y) in [(&w1, &w2), (&w1, &h2), (&h1, &w2), (&h1, &h2), (&w1, &h1)] {
            assert!(cov(x, y).abs() / (var(x) * var(y)).sqrt() < 4.0 / (n as f64).sqrt());
        }
        assert!((&w1 + &w2).allclose(&w, 1e-12, 1e-12, false));
        let joined = ((&w1 * 0.25 - &w2 * 0.15) * 0.5 + &h1 * 0.15 + &h2 * 0.25) / 0.4;
        assert!(joined.allclose(&h, 1e-12, 1e-12, false));
        // consistency: the same query twice gives the same tensors; the same queries with the same
        // seed give the same path
        let (w_again, _) = bi.levy_area(0.3, 0.7).unwrap();
        assert!(w_again.equal(&w));
        let other = BrownianInterval::new(0.0, 1.0, 0.1, &[n], 3, Kind::Double, Device::Cpu).unwrap();
        assert!(other.levy_area(0.3, 0.7).unwrap().0.equal(&w));
        // bad queries
        assert!(
            bi.levy_area(0.5, 0.5).is_err()
                && bi.levy_area(-0.1, 0.5).is_err()
                && bi.levy_area(0.5, 1.5).is_err()
        );
        assert!(BrownianInterval::new(1.0, 0.0, 0.1, &[1], 0, Kind::Double, Device::Cpu).is_err());
    }

    #[test]
    fn the_grid_increments_have_brownian_covariance() {
        // W at 0.1, 0.2, …, 1.0 from adjacent increments: Cov(W_s, W_t) = min(s, t)
        let n = 4000;
        let bi = BrownianInterval::new(0.0, 1.0, 0.05, &[n], 11, Kind::Double, Device::Cpu).unwrap();
        let mut w = Tensor::zeros([n], (Kind::Double, Device::Cpu));
        let mut ws = vec![];
        for k in 0..10 {
            // a new tensor each time (an in-place += would change the ones already pushed)
            let next = &w + bi.increment(k as f64 / 10.0, (k + 1) as f64 / 10.0).unwrap();
            w = next;
            ws.push(w.shallow_clone());
        }
        let cov = |x: &Tensor, y: &Tensor| (x * y).mean(Kind::Double).double_value(&[]);
        for (i, j) in [(0, 9), (2, 5), (4, 4), (9, 9)] {
            let (s, t) = ((i + 1) as f64 / 10.0, (j + 1) as f64 / 10.0);
            let c = cov(&ws[i], &ws[j]);
            let sd = (s * t + s.min(t).powi(2)).sqrt() / (n as f64).sqrt();
            assert!((c - s.min(t)).abs() < 4.0 * sd, "Cov(W({s}), W({t})) = {c}");
        }
        // W(1) over the whole span equals the sum of the pieces
        assert!(bi.increment(0.0, 1.0).unwrap().allclose(&w, 1e-12, 1e-12, false));
        assert!(bi.pieces() < 100, "{}", bi.pieces());
    }
}
