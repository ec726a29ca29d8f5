#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! NAS workloads: one zero-cost proxy evaluation per proxy (network built from scratch, batch 64
//! of 16×16 procedural images, the micro-benchmark's 8-channel NB201 skeleton) and one DARTS
//! supernet step (architecture step + weight step, first and second order, batch 64).

use criterion::{criterion_group, criterion_main, Criterion};
use nas::data::ProceduralImages;
use nas::model::NetworkConfig;
use nas::proxies::{score, Proxy};
use nas::space::{CellSpace, SearchSpace};
use nas::supernet::{darts_search, DartsConfig, DartsOrder, MixRule, Supernet};
use nas::train::ImageData;
use tch::nn;

fn nas_benches(c: &mut Criterion) {
    let dev = core_tensor::device::device();
    let gen = ProceduralImages { classes: 8, size: 16, noise: 0.2 };
    let (x, y) = gen.generate(128, &mut core_tensor::seed::rng(0)).expect("data");
    let (x, y) = (x.to_device(dev), y.to_device(dev));
    let space = CellSpace::nb201();
    let cell = space
        .decode(
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        )
        .expect("cell");
    let cfg = NetworkConfig { channels: 8, classes: 8, ..NetworkConfig::default() };
    let (xb, yb) = (x.narrow(0, 0, 64), y.narrow(0, 0, 64));
    let mut g = c.benchmark_group("nas");
    g.sample_size(20);
    for p in Proxy::ALL {
        g.bench_function(format!("proxy_{}", p.name()), |b| {
            b.iter(|| score(p, &space, &cell, cfg, &xb, &yb, 0).expect("score"))
        });
    }
    let data = ImageData {
        x_train: xb.shallow_clone(),
        y_train: yb.shallow_clone(),
        x_val: x.narrow(0, 64, 64),
        y_val: y.narrow(0, 64, 64),
        x_test: x.narrow(0, 64, 64),
        y_test: y.narrow(0, 64, 64),
    };
    for (name, order) in
        [("supernet_step_first_order", DartsOrder::First), ("supernet_step_second_order", DartsOrder::Second)]
    {
        core_tensor::seed::seed_torch(0);
        let (wv, av) = (nn::VarStore::new(dev), nn::VarStore::new(dev));
        let net = Supernet::new(&wv.root(), &av.root(), &space, cfg, MixRule::Softmax).expect("supernet");
        // One epoch over one batch of 64 = one architecture step and one weight step (plus the
        // epoch's validation pass, which the step dominates).
        let dc = DartsConfig::new(order, 1, 64);
        let mut r = core_tensor::seed::rng(1);
        g.bench_function(name, |b| {
            b.iter(|| darts_search(&net, &wv, &data, &dc, &mut r, |_, _| {}).expect("step"))
        });
    }
    g.finish();
}

criterion_group!(benches, nas_benches);
criterion_main!(benches);
