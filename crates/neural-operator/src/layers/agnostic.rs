//! Discretisation-agnostic versions of ordinary layers ("Principled approaches for extending
//! neural architectures to function spaces", Berner et al. 2025).
//!
//! - [`AgnosticConv1d`]: a convolution whose kernel is a function of the *physical* offset,
//!   `k_oi(r) = Σ_b c_oib φ_b(r)` on `|r| ≤ R` (hat functions `φ_b` on `B` equispaced interior
//!   nodes of `[−R, R]`, so `k(±R) = 0`), applied as the quadrature of `(K u)_o(x) = Σ_i ∫ k_oi(x − y) u_i(y) dy` on a periodic
//!   uniform grid of `[0, 1)`: the discrete taps are `h·k(m h)`, `h = 1/N`, for every `|m h| ≤ R`.
//!   Refining the grid converges to the integral operator; an ordinary convolution with a fixed
//!   number of taps instead shrinks its receptive field with `h`.
//! - [`QuadratureAttention`]: attention as the integral operator
//!   `(A u)(x) = ∫ softmax-kernel(x, y) v(y) dμ(y)`, discretised with quadrature weights `w_j` of
//!   the (possibly non-uniform) points: `Σ_j w_j e^{s_ij} v_j / Σ_j w_j e^{s_ij}`. Without the
//!   weights, attention on a non-uniform grid converges to an integral against the point density.

use tch::nn::{self, Init, Module};
use tch::{Kind, Tensor};

use crate::error::{invalid, Result};

/// A convolution with a kernel defined in physical units (see the module docs).
#[derive(Debug)]
pub struct AgnosticConv1d {
    coef: Tensor,
    bias: Tensor,
    radius: f64,
    nodes: i64,
}

impl AgnosticConv1d {
    /// `in_ch → out_ch` channels, kernel support `[−radius, radius]` (domain length 1), `nodes`
    /// hat functions (≥ 2).
    ///
    /// # Errors
    /// Non-positive sizes, `radius ∉ (0, 0.5]`, fewer than 2 nodes.
    pub fn new(path: &nn::Path<'_>, in_ch: i64, out_ch: i64, radius: f64, nodes: i64) -> Result<Self> {
        if in_ch < 1 || out_ch < 1 {
            return Err(invalid("channels", format!("{in_ch} → {out_ch}"), "must be ≥ 1"));
        }
        if !(radius > 0.0 && radius <= 0.5) {
            return Err(invalid("radius", radius, "must lie in (0, 0.5] on the unit periodic domain"));
        }
        if nodes < 2 {
            return Err(invalid("nodes", nodes, "need at least 2 hat functions"));
        }
        // ∫ k ≈ R·Σc: scale so the operator starts with O(1) gain.
        let bound = 1.0 / ((in_ch as f64).sqrt() * radius);
        Ok(AgnosticConv1d {
            coef: path.var("coef", &[out_ch, in_ch, nodes], Init::Uniform { lo: -bound, up: bound }),
            bias: path.var("bias", &[out_ch], Init::Const(0.0)),
            radius,
            nodes,
        })
    }

    /// The kernel `k(r) [out, in, len(r)]` at physical offsets `r` (1-D tensor).
    pub fn kernel_at(&self, r: &Tensor) -> Tensor {
        // Interior nodes only, so the kernel is continuous and vanishes at ±R (no truncation error
        // at the edge of the support).
        let spacing = 2.0 * self.radius / (self.nodes + 1) as f64;
        let centres = Tensor::linspace(
            -self.radius + spacing,
            self.radius - spacing,
            self.nodes,
            (self.coef.kind(), self.coef.device()),
        );
        // φ_b(r) = max(0, 1 − |r − c_b|/spacing): [nodes, len].
        let dist: Tensor = (r.unsqueeze(0) - centres.unsqueeze(1)).abs() / spacing;
        let phi = (dist.ones_like() - dist).clamp_min(0.0);
        self.coef.matmul(&phi)
    }

