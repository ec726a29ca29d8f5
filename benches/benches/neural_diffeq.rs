#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benches of `neural-diffeq` on the workloads its peers are timed on
//! (`benches/peers/{torchdiffeq,diffrax,torchsde,torchcde}.py`):
//! - neural ODE with an MLP 2-64-64-2 tanh vector field, batch 512, f32, t from 0 to 1; dopri5 at
//!   rtol = atol = 1e-6 (forward, forward + backward through the solver, forward + continuous
//!   adjoint) and RK4 with 100 fixed steps. `neural_ode/*` times the native path
//!   (`neural_diffeq::native`: the same solvers on plain-Rust states, the MLP outside libtorch),
//!   the fastest this crate offers for the workload and the one compared with the peers;
//!   `neural_ode_libtorch/*` times the same workloads on libtorch tensors (autograd graph recorded
//!   in the forward solves, as a training step would);
//! - neural SDE, Euler–Maruyama, forward + backward (`neural_sde/*` native, `neural_sde_libtorch/*`
//!   tensors);
//! - neural CDE, Hermite cubic path, RK4 on the observation grid, forward + backward.

use criterion::{criterion_group, criterion_main, Criterion};
use neural_diffeq::prelude::*;
use tch::{nn, Kind, Tensor};

fn neural_ode_benches(c: &mut Criterion) {
    core_tensor::seed::seed_everything(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig::default()).expect("valid config");
    let x0 = Tensor::randn([512, 2], (Kind::Float, dev));
    let dopri5 = ExplicitRk::dopri5();
    let tol = StepControl::adaptive(1e-6, 1e-6);
    let mut g = c.benchmark_group("neural_ode_libtorch");
    g.sample_size(20);
    g.bench_function("dopri5_forward", |b| {
        b.iter(|| solve(&ode, &dopri5, (0.0, 1.0), &x0, &tol, &SaveAt::t1()).expect("solve"))
    });
    g.bench_function("dopri5_backprop", |b| {
        b.iter(|| {
            let s = solve(&ode, &dopri5, (0.0, 1.0), &x0, &tol, &SaveAt::t1()).expect("solve");
            s.ys[0].sum(Kind::Float).backward();
        })
    });
    g.bench_function("dopri5_adjoint", |b| {
        b.iter(|| {
            ode.backward(
                &vs,
                &x0,
                (0.0, 1.0),
                &dopri5,
                &tol,
                &Gradient::Adjoint { rtol: 1e-6, atol: 1e-6, seminorm: false },
                |y| Ok(y.ones_like()),
            )
            .expect("adjoint")
        })
    });
    let rk4 = ExplicitRk::rk4();
    let fixed = StepControl::constant(0.01);
    g.bench_function("rk4_100_steps_forward", |b| {
        b.iter(|| solve(&ode, &rk4, (0.0, 1.0), &x0, &fixed, &SaveAt::t1()).expect("solve"))
    });
    g.finish();

    // the native path on the same model and initial state
    use neural_diffeq::native::{self, Batch};
    let field = ode.native::<f32>().expect("native field");
    let y0 = Batch::<f32>::from_tensor(&x0).expect("batch");
    let ones = |y: &Batch<f32>| Ok(Batch::full(y.rows(), y.cols(), 1.0));
    let mut g = c.benchmark_group("neural_ode");
    g.sample_size(20);
    g.bench_function("dopri5_forward", |b| {
        b.iter(|| native::solve(&field, &dopri5, (0.0, 1.0), &y0, &tol, &SaveAt::t1()).expect("solve"))
    });
    g.bench_function("dopri5_backprop", |b| {
        b.iter(|| native::backprop(&field, &dopri5, (0.0, 1.0), &y0, &tol, ones).expect("backprop"))
    });
    g.bench_function("dopri5_adjoint", |b| {
        b.iter(|| native::adjoint(&field, &dopri5, (0.0, 1.0), &y0, &tol, &tol, ones).expect("adjoint"))
    });
    g.bench_function("rk4_100_steps_forward", |b| {
        b.iter(|| native::solve(&field, &rk4, (0.0, 1.0), &y0, &fixed, &SaveAt::t1()).expect("solve"))
    });
    g.finish();
}

criterion_group!(benches, neural_ode_benches, neural_sde_benches, neural_cde_benches);
criterion_main!(benches);

