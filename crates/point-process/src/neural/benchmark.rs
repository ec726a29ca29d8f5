//! The forecasting benchmark protocol shared by the suite tasks, the example and the benches:
//! the ground-truth processes, train → early-stop → evaluate for one model, and chronological
//! splits of one long catalogue (EarthquakeNPP's protocol).

use super::config::{DecoderKind, EncoderKind, Model, TppConfig};
use super::metrics::{evaluate, EvalConfig, TppMetrics};
use super::train::{train, TppTrainConfig};
use super::NeuralTpp;
use crate::data::EventSequence;
use crate::error::{invalid, Result};
use crate::hawkes::{self, Hawkes, SimOptions};
use core_tensor::seed::{derive_seed, rng};
use core_tensor::train::TrainHistory;
use nalgebra::DMatrix;
use std::time::Instant;
use tch::{nn, Device, Kind};

/// The 5-D exponential Hawkes process of the gap benchmark: `μ_i = 0.2`, `α_ii = 0.3`,
/// `α_ij = 0.08` (i ≠ j; branching ratio 0.62), `β = 1.5` (tick's convention), stationary rate
/// ≈ 0.53 events per unit time and dimension.
pub fn hawkes_5d() -> Result<Hawkes> {
    let a = DMatrix::from_fn(5, 5, |i, j| if i == j { 0.3 } else { 0.08 });
    Hawkes::exponential(vec![0.2; 5], a, 1.5)
}

/// `n` independent sequences of `model` on `[0, t_end]` (sequence `i` from
/// `derive_seed(seed, i)`).
pub fn simulate_many(model: &Hawkes, n: usize, t_end: f64, seed: u64) -> Result<Vec<EventSequence>> {
    (0..n)
        .map(|i| model.simulate_ogata(SimOptions::new(t_end), &mut rng(derive_seed(seed, i as u64))))
        .collect()
}

/// Exact NLL per event of the true Hawkes model on `seqs` (tail compensators included).
pub fn hawkes_nll_per_event(model: &Hawkes, seqs: &[EventSequence]) -> Result<f64> {
    let (ll, _) = hawkes::log_likelihood_many(model, seqs, false)?;
    let n: usize = seqs.iter().map(|s| s.len()).sum();
    if n == 0 {
        return Err(invalid("seqs", "0 events", "need at least one event"));
    }
    Ok(-ll / n as f64)
}

/// Settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Hidden width.
    pub hidden: i64,
    /// Attention layers.
    pub layers: i64,
    /// Training loop.
    pub train: TppTrainConfig,
    /// Device.
    pub device: Device,
}

/// What a benchmark run trains: a preset, or any encoder × decoder combination of the study's
/// grid. Parsed from `"nhp"` (a [`Model`] name) or `"gru+sahp"` (encoder + decoder, snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// One of the seven presets.
    Preset(Model),
    /// An encoder with a decoder.
    Combination(EncoderKind, DecoderKind),
}

fn snake<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default().trim_matches('"').to_string()
}

impl Spec {
    /// `"nhp"` or `"gru+sahp"`.
    pub fn name(&self) -> String {
        match self {
            Spec::Preset(m) => m.name().to_string(),
            Spec::Combination(e, d) => format!("{}+{}", snake(e), snake(d)),
        }
    }
    /// The model configuration with `num_marks` marks.
    pub fn config(&self, num_marks: usize) -> TppConfig {
        match *self {
            Spec::Preset(m) => TppConfig::new(m, num_marks),
            Spec::Combination(e, d) => TppConfig::custom(e, d, num_marks),
        }
    }
    /// Seed stream of the parameter initialisation.
    fn stream(&self) -> u64 {
        match *self {
            Spec::Preset(m) => m as u64,
            Spec::Combination(e, d) => 100 + 10 * e as u64 + d as u64,
        }
    }
}

impl From<Model> for Spec {
    fn from(m: Model) -> Self {
        Spec::Preset(m)
    }
}

