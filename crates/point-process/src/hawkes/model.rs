//! The multivariate Hawkes model and its history aggregators.

use super::kernel::Basis;
use crate::data::EventSequence;
use crate::error::{invalid, Error, Result};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Multivariate Hawkes process (tick's convention):
/// `λ_i(t) = μ_i + Σ_u Σ_j α^u_ij Σ_{t^j_k < t} k_u(t − t^j_k)`, with `k_u` of unit mass
/// ([`Basis`]); `α^u_ij` ("j excites i") is the mean number of type-i children of a type-j event
/// through basis `u`. The branching matrix is `A = Σ_u α^u`; the process is stationary iff its
/// spectral radius (the branching ratio) is < 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "HawkesFields")]
pub struct Hawkes {
    mu: Vec<f64>,
    alpha: Vec<DMatrix<f64>>,
    bases: Vec<Basis>,
}

/// The serialised fields of a [`Hawkes`] model, validated by [`Hawkes::new`] on the way in, so a
/// file cannot bring in negative baselines, mis-sized matrices or invalid kernels.
#[derive(Deserialize)]
struct HawkesFields {
    mu: Vec<f64>,
    alpha: Vec<DMatrix<f64>>,
    bases: Vec<Basis>,
}

impl TryFrom<HawkesFields> for Hawkes {
    type Error = Error;
    fn try_from(f: HawkesFields) -> Result<Self> {
        Hawkes::new(f.mu, f.alpha, f.bases)
    }
}

impl Hawkes {
    /// General constructor: baselines `mu [D]`, one `D × D` matrix per basis.
    pub fn new(mu: Vec<f64>, alpha: Vec<DMatrix<f64>>, bases: Vec<Basis>) -> Result<Self> {
        let d = mu.len();
        if d == 0 {
            return Err(invalid("mu", "[]", "need at least one dimension"));
        }
        if bases.is_empty() || alpha.len() != bases.len() {
            return Err(invalid(
                "alpha",
                format!("{} matrices", alpha.len()),
                &format!("need one per basis ({})", bases.len()),
            ));
        }
        for (i, m) in mu.iter().enumerate() {
            if !(m.is_finite() && *m >= 0.0) {
                return Err(invalid(&format!("mu[{i}]"), m, "must be finite and >= 0"));
            }
        }
        for (u, a) in alpha.iter().enumerate() {
            if a.nrows() != d || a.ncols() != d {
                return Err(invalid(
                    &format!("alpha[{u}]"),
                    format!("{}x{}", a.nrows(), a.ncols()),
                    &format!("must be {d}x{d}"),
                ));
            }
            if let Some(v) = a.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(invalid(&format!("alpha[{u}]"), v, "entries must be finite and >= 0"));
            }
        }
        for b in &bases {
            b.validate()?;
        }
        Ok(Hawkes { mu, alpha, bases })
    }
    /// Exponential kernels `α_ij β e^{−βt}` with one decay β.
    pub fn exponential(mu: Vec<f64>, alpha: DMatrix<f64>, beta: f64) -> Result<Self> {
        Self::new(mu, vec![alpha], vec![Basis::Exp { beta }])
    }
    /// Sums of exponentials `Σ_u α^u_ij β_u e^{−β_u t}`.
    pub fn sum_exp(mu: Vec<f64>, alphas: Vec<DMatrix<f64>>, betas: &[f64]) -> Result<Self> {
        Self::new(mu, alphas, betas.iter().map(|&beta| Basis::Exp { beta }).collect())
    }
    /// Power-law kernels `α_ij (p−1) c^{p−1} (t + c)^{−p}`.
    pub fn power_law(mu: Vec<f64>, alpha: DMatrix<f64>, c: f64, p: f64) -> Result<Self> {
        Self::new(mu, vec![alpha], vec![Basis::PowerLaw { c, p }])
    }
    /// A univariate exponential Hawkes process.
    pub fn univariate_exp(mu: f64, alpha: f64, beta: f64) -> Result<Self> {
        Self::exponential(vec![mu], DMatrix::from_element(1, 1, alpha), beta)
    }

    /// Dimension D.
    pub fn dim(&self) -> usize {
        self.mu.len()
    }
    /// Baselines μ.
    pub fn mu(&self) -> &[f64] {
        &self.mu
    }
    /// Excitation matrices, one per basis.
    pub fn alpha(&self) -> &[DMatrix<f64>] {
        &self.alpha
    }
    /// Kernel bases.
    pub fn bases(&self) -> &[Basis] {
        &self.bases
    }
    /// Whether every basis is exponential.
    pub fn all_exp(&self) -> bool {
        self.bases.iter().all(Basis::is_exp)
    }
    /// Branching matrix `A = Σ_u α^u`.
    pub fn branching_matrix(&self) -> DMatrix<f64> {
        self.alpha.iter().fold(DMatrix::zeros(self.dim(), self.dim()), |acc, a| acc + a)
    }
    /// Spectral radius of the branching matrix (the Perron root: A is non-negative).
    pub fn branching_ratio(&self) -> f64 {
        let a = self.branching_matrix();
        a.complex_eigenvalues().iter().map(|z| z.norm()).fold(0.0, f64::max)
    }
    /// Whether the process has a stationary version (branching ratio < 1).
    pub fn is_stationary(&self) -> bool {
        self.branching_ratio() < 1.0
    }
    /// Stationary mean intensity `(I − A)⁻¹ μ` (events per time unit per dimension).
    pub fn stationary_mean_intensity(&self) -> Result<Vec<f64>> {
        let r = self.branching_ratio();
        if r >= 1.0 {
            return Err(Error::NotStationary { ratio: r });
        }
        let a = DMatrix::<f64>::identity(self.dim(), self.dim()) - self.branching_matrix();
        let m =
            a.lu().solve(&DVector::from_column_slice(&self.mu)).ok_or(Error::NotStationary { ratio: r })?;
        Ok(m.iter().copied().collect())
    }
    /// Checks that a sequence has this model's dimension.
    pub(crate) fn check_seq(&self, seq: &EventSequence) -> Result<()> {
        if seq.num_marks() != self.dim() {
            return Err(invalid(
                "seq",
                format!("{} marks", seq.num_marks()),
                &format!("model has dimension {}", self.dim()),
            ));
        }
        Ok(())
    }

    /// Intensities `λ_i(t)` for every dimension at each grid time (`grid` sorted), given the events
    /// of `seq` strictly before each time. Returns `[len(grid)][D]`.
    pub fn intensity_grid(&self, seq: &EventSequence, grid: &[f64]) -> Result<Vec<Vec<f64>>> {
        self.check_seq(seq)?;
        if grid.windows(2).any(|w| !(w[0] <= w[1])) {
            return Err(invalid("grid", "unsorted", "grid times must be sorted"));
        }
        let d = self.dim();
        let mut aggs: Vec<Aggregator> = self.bases.iter().map(|b| Aggregator::new(*b, d)).collect();
        let mut sums = vec![0.0; d];
        let mut out = Vec::with_capacity(grid.len());
        let mut k = 0;
        for &t in grid {
            while k < seq.len() && seq.times()[k] < t {
                for a in aggs.iter_mut() {
                    a.advance(seq.times()[k]);
                    a.add(seq.marks()[k]);
                }
                k += 1;
            }
            let mut lam = self.mu.clone();
            for (u, a) in aggs.iter_mut().enumerate() {
                a.advance(t);
                a.density_sums(&mut sums);
                for (i, l) in lam.iter_mut().enumerate() {
                    *l += (0..d).map(|j| self.alpha[u][(i, j)] * sums[j]).sum::<f64>();
                }
            }
            out.push(lam);
        }
        Ok(out)
    }
}

