//! Readers and writers: event sequences as CSV, earthquake catalogues as CSV (the neural-TPP JSON
//! layouts live in [`super::tpp_json`] and are re-exported here). Every malformed input gives [`Error::Parse`] with the file and line.

use super::catalogue::{Catalogue, Quake, Region};
use super::sequence::EventSequence;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

pub use super::tpp_json::{
    read_tpp_json, read_tpp_json_split, sequences_from_tpp_json_split_str, sequences_from_tpp_json_str,
    write_tpp_json, write_tpp_json_records, write_tpp_json_splits, TppEvent,
};

pub(crate) fn parse_err(path: &str, line: usize, reason: impl Into<String>) -> Error {
    Error::Parse { path: path.to_string(), line, reason: reason.into() }
}

pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| parse_err(&path.display().to_string(), 0, format!("cannot read: {e}")))
}

pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    core_tensor::checkpoint::write_bytes_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Column index by lower-case header name, and `(line number, fields)` rows.
pub(crate) type CsvRows = (HashMap<String, usize>, Vec<(usize, csv::StringRecord)>);

/// Splits CSV text into a header map and rows (RFC 4180 quoting, fields trimmed, blank lines and
/// lines starting with `#` skipped); a row with another number of fields than the header is an
/// error naming its line.
pub(crate) fn csv_rows(text: &str, name: &str) -> Result<CsvRows> {
    let mut reader =
        csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
    let line_of = |e: &csv::Error| e.position().map_or(0, |p| p.line() as usize);
    let header = reader.headers().map_err(|e| parse_err(name, line_of(&e), e.to_string()))?.clone();
    if header.is_empty() {
        return Err(parse_err(name, 1, "empty file: expected a header line"));
    }
    let cols: HashMap<String, usize> =
        header.iter().enumerate().map(|(i, c)| (c.to_ascii_lowercase(), i)).collect();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = line_of(&e);
            match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    parse_err(name, line, format!("expected {expected_len} fields, found {len}"))
                }
                _ => parse_err(name, line, e.to_string()),
            }
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        rows.push((line, rec));
    }
    Ok((cols, rows))
}

pub(crate) fn col(cols: &HashMap<String, usize>, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| cols.get(*n).copied())
}

pub(crate) fn num(s: &str, what: &str, name: &str, line: usize) -> Result<f64> {
    let v: f64 = s.parse().map_err(|_| parse_err(name, line, format!("{what} `{s}` is not a number")))?;
    if !v.is_finite() {
        return Err(parse_err(name, line, format!("{what} `{s}` is not finite")));
    }
    Ok(v)
}

/// Reads sequences from CSV text with a header naming columns `sequence`, `time`, and optionally
/// `mark`, `t_start`, `t_end` (the Neural Hawkes names are accepted too: `seq_id` / `seq_idx` /
/// `id`, `time_since_start`, `type_event` / `event` / `type`; letter case is ignored). Rows of one sequence need not be contiguous but its times must be
/// increasing. Without `t_start`/`t_end` the window is `[0, last time]`. `num_marks` defaults to the
/// largest mark + 1.
pub fn sequences_from_csv_str(
    text: &str,
    name: &str,
    num_marks: Option<usize>,
) -> Result<Vec<EventSequence>> {
    let (cols, rows) = csv_rows(text, name)?;
    let c_seq = col(&cols, &["sequence", "seq", "id", "seq_id", "seq_idx", "sequence_id"])
        .ok_or_else(|| parse_err(name, 1, "missing column `sequence`"))?;
    let c_time = col(&cols, &["time", "t", "time_since_start"])
        .ok_or_else(|| parse_err(name, 1, "missing column `time`"))?;
    let c_mark = col(&cols, &["mark", "type", "type_event", "event", "event_type"]);
    let (c_t0, c_t1) = (col(&cols, &["t_start"]), col(&cols, &["t_end"]));
    struct Acc {
        times: Vec<f64>,
        marks: Vec<usize>,
        t0: Option<f64>,
        t1: Option<f64>,
        line: usize,
    }
    let mut order: Vec<String> = Vec::new();
    let mut acc: HashMap<String, Acc> = HashMap::new();
    for (line, f) in rows {
        let id = f[c_seq].to_string();
        let t = num(&f[c_time], "time", name, line)?;
        let m = match c_mark {
            Some(c) => f[c].parse::<usize>().map_err(|_| {
                parse_err(name, line, format!("mark `{}` is not a non-negative integer", &f[c]))
            })?,
            None => 0,
        };
        let a = acc.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            Acc { times: vec![], marks: vec![], t0: None, t1: None, line }
        });
        if let Some(&last) = a.times.last() {
            if t <= last {
                return Err(parse_err(
                    name,
                    line,
                    format!("sequence `{id}`: time {t} is not after the previous time {last}"),
                ));
            }
        }
        a.times.push(t);
        a.marks.push(m);
        for (c, slot) in [(c_t0, &mut a.t0), (c_t1, &mut a.t1)] {
            if let Some(c) = c {
                let v = num(&f[c], "window bound", name, line)?;
                if slot.is_some_and(|old| old != v) {
                    return Err(parse_err(
                        name,
                        line,
                        format!("sequence `{id}`: window bound {v} differs from earlier rows"),
                    ));
                }
                *slot = Some(v);
            }
        }
    }
    let k = num_marks
        .unwrap_or_else(|| acc.values().flat_map(|a| a.marks.iter().copied()).max().map_or(1, |m| m + 1));
    order
        .into_iter()
        .map(|id| {
            let a = acc.remove(&id).expect("collected");
            let t0 = a.t0.unwrap_or(0.0);
            let t1 = a.t1.unwrap_or_else(|| a.times.last().copied().unwrap_or(1.0));
            EventSequence::new(a.times, Some(a.marks), k, t0, t1)
                .map_err(|e| parse_err(name, a.line, format!("sequence `{id}`: {e}")))
        })
        .collect()
}

