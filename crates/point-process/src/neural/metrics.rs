//! Forecast metrics of neural TPPs (Bosser & Ben Taieb 2023): NLL per event split into time and
//! mark parts, RMSE of the predicted next time, mark accuracy, probabilistic calibration of the
//! times (PIT) and expected calibration error of the marks.

use super::batch::TppBatch;
use super::config::Integration;
use super::NeuralTpp;
use crate::data::EventSequence;
use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

/// Settings of [`evaluate`].
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Sequences per batch.
    pub batch_size: usize,
    /// Compensator integration (default: the model's evaluation integration).
    pub integration: Option<Integration>,
    /// Horizon of the next-time prediction `E[τ] ≈ ∫_0^H S(τ) dτ` (default: 3 × the largest gap
    /// in the evaluated data).
    pub horizon: Option<f64>,
    /// Grid points on `[0, H]` for the prediction (trapezoid rule).
    pub grid: usize,
    /// PIT calibration levels `q = 1/(M+1), …, M/(M+1)`.
    pub calibration_levels: usize,
    /// Confidence bins of the mark ECE.
    pub ece_bins: usize,
    /// Floating-point kind of the batches (the model's).
    pub kind: Kind,
    /// Device of the batches (the model's).
    pub device: Device,
}

impl EvalConfig {
    /// Defaults: batches of 16, 512 grid points, 99 calibration levels, 10 ECE bins.
    pub fn new(kind: Kind, device: Device) -> Self {
        EvalConfig {
            batch_size: 16,
            integration: None,
            horizon: None,
            grid: 512,
            calibration_levels: 99,
            ece_bins: 10,
            kind,
            device,
        }
    }
}

/// Metrics over the scored events of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TppMetrics {
    /// Scored events.
    pub events: usize,
    /// `−log L / N` (nats per event; the tail compensators included).
    pub nll_per_event: f64,
    /// Time part `−Σ (ln λ(t_i) − Λ) / N`.
    pub nll_time_per_event: f64,
    /// Mark part `−Σ ln p(m_i | t_i) / N`.
    pub nll_mark_per_event: f64,
    /// RMSE of the predicted gap `E[τ]` (from the previous event) against the observed gap.
    pub rmse_next_time: f64,
    /// Accuracy of `argmax_k λ_k(t_i)` (the mark predicted at the observed time).
    pub mark_accuracy: f64,
    /// Probabilistic calibration error of the times: mean over levels q of `|F̂(q) − q|`, F̂ the
    /// empirical CDF of the PIT values `1 − exp(−Λ)` (uniform under a calibrated model).
    pub time_calibration_error: f64,
    /// Expected calibration error of `p(m | t_i)` (equal-width bins).
    pub mark_ece: f64,
}

/// Evaluates `model` on `seqs`. With `score_from` (absolute times, one per sequence) events
/// before it are conditioning history only.
pub fn evaluate(
    model: &NeuralTpp,
    seqs: &[EventSequence],
    score_from: Option<&[f64]>,
    cfg: &EvalConfig,
) -> Result<TppMetrics> {
    if seqs.is_empty() {
        return Err(invalid("seqs", "[]", "need at least one sequence"));
    }
    if cfg.grid < 2 || cfg.batch_size == 0 || cfg.calibration_levels == 0 || cfg.ece_bins == 0 {
        return Err(invalid("cfg", format!("{cfg:?}"), "grid >= 2 and positive batch size, levels and bins"));
    }
    let integration = cfg.integration.unwrap_or(model.config().eval_integration);
    let max_gap = seqs.iter().flat_map(|s| s.inter_event_times()).fold(0.0, f64::max);
    let horizon = cfg.horizon.unwrap_or(3.0 * max_gap.max(1e-6));
    if !(horizon.is_finite() && horizon > 0.0) {
        return Err(invalid("horizon", horizon, "must be finite and > 0"));
    }
    let (mut time, mut mark, mut n) = (0.0, 0.0, 0usize);
    let (mut se, mut correct) = (0.0, 0usize);
    let mut pit = Vec::new();
    let (mut conf, mut ok) = (Vec::new(), Vec::new());
    for (ci, chunk) in seqs.chunks(cfg.batch_size).enumerate() {
        let batch = match score_from {
            Some(s) => {
                let lo = ci * cfg.batch_size;
                let part = s.get(lo..lo + chunk.len()).ok_or_else(|| {
                    crate::Error::Core(core_tensor::Error::shape("score_from", [seqs.len()], [s.len()]))
                })?;
                TppBatch::with_context(chunk, part, cfg.kind, cfg.device)?
            }
            None => TppBatch::from_sequences(chunk, cfg.kind, cfg.device)?,
        };
        let iv = batch.intervals();
        let (ll, pred) = tch::no_grad(|| -> Result<_> {
            let ll = model.log_likelihood(&batch, integration, false)?;
            let h = model.encode(&batch, false)?;
            Ok((ll, model.predict_next(&h, horizon, cfg.grid)?.0))
        })?;
        time += ll.time.sum(Kind::Double).double_value(&[]);
        mark += ll.mark.sum(Kind::Double).double_value(&[]);
        n += ll.events as usize;
        let sel = &ll.scored_event;
        let gaps = iv.length.masked_select(sel).to_kind(Kind::Double);
        let p = pred.masked_select(sel).to_kind(Kind::Double);
        se += (p - &gaps).square().sum(Kind::Double).double_value(&[]);
        let u = -(-ll.compensator.masked_select(sel).to_kind(Kind::Double)).exp() + 1.0;
        pit.extend(Vec::<f64>::try_from(u.to(Device::Cpu)).map_err(core_tensor::Error::from)?);
        let probs = ll.log_intensity.softmax(-1, Kind::Double); // [B, N, K]
        let (c, arg) = probs.max_dim(-1, false);
        let hit = arg.eq_tensor(&iv.marks).masked_select(sel);
        correct += hit.sum(Kind::Int64).int64_value(&[]) as usize;
        conf.extend(
            Vec::<f64>::try_from(c.masked_select(sel).to(Device::Cpu)).map_err(core_tensor::Error::from)?,
        );
        ok.extend(Vec::<bool>::try_from(hit.to(Device::Cpu)).map_err(core_tensor::Error::from)?);
    }
    if n == 0 {
        return Err(invalid("seqs", "0 scored events", "need at least one scored event"));
    }
    let nf = n as f64;
    pit.sort_by(f64::total_cmp);
    let m = cfg.calibration_levels;
    let pce = (1..=m)
        .map(|j| {
            let q = j as f64 / (m + 1) as f64;
            let f = pit.partition_point(|&u| u <= q) as f64 / nf;
            (f - q).abs()
        })
        .sum::<f64>()
        / m as f64;
    let conf: Vec<f64> = conf.into_iter().map(|c| c.clamp(0.0, 1.0)).collect();
    Ok(TppMetrics {
        events: n,
        nll_per_event: -(time + mark) / nf,
        nll_time_per_event: -time / nf,
        nll_mark_per_event: -mark / nf,
        rmse_next_time: (se / nf).sqrt(),
        mark_accuracy: correct as f64 / nf,
        time_calibration_error: pce,
        mark_ece: core_tensor::metrics::ece(&conf, &ok, cfg.ece_bins)?,
    })
}
