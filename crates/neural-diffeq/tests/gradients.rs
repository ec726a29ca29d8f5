//! The three gradient strategies agree on a neural ODE in f64.

use neural_diffeq::prelude::*;
use tch::{nn, Device, Kind, Tensor};

fn grads(vs: &nn::VarStore) -> Vec<Tensor> {
    core_tensor::train::optim::trainable_named(vs).into_iter().map(|(_, t)| t.grad().copy()).collect()
}

fn zero(vs: &nn::VarStore) {
    let params: Vec<Tensor> = core_tensor::train::trainable_named(vs).into_iter().map(|(_, t)| t).collect();
    core_tensor::train::zero_grads(&params);
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

/// `L = ½ Σ_k |y(t_k)|²` over ten save times, for each strategy.
fn multi_time_gradients(
    ode: &NeuralOde,
    vs: &nn::VarStore,
    x0: &Tensor,
    solver: &ExplicitRk,
    control: &StepControl,
    g: &Gradient,
) -> (Tensor, Vec<Tensor>, neural_diffeq::solver::Stats) {
    use neural_diffeq::adjoint::solve_backward_at;
    zero(vs);
    let params: Vec<Tensor> =
        core_tensor::train::optim::trainable_named(vs).into_iter().map(|(_, t)| t).collect();
    let ts: Vec<f64> = (1..=10).map(|k| k as f64 / 10.0).collect();
    let (_, gy0, _, back) = solve_backward_at(ode, &params, solver, (0.0, 1.0), x0, control, g, &ts, |ys| {
        Ok(ys.iter().map(Tensor::shallow_clone).collect())
    })
    .unwrap();
    (gy0, grads(vs), back)
}

#[test]
fn losses_at_many_save_times_agree_across_strategies_and_with_finite_differences() {
    core_tensor::seed::seed_torch(3);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let cfg =
        NeuralOdeConfig { dim: 2, hidden: vec![16], time_input: true, augment: 0, ..Default::default() };
    let ode = NeuralOde::new(&vs.root(), cfg).unwrap();
    vs.double();
    let x0 = Tensor::randn([4, 2], (Kind::Double, Device::Cpu));
    let strategies = [
        Gradient::Backprop,
        Gradient::Recompute,
        Gradient::Checkpointed { checkpoints: 3 },
        Gradient::Adjoint { rtol: 1e-12, atol: 1e-12, seminorm: false },
    ];
    // constant steps of 0.025 (the save times on the grid): every strategy against central
    // differences of the discrete loss in one weight and in one initial value
    let control = StepControl::Constant { dt: 0.025 };
    let loss = |x0: &Tensor| -> f64 {
        let ts: Vec<f64> = (1..=10).map(|k| k as f64 / 10.0).collect();
        let ys =
            tch::no_grad(|| ode.forward(x0, &[&[0.0][..], &ts[..]].concat(), &ExplicitRk::rk4(), &control))
                .unwrap()
                .0;
        0.5 * ys.narrow(0, 1, 10).square().sum(Kind::Double).double_value(&[])
    };
    let (wi, w) = core_tensor::train::optim::trainable_named(&vs)
        .into_iter()
        .map(|(_, t)| t)
        .enumerate()
        .find(|(_, t)| t.dim() == 2)
        .unwrap();
    let eps = 1e-5;
    let bump = |d: f64| tch::no_grad(|| w.get(0).get(0).f_add_scalar_(d).map(|_| ()).unwrap());
    bump(eps);
    let up = loss(&x0);
    bump(-2.0 * eps);
    let down = loss(&x0);
    bump(eps);
    let fd_w = (up - down) / (2.0 * eps);
    let e0 = Tensor::zeros_like(&x0);
    let _ = e0.get(1).get(0).fill_(eps);
    let fd_x = (loss(&(&x0 + &e0)) - loss(&(&x0 - &e0))) / (2.0 * eps);
    for g in &strategies {
        let (gy0, gp, back) = multi_time_gradients(&ode, &vs, &x0, &ExplicitRk::rk4(), &control, g);
        let (gw, gx) = (gp[wi].double_value(&[0, 0]), gy0.double_value(&[1, 0]));
        // the adjoint integrates its own backward solve: 1e-5 of the discrete gradient
        assert!((gw - fd_w).abs() <= 1e-5 * fd_w.abs().max(1e-3), "{g:?}: dL/dw {gw} vs fd {fd_w}");
        assert!((gx - fd_x).abs() <= 1e-5 * fd_x.abs().max(1e-3), "{g:?}: dL/dy0 {gx} vs fd {fd_x}");
        eprintln!(
            "{g:?}: dL/dw rel. error {:.1e}, dL/dy0 rel. error {:.1e}, backward steps {}",
            (gw - fd_w).abs() / fd_w.abs(),
            (gx - fd_x).abs() / fd_x.abs(),
            back.steps
        );
    }
    // adaptive steps: the discrete strategies equal backprop to 1e-10, the adjoint to 1e-6
    let control = StepControl::adaptive(1e-10, 1e-10);
    let dopri5 = ExplicitRk::dopri5();
    let (gy_ref, gp_ref, _) = multi_time_gradients(&ode, &vs, &x0, &dopri5, &control, &Gradient::Backprop);
    for g in &strategies[1..] {
        let (gy0, gp, _) = multi_time_gradients(&ode, &vs, &x0, &dopri5, &control, g);
        let tol = if matches!(g, Gradient::Adjoint { .. }) { 1e-6 } else { 1e-10 };
        assert!(rel(&gy0, &gy_ref) < tol, "{g:?}: dL/dy0 {}", rel(&gy0, &gy_ref));
        for (a, b) in gp.iter().zip(&gp_ref) {
            assert!(rel(a, b) < tol, "{g:?}: dL/dθ {}", rel(a, b));
        }
    }
    // save times that are unsorted, miss t1 or lie off the constant grid are errors
    use neural_diffeq::adjoint::solve_backward_at;
    let params: Vec<Tensor> =
        core_tensor::train::optim::trainable_named(&vs).into_iter().map(|(_, t)| t).collect();
    let run = |ts: &[f64], g: &Gradient| {
        solve_backward_at(
            &ode,
            &params,
            &ExplicitRk::rk4(),
            (0.0, 1.0),
            &x0,
            &StepControl::Constant { dt: 0.025 },
            g,
            ts,
            |ys| Ok(ys.iter().map(Tensor::shallow_clone).collect()),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    assert!(run(&[0.5, 0.3, 1.0], &Gradient::Backprop).contains("ts"));
    assert!(run(&[0.5], &Gradient::Backprop).contains("t1"));
    assert!(run(&[0.51, 1.0], &Gradient::Recompute).contains("grid"));
}

/// `dy/dt = −k (y − cos(w t)) − y³`: stiff for k = 1000.
fn stiff_term(k: Tensor, w: Tensor) -> impl Fn(f64, &Tensor) -> neural_diffeq::Result<Tensor> {
    move |t: f64, y: &Tensor| Ok(-(&k * (y - (&w * t).cos())) - y * y * y)
}

/// `L = ½ Σ_k |y(t_k)|²` of the stiff problem with parameters `(k, w)`, solved without a graph.
fn stiff_loss(
    solver: &Esdirk<Tensor>,
    control: &StepControl,
    ts: &[f64],
    (k, w): (f64, f64),
    y0: &Tensor,
) -> f64 {
    // fresh parameter tensors (no in-place shifts of leaves)
    let term = stiff_term(Tensor::from_slice(&[k]), Tensor::from_slice(&[w]));
    let saveat = SaveAt { ts: ts.to_vec(), ..Default::default() };
    let sol = tch::no_grad(|| solve(&term, solver, (0.0, 1.0), y0, control, &saveat)).unwrap();
    sol.ys.iter().map(|y| 0.5 * y.square().sum(Kind::Double).double_value(&[])).sum()
}

/// `(dL/dk, dL/dw, dL/dy0[1], backward counters)` of [`stiff_loss`] by the strategy `g`.
fn stiff_grads(
    solver: &Esdirk<Tensor>,
    control: &StepControl,
    ts: &[f64],
    (k0, w0): (f64, f64),
    y0: &Tensor,
    g: &Gradient,
) -> (f64, f64, f64, neural_diffeq::solver::Stats) {
    let k = Tensor::from_slice(&[k0]).set_requires_grad(true);
    let w = Tensor::from_slice(&[w0]).set_requires_grad(true);
    let term = stiff_term(k.shallow_clone(), w.shallow_clone());
    let (_, gy0, _, back) = neural_diffeq::adjoint::solve_backward_at(
        &term,
        &[k.shallow_clone(), w.shallow_clone()],
        solver,
        (0.0, 1.0),
        y0,
        control,
        g,
        ts,
        |ys| Ok(ys.iter().map(Tensor::shallow_clone).collect()),
    )
    .unwrap();
    (k.grad().double_value(&[0]), w.grad().double_value(&[0]), gy0.double_value(&[1, 0]), back)
}

#[test]
fn implicit_solvers_backpropagate_through_newton_on_a_stiff_problem() {
    let (k0, w0) = (1000.0f64, 2.0f64);
    let y0 = Tensor::from_slice(&[0.5f64, 1.5]).view([2, 1]);
    let ts: Vec<f64> = (1..=10).map(|q| q as f64 / 10.0).collect();
    let control = StepControl::Constant { dt: 0.02 };
    for solver in [Esdirk::<Tensor>::kvaerno3(1e-10, 1e-10), Esdirk::<Tensor>::kvaerno5(1e-10, 1e-10)] {
        let loss = |k: f64, w: f64, y0: &Tensor| stiff_loss(&solver, &control, &ts, (k, w), y0);
        let fd_k = (loss(k0 + 1e-3, w0, &y0) - loss(k0 - 1e-3, w0, &y0)) / 2e-3;
        let fd_w = (loss(k0, w0 + 1e-6, &y0) - loss(k0, w0 - 1e-6, &y0)) / 2e-6;
        // dL/dy0 is small (the stiff decay forgets y0): a wider step keeps rounding out of it
        let e = Tensor::from_slice(&[0.0f64, 1e-4]).view([2, 1]);
        let fd_y = (loss(k0, w0, &(&y0 + &e)) - loss(k0, w0, &(&y0 - &e))) / 2e-4;
        for g in [Gradient::Backprop, Gradient::Recompute, Gradient::Checkpointed { checkpoints: 2 }] {
            let (gk, gw, gy, _) = stiff_grads(&solver, &control, &ts, (k0, w0), &y0, &g);
            let name = solver.tableau.name;
            for (got, want, what) in [(gk, fd_k, "k"), (gw, fd_w, "w"), (gy, fd_y, "y0")] {
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs(),
                    "{name} {g:?} dL/d{what}: {got} vs fd {want}"
                );
            }
            eprintln!(
                "{name} {g:?}: dL/dk {gk:.6e} (fd rel. {:.1e}), dL/dw {gw:.6e} ({:.1e}), dL/dy0 {gy:.6e} ({:.1e})",
                (gk - fd_k).abs() / fd_k.abs(),
                (gw - fd_w).abs() / fd_w.abs(),
                (gy - fd_y).abs() / fd_y.abs()
            );
        }
    }
}

/// The continuous adjoint with the implicit solvers (a Newton iteration on the augmented state)
/// on the stiff problem, adaptive forwards and backwards, against central differences of
/// the adaptive forward solve and against backpropagation through the same solve (∂L/∂y0 is
/// about 1e-47 here, the stiff decay forgetting y0, so it is only printed).
#[test]
fn implicit_solvers_under_the_continuous_adjoint_on_a_stiff_problem() {
    let (k0, w0) = (1000.0f64, 2.0f64);
    let y0 = Tensor::from_slice(&[0.5f64, 1.5]).view([2, 1]);
    let ts: Vec<f64> = (1..=10).map(|q| q as f64 / 10.0).collect();
    // at 1e-10: central differences of a looser adaptive solve carry the step selection's noise
    // (at 1e-9, 1.5e-5 relative in dL/dk)
    let tol = 1e-10;
    let control = StepControl::adaptive(tol, tol);
    for solver in [Esdirk::<Tensor>::kvaerno3(tol, tol), Esdirk::<Tensor>::kvaerno5(tol, tol)] {
        let name = solver.tableau.name;
        let loss = |k: f64, w: f64| stiff_loss(&solver, &control, &ts, (k, w), &y0);
        let fd_k = (loss(k0 + 1e-2, w0) - loss(k0 - 1e-2, w0)) / 2e-2;
        let fd_w = (loss(k0, w0 + 1e-4) - loss(k0, w0 - 1e-4)) / 2e-4;
        let grads = |g: &Gradient| stiff_grads(&solver, &control, &ts, (k0, w0), &y0, g);
        let (bk, bw, by, _) = grads(&Gradient::Backprop);
        let adjoint = Gradient::Adjoint { rtol: tol, atol: tol, seminorm: true };
        let (ak, aw, ay, back) = grads(&adjoint);
        for (got, want, what) in [
            (ak, fd_k, "k vs fd"),
            (aw, fd_w, "w vs fd"),
            (ak, bk, "k vs backprop"),
            (aw, bw, "w vs backprop"),
        ] {
            assert!((got - want).abs() <= 1e-5 * want.abs(), "{name} adjoint dL/d{what}: {got} vs {want}");
        }
        eprintln!(
            "{name} adjoint: dL/dk {ak:.6e} (fd rel. {:.1e}, backprop {:.1e}), dL/dw {aw:.6e} ({:.1e}, {:.1e}), dL/dy0 {ay:.6e} (backprop {:.1e}); backward steps {}",
            (ak - fd_k).abs() / fd_k.abs(),
            (ak - bk).abs() / bk.abs(),
            (aw - fd_w).abs() / fd_w.abs(),
            (aw - bw).abs() / bw.abs(),
            (ay - by).abs() / by.abs(),
            back.steps
        );
    }
}

#[test]
fn strategies_work_under_a_callers_no_grad() {
    // a training loop may call the solve inside no_grad: the strategies switch grad mode on where
    // they need it (before, the implicit solvers' Newton matrix crashed libtorch there)
    let (k0, w0) = (1000.0f64, 2.0f64);
    let y0 = Tensor::from_slice(&[0.5f64, 1.5]).view([2, 1]);
    let control = StepControl::Constant { dt: 0.05 };
    for g in [Gradient::Backprop, Gradient::Recompute, Gradient::Checkpointed { checkpoints: 1 }] {
        let k = Tensor::from_slice(&[k0]).set_requires_grad(true);
        let w = Tensor::from_slice(&[w0]).set_requires_grad(true);
        let term = stiff_term(k.shallow_clone(), w.shallow_clone());
        let solver = Esdirk::<Tensor>::kvaerno3(1e-8, 1e-8);
        let out = tch::no_grad(|| {
            solve_backward(
                &term,
                &[k.shallow_clone(), w.shallow_clone()],
                &solver,
                (0.0, 1.0),
                &y0,
                &control,
                &g,
                |y| Ok(y.shallow_clone()),
            )
        });
        assert!(out.is_ok(), "{g:?}: {:?}", out.err());
        assert!(w.grad().defined() && w.grad().double_value(&[0]).is_finite(), "{g:?}");
    }
}
