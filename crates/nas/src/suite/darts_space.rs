//! `darts_space_search`: DARTS, sharpDARTS and DARTS-PT on the DARTS space against random
//! genotypes of the same space, all trained under one protocol ("NAS evaluation is frustratingly
//! hard", Yang et al. 2020).
//!
//! 1. **Search.** DARTS (1st order, softmax, DARTS's optimiser settings) and sharpDARTS (Max-W,
//!    SharpSepConv ops, cosine power annealing `p = 2`) each train a [`DartsSupernet`] on the
//!    training half (weights) and the validation half (`α`) of the data, and read a genotype off
//!    `α` by DARTS's rule; DARTS-PT selects a genotype from the DARTS supernet by perturbation.
//! 2. **Random baseline.** `n` genotypes sampled uniformly from the same space (8 ops, 2 inputs per
//!    node).
//! 3. **One protocol.** Every genotype's [`DartsNetwork`] is trained from scratch on the training
//!    half with the same SGD settings and evaluated on the test split (method genotypes over
//!    several seeds).
//! 4. **Report.** Test accuracy per method, the relative improvement
//!    `RI = 100 (acc_method − acc_random) / acc_random` with a 95 % percentile-bootstrap interval
//!    (resampling the method's seeds and the random genotypes), and the Kendall τ / Spearman ρ
//!    between each genotype's accuracy inside the trained DARTS supernet (shared weights) and its
//!    stand-alone accuracy.
//!
//! Data: the procedural 10-class image set (the quick profile at 12×12, a few CPU minutes); with
//! `SCIML_CIFAR10=<dir with data_batch_1.bin … test_batch.bin>` the full profile searches and
//! evaluates on CIFAR-10 (DARTS's split: half of the training set for the weights, half for `α`).

use rand::{Rng, SeedableRng};
use tch::{nn, Device, Tensor};

use core_tensor::bench::{Better, Metric, Plot, SuiteConfig, Task, TaskReport, TaskResult};
use core_tensor::metrics::{kendall_tau, mean_var, spearman_rho};
use core_tensor::seed::{derive_seed, rng};
use core_tensor::train::optim::trainable_named;

use crate::darts_space::{
    darts_pt_genotype, DartsNetConfig, DartsNetwork, DartsSpace, DartsSupernet, Genotype, OpSet,
    SupernetConfig,
};
use crate::data::{read_cifar10, ProceduralImages};
use crate::space::SearchSpace;
use crate::supernet::{darts_search_with, DartsConfig, DartsOrder, MixRule};
use crate::train::{train_network, ImageData, TrainConfig};
use crate::Result;

/// Environment variable naming a directory with the CIFAR-10 binary batches.
pub const CIFAR_ENV: &str = "SCIML_CIFAR10";

/// DARTS, sharpDARTS and DARTS-PT vs random genotypes on the DARTS space.
pub const DARTS_SPACE_SEARCH: Task = Task::new(
    "darts_space_search",
    "DARTS space: DARTS, sharpDARTS, DARTS-PT vs random genotypes under one training protocol (RI, CI, supernet rank correlation)",
    darts_space_search,
);

/// The sizes of one profile.
#[derive(Debug, Clone, Copy)]
struct Scale {
    image: usize,
    n_train: usize,
    n_test: usize,
    search_channels: i64,
    search_layers: usize,
    search_epochs: usize,
    batch: usize,
    eval_channels: i64,
    eval_layers: usize,
    eval_epochs: usize,
    method_seeds: usize,
    random_genotypes: usize,
    pt_tune_epochs: usize,
}

fn scale(cfg: &SuiteConfig) -> Scale {
    Scale {
        image: cfg.pick(12, 32),
        n_train: cfg.pick(500, 25_000),
        n_test: cfg.pick(1000, 10_000),
        search_channels: cfg.pick(6, 16),
        search_layers: cfg.pick(5, 8),
        search_epochs: cfg.pick(3, 50),
        batch: cfg.pick(64, 64),
        eval_channels: cfg.pick(8, 36),
        eval_layers: cfg.pick(5, 20),
        eval_epochs: cfg.pick(15, 100),
        method_seeds: cfg.pick(2, 3),
        random_genotypes: cfg.pick(8, 16),
        pt_tune_epochs: cfg.pick(0, 1),
    }
}

