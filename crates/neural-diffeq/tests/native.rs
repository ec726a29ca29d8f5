//! The native path against the libtorch path: same solves, same gradients.

use neural_diffeq::native::{self, Batch};
use neural_diffeq::prelude::*;
use tch::{nn, Device, Kind, Tensor};

fn model(time_input: bool, double: bool) -> (nn::VarStore, NeuralOde) {
    core_tensor::seed::seed_everything(11);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let cfg = NeuralOdeConfig { time_input, ..NeuralOdeConfig::default() };
    let ode = NeuralOde::new(&vs.root(), cfg).unwrap();
    if double {
        vs.double();
    }
    (vs, ode)
}

fn host(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.to_kind(Kind::Double).contiguous().view([-1])).unwrap()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

fn solvers() -> Vec<(ExplicitRk, StepControl)> {
    vec![
        (ExplicitRk::dopri5(), StepControl::adaptive(1e-8, 1e-8)),
        (ExplicitRk::tsit5(), StepControl::adaptive(1e-7, 1e-7)),
        (ExplicitRk::bosh3(), StepControl::adaptive(1e-6, 1e-6)),
        (ExplicitRk::rk4(), StepControl::constant(0.05)),
    ]
}

#[test]
fn forward_solves_match_libtorch_in_f64_step_for_step() {
    for time_input in [false, true] {
        let (_vs, ode) = model(time_input, true);
        let x0 = Tensor::randn([300, 2], (Kind::Double, Device::Cpu));
        let field = ode.native::<f64>().unwrap();
        let y0 = Batch::from_tensor(&x0).unwrap();
        for (solver, control) in solvers() {
            let want =
                tch::no_grad(|| solve(&ode, &solver, (0.0, 1.0), &x0, &control, &SaveAt::t1())).unwrap();
            let got = solve(&field, &solver, (0.0, 1.0), &y0, &control, &SaveAt::t1()).unwrap();
            let e = max_rel(got.ys[0].data(), &host(&want.ys[0]));
            assert!(e < 1e-12, "{} (time input {time_input}): {e}", solver.tableau.name);
            assert_eq!(got.stats, want.stats, "{}", solver.tableau.name);
        }
    }
}

#[test]
fn forward_solves_match_libtorch_in_f32() {
    let (_vs, ode) = model(false, false);
    let x0 = Tensor::randn([512, 2], (Kind::Float, Device::Cpu));
    let field = ode.native::<f32>().unwrap();
    let y0 = Batch::from_tensor(&x0).unwrap();
    for (solver, control) in solvers() {
        let want = tch::no_grad(|| solve(&ode, &solver, (0.0, 1.0), &x0, &control, &SaveAt::t1())).unwrap();
        let got = solve(&field, &solver, (0.0, 1.0), &y0, &control, &SaveAt::t1()).unwrap();
        let g: Vec<f64> = got.ys[0].data().iter().map(|v| *v as f64).collect();
        let e = max_rel(&g, &host(&want.ys[0]));
        assert!(e < 1e-5, "{}: {e}", solver.tableau.name);
    }
}

/// libtorch's gradient of `⟨w, y(1)⟩` through the solver's operations: `(∂y0, ∂θ flat)`.
fn libtorch_backprop(
    ode: &NeuralOde,
    vs: &nn::VarStore,
    x0: &Tensor,
    w: &Tensor,
    solver: &ExplicitRk,
    control: &StepControl,
) -> (Vec<f64>, Vec<f64>) {
    let x = x0.detach().set_requires_grad(true);
    let sol = solve(ode, solver, (0.0, 1.0), &x, control, &SaveAt::t1()).unwrap();
    (&sol.ys[0] * w).sum(Kind::Double).backward();
    let mut gp = Vec::new();
    for l in ode.mlp().layers() {
        gp.extend(host(&l.ws.grad()));
        gp.extend(host(&l.bs.as_ref().unwrap().grad()));
    }
    vs.trainable_variables().iter().for_each(|v| {
        let _ = v.grad().zero_();
    });
    (host(&x.grad()), gp)
}

#[test]
fn backprop_equals_libtorch_backprop_in_f64() {
    for time_input in [false, true] {
        let (vs, ode) = model(time_input, true);
        let x0 = Tensor::randn([300, 2], (Kind::Double, Device::Cpu));
        let w = Tensor::randn([300, 2], (Kind::Double, Device::Cpu));
        let field = ode.native::<f64>().unwrap();
        let y0 = Batch::from_tensor(&x0).unwrap();
        let wb = Batch::<f64>::from_tensor(&w).unwrap();
        for (solver, control) in solvers() {
            let (gx, gp) = libtorch_backprop(&ode, &vs, &x0, &w, &solver, &control);
            let got =
                native::backprop(&field, &solver, (0.0, 1.0), &y0, &control, |_| Ok(wb.clone())).unwrap();
            let e0 = max_rel(got.grad_y0.data(), &gx);
            let ep = max_rel(&got.grad_params, &gp);
            assert!(
                e0 < 1e-12 && ep < 1e-12,
                "{} (time input {time_input}): ∂y0 {e0}, ∂θ {ep}",
                solver.tableau.name
            );
        }
    }
}

