//! Integral equations of the second kind on a grid, `y(t) = f(t) + ∫ K(t, s, y(s)) ds`, solved by
//! fixed-point (Picard) iteration with trapezoid quadrature, and their neural versions: NIE (an
//! MLP kernel, Zappalà et al. 2023) and ANIE (self-attention over the grid in place of the
//! integral, Zappalà et al. 2024).
//!
//! Shapes: grid `[T]`, functions on the grid `[B, T, D]`, kernel values on all pairs `[B, T, T, D]`
//! (`[b, i, j]` = `K(t_i, s_j, y_b(s_j))`).

use crate::error::{invalid, Error, Result};
use core_tensor::nn::{Activation, AttentionMask, Mlp, MlpConfig, MultiHeadAttention};
use tch::{nn, nn::ModuleT, Tensor};

/// Fredholm (integral over the whole interval) or Volterra (up to `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IeKind {
    /// `∫_a^b`.
    Fredholm,
    /// `∫_a^t`.
    Volterra,
}

/// A kernel evaluated on all grid pairs.
pub trait IntegralKernel {
    /// `K(t_i, s_j, y(s_j))` for all `i, j`: `[B, T, T, D]`, from grid `[T]` and `y [B, T, D]`.
    fn pairs(&self, grid: &Tensor, y: &Tensor) -> Result<Tensor>;
}

impl<F: Fn(&Tensor, &Tensor) -> Result<Tensor>> IntegralKernel for F {
    fn pairs(&self, grid: &Tensor, y: &Tensor) -> Result<Tensor> {
        self(grid, y)
    }
}

/// Trapezoid weights `W [T, T]` so that `(W g)_i ≈ ∫ g` over `[a, b]` (Fredholm, same row for all
/// `i`) or over `[a, t_i]` (Volterra).
pub fn quadrature_weights(grid: &[f64], kind: IeKind) -> Result<Tensor> {
    let t = grid.len();
    if t < 2 || grid.windows(2).any(|w| !(w[0] < w[1])) {
        return Err(invalid("grid", format!("{} points", t), "need ≥ 2 strictly increasing times"));
    }
    let mut w = vec![0.0; t * t];
    for i in 0..t {
        let upto = match kind {
            IeKind::Fredholm => t - 1,
            IeKind::Volterra => i,
        };
        for j in 0..upto {
            let h = grid[j + 1] - grid[j];
            w[i * t + j] += 0.5 * h;
            w[i * t + j + 1] += 0.5 * h;
        }
    }
    // cpu: a host table; `solve_ie` moves it to the kernel's device and kind
    Ok(Tensor::from_slice(&w).view([t as i64, t as i64]))
}

/// Options of [`solve_ie`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PicardOptions {
    /// Stop when `max |y_{k+1} − y_k| ≤ tol` (ignored when `fixed_iterations`).
    pub tol: f64,
    /// Iteration budget.
    pub max_iter: usize,
    /// Run exactly `max_iter` iterations (keeps training graphs of constant depth).
    pub fixed_iterations: bool,
}

impl Default for PicardOptions {
    fn default() -> Self {
        PicardOptions { tol: 1e-10, max_iter: 200, fixed_iterations: false }
    }
}