/// The neural-SDE workload: drift MLP 8-64-8 tanh, diffusion MLP 8-64-8 (tanh hidden,
/// sigmoid output), diagonal Itô noise, batch 512, Euler–Maruyama with dt = 0.01 on [0, 1],
/// forward + backward; the Brownian increments are sampled inside the timed loop.
fn neural_sde_benches(c: &mut Criterion) {
    use neural_diffeq::models::NeuralSde;
    use neural_diffeq::sde::{sdeint_on_grid, BrownianPath, EulerMaruyama};
    use neural_diffeq::solve::SaveAt;
    core_tensor::seed::seed_everything(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let sde = NeuralSde::new(&vs.root(), 8, &[64]).expect("valid config");
    let y0 = Tensor::randn([512, 8], (Kind::Float, dev));
    let mut g = c.benchmark_group("neural_sde_libtorch");
    g.sample_size(20);
    let mut seed = 0;
    g.bench_function("euler_forward_backward", |b| {
        b.iter(|| {
            seed += 1;
            let path = BrownianPath::increments_only(0.0, 0.01, 100, &[512, 8], seed, Kind::Float, dev)
                .expect("path");
            let ys =
                sdeint_on_grid(&sde, &EulerMaruyama, &y0, &path, &SaveAt::every_step()).expect("solve").ys;
            ys.last().expect("solved").sum(Kind::Float).backward();
        })
    });
    g.finish();

    // the native path: the same draws (drawn into a host vector), the same steps
    use neural_diffeq::native::{sde as native_sde, Batch};
    let field = sde.native::<f32>().expect("native sde");
    let y0n = Batch::<f32>::from_tensor(&y0).expect("batch");
    let ones = |y: &Batch<f32>| Ok(Batch::full(y.rows(), y.cols(), 1.0));
    let mut g = c.benchmark_group("neural_sde");
    g.sample_size(20);
    g.bench_function("euler_forward_backward", |b| {
        b.iter(|| {
            seed += 1;
            let inc = native_sde::brownian_increments::<f32>(seed, 100, 512, 8, 0.01).expect("increments");
            native_sde::euler_maruyama_backprop(&field, &y0n, 0.01, &inc, ones).expect("backprop")
        })
    });
    g.finish();
}

/// The neural-CDE workload: batch 256, 100 observations on t ∈ [0, 1], channels = time + 2 data
/// channels (random walks with N(0, 0.1²) steps), Hermite cubic path with backward differences
/// built once, hidden state 32, vector field 32-128-(32·3) (ReLU, tanh output), RK4 with the
/// observation spacing as its step, linear read-out of z(1); forward + backward of the summed output
/// (`neural_cde/*` native, `neural_cde_libtorch/*` tensors).
fn neural_cde_benches(c: &mut Criterion) {
    use neural_diffeq::cde::{ControlPath, Interpolation, NeuralCde};
    core_tensor::seed::seed_everything(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let (batch, obs, data_channels) = (256, 100, 2);
    let times: Vec<f64> = (0..obs).map(|i| i as f64 / (obs - 1) as f64).collect();
    let x = (Tensor::randn([batch, obs, data_channels], (Kind::Float, dev)) * 0.1).cumsum(1, Kind::Float);
    let path = ControlPath::without_counts(&times, &x, Interpolation::HermiteBackward).expect("path");
    let cde = NeuralCde::new(&vs.root(), path.channels(), 32, &[128], 1).expect("valid config");
    let rk4 = ExplicitRk::rk4();
    let step = StepControl::constant(times[1] - times[0]);
    let mut g = c.benchmark_group("neural_cde_libtorch");
    g.sample_size(10);
    g.bench_function("hermite_rk4_forward_backward", |b| {
        b.iter(|| {
            let (out, _) = cde.forward_with(&path, &rk4, &step).expect("solve");
            out.sum(Kind::Float).backward();
        })
    });
    g.finish();

    // the native path: the same model and path (read into host memory once, like the tensor path's
    // knots and slopes built once)
    use neural_diffeq::native::{cde as native_cde, Batch};
    let model = cde.native::<f32>().expect("native cde");
    let host = native_cde::HostPath::<f32>::new(&path).expect("host path");
    let ones = |y: &Batch<f32>| Ok(Batch::full(y.rows(), y.cols(), 1.0));
    let mut g = c.benchmark_group("neural_cde");
    g.sample_size(10);
    g.bench_function("hermite_rk4_forward_backward", |b| {
        b.iter(|| native_cde::forward_backward(&model, &host, &rk4, &step, ones).expect("solve"))
    });
    g.finish();
}