#[test]
fn adjoint_agrees_with_the_discrete_gradient_and_grads_reach_the_variables() {
    let (vs, ode) = model(false, true);
    let x0 = Tensor::randn([200, 2], (Kind::Double, Device::Cpu));
    let w = Tensor::randn([200, 2], (Kind::Double, Device::Cpu));
    let field = ode.native::<f64>().unwrap();
    let y0 = Batch::from_tensor(&x0).unwrap();
    let wb = Batch::<f64>::from_tensor(&w).unwrap();
    let tight = StepControl::adaptive(1e-10, 1e-10);
    let disc =
        native::backprop(&field, &ExplicitRk::dopri5(), (0.0, 1.0), &y0, &tight, |_| Ok(wb.clone())).unwrap();
    let adj =
        native::adjoint(&field, &ExplicitRk::dopri5(), (0.0, 1.0), &y0, &tight, &tight, |_| Ok(wb.clone()))
            .unwrap();
    let e0 = max_rel(adj.grad_y0.data(), disc.grad_y0.data());
    let ep = max_rel(&adj.grad_params, &disc.grad_params);
    eprintln!("adjoint vs discrete gradient: ∂y0 {e0:.2e}, ∂θ {ep:.2e}, backward NFE {}", adj.backward.nfe);
    assert!(e0 < 1e-7 && ep < 1e-7, "∂y0 {e0}, ∂θ {ep}");
    // the flat gradient lands in the variables' .grad, shaped and typed like them
    ode.add_native_grads(&field, &adj.grad_params).unwrap();
    let mut flat = Vec::new();
    for l in ode.mlp().layers() {
        assert_eq!(l.ws.grad().kind(), Kind::Double);
        flat.extend(host(&l.ws.grad()));
        flat.extend(host(&l.bs.as_ref().unwrap().grad()));
    }
    assert_eq!(flat, adj.grad_params);
    let _ = vs;
}

#[test]
fn bad_inputs_are_errors() {
    let (_vs, ode) = model(false, false);
    let field = ode.native::<f32>().unwrap();
    let dopri5 = ExplicitRk::dopri5();
    let tol = StepControl::adaptive(1e-6, 1e-6);
    let wide = Batch::<f32>::zeros(4, 3);
    let e = solve(&field, &dopri5, (0.0, 1.0), &wide, &tol, &SaveAt::t1()).unwrap_err();
    assert!(e.to_string().contains("y"), "{e}");
    let nan = Batch::new(vec![f32::NAN, 0.0, 1.0, 1.0], 2, 2).unwrap();
    assert!(solve(&field, &dopri5, (0.0, 1.0), &nan, &tol, &SaveAt::t1()).is_err());
    let y0 = Batch::<f32>::zeros(2, 2);
    let e = native::backprop(&field, &dopri5, (0.0, 1.0), &y0, &tol, |_| Ok(Batch::zeros(3, 2))).unwrap_err();
    assert!(e.to_string().contains("grad_y1"), "{e}");
    let e = native::adjoint(&field, &dopri5, (0.0, 1.0), &y0, &tol, &tol, |_| {
        Batch::new(vec![f32::INFINITY, 0.0, 0.0, 0.0], 2, 2)
    })
    .unwrap_err();
    assert!(e.to_string().contains("finite"), "{e}");
    // a field from a network that does not map the state to itself
    let vs = nn::VarStore::new(Device::Cpu);
    let mlp = core_tensor::nn::Mlp::new(&vs.root(), &[2, 8, 3], Default::default()).unwrap();
    assert!(native::MlpField::<f32>::from_mlp(&mlp, false).is_err());
}

