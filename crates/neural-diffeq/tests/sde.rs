//! SDE solvers against closed forms: GBM and OU moments, strong orders, reversible Heun.

use neural_diffeq::controller::{PidController, StepControl};
use neural_diffeq::models::NeuralSde;
use neural_diffeq::sde::*;
use neural_diffeq::solve::SaveAt;

/// Step doubling with the I-controller: first step 0.01, factors in [0.2, 5].
fn adaptive(tol: f64) -> StepControl {
    StepControl::Adaptive(PidController::new(tol, tol).dt0(0.01).dtmin(1e-10).factors(0.2, 5.0))
}
use tch::{nn, Device, Kind, Tensor};

const MU: f64 = 0.5;
const SIGMA: f64 = 0.3;

fn gbm() -> impl SdeTerm {
    FnSde { f: |_t, y: &Tensor| Ok(y * MU), g: |_t, y: &Tensor| Ok(y * SIGMA), noise: Noise::Diagonal }
}

/// Mean and standard error, variance and its standard error (from the fourth central moment).
fn moments(x: &Tensor) -> (f64, f64, f64, f64) {
    let v: Vec<f64> = Vec::try_from(x.flatten(0, -1)).unwrap();
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let m2 = v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|a| (a - m).powi(4)).sum::<f64>() / n;
    (m, (m2 / n).sqrt(), m2 * n / (n - 1.0), ((m4 - m2 * m2) / n).sqrt())
}

#[test]
fn gbm_and_ou_moments_match_closed_forms() {
    let n = 20_000;
    let y0 = Tensor::ones([n, 1], (Kind::Double, Device::Cpu));
    let path = BrownianPath::new(0.0, 1e-3, 1000, &[n, 1], 1, Kind::Double, Device::Cpu).unwrap();
    let ys = sdeint_on_grid(&gbm(), &EulerMaruyama, &y0, &path, &SaveAt::every_step()).unwrap().ys;
    let (m, se_m, v, se_v) = moments(ys.last().unwrap());
    let (em, ev) = (MU.exp(), (2.0 * MU).exp() * ((SIGMA * SIGMA).exp() - 1.0));
    assert!((m - em).abs() < 4.0 * se_m, "GBM mean {m} vs {em} (se {se_m})");
    assert!((v - ev).abs() < 4.0 * se_v, "GBM variance {v} vs {ev} (se {se_v})");
    // OU: dX = −θX dt + σ dW (additive noise), x0 = 2
    let (theta, s) = (1.5, 0.8);
    let ou = FnSde {
        f: move |_t, y: &Tensor| Ok(y * -theta),
        g: move |_t, y: &Tensor| Ok(y.ones_like() * s),
        noise: Noise::Additive,
    };
    let x0 = Tensor::full([n, 1], 2.0, (Kind::Double, Device::Cpu));
    for solver in [&EulerMaruyama as &dyn SdeSolver, &Milstein::default(), &Heun] {
        let ys = sdeint_on_grid(&ou, solver, &x0, &path, &SaveAt::every_step()).unwrap().ys;
        let (m, se_m, v, se_v) = moments(ys.last().unwrap());
        let (em, ev) = (2.0 * (-theta).exp(), s * s * (1.0 - (-2.0 * theta).exp()) / (2.0 * theta));
        assert!((m - em).abs() < 4.0 * se_m, "{}: OU mean {m} vs {em}", solver.name());
        assert!((v - ev).abs() < 4.0 * se_v, "{}: OU variance {v} vs {ev}", solver.name());
    }
}