    /// Applies the operator to `u [B, in, N]` on the periodic uniform grid `x_j = j/N`.
    ///
    /// # Errors
    /// Inputs that are not `[B, in, N]`, or grids with spacing larger than the radius.
    pub fn forward(&self, u: &Tensor) -> Result<Tensor> {
        let s = u.size();
        if s.len() != 3 || s[1] != self.coef.size()[1] {
            return Err(invalid("u", format!("{s:?}"), &format!("expected [B, {}, N]", self.coef.size()[1])));
        }
        let n = s[2];
        let h = 1.0 / n as f64;
        let m = (self.radius / h).floor() as i64;
        if m < 1 || 2 * m + 1 > n {
            return Err(invalid(
                "u.size(2)",
                n,
                "the grid must resolve the kernel support (h ≤ radius < 1/2)",
            ));
        }
        // Offsets r = m' h for m' = −m..m; conv1d correlates, y_i = Σ_t w_t u_{i+t−m}, so tap t
        // must hold k(x_i − x_j) = k(−(t − m)h): reverse the offsets.
        let offs =
            Tensor::arange_start(-m, m + 1, (Kind::Int64, u.device())).to_kind(self.coef.kind()) * (-h);
        let w = self.kernel_at(&offs) * h;
        let padded = Tensor::cat(&[u.narrow(2, n - m, m), u.shallow_clone(), u.narrow(2, 0, m)], 2);
        Ok(padded.conv1d(&w, Some(&self.bias), [1], [0], [1], 1))
    }
}

/// Self-attention with quadrature weights over points of a domain (see the module docs).
#[derive(Debug)]
pub struct QuadratureAttention {
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    dim: i64,
}

impl QuadratureAttention {
    /// Query/key/value maps `channels → dim`.
    ///
    /// # Errors
    /// Non-positive sizes.
    pub fn new(path: &nn::Path<'_>, channels: i64, dim: i64) -> Result<Self> {
        if channels < 1 || dim < 1 {
            return Err(invalid("sizes", format!("{channels}, {dim}"), "must be ≥ 1"));
        }
        let c = Default::default();
        Ok(QuadratureAttention {
            q: nn::linear(path / "q", channels, dim, c),
            k: nn::linear(path / "k", channels, dim, c),
            v: nn::linear(path / "v", channels, dim, c),
            dim,
        })
    }

    /// Output `[B, M, dim]` at query features `xq [B, M, C]` from key/value features
    /// `xk [B, N, C]` with quadrature weights `w [N]` (positive; `None` = plain attention).
    ///
    /// # Errors
    /// Shape mismatches, non-positive weights.
    pub fn forward(&self, xq: &Tensor, xk: &Tensor, w: Option<&Tensor>) -> Result<Tensor> {
        let (sq, sk) = (xq.size(), xk.size());
        if sq.len() != 3 || sk.len() != 3 || sq[0] != sk[0] || sq[2] != sk[2] {
            return Err(invalid("xq/xk", format!("{sq:?}, {sk:?}"), "expected [B, M, C] and [B, N, C]"));
        }
        let scores =
            self.q.forward(xq).matmul(&self.k.forward(xk).transpose(1, 2)) / (self.dim as f64).sqrt();
        let scores = match w {
            Some(w) => {
                if w.size() != [sk[1]] {
                    return Err(invalid("w", format!("{:?}", w.size()), &format!("expected [{}]", sk[1])));
                }
                if w.min().double_value(&[]) <= 0.0 {
                    return Err(invalid("w", w.min().double_value(&[]), "quadrature weights must be > 0"));
                }
                // w_j e^{s_ij} = e^{s_ij + ln w_j}: a softmax over shifted scores.
                scores + w.log().view([1, 1, -1])
            }
            None => scores,
        };
        Ok(scores.softmax(-1, scores.kind()).matmul(&self.v.forward(xk)))
    }
}

