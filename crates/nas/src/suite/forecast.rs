//! Suite task `nas_forecast`: the forecasting-cell space ([`crate::forecast`]) on Lorenz-96.
//!
//! **Protocol** ([`ForecastProtocol`]). Lorenz-96 series (`N = 8`, `F = 8`, seeded) are split by
//! series into training, validation and test series and standardised with the training mean and
//! standard deviation (one scalar each: the system is homogeneous across sites). Every series is
//! cut into (window of `W` states → next state) pairs. Every architecture is trained the same way:
//! the same data, Adam with a fixed learning rate, a fixed number of steps on minibatches drawn
//! from a seeded stream, gradient-norm clipping, parameters initialised from a seed that depends
//! only on the architecture (so a result does not depend on the order of training).
//!
//! **Scores.** The one-step mean squared error divided by the persistence baseline's
//! (`x̂_{W+1} = x_W`, "repeat the last state") on the same pairs: `nMSE = MSE / MSE_persistence`,
//! lower is better and `nMSE < 1` beats persistence. Selection (search) uses the validation nMSE;
//! the reported numbers are test nMSE.
//!
//! **Random-architecture baseline and RI.** The random-architecture mean is the mean test nMSE of
//! the evaluated architectures weighted by how many of the 80 architectures each distinct cell
//! stands for (with all 73 distinct cells this is exactly the expectation for a uniformly sampled
//! architecture). Because lower is better, the relative improvement is
//! `RI = 100 · (random − method) / random` (positive: better than random architectures).
//!
//! **Search.** Regularised evolution maximises `−nMSE_val`; random search gets the same budget.
//! Both query one cache keyed by the canonical cell ([`SearchSpace::canonical`]), so every cell
//! trains at most once, whether it was met in the sweep or in a search.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;
use tch::{nn, Device, Kind, Tensor};

use core_tensor::bench::{Better, Metric, Plot, SuiteConfig, Task, TaskReport, TaskResult};
use core_tensor::seed::{derive_seed, rng};
use core_tensor::train::{trainable_named, OptimizerConfig, StepOutput, Trainer};

use crate::forecast::{ForecastArch, ForecastConfig, ForecastNet, ForecastSpace};
use crate::lorenz::{forecasting_pairs, Lorenz96Data};
use crate::search::{random_search, regularized_evolution, SearchResult};
use crate::space::SearchSpace;
use crate::{Error, Result};

/// The data and training protocol shared by every architecture (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastProtocol {
    /// The Lorenz-96 series; the last `val_series + test_series` of them are held out.
    pub data: Lorenz96Data,
    /// Series used for validation (selection).
    pub val_series: usize,
    /// Series used for the reported test error.
    pub test_series: usize,
    /// Window length `W` (states per input).
    pub window: usize,
    /// Network sizes (`n` must equal `data.n`).
    pub net: ForecastConfig,
    /// Adam steps.
    pub steps: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Maximum gradient norm.
    pub clip: f64,
}

impl ForecastProtocol {
    /// The quick protocol: `N = 8`, `F = 8`, 6 series of 160 states every 0.05 time units (4 for
    /// training, 1 for validation, 1 for test), window 8, width 16, 300 Adam steps of 32 pairs.
    pub fn quick(seed: u64) -> Self {
        ForecastProtocol {
            data: Lorenz96Data {
                n: 8,
                forcing: 8.0,
                n_series: 6,
                length: 160,
                dt: 0.05,
                substeps: 10,
                burn_in: 5.0,
                perturbation: 0.01,
                seed,
            },
            val_series: 1,
            test_series: 1,
            window: 8,
            net: ForecastConfig { n: 8, hidden: 16, heads: 2, rhn_depth: 2 },
            steps: 300,
            batch: 32,
            lr: 3e-3,
            clip: 1.0,
        }
    }

