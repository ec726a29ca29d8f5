//! Maximum-likelihood training of a [`Cnf`] (FFJORD, Grathwohl et al. 2019) with the RNODE
//! regularisers (Finlay et al. 2020, "How to train your neural ODE"):
//!
//! `L = (1/B) Σ_b [ −log p(x_b) + λ_K ∫_0^1 ‖f(t, z_b)‖² dt + λ_J ∫_0^1 ‖∂f/∂z(t, z_b)‖²_F dt ]`
//!
//! The two integrals ride along the solve as extra state channels, so one forward solve gives the
//! likelihood and both penalties, and any [`Gradient`] strategy (backpropagation through the
//! solver, recomputation, binomial checkpointing, the continuous adjoint) differentiates the lot.
//! The Jacobian norm uses the same probe as the trace: `‖εᵀ ∂f/∂z‖²` is an unbiased estimate of
//! `‖∂f/∂z‖²_F` for Rademacher `ε`; with [`Trace::Exact`](super::Trace::Exact) it is exact.
//! Penalising kinetic energy favours straight, constant-speed paths, which adaptive solvers
//! integrate in fewer steps.

use super::{standard_normal_log_density, Cnf, CnfTerm, PENALTY_SCALE};
use crate::adjoint::{solve_backward, Gradient};
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::solver::{Solver, Stats};
use tch::Tensor;

/// RNODE's regularisation weights (0 and 0: plain FFJORD).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rnode {
    /// `λ_K`, the weight of the kinetic energy `∫ ‖f‖² dt`.
    pub kinetic: f64,
    /// `λ_J`, the weight of the Jacobian norm `∫ ‖∂f/∂z‖²_F dt`.
    pub jacobian: f64,
}

impl Rnode {
    /// No regularisation.
    pub const NONE: Rnode = Rnode { kinetic: 0.0, jacobian: 0.0 };

    /// Both weights equal to `lambda` (the paper's choice).
    pub fn both(lambda: f64) -> Self {
        Rnode { kinetic: lambda, jacobian: lambda }
    }

    fn is_active(self) -> bool {
        self.kinetic != 0.0 || self.jacobian != 0.0
    }
}

/// What one training step measured (batch means, before the update).
#[derive(Debug, Clone, PartialEq)]
pub struct CnfStep {
    /// The loss `NLL + λ_K K + λ_J J`.
    pub loss: f64,
    /// `−(1/B) Σ log p(x_b)` in nats (Hutchinson's estimate when the flow uses it).
    pub nll: f64,
    /// `(1/B) Σ ∫ ‖f‖² dt`, when regularised.
    pub kinetic: Option<f64>,
    /// `(1/B) Σ ∫ ‖∂f/∂z‖²_F dt` (estimate), when regularised.
    pub jacobian: Option<f64>,
    /// Counters of the forward solve.
    pub forward: Stats,
    /// Counters of the backward pass (zero for backpropagation).
    pub backward: Stats,
}