/// Running sums over past events for one basis, per source dimension `j`, at the current time `t`:
/// `Σ k(t − t_l)`, `Σ ∂k/∂θ(t − t_l)` and `Σ K(t − t_l)` over past events of type `j`.
/// Exponential bases use O(1) recursions; other bases keep the events and sum directly.
#[derive(Debug, Clone)]
pub(crate) enum Aggregator {
    Exp {
        beta: f64,
        t: f64,
        /// Σ e^{−βΔ}
        e: Vec<f64>,
        /// Σ Δ e^{−βΔ}
        f: Vec<f64>,
        /// event counts
        n: Vec<f64>,
    },
    Direct {
        basis: Basis,
        t: f64,
        events: Vec<(f64, usize)>,
        d: usize,
    },
}

impl Aggregator {
    pub(crate) fn new(basis: Basis, d: usize) -> Self {
        match basis {
            Basis::Exp { beta } => Aggregator::Exp {
                beta,
                t: f64::NEG_INFINITY,
                e: vec![0.0; d],
                f: vec![0.0; d],
                n: vec![0.0; d],
            },
            b => Aggregator::Direct { basis: b, t: f64::NEG_INFINITY, events: Vec::new(), d },
        }
    }
    /// Moves the current time forward to `t`.
    pub(crate) fn advance(&mut self, t_new: f64) {
        match self {
            Aggregator::Exp { beta, t, e, f, .. } => {
                if t.is_finite() && t_new > *t {
                    let dt = t_new - *t;
                    let decay = (-*beta * dt).exp();
                    for (ej, fj) in e.iter_mut().zip(f.iter_mut()) {
                        *fj = decay * (*fj + dt * *ej);
                        *ej *= decay;
                    }
                }
                *t = t_new;
            }
            Aggregator::Direct { t, .. } => *t = t_new,
        }
    }
    /// Adds an event of type `j` at the current time.
    pub(crate) fn add(&mut self, j: usize) {
        match self {
            Aggregator::Exp { e, n, .. } => {
                e[j] += 1.0;
                n[j] += 1.0;
            }
            Aggregator::Direct { t, events, .. } => events.push((*t, j)),
        }
    }
    /// `out[j] = Σ k(t − t_l)`.
    pub(crate) fn density_sums(&self, out: &mut [f64]) {
        match self {
            Aggregator::Exp { beta, e, .. } => {
                for (o, ej) in out.iter_mut().zip(e) {
                    *o = beta * ej;
                }
            }
            Aggregator::Direct { basis, t, events, .. } => {
                out.iter_mut().for_each(|o| *o = 0.0);
                for &(s, j) in events {
                    out[j] += basis.density(t - s);
                }
            }
        }
    }
    /// `out[j][p] = Σ ∂k/∂θ_p(t − t_l)`.
    pub(crate) fn density_grad_sums(&self, out: &mut [Vec<f64>]) {
        match self {
            Aggregator::Exp { beta, e, f, .. } => {
                for (j, o) in out.iter_mut().enumerate() {
                    o[0] = e[j] - beta * f[j];
                }
            }
            Aggregator::Direct { basis, t, events, .. } => {
                let mut g = vec![0.0; basis.num_params()];
                out.iter_mut().for_each(|o| o.iter_mut().for_each(|v| *v = 0.0));
                for &(s, j) in events {
                    basis.density_grad(t - s, &mut g);
                    for (o, gv) in out[j].iter_mut().zip(&g) {
                        *o += gv;
                    }
                }
            }
        }
    }
    /// `out[j] = Σ K(t − t_l)`.
    pub(crate) fn cdf_sums(&self, out: &mut [f64]) {
        match self {
            Aggregator::Exp { e, n, .. } => {
                for j in 0..out.len() {
                    out[j] = n[j] - e[j];
                }
            }
            Aggregator::Direct { basis, t, events, d } => {
                debug_assert_eq!(out.len(), *d);
                out.iter_mut().for_each(|o| *o = 0.0);
                for &(s, j) in events {
                    out[j] += basis.cdf(t - s);
                }
            }
        }
    }
    /// `out[j][p] = Σ ∂K/∂θ_p(t − t_l)`.
    pub(crate) fn cdf_grad_sums(&self, out: &mut [Vec<f64>]) {
        match self {
            Aggregator::Exp { f, .. } => {
                for (j, o) in out.iter_mut().enumerate() {
                    o[0] = f[j];
                }
            }
            Aggregator::Direct { basis, t, events, .. } => {
                let mut g = vec![0.0; basis.num_params()];
                out.iter_mut().for_each(|o| o.iter_mut().for_each(|v| *v = 0.0));
                for &(s, j) in events {
                    basis.cdf_grad(t - s, &mut g);
                    for (o, gv) in out[j].iter_mut().zip(&g) {
                        *o += gv;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn branching_and_validation() {
        let a = DMatrix::from_row_slice(2, 2, &[0.2, 0.3, 0.1, 0.4]);
        let h = Hawkes::exponential(vec![0.5, 1.0], a, 2.0).unwrap();
        // eigenvalues of [[.2,.3],[.1,.4]]: (0.6 ± √(0.04+0.12))/2 = 0.5, 0.1
        assert_relative_eq!(h.branching_ratio(), 0.5, max_relative = 1e-12);
        let m = h.stationary_mean_intensity().unwrap();
        // (I − A)⁻¹ μ with I − A = [[.8,−.3],[−.1,.6]], det .45
        assert_relative_eq!(m[0], (0.6 * 0.5 + 0.3 * 1.0) / 0.45, max_relative = 1e-12);
        assert_relative_eq!(m[1], (0.1 * 0.5 + 0.8 * 1.0) / 0.45, max_relative = 1e-12);
        let e = Hawkes::exponential(vec![-0.5], DMatrix::zeros(1, 1), 1.0).unwrap_err().to_string();
        assert!(e.contains("mu[0]"), "{e}");
        assert!(Hawkes::exponential(vec![0.5], DMatrix::zeros(2, 2), 1.0).is_err());
        assert!(Hawkes::univariate_exp(0.5, 0.1, 0.0).is_err());
        let sup = Hawkes::univariate_exp(0.5, 1.2, 1.0).unwrap();
        assert!(matches!(sup.stationary_mean_intensity(), Err(Error::NotStationary { .. })));
    }

    /// A model read from a file goes through [`Hawkes::new`]: a tampered baseline, a missing
    /// matrix or a non-positive decay is an error naming the field, not a model that fails later.
    #[test]
    fn deserialised_models_are_validated() {
        let a = DMatrix::from_row_slice(2, 2, &[0.2, 0.3, 0.1, 0.4]);
        let h = Hawkes::exponential(vec![0.5, 1.0], a, 2.0).unwrap();
        let good = serde_json::to_value(&h).unwrap();
        assert_eq!(serde_json::from_value::<Hawkes>(good.clone()).unwrap(), h);
        let tampered = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            serde_json::from_value::<Hawkes>(v).unwrap_err().to_string()
        };
        let e = tampered(&|v| v["mu"][1] = serde_json::json!(-1.0));
        assert!(e.contains("mu[1]"), "{e}");
        let e = tampered(&|v| v["alpha"] = serde_json::json!([]));
        assert!(e.contains("alpha"), "{e}");
        let e = tampered(&|v| v["bases"][0]["beta"] = serde_json::json!(0.0));
        assert!(e.contains("beta"), "{e}");
        let e = tampered(&|v| v["mu"] = serde_json::json!([]));
        assert!(e.contains("mu"), "{e}");
    }

    #[test]
    fn intensity_grid_matches_direct_sum() {
        let a = DMatrix::from_row_slice(2, 2, &[0.2, 0.3, 0.1, 0.4]);
        for h in [
            Hawkes::exponential(vec![0.5, 1.0], a.clone(), 2.0).unwrap(),
            Hawkes::power_law(vec![0.5, 1.0], a.clone(), 0.5, 2.5).unwrap(),
        ] {
            let s = EventSequence::new(vec![0.3, 1.0, 1.7], Some(vec![0, 1, 0]), 2, 0.0, 3.0).unwrap();
            let grid = [0.0, 0.3, 0.5, 1.0, 2.5];
            let lam = h.intensity_grid(&s, &grid).unwrap();
            for (g, &t) in grid.iter().enumerate() {
                for i in 0..2 {
                    let mut direct = h.mu()[i];
                    for (tk, m) in s.iter().filter(|(tk, _)| *tk < t) {
                        direct += h.alpha()[0][(i, m)] * h.bases()[0].density(t - tk);
                    }
                    assert_relative_eq!(lam[g][i], direct, max_relative = 1e-12);
                }
            }
        }
    }
}
