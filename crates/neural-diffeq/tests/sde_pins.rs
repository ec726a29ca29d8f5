//! SDE step sequences pinned by a snapshot: accepted and rejected steps, the step times and the
//! final states of the adaptive stepper on a virtual Brownian tree, and of every fixed-step solver
//! on a Brownian path, on geometric Brownian motion. A change to the step-size control, the tree or
//! a solver's arithmetic shows up as a diff to review (the last printed digit of a sum may differ
//! across platforms; on one machine the output is exact).

use neural_diffeq::controller::{PidController, StepControl};
use neural_diffeq::sde::*;
use neural_diffeq::solve::SaveAt;
use std::fmt::Write as _;
use tch::{Device, Kind, Tensor};

fn gbm() -> impl SdeTerm {
    FnSde { f: |_t, y: &Tensor| Ok(y * 0.5), g: |_t, y: &Tensor| Ok(y * 0.3), noise: Noise::Diagonal }
}

fn sum(x: &Tensor) -> f64 {
    x.sum(Kind::Double).double_value(&[])
}

#[test]
fn sde_step_sequences() {
    let mut out = String::new();
    let b = 16;
    let y0 = Tensor::ones([b, 1], (Kind::Double, Device::Cpu));
    let tree = VirtualBrownianTree::new(0.0, 1.0, 1e-7, &[b, 1], 21, Kind::Double, Device::Cpu).unwrap();
    for tol in [1e-2, 1e-3] {
        let pid = PidController::new(tol, tol).dt0(0.01).dtmin(1e-10).factors(0.2, 5.0);
        let control = StepControl::Adaptive(pid);
        let sol =
            sdeint(&gbm(), &Milstein::default(), (0.0, 1.0), &y0, &tree, &control, &SaveAt::every_step())
                .unwrap();
        let ts: Vec<String> = sol.ts.iter().take(6).map(|t| format!("{t:.12}")).collect();
        let _ = writeln!(
            out,
            "adaptive milstein tol {tol:e}: {} accepted, {} rejected, first times [{}], sum y(1) {:.12}",
            sol.ts.len() - 1,
            sol.stats.rejected,
            ts.join(", "),
            sum(sol.ys.last().unwrap())
        );
    }
    let path = BrownianPath::new(0.0, 0.05, 20, &[b, 1], 5, Kind::Double, Device::Cpu).unwrap();
    let solvers: Vec<Box<dyn SdeSolver>> = vec![
        Box::new(EulerMaruyama),
        Box::new(Milstein::default()),
        Box::new(Milstein { stratonovich: true }),
        Box::new(Heun),
        Box::new(EulerHeun),
    ];
    for s in &solvers {
        let ys = sdeint_on_grid(&gbm(), s.as_ref(), &y0, &path, &SaveAt::every_step()).unwrap().ys;
        let _ = writeln!(out, "fixed {:<22} sum y(1) {:.12}", s.name(), sum(ys.last().unwrap()));
    }
    insta::assert_snapshot!(out);
}
