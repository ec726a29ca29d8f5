//! The JSON layouts of neural-TPP data sets: the event-list layout of the Neural Hawkes / THP
//! pickles (sequences of `{time_since_start, time_since_last_event, type_event, ...}` objects),
//! the same as a dictionary of splits (`{"dim_process": K, "train": [...], "dev": [...], ...}`, the
//! "Gatech" layout EasyTPP reads, written as JSON), and EasyTPP's published records (one object
//! per sequence with arrays `time_since_start`, `time_since_last_event`, `type_event` and
//! `dim_process`, `seq_len`, `seq_idx`). The first event's `time_since_last_event` is its gap to the
//! origin or 0 (both conventions occur).

use super::io::{parse_err, read, write_atomic};
use super::sequence::EventSequence;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One event in the event-list layout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TppEvent {
    /// Absolute time.
    pub time_since_start: f64,
    /// Gap to the previous event (to the origin, or 0, for the first).
    pub time_since_last_event: f64,
    /// Event type.
    pub type_event: usize,
}

/// One event as the dictionary layout writes it (with the index and the same-type gap).
#[derive(Debug, Clone, Copy, Serialize)]
struct GatechEvent {
    idx_event: usize,
    time_since_start: f64,
    time_since_last_event: f64,
    time_since_last_same_event: f64,
    type_event: usize,
}

/// One sequence as EasyTPP's records hold it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TppColumns {
    time_since_start: Vec<f64>,
    time_since_last_event: Vec<f64>,
    type_event: Vec<usize>,
    #[serde(default)]
    dim_process: Option<usize>,
    #[serde(default)]
    seq_len: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq_idx: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TppSeq {
    Events(Vec<TppEvent>),
    Columns(TppColumns),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TppTop {
    List(Vec<TppSeq>),
    Dict(serde_json::Map<String, serde_json::Value>),
}

fn parse_top(text: &str, name: &str) -> Result<TppTop> {
    serde_json::from_str(text)
        .map_err(|e| parse_err(name, e.line(), format!("not a neural-TPP JSON layout: {e}")))
}

/// Checks and converts raw sequences; `dim` is a lower bound on the number of types, `declared`
/// the `dim_process` of the file (types must lie below it).
fn convert(
    raw: Vec<TppSeq>,
    name: &str,
    dim: usize,
    mut declared: Option<usize>,
) -> Result<Vec<EventSequence>> {
    for r in &raw {
        if let TppSeq::Columns(c) = r {
            if let Some(d) = c.dim_process {
                declared = Some(declared.map_or(d, |x| x.max(d)));
            }
        }
    }
    let dim = dim.max(declared.unwrap_or(0));
    let mut seqs = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let (ts, gaps, types) = match r {
            TppSeq::Events(ev) => (
                ev.iter().map(|e| e.time_since_start).collect::<Vec<_>>(),
                ev.iter().map(|e| e.time_since_last_event).collect::<Vec<_>>(),
                ev.iter().map(|e| e.type_event).collect::<Vec<_>>(),
            ),
            TppSeq::Columns(c) => {
                if let Some(n) = c.seq_len {
                    if n != c.time_since_start.len() {
                        return Err(parse_err(
                            name,
                            0,
                            format!("sequence {i}: seq_len {n} but {} times", c.time_since_start.len()),
                        ));
                    }
                }
                (c.time_since_start, c.time_since_last_event, c.type_event)
            }
        };
        if ts.len() != gaps.len() || ts.len() != types.len() {
            return Err(parse_err(name, 0, format!("sequence {i}: arrays have different lengths")));
        }
        let mut prev = 0.0;
        for (k, (&t, &g)) in ts.iter().zip(&gaps).enumerate() {
            let agrees = |x: f64| (t - prev - x).abs() <= 1e-6 * t.abs().max(1.0);
            if !(agrees(g) || (k == 0 && g == 0.0)) {
                return Err(parse_err(
                    name,
                    0,
                    format!("sequence {i}, event {k}: time_since_last_event {g} disagrees with time_since_start ({t} − {prev})"),
                ));
            }
            prev = t;
        }
        if let (Some(&m), Some(d)) = (types.iter().max(), declared) {
            if m >= d {
                return Err(parse_err(
                    name,
                    0,
                    format!("sequence {i}: type_event {m} is not below dim_process {d}"),
                ));
            }
        }
        seqs.push((ts, types));
    }
    let dim = dim.max(seqs.iter().flat_map(|s| s.1.iter().copied()).max().map_or(1, |m| m + 1));
    seqs.into_iter()
        .enumerate()
        .map(|(i, (ts, types))| {
            let t1 = ts.last().copied().filter(|t| *t > 0.0).unwrap_or(1.0);
            EventSequence::new(ts, Some(types), dim.max(1), 0.0, t1)
                .map_err(|e| parse_err(name, 0, format!("sequence {i}: {e}")))
        })
        .collect()
}

