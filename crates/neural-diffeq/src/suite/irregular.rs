//! Irregular-sampling classification in the protocol of the stable-neural-SDE paper (Oh et al.
//! 2024): each sequence loses 30, 50 or 70 % of its points at random, and every model sees only
//! what is left, on the union time grid with NaN for the dropped points.

use super::*;
use crate::cde::{ControlPath, Interpolation, NeuralCde};
use crate::models::{StableKind, StableSde};
use rand::seq::SliceRandom as _;
use rand::Rng as _;
use rand_distr::{Distribution, Normal};
use tch::nn::RNN;

/// Letter classes.
const CLASSES: i64 = 8;
/// Points per sequence before dropping.
const POINTS: usize = 48;
/// Seed of the class templates (part of the data set's definition, not of a run).
const TEMPLATE_SEED: u64 = 0x5713_0CE5;

/// A class template: pen position `p(s) = Σ_{j=1}^{3} a_j (cos φ_j − cos(2πjs + φ_j)) / (2πj)` per
/// axis (the integral of a velocity with three harmonics), normalised to unit RMS about its mean.
struct Template {
    amp: [[f64; 3]; 2],
    phase: [[f64; 3]; 2],
    norm: f64,
}

impl Template {
    fn new(class: u64) -> Self {
        let mut g = core_tensor::seed::rng(core_tensor::seed::derive_seed(TEMPLATE_SEED, class));
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        let mut t = Template { amp: [[0.0; 3]; 2], phase: [[0.0; 3]; 2], norm: 1.0 };
        for axis in 0..2 {
            for j in 0..3 {
                t.amp[axis][j] = normal.sample(&mut g) / (j + 1) as f64;
                t.phase[axis][j] = g.gen::<f64>() * std::f64::consts::TAU;
            }
        }
        let pts: Vec<[f64; 2]> = (0..200).map(|k| t.raw(k as f64 / 199.0)).collect();
        let mean = [0, 1].map(|a| pts.iter().map(|p| p[a]).sum::<f64>() / 200.0);
        let ms = pts.iter().map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2)).sum::<f64>() / 200.0;
        t.norm = ms.sqrt().max(1e-9);
        t
    }

    fn raw(&self, s: f64) -> [f64; 2] {
        [0, 1].map(|a| {
            (0..3)
                .map(|j| {
                    let w = std::f64::consts::TAU * (j + 1) as f64;
                    self.amp[a][j] * (self.phase[a][j].cos() - (w * s + self.phase[a][j]).cos()) / w
                })
                .sum::<f64>()
        })
    }

    fn at(&self, s: f64) -> [f64; 2] {
        self.raw(s).map(|v| v / self.norm)
    }
}

/// A split of the pen-stroke data set: `n` sequences of [`POINTS`] times on `[0, 1]`, each a class
/// template under a random monotone time warp `s = u + w sin(πu)/π` (`w ~ U(−0.6, 0.6)`), scale
/// `U(0.8, 1.2)`, rotation `U(−0.4, 0.4)` rad, offset `N(0, 0.3²)` and observation noise
/// `N(0, 0.15²)`; then `round(drop · POINTS)` of each sequence's points set to NaN.
struct Strokes {
    times: Vec<f64>,
    /// `[n, T, 2]` with NaN rows for dropped points.
    x: Tensor,
    /// `[n, T, 4]`: forward-filled values, observation mask, time since the previous observation.
    gru_inputs: Tensor,
    /// `[n]` class labels.
    y: Tensor,
}

