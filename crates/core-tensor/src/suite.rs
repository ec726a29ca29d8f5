//! Suite tasks of `core-tensor`: the training loop fitting a known function, SELU
//! self-normalisation, and zeroth-order gradient accuracy.

use crate::bench::{
    progress_bar, Better, Metric, Plot, SuiteConfig, Task, TaskGroup, TaskReport, TaskResult,
};
use crate::data::DataLoader;

use crate::nn::{Activation, Mlp, MlpConfig};
use crate::seed::seed_everything;
use crate::train::{LrSchedule, Observer, OptimizerConfig, Trainer, ZerothOrder, ZerothOrderEstimator};
use std::f64::consts::PI;
use std::sync::{Arc, Mutex};
use tch::{nn, nn::ModuleT, Kind, Tensor};

/// All `core-tensor` tasks.
pub fn tasks() -> TaskGroup {
    TaskGroup::new("core-tensor").with_all([TRAINER_FIT_SINE, SELU_SELF_NORMALISATION, ZEROTH_ORDER_GRADIENT])
}

struct Curve(Arc<Mutex<Vec<(f64, f64)>>>);
impl Observer for Curve {
    fn on_epoch(&mut self, r: &crate::train::EpochRecord) -> crate::train::Control {
        self.0.lock().expect("not poisoned").push(((r.epoch + 1) as f64, r.train_loss));
        crate::train::Control::Continue
    }
}

/// Fits `y = sin(x)` on `[-π, π]` with an MLP through [`Trainer`] and reports the RMSE on a dense
/// test grid against the exact function. Goal: RMSE < 0.01.
pub const TRAINER_FIT_SINE: Task = Task::new(
    "trainer_fit_sine",
    "MLP 1-64-64-1 tanh fits sin on [-π, π] through the Trainer; RMSE against the exact function",
    trainer_fit_sine,
);

fn trainer_fit_sine(cfg: &SuiteConfig) -> TaskResult {
    seed_everything(cfg.seed);
    let dev = cfg.device;
    let vs = nn::VarStore::new(dev);
    let mlp = Mlp::new(&vs.root(), &[1, 64, 64, 1], MlpConfig::default().activation(Activation::Tanh))?;
    let n = cfg.pick(512, 4096);
    let x = Tensor::rand([n, 1], (Kind::Float, dev)) * (2.0 * PI) - PI;
    let y = x.sin();
    let data = DataLoader::new(vec![x, y], 64, cfg.seed)?;
    let epochs = cfg.pick(150, 600);
    let curve = Arc::new(Mutex::new(Vec::new()));
    let mut trainer = Trainer::builder()
        .epochs(epochs)
        .optimizer(OptimizerConfig::adam(3e-3))
        .schedule(LrSchedule::Cosine { t_max: epochs, eta_min: 1e-4 }.with_warmup(5))
        .clip_norm(5.0)
        .seed(cfg.seed)
        .progress(cfg.progress)
        .build()?;
    trainer.observe(Curve(curve.clone()));
    trainer.fit(
        &vs,
        &data,
        |b| Ok((mlp.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float)),
        || Ok(None),
    )?;
    let xt = Tensor::linspace(-PI, PI, 2001, (Kind::Float, dev)).unsqueeze(1);
    let pred = tch::no_grad(|| mlp.forward_t(&xt, false));
    let p = crate::interop::tensor_to_vec(&pred)?;
    let truth: Vec<f64> = crate::interop::tensor_to_vec(&xt)?.iter().map(|v| v.sin()).collect();
    let rmse = crate::metrics::rmse(&p, &truth)?;
    let max_err = p.iter().zip(&truth).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let mut r = TaskReport::new();
    r.metric("test_rmse", Metric::new(rmse, "", Better::Lower).with_goal(0.01))?;
    r.metric("test_max_abs_error", Metric::new(max_err, "", Better::Lower))?;
    r.metric("epochs", Metric::new(epochs as f64, "", Better::Lower))?;
    let pts = curve.lock().expect("not poisoned").clone();
    r.plot(
        Plot::new("training_loss", "Trainer: MSE while fitting sin(x)", "epoch", "training MSE")
            .log(false, true)
            .line("Adam + cosine", pts),
    );
    Ok(r)
}

/// Variance of activations through 32 hidden layers: SELU with LeCun-normal init against tanh and
/// ReLU with PyTorch's default init (Klambauer et al. 2017: SELU keeps mean 0, variance 1).
pub const SELU_SELF_NORMALISATION: Task = Task::new(
    "selu_self_normalisation",
    "activation mean/variance through 32 layers of width 256: SELU (LeCun normal) vs tanh, ReLU",
    selu_self_normalisation,
);