/// Reads a list of sequences in the event-list layout or EasyTPP's records (detected per
/// sequence). Windows are `[0, last time]`; the number of types is the largest of `num_marks`,
/// `dim_process` and the largest type + 1.
///
/// # Errors
/// Malformed JSON (with its line), a dictionary of splits (read those with
/// [`sequences_from_tpp_json_split_str`]), arrays of different lengths, a `seq_len` that differs
/// from the data, a gap that disagrees with the times, a type not below `dim_process`, or times
/// that do not increase.
pub fn sequences_from_tpp_json_str(
    text: &str,
    name: &str,
    num_marks: Option<usize>,
) -> Result<Vec<EventSequence>> {
    match parse_top(text, name)? {
        TppTop::List(raw) => convert(raw, name, num_marks.unwrap_or(0), None),
        TppTop::Dict(d) => Err(parse_err(
            name,
            0,
            format!(
                "a dictionary of splits (keys {:?}): name the split to read (sequences_from_tpp_json_split_str)",
                d.keys().collect::<Vec<_>>()
            ),
        )),
    }
}

/// Reads one split (`"train"`, `"dev"`, `"test"`, ...) of the dictionary layout
/// `{"dim_process": K, "train": [[event, ...], ...], ...}`.
///
/// # Errors
/// A list instead of a dictionary, a missing split (the error lists the keys), a missing or
/// non-integer `dim_process`, and everything [`sequences_from_tpp_json_str`] refuses.
pub fn sequences_from_tpp_json_split_str(
    text: &str,
    name: &str,
    split: &str,
    num_marks: Option<usize>,
) -> Result<Vec<EventSequence>> {
    let TppTop::Dict(mut d) = parse_top(text, name)? else {
        return Err(parse_err(name, 0, "a list of sequences, not a dictionary of splits"));
    };
    let dim = d
        .get("dim_process")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| parse_err(name, 0, "missing or non-integer `dim_process`"))?;
    let keys: Vec<String> = d.keys().cloned().collect();
    let v =
        d.remove(split).ok_or_else(|| parse_err(name, 0, format!("no split `{split}` (keys {keys:?})")))?;
    let raw: Vec<TppSeq> = serde_json::from_value(v)
        .map_err(|e| parse_err(name, 0, format!("split `{split}` is not a list of sequences: {e}")))?;
    convert(raw, name, num_marks.unwrap_or(0), Some(dim as usize))
}

/// Reads a neural-TPP JSON file (see [`sequences_from_tpp_json_str`]).
pub fn read_tpp_json(path: &Path, num_marks: Option<usize>) -> Result<Vec<EventSequence>> {
    sequences_from_tpp_json_str(&read(path)?, &path.display().to_string(), num_marks)
}

/// Reads one split of a dictionary-layout file (see [`sequences_from_tpp_json_split_str`]).
pub fn read_tpp_json_split(path: &Path, split: &str, num_marks: Option<usize>) -> Result<Vec<EventSequence>> {
    sequences_from_tpp_json_split_str(&read(path)?, &path.display().to_string(), split, num_marks)
}

/// Times from each sequence's `t_start`, gaps, types, and gaps to the previous same-type event.
fn relative(s: &EventSequence) -> Vec<GatechEvent> {
    let mut prev = 0.0;
    let mut last_same = vec![0.0; s.num_marks()];
    s.iter()
        .enumerate()
        .map(|(k, (t, m))| {
            let t = t - s.t_start();
            let e = GatechEvent {
                idx_event: k + 1,
                time_since_start: t,
                time_since_last_event: t - prev,
                time_since_last_same_event: t - last_same[m],
                type_event: m,
            };
            prev = t;
            last_same[m] = t;
            e
        })
        .collect()
}

/// Writes sequences in the event-list layout (a list of event lists), atomically. Times are
/// measured from each sequence's `t_start`.
pub fn write_tpp_json(path: &Path, seqs: &[EventSequence]) -> Result<()> {
    let data: Vec<Vec<TppEvent>> = seqs
        .iter()
        .map(|s| {
            relative(s)
                .into_iter()
                .map(|e| TppEvent {
                    time_since_start: e.time_since_start,
                    time_since_last_event: e.time_since_last_event,
                    type_event: e.type_event,
                })
                .collect()
        })
        .collect();
    write_atomic(path, &serde_json::to_string(&data)?)
}

/// Writes EasyTPP's records layout (one object per sequence with `dim_process`, `seq_len`,
/// `seq_idx` and the three arrays), atomically.
pub fn write_tpp_json_records(path: &Path, seqs: &[EventSequence]) -> Result<()> {
    let dim = seqs.iter().map(EventSequence::num_marks).max().unwrap_or(1);
    let data: Vec<TppColumns> = seqs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ev = relative(s);
            TppColumns {
                time_since_start: ev.iter().map(|e| e.time_since_start).collect(),
                time_since_last_event: ev.iter().map(|e| e.time_since_last_event).collect(),
                type_event: ev.iter().map(|e| e.type_event).collect(),
                dim_process: Some(dim),
                seq_len: Some(ev.len()),
                seq_idx: Some(i),
            }
        })
        .collect();
    write_atomic(path, &serde_json::to_string(&data)?)
}