/// Strong error `E|X_T^h − X_T|` against GBM's exact solution on the same Brownian path.
fn strong_order(solver: &dyn SdeSolver, stratonovich_target: bool) -> f64 {
    let n = 1000;
    let fine = BrownianPath::new(0.0, 1.0 / 4096.0, 4096, &[n, 1], 7, Kind::Double, Device::Cpu).unwrap();
    let w_t: Tensor = (0..4096)
        .map(|k| fine.increment(k).unwrap())
        .fold(Tensor::zeros([n, 1], (Kind::Double, Device::Cpu)), |a, b| a + b);
    // Itô GBM: X = exp((μ − σ²/2) T + σ W); the Stratonovich SDE with the same coefficients: exp(μT + σW)
    let drift = if stratonovich_target { MU } else { MU - SIGMA * SIGMA / 2.0 };
    let exact = (w_t * SIGMA + drift).exp();
    let y0 = Tensor::ones([n, 1], (Kind::Double, Device::Cpu));
    let mut pts = Vec::new();
    for k in [16usize, 32, 64, 128, 256] {
        let path = fine.coarsen(k).unwrap();
        let ys = sdeint_on_grid(&gbm(), solver, &y0, &path, &SaveAt::every_step()).unwrap().ys;
        let err = (ys.last().unwrap() - &exact).abs().mean(Kind::Double).double_value(&[]);
        pts.push((path.h().ln(), err.ln()));
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>()
}

#[test]
fn strong_orders() {
    let em = strong_order(&EulerMaruyama, false);
    assert!((em - 0.5).abs() <= 0.15, "Euler–Maruyama strong order {em}");
    let mil = strong_order(&Milstein::default(), false);
    assert!((mil - 1.0).abs() <= 0.2, "Milstein strong order {mil}");
    let mils = strong_order(&Milstein { stratonovich: true }, true);
    assert!((mils - 1.0).abs() <= 0.2, "Stratonovich Milstein strong order {mils}");
    // Heun on scalar (commutative) noise: order 1 for the Stratonovich solution
    let heun = strong_order(&Heun, true);
    assert!((heun - 1.0).abs() <= 0.2, "Heun strong order {heun}");
    // SRIW1: order 1.5 for the Itô solution, with multiplicative noise
    let sri = strong_order(&Sriw1, false);
    assert!((sri - 1.5).abs() <= 0.25, "SRIW1 strong order {sri}");
    assert!(sri > mil + 0.3, "SRIW1 {sri} vs Milstein {mil}");
    eprintln!(
        "strong orders on GBM: EM {em:.3}, Milstein {mil:.3}, Heun (Stratonovich) {heun:.3}, SRIW1 {sri:.3}"
    );
}

#[test]
fn reversible_heun_reconstructs_and_its_adjoint_matches_backprop() {
    core_tensor::seed::seed_torch(0);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let sde = NeuralSde::new(&vs.root(), 3, &[16]).unwrap();
    vs.double();
    let y0 = Tensor::randn([8, 3], (Kind::Double, Device::Cpu));
    let path = BrownianPath::new(0.0, 0.01, 100, &[8, 3], 2, Kind::Double, Device::Cpu).unwrap();
    // forward, then reconstruct every state backwards
    let last = reversible_heun(&sde, &y0, &path, false).unwrap();
    let back = reversible_heun_reconstruct(&sde, &last, &path).unwrap();
    let err = (&back[0] - &y0).abs().max().double_value(&[]);
    assert!(err < 1e-6, "reconstruction error {err}");
    // gradients of L = Σ y_T²/2: exact adjoint vs backprop through the solver
    let params: Vec<Tensor> =
        core_tensor::train::optim::trainable_named(&vs).into_iter().map(|(_, t)| t).collect();
    let y0r = y0.detach().set_requires_grad(true);
    let s = reversible_heun(&sde, &y0r, &path, true).unwrap();
    let mut inputs: Vec<&Tensor> = vec![&y0r];
    inputs.extend(params.iter());
    let g_bp = Tensor::run_backward(&[(&s.y * &s.y).sum(Kind::Double) * 0.5], &inputs, false, false);
    let gy0 = reversible_heun_backward(&sde, &params, &last, &path, &last.y).unwrap();
    let rel = |a: &Tensor, b: &Tensor| (a - b).norm().double_value(&[]) / b.norm().double_value(&[]);
    assert!(rel(&gy0, &g_bp[0]) < 1e-4, "dL/dy0: {}", rel(&gy0, &g_bp[0]));
    for (p, gb) in params.iter().zip(&g_bp[1..]) {
        assert!(rel(&p.grad(), gb) < 1e-4, "dL/dθ: {}", rel(&p.grad(), gb));
    }
}

#[test]
fn general_noise_and_errors() {
    // dX = A dW with a constant 2×3 matrix: X_T − X_0 = A W_T exactly
    let a = Tensor::from_slice(&[1.0f64, 0.5, 0.0, -0.2, 0.3, 2.0]).view([1, 2, 3]);
    let sde = FnSde {
        f: |_t, y: &Tensor| Ok(y.zeros_like()),
        g: move |_t, y: &Tensor| Ok(a.expand([y.size()[0], 2, 3], false)),
        noise: Noise::General { m: 3 },
    };
    let path = BrownianPath::new(0.0, 0.1, 10, &[4, 3], 5, Kind::Double, Device::Cpu).unwrap();
    let y0 = Tensor::zeros([4, 2], (Kind::Double, Device::Cpu));
    let ys = sdeint_on_grid(&sde, &EulerMaruyama, &y0, &path, &SaveAt::every_step()).unwrap().ys;
    let w: Tensor = (0..10)
        .map(|k| path.increment(k).unwrap())
        .fold(Tensor::zeros([4, 3], (Kind::Double, Device::Cpu)), |x, y| x + y);
    let a2 = Tensor::from_slice(&[1.0f64, 0.5, 0.0, -0.2, 0.3, 2.0]).view([2, 3]);
    assert!(ys.last().unwrap().allclose(&w.matmul(&a2.tr()), 1e-12, 1e-12, false));
    assert!(Milstein::default()
        .step(&sde, 0.0, &y0, 0.1, &path.increment(0).unwrap(), &path.levy_area(0).unwrap())
        .is_err());
    let e = Sriw1
        .step(&sde, 0.0, &y0, 0.1, &path.increment(0).unwrap(), &path.levy_area(0).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("noise") && e.contains("SRIW1"), "{e}");
    // steps beyond the path are an error naming k, not an index panic
    assert!(path.increment(path.steps()).unwrap_err().to_string().contains("`k`"));
    assert!(path.levy_area(usize::MAX).is_err());
    let bad = BrownianPath::new(0.0, 0.1, 10, &[4, 2], 5, Kind::Double, Device::Cpu).unwrap();
    assert!(sdeint_on_grid(&sde, &EulerMaruyama, &y0, &bad, &SaveAt::every_step())
        .unwrap_err()
        .to_string()
        .contains("[4, 3]"));
    assert!(BrownianPath::new(0.0, -0.1, 10, &[4, 2], 5, Kind::Double, Device::Cpu).is_err());
}

#[test]
fn sra1_has_strong_order_one_and_a_half_for_additive_noise() {
    // dX = −sin(X) dt + 0.5 dW (additive); reference: SRA1 on the finest grid
    let sde = FnSde {
        f: |_t, y: &Tensor| Ok(-y.sin()),
        g: |_t, y: &Tensor| Ok(y.ones_like() * 0.5),
        noise: Noise::Additive,
    };
    let n = 500;
    let fine = BrownianPath::new(0.0, 1.0 / 8192.0, 8192, &[n, 1], 11, Kind::Double, Device::Cpu).unwrap();
    let y0 = Tensor::ones([n, 1], (Kind::Double, Device::Cpu));
    let reference = sdeint_on_grid(&sde, &Sra1, &y0, &fine, &SaveAt::t1()).unwrap().ys.pop().unwrap();
    let mut pts = Vec::new();
    for k in [32usize, 64, 128, 256] {
        let p = fine.coarsen(k).unwrap();
        let y = sdeint_on_grid(&sde, &Sra1, &y0, &p, &SaveAt::t1()).unwrap().ys.pop().unwrap();
        pts.push((p.h().ln(), (y - &reference).abs().mean(Kind::Double).double_value(&[]).ln()));
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / 4.0;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / 4.0;
    let order = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert!((order - 1.5).abs() <= 0.25, "SRA1 strong order {order}");
    // Euler–Maruyama on the same problem is order 1 (additive noise), clearly below
    let mut pe = Vec::new();
    for k in [32usize, 64, 128, 256] {
        let p = fine.coarsen(k).unwrap();
        let y = sdeint_on_grid(&sde, &EulerMaruyama, &y0, &p, &SaveAt::t1()).unwrap().ys.pop().unwrap();
        pe.push((p.h().ln(), (y - &reference).abs().mean(Kind::Double).double_value(&[]).ln()));
    }
    let my = pe.iter().map(|p| p.1).sum::<f64>() / 4.0;
    let em = pe.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pe.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert!(em < order - 0.3, "EM {em} vs SRA1 {order}");
    assert!(Sra1
        .step(&gbm(), 0.0, &y0, 0.1, &fine.increment(0).unwrap(), &fine.levy_area(0).unwrap())
        .is_err());
}

/// The continuous stochastic adjoint converges to backprop through the (Stratonovich Heun) solve
/// as the step shrinks.
/// A 2-D neural SDE (f64) seeded with `seed`, its parameters, a batch of 4 initial states and a
/// Brownian path of 1024 steps on [0, 1] seeded with `path_seed`.
fn neural_sde_fixture(
    seed: u64,
    path_seed: u64,
) -> (nn::VarStore, NeuralSde, Vec<Tensor>, Tensor, BrownianPath) {
    core_tensor::seed::seed_torch(seed);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let sde = NeuralSde::new(&vs.root(), 2, &[8]).unwrap();
    vs.double();
    let params: Vec<Tensor> =
        core_tensor::train::optim::trainable_named(&vs).into_iter().map(|(_, t)| t).collect();
    let y0 = Tensor::randn([4, 2], (Kind::Double, Device::Cpu));
    let fine =
        BrownianPath::new(0.0, 1.0 / 1024.0, 1024, &[4, 2], path_seed, Kind::Double, Device::Cpu).unwrap();
    (vs, sde, params, y0, fine)
}

#[test]
fn stochastic_adjoint_converges_to_backprop() {
    let (_vs, sde, params, y0, fine) = neural_sde_fixture(3, 4);
    let rel = |a: &Tensor, b: &Tensor| (a - b).norm().double_value(&[]) / b.norm().double_value(&[]);
    let mut errs = Vec::new();
    for k in [16usize, 4, 1] {
        let path = fine.coarsen(k).unwrap();
        // backprop through Heun
        let y0r = y0.detach().set_requires_grad(true);
        let yt = sdeint_on_grid(&sde, &Heun, &y0r, &path, &SaveAt::t1()).unwrap().ys.pop().unwrap();
        let mut inputs: Vec<&Tensor> = vec![&y0r];
        inputs.extend(params.iter());
        let g = Tensor::run_backward(&[(&yt * &yt).sum(Kind::Double) * 0.5], &inputs, false, false);
        core_tensor::train::zero_grads(&params);
        let (_, gy0) = stochastic_adjoint(&sde, &params, &y0, &path, |y| Ok(y.shallow_clone())).unwrap();
        let mut e = rel(&gy0, &g[0]);
        for (p, gb) in params.iter().zip(&g[1..]) {
            e = e.max(rel(&p.grad(), gb));
        }
        errs.push(e);
    }
    eprintln!("stochastic adjoint vs backprop, relative error at h = 1/64, 1/256, 1/1024: {errs:?}");
    assert!(errs[2] < 1e-2, "{errs:?}");
    assert!(errs[2] < errs[0], "no convergence: {errs:?}");
}

/// Adaptive stepping on a virtual Brownian tree converges to the exact GBM solution driven by the
/// same Brownian path, `X_T = X₀ exp((μ − σ²/2)T + σ W_T)`: tighter tolerances give smaller strong
/// errors with more steps, and rejected steps do not change the path.
#[test]
fn adaptive_sde_stepping_converges_on_the_tree_path() {
    let b = 400;
    let tree = VirtualBrownianTree::new(0.0, 1.0, 1e-7, &[b, 1], 21, Kind::Double, Device::Cpu).unwrap();
    let y0 = Tensor::ones([b, 1], (Kind::Double, Device::Cpu));
    let exact = (tree.value(1.0).unwrap() * SIGMA + (MU - 0.5 * SIGMA * SIGMA)).exp();
    let mut last = f64::INFINITY;
    let mut steps = 0;
    for tol in [1e-2, 1e-3, 1e-4] {
        let sol = sdeint(
            &gbm(),
            &Milstein::default(),
            (0.0, 1.0),
            &y0,
            &tree,
            &adaptive(tol),
            &SaveAt::every_step(),
        )
        .unwrap();
        assert_eq!(*sol.ts.last().unwrap(), 1.0);
        let err = (sol.ys.last().unwrap() - &exact).abs().mean(Kind::Double).double_value(&[]);
        assert!(err < 0.7 * last, "tol {tol}: error {err} (previous {last})");
        assert!(sol.ts.len() > steps);
        eprintln!(
            "tol {tol:e}: {} steps, {} rejected, mean |error| {err:.3e}",
            sol.ts.len() - 1,
            sol.stats.rejected
        );
        last = err;
        steps = sol.ts.len();
    }
    assert!(last < 3e-3, "strong error {last} at tol 1e-4");
    // Bad input is an error, not a hang.
    let solve = |span: (f64, f64), control: &StepControl| {
        sdeint(&gbm(), &Milstein::default(), span, &y0, &tree, control, &SaveAt::t1())
    };
    assert!(solve((0.0, 1.0), &adaptive(0.0)).unwrap_err().to_string().contains("tolerance"));
    assert!(solve((0.0, 2.0), &adaptive(1e-3)).unwrap_err().to_string().contains("span"));
    let small = StepControl::Adaptive(PidController::new(1e-6, 1e-6).dt0(0.01).max_steps(3));
    assert!(matches!(solve((0.0, 1.0), &small), Err(neural_diffeq::Error::MaxSteps { .. })));
}

/// One entry for both step controls: constant steps of two grid steps equal the solve on the
/// coarsened path, save times are stepped onto exactly under adaptive steps, and what an SDE solve
/// cannot honour is refused with the argument's name.
#[test]
fn sdeint_controls_and_save_points() {
    let (b, dev) = (64, Device::Cpu);
    let y0 = Tensor::ones([b, 1], (Kind::Double, dev));
    let path = BrownianPath::new(0.0, 0.01, 100, &[b, 1], 8, Kind::Double, dev).unwrap();
    let coarse = path.coarsen(2).unwrap();
    let every = SaveAt::every_step();
    let joined =
        sdeint(&gbm(), &Heun, path.span(), &y0, &path, &StepControl::constant(0.02), &every).unwrap();
    let direct =
        sdeint(&gbm(), &Heun, coarse.span(), &y0, &coarse, &StepControl::constant(0.02), &every).unwrap();
    assert_eq!(joined.ys.len(), 51);
    assert_eq!(joined.stats.accepted, 50);
    assert!(joined.ys[50].allclose(&direct.ys[50], 1e-12, 1e-12, false));
    // save times inside the path's grid split no step; off the grid they are refused
    let at = SaveAt { ts: vec![0.25, 0.5], t1: true, ..Default::default() };
    let sol =
        sdeint(&gbm(), &EulerMaruyama, path.span(), &y0, &path, &StepControl::constant(0.01), &at).unwrap();
    assert_eq!(sol.ts, vec![0.25, 0.5, 1.0]);
    let off = SaveAt::ts(vec![0.255]);
    let e = sdeint(&gbm(), &EulerMaruyama, path.span(), &y0, &path, &StepControl::constant(0.01), &off)
        .unwrap_err();
    assert!(e.to_string().contains("k·h"), "{e}");
    // adaptive steps land on save times and count their evaluations
    let tree = VirtualBrownianTree::new(0.0, 1.0, 1e-6, &[b, 1], 3, Kind::Double, dev).unwrap();
    let ts = vec![0.1, 0.37, 0.9];
    let sol = sdeint(
        &gbm(),
        &Milstein::default(),
        (0.0, 1.0),
        &y0,
        &tree,
        &adaptive(1e-3),
        &SaveAt::ts(ts.clone()),
    )
    .unwrap();
    assert_eq!(sol.ts, ts);
    // Milstein: drift, diffusion and one more diffusion per step; three steps per attempt
    assert_eq!(sol.stats.nfe, 9 * sol.stats.steps);
    assert!(sol.stats.accepted >= 3 && sol.stats.steps == sol.stats.accepted + sol.stats.rejected);
    // what an SDE solve cannot do is an error naming the argument
    let grid = sdeint(&gbm(), &Milstein::default(), path.span(), &y0, &path, &adaptive(1e-3), &SaveAt::t1());
    assert!(grid.unwrap_err().to_string().contains("brownian"));
    let dense = sdeint(
        &gbm(),
        &EulerMaruyama,
        path.span(),
        &y0,
        &path,
        &StepControl::constant(0.01),
        &SaveAt::dense(),
    );
    assert!(dense.unwrap_err().to_string().contains("saveat.dense"));
    let odd = sdeint(&gbm(), &EulerMaruyama, path.span(), &y0, &path, &StepControl::constant(0.015), &every);
    assert!(odd.unwrap_err().to_string().contains("multiple"));
    let back = sdeint(&gbm(), &EulerMaruyama, (1.0, 0.0), &y0, &path, &StepControl::constant(0.01), &every);
    assert!(back.unwrap_err().to_string().contains("span"));
}

/// A drift or diffusion of the wrong shape or dtype is named in one sentence (not a libtorch
/// broadcast error, or worse, a silent broadcast).
#[test]
fn wrong_vector_field_outputs_are_named() {
    let y0 = Tensor::ones([4, 2], (Kind::Double, Device::Cpu));
    let path = BrownianPath::new(0.0, 0.1, 10, &[4, 2], 1, Kind::Double, Device::Cpu).unwrap();
    let run = |term: &dyn SdeTerm| {
        sdeint_on_grid(term, &EulerMaruyama, &y0, &path, &SaveAt::t1()).unwrap_err().to_string()
    };
    // a drift [4, 1] would broadcast silently against y [4, 2]
    let e = run(&FnSde {
        f: |_t, y: &Tensor| Ok(y.sum_dim_intlist(1, true, None)),
        g: |_t, y: &Tensor| Ok(y * 0.1),
        noise: Noise::Diagonal,
    });
    assert!(e.contains("drift output") && e.contains("[4, 1]"), "{e}");
    let e = run(&FnSde {
        f: |_t, y: &Tensor| Ok(y * 0.5),
        g: |_t, y: &Tensor| Ok(y.to_kind(Kind::Float)),
        noise: Noise::Diagonal,
    });
    assert!(e.contains("diffusion output") && e.contains("Float"), "{e}");
    let e = run(&FnSde {
        f: |_t, y: &Tensor| Ok(y * 0.5),
        g: |_t, y: &Tensor| Ok(y * 0.1),
        noise: Noise::General { m: 2 },
    });
    assert!(e.contains("diffusion output"), "{e}");
}

#[test]
fn adaptive_sriw1_converges_on_the_brownian_interval() {
    // the interval is sampled exactly at every time the controller tries, rejected steps included
    let b = 400;
    let bi = BrownianInterval::new(0.0, 1.0, 1e-2, &[b, 1], 23, Kind::Double, Device::Cpu).unwrap();
    let y0 = Tensor::ones([b, 1], (Kind::Double, Device::Cpu));
    let exact = (bi.increment(0.0, 1.0).unwrap() * SIGMA + (MU - 0.5 * SIGMA * SIGMA)).exp();
    let mut last = f64::INFINITY;
    for tol in [1e-2, 1e-3, 1e-4] {
        let sol = sdeint(&gbm(), &Sriw1, (0.0, 1.0), &y0, &bi, &adaptive(tol), &SaveAt::t1()).unwrap();
        let err = (sol.ys.last().unwrap() - &exact).abs().mean(Kind::Double).double_value(&[]);
        assert!(err < 0.7 * last, "tol {tol}: error {err} (previous {last})");
        eprintln!(
            "SRIW1 on the interval, tol {tol:e}: {} accepted steps, {} rejected, mean |error| {err:.3e}",
            sol.stats.accepted, sol.stats.rejected
        );
        last = err;
    }
    assert!(last < 1e-3, "strong error {last} at tol 1e-4");
}

#[test]
fn stochastic_adjoint_over_sixteen_save_points_converges_to_backprop() {
    let (_vs, sde, params, y0, fine) = neural_sde_fixture(5, 6);
    let rel = |a: &Tensor, b: &Tensor| (a - b).norm().double_value(&[]) / b.norm().double_value(&[]);
    let mut errs = Vec::new();
    for k in [16usize, 4, 1] {
        let path = fine.coarsen(k).unwrap();
        let n = path.steps();
        let saves: Vec<usize> = (1..=16).map(|q| q * n / 16).collect();
        // backprop through Heun of L = ½ Σ_q |y(t_q)|²
        let y0r = y0.detach().set_requires_grad(true);
        let every = sdeint_on_grid(&sde, &Heun, &y0r, &path, &SaveAt::every_step()).unwrap().ys;
        let loss = saves
            .iter()
            .map(|&s| (&every[s] * &every[s]).sum(Kind::Double) * 0.5)
            .reduce(|a, b| a + b)
            .unwrap();
        let mut inputs: Vec<&Tensor> = vec![&y0r];
        inputs.extend(params.iter());
        let g = Tensor::run_backward(&[loss], &inputs, false, false);
        core_tensor::train::zero_grads(&params);
        let (ys, gy0) = stochastic_adjoint_at(&sde, &params, &y0, &path, &saves, |ys| {
            Ok(ys.iter().map(Tensor::shallow_clone).collect())
        })
        .unwrap();
        assert_eq!(ys.len(), 16);
        let mut e = rel(&gy0, &g[0]);
        for (p, gb) in params.iter().zip(&g[1..]) {
            e = e.max(rel(&p.grad(), gb));
        }
        errs.push(e);
    }
    eprintln!(
        "multi-time stochastic adjoint vs backprop, relative error at h = 1/64, 1/256, 1/1024: {errs:?}"
    );
    assert!(errs[2] < 1e-2 && errs[2] < errs[0], "{errs:?}");
    let path = fine.coarsen(16).unwrap();
    let bad = |s: &[usize]| {
        stochastic_adjoint_at(&sde, &params, &y0, &path, s, |ys| {
            Ok(ys.iter().map(Tensor::shallow_clone).collect())
        })
        .is_err()
    };
    assert!(bad(&[]) && bad(&[8, 4, 64]) && bad(&[0, 64]) && bad(&[8, 32]));
}

/// The discrete strategies on an SDE (Heun and SRIW1 on one Brownian path, a loss over 16 grid
/// points): recompute and binomial checkpointing equal backprop to rounding, and backprop equals
/// central differences in a weight of the drift to 1e-5 (the discrete solve on a fixed path is a
/// smooth function of the weights).
#[test]
fn discrete_sde_strategies_agree_with_backprop_and_finite_differences() {
    use neural_diffeq::adjoint::Gradient;
    let (_vs, sde, params, y0, fine) = neural_sde_fixture(5, 6);
    let path = fine.coarsen(4).unwrap();
    let n = path.steps();
    let saves: Vec<usize> = (1..=16).map(|q| q * n / 16).collect();
    let cot = |ys: &[Tensor]| Ok(ys.iter().map(Tensor::shallow_clone).collect());
    let rel = |a: &Tensor, b: &Tensor| (a - b).norm().double_value(&[]) / b.norm().double_value(&[]);
    let solvers: [&dyn SdeSolver; 2] = [&Heun, &Sriw1];
    for solver in solvers {
        let name = solver.method().name;
        let mut reference: Option<Vec<Tensor>> = None;
        for g in [Gradient::Backprop, Gradient::Recompute, Gradient::Checkpointed { checkpoints: 3 }] {
            core_tensor::train::zero_grads(&params);
            let (ys, gy0, back) =
                sde_solve_backward_at(&sde, &params, solver, &y0, &path, &saves, &g, cot).unwrap();
            assert_eq!(ys.len(), 16);
            let mut grads = vec![gy0];
            grads.extend(params.iter().map(|p| p.grad().copy()));
            match &reference {
                None => reference = Some(grads),
                Some(r) => {
                    let e = grads.iter().zip(r).map(|(a, b)| rel(a, b)).fold(0.0, f64::max);
                    assert!(e < 1e-10, "{name} {g:?}: {e:e} from backprop ({} backward steps)", back.steps);
                }
            }
        }
        // central differences in one weight against backprop
        let w = params.iter().find(|p| p.dim() == 2).unwrap().shallow_clone();
        let loss = || -> f64 {
            let ys = tch::no_grad(|| {
                sde_solve_backward_at(&sde, &[], solver, &y0, &path, &saves, &Gradient::Recompute, cot)
            })
            .unwrap()
            .0;
            ys.iter().map(|y| 0.5 * y.square().sum(Kind::Double).double_value(&[])).sum()
        };
        let eps = 1e-5;
        tch::no_grad(|| {
            let _ = w.get(0).get(0).f_add_scalar_(eps).unwrap();
        });
        let up = loss();
        tch::no_grad(|| {
            let _ = w.get(0).get(0).f_add_scalar_(-2.0 * eps).unwrap();
        });
        let down = loss();
        tch::no_grad(|| {
            let _ = w.get(0).get(0).f_add_scalar_(eps).unwrap();
        });
        let fd = (up - down) / (2.0 * eps);
        core_tensor::train::zero_grads(&params);
        let _ = sde_solve_backward_at(&sde, &params, solver, &y0, &path, &saves, &Gradient::Backprop, cot)
            .unwrap();
        let got = w.grad().double_value(&[0, 0]);
        assert!((got - fd).abs() <= 1e-5 * fd.abs().max(1e-3), "{name}: backprop {got} vs fd {fd}");
        eprintln!("{name}: dL/dw00 {got:.8e}, central difference {fd:.8e}");
    }
    let adj = Gradient::Adjoint { rtol: 1e-6, atol: 1e-6, seminorm: false };
    assert!(sde_solve_backward_at(&sde, &params, &Heun, &y0, &path, &saves, &adj, cot).is_err());
    assert!(
        sde_solve_backward_at(&sde, &params, &Heun, &y0, &path, &[0, n], &Gradient::Backprop, cot).is_err()
    );
}