fn strokes(n: usize, drop: f64, seed: u64, dev: tch::Device) -> Strokes {
    let templates: Vec<Template> = (0..CLASSES as u64).map(Template::new).collect();
    let mut g = core_tensor::seed::rng(seed);
    let times: Vec<f64> = (0..POINTS).map(|k| k as f64 / (POINTS - 1) as f64).collect();
    let normal = Normal::new(0.0, 1.0).expect("unit normal");
    let n_drop = ((drop * POINTS as f64).round() as usize).min(POINTS - 2);
    let (mut x, mut gin, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let c = g.gen_range(0..CLASSES as usize);
        let (w, scale, rot) = (g.gen_range(-0.6..0.6), g.gen_range(0.8..1.2), g.gen_range(-0.4f64..0.4));
        let offset = [0.3 * normal.sample(&mut g), 0.3 * normal.sample(&mut g)];
        let mut keep = [true; POINTS];
        let mut idx: Vec<usize> = (0..POINTS).collect();
        idx.shuffle(&mut g);
        for &i in &idx[..n_drop] {
            keep[i] = false;
        }
        let (mut last, mut last_t) = ([0.0f64; 2], None::<f64>);
        for (k, &u) in times.iter().enumerate() {
            let s = u + w * (std::f64::consts::PI * u).sin() / std::f64::consts::PI;
            let p = templates[c].at(s);
            let (cr, sr) = (rot.cos(), rot.sin());
            let v = [
                scale * (cr * p[0] - sr * p[1]) + offset[0] + 0.15 * normal.sample(&mut g),
                scale * (sr * p[0] + cr * p[1]) + offset[1] + 0.15 * normal.sample(&mut g),
            ];
            let dt = last_t.map_or(0.0, |lt| u - lt);
            if keep[k] {
                x.extend_from_slice(&v);
                last = v;
                last_t = Some(u);
            } else {
                x.extend_from_slice(&[f64::NAN, f64::NAN]);
            }
            gin.extend_from_slice(&[last[0], last[1], keep[k] as i64 as f64, dt]);
        }
        y.push(c as i64);
    }
    let t = POINTS as i64;
    Strokes {
        times,
        x: Tensor::from_slice(&x).view([n as i64, t, 2]).to_kind(Kind::Float).to(dev),
        gru_inputs: Tensor::from_slice(&gin).view([n as i64, t, 4]).to_kind(Kind::Float).to(dev),
        y: Tensor::from_slice(&y).to(dev),
    }
}

/// Pen-stroke classification (8 letter-like classes, a CharacterTrajectories-style synthetic set)
/// with 30, 50 and 70 % of each sequence's points dropped: neural CDE, the three stable neural
/// SDEs and a GRU-Δt baseline.
pub const IRREGULAR_CLASSIFICATION: Task = Task::new(
    "irregular_classification",
    "pen strokes (8 classes) with 30/50/70 % of points dropped: neural CDE, LSDE, LNSDE, GSDE vs GRU-Δt test accuracy",
    irregular_classification,
);

fn irregular_classification(cfg: &SuiteConfig) -> TaskResult {
    let dev = cfg.device;
    let mut r = TaskReport::new();
    r.headline("neural_cde_accuracy_drop50");
    let models = ["neural_cde", "lsde", "lnsde", "gsde", "gru_dt"];
    let mut curves: Vec<Vec<(f64, f64)>> = vec![Vec::new(); models.len()];
    let n_train = cfg.pick(1024, 4096);
    for (ri, drop) in [0.3f64, 0.5, 0.7].into_iter().enumerate() {
        let pct = (drop * 100.0).round() as i64;
        let seed = core_tensor::seed::derive_seed(cfg.seed, ri as u64);
        let train = strokes(n_train, drop, seed, dev);
        let test = strokes(1024, drop, seed ^ 0x7E57, dev);
        let accs = [
            neural_cde(cfg, &train, &test)?,
            stable_sde(cfg, &train, &test, StableKind::Langevin)?,
            stable_sde(cfg, &train, &test, StableKind::LinearNoise)?,
            stable_sde(cfg, &train, &test, StableKind::Geometric)?,
            gru_dt(cfg, &train, &test)?,
        ];
        for (mi, (name, acc)) in models.iter().zip(accs).enumerate() {
            let mut m = Metric::new(acc, "", Better::Higher);
            if *name != "gru_dt" {
                m = m.with_reference(accs[4], "GRU-Δt on the same points");
            }
            r.metric(format!("{name}_accuracy_drop{pct}"), m)?;
            curves[mi].push((pct as f64, acc));
        }
    }
    let mut plot = Plot::new(
        "accuracy_vs_dropped",
        "Pen strokes (8 classes): test accuracy against the share of points dropped",
        "points dropped (%)",
        "test accuracy",
    );
    for (name, c) in models.iter().zip(curves) {
        plot = plot.line(*name, c);
    }
    r.plot(plot);
    r.note(format!(
        "{n_train} training and 1024 test sequences of {POINTS} points on [0, 1] per drop rate; chance {:.3}. \
         Neural CDE on the backward-Hermite control path with observation counts (hidden 16, field 32), \
         dopri5 at 1e-3; LSDE / LNSDE / GSDE on the same path with Euler–Maruyama, 2 steps per grid interval; \
         GRU-Δt (width 32) reads the forward-filled values, the observation mask and the time since the \
         previous observation at every grid time.",
        1.0 / CLASSES as f64
    ));
    Ok(r)
}

