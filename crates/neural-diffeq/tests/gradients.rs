//! The three gradient strategies agree on a neural ODE in f64.

use neural_diffeq::prelude::*;
use tch::{nn, Device, Kind, Tensor};

fn grads(vs: &nn::VarStore) -> Vec<Tensor> {
    core_tensor::train::optim::trainable_named(vs).into_iter().map(|(_, t)| t.grad().copy()).collect()
}

fn zero(vs: &nn::VarStore) {
    for (_, t) in core_tensor::train::optim::trainable_named(vs) {
        let mut g = t.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[]).max(1e-300)
}

#[test]
fn backprop_recompute_and_adjoint_agree() {
    core_tensor::seed::seed_torch(0);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let cfg =
        NeuralOdeConfig { dim: 2, hidden: vec![16, 16], time_input: true, augment: 1, ..Default::default() };
    let ode = NeuralOde::new(&vs.root(), cfg).unwrap();
    vs.double();
    let x0 = Tensor::randn([8, 2], (Kind::Double, Device::Cpu));
    let solver = ExplicitRk::dopri5();
    let control = StepControl::adaptive(1e-10, 1e-10);
    let loss_grad = |y: &Tensor| Ok(y.shallow_clone()); // L = ½ Σ y(1)²
    let mut results = Vec::new();
    for g in [
        Gradient::Backprop,
        Gradient::Recompute,
        Gradient::Adjoint { rtol: 1e-10, atol: 1e-10, seminorm: false },
        Gradient::Adjoint { rtol: 1e-10, atol: 1e-10, seminorm: true },
        Gradient::Checkpointed { checkpoints: 0 },
        Gradient::Checkpointed { checkpoints: 2 },
        Gradient::Checkpointed { checkpoints: 5 },
    ] {
        zero(&vs);
        let (y1, gy0, fwd, back) =
            ode.backward(&vs, &x0, (0.0, 1.0), &solver, &control, &g, loss_grad).unwrap();
        results.push((g, y1, gy0, grads(&vs), fwd, back));
    }
    // a cotangent of the wrong size is an error naming it
    let e = ode
        .backward(&vs, &x0, (0.0, 1.0), &solver, &control, &Gradient::Backprop, |y: &Tensor| {
            Ok(y.narrow(0, 0, 3))
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("loss_grad"), "{e}");
    let (_, y_ref, gy_ref, gp_ref, _, _) = &results[0];
    for (g, y1, gy0, gp, _, back) in &results[1..] {
        assert!(rel(y1, y_ref) < 1e-12, "{g:?}: y1 differs");
        let exact = matches!(g, Gradient::Recompute | Gradient::Checkpointed { .. });
        let tol = if exact { 1e-10 } else { 1e-6 };
        assert!(rel(gy0, gy_ref) < tol, "{g:?}: dL/dy0 relative error {}", rel(gy0, gy_ref));
        for (a, b) in gp.iter().zip(gp_ref) {
            assert!(rel(a, b) < tol, "{g:?}: dL/dθ relative error {}", rel(a, b));
        }
        assert!(back.nfe > 0 || matches!(g, Gradient::Backprop));
    }
    // binomial checkpointing replays every step once and recomputes the fewest steps its
    // checkpoints allow
    for (g, _, _, _, fwd, back) in &results[4..] {
        let Gradient::Checkpointed { checkpoints } = g else { unreachable!() };
        let n = fwd.accepted;
        let want = n + neural_diffeq::checkpoint::min_recomputations(n, *checkpoints);
        assert_eq!(back.steps, want, "{g:?}: {n} steps");
        eprintln!("{g:?}: {n} steps, {} step evaluations backwards", back.steps);
    }
    // the seminorm saves work on the backward solve
    let full = results[2].5.nfe;
    let semi = results[3].5.nfe;
    assert!(semi <= full, "seminorm {semi} vs full {full} NFE");
}

#[test]
fn forward_saves_requested_times_and_validates() {
    core_tensor::seed::seed_torch(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig::default()).unwrap();
    let x0 = Tensor::randn([4, 2], (Kind::Float, Device::Cpu));
    let (ys, stats) = ode
        .forward(&x0, &[0.0, 0.5, 1.0], &ExplicitRk::dopri5(), &StepControl::adaptive(1e-5, 1e-5))
        .unwrap();
    assert_eq!(ys.size(), vec![3, 4, 2]);
    assert!(ys.get(0).allclose(&x0, 1e-6, 1e-6, false));
    assert!(stats.nfe > 0);
    assert!(ode
        .forward(
            &Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)),
            &[0.0, 1.0],
            &ExplicitRk::dopri5(),
            &StepControl::adaptive(1e-5, 1e-5)
        )
        .is_err());
    assert!(ode.forward(&x0, &[0.0], &ExplicitRk::dopri5(), &StepControl::adaptive(1e-5, 1e-5)).is_err());
}
