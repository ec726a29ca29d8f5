#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benches of `point-process`: the workload timed with tick and hawkes-rs (10-D exponential Hawkes
//! simulation, μ = 0.5, α ~ U(0, 0.08), β = 3, T = 20 000, ≈ 179k events) by thinning and by
//! branching, the exact log-likelihood with gradient on the simulated events, and a maximum-
//! likelihood fit (μ, α and β by L-BFGS from hawkes-rs's starting point) on [0, 200]; the training
//! step (loss, backward, Adam update) of every neural TPP on a fixed batch of 32 sequences of the
//! 5-D Hawkes benchmark process (≈ 50 events each, H = 32, one attention layer, one intra-op
//! thread); the spatio-temporal ETAS log-likelihood with gradient at ≈10k and ≈100k events (the
//! benchmark kernels, μ = 10^−4.6 per day per km², a 4° × 4° region over 1 000 and 10 000 days),
//! exact at 10k and truncated with a proved bound (`rel_tol = 1e-6`) at both sizes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nalgebra::DMatrix;
use point_process::hawkes::{fit_mle, log_likelihood_with_grad, FitConfig, Hawkes, SimOptions};
use point_process::neural::benchmark::{hawkes_5d, simulate_many};
use point_process::neural::{Model, NeuralTpp, TppBatch, TppConfig};
use point_process::optim::Lbfgs;
use rand::Rng;
use tch::nn::OptimizerConfig;

fn tick_model() -> Hawkes {
    let mut r = core_tensor::seed::rng(0);
    let alpha = DMatrix::from_fn(10, 10, |_, _| r.gen::<f64>() * 0.08);
    Hawkes::exponential(vec![0.5; 10], alpha, 3.0).expect("valid parameters")
}

fn hawkes_benches(c: &mut Criterion) {
    let h = tick_model();
    let opts = SimOptions::new(20_000.0);
    let n = h.simulate_ogata(opts, &mut core_tensor::seed::rng(1)).expect("simulation").len() as u64;
    let mut g = c.benchmark_group("hawkes");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    let mut seed = 0;
    g.bench_function("simulate_10d", |b| {
        b.iter(|| {
            seed += 1;
            h.simulate_ogata(opts, &mut core_tensor::seed::rng(seed)).expect("simulation")
        })
    });
    g.bench_function("simulate_10d_branching", |b| {
        b.iter(|| {
            seed += 1;
            h.simulate_branching(opts, &mut core_tensor::seed::rng(seed)).expect("simulation")
        })
    });
    // likelihood + gradient on ~100k events
    let seq =
        h.simulate_ogata(SimOptions::new(11_500.0), &mut core_tensor::seed::rng(2)).expect("simulation");
    g.throughput(Throughput::Elements(seq.len() as u64));
    g.bench_function("loglik_grad_10d_100k", |b| {
        b.iter(|| log_likelihood_with_grad(&h, &seq, true).expect("likelihood"))
    });
    // maximum likelihood on ≈1.8k events, started where hawkes-rs starts: μ_i = n_i / (2T),
    // α_ij = 0.5 / D, β = N / T; up to 1000 L-BFGS iterations
    let t_end = 200.0;
    let seq = h.simulate_ogata(SimOptions::new(t_end), &mut core_tensor::seed::rng(3)).expect("simulation");
    let d = h.dim();
    let mu0 = seq.counts().iter().map(|&n| (n.max(1) as f64) / (2.0 * t_end)).collect();
    let start =
        Hawkes::exponential(mu0, DMatrix::from_element(d, d, 0.5 / d as f64), seq.len() as f64 / t_end)
            .expect("valid start");
    let cfg = FitConfig {
        learn_kernel: true,
        l1: 0.0,
        l2: 0.0,
        optimizer: Lbfgs { memory: 10, max_iter: 1000, gtol: 1e-10, ftol: f64::EPSILON },
    };
    let probe = fit_mle(&start, std::slice::from_ref(&seq), &cfg).expect("fit");
    eprintln!(
        "hawkes/fit_10d: {} events, {} iterations, converged {}",
        seq.len(),
        probe.iterations,
        probe.converged
    );
    g.throughput(Throughput::Elements(seq.len() as u64));
    g.bench_function("fit_10d", |b| {
        b.iter(|| fit_mle(&start, std::slice::from_ref(&seq), &cfg).expect("fit"))
    });
    g.finish();
}

fn etas_benches(c: &mut Criterion) {
    use point_process::data::Region;
    use point_process::etas::{self, presets};
    let truth = presets::benchmark_truth(-4.6, true).expect("valid");
    let region = Region::new(-120.0, -116.0, 33.0, 37.0).expect("valid");
    let mut g = c.benchmark_group("etas");
    g.sample_size(10);
    for (name, t_end) in [("10k", 1_000.0), ("100k", 10_000.0)] {
        let cat = etas::simulate(&truth, region, 0.0, 0.0, t_end, &mut core_tensor::seed::rng(7), 5_000_000)
            .expect("simulation");
        let probe = etas::log_likelihood_truncated(&truth, &cat, true, 1e-6).expect("likelihood");
        eprintln!(
            "etas/loglik_grad_{name}: {} events, window {:.1} days, {} pairs, bound {:.2e} on log L = {:.1} \
             ({:.1e} relative), {:.2e} on each gradient component ({:.1e} of their scale {:.3e})",
            cat.len(),
            probe.window,
            probe.pairs,
            probe.bound,
            probe.log_likelihood,
            probe.bound / probe.log_likelihood.abs(),
            probe.grad_bound,
            probe.grad_bound / probe.grad_scale,
            probe.grad_scale
        );
        g.throughput(Throughput::Elements(cat.len() as u64));
        if cat.len() < 20_000 {
            g.bench_function(format!("loglik_grad_{name}_exact"), |b| {
                b.iter(|| etas::log_likelihood_with_grad(&truth, &cat, true).expect("likelihood"))
            });
        }
        g.bench_function(format!("loglik_grad_{name}"), |b| {
            b.iter(|| etas::log_likelihood_truncated(&truth, &cat, true, 1e-6).expect("likelihood"))
        });
    }
    g.finish();
}

fn neural_benches(c: &mut Criterion) {
    let device = core_tensor::device::device();
    let seqs = simulate_many(&hawkes_5d().expect("valid"), 32, 20.0, 0).expect("simulation");
    let batch = TppBatch::from_sequences(&seqs, tch::Kind::Float, device).expect("batch");
    let events: usize = seqs.iter().map(|s| s.len()).sum();
    // one intra-op thread, as in the suite runs (small latency-bound ops)
    core_tensor::device::with_single_thread(|| neural_train_steps(c, &batch, events as u64, device));
}

fn neural_train_steps(c: &mut Criterion, batch: &TppBatch, events: u64, device: tch::Device) {
    let mut g = c.benchmark_group("neural_tpp_train_step");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    for m in Model::ALL {
        core_tensor::seed::seed_torch(0);
        let vs = tch::nn::VarStore::new(device);
        let model = NeuralTpp::new(&vs.root(), TppConfig::new(m, 5).layers(1)).expect("model");
        // One raw step, not the Trainer: the bench times exactly what EasyTPP's step does, with
        // libtorch's own Adam as the peer uses torch.optim.Adam.
        let mut opt = tch::nn::Adam::default().build(&vs, 1e-3).expect("optimizer");
        g.bench_function(m.name(), |b| {
            b.iter(|| {
                let loss = model.loss(batch, true).expect("loss");
                opt.backward_step(&loss);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, hawkes_benches, etas_benches, neural_benches);
criterion_main!(benches);
