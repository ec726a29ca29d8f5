//! Property tests: `solve` and `sdeint` take arbitrary spans (finite or not), tolerances, step
//! sizes, step budgets and save times and return a solution or a clear `Err` — never a panic or a
//! hang. A solution that comes back is finite and reaches `t1`.
//!
//! Legal but slow requests (10⁴ to 10⁹ constant steps) are left out; everything else, including
//! step counts beyond the budget, is tried. `PROPTEST_CASES` sets the cases per property (256).

use nalgebra::DVector;
use neural_diffeq::prelude::*;
use neural_diffeq::problems;
use neural_diffeq::sde::solve::sdeint;
use neural_diffeq::sde::solver::{EulerMaruyama, Heun};
use neural_diffeq::sde::term::{FnSde, Noise};
use neural_diffeq::sde::VirtualBrownianTree;
use proptest::prelude::*;
use tch::{Device, Kind, Tensor};

/// Any float, with the awkward ones well represented.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(1e17),
        -3.0..3.0f64,
    ]
}

/// A step control: constant (any dt) or adaptive (any tolerances, a small step budget).
fn control() -> impl Strategy<Value = (StepControl, f64)> {
    prop_oneof![
        any_f64().prop_map(|dt| (StepControl::constant(dt), dt)),
        (any_f64(), any_f64(), 1usize..500, any_f64()).prop_map(|(rtol, atol, n, dtmin)| {
            (StepControl::Adaptive(PidController::new(rtol, atol).max_steps(n).dtmin(dtmin.abs())), f64::NAN)
        }),
    ]
}

/// Whether a constant step needs between 10⁴ and 10⁹ steps (allowed, but minutes in a test).
fn slow(span: (f64, f64), dt: f64) -> bool {
    let n = ((span.1 - span.0) / dt).abs();
    n > 1e4 && n <= 1e9
}

fn save_at() -> impl Strategy<Value = SaveAt> {
    prop_oneof![
        Just(SaveAt::t1()),
        Just(SaveAt::every_step()),
        proptest::collection::vec(any_f64(), 0..4).prop_map(SaveAt::ts),
    ]
}

proptest! {
    #[test]
    fn ode_solve_is_total(t0 in any_f64(), t1 in any_f64(), (ctl, dt) in control(), saveat in save_at(), explicit in any::<bool>()) {
        prop_assume!(!slow((t0, t1), dt));
        let p = problems::linear();
        let solver: Box<dyn Solver<DVector<f64>>> =
            if explicit { Box::new(ExplicitRk::dopri5()) } else { Box::new(Esdirk::kvaerno3(1e-8, 1e-8)) };
        let term = p.term();
        let finite = solve(&term, solver.as_ref(), (t0, t1), &p.y0, &ctl, &saveat)
            .map(|sol| sol.ys.iter().all(|y| y.iter().all(|v| v.is_finite())));
        prop_assert!(finite.unwrap_or(true));
    }

    #[test]
    fn sdeint_is_total(t0 in any_f64(), t1 in any_f64(), tol in any_f64(), (ctl, dt) in control(), saveat in save_at(), seed in any::<u64>(), heun in any::<bool>()) {
        prop_assume!(!slow((t0, t1), dt));
        let y0 = Tensor::ones([2, 1], (Kind::Double, Device::Cpu));
        let Ok(tree) = VirtualBrownianTree::new(t0, t1, tol, &[2, 1], seed, Kind::Double, Device::Cpu) else {
            return Ok(());
        };
        let term = FnSde { f: |_t, y: &Tensor| Ok(y * -0.5), g: |_t, y: &Tensor| Ok(y * 0.2), noise: Noise::Diagonal };
        let solver: &dyn neural_diffeq::sde::solver::SdeSolver = if heun { &Heun } else { &EulerMaruyama };
        if let Ok(sol) = sdeint(&term, solver, (t0, t1), &y0, &tree, &ctl, &saveat) {
            for y in &sol.ys {
                prop_assert!(tch::no_grad(|| y.isfinite().all().int64_value(&[])) == 1);
            }
        }
    }
}