/// Reads sequences from a CSV file (see [`sequences_from_csv_str`]).
pub fn read_sequences_csv(path: &Path, num_marks: Option<usize>) -> Result<Vec<EventSequence>> {
    sequences_from_csv_str(&read(path)?, &path.display().to_string(), num_marks)
}

/// Writes sequences as CSV (`sequence,time,mark,t_start,t_end`), atomically.
pub fn write_sequences_csv(path: &Path, seqs: &[EventSequence]) -> Result<()> {
    let mut s = String::from("sequence,time,mark,t_start,t_end\n");
    for (i, q) in seqs.iter().enumerate() {
        for (t, m) in q.iter() {
            s.push_str(&format!("{i},{t:?},{m},{:?},{:?}\n", q.t_start(), q.t_end()));
        }
    }
    write_atomic(path, &s)
}

/// Parses a time field: a number of days, or an ISO-8601 date-time `YYYY-MM-DD[ T]HH:MM[:SS[.f]]`
/// (UTC, a valid Gregorian date) converted to days since 1970-01-01.
pub fn parse_time_days(s: &str) -> Option<f64> {
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let dp: Vec<&str> = date.split('-').collect();
    if dp.len() != 3 {
        return None;
    }
    // a real calendar date (February 30 is not one), years −9999..=9999
    let month = time::Month::try_from(dp[1].parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(dp[0].parse().ok()?, month, dp[2].parse().ok()?).ok()?;
    let days = (date - time::Date::from_calendar_date(1970, time::Month::January, 1).ok()?).whole_days();
    let tp: Vec<&str> = time.split(':').collect();
    if tp.len() < 2 || tp.len() > 3 {
        return None;
    }
    let h: f64 = tp[0].parse().ok()?;
    let mi: f64 = tp[1].parse().ok()?;
    let sec: f64 = if tp.len() == 3 { tp[2].parse().ok()? } else { 0.0 };
    if !(0.0..24.0).contains(&h) || !(0.0..60.0).contains(&mi) || !(0.0..61.0).contains(&sec) {
        return None;
    }
    Some(days as f64 + (h * 3600.0 + mi * 60.0 + sec) / 86_400.0)
}

/// Reads earthquake rows from CSV text in any layout of [`super::layouts`] (detected from the
/// header; e.g. columns `time` (days or ISO date-time), `longitude`/`lon`, `latitude`/`lat`,
/// `magnitude`/`mag` and optionally `depth`). Rows need not be sorted; use
/// [`Catalogue::from_raw`] or [`read_catalogue_csv`] to build a catalogue, or
/// [`super::layouts::catalogue_from_rows`] for the strict checks.
pub fn quakes_from_csv_str(text: &str, name: &str) -> Result<Vec<Quake>> {
    let (_, rows) = super::layouts::read_rows(text, name, None)?;
    Ok(rows.into_iter().map(|r| r.quake).collect())
}

/// Reads a catalogue CSV and builds a [`Catalogue`] (events filtered to the window, region and
/// `mc`, sorted).
pub fn read_catalogue_csv(
    path: &Path,
    t_history: f64,
    t_start: f64,
    t_end: f64,
    mc: f64,
    region: Region,
) -> Result<Catalogue> {
    let q = quakes_from_csv_str(&read(path)?, &path.display().to_string())?;
    Catalogue::from_raw(q, t_history, t_start, t_end, mc, region)
}

/// Writes a catalogue as CSV (`time,longitude,latitude,magnitude,depth`, time in days), atomically.
pub fn write_catalogue_csv(path: &Path, cat: &Catalogue) -> Result<()> {
    let mut s = String::from("time,longitude,latitude,magnitude,depth\n");
    for q in cat.events() {
        s.push_str(&format!("{:?},{:?},{:?},{:?},{:?}\n", q.time, q.lon, q.lat, q.mag, q.depth));
    }
    write_atomic(path, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        let a = EventSequence::new(vec![0.5, 1.25], Some(vec![0, 2]), 3, 0.0, 2.0).unwrap();
        let b = EventSequence::new(vec![0.1], Some(vec![1]), 3, -1.0, 4.0).unwrap();
        write_sequences_csv(&p, &[a.clone(), b.clone()]).unwrap();
        let back = read_sequences_csv(&p, Some(3)).unwrap();
        assert_eq!(back, vec![a, b]);
        let e =
            sequences_from_csv_str("sequence,time\n0,1.0\n0,0.5\n", "x.csv", None).unwrap_err().to_string();
        assert!(e.starts_with("x.csv:3:") && e.contains("not after"), "{e}");
        let e = sequences_from_csv_str("sequence,time\n0,abc\n", "x.csv", None).unwrap_err().to_string();
        assert!(e.contains("x.csv:2") && e.contains("abc"), "{e}");
        // the Neural Hawkes column names
        let nh = "seq_id,time_since_start,type_event\n7,0.5,1\n7,0.9,0\n8,0.2,1\n";
        let s = sequences_from_csv_str(nh, "nh.csv", None).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].times(), &[0.5, 0.9]);
        assert_eq!(s[1].marks(), &[1]);
        let e = sequences_from_csv_str("time\n1\n", "x.csv", None).unwrap_err().to_string();
        assert!(e.contains("missing column `sequence`"), "{e}");
        let e =
            sequences_from_csv_str("sequence,time,mark\n0,1.0,-1\n", "x.csv", None).unwrap_err().to_string();
        assert!(e.contains("mark `-1`"), "{e}");
        let e = sequences_from_csv_str("sequence,time\n0,1.0,3\n", "x.csv", None).unwrap_err().to_string();
        assert!(e.contains("expected 2 fields"), "{e}");
        let e = read_sequences_csv(&dir.path().join("missing.csv"), None).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn catalogue_csv() {
        assert_eq!(parse_time_days("1970-01-02"), Some(1.0));
        assert_eq!(parse_time_days("2000-03-01T12:00:00Z"), Some(11_017.5));
        assert_eq!(parse_time_days("2000-13-01"), None);
        let text = "time,lon,lat,mag,depth\n2000-01-01 00:00:00,0.5,0.5,3.1,7\n10957.5,0.2,0.3,2.4,\n10957.25,0.2,0.3,3.0,1\n";
        let q = quakes_from_csv_str(text, "c.csv").unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0].time, 10_957.0);
        let r = Region::new(0.0, 1.0, 0.0, 1.0).unwrap();
        let cat = Catalogue::from_raw(q, 10_950.0, 10_950.0, 10_960.0, 2.5, r).unwrap();
        assert_eq!(cat.len(), 2);
        assert_eq!(cat.events()[0].time, 10_957.0);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cat.csv");
        write_catalogue_csv(&p, &cat).unwrap();
        let back = read_catalogue_csv(&p, 10_950.0, 10_950.0, 10_960.0, 2.5, r).unwrap();
        assert_eq!(back, cat);
        let e = quakes_from_csv_str("time,lon,lat,mag\nyesterday,0,0,3\n", "c.csv").unwrap_err().to_string();
        assert!(e.contains("c.csv:2") && e.contains("yesterday"), "{e}");
        // calendar dates are checked: February 30 does not exist, 2000-02-29 does
        assert_eq!(parse_time_days("2001-02-29"), None);
        assert_eq!(parse_time_days("2000-02-30"), None);
        assert_eq!(parse_time_days("2000-02-29"), Some(11_016.0));
        // quoted fields (as ComCat writes place names) and comment lines
        let text =
            "# ComCat extract\ntime,lon,lat,mag,place\n1.5,0.2,0.3,3.0,\"12 km SW of Ridgecrest, CA\"\n";
        let q = quakes_from_csv_str(text, "q.csv").unwrap();
        assert_eq!((q.len(), q[0].time, q[0].mag), (1, 1.5, 3.0));
        let e = quakes_from_csv_str("time,lon,lat,mag\n1,0,0\n", "c.csv").unwrap_err().to_string();
        assert!(e.contains("c.csv:2") && e.contains("expected 4 fields, found 3"), "{e}");
    }
}
