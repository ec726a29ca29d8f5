//! Solver-heuristic regularisers of "Opening the Blackbox" (Pal et al. 2021), differentiable
//! through a backpropagated solve (keep the steps with [`SaveAt::with_steps`](crate::solve::SaveAt::with_steps)).
//!
//! - ERNODE: `R_E = Σ_steps ‖ê_j‖ · |h_j|`, the local error estimates weighted by the step sizes.
//! - SRNODE: `R_S = Σ_steps ‖k_7 − k_6‖ / ‖y_7 − y_6‖`, Dopri5's stiffness estimate from its last two
//!   stages (both evaluated at `t + h`).
//!
//! Adding `λ R` to the loss steers training towards vector fields that an adaptive solver integrates
//! in fewer steps.

use crate::error::{invalid, Result};
use crate::solve::Solution;
use tch::Tensor;

fn rms(x: &Tensor) -> Tensor {
    x.square().mean(x.kind()).sqrt()
}

/// `Σ_j ‖ê_j‖_RMS · |h_j|` over the accepted steps.
pub fn error_regulariser(sol: &Solution<Tensor>) -> Result<Tensor> {
    let mut terms = Vec::with_capacity(sol.steps.len());
    for s in &sol.steps {
        let e = s
            .step
            .err
            .as_ref()
            .ok_or_else(|| invalid("solver", "no error estimate", "ERNODE needs an adaptive method"))?;
        terms.push(rms(e) * s.h.abs());
    }
    if terms.is_empty() {
        return Err(invalid("solution", "no steps", "solve with SaveAt::with_steps()"));
    }
    let terms = Tensor::stack(&terms, 0);
    Ok(terms.sum(terms.kind()))
}

/// `Σ_j ‖k_7 − k_6‖ / ‖y_7 − y_6‖` over the accepted steps of a Dopri5 solve.
pub fn stiffness_regulariser(sol: &Solution<Tensor>) -> Result<Tensor> {
    let mut terms = Vec::with_capacity(sol.steps.len());
    for s in &sol.steps {
        let st = &s.step;
        if st.ks.len() != 7 || st.stage_ys.len() != 7 {
            return Err(invalid(
                "solver",
                format!("{} stages", st.ks.len()),
                "SRNODE needs Dopri5 with stages kept",
            ));
        }
        let num = rms(&(&st.ks[6] - &st.ks[5]));
        let den = rms(&(&st.stage_ys[6] - &st.stage_ys[5])) + 1e-12;
        terms.push(num / den);
    }
    if terms.is_empty() {
        return Err(invalid("solution", "no steps", "solve with SaveAt::with_steps()"));
    }
    let terms = Tensor::stack(&terms, 0);
    Ok(terms.sum(terms.kind()))
}
