//! Event sequences: strictly increasing times in an observation window `[t_start, t_end]`, each with
//! a mark (event type) in `0..num_marks`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A validated sequence of marked events.
///
/// Invariants: `t_start < t_end` (finite); times finite, strictly increasing, inside
/// `[t_start, t_end]`; one mark per time, each `< num_marks`. Time units are the caller's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SequenceFields")]
pub struct EventSequence {
    times: Vec<f64>,
    marks: Vec<usize>,
    num_marks: usize,
    t_start: f64,
    t_end: f64,
}

/// The serialised fields of an [`EventSequence`], validated by [`EventSequence::new`] on the way
/// in, so that a file cannot smuggle in an unsorted or out-of-window sequence.
#[derive(Deserialize)]
struct SequenceFields {
    times: Vec<f64>,
    marks: Vec<usize>,
    num_marks: usize,
    t_start: f64,
    t_end: f64,
}

impl TryFrom<SequenceFields> for EventSequence {
    type Error = Error;
    fn try_from(f: SequenceFields) -> Result<Self> {
        EventSequence::new(f.times, Some(f.marks), f.num_marks, f.t_start, f.t_end)
    }
}

impl EventSequence {
    /// Builds and validates a sequence. `marks = None` gives every event mark 0.
    pub fn new(
        times: Vec<f64>,
        marks: Option<Vec<usize>>,
        num_marks: usize,
        t_start: f64,
        t_end: f64,
    ) -> Result<Self> {
        if num_marks == 0 {
            return Err(Error::Data("num_marks must be > 0".into()));
        }
        if !(t_start.is_finite() && t_end.is_finite() && t_start < t_end) {
            return Err(Error::Data(format!(
                "window [{t_start}, {t_end}] must be finite with t_start < t_end"
            )));
        }
        let marks = marks.unwrap_or_else(|| vec![0; times.len()]);
        if marks.len() != times.len() {
            return Err(Error::Data(format!("{} marks for {} times", marks.len(), times.len())));
        }
        for (i, &t) in times.iter().enumerate() {
            if !t.is_finite() {
                return Err(Error::Data(format!("time[{i}] = {t} is not finite")));
            }
            if t < t_start || t > t_end {
                return Err(Error::Data(format!(
                    "time[{i}] = {t} is outside the window [{t_start}, {t_end}]"
                )));
            }
            if i > 0 {
                let p = times[i - 1];
                if t == p {
                    return Err(Error::Data(format!("duplicate time {t} at indices {} and {i}", i - 1)));
                }
                if t < p {
                    return Err(Error::Data(format!(
                        "times are not sorted: time[{}] = {p} > time[{i}] = {t}",
                        i - 1
                    )));
                }
            }
        }
        if let Some((i, m)) = marks.iter().enumerate().find(|(_, m)| **m >= num_marks) {
            return Err(Error::Data(format!("mark[{i}] = {m} is out of range 0..{num_marks}")));
        }
        Ok(EventSequence { times, marks, num_marks, t_start, t_end })
    }

    /// An unmarked sequence on `[0, t_end]`.
    pub fn univariate(times: Vec<f64>, t_end: f64) -> Result<Self> {
        Self::new(times, None, 1, 0.0, t_end)
    }