fn selu_self_normalisation(cfg: &SuiteConfig) -> TaskResult {
    seed_everything(cfg.seed);
    let widths: Vec<i64> = std::iter::repeat_n(256, 34).collect();
    let x = Tensor::randn([4096, 256], (Kind::Float, cfg.device));
    let mut r = TaskReport::new();
    let mut plot = Plot::new("variance_by_depth", "Activation variance through depth", "layer", "variance")
        .log(false, true);
    for act in [Activation::Selu, Activation::Tanh, Activation::Relu] {
        let vs = nn::VarStore::new(cfg.device);
        let mlp = Mlp::new(&vs.root(), &widths, MlpConfig::default().activation(act))?;
        let acts = tch::no_grad(|| mlp.forward_all(&x, false));
        let vars: Vec<(f64, f64)> = acts
            .iter()
            .take(32)
            .enumerate()
            .map(|(i, a)| ((i + 1) as f64, a.var(true).double_value(&[])))
            .collect();
        if act == Activation::Selu {
            let last = &acts[31];
            r.metric(
                "selu_layer32_mean",
                Metric::new(last.mean(Kind::Double).double_value(&[]), "", Better::Lower)
                    .with_reference(0.0, "fixed point of Klambauer et al. 2017"),
            )?;
            r.metric(
                "selu_layer32_variance",
                Metric::new(vars[31].1, "", Better::Lower)
                    .with_reference(1.0, "fixed point of Klambauer et al. 2017"),
            )?;
        } else {
            r.metric(format!("{act}_layer32_variance"), Metric::new(vars[31].1, "", Better::Higher))?;
        }
        plot = plot.line(act.name(), vars);
    }
    r.plot(plot);
    Ok(r)
}

/// Relative error of zeroth-order gradient estimates against the exact gradient of a random
/// quadratic in 50 dimensions, as a function of the number of directions (expected ∝ 1/√S).
pub const ZEROTH_ORDER_GRADIENT: Task = Task::new(
    "zeroth_order_gradient",
    "SPSA and Gaussian random-direction gradient estimates vs the exact gradient of a quadratic",
    zeroth_order_gradient,
);

fn zeroth_order_gradient(cfg: &SuiteConfig) -> TaskResult {
    seed_everything(cfg.seed);
    let dev = cfg.device;
    let d = 50;
    let m = Tensor::randn([d, d], (Kind::Double, dev));
    let a = m.matmul(&m.tr()) / d as f64 + Tensor::eye(d, (Kind::Double, dev));
    let b = Tensor::randn([d], (Kind::Double, dev));
    let x = Tensor::randn([d], (Kind::Double, dev));
    let truth = a.mv(&x) + &b;
    let f = || Ok((x.dot(&a.mv(&x)) * 0.5 + b.dot(&x)).double_value(&[]));
    let sizes: Vec<usize> =
        cfg.pick(vec![10, 30, 100, 300, 1000, 3000], vec![10, 30, 100, 300, 1000, 3000, 10000, 30000]);
    let mut r = TaskReport::new();
    let mut plot = Plot::new(
        "error_vs_directions",
        "Zeroth-order gradient error (d = 50)",
        "directions S",
        "relative error",
    )
    .log(true, true);
    let pb = progress_bar((2 * sizes.len()) as u64, "zeroth-order", cfg.progress);
    for (label, make) in [
        ("spsa", (|s| ZerothOrder::Spsa { c: 1e-3, samples: s }) as fn(usize) -> ZerothOrder),
        ("random_direction", |s| ZerothOrder::RandomDirection { mu: 1e-3, samples: s }),
    ] {
        let mut pts = Vec::new();
        for &s in &sizes {
            let mut est = ZerothOrderEstimator::new(make(s), cfg.seed)?;
            let g = est.estimate(std::slice::from_ref(&x), f)?;
            let rel = (&g[0] - &truth).norm().double_value(&[]) / truth.norm().double_value(&[]);
            pts.push((s as f64, rel));
            pb.inc(1);
        }
        let last = *pts.last().expect("non-empty");
        r.metric(format!("{label}_rel_error_S{}", last.0), Metric::new(last.1, "", Better::Lower))?;
        plot = plot.line(label, pts);
    }
    pb.finish_and_clear();
    // One Rademacher direction has E‖u uᵀg − g‖² = (d − 1)‖g‖² (Gaussian: (d + 1)‖g‖²), so the
    // relative error of an S-direction average is about √(d/S).
    plot = plot.line("√(d/S)", sizes.iter().map(|&s| (s as f64, (d as f64 / s as f64).sqrt())).collect());
    r.plot(plot);
    Ok(r)
}
