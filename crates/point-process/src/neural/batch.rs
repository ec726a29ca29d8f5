//! Batches of padded event sequences and their inter-event intervals.

use crate::data::{to_padded, EventSequence};
use crate::error::{invalid, Error, Result};
use tch::{Device, Kind, Tensor};

/// A batch of `B` marked sequences padded to length `L`, times relative to each window's start.
///
/// Invariants (checked by [`TppBatch::new`]): `times [B, L]` floating point, finite, strictly
/// increasing over the real events of each row and inside `[0, durations[b]]`; `marks [B, L]`
/// integers in `0..num_marks`; `mask [B, L]` boolean with the real events first; `durations [B]`
/// the window lengths; `score_from [B]` the time from which events are scored (0 scores every
/// event; a positive value turns the earlier events into conditioning context only, as in the
/// EarthquakeNPP protocol).
#[derive(Debug)]
pub struct TppBatch {
    /// Event times since the window start, `[B, L]`, padded with 0.
    pub times: Tensor,
    /// Marks `[B, L]` (int64), padded with 0.
    pub marks: Tensor,
    /// `[B, L]`, `true` at real events.
    pub mask: Tensor,
    /// Window lengths `[B]`.
    pub durations: Tensor,
    /// Start of the scored part of each window, `[B]`.
    pub score_from: Tensor,
    /// Number of marks K.
    pub num_marks: usize,
}

/// The `N = L + 1` intervals of a batch: interval `i < len` ends at event `i`, interval `len` is
/// the tail from the last event to the window end, later ones are inactive (zero length).
#[derive(Debug)]
pub(crate) struct Intervals {
    /// Length of each interval, `[B, N]` (0 when inactive).
    pub length: Tensor,
    /// Integration start inside the interval (`clamp(score_from − prev, 0, length)`), `[B, N]`.
    pub lower: Tensor,
    /// `true` where the interval ends at a scored event, `[B, N]`.
    pub scored_event: Tensor,
    /// `true` for event intervals and the tail, `[B, N]`.
    pub active: Tensor,
    /// Mark of the event ending the interval (0 otherwise), `[B, N]`.
    pub marks: Tensor,
}

impl TppBatch {
    /// Pads validated sequences; every event is scored.
    pub fn from_sequences(seqs: &[EventSequence], kind: Kind, device: Device) -> Result<Self> {
        let p = to_padded(seqs, kind, device)?;
        let b = seqs.len() as i64;
        Ok(TppBatch {
            times: p.times,
            marks: p.marks,
            mask: p.mask,
            durations: p.durations,
            score_from: Tensor::zeros([b], (kind, device)),
            num_marks: p.num_marks,
        })
    }

    /// Pads sequences whose events before `score_from[b]` (absolute time, inside the window) are
    /// history only: they condition the model but are not scored, and the compensator starts at
    /// `score_from[b]`.
    pub fn with_context(
        seqs: &[EventSequence],
        score_from: &[f64],
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        if score_from.len() != seqs.len() {
            return Err(Error::Core(core_tensor::Error::shape(
                "score_from",
                [seqs.len()],
                [score_from.len()],
            )));
        }
        let mut batch = Self::from_sequences(seqs, kind, device)?;
        let mut rel = Vec::with_capacity(seqs.len());
        for (i, (s, &t)) in seqs.iter().zip(score_from).enumerate() {
            if !(t.is_finite() && t >= s.t_start() && t < s.t_end()) {
                return Err(invalid(
                    &format!("score_from[{i}]"),
                    t,
                    &format!("must lie in the window [{}, {})", s.t_start(), s.t_end()),
                ));
            }
            rel.push(t - s.t_start());
        }
        batch.score_from = Tensor::from_slice(&rel).to_kind(kind).to(device);
        Ok(batch)
    }

