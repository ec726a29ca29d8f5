//! Neural differential-equation models.

pub mod cnf;
pub mod langevin_flow;
pub mod latent_sde;
pub mod neural_ode;
pub mod neural_sde;
pub mod stable_sde;

pub use cnf::{Cnf, Trace};
pub use langevin_flow::LangevinFlow;
pub use latent_sde::{LatentSde, LatentSdeConfig};
pub use neural_ode::{NeuralOde, NeuralOdeConfig};
pub use neural_sde::NeuralSde;
pub use stable_sde::{StableKind, StableSde};

/// The step `(t₁ − t₀)/substeps` of observation times `ts` that a fixed-step solver can step
/// through: finite, strictly increasing and evenly spaced (to 1e-9 relative), else an error naming
/// `ts` — irregular times are refused, never silently put on a grid.
pub(crate) fn even_grid_step(ts: &[f64], substeps: usize) -> crate::Result<f64> {
    use crate::error::invalid;
    if ts.len() < 2 || substeps == 0 {
        return Err(invalid("ts", format!("{} times", ts.len()), "need at least two times and substeps > 0"));
    }
    if ts.iter().any(|t| !t.is_finite()) || ts.windows(2).any(|w| !(w[0] < w[1])) {
        return Err(invalid(
            "ts",
            format!("{ts:?}"),
            "observation times must be finite and strictly increasing",
        ));
    }
    let dt0 = (ts[1] - ts[0]) / substeps as f64;
    if ts.windows(2).any(|w| ((w[1] - w[0]) / substeps as f64 - dt0).abs() > 1e-9 * dt0.abs().max(1.0)) {
        return Err(invalid(
            "ts",
            "irregular",
            "observation times must be evenly spaced for the fixed-step solver (irregular data: use the neural CDE with its count channels)",
        ));
    }
    Ok(dt0)
}