impl Cnf {
    /// One maximum-likelihood step on the batch `x [B, D]`: solves the augmented state forward
    /// over `[0, 1]`, and accumulates `∂L/∂θ` into the `.grad` of `params` with `gradient`
    /// (return [`StepOutput::Gradients`](core_tensor::train::StepOutput::Gradients) of
    /// [`CnfStep::loss`] to a [`Trainer`](core_tensor::train::Trainer) step closure).
    ///
    /// # Errors
    /// `x` not `[B, D]`; non-finite or negative weights; every error of the solves.
    pub fn train_step(
        &self,
        x: &Tensor,
        params: &[Tensor],
        solver: &dyn Solver<Tensor>,
        control: &StepControl,
        gradient: &Gradient,
        rnode: Rnode,
    ) -> Result<CnfStep> {
        for (name, w) in [("rnode.kinetic", rnode.kinetic), ("rnode.jacobian", rnode.jacobian)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(invalid(name, w, "must be finite and >= 0"));
            }
        }
        let (b, d) = self.prepare(x)?;
        let reg = rnode.is_active();
        let extra = if reg { 3 } else { 1 };
        let opts = (x.kind(), x.device());
        let y0 = Tensor::cat(&[x.detach(), Tensor::zeros([b, extra], opts)], 1);
        let term = CnfTerm { cnf: self, regularise: reg };
        let bf = b as f64;
        let (y1, _, forward, backward) =
            solve_backward(&term, params, solver, (0.0, 1.0), &y0, control, gradient, |y1| {
                // L = mean(½‖z‖² − ∫tr) + λ_K mean(K) + λ_J mean(J) + const
                let mut cot = vec![y1.narrow(1, 0, d) / bf, Tensor::full([b, 1], -1.0 / bf, opts)];
                if reg {
                    cot.push(Tensor::full([b, 1], rnode.kinetic / (bf * PENALTY_SCALE), opts));
                    cot.push(Tensor::full([b, 1], rnode.jacobian / (bf * PENALTY_SCALE), opts));
                }
                Ok(Tensor::cat(&cot, 1))
            })?;
        let mean = |t: Tensor| t.mean(tch::Kind::Double).double_value(&[]);
        let nll = -mean(standard_normal_log_density(&y1.narrow(1, 0, d)) + y1.select(1, d));
        let (kinetic, jacobian) = if reg {
            let unscaled = |k: i64| Some(mean(y1.select(1, k)) / PENALTY_SCALE);
            (unscaled(d + 1), unscaled(d + 2))
        } else {
            (None, None)
        };
        let loss = nll + rnode.kinetic * kinetic.unwrap_or(0.0) + rnode.jacobian * jacobian.unwrap_or(0.0);
        Ok(CnfStep { loss, nll, kinetic, jacobian, forward, backward })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnf::Trace;
    use crate::solver::ExplicitRk;
    use core_tensor::train::zero_grads;
    use tch::{nn, Device, Kind};

    fn flow(trace: Trace) -> (nn::VarStore, Cnf) {
        core_tensor::seed::seed_torch(11);
        let mut vs = nn::VarStore::new(Device::Cpu);
        let cnf = Cnf::new(&vs.root(), 2, &[8, 8], trace).unwrap();
        vs.double();
        (vs, cnf)
    }

    /// The regularised loss's gradient from every strategy agrees with central finite differences
    /// of the loss: exactly (to rounding) for the discrete strategies on a constant-step solve,
    /// and to the solve's tolerance for the continuous adjoint. The Hutchinson probe is the same in
    /// every evaluation (the generator is reseeded), so the estimate is a fixed function of θ.
    #[test]
    fn every_strategy_gives_the_finite_difference_gradient() {
        for trace in [Trace::Exact, Trace::Hutchinson] {
            let (vs, cnf) = flow(trace);
            let params = vs.trainable_variables();
            let x = Tensor::from_slice(&[0.3f64, -1.2, 1.5, 0.4, -0.7, 0.9]).view([3, 2]);
            let rnode = Rnode { kinetic: 0.3, jacobian: 0.2 };
            let rk4 = StepControl::constant(0.1);
            let tight = StepControl::adaptive(1e-11, 1e-11);
            let loss_at = |solver: &dyn Solver<Tensor>, c: &StepControl| {
                core_tensor::seed::seed_torch(5);
                let s = cnf.train_step(&x, &params, solver, c, &Gradient::Backprop, rnode).unwrap();
                zero_grads(&params);
                s.loss
            };
            // finite differences on three entries of the first weight matrix
            let w = &params[0];
            let entries = [0i64, 3, 7];
            let fd = |solver: &dyn Solver<Tensor>, c: &StepControl| -> Vec<f64> {
                let flat = w.view([-1]);
                entries
                    .iter()
                    .map(|&i| {
                        let h = 1e-6;
                        let v = flat.double_value(&[i]);
                        tch::no_grad(|| {
                            let _ = flat.get(i).fill_(v + h);
                        });
                        let up = loss_at(solver, c);
                        tch::no_grad(|| {
                            let _ = flat.get(i).fill_(v - h);
                        });
                        let down = loss_at(solver, c);
                        tch::no_grad(|| {
                            let _ = flat.get(i).fill_(v);
                        });
                        (up - down) / (2.0 * h)
                    })
                    .collect()
            };
            let grad_of = |solver: &dyn Solver<Tensor>, c: &StepControl, g: &Gradient| -> Vec<f64> {
                zero_grads(&params);
                core_tensor::seed::seed_torch(5);
                cnf.train_step(&x, &params, solver, c, g, rnode).unwrap();
                let gw = w.grad().view([-1]);
                let out = entries.iter().map(|&i| gw.double_value(&[i])).collect();
                zero_grads(&params);
                out
            };
            let (rk, dp) = (ExplicitRk::rk4(), ExplicitRk::dopri5());
            let fd_rk = fd(&rk, &rk4);
            let fd_dp = fd(&dp, &tight);
            assert!(fd_rk.iter().all(|v| v.abs() > 1e-4), "{fd_rk:?}");
            let cases: [(&str, Vec<f64>, &Vec<f64>, f64); 4] = [
                ("backprop", grad_of(&rk, &rk4, &Gradient::Backprop), &fd_rk, 1e-6),
                ("recompute", grad_of(&rk, &rk4, &Gradient::Recompute), &fd_rk, 1e-6),
                (
                    "checkpointed",
                    grad_of(&rk, &rk4, &Gradient::Checkpointed { checkpoints: 2 }),
                    &fd_rk,
                    1e-6,
                ),
                (
                    "adjoint",
                    grad_of(&dp, &tight, &Gradient::Adjoint { rtol: 1e-11, atol: 1e-11, seminorm: false }),
                    &fd_dp,
                    1e-5,
                ),
            ];
            for (name, g, fd, tol) in cases {
                for (a, b) in g.iter().zip(fd.iter()) {
                    assert!((a - b).abs() <= tol * b.abs().max(1e-2), "{trace:?} {name}: {a} vs fd {b}");
                }
            }
        }
    }