    /// The full protocol: 12 series of 500 states (8 / 2 / 2), window 12, width 32 with 4 heads,
    /// 1500 Adam steps of 64 pairs.
    pub fn full(seed: u64) -> Self {
        let q = Self::quick(seed);
        ForecastProtocol {
            data: Lorenz96Data { n_series: 12, length: 500, ..q.data },
            val_series: 2,
            test_series: 2,
            window: 12,
            net: ForecastConfig { n: 8, hidden: 32, heads: 4, rhn_depth: 2 },
            steps: 1500,
            batch: 64,
            ..q
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// Invalid data or network settings, `net.n ≠ data.n`, fewer than one training, validation or
    /// test series, series shorter than `window + 1`, zero steps or batch, a learning rate or
    /// clipping norm that is not finite and positive.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.net.validate()?;
        if self.net.n != self.data.n as i64 {
            return Err(Error::invalid("net.n", self.net.n, format!("must equal data.n = {}", self.data.n)));
        }
        if self.val_series == 0 || self.test_series == 0 {
            return Err(Error::invalid(
                "val_series / test_series",
                format!("{} / {}", self.val_series, self.test_series),
                "each must be ≥ 1",
            ));
        }
        if self.val_series + self.test_series >= self.data.n_series {
            return Err(Error::invalid(
                "data.n_series",
                self.data.n_series,
                format!(
                    "must exceed val_series + test_series = {} to leave training series",
                    self.val_series + self.test_series
                ),
            ));
        }
        if self.window == 0 || self.window >= self.data.length {
            return Err(Error::invalid(
                "window",
                self.window,
                format!("must be ≥ 1 and < the series length {}", self.data.length),
            ));
        }
        for (name, v) in [("steps", self.steps), ("batch", self.batch)] {
            if v == 0 {
                return Err(Error::invalid(name, v, "must be ≥ 1"));
            }
        }
        for (name, v) in [("lr", self.lr), ("clip", self.clip)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(name, v, "must be finite and > 0"));
            }
        }
        Ok(())
    }

    /// Generates, splits and standardises the data and cuts it into pairs on `device`.
    ///
    /// # Errors
    /// Invalid settings ([`ForecastProtocol::validate`]) or a failed integration.
    pub fn prepare(&self, device: Device) -> Result<ForecastData> {
        self.validate()?;
        let series = self.data.generate(Kind::Float, device)?;
        let n_train = (self.data.n_series - self.val_series - self.test_series) as i64;
        let train = series.f_narrow(0, 0, n_train)?;
        let mean = train.f_mean(Kind::Float)?;
        let std = train.f_std(false)?;
        if std.double_value(&[]) <= 0.0 {
            return Err(Error::invalid("data", "training series", "have zero variance; nothing to forecast"));
        }
        let z = (series - mean) / std;
        let pairs = |start: i64, len: usize| -> Result<(Tensor, Tensor)> {
            let (x, y) = forecasting_pairs(&z.f_narrow(0, start, len as i64)?, self.window, 1, 1)?;
            Ok((x, y.f_squeeze_dim(1)?))
        };
        let (x_train, y_train) = pairs(0, n_train as usize)?;
        let (x_val, y_val) = pairs(n_train, self.val_series)?;
        let (x_test, y_test) = pairs(n_train + self.val_series as i64, self.test_series)?;
        let persistence = |x: &Tensor, y: &Tensor| -> Result<f64> {
            let mse = (x.f_select(1, self.window as i64 - 1)? - y).f_square()?.f_mean(Kind::Float)?;
            Ok(mse.double_value(&[]))
        };
        let persistence_val = persistence(&x_val, &y_val)?;
        let persistence_test = persistence(&x_test, &y_test)?;
        for (name, v) in [("persistence_val", persistence_val), ("persistence_test", persistence_test)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(name, v, "the persistence error must be finite and > 0"));
            }
        }
        Ok(ForecastData { x_train, y_train, x_val, y_val, x_test, y_test, persistence_val, persistence_test })
    }

    /// Trains `arch` under this protocol from parameter seed `seed` and scores it.
    ///
    /// # Errors
    /// A network that cannot be built, or a training run whose error becomes non-finite.
    pub fn train(&self, data: &ForecastData, arch: &ForecastArch, seed: u64) -> Result<ArchScore> {
        let device = data.x_train.device();
        core_tensor::seed::seed_torch(seed);
        let vs = nn::VarStore::new(device);
        let net = ForecastNet::new(&vs.root(), arch, self.net)?;
        let params: i64 = vs.trainable_variables().iter().map(|v| v.numel() as i64).sum();
        let m = data.x_train.size()[0];
        let b = (self.batch as i64).min(m);
        let mut batches = rng(derive_seed(seed, 1));
        let mut trainer =
            Trainer::builder().optimizer(OptimizerConfig::adam(self.lr)).clip_norm(self.clip).build()?;
        trainer.run_steps(trainable_named(&vs), self.steps, |_| {
            let idx: Vec<i64> = (0..b).map(|_| batches.gen_range(0..m)).collect();
            let idx = Tensor::from_slice(&idx).f_to_device(device)?;
            Ok(StepOutput::Loss(net.mse(
                &data.x_train.f_index_select(0, &idx)?,
                &data.y_train.f_index_select(0, &idx)?,
                true,
            )?))
        })?;
        let eval = |x: &Tensor, y: &Tensor| -> Result<f64> {
            tch::no_grad(|| Ok(net.mse(x, y, false)?.double_value(&[])))
        };
        let (val, test) = (eval(&data.x_val, &data.y_val)?, eval(&data.x_test, &data.y_test)?);
        let space = ForecastSpace;
        if !(val.is_finite() && test.is_finite()) {
            return Err(Error::invalid(
                "training",
                space.encode(arch),
                format!("the one-step error became non-finite (validation {val}, test {test})"),
            ));
        }
        Ok(ArchScore {
            arch: *arch,
            key: space.canonical(arch),
            params,
            val_nmse: val / data.persistence_val,
            test_nmse: test / data.persistence_test,
        })
    }
}