    /// Validates raw tensors (see the type's invariants); errors name the argument and index.
    pub fn new(
        times: Tensor,
        marks: Tensor,
        mask: Tensor,
        durations: Tensor,
        num_marks: usize,
    ) -> Result<Self> {
        let shape = |name: &str, e: String, g: Vec<i64>| Error::Core(core_tensor::Error::shape(name, e, g));
        let (b, l) = times.size2().map_err(|_| shape("times", "[B, L]".into(), times.size()))?;
        if !times.is_floating_point() {
            return Err(invalid("times", format!("{:?}", times.kind()), "must be floating point"));
        }
        if marks.size() != [b, l] {
            return Err(shape("marks", format!("[{b}, {l}]"), marks.size()));
        }
        if mask.size() != [b, l] {
            return Err(shape("mask", format!("[{b}, {l}]"), mask.size()));
        }
        if durations.size() != [b] {
            return Err(shape("durations", format!("[{b}]"), durations.size()));
        }
        if num_marks == 0 {
            return Err(invalid("num_marks", 0, "must be > 0"));
        }
        let t: Vec<f64> = Vec::try_from(times.to_kind(Kind::Double).flatten(0, -1).to(Device::Cpu))
            .map_err(core_tensor::Error::from)?;
        let m: Vec<i64> = Vec::try_from(marks.to_kind(Kind::Int64).flatten(0, -1).to(Device::Cpu))
            .map_err(core_tensor::Error::from)?;
        let k: Vec<bool> = Vec::try_from(mask.to_kind(Kind::Bool).flatten(0, -1).to(Device::Cpu))
            .map_err(core_tensor::Error::from)?;
        let d: Vec<f64> = Vec::try_from(durations.to_kind(Kind::Double).to(Device::Cpu))
            .map_err(core_tensor::Error::from)?;
        let l = l as usize;
        for (r, &dur) in d.iter().enumerate() {
            if !(dur.is_finite() && dur > 0.0) {
                return Err(invalid(&format!("durations[{r}]"), dur, "must be finite and > 0"));
            }
            let mut prev = f64::NEG_INFINITY;
            let mut ended = false;
            for c in 0..l {
                let i = r * l + c;
                if !k[i] {
                    ended = true;
                    continue;
                }
                if ended {
                    return Err(invalid(
                        &format!("mask[{r}, {c}]"),
                        true,
                        "real events must come before padding",
                    ));
                }
                let ti = t[i];
                if !ti.is_finite() {
                    return Err(invalid(&format!("times[{r}, {c}]"), ti, "must be finite"));
                }
                if ti <= prev {
                    return Err(invalid(
                        &format!("times[{r}, {c}]"),
                        ti,
                        &format!("times must increase strictly (previous {prev})"),
                    ));
                }
                if ti < 0.0 || ti > dur {
                    return Err(invalid(
                        &format!("times[{r}, {c}]"),
                        ti,
                        &format!("must lie in [0, durations[{r}] = {dur}]"),
                    ));
                }
                if m[i] < 0 || m[i] >= num_marks as i64 {
                    return Err(invalid(
                        &format!("marks[{r}, {c}]"),
                        m[i],
                        &format!("must be in 0..{num_marks}"),
                    ));
                }
                prev = ti;
            }
        }
        let score_from = Tensor::zeros([b], (times.kind(), times.device()));
        Ok(TppBatch {
            times,
            marks: marks.to_kind(Kind::Int64),
            mask: mask.to_kind(Kind::Bool),
            durations,
            score_from,
            num_marks,
        })
    }

    /// Batch size B.
    pub fn batch_size(&self) -> i64 {
        self.times.size()[0]
    }

    /// Padded length L.
    pub fn max_len(&self) -> i64 {
        self.times.size()[1]
    }

    /// Floating-point kind of the times.
    pub fn kind(&self) -> Kind {
        self.times.kind()
    }

    /// Device of the tensors.
    pub fn device(&self) -> Device {
        self.times.device()
    }

    /// Number of scored events.
    pub fn scored_events(&self) -> i64 {
        self.mask
            .logical_and(&self.times.gt_tensor(&self.score_from.unsqueeze(1)))
            .sum(Kind::Int64)
            .int64_value(&[])
    }

    /// Gaps to the previous event (the first from 0), `[B, L]`, 0 at padding.
    pub fn gaps(&self) -> Tensor {
        let (b, l) = (self.batch_size(), self.max_len());
        if l == 0 {
            return self.times.shallow_clone();
        }
        let zeros = Tensor::zeros([b, 1], (self.kind(), self.device()));
        let prev = Tensor::cat(&[&zeros, &self.times.narrow(1, 0, l - 1)], 1);
        (&self.times - prev) * self.mask.to_kind(self.kind())
    }

    pub(crate) fn intervals(&self) -> Intervals {
        let (b, l) = (self.batch_size(), self.max_len());
        let (kind, dev) = (self.kind(), self.device());
        let zeros = Tensor::zeros([b, 1], (kind, dev));
        let prev = Tensor::cat(&[&zeros, &self.times], 1);
        let lens = self.mask.sum_dim_intlist(1, false, Kind::Int64);
        let pos = Tensor::arange(l + 1, (Kind::Int64, dev)).unsqueeze(0);
        let event = Tensor::cat(&[&self.mask, &Tensor::zeros([b, 1], (Kind::Bool, dev))], 1);
        let tail = pos.eq_tensor(&lens.unsqueeze(1));
        let active = event.logical_or(&tail);
        let times_ext = Tensor::cat(&[&self.times, &zeros], 1);
        let end = times_ext.where_self(&event, &self.durations.unsqueeze(1).expand([b, l + 1], false));
        let length = (end - &prev).where_self(&active, &Tensor::zeros_like(&prev));
        let s = self.score_from.unsqueeze(1);
        let lower = (&s - &prev).clamp_min(0.0).minimum(&length);
        let scored_event = event.logical_and(&times_ext.gt_tensor(&s));
        let marks = Tensor::cat(&[&self.marks, &Tensor::zeros([b, 1], (Kind::Int64, dev))], 1);
        Intervals { length, lower, scored_event, active, marks }
    }
}
