#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! FNO training steps, the workloads `benches/peers/neuraloperator.py` times with neuraloperator:
//! 1-D (modes 16, width 64, 4 layers, batch 20, 1024 points) and 2-D (modes 12×12, width 32,
//! 4 layers, batch 10, 64×64); MSE loss, Adam.

use core_tensor::train::{Optimizer, OptimizerConfig};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use neural_operator::fno::{Fno, FnoConfig};
use tch::{nn, Kind, Tensor};

fn fno_benches(c: &mut Criterion) {
    let dev = core_tensor::device::device();
    let mut g = c.benchmark_group("fno1d");
    g.sample_size(20);
    train_step(&mut g, FnoConfig::default(), &[20, 1, 1024], dev);
    g.finish();
    let mut g = c.benchmark_group("fno2d");
    g.sample_size(10);
    let cfg = FnoConfig { modes: vec![12, 12], width: 32, ..FnoConfig::default() };
    train_step(&mut g, cfg, &[10, 1, 64, 64], dev);
    g.finish();
}

/// Times one Adam step of an FNO with `cfg` on random input and target of `shape`.
fn train_step(g: &mut BenchmarkGroup<'_, WallTime>, cfg: FnoConfig, shape: &[i64], dev: tch::Device) {
    core_tensor::seed::seed_everything(0);
    let vs = nn::VarStore::new(dev);
    let fno = Fno::new(&vs.root(), cfg).expect("valid config");
    let mut opt = Optimizer::from_var_store(OptimizerConfig::adam(1e-3), &vs).expect("optimizer");
    let x = Tensor::randn(shape, (Kind::Float, dev));
    let y = Tensor::randn(shape, (Kind::Float, dev));
    // One raw optimizer step, not the Trainer: the step the peer script times, without bookkeeping.
    g.bench_function("train_step", |b| {
        b.iter(|| {
            opt.zero_grad();
            let loss = (fno.forward(&x, None).expect("forward") - &y).square().mean(Kind::Float);
            loss.backward();
            opt.step().expect("step");
        })
    });
}

criterion_group!(benches, fno_benches);
criterion_main!(benches);