/// Solves `y = f + ∫ K(·, s, y(s)) ds` on `grid` from the forcing `f [B, T, D]`; returns `y` and
/// the number of iterations. Fails with a clear error if the iteration diverges or does not meet
/// the tolerance (the map must be a contraction, e.g. `L (b − a) < 1` for a Lipschitz constant `L`).
pub fn solve_ie(
    grid: &[f64],
    f: &Tensor,
    kernel: &dyn IntegralKernel,
    kind: IeKind,
    opts: PicardOptions,
) -> Result<(Tensor, usize)> {
    let (_b, t, _d) =
        f.size3().map_err(|_| invalid("f", format!("{:?}", f.size()), "expected [batch, time, dim]"))?;
    if t as usize != grid.len() {
        return Err(invalid(
            "f",
            format!("{:?}", f.size()),
            &format!("time axis must match the {} grid points", grid.len()),
        ));
    }
    let w = quadrature_weights(grid, kind)?.to_kind(f.kind()).to(f.device());
    let g = Tensor::from_slice(grid).to_kind(f.kind()).to(f.device());
    let mut y = f.shallow_clone();
    for it in 0..opts.max_iter {
        let k = kernel.pairs(&g, &y)?; // [B, T, T, D]
        if k.size()[..3] != [f.size()[0], t, t] {
            return Err(invalid("kernel", format!("{:?}", k.size()), "must return [B, T, T, D]"));
        }
        let integral = (k * w.view([1, t, t, 1])).sum_dim_intlist([2].as_slice(), false, f.kind());
        let next = f + integral;
        let delta = tch::no_grad(|| (&next - &y).abs().max().double_value(&[]));
        if !delta.is_finite() {
            return Err(Error::NonFinite { t: it as f64 });
        }
        y = next;
        if !opts.fixed_iterations && delta <= opts.tol {
            return Ok((y, it + 1));
        }
    }
    if opts.fixed_iterations {
        return Ok((y, opts.max_iter));
    }
    Err(invalid(
        "Picard iteration",
        format!("{} iterations", opts.max_iter),
        "did not converge: the integral operator is not a contraction on this grid",
    ))
}

/// Neural integral equation: the kernel is an MLP of `[t, s, y(s)]`.
#[derive(Debug)]
pub struct NeuralIe {
    mlp: Mlp,
    dim: i64,
}

impl NeuralIe {
    /// Kernel MLP `(2 + D) → hidden… → D` (tanh).
    pub fn new(path: &nn::Path<'_>, dim: i64, hidden: &[i64]) -> Result<Self> {
        let mut w = vec![2 + dim];
        w.extend(hidden);
        w.push(dim);
        Ok(NeuralIe { mlp: Mlp::new(path, &w, MlpConfig::default().activation(Activation::Tanh))?, dim })
    }
}

impl IntegralKernel for NeuralIe {
    fn pairs(&self, grid: &Tensor, y: &Tensor) -> Result<Tensor> {
        let (b, t, d) =
            y.size3().map_err(|_| invalid("y", format!("{:?}", y.size()), "expected [B, T, D]"))?;
        if d != self.dim {
            return Err(invalid("y", format!("{:?}", y.size()), &format!("dim must be {}", self.dim)));
        }
        let ti = grid.view([1, t, 1, 1]).expand([b, t, t, 1], false);
        let sj = grid.view([1, 1, t, 1]).expand([b, t, t, 1], false);
        let yj = y.unsqueeze(1).expand([b, t, t, d], false);
        Ok(self.mlp.forward_t(&Tensor::cat(&[ti, sj, yj], 3), false))
    }
}

/// Attentional neural integral equation: `y ← f + Attn(q(t, y), k(s, y), v(s, y))` iterated, the
/// attention (causal for Volterra) replacing the integral.
#[derive(Debug)]
pub struct AttentionIe {
    embed: nn::Linear,
    attn: MultiHeadAttention,
    out: nn::Linear,
    kind: IeKind,
}