/// Standardised forecasting pairs (`x [M, W, N]`, `y [M, N]`) of the three splits and the
/// persistence errors on validation and test.
#[derive(Debug)]
pub struct ForecastData {
    /// Training windows.
    pub x_train: Tensor,
    /// Training targets.
    pub y_train: Tensor,
    /// Validation windows.
    pub x_val: Tensor,
    /// Validation targets.
    pub y_val: Tensor,
    /// Test windows.
    pub x_test: Tensor,
    /// Test targets.
    pub y_test: Tensor,
    /// Validation MSE of `x̂ = x_W` (standardised units).
    pub persistence_val: f64,
    /// Test MSE of `x̂ = x_W` (standardised units).
    pub persistence_test: f64,
}

/// One trained architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchScore {
    /// The architecture trained (the representative of its canonical class).
    pub arch: ForecastArch,
    /// Its canonical key.
    pub key: String,
    /// Trainable parameters.
    pub params: i64,
    /// Validation MSE / persistence validation MSE.
    pub val_nmse: f64,
    /// Test MSE / persistence test MSE.
    pub test_nmse: f64,
}

/// What a [`run_study`] evaluates and searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudyPlan {
    /// Distinct cells in the sweep: `None` for all 73, `Some(k)` for a seeded sample of `k ≥ 5`
    /// that holds at least one cell of every recurrence type.
    pub sample: Option<usize>,
    /// Queries of each search method.
    pub budget: usize,
    /// Population of regularised evolution.
    pub population: usize,
    /// Tournament size of regularised evolution.
    pub tournament: usize,
}

/// The outcome of one search method.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    /// The architecture with the best validation nMSE among the queries, with its scores.
    pub found: ArchScore,
    /// Best validation nMSE after each query.
    pub trajectory: Vec<f64>,
}

/// Everything [`run_study`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastStudy {
    /// Test MSE of persistence (standardised units).
    pub persistence_test_mse: f64,
    /// The sweep: each evaluated distinct cell once, in enumeration order.
    pub sweep: Vec<ArchScore>,
    /// How many of the 80 architectures each sweep entry stands for.
    pub multiplicity: Vec<usize>,
    /// Regularised evolution.
    pub evolution: SearchOutcome,
    /// Random search with the same budget.
    pub random: SearchOutcome,
    /// Every distinct cell trained (sweep and searches), in enumeration order.
    pub trained: Vec<ArchScore>,
}

impl ForecastStudy {
    /// Multiplicity-weighted mean test nMSE of the sweep (module docs).
    pub fn random_mean(&self) -> f64 {
        let w: usize = self.multiplicity.iter().sum();
        self.sweep.iter().zip(&self.multiplicity).map(|(s, m)| s.test_nmse * *m as f64).sum::<f64>()
            / w.max(1) as f64
    }

    /// The sweep entry with the lowest test nMSE.
    pub fn best(&self) -> &ArchScore {
        Self::lowest(&self.sweep)
    }

    /// The trained cell (sweep or search) with the lowest test nMSE.
    pub fn best_trained(&self) -> &ArchScore {
        Self::lowest(&self.trained)
    }