/// Trapezoidal quadrature weights of sorted points `x [N]` on the periodic domain `[0, 1)`:
/// `w_j = (x_{j+1} − x_{j−1})/2` with wrap-around.
///
/// # Errors
/// Fewer than 2 points, unsorted points or points outside `[0, 1)`.
pub fn periodic_trapezoid_weights(x: &[f64]) -> Result<Vec<f64>> {
    let n = x.len();
    if n < 2 {
        return Err(invalid("x", n, "need at least 2 points"));
    }
    if let Some(i) = (1..n).find(|&i| !(x[i] > x[i - 1])) {
        return Err(invalid(&format!("x[{i}]"), x[i], "points must be strictly increasing"));
    }
    if !(x[0] >= 0.0 && x[n - 1] < 1.0) {
        return Err(invalid("x", format!("[{}, {}]", x[0], x[n - 1]), "points must lie in [0, 1)"));
    }
    Ok((0..n)
        .map(|j| {
            let next = if j + 1 < n { x[j + 1] } else { x[0] + 1.0 };
            let prev = if j > 0 { x[j - 1] } else { x[n - 1] - 1.0 };
            (next - prev) / 2.0
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn field(n: i64) -> Tensor {
        let x = Tensor::arange(n, (Kind::Double, Device::Cpu)) / n as f64;
        let two_pi = 2.0 * std::f64::consts::PI;
        let u0 = (&x * two_pi).sin() + (&x * (3.0 * two_pi)).cos() * 0.5;
        let u1 = (&x * two_pi).cos();
        Tensor::stack(&[u0, u1], 0).unsqueeze(0)
    }

    #[test]
    fn agnostic_convolution_converges_under_refinement() {
        core_tensor::seed::seed_torch(0);
        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let conv = AgnosticConv1d::new(&vs.root(), 2, 3, 0.15, 6).unwrap();
        // Values at the 32 points of the coarsest grid, for grids 32·2^k.
        let at_coarse = |n: i64| conv.forward(&field(n)).unwrap().slice(2, 0, n, n / 32);
        let reference = at_coarse(4096);
        let errs: Vec<f64> = [32i64, 64, 128, 256]
            .iter()
            .map(|&n| (at_coarse(n) - &reference).abs().max().double_value(&[]))
            .collect();
        for w in errs.windows(2) {
            assert!(w[1] < 0.5 * w[0], "no convergence: {errs:?}");
        }
        assert!(errs[3] < 1e-3, "{errs:?}");
        // An ordinary 5-tap convolution does not converge: its output at the same points changes.
        let taps = Tensor::randn([3, 2, 5], (Kind::Double, Device::Cpu));
        let plain = |n: i64| {
            let u = field(n);
            let p = Tensor::cat(&[u.narrow(2, n - 2, 2), u.shallow_clone(), u.narrow(2, 0, 2)], 2);
            p.conv1d::<Tensor>(&taps, None, [1], [0], [1], 1).slice(2, 0, n, n / 32)
        };
        let drift = (plain(256) - plain(4096)).abs().max().double_value(&[]);
        assert!(drift > 10.0 * errs[3], "plain conv drift {drift}");
        println!("agnostic conv: max deviation from the 4096-point output at N = 32..256: {errs:?}; plain conv 256 vs 4096: {drift}");
        assert!(conv.forward(&field(4)).is_err());
        assert!(AgnosticConv1d::new(&vs.root(), 2, 3, 0.7, 6).is_err());
    }

    #[test]
    fn quadrature_attention_converges_on_non_uniform_grids() {
        core_tensor::seed::seed_torch(1);
        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let att = QuadratureAttention::new(&vs.root(), 2, 4).unwrap();
        let feat = |x: &Tensor| {
            let two_pi = 2.0 * std::f64::consts::PI;
            Tensor::stack(&[(x * two_pi).sin(), (x * two_pi).cos()], -1).unsqueeze(0)
        };
        let queries = feat(&(Tensor::arange(8, (Kind::Double, Device::Cpu)) / 8.0));
        // Points clustered near 0: x = s², s uniform; trapezoid weights undo the density.
        let eval = |n: i64, weighted: bool| {
            let s = Tensor::arange(n, (Kind::Double, Device::Cpu)) / n as f64;
            let x = s.square();
            let xv: Vec<f64> = Vec::try_from(&x).unwrap();
            let w = Tensor::from_slice(&periodic_trapezoid_weights(&xv).unwrap());
            att.forward(&queries, &feat(&x), if weighted { Some(&w) } else { None }).unwrap()
        };
        // Uniform-grid reference for the integral operator.
        let uniform = {
            let x = Tensor::arange(8192, (Kind::Double, Device::Cpu)) / 8192.0;
            att.forward(&queries, &feat(&x), None).unwrap()
        };
        let e_w: Vec<f64> = [64i64, 256, 1024]
            .iter()
            .map(|&n| (eval(n, true) - &uniform).abs().max().double_value(&[]))
            .collect();
        let e_plain = (eval(1024, false) - &uniform).abs().max().double_value(&[]);
        assert!(e_w[2] < e_w[0] && e_w[2] < 1e-2, "weighted errors {e_w:?}");
        assert!(e_plain > 10.0 * e_w[2], "unweighted attention error {e_plain} vs weighted {}", e_w[2]);
        println!("quadrature attention errors at N = 64, 256, 1024: {e_w:?}; unweighted at 1024: {e_plain}");
        assert!(periodic_trapezoid_weights(&[0.5, 0.2]).is_err());
    }
}