impl std::str::FromStr for Spec {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.split_once('+') {
            None => Ok(Spec::Preset(s.parse()?)),
            Some((e, d)) => {
                let e = serde_json::from_str(&format!("\"{e}\""))
                    .map_err(|_| invalid("encoder", e, "expected gru, lstm, self_attention or ct_lstm"))?;
                let d = serde_json::from_str(&format!("\"{d}\"")).map_err(|_| {
                    invalid(
                        "decoder",
                        d,
                        "expected exponential, log_normal_mixture, cumulative_hazard, neural_intensity, sahp, thp, ct_lstm or continuous_attention",
                    )
                })?;
                Ok(Spec::Combination(e, d))
            }
        }
    }
}

/// The outcome of [`fit_and_evaluate`].
#[derive(Debug)]
pub struct ModelRun {
    /// What was trained.
    pub spec: Spec,
    /// Test metrics.
    pub metrics: TppMetrics,
    /// Training history (validation NLL per epoch).
    pub history: TrainHistory,
    /// Training wall time in seconds.
    pub train_s: f64,
    /// Number of trainable scalars.
    pub parameters: i64,
    /// The trained model.
    pub tpp: NeuralTpp,
    /// Its variables.
    pub var_store: nn::VarStore,
}

pub use core_tensor::device::with_single_thread;

/// Builds the model of `spec` (seeded), trains it on `train` with early stopping on `val`, evaluates it on
/// `test` (events before `test_score_from` are context only); runs with one intra-op thread
/// ([`with_single_thread`]).
pub fn fit_and_evaluate(
    spec: impl Into<Spec>,
    num_marks: usize,
    data: [&[EventSequence]; 3],
    test_score_from: Option<&[f64]>,
    settings: &RunSettings,
    seed: u64,
) -> Result<ModelRun> {
    let spec = spec.into();
    with_single_thread(|| {
        let [train_s, val, test] = data;
        let _seed_scope = core_tensor::seed::TorchSeedScope::enter(derive_seed(seed, spec.stream()));
        let vs = nn::VarStore::new(settings.device);
        let cfg = spec.config(num_marks).hidden(settings.hidden).layers(settings.layers);
        let m = NeuralTpp::new(&vs.root(), cfg)?;
        let start = Instant::now();
        let history = train(&m, &vs, train_s, val, &TppTrainConfig { seed, ..settings.train.clone() })?;
        let train_s = start.elapsed().as_secs_f64();
        let eval = EvalConfig { grid: 256, ..EvalConfig::new(Kind::Float, settings.device) };
        let metrics = evaluate(&m, test, test_score_from, &eval)?;
        let parameters = vs.trainable_variables().iter().map(|v| v.numel() as i64).sum();
        Ok(ModelRun { spec, metrics, history, train_s, parameters, tpp: m, var_store: vs })
    })
}

/// Chronological split of one long sequence into training windows of length `window` on
/// `[t_start, t_val]`, validation windows on `[t_val, t_test]` and one test sequence covering
/// `[t_test − context, t_end]` whose events before `t_test` are context. Returns
/// `(train, val, test, test_score_from)`.
pub fn chronological_windows(
    seq: &EventSequence,
    t_val: f64,
    t_test: f64,
    window: f64,
    context: f64,
) -> Result<(Vec<EventSequence>, Vec<EventSequence>, EventSequence, f64)> {
    if !(seq.t_start() < t_val && t_val < t_test && t_test < seq.t_end()) {
        return Err(invalid("t_val", t_val, "need t_start < t_val < t_test < t_end"));
    }
    if !(window > 0.0 && context >= 0.0) {
        return Err(invalid("window", window, "window must be > 0 and context >= 0"));
    }
    let cut = |a: f64, b: f64| -> Result<Vec<EventSequence>> {
        let mut out = Vec::new();
        let mut t = a;
        while t + 0.5 * window < b {
            out.push(seq.window(t, (t + window).min(b))?);
            t += window;
        }
        Ok(out)
    };
    let test = seq.window((t_test - context).max(seq.t_start()), seq.t_end())?;
    Ok((cut(seq.t_start(), t_val)?, cut(t_val, t_test)?, test, t_test))
}