#[test]
fn euler_maruyama_and_its_gradient_equal_the_tensor_path_in_f64() {
    use neural_diffeq::models::NeuralSde;
    use neural_diffeq::native::sde;
    use neural_diffeq::sde::{sdeint_on_grid, BrownianPath, EulerMaruyama};
    core_tensor::seed::seed_everything(5);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = NeuralSde::new(&vs.root(), 3, &[16]).unwrap();
    vs.double();
    let y0 = Tensor::randn([300, 3], (Kind::Double, Device::Cpu));
    let w = Tensor::randn([300, 3], (Kind::Double, Device::Cpu));
    let path = BrownianPath::increments_only(0.0, 0.02, 50, &[300, 3], 9, Kind::Double, Device::Cpu).unwrap();
    // tensor path: autograd through the steps
    let x = y0.detach().set_requires_grad(true);
    let ys = sdeint_on_grid(&model, &EulerMaruyama, &x, &path, &SaveAt::t1()).unwrap().ys;
    (ys.last().unwrap() * &w).sum(Kind::Double).backward();
    let mut want_p = Vec::new();
    for v in ["drift", "diffusion"] {
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(k, _)| k.starts_with(v)).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        want_p.push(named.iter().flat_map(|(_, t)| host(&t.grad())).collect::<Vec<_>>());
    }
    // native path on the same increments
    let field = model.native::<f64>().unwrap();
    let inc = sde::host_increments::<f64>(&path).unwrap();
    assert_eq!(sde::brownian_increments::<f64>(9, 50, 300, 3, 0.02).unwrap(), inc);
    let path32 =
        BrownianPath::increments_only(0.0, 0.02, 50, &[300, 3], 9, Kind::Float, Device::Cpu).unwrap();
    assert_eq!(
        sde::brownian_increments::<f32>(9, 50, 300, 3, 0.02).unwrap(),
        sde::host_increments::<f32>(&path32).unwrap()
    );
    let wb = Batch::<f64>::from_tensor(&w).unwrap();
    let got = sde::euler_maruyama_backprop(&field, &Batch::from_tensor(&y0).unwrap(), 0.02, &inc, |_| {
        Ok(wb.clone())
    })
    .unwrap();
    let e = max_rel(got.y1.data(), &host(ys.last().unwrap()));
    assert!(e < 1e-12, "y(1): {e}");
    let e = max_rel(got.grad_y0.data(), &host(&x.grad()));
    assert!(e < 1e-12, "∂y0: {e}");
    // variables sort as layer0/bias, layer0/weight, ...: compare the native gradients through the
    // model's own accumulation instead of by position
    for v in vs.trainable_variables() {
        let _ = v.grad().zero_();
    }
    model.add_native_grads(&field, &got.grad_drift, &got.grad_diffusion).unwrap();
    for (i, v) in ["drift", "diffusion"].iter().enumerate() {
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(k, _)| k.starts_with(v)).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let g: Vec<f64> = named.iter().flat_map(|(_, t)| host(&t.grad())).collect();
        let e = max_rel(&g, &want_p[i]);
        assert!(e < 1e-12, "∂{v}: {e}");
    }
    // bad input
    assert!(sde::euler_maruyama(&field, &Batch::zeros(300, 2), 0.02, &inc).is_err());
    assert!(sde::euler_maruyama(&field, &Batch::from_tensor(&y0).unwrap(), 0.0, &inc).is_err());
    assert!(sde::euler_maruyama(&field, &Batch::from_tensor(&y0).unwrap(), 0.02, &inc[..10]).is_err());
}

#[test]
fn neural_cde_outputs_and_gradients_equal_the_tensor_path_in_f64() {
    use neural_diffeq::cde::{ControlPath, Interpolation, NeuralCde};
    use neural_diffeq::native::cde::{forward_backward, HostPath};
    core_tensor::seed::seed_everything(8);
    let (batch, obs) = (200i64, 12usize);
    let times: Vec<f64> = (0..obs).map(|i| i as f64 / (obs - 1) as f64).collect();
    let x =
        (Tensor::randn([batch, obs as i64, 2], (Kind::Double, Device::Cpu)) * 0.3).cumsum(1, Kind::Double);
    for (interp, solver, control) in [
        (Interpolation::HermiteBackward, ExplicitRk::rk4(), StepControl::constant(times[1])),
        (Interpolation::Linear, ExplicitRk::rk4(), StepControl::constant(times[1] / 2.0)),
        (Interpolation::NaturalCubic, ExplicitRk::dopri5(), StepControl::adaptive(1e-7, 1e-7)),
    ] {
        let path = ControlPath::without_counts(&times, &x, interp).unwrap();
        let mut vs = nn::VarStore::new(Device::Cpu);
        let cde = NeuralCde::new(&vs.root(), path.channels(), 6, &[16], 2).unwrap();
        vs.double();
        let (out, _) = cde.forward_with(&path, &solver, &control).unwrap();
        let w = Tensor::randn([batch, 2], (Kind::Double, Device::Cpu));
        (&out * &w).sum(Kind::Double).backward();
        let mut named = vs.variables().into_iter().collect::<Vec<_>>();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let want: Vec<f64> = named.iter().flat_map(|(_, t)| host(&t.grad())).collect();
        // native
        let model = cde.native::<f64>().unwrap();
        let hp = HostPath::<f64>::new(&path).unwrap();
        let wb = Batch::<f64>::from_tensor(&w).unwrap();
        let got = forward_backward(&model, &hp, &solver, &control, |_| Ok(wb.clone())).unwrap();
        let e = max_rel(got.out.data(), &host(&out));
        assert!(e < 1e-12, "{interp:?} outputs: {e}");
        for v in vs.trainable_variables() {
            let _ = v.grad().zero_();
        }
        cde.add_native_grads(&model, &got).unwrap();
        let g: Vec<f64> = named.iter().flat_map(|(_, t)| host(&t.grad())).collect();
        let e = max_rel(&g, &want);
        assert!(e < 1e-10, "{interp:?} gradients: {e}");
    }
}