/// Train / validation halves and a test split: CIFAR-10 when [`CIFAR_ENV`] is set in the full
/// profile, else the procedural set.
fn load_data(cfg: &SuiteConfig, s: &Scale) -> Result<(ImageData, String)> {
    let cifar = std::env::var_os(CIFAR_ENV).filter(|_| cfg.profile == core_tensor::bench::Profile::Full);
    let (data, text) = if let Some(dir) = cifar {
        let dir = std::path::PathBuf::from(dir);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 1..=5 {
            let (x, y) = read_cifar10(dir.join(format!("data_batch_{i}.bin")))?;
            xs.push(x);
            ys.push(y);
        }
        let (x, y) = (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0));
        let (xt, yt) = read_cifar10(dir.join("test_batch.bin"))?;
        let h = (x.size()[0] / 2).min(s.n_train as i64);
        let data = ImageData {
            x_train: x.narrow(0, 0, h),
            y_train: y.narrow(0, 0, h),
            x_val: x.narrow(0, h, h),
            y_val: y.narrow(0, h, h),
            x_test: xt,
            y_test: yt,
        };
        (data, format!("CIFAR-10 from {CIFAR_ENV} ({h} + {h} training images, 10 000 test)"))
    } else {
        let gen = ProceduralImages { classes: 10, size: s.image, noise: 0.1 };
        let n = s.n_train as i64;
        let (x, y) = gen.generate(2 * s.n_train + s.n_test, &mut rng(derive_seed(cfg.seed, 1)))?;
        let data = ImageData {
            x_train: x.narrow(0, 0, n),
            y_train: y.narrow(0, 0, n),
            x_val: x.narrow(0, n, n),
            y_val: y.narrow(0, n, n),
            x_test: x.narrow(0, 2 * n, s.n_test as i64),
            y_test: y.narrow(0, 2 * n, s.n_test as i64),
        };
        let text = format!(
            "procedural 10-class images {0}×{0} ({1} + {1} training images, {2} test)",
            s.image, s.n_train, s.n_test
        );
        (data, text)
    };
    Ok((data.to_device(cfg.device), text))
}

fn darts_space_search(cfg: &SuiteConfig) -> TaskResult {
    Ok(run(cfg)?)
}

fn eval_config(s: &Scale) -> DartsNetConfig {
    DartsNetConfig {
        channels: s.eval_channels,
        layers: s.eval_layers,
        classes: 10,
        ..DartsNetConfig::default()
    }
}

/// DARTS's evaluation optimiser (SGD 0.9, lr 0.025 cosine to 0, weight decay 3e-4, clip 5).
fn eval_protocol(s: &Scale) -> TrainConfig {
    TrainConfig { lr: 0.025, weight_decay: 3e-4, ..TrainConfig::new(s.eval_epochs, s.batch) }
}

/// Trains `g`'s network from scratch under the one protocol; its test accuracy.
fn stand_alone(g: &Genotype, data: &ImageData, s: &Scale, seed: u64, device: Device) -> Result<f64> {
    core_tensor::seed::seed_torch(seed);
    let vs = nn::VarStore::new(device);
    let net = DartsNetwork::new(&vs.root(), g, eval_config(s))?;
    let forward = |x: &Tensor, train: bool| net.forward_t(x, train);
    let out = train_network(forward, trainable_named(&vs), data, &eval_protocol(s), &mut rng(seed))?;
    Ok(out.test_acc)
}

/// A trained supernet with its var stores (the supernet holds tensors of both).
struct Searched {
    net: DartsSupernet,
    weights: nn::VarStore,
    _arch: nn::VarStore,
    genotype: Genotype,
}

fn search(data: &ImageData, s: &Scale, seed: u64, device: Device, sharp: bool) -> Result<Searched> {
    core_tensor::seed::seed_torch(seed);
    let space = DartsSpace::default();
    let (weights, arch) = (nn::VarStore::new(device), nn::VarStore::new(device));
    let (op_set, rule) = if sharp {
        (OpSet::Sharp { mid_mult: 1.0 }, MixRule::MaxW)
    } else {
        (OpSet::Darts, MixRule::Softmax)
    };
    let sc = SupernetConfig {
        net: DartsNetConfig {
            channels: s.search_channels,
            layers: s.search_layers,
            classes: 10,
            op_set,
            ..DartsNetConfig::default()
        },
        rule,
        partial_channels: 1,
        edge_normalisation: false,
    };
    let net = DartsSupernet::new(&weights.root(), &arch.root(), &space, sc)?;
    let dc = if sharp {
        DartsConfig::sharp(DartsOrder::First, s.search_epochs, s.batch)
    } else {
        DartsConfig::new(DartsOrder::First, s.search_epochs, s.batch)
    };
    darts_search_with(&net, &weights, data, &dc, &mut rng(derive_seed(seed, 7)), |_, _| {})?;
    let genotype = net.genotype()?;
    Ok(Searched { net, weights, _arch: arch, genotype })
}