    /// The reported penalties are the integrals of ‖f‖² and of the Jacobian's squared Frobenius
    /// norm: for a flow with a known velocity they are checked by quadrature of `velocity` and
    /// of the Jacobian built row by row; weights that are negative or NaN are refused.
    #[test]
    fn penalties_are_the_integrals_they_name() {
        let (vs, cnf) = flow(Trace::Exact);
        let params = vs.trainable_variables();
        let x = Tensor::from_slice(&[0.5f64, -0.5]).view([1, 2]);
        let c = StepControl::adaptive(1e-10, 1e-10);
        let s = cnf
            .train_step(&x, &params, &ExplicitRk::dopri5(), &c, &Gradient::Backprop, Rnode::both(1.0))
            .unwrap();
        zero_grads(&params);
        // trapezoid along the solved path z(t) with 400 constant RK4 steps
        let n = 400;
        let dt = 1.0 / n as f64;
        let mut z = x.shallow_clone();
        let (mut k_int, mut j_int) = (0.0, 0.0);
        for i in 0..=n {
            let t = i as f64 * dt;
            let w = if i == 0 || i == n { 0.5 } else { 1.0 };
            let zr = z.detach().set_requires_grad(true);
            let f = tch::with_grad(|| cnf.velocity(t, &zr));
            k_int += w * dt * f.square().sum(Kind::Double).double_value(&[]);
            for k in 0..2 {
                let g = tch::with_grad(|| {
                    Tensor::run_backward(&[f.select(1, k).sum(Kind::Double)], &[&zr], true, false)
                });
                j_int += w * dt * g[0].square().sum(Kind::Double).double_value(&[]);
            }
            if i < n {
                z = tch::no_grad(|| {
                    let f = |t: f64, z: &Tensor| cnf.velocity(t, z);
                    let k1 = f(t, &z);
                    let k2 = f(t + dt / 2.0, &(&z + &k1 * (dt / 2.0)));
                    let k3 = f(t + dt / 2.0, &(&z + &k2 * (dt / 2.0)));
                    let k4 = f(t + dt, &(&z + &k3 * dt));
                    &z + (k1 + k2 * 2.0 + k3 * 2.0 + k4) * (dt / 6.0)
                });
            }
        }
        let (k, j) = (s.kinetic.unwrap(), s.jacobian.unwrap());
        assert!((k - k_int).abs() < 1e-5 * k_int.max(1.0), "kinetic {k} vs {k_int}");
        assert!((j - j_int).abs() < 1e-5 * j_int.max(1.0), "jacobian {j} vs {j_int}");
        assert!((s.loss - (s.nll + k + j)).abs() < 1e-12);
        for bad in [Rnode { kinetic: -1.0, jacobian: 0.0 }, Rnode { kinetic: 0.0, jacobian: f64::NAN }] {
            assert!(cnf
                .train_step(&x, &params, &ExplicitRk::dopri5(), &c, &Gradient::Backprop, bad)
                .is_err());
        }
    }
}
