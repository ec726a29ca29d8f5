//! Solver statistics pinned by a snapshot: function evaluations, attempted, accepted and rejected
//! steps and the error at t1 of every solver on every canonical problem at rtol = atol = 1e-6
//! (Robertson: atol 1e-10). A change to a tableau, the PID controller, the initial step or the
//! Newton iteration of the implicit solvers shows up here as a diff to review, not as a silent
//! shift of the work-precision plots.

use nalgebra::DVector;
use neural_diffeq::controller::{PidController, StepControl};
use neural_diffeq::problems;
use neural_diffeq::solve::{solve, SaveAt};
use neural_diffeq::solver::{Esdirk, ExplicitRk, Solver};
use std::fmt::Write as _;

#[test]
fn solver_statistics_on_the_canonical_problems() {
    let tol = 1e-6;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<9} {:>7} {:>6} {:>8} {:>8} {:>9}",
        "problem", "solver", "nfe", "steps", "accepted", "rejected", "error"
    );
    for p in problems::all().unwrap() {
        let atol = if p.name == "robertson" { tol * 1e-4 } else { tol };
        let solvers: Vec<Box<dyn Solver<DVector<f64>>>> = if p.stiff {
            [Esdirk::kvaerno3(tol, atol), Esdirk::kvaerno5(tol, atol)]
                .into_iter()
                .map(|mut e| {
                    if let Some(j) = p.jacobian {
                        e = e.with_jacobian(Box::new(move |t, y| Ok(j(t, y))));
                    }
                    Box::new(e) as Box<dyn Solver<DVector<f64>>>
                })
                .collect()
        } else {
            ["bosh3", "dopri5", "tsit5", "dopri8"]
                .into_iter()
                .map(|n| Box::new(ExplicitRk::by_name(n).unwrap()) as Box<dyn Solver<DVector<f64>>>)
                .collect()
        };
        for s in &solvers {
            let c = StepControl::Adaptive(PidController::new(tol, atol).max_steps(2_000_000));
            let sol = solve(&p.term(), s.as_ref(), (p.t0, p.t1), &p.y0, &c, &SaveAt::t1()).unwrap();
            let err = p.error(sol.last().unwrap());
            let st = &sol.stats;
            // the error to two significant digits: below that, libm and summation order differ
            // between platforms
            let _ = writeln!(
                out,
                "{:<18} {:<9} {:>7} {:>6} {:>8} {:>8} {:>9.1e}",
                p.name,
                s.name(),
                st.nfe,
                st.steps,
                st.accepted,
                st.rejected,
                err
            );
        }
    }
    insta::assert_snapshot!(out);
}