/// Writes the dictionary layout `{"dim_process": K, split: [[event, ...], ...], ...}` with
/// `idx_event` (from 1) and `time_since_last_same_event` in every event, atomically.
///
/// # Errors
/// A split named `dim_process`, a split named twice, or an I/O error.
pub fn write_tpp_json_splits(path: &Path, splits: &[(&str, &[EventSequence])]) -> Result<()> {
    let dim = splits.iter().flat_map(|s| s.1.iter().map(EventSequence::num_marks)).max().unwrap_or(1);
    let mut map = serde_json::Map::new();
    map.insert("dim_process".into(), dim.into());
    for (name, seqs) in splits {
        if map.contains_key(*name) {
            return Err(crate::error::invalid(
                "splits",
                *name,
                "split names must be distinct and not `dim_process`",
            ));
        }
        let v: Vec<Vec<GatechEvent>> = seqs.iter().map(relative).collect();
        map.insert((*name).to_string(), serde_json::to_value(v)?);
    }
    write_atomic(path, &serde_json::to_string(&map)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpp_json_both_layouts() {
        let rows = r#"[[{"time_since_start":0.5,"time_since_last_event":0.5,"type_event":1},
                        {"time_since_start":0.75,"time_since_last_event":0.25,"type_event":0}]]"#;
        let s = sequences_from_tpp_json_str(rows, "a.json", None).unwrap();
        assert_eq!(s[0].times(), &[0.5, 0.75]);
        assert_eq!(s[0].marks(), &[1, 0]);
        assert_eq!(s[0].num_marks(), 2);
        let cols = r#"[{"time_since_start":[0.5,0.75],"time_since_last_event":[0.5,0.25],"type_event":[1,0],"dim_process":5}]"#;
        let c = sequences_from_tpp_json_str(cols, "b.json", None).unwrap();
        assert_eq!(c[0].times(), s[0].times());
        assert_eq!(c[0].num_marks(), 5);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        write_tpp_json(&p, &s).unwrap();
        assert_eq!(read_tpp_json(&p, None).unwrap(), s);
        let bad = r#"[[{"time_since_start":0.5,"time_since_last_event":0.2,"type_event":0}]]"#;
        let e = sequences_from_tpp_json_str(bad, "c.json", None).unwrap_err().to_string();
        assert!(e.contains("disagrees"), "{e}");
        assert!(sequences_from_tpp_json_str("{", "d.json", None).is_err());
    }

    #[test]
    fn easytpp_records_and_the_dictionary_of_splits_round_trip() {
        // EasyTPP's records: a first gap of 0, seq_len and seq_idx beside the arrays
        let rec = r#"[{"dim_process":3,"seq_len":3,"seq_idx":0,"time_since_start":[0.0,0.7,1.5],
                       "time_since_last_event":[0.0,0.7,0.8],"type_event":[2,0,2]}]"#;
        let s = sequences_from_tpp_json_str(rec, "r.json", None).unwrap();
        assert_eq!(s[0].num_marks(), 3);
        assert_eq!(s[0].times(), &[0.0, 0.7, 1.5]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r2.json");
        write_tpp_json_records(&p, &s).unwrap();
        assert_eq!(read_tpp_json(&p, None).unwrap(), s);
        let wrong_len = rec.replace("\"seq_len\":3", "\"seq_len\":4");
        let e = sequences_from_tpp_json_str(&wrong_len, "r.json", None).unwrap_err().to_string();
        assert!(e.contains("seq_len 4 but 3 times"), "{e}");
        let over = rec.replace("\"dim_process\":3", "\"dim_process\":2");
        let e = sequences_from_tpp_json_str(&over, "r.json", None).unwrap_err().to_string();
        assert!(e.contains("not below dim_process 2"), "{e}");
        // the dictionary of splits, as the Neural Hawkes / THP pickles hold it
        let train = EventSequence::new(vec![1.0, 1.4, 2.0], Some(vec![0, 1, 0]), 2, 0.0, 2.0).unwrap();
        let test = EventSequence::new(vec![0.3], Some(vec![1]), 2, 0.0, 0.3).unwrap();
        let p = dir.path().join("splits.json");
        write_tpp_json_splits(
            &p,
            &[("train", std::slice::from_ref(&train)), ("test", std::slice::from_ref(&test))],
        )
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"time_since_last_same_event\":1.0"), "{text}");
        assert_eq!(read_tpp_json_split(&p, "train", None).unwrap(), vec![train]);
        assert_eq!(read_tpp_json_split(&p, "test", None).unwrap(), vec![test]);
        let e = read_tpp_json_split(&p, "dev", None).unwrap_err().to_string();
        assert!(e.contains("no split `dev`") && e.contains("train"), "{e}");
        let e = read_tpp_json(&p, None).unwrap_err().to_string();
        assert!(e.contains("dictionary of splits"), "{e}");
        assert!(write_tpp_json_splits(&p, &[("dim_process", &[])]).is_err());
    }
}
