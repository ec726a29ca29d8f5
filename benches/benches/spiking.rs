#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! The SNN workload timed with snnTorch and SpikingJelly (`benches/peers/`): one training step of Linear 784-1000 → Leaky(β = 0.95) →
//! Linear 1000-10 → Leaky with fast_sigmoid(25), T = 25, batch 128, Bernoulli(0.2) input,
//! cross-entropy on spike counts, Adam. `train_step` and `train_step_tensor` are multi-step (one
//! GEMM over T·B per linear layer): the fused pass (`spiking::fused`, the fastest this crate offers
//! for the workload, compared with the peers' `snn/train_step`) and the tensor path with autograd;
//! `train_step_single_step` is snnTorch's single-step form on the tensor path.

use core_tensor::train::{Optimizer, OptimizerConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use spiking::neuron::Leaky;
use spiking::{loss, Layer, NeuronOptions, SpikingNet, Surrogate};
use tch::{nn, Kind, Tensor};

fn net(vs: &nn::VarStore) -> SpikingNet {
    let root = vs.root();
    let o = NeuronOptions::default().surrogate(Surrogate::FastSigmoid { slope: 25.0 });
    SpikingNet::new()
        .push(Layer::Linear(nn::linear(&root / "fc1", 784, 1000, Default::default())))
        .neuron(Leaky::new(&(&root / "lif1"), 0.95, &o).expect("valid neuron"))
        .push(Layer::Linear(nn::linear(&root / "fc2", 1000, 10, Default::default())))
        .neuron(Leaky::new(&(&root / "lif2"), 0.95, &o).expect("valid neuron"))
}

fn snn_benches(c: &mut Criterion) {
    core_tensor::seed::seed_torch(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let model = net(&vs);
    let mut opt = Optimizer::from_var_store(OptimizerConfig::adam(5e-4), &vs).expect("optimizer");
    let x = Tensor::full([25, 128, 784], 0.2, (Kind::Float, dev)).bernoulli();
    let y = Tensor::randint(10, [128], (Kind::Int64, dev));
    let mut g = c.benchmark_group("snn");
    g.sample_size(20);
    // the fused pass (spiking::fused): linear maps as libtorch products, each neuron layer's time
    // loop and its backward pass in plain Rust, then the same optimiser step
    g.bench_function("train_step", |b| {
        b.iter(|| {
            opt.zero_grad();
            model.fused_backward(&x, |s| loss::ce_count(s, &y)).expect("fused pass");
            opt.step().expect("step");
        })
    });
    for (name, multi) in [("train_step_tensor", true), ("train_step_single_step", false)] {
        // One raw optimizer step, not the Trainer: the step the peer scripts time.
        g.bench_function(name, |b| {
            b.iter(|| {
                opt.zero_grad();
                let out = if multi {
                    model.forward_multi_step(&x, false)
                } else {
                    model.forward_single_step(&x, false)
                }
                .expect("forward");
                let l = loss::ce_count(&out.spk, &y).expect("loss");
                l.backward();
                opt.step().expect("step");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, snn_benches);
criterion_main!(benches);
