//! The reference ETAS models of the benchmark suite (truth and fitting start), shared by the
//! ETAS and neural-TPP experiments.

use super::model::{Etas, EtasParams};
use crate::error::Result;

/// The benchmark's kernels (`a` 1, `c` 10⁻² d, `ω` 0.2, `τ` 10^1.5 d, `d` 10^−0.5 km², `γ` 0.5,
/// `ρ` 0.6) with background rate `10^log10_mu` and productivity `10^log10_k0`.
pub fn benchmark_params(log10_mu: f64, log10_k0: f64) -> EtasParams {
    EtasParams {
        log10_mu,
        log10_k0,
        a: 1.0,
        log10_c: -2.0,
        omega: 0.2,
        log10_tau: 1.5,
        log10_d: -0.5,
        gamma: 0.5,
        rho: 0.6,
    }
}

/// The benchmark suite's ETAS model (Mc 3, b 1) with background rate `10^log10_mu` (per day per
/// km² when `spatial`, per day otherwise) and k0 set for a branching ratio of 0.6.
pub fn benchmark_truth(log10_mu: f64, spatial: bool) -> Result<Etas> {
    let p = benchmark_params(log10_mu, 0.0);
    let make = |p| if spatial { Etas::new(p, 3.0, 1.0) } else { Etas::temporal(p, 3.0, 1.0) };
    let k0 = 0.6 / make(p)?.branching_ratio();
    make(EtasParams { log10_k0: k0.log10(), ..p })
}

/// The benchmark fits' starting point, away from [`benchmark_truth`] (background rate
/// `10^log10_mu`, b-value `b_value`).
pub fn benchmark_start(log10_mu: f64, spatial: bool, b_value: f64) -> Result<Etas> {
    let p = EtasParams::fit_start(log10_mu);
    if spatial {
        Etas::new(p, 3.0, b_value)
    } else {
        Etas::temporal(p, 3.0, b_value)
    }
}
