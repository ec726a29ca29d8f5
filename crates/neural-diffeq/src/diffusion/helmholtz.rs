//! The closest gradient field to a 2-D vector field on a grid (the Helmholtz projection): on the
//! `n × n` nodes of `[lo, hi]²` with spacing `h`, the potential `φ` minimises
//! `Σ_edges (φ_b − φ_a − h s̄_ab)²` over the grid's edges (`s̄_ab` the field's component along the
//! edge, averaged over its two nodes); its normal equations are the Neumann graph Laplacian
//! `Dᵀ D φ = Dᵀ b`, solved by conjugate gradients with the mean of `φ` fixed at zero. The
//! projected field at a node is the average of the gradients `(φ_b − φ_a)/h` on its edges, and
//! [`GridField::evaluate`] interpolates bilinearly inside the grid.

use crate::error::{invalid, Result};
use tch::{Kind, Tensor};

/// A vector field sampled on the nodes of a square grid, `[n, n, 2]` (first index along `x₁`).
#[derive(Debug)]
pub struct GridField {
    lo: f64,
    h: f64,
    n: i64,
    values: Tensor,
}

/// Largest number of conjugate-gradient iterations of a projection.
const MAX_CG: usize = 2000;

impl GridField {
    /// The field `f` (`[B, 2] → [B, 2]`) on the `n × n` nodes of `[lo, hi]²` (double precision).
    ///
    /// # Errors
    /// `n < 3` or `lo >= hi`; errors of `f` or a result of another shape.
    pub fn sample(
        f: &dyn Fn(&Tensor) -> Result<Tensor>,
        (lo, hi): (f64, f64),
        n: i64,
        device: tch::Device,
    ) -> Result<Self> {
        if n < 3 || !(lo < hi) {
            return Err(invalid("grid", format!("({lo}, {hi}), {n}"), "need lo < hi and n >= 3"));
        }
        let axis = Tensor::linspace(lo, hi, n, (Kind::Double, device));
        let gx = axis.view([n, 1]).expand([n, n], false);
        let gy = axis.view([1, n]).expand([n, n], false);
        let pts = Tensor::stack(&[gx.reshape([-1]), gy.reshape([-1])], 1);
        let v = f(&pts)?.to_kind(Kind::Double);
        if v.size() != [n * n, 2] {
            return Err(invalid("field", format!("{:?}", v.size()), "expected [points, 2]"));
        }
        Ok(GridField { lo, h: (hi - lo) / (n - 1) as f64, n, values: v.view([n, n, 2]) })
    }

    /// The grid's values `[n, n, 2]`.
    pub fn values(&self) -> &Tensor {
        &self.values
    }

    /// Forward differences along both axes of `phi [n, n]`, as edge values `([n−1, n], [n, n−1])`.
    fn grad(phi: &Tensor, n: i64) -> (Tensor, Tensor) {
        (phi.narrow(0, 1, n - 1) - phi.narrow(0, 0, n - 1), phi.narrow(1, 1, n - 1) - phi.narrow(1, 0, n - 1))
    }

    /// `Dᵀ` of edge values: the net flow out of each node.
    fn div_t(ex: &Tensor, ey: &Tensor, n: i64) -> Tensor {
        let z_row = Tensor::zeros([1, n], (Kind::Double, ex.device()));
        let z_col = Tensor::zeros([n, 1], (Kind::Double, ex.device()));
        let x_part = Tensor::cat(&[&z_row, ex], 0) - Tensor::cat(&[ex, &z_row], 0);
        let y_part = Tensor::cat(&[&z_col, ey], 1) - Tensor::cat(&[ey, &z_col], 1);
        x_part + y_part
    }

    /// The Helmholtz projection: the gradient field closest to this one on the grid, and the
    /// relative residual `‖Dφ − b‖ / ‖b‖` (the share of the field that is not a gradient).
    ///
    /// # Errors
    /// Conjugate gradients not converging (relative residual 1e-10) in 2000 iterations.
    pub fn projected(&self) -> Result<(GridField, f64)> {
        let n = self.n;
        let (sx, sy) = (self.values.select(2, 0), self.values.select(2, 1));
        // edge values h · (average of the two nodes' components along the edge)
        let bx = (sx.narrow(0, 1, n - 1) + sx.narrow(0, 0, n - 1)) * (0.5 * self.h);
        let by = (sy.narrow(1, 1, n - 1) + sy.narrow(1, 0, n - 1)) * (0.5 * self.h);
        let rhs = Self::div_t(&bx, &by, n);
        let apply = |p: &Tensor| {
            let (gx, gy) = Self::grad(p, n);
            Self::div_t(&gx, &gy, n)
        };
        // conjugate gradients on the mean-zero subspace (the Laplacian's null space is constants)
        let mut phi = Tensor::zeros([n, n], (Kind::Double, self.values.device()));
        let mut r = &rhs - rhs.mean(Kind::Double);
        let mut p = r.copy();
        let mut rr = r.square().sum(Kind::Double).double_value(&[]);
        let tol = 1e-20 * rr.max(1e-300);
        let mut done = rr <= tol;
        for _ in 0..MAX_CG {
            if done {
                break;
            }
            let ap = apply(&p);
            let alpha = rr / (&p * &ap).sum(Kind::Double).double_value(&[]);
            phi += &p * alpha;
            r -= ap * alpha;
            let rr_new = r.square().sum(Kind::Double).double_value(&[]);
            if rr_new <= tol {
                done = true;
            }
            p = &r + p * (rr_new / rr);
            rr = rr_new;
        }
        if !done {
            return Err(invalid("projection", "conjugate gradients", "did not converge"));
        }
        let (gx, gy) = Self::grad(&phi, n);
        let resid = ((&gx - &bx).square().sum(Kind::Double) + (&gy - &by).square().sum(Kind::Double)).sqrt();
        let norm = (bx.square().sum(Kind::Double) + by.square().sum(Kind::Double)).sqrt();
        let rel = resid.double_value(&[]) / norm.double_value(&[]).max(1e-300);
        // node gradients: average of the adjacent edges (one-sided at the border)
        let node = |e: &Tensor, dim: i64| {
            let first = e.narrow(dim, 0, 1);
            let last = e.narrow(dim, n - 2, 1);
            let inner = (e.narrow(dim, 1, n - 2) + e.narrow(dim, 0, n - 2)) * 0.5;
            Tensor::cat(&[first, inner, last], dim) / self.h
        };
        let values = Tensor::stack(&[node(&gx, 0), node(&gy, 1)], 2);
        Ok((GridField { lo: self.lo, h: self.h, n, values }, rel))
    }