    fn lowest(scores: &[ArchScore]) -> &ArchScore {
        scores
            .iter()
            .min_by(|a, b| a.test_nmse.total_cmp(&b.test_nmse))
            .expect("run_study always evaluates at least one cell")
    }
}

/// `RI = 100 · (random − method) / random` for a lower-is-better score.
pub fn relative_improvement(random: f64, method: f64) -> f64 {
    100.0 * (random - method) / random
}

/// Trains the sweep of `plan` under `protocol` on `device`, then runs regularised evolution and
/// random search over the space with one shared cache (module docs). Deterministic given `seed`.
///
/// # Errors
/// Invalid protocol or plan (`sample < 5`, zero budget, bad evolution settings), or a failed
/// training run.
pub fn run_study(
    protocol: &ForecastProtocol,
    plan: &StudyPlan,
    seed: u64,
    device: Device,
    progress: bool,
) -> Result<ForecastStudy> {
    if let Some(k) = plan.sample {
        if k < 5 {
            return Err(Error::invalid("sample", k, "must be ≥ 5 to hold every recurrence type"));
        }
    }
    if plan.budget == 0 {
        return Err(Error::invalid("budget", 0, "must be ≥ 1"));
    }
    // Checked before any training (regularised evolution checks them again).
    if plan.population < 2 {
        return Err(Error::invalid("population", plan.population, "must be ≥ 2"));
    }
    if plan.tournament == 0 || plan.tournament > plan.population {
        return Err(Error::invalid(
            "tournament",
            plan.tournament,
            format!("must be in [1, population = {}]", plan.population),
        ));
    }
    let data = protocol.prepare(device)?;
    let space = ForecastSpace;
    let all = space.enumerate().expect("the forecasting space is finite");
    // Canonical classes in enumeration order: representative, index of the representative (the
    // parameter seed stream) and multiplicity.
    let mut classes: Vec<(ForecastArch, u64, usize)> = Vec::new();
    let mut class_of: HashMap<String, usize> = HashMap::new();
    for (i, a) in all.iter().enumerate() {
        let key = space.canonical(a);
        match class_of.get(&key) {
            Some(&c) => classes[c].2 += 1,
            None => {
                class_of.insert(key, classes.len());
                classes.push((*a, i as u64, 1));
            }
        }
    }
    let chosen: Vec<usize> = match plan.sample {
        None => (0..classes.len()).collect(),
        Some(k) => sample_classes(&classes, k, &mut rng(derive_seed(seed, 20))),
    };
    let mut cache: HashMap<String, ArchScore> = HashMap::new();
    let mut score = |a: &ForecastArch| -> Result<ArchScore> {
        let key = space.canonical(a);
        if let Some(s) = cache.get(&key) {
            return Ok(s.clone());
        }
        let (rep, index, _) = classes[class_of[&key]];
        let s = protocol.train(&data, &rep, derive_seed(seed, 1000 + index))?;
        cache.insert(key, s.clone());
        Ok(s)
    };
    let pb = core_tensor::bench::progress_bar(chosen.len() as u64, "nas forecast sweep", progress);
    let mut sweep = Vec::with_capacity(chosen.len());
    for &c in &chosen {
        sweep.push(score(&classes[c].0)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let multiplicity = chosen.iter().map(|&c| classes[c].2).collect();
    let re = regularized_evolution(
        &space,
        plan.budget,
        plan.population,
        plan.tournament,
        &mut rng(derive_seed(seed, 30)),
        |a| Ok(-score(a)?.val_nmse),
    )?;
    let evolution = SearchOutcome { found: score(&re.best)?, trajectory: losses(&re) };
    let rs =
        random_search(&space, plan.budget, &mut rng(derive_seed(seed, 31)), |a| Ok(-score(a)?.val_nmse))?;
    let random = SearchOutcome { found: score(&rs.best)?, trajectory: losses(&rs) };
    let mut trained: Vec<ArchScore> = cache.into_values().collect();
    trained.sort_by_key(|s| classes[class_of[&s.key]].1);
    Ok(ForecastStudy {
        persistence_test_mse: data.persistence_test,
        sweep,
        multiplicity,
        evolution,
        random,
        trained,
    })
}

/// The best validation nMSE after each query of a search that maximised `−nMSE`.
fn losses(r: &SearchResult<ForecastArch>) -> Vec<f64> {
    r.trajectory.iter().map(|s| -s).collect()
}

/// `k` distinct classes: one random class per recurrence type, then random others; returned in
/// enumeration order.
fn sample_classes(classes: &[(ForecastArch, u64, usize)], k: usize, r: &mut impl Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.shuffle(r);
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    for &c in &order {
        if !chosen.iter().any(|&d| classes[d].0.recurrence == classes[c].0.recurrence) {
            chosen.push(c);
        }
    }
    for &c in &order {
        if chosen.len() >= k.min(classes.len()) {
            break;
        }
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    }
    chosen.sort_unstable();
    chosen
}

/// The `key=value` components of a canonical key, in order.
fn components(key: &str) -> Vec<(&str, &str)> {
    key.split(';').filter_map(|p| p.split_once('=')).collect()
}

/// The `nas_forecast` suite task (module docs).
pub const NAS_FORECAST: Task = Task::new(
    "nas_forecast",
    "Forecasting cells (recurrence × attention × gating) on Lorenz-96: one-step MSE vs persistence, component effects, evolution vs random search",
    nas_forecast,
);

fn nas_forecast(cfg: &SuiteConfig) -> TaskResult {
    let data_seed = derive_seed(cfg.seed, 1);
    let protocol = cfg.pick(ForecastProtocol::quick(data_seed), ForecastProtocol::full(data_seed));
    let plan = StudyPlan {
        sample: cfg.pick(Some(12), None),
        budget: cfg.pick(10, 24),
        population: cfg.pick(4, 8),
        tournament: cfg.pick(2, 3),
    };
    let study = core_tensor::device::with_single_thread(|| {
        run_study(&protocol, &plan, cfg.seed, cfg.device, cfg.progress)
    });
    Ok(report(&study?, &protocol, &plan)?)
}

/// The task report of a study.
fn report(study: &ForecastStudy, protocol: &ForecastProtocol, plan: &StudyPlan) -> Result<TaskReport> {
    let space = ForecastSpace;
    let random = study.random_mean();
    let best = study.best();
    let mut r = TaskReport::new();
    r.metric("architectures_evaluated", Metric::new(study.sweep.len() as f64, "", Better::Higher))?;
    r.metric("persistence_test_mse", Metric::new(study.persistence_test_mse, "", Better::Lower))?;
    r.metric(
        "random_mean_test_nmse",
        Metric::new(random, "", Better::Lower).with_reference(1.0, "persistence (repeat last state)"),
    )?;
    r.metric(
        "best_test_nmse",
        Metric::new(best.test_nmse, "", Better::Lower).with_reference(random, "random architectures"),
    )?;
    r.metric("best_ri_pct", Metric::new(relative_improvement(random, best.test_nmse), "%", Better::Higher))?;
    let overall = study.best_trained();
    r.metric("cells_trained", Metric::new(study.trained.len() as f64, "", Better::Higher))?;
    r.metric(
        "best_trained_test_nmse",
        Metric::new(overall.test_nmse, "", Better::Lower).with_reference(random, "random architectures"),
    )?;
    for (name, o) in [("evolution", &study.evolution), ("random_search", &study.random)] {
        r.metric(
            format!("{name}_test_nmse"),
            Metric::new(o.found.test_nmse, "", Better::Lower).with_reference(random, "random architectures"),
        )?;
        r.metric(
            format!("{name}_ri_pct"),
            Metric::new(relative_improvement(random, o.found.test_nmse), "%", Better::Higher),
        )?;
    }

    let mut lines = vec![
        format!(
            "Lorenz-96 with N = {}, F = {}, sampled every {} time units; window {}; width {}; Adam \
             lr {} for {} steps of {} pairs. Scores are test one-step MSE divided by the \
             persistence baseline's (repeat the last state; MSE {:.4} in standardised units): \
             **lower is better**, below 1 beats persistence. RI = 100 · (random − method) / random \
             (lower-is-better form; positive = better than random architectures).",
            protocol.data.n,
            protocol.data.forcing,
            protocol.data.dt,
            protocol.window,
            protocol.net.hidden,
            protocol.lr,
            protocol.steps,
            protocol.batch,
            study.persistence_test_mse
        ),
        String::new(),
        format!(
            "{} distinct cells evaluated; random-architecture mean {random:.4}; best `{}` {:.4} \
             ({} parameters, RI {:+.1} %).",
            study.sweep.len(),
            space.encode(&best.arch),
            best.test_nmse,
            best.params,
            relative_improvement(random, best.test_nmse)
        ),
        String::new(),
        format!(
            "Best of all {} cells trained (sweep and searches): `{}` {:.4} ({} parameters, RI {:+.1} %).",
            study.trained.len(),
            space.encode(&overall.arch),
            overall.test_nmse,
            overall.params,
            relative_improvement(random, overall.test_nmse)
        ),
        String::new(),
        "| component | value | cells | mean test nMSE | best test nMSE |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    // Mean test nMSE per component value (gating and norm over cells with a block only: the
    // canonical key writes them as "-" otherwise).
    for (pos, (key, values)) in component_values().iter().enumerate() {
        for value in values {
            let v: Vec<f64> = study
                .sweep
                .iter()
                .filter(|s| components(&s.key).get(pos).is_some_and(|c| c.1 == value))
                .map(|s| s.test_nmse)
                .collect();
            if v.is_empty() {
                continue;
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
            lines.push(format!("| {key} | {value} | {} | {mean:.4} | {min:.4} |", v.len()));
            r.metric(format!("{key}_{value}_mean_test_nmse"), Metric::new(mean, "", Better::Lower))?;
        }
    }
    lines.push(String::new());
    lines.push("Gating and norm rows count only cells with a recurrent or attention block.".to_string());
    lines.push(String::new());
    lines.push(format!(
        "Search with {} queries each (validation nMSE; evolution population {}, tournament {}), \
         {} distinct cells trained in all:",
        plan.budget,
        plan.population,
        plan.tournament,
        study.trained.len()
    ));
    lines.push(String::new());
    lines.push("| method | found cell | val nMSE | test nMSE | RI vs random (%) |".to_string());
    lines.push("|---|---|---|---|---|".to_string());
    for (name, o) in [("regularised evolution", &study.evolution), ("random search", &study.random)] {
        lines.push(format!(
            "| {name} | `{}` | {:.4} | {:.4} | {:+.1} |",
            space.encode(&o.found.arch),
            o.found.val_nmse,
            o.found.test_nmse,
            relative_improvement(random, o.found.test_nmse)
        ));
    }
    r.note(lines.join("\n"));

    let mut plot = Plot::new(
        "forecast_params_vs_nmse",
        "Forecasting cells on Lorenz-96: parameters vs test MSE / persistence",
        "trainable parameters",
        "test nMSE",
    );
    for rec in &component_values()[0].1 {
        let pts: Vec<(f64, f64)> = study
            .sweep
            .iter()
            .filter(|s| components(&s.key).first().is_some_and(|c| c.1 == rec))
            .map(|s| (s.params as f64, s.test_nmse))
            .collect();
        if !pts.is_empty() {
            plot = plot.scatter(format!("recurrence={rec}"), pts);
        }
    }
    let extra: Vec<(f64, f64)> = study
        .trained
        .iter()
        .filter(|s| !study.sweep.iter().any(|w| w.key == s.key))
        .map(|s| (s.params as f64, s.test_nmse))
        .collect();
    if !extra.is_empty() {
        plot = plot.scatter("met only by a search", extra);
    }
    r.plot(plot);
    let traj =
        |o: &SearchOutcome| o.trajectory.iter().enumerate().map(|(i, v)| ((i + 1) as f64, *v)).collect();
    r.plot(
        Plot::new("forecast_search", "Best validation nMSE found vs queries", "queries", "best val nMSE")
            .line("regularised evolution", traj(&study.evolution))
            .line("random search", traj(&study.random)),
    );
    Ok(r)
}

/// Every component with its values in the enumeration order of the space.
fn component_values() -> Vec<(String, Vec<String>)> {
    let space = ForecastSpace;
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for a in space.enumerate().expect("the forecasting space is finite") {
        for (pos, (key, value)) in components(&space.encode(&a)).into_iter().enumerate() {
            if out.len() <= pos {
                out.push((key.to_string(), Vec::new()));
            }
            if !out[pos].1.iter().any(|v| v == value) {
                out[pos].1.push(value.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ForecastProtocol {
        let q = ForecastProtocol::quick(3);
        ForecastProtocol {
            data: Lorenz96Data { n_series: 3, length: 30, substeps: 5, burn_in: 2.0, ..q.data },
            window: 4,
            net: ForecastConfig { hidden: 4, heads: 1, ..q.net },
            steps: 3,
            batch: 8,
            ..q
        }
    }

    #[test]
    fn study_runs_and_returns_finite_numbers() {
        let plan = StudyPlan { sample: Some(5), budget: 4, population: 2, tournament: 1 };
        let study = run_study(&tiny(), &plan, 0, Device::Cpu, false).unwrap();
        assert_eq!(study.sweep.len(), 5);
        // One of each recurrence type.
        let mut recs: Vec<_> = study.sweep.iter().map(|s| s.arch.recurrence).collect();
        recs.dedup();
        assert_eq!(recs.len(), 5);
        for s in study.sweep.iter().chain([&study.evolution.found, &study.random.found]) {
            assert!(s.val_nmse.is_finite() && s.test_nmse.is_finite() && s.params > 0, "{s:?}");
        }
        assert!(study.random_mean().is_finite() && study.persistence_test_mse > 0.0);
        assert_eq!(study.evolution.trajectory.len(), 4);
        assert!(study.trained.len() >= 5 && study.trained.len() <= 5 + 8);
        assert!(study.best_trained().test_nmse <= study.best().test_nmse);
        let r = report(&study, &tiny(), &plan).unwrap();
        assert!(r.metrics.values().all(|m| m.value.is_finite()));
        assert!(r.notes[0].contains("| recurrence | gru |"), "{}", r.notes[0]);
        // Deterministic from the seed.
        let again = run_study(&tiny(), &plan, 0, Device::Cpu, false).unwrap();
        assert_eq!(again, study);
    }

    #[test]
    fn bad_settings_are_errors() {
        let p = tiny();
        assert!(ForecastProtocol { val_series: 0, ..p }.validate().is_err());
        assert!(ForecastProtocol { test_series: 2, ..p }.validate().is_err());
        assert!(ForecastProtocol { window: 30, ..p }.validate().is_err());
        assert!(ForecastProtocol { lr: f64::NAN, ..p }.validate().is_err());
        assert!(ForecastProtocol { steps: 0, ..p }.validate().is_err());
        let e = ForecastProtocol { net: ForecastConfig { n: 5, ..p.net }, ..p }.validate().unwrap_err();
        assert!(e.to_string().contains("net.n"), "{e}");
        let plan = StudyPlan { sample: Some(3), budget: 4, population: 2, tournament: 1 };
        assert!(run_study(&p, &plan, 0, Device::Cpu, false).is_err());
        let plan = StudyPlan { sample: Some(5), budget: 0, ..plan };
        assert!(run_study(&p, &plan, 0, Device::Cpu, false).is_err());
        let plan = StudyPlan { budget: 4, population: 1, ..plan };
        assert!(run_study(&p, &plan, 0, Device::Cpu, false).is_err());
        let plan = StudyPlan { population: 2, tournament: 3, ..plan };
        let e = run_study(&p, &plan, 0, Device::Cpu, false).unwrap_err().to_string();
        assert!(e.contains("tournament"), "{e}");
    }

    /// The whole quick-profile task, with its wall time (run in release:
    /// `cargo test -p sciml-nas --release quick_profile -- --ignored --nocapture`).
    #[test]
    #[ignore = "runs the full quick profile (tens of seconds)"]
    fn quick_profile_runs_on_one_thread() {
        let cfg = SuiteConfig { device: Device::Cpu, ..SuiteConfig::quick(std::env::temp_dir()) };
        let start = std::time::Instant::now();
        let r = NAS_FORECAST.run(&cfg).unwrap();
        let wall = start.elapsed().as_secs_f64();
        println!("{}\n\nwall time {wall:.1} s", r.notes.join("\n"));
        for (k, m) in &r.metrics {
            println!("{k}: {:.4}", m.value);
        }
        assert!(r.metrics.values().all(|m| m.value.is_finite()));
    }

    #[test]
    fn ri_is_positive_when_the_method_has_lower_error() {
        assert!((relative_improvement(0.5, 0.4) - 20.0).abs() < 1e-12);
        assert!(relative_improvement(0.5, 0.6) < 0.0);
    }
}