/// Sequences and batch size of the training loops.
fn batches(data: &Strokes) -> (i64, usize) {
    (data.y.size()[0], 128)
}

/// Trains the variables of `vs` on the control paths of `train` and returns the test accuracy;
/// `logits(path, seed)` is the model's output (the seed drives the SDEs' Brownian paths: a fresh
/// one per training step, a fixed one at test).
fn fit_on_paths(
    cfg: &SuiteConfig,
    vs: &nn::VarStore,
    (train, test): (&Strokes, &Strokes),
    (lr, epochs): (f64, usize),
    logits: impl Fn(&ControlPath, u64) -> Result<Tensor>,
) -> Result<f64> {
    let path = |d: &Strokes, b0: i64, len: i64| {
        ControlPath::new(&d.times, &d.x.narrow(0, b0, len), Interpolation::HermiteBackward)
    };
    train_in_batches(
        vs,
        OptimizerConfig::adam(lr),
        batches(train),
        epochs,
        cfg.progress,
        |step, b0, len| {
            let out = logits(&path(train, b0, len)?, cfg.seed.wrapping_add(step as u64 + 1))?;
            Ok(out.cross_entropy_for_logits(&train.y.narrow(0, b0, len)))
        },
    )?;
    let out = tch::no_grad(|| logits(&path(test, 0, test.y.size()[0])?, 12_345))?;
    core_tensor::metrics::accuracy_logits(&out, &test.y)
}

fn neural_cde(cfg: &SuiteConfig, train: &Strokes, test: &Strokes) -> Result<f64> {
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(cfg.device);
    let model = NeuralCde::new(&vs.root(), 5, 16, &[32], CLASSES)?;
    let control = StepControl::adaptive(1e-3, 1e-3);
    fit_on_paths(cfg, &vs, (train, test), (5e-3, cfg.pick(15, 60)), |path, _| {
        Ok(model.forward(path, &control)?.0)
    })
}

fn stable_sde(cfg: &SuiteConfig, train: &Strokes, test: &Strokes, kind: StableKind) -> Result<f64> {
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(cfg.device);
    let m = StableSde::new(&vs.root(), kind, 5, 16, 32, CLASSES)?;
    let steps = 2 * (POINTS - 1);
    fit_on_paths(cfg, &vs, (train, test), (1e-2, cfg.pick(30, 120)), |path, seed| {
        Ok(m.forward(path, steps, seed)?)
    })
}

fn gru_dt(cfg: &SuiteConfig, train: &Strokes, test: &Strokes) -> Result<f64> {
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(cfg.device);
    let gru = nn::gru(&(vs.root() / "gru"), 4, 32, Default::default());
    let head = nn::linear(vs.root() / "head", 32, CLASSES, Default::default());
    let last = POINTS as i64 - 1;
    train_in_batches(
        &vs,
        OptimizerConfig::adam(5e-3),
        batches(train),
        cfg.pick(60, 200),
        cfg.progress,
        |_, b0, len| {
            let (out, _) = gru.seq(&train.gru_inputs.narrow(0, b0, len));
            Ok(out.select(1, last).apply(&head).cross_entropy_for_logits(&train.y.narrow(0, b0, len)))
        },
    )?;
    tch::no_grad(|| {
        let (out, _) = gru.seq(&test.gru_inputs);
        core_tensor::metrics::accuracy_logits(&out.select(1, last).apply(&head), &test.y)
    })
}