    /// Event times.
    pub fn times(&self) -> &[f64] {
        &self.times
    }
    /// Event marks.
    pub fn marks(&self) -> &[usize] {
        &self.marks
    }
    /// Number of possible marks (the dimension of a multivariate process).
    pub fn num_marks(&self) -> usize {
        self.num_marks
    }
    /// Start of the observation window.
    pub fn t_start(&self) -> f64 {
        self.t_start
    }
    /// End of the observation window.
    pub fn t_end(&self) -> f64 {
        self.t_end
    }
    /// Window length `t_end − t_start`.
    pub fn duration(&self) -> f64 {
        self.t_end - self.t_start
    }
    /// Number of events.
    pub fn len(&self) -> usize {
        self.times.len()
    }
    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
    /// Times of the events with mark `m`.
    pub fn times_of(&self, m: usize) -> Vec<f64> {
        self.times.iter().zip(&self.marks).filter(|(_, k)| **k == m).map(|(t, _)| *t).collect()
    }
    /// Event counts per mark.
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.num_marks];
        for &m in &self.marks {
            c[m] += 1;
        }
        c
    }
    /// Gaps between consecutive events, the first measured from `t_start`.
    pub fn inter_event_times(&self) -> Vec<f64> {
        let mut prev = self.t_start;
        self.times
            .iter()
            .map(|&t| {
                let d = t - prev;
                prev = t;
                d
            })
            .collect()
    }
    /// The events inside `[t0, t1]` as a sequence on that window.
    pub fn window(&self, t0: f64, t1: f64) -> Result<Self> {
        let keep: Vec<usize> =
            (0..self.len()).filter(|&i| self.times[i] >= t0 && self.times[i] <= t1).collect();
        Self::new(
            keep.iter().map(|&i| self.times[i]).collect(),
            Some(keep.iter().map(|&i| self.marks[i]).collect()),
            self.num_marks,
            t0,
            t1,
        )
    }
    /// Iterator over `(time, mark)`.
    pub fn iter(&self) -> impl Iterator<Item = (f64, usize)> + '_ {
        self.times.iter().copied().zip(self.marks.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialised_sequences_are_validated() {
        let s = EventSequence::new(vec![0.5, 1.0], Some(vec![1, 0]), 2, 0.0, 2.0).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<EventSequence>(&json).unwrap(), s);
        let unsorted = json.replace("[0.5,1.0]", "[1.0,0.5]");
        assert_ne!(unsorted, json);
        let e = serde_json::from_str::<EventSequence>(&unsorted).unwrap_err().to_string();
        assert!(e.contains("not sorted"), "{e}");
        let bad_mark = json.replace("\"num_marks\":2", "\"num_marks\":1");
        assert!(serde_json::from_str::<EventSequence>(&bad_mark).is_err());
    }

    #[test]
    fn validation_errors_are_clear() {
        let e = EventSequence::new(vec![1.0, 0.5], None, 1, 0.0, 2.0).unwrap_err().to_string();
        assert!(e.contains("not sorted") && e.contains("time[1] = 0.5"), "{e}");
        let e = EventSequence::new(vec![1.0, 1.0], None, 1, 0.0, 2.0).unwrap_err().to_string();
        assert!(e.contains("duplicate time 1"), "{e}");
        let e = EventSequence::new(vec![f64::NAN], None, 1, 0.0, 2.0).unwrap_err().to_string();
        assert!(e.contains("not finite"), "{e}");
        let e = EventSequence::new(vec![3.0], None, 1, 0.0, 2.0).unwrap_err().to_string();
        assert!(e.contains("outside the window"), "{e}");
        let e = EventSequence::new(vec![1.0], Some(vec![2]), 2, 0.0, 2.0).unwrap_err().to_string();
        assert!(e.contains("mark[0] = 2"), "{e}");
        assert!(EventSequence::new(vec![], None, 1, 2.0, 1.0).is_err());
        assert!(EventSequence::new(vec![1.0], Some(vec![]), 1, 0.0, 2.0).is_err());
    }

    #[test]
    fn accessors() {
        let s = EventSequence::new(vec![0.5, 1.0, 1.5], Some(vec![1, 0, 1]), 2, 0.0, 2.0).unwrap();
        assert_eq!(s.times_of(1), vec![0.5, 1.5]);
        assert_eq!(s.counts(), vec![1, 2]);
        assert_eq!(s.inter_event_times(), vec![0.5, 0.5, 0.5]);
        let w = s.window(0.8, 2.0).unwrap();
        assert_eq!(w.times(), &[1.0, 1.5]);
        assert_eq!(w.t_start(), 0.8);
    }
}