impl AttentionIe {
    /// Model width `width` with `heads` heads for `dim`-dimensional functions.
    pub fn new(path: &nn::Path<'_>, dim: i64, width: i64, heads: i64, kind: IeKind) -> Result<Self> {
        Ok(AttentionIe {
            embed: nn::linear(path / "embed", 1 + dim, width, Default::default()),
            attn: MultiHeadAttention::new(&(path / "attn"), width, heads, 0.0)?,
            out: nn::linear(path / "out", width, dim, Default::default()),
            kind,
        })
    }
    /// `iters` fixed-point iterations from the forcing `f [B, T, D]` on `grid`.
    pub fn solve(&self, grid: &[f64], f: &Tensor, iters: usize) -> Result<Tensor> {
        let (b, t, _) =
            f.size3().map_err(|_| invalid("f", format!("{:?}", f.size()), "expected [B, T, D]"))?;
        let g = Tensor::from_slice(grid)
            .to_kind(f.kind())
            .to(f.device())
            .view([1, t, 1])
            .expand([b, t, 1], false);
        let span = grid.last().copied().unwrap_or(1.0) - grid.first().copied().unwrap_or(0.0);
        let mut y = f.shallow_clone();
        for _ in 0..iters {
            let e = Tensor::cat(&[g.shallow_clone(), y.shallow_clone()], 2).apply(&self.embed);
            let mask = AttentionMask { causal: self.kind == IeKind::Volterra, ..Default::default() };
            let a = self.attn.forward(&e, &e, &e, mask, false)?;
            y = f + a.apply(&self.out) * span;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn grid(n: usize) -> Vec<f64> {
        (0..n).map(|k| k as f64 / (n - 1) as f64).collect()
    }

    /// Volterra: y(t) = 1 + ∫_0^t y ds ⇒ y = e^t; Fredholm: y(t) = t + λ t ∫_0^1 s y(s) ds ⇒
    /// y = 3t/(3 − λ). Trapezoid errors shrink as O(h²).
    #[test]
    fn picard_solves_known_equations() {
        let mut errs = Vec::new();
        for n in [41usize, 81] {
            let g = grid(n);
            let f = Tensor::ones([1, n as i64, 1], (Kind::Double, Device::Cpu));
            let k = |_grid: &Tensor, y: &Tensor| -> Result<Tensor> {
                let (b, t, d) = y.size3().unwrap();
                Ok(y.unsqueeze(1).expand([b, t, t, d], false))
            };
            let (y, _) = solve_ie(&g, &f, &k, IeKind::Volterra, PicardOptions::default()).unwrap();
            errs.push((y.get(0).get(n as i64 - 1).double_value(&[0]) - 1f64.exp()).abs());
        }
        assert!(errs[0] < 1e-3 && errs[1] < errs[0] / 3.5, "{errs:?}");
        let n = 101;
        let g = grid(n);
        let lam = 1.5;
        let f = Tensor::from_slice(&g).view([1, n as i64, 1]);
        let k = move |grid: &Tensor, y: &Tensor| -> Result<Tensor> {
            let t = grid.size()[0];
            let ts = grid.view([1, t, 1, 1]) * grid.view([1, 1, t, 1]) * lam;
            Ok(ts * y.unsqueeze(1))
        };
        let (y, iters) = solve_ie(&g, &f, &k, IeKind::Fredholm, PicardOptions::default()).unwrap();
        assert!(iters < 100);
        let expected = 3.0 / (3.0 - lam);
        assert!((y.get(0).get(100).double_value(&[0]) - expected).abs() < 1e-3);
        // a non-contraction is reported, not looped on
        let big = |grid: &Tensor, y: &Tensor| -> Result<Tensor> {
            let t = grid.size()[0];
            Ok(y.unsqueeze(1).expand([1, t, t, 1], false) * 3.0)
        };
        let e =
            solve_ie(&g, &f, &big, IeKind::Fredholm, PicardOptions { max_iter: 50, ..Default::default() });
        assert!(e.is_err());
        assert!(solve_ie(&g[..10], &f, &k, IeKind::Fredholm, PicardOptions::default()).is_err());
    }

    #[test]
    fn neural_kernels_have_the_right_shapes() {
        let vs = nn::VarStore::new(Device::Cpu);
        let nie = NeuralIe::new(&vs.root().sub("nie"), 2, &[16]).unwrap();
        let g = grid(9);
        let f = Tensor::randn([3, 9, 2], (Kind::Float, Device::Cpu)) * 0.1;
        let (y, n) = solve_ie(
            &g,
            &f,
            &nie,
            IeKind::Fredholm,
            PicardOptions { max_iter: 5, fixed_iterations: true, ..Default::default() },
        )
        .unwrap();
        assert_eq!((y.size(), n), (vec![3, 9, 2], 5));
        let anie = AttentionIe::new(&vs.root().sub("anie"), 2, 16, 2, IeKind::Volterra).unwrap();
        assert_eq!(anie.solve(&g, &f, 3).unwrap().size(), vec![3, 9, 2]);
    }
}