    /// The field at `x [B, 2]` by bilinear interpolation (points outside the grid take the
    /// nearest border value).
    ///
    /// # Errors
    /// `x` not `[B, 2]`.
    pub fn evaluate(&self, x: &Tensor) -> Result<Tensor> {
        match x.size().as_slice() {
            [_, 2] => {}
            s => return Err(invalid("x", format!("{s:?}"), "expected [batch, 2]")),
        }
        let n = self.n;
        let u = ((x.to_kind(Kind::Double) - self.lo) / self.h).clamp(0.0, (n - 1) as f64 - 1e-9);
        let (ux, uy) = (u.select(1, 0), u.select(1, 1));
        let (ix, iy) = (ux.floor(), uy.floor());
        let (fx, fy) = ((&ux - &ix).unsqueeze(1), (&uy - &iy).unsqueeze(1));
        let (ix, iy) = (ix.to_kind(Kind::Int64), iy.to_kind(Kind::Int64));
        let flat = self.values.view([n * n, 2]);
        let at = |a: &Tensor, b: &Tensor| flat.index_select(0, &(a * n + b));
        let v00 = at(&ix, &iy);
        let v10 = at(&(&ix + 1), &iy);
        let v01 = at(&ix, &(&iy + 1));
        let v11 = at(&(&ix + 1), &(&iy + 1));
        let one_x = fx.ones_like() - &fx;
        let one_y = fy.ones_like() - &fy;
        let v = v00 * (&one_x * &one_y) + v10 * (&fx * &one_y) + v01 * (&one_x * &fy) + v11 * (&fx * &fy);
        Ok(v.to_kind(x.kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// A gradient field projects onto itself (up to discretisation); a divergence-free field with
    /// no flow through the boundary, `curl ψ` for `ψ = sin πx sin πy` on `[−1, 1]²`, onto nearly
    /// nothing; the projection is linear; bilinear interpolation reproduces a linear field.
    #[test]
    fn projection_keeps_gradients_and_removes_rotations() {
        use std::f64::consts::PI;
        let grad_field = |x: &Tensor| {
            Ok(Tensor::stack(&[x.select(1, 0) * 2.0 * x.select(1, 1), x.select(1, 0).square()], 1))
        }; // ∇(x²y)
        let swirl = |x: &Tensor| {
            let (a, b) = (x.select(1, 0) * PI, x.select(1, 1) * PI);
            Ok(Tensor::stack(&[a.sin() * b.cos() * PI, -(a.cos() * b.sin()) * PI], 1))
        };
        let both = |x: &Tensor| Ok(grad_field(x)? + swirl(x)?);
        let dev = Device::Cpu;
        let g = GridField::sample(&grad_field, (-1.0, 1.0), 41, dev).unwrap();
        let (pg, rel_g) = g.projected().unwrap();
        let e = (pg.values() - g.values()).abs().max().double_value(&[]);
        assert!(rel_g < 1e-2 && e < 0.06, "gradient: residual {rel_g}, max change {e}");
        let r = GridField::sample(&swirl, (-1.0, 1.0), 41, dev).unwrap();
        let (pr, rel_r) = r.projected().unwrap();
        let left = pr.values().abs().max().double_value(&[]) / r.values().abs().max().double_value(&[]);
        // what is left is discretisation, largest at the border (one-sided node gradients)
        assert!(rel_r > 0.99 && left < 0.1, "solenoidal field: residual {rel_r}, what is left {left}");
        let b = GridField::sample(&both, (-1.0, 1.0), 41, dev).unwrap();
        let (pb, _) = b.projected().unwrap();
        assert!((pb.values() - pg.values() - pr.values()).abs().max().double_value(&[]) < 1e-8);
        // bilinear interpolation is exact for a linear field
        let lin = |x: &Tensor| Ok(Tensor::stack(&[x.select(1, 0) * 3.0 - 1.0, x.select(1, 1) * -2.0], 1));
        let l = GridField::sample(&lin, (-1.0, 1.0), 11, dev).unwrap();
        let x = Tensor::from_slice(&[0.13f64, -0.71, -0.99, 0.5]).view([2, 2]);
        assert!((l.evaluate(&x).unwrap() - lin(&x).unwrap()).abs().max().double_value(&[]) < 1e-12);
        assert!(GridField::sample(&lin, (1.0, -1.0), 11, dev).is_err());
    }
}
