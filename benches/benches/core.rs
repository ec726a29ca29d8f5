#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benches of `core-tensor`: MLP forward and forward + backward throughput (the MLP of the
//! neural-ODE peer workload, 2-64-64-2 tanh, batch 512) and one optimizer step.

use core_tensor::nn::{Activation, Mlp, MlpConfig};
use core_tensor::train::{Optimizer, OptimizerConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tch::{nn, nn::ModuleT, Kind, Tensor};

fn mlp_benches(c: &mut Criterion) {
    core_tensor::seed::seed_torch(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let mlp = Mlp::new(&vs.root(), &[2, 64, 64, 2], MlpConfig::default().activation(Activation::Tanh))
        .expect("valid widths");
    let x = Tensor::randn([512, 2], (Kind::Float, dev));
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(512));
    g.bench_function("mlp_2_64_64_2_forward_b512", |b| b.iter(|| tch::no_grad(|| mlp.forward_t(&x, false))));
    // the same network on the native path (core_tensor::native), on rayon's pool as a solve runs it
    let native = core_tensor::native::NativeMlp::<f32>::from_mlp(&mlp).expect("native copy");
    let xs = Vec::<f32>::try_from(&x.to(tch::Device::Cpu).flatten(0, -1)).expect("host copy");
    let mut cache = core_tensor::native::MlpCache::default();
    let mut out = vec![0f32; 512 * 2];
    g.bench_function("native_mlp_2_64_64_2_forward_b512", |b| {
        core_tensor::native::on_pool(|| {
            b.iter(|| native.forward_into(&xs, &mut out, &mut cache).expect("forward"))
        })
    });
    let gy = vec![1f32; 512 * 2];
    let mut gx = vec![0f32; 512 * 2];
    let mut gp = vec![0f32; native.num_params()];
    g.bench_function("native_mlp_2_64_64_2_forward_vjp_b512", |b| {
        core_tensor::native::on_pool(|| {
            b.iter(|| {
                native.forward_into(&xs, &mut out, &mut cache).expect("forward");
                native.vjp(&mut cache, &xs, &gy, Some(&mut gx), &mut gp).expect("vjp")
            })
        })
    });
    let mut opt = Optimizer::from_var_store(OptimizerConfig::adam(1e-3), &vs).expect("valid config");
    // One raw optimizer step, not the Trainer: the cost of a step itself.
    g.bench_function("mlp_2_64_64_2_train_step_b512", |b| {
        b.iter(|| {
            opt.zero_grad();
            mlp.forward_t(&x, true).square().mean(Kind::Float).backward();
            opt.step().expect("step");
        })
    });
    g.finish();
}

criterion_group!(benches, mlp_benches);
criterion_main!(benches);
