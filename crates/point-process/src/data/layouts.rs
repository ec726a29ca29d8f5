//! Earthquake catalogue files as agencies and benchmarks publish them: the ComCat / ANSS search
//! layout, pycsep's `csep-csv` and EarthquakeNPP's preprocessed CSVs, detected from the header.
//! Every event keeps the line it came from, so a malformed catalogue (a missing column, a bad date,
//! a magnitude below the completeness magnitude, rows out of time order, a duplicated event) is an
//! [`Error::Parse`](crate::Error::Parse) naming the file and line.
//!
//! Times are days since 1970-01-01 UTC (see [`parse_time_days`]).

use super::catalogue::{Catalogue, Quake, Region};
use super::io::{col, csv_rows, num, parse_err, parse_time_days};
use crate::error::Result;
use std::collections::HashMap;

/// A catalogue CSV layout: which header names hold the origin time, epicentre, magnitude and depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueLayout {
    /// USGS ComCat / ANSS search results: `time,latitude,longitude,depth,mag,magType,…,id,…`, UTC
    /// ISO times such as `2019-07-06T03:19:53.040Z`. Rows may be newest first (ComCat's default).
    Comcat,
    /// pycsep's `csep-csv`: `lon,lat,M,time_string,depth,catalog_id,event_id`.
    Csep,
    /// EarthquakeNPP: `id,time,longitude,latitude,magnitude,x,y`, times `YYYY-MM-DD HH:MM:SS.fff`,
    /// no depth (read as 0 km).
    EarthquakeNpp,
    /// Any header with `time`, `longitude`/`lon`, `latitude`/`lat`, `magnitude`/`mag` and optionally
    /// `depth`; times in days or ISO date-times.
    Generic,
}

/// Header names (lower case) of the fields a layout needs, first match wins.
struct Columns {
    time: &'static [&'static str],
    lon: &'static [&'static str],
    lat: &'static [&'static str],
    mag: &'static [&'static str],
    depth: &'static [&'static str],
}

impl CatalogueLayout {
    /// The layout's name.
    pub fn name(self) -> &'static str {
        match self {
            CatalogueLayout::Comcat => "ComCat",
            CatalogueLayout::Csep => "csep-csv",
            CatalogueLayout::EarthquakeNpp => "EarthquakeNPP",
            CatalogueLayout::Generic => "generic",
        }
    }

    fn columns(self) -> Columns {
        match self {
            CatalogueLayout::Comcat => Columns {
                time: &["time"],
                lon: &["longitude"],
                lat: &["latitude"],
                mag: &["mag"],
                depth: &["depth"],
            },
            CatalogueLayout::Csep => Columns {
                time: &["time_string"],
                lon: &["lon"],
                lat: &["lat"],
                mag: &["m"],
                depth: &["depth"],
            },
            CatalogueLayout::EarthquakeNpp => Columns {
                time: &["time"],
                lon: &["longitude"],
                lat: &["latitude"],
                mag: &["magnitude"],
                depth: &[],
            },
            CatalogueLayout::Generic => Columns {
                time: &["time"],
                lon: &["longitude", "lon"],
                lat: &["latitude", "lat"],
                mag: &["magnitude", "mag"],
                depth: &["depth"],
            },
        }
    }

    /// The layout a header (lower-case names) belongs to: `time_string` and `m` make csep-csv,
    /// `mag` with `magtype` ComCat, `magnitude` with `x` and `y` EarthquakeNPP; anything else is
    /// read as [`CatalogueLayout::Generic`].
    pub fn detect<S: AsRef<str>>(header: &[S]) -> Self {
        let has = |n: &str| header.iter().any(|h| h.as_ref().eq_ignore_ascii_case(n));
        if has("time_string") && has("m") {
            CatalogueLayout::Csep
        } else if has("mag") && has("magtype") {
            CatalogueLayout::Comcat
        } else if has("magnitude") && has("x") && has("y") {
            CatalogueLayout::EarthquakeNpp
        } else {
            CatalogueLayout::Generic
        }
    }
}

/// One event of a file and the line (from 1) it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuakeRow {
    /// Line in the file.
    pub line: usize,
    /// The event (time in days since 1970-01-01 UTC, degrees, magnitude, depth in km).
    pub quake: Quake,
}