/// 95 % percentile-bootstrap interval of `100 (mean(a) − mean(b)) / mean(b)`.
fn ri_interval(a: &[f64], b: &[f64], seed: u64) -> (f64, f64) {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut draws: Vec<f64> = (0..2000)
        .map(|_| {
            let ra: Vec<f64> = (0..a.len()).map(|_| a[r.gen_range(0..a.len())]).collect();
            let rb: Vec<f64> = (0..b.len()).map(|_| b[r.gen_range(0..b.len())]).collect();
            100.0 * (mean(&ra) - mean(&rb)) / mean(&rb)
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    (draws[49], draws[1949])
}

fn run(cfg: &SuiteConfig) -> Result<TaskReport> {
    let s = scale(cfg);
    let (data, data_text) = load_data(cfg, &s)?;
    let dev = cfg.device;
    let space = DartsSpace::default();
    let seeds: Vec<u64> = (0..s.method_seeds as u64).map(|i| derive_seed(cfg.seed, 300 + i)).collect();
    let mut gen_rng = rng(derive_seed(cfg.seed, 2));
    let random: Vec<Genotype> = (0..s.random_genotypes).map(|_| space.sample(&mut gen_rng)).collect();
    let steps = (seeds.len() * 3 + seeds.len() * 3 + random.len()) as u64;
    let pb = core_tensor::bench::progress_bar(steps, "darts space", cfg.progress);
    // PT measures the supernet on a part of the validation half (hundreds of evaluations).
    let pt_data = ImageData {
        x_val: data.x_val.narrow(0, 0, data.x_val.size()[0].min(200)),
        y_val: data.y_val.narrow(0, 0, data.y_val.size()[0].min(200)),
        x_train: data.x_train.shallow_clone(),
        y_train: data.y_train.shallow_clone(),
        x_test: data.x_test.shallow_clone(),
        y_test: data.y_test.shallow_clone(),
    };
    let tune = TrainConfig {
        lr: 0.0025,
        schedule: core_tensor::train::LrSchedule::Constant,
        ..TrainConfig::new(1, s.batch)
    };
    let names = ["DARTS (1st order)", "sharpDARTS (Max-W, cosine power)", "DARTS-PT"];
    let mut found: Vec<Vec<Genotype>> = vec![Vec::new(); 3];
    let mut supernet_acc: Vec<(Genotype, f64)> = Vec::new();
    let clock = std::time::Instant::now();
    for (k, &seed) in seeds.iter().enumerate() {
        let mut darts = search(&data, &s, seed, dev, false)?;
        pb.inc(1);
        let sharp = search(&data, &s, seed, dev, true)?;
        pb.inc(1);
        if k == 0 {
            // every genotype of the study inside the first DARTS supernet, before DARTS-PT
            let mut all: Vec<Genotype> = random.clone();
            all.push(darts.genotype.clone());
            all.push(sharp.genotype.clone());
            for g in all {
                let a = darts.net.genotype_accuracy(&g, &data.x_val, &data.y_val)?;
                supernet_acc.push((g, a));
            }
        }
        let (pt, _) = darts_pt_genotype(
            &mut darts.net,
            &darts.weights,
            &pt_data,
            &tune,
            s.pt_tune_epochs,
            &mut rng(seed),
        )?;
        pb.inc(1);
        found[0].push(darts.genotype.clone());
        found[1].push(sharp.genotype.clone());
        found[2].push(pt);
    }
    let search_s = clock.elapsed().as_secs_f64();
    // One protocol for everything.
    let clock = std::time::Instant::now();
    let mut method_acc: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for (m, gs) in found.iter().enumerate() {
        for (g, &seed) in gs.iter().zip(&seeds) {
            method_acc[m].push(stand_alone(g, &data, &s, derive_seed(seed, 9), dev)?);
            pb.inc(1);
        }
    }
    let mut random_acc = Vec::with_capacity(random.len());
    for (i, g) in random.iter().enumerate() {
        random_acc.push(stand_alone(g, &data, &s, derive_seed(cfg.seed, 500 + i as u64), dev)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let eval_s = clock.elapsed().as_secs_f64();
    // The first-seed genotypes of the methods join the random ones for the rank correlation.
    let mut pairs: Vec<(f64, f64)> =
        random_acc.iter().cloned().zip(supernet_acc.iter().map(|(_, a)| *a)).collect();
    pairs.push((method_acc[0][0], supernet_acc[random.len()].1));
    pairs.push((method_acc[1][0], supernet_acc[random.len() + 1].1));
    let (alone, shared): (Vec<f64>, Vec<f64>) = pairs.iter().cloned().unzip();
    let (tau, rho) = (kendall_tau(&shared, &alone)?, spearman_rho(&shared, &alone)?);

    let (rand_mean, rand_var) = mean_var(&random_acc)?;
    let mut r = TaskReport::new();
    r.metric("random_mean_test_acc", Metric::new(rand_mean, "", Better::Higher))?;
    r.metric("search_seconds", Metric::new(search_s, "s", Better::Lower))?;
    r.metric("evaluation_seconds", Metric::new(eval_s, "s", Better::Lower))?;
    r.metric("random_sd_test_acc", Metric::new(rand_var.sqrt(), "", Better::Lower))?;
    r.metric("supernet_vs_standalone_kendall_tau", Metric::new(tau, "", Better::Higher))?;
    r.metric("supernet_vs_standalone_spearman_rho", Metric::new(rho, "", Better::Higher))?;
    let mut lines = vec![
        format!(
            "Data: {data_text}. Search: supernet C = {}, {} cells, {} epochs, batch {}. Evaluation (every genotype, same protocol): C = {}, {} cells, {} epochs, SGD lr 0.025 cosine, weight decay 3e-4.",
            s.search_channels, s.search_layers, s.search_epochs, s.batch, s.eval_channels, s.eval_layers, s.eval_epochs
        ),
        String::new(),
        format!("Random genotypes ({}): test accuracy {rand_mean:.4} ± {:.4} (sd).", random.len(), rand_var.sqrt()),
        String::new(),
        "| method | test accuracy per seed | mean | RI vs random (%) | 95 % CI (bootstrap) |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    let mut points = Vec::new();
    for (m, accs) in method_acc.iter().enumerate() {
        let (mean, _) = mean_var(accs)?;
        let ri = 100.0 * (mean - rand_mean) / rand_mean;
        let (lo, hi) = ri_interval(accs, &random_acc, derive_seed(cfg.seed, 40 + m as u64));
        let key = ["darts", "sharp_darts", "darts_pt"][m];
        r.metric(
            format!("{key}_test_acc"),
            Metric::new(mean, "", Better::Higher).with_reference(rand_mean, "random genotypes"),
        )?;
        r.metric(format!("{key}_ri_pct"), Metric::new(ri, "%", Better::Higher))?;
        r.metric(format!("{key}_ri_ci_low_pct"), Metric::new(lo, "%", Better::Higher))?;
        r.metric(format!("{key}_ri_ci_high_pct"), Metric::new(hi, "%", Better::Higher))?;
        let per: Vec<String> = accs.iter().map(|a| format!("{a:.4}")).collect();
        lines.push(format!(
            "| {} | {} | {mean:.4} | {ri:+.2} | [{lo:+.2}, {hi:+.2}] |",
            names[m],
            per.join(", "),
        ));
        points.extend(accs.iter().map(|a| (m as f64, *a)));
    }
    points.extend(random_acc.iter().map(|a| (3.0, *a)));
    lines.push(String::new());
    lines.push(format!(
        "Supernet (first DARTS seed, shared weights) vs stand-alone test accuracy over {} genotypes: Kendall τ {tau:.3}, Spearman ρ {rho:.3}.",
        pairs.len()
    ));
    lines.push(String::new());
    lines.push("Genotypes found (first seed):".to_string());
    for (m, gs) in found.iter().enumerate() {
        lines.push(format!("- {}: `{}`", names[m], space.encode(&gs[0])));
    }
    r.note(lines.join("\n"));
    r.plot(
        Plot::new(
            "darts_space_methods",
            "DARTS space: stand-alone test accuracy of each genotype",
            "method",
            "test accuracy",
        )
        .categories(names.iter().copied().chain(["random"]))
        .scatter("genotype × seed", points)
        .line("random mean", vec![(0.0, rand_mean), (3.0, rand_mean)]),
    );
    r.plot(
        Plot::new(
            "darts_space_supernet_rank",
            "Accuracy inside the supernet vs stand-alone",
            "supernet validation accuracy",
            "stand-alone test accuracy",
        )
        .scatter("genotypes", pairs.iter().map(|(a, b)| (*b, *a)).collect()),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ri_interval_brackets_the_estimate() {
        let a = [0.60, 0.62, 0.64];
        let b = [0.50, 0.55, 0.52, 0.49, 0.51, 0.53, 0.50, 0.54];
        let (lo, hi) = ri_interval(&a, &b, 1);
        let ri = 100.0 * (0.62 - b.iter().sum::<f64>() / 8.0) / (b.iter().sum::<f64>() / 8.0);
        assert!(lo < ri && ri < hi && lo > 0.0, "{lo} {ri} {hi}");
        assert_eq!(ri_interval(&a, &b, 1), (lo, hi), "seeded");
    }
}