/// Reads every row of a catalogue CSV in the given layout, or the one [`CatalogueLayout::detect`]
/// finds; `name` names the file in errors. Rows are returned in file order.
///
/// # Errors
/// A missing column (naming the layout), a field that is not a finite number, or a time that is
/// neither days nor a valid ISO date-time, each naming the line.
pub fn read_rows(
    text: &str,
    name: &str,
    layout: Option<CatalogueLayout>,
) -> Result<(CatalogueLayout, Vec<QuakeRow>)> {
    let (cols, rows) = csv_rows(text, name)?;
    let header: Vec<&String> = cols.keys().collect();
    let layout = layout.unwrap_or_else(|| CatalogueLayout::detect(&header));
    let c = layout.columns();
    let need = |names: &[&str]| {
        col(&cols, names).ok_or_else(|| {
            parse_err(name, 1, format!("missing column `{}` of the {} layout", names[0], layout.name()))
        })
    };
    let (ct, clon, clat, cmag) = (need(c.time)?, need(c.lon)?, need(c.lat)?, need(c.mag)?);
    let cdep = col(&cols, c.depth);
    let rows = rows
        .into_iter()
        .map(|(line, f)| {
            let time = parse_time_days(&f[ct]).ok_or_else(|| {
                parse_err(name, line, format!("time `{}` is neither days nor a valid ISO date-time", &f[ct]))
            })?;
            let quake = Quake {
                time,
                lon: num(&f[clon], "longitude", name, line)?,
                lat: num(&f[clat], "latitude", name, line)?,
                mag: num(&f[cmag], "magnitude", name, line)?,
                depth: match cdep {
                    Some(i) if !f[i].is_empty() => num(&f[i], "depth", name, line)?,
                    _ => 0.0,
                },
            };
            Ok(QuakeRow { line, quake })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((layout, rows))
}

/// What [`catalogue_from_rows`] keeps and requires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogueSpec {
    /// Start of the history window (days since 1970).
    pub t_history: f64,
    /// Start of the target window.
    pub t_start: f64,
    /// End of the window.
    pub t_end: f64,
    /// Completeness magnitude: a row below it is an error (the file claims more than it holds).
    pub mc: f64,
    /// Events outside it are left out.
    pub region: Region,
}

/// Builds a catalogue from rows, strictly: rows must be in time order (oldest first, or newest
/// first as ComCat returns them), no two rows may share an origin time, and no magnitude may be
/// below `spec.mc`. Rows outside the time window or the region are left out.
///
/// # Errors
/// An [`Error::Parse`](crate::Error::Parse) naming the line: a magnitude below `mc`, a row out of
/// order, or a row whose origin time repeats an earlier line's (naming both lines).
pub fn catalogue_from_rows(rows: &[QuakeRow], name: &str, spec: &CatalogueSpec) -> Result<Catalogue> {
    let newest_first = rows.len() >= 2 && rows[rows.len() - 1].quake.time < rows[0].quake.time;
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(rows.len());
    for (k, r) in rows.iter().enumerate() {
        if r.quake.mag < spec.mc {
            return Err(parse_err(
                name,
                r.line,
                format!("magnitude {} is below the completeness magnitude {}", r.quake.mag, spec.mc),
            ));
        }
        if let Some(first) = seen.insert(r.quake.time.to_bits(), r.line) {
            return Err(parse_err(name, r.line, format!("repeats the origin time of line {first}")));
        }
        if k > 0 {
            let prev = &rows[k - 1];
            let out_of_order =
                if newest_first { r.quake.time > prev.quake.time } else { r.quake.time < prev.quake.time };
            if out_of_order {
                let order = if newest_first { "newest first" } else { "oldest first" };
                return Err(parse_err(
                    name,
                    r.line,
                    format!("rows are not in time order ({order}): this row comes after line {}", prev.line),
                ));
            }
        }
    }
    let mut events: Vec<Quake> = rows
        .iter()
        .map(|r| r.quake)
        .filter(|q| q.time >= spec.t_history && q.time <= spec.t_end && spec.region.contains(q.lon, q.lat))
        .collect();
    if newest_first {
        events.reverse();
    }
    Catalogue::new(events, spec.t_history, spec.t_start, spec.t_end, spec.mc, spec.region)
}

/// Reads a catalogue file strictly ([`read_rows`] then [`catalogue_from_rows`]).
///
/// # Errors
/// An unreadable file and the errors of [`read_rows`] and [`catalogue_from_rows`].
pub fn read_catalogue(
    path: &std::path::Path,
    layout: Option<CatalogueLayout>,
    spec: &CatalogueSpec,
) -> Result<Catalogue> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| parse_err(&name, 0, format!("cannot read: {e}")))?;
    let (_, rows) = read_rows(&text, &name, layout)?;
    catalogue_from_rows(&rows, &name, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mc: f64) -> CatalogueSpec {
        let day = |s: &str| parse_time_days(s).unwrap();
        CatalogueSpec {
            t_history: day("2019-07-06T00:00:00"),
            t_start: day("2019-07-06T00:00:00"),
            t_end: day("2019-07-08T00:00:00"),
            mc,
            region: Region::new(-118.5, -117.0, 35.0, 36.5).unwrap(),
        }
    }

    const COMCAT: &str = "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type\n\
        2019-07-07T10:00:00.000Z,35.70,-117.50,8.1,3.1,ml,20,50,0.1,0.2,ci,ci3,2019-08-01T00:00:00.000Z,\"12km N of Ridgecrest, CA\",earthquake\n\
        2019-07-06T04:00:00.500Z,35.80,-117.60,10.0,4.2,mw,30,40,0.1,0.2,ci,ci2,2019-08-01T00:00:00.000Z,\"Ridgecrest, CA\",earthquake\n\
        2019-07-06T03:19:53.040Z,35.77,-117.60,8.0,7.1,mw,40,30,0.1,0.2,ci,ci1,2019-08-01T00:00:00.000Z,\"Ridgecrest, CA\",earthquake\n";

    /// A ComCat download (newest first, quoted places with commas) reads into an oldest-first
    /// catalogue with ISO times converted to days since 1970.
    #[test]
    fn comcat_layout_newest_first() {
        let (layout, rows) = read_rows(COMCAT, "comcat.csv", None).unwrap();
        assert_eq!(layout, CatalogueLayout::Comcat);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 4]);
        let cat = catalogue_from_rows(&rows, "comcat.csv", &spec(3.0)).unwrap();
        assert_eq!(cat.len(), 3);
        let q = cat.events()[0];
        // 2019-07-06 is day 18083 since 1970-01-01; 03:19:53.04 is 11993.04 s into it
        assert!((q.time - (18083.0 + 11_993.04 / 86_400.0)).abs() < 1e-9, "{}", q.time);
        assert_eq!((q.lon, q.lat, q.mag, q.depth), (-117.60, 35.77, 7.1, 8.0));
    }

    #[test]
    fn csep_and_earthquake_npp_layouts() {
        let csep = "lon,lat,M,time_string,depth,catalog_id,event_id\n\
            -117.43,35.61,4.73,2019-07-06T03:22:35.630000,9.35,-1,\n\
            -117.73,35.89,4.64,2019-07-06T03:22:48.300000,9.1,-1,\n";
        let (layout, rows) = read_rows(csep, "c.csv", None).unwrap();
        assert_eq!(layout, CatalogueLayout::Csep);
        assert_eq!(rows[1].quake.mag, 4.64);
        assert!((rows[1].quake.time - rows[0].quake.time - 12.67 / 86_400.0).abs() < 1e-9);
        let npp = "id,time,longitude,latitude,magnitude,x,y\n\
            12036,2019-07-06 20:36:17.720,-117.43,35.90,2.91,-221.8,-52.4\n";
        let (layout, rows) = read_rows(npp, "n.csv", None).unwrap();
        assert_eq!(layout, CatalogueLayout::EarthquakeNpp);
        assert_eq!((rows[0].quake.mag, rows[0].quake.depth), (2.91, 0.0));
        // a layout named by the caller must match the header
        let e = read_rows(npp, "n.csv", Some(CatalogueLayout::Csep)).unwrap_err().to_string();
        assert!(e.contains("n.csv:1") && e.contains("time_string") && e.contains("csep-csv"), "{e}");
    }

    /// Malformed catalogues: each error names the file and the line.
    #[test]
    fn malformed_catalogues_name_the_line() {
        let head = "time,latitude,longitude,depth,mag,magType\n";
        let read = |body: &str, mc: f64| {
            let text = format!("{head}{body}");
            read_rows(&text, "m.csv", None)
                .and_then(|(_, rows)| catalogue_from_rows(&rows, "m.csv", &spec(mc)))
                .unwrap_err()
                .to_string()
        };
        let ok = "2019-07-06T04:00:00Z,35.8,-117.6,10,4.2,mw\n";
        let e = read(&format!("{ok}2019-02-30T00:00:00Z,35.8,-117.6,10,4.2,mw\n"), 3.0);
        assert!(e.contains("m.csv:3") && e.contains("2019-02-30"), "{e}");
        let e = read(&format!("{ok}2019-07-06T05:00:00Z,35.8,-117.6,10,2.9,ml\n"), 3.0);
        assert!(e.contains("m.csv:3") && e.contains("below the completeness magnitude 3"), "{e}");
        let e = read(&format!("{ok}2019-07-06T05:00:00Z,35.8,-117.6,10,3.5,ml\n2019-07-06T04:30:00Z,35.8,-117.6,10,3.5,ml\n"), 3.0);
        assert!(e.contains("m.csv:4") && e.contains("not in time order") && e.contains("line 3"), "{e}");
        let e = read(&format!("{ok}{ok}"), 3.0);
        assert!(e.contains("m.csv:3") && e.contains("line 2"), "{e}");
        let e = read("2019-07-06T04:00:00Z,35.8,-117.6,10,abc,mw\n", 3.0);
        assert!(e.contains("m.csv:2") && e.contains("magnitude `abc`"), "{e}");
        let e = read_rows("time,latitude,depth,mag,magType\n", "m.csv", None).unwrap_err().to_string();
        assert!(e.contains("m.csv:1") && e.contains("longitude"), "{e}");
    }
}
