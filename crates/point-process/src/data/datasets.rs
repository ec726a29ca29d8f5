//! Real catalogues shipped with the crate (see `data/README.md` beside the crate's sources for
//! provenance and licence).

use super::catalogue::{Catalogue, Region};
use super::layouts::{catalogue_from_rows, read_rows, CatalogueLayout, CatalogueSpec};
use crate::error::Result;

/// The ComCat extract of the 2019 Ridgecrest sequence that pycsep ships as its sample catalogue:
/// 829 events of M 2.5–5.5 from 2019-07-06 03:22 to 2019-07-13 02:47 UTC (the M 7.1 mainshock of
/// 2019-07-06 03:19:53 itself is not in the extract), in pycsep's `csep-csv` layout.
const RIDGECREST_2019_CSV: &str = include_str!("../../data/ridgecrest_2019_comcat.csv");

/// Start of [`ridgecrest_2019`]'s window: 2019-07-06 00:00 UTC, in days since 1970-01-01.
pub const RIDGECREST_T_START: f64 = 18_083.0;
/// End of [`ridgecrest_2019`]'s window: 2019-07-13 03:00 UTC, just after the extract's last event.
pub const RIDGECREST_T_END: f64 = 18_090.125;
/// Completeness magnitude of the extract (its lower magnitude cut).
pub const RIDGECREST_MC: f64 = 2.5;

/// The 2019 Ridgecrest aftershock sequence (USGS ComCat, public domain) as a catalogue: times in
/// days since 1970-01-01 UTC over `[RIDGECREST_T_START, RIDGECREST_T_END]` (all history-free, so
/// `t_history = t_start`), `mc = 2.5`, region the events' bounding box rounded out to 0.1°
/// (−118.0…−117.2 E, 34.1…39.9 N).
///
/// # Errors
/// None in practice: the embedded file is checked by the tests; the `Result` is the reader's.
pub fn ridgecrest_2019() -> Result<Catalogue> {
    let (_, rows) =
        read_rows(RIDGECREST_2019_CSV, "ridgecrest_2019_comcat.csv", Some(CatalogueLayout::Csep))?;
    let spec = CatalogueSpec {
        t_history: RIDGECREST_T_START,
        t_start: RIDGECREST_T_START,
        t_end: RIDGECREST_T_END,
        mc: RIDGECREST_MC,
        region: Region::new(-118.0, -117.2, 34.1, 39.9)?,
    };
    catalogue_from_rows(&rows, "ridgecrest_2019_comcat.csv", &spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts, extremes and the Aki–Utsu b-value, against the same numbers computed from the CSV
    /// with Python's `csv` and `datetime` modules.
    #[test]
    fn ridgecrest_sample_reads_completely() {
        let cat = ridgecrest_2019().unwrap();
        let ev = cat.events();
        assert_eq!(ev.len(), 829);
        assert_eq!(ev.iter().filter(|q| q.mag >= 4.0).count(), 54);
        assert_eq!(ev.iter().filter(|q| q.mag >= 3.0).count(), 451);
        let (lo, hi) = ev.iter().fold((f64::MAX, f64::MIN), |(a, b), q| (a.min(q.mag), b.max(q.mag)));
        assert_eq!((lo, hi), (2.5, 5.5));
        assert!((ev[0].time - 18_083.140_690_162_04).abs() < 1e-9, "{}", ev[0].time);
        assert!((ev[828].time - 18_090.116_484_606_48).abs() < 1e-9, "{}", ev[828].time);
        assert_eq!((ev[0].lon, ev[0].lat, ev[0].mag, ev[0].depth), (-117.43017, 35.616665, 4.73, 9.35));
        // events per UTC day, 6 to 13 July
        let per_day: Vec<usize> = (0..8)
            .map(|d| ev.iter().filter(|q| (q.time - RIDGECREST_T_START).floor() as usize == d).count())
            .collect();
        assert_eq!(per_day, vec![294, 159, 103, 71, 83, 81, 33, 5]);
        // Aki–Utsu maximum-likelihood b-value with binning 0.01: log10(e) / (mean M − (mc − 0.005))
        let mean = ev.iter().map(|q| q.mag).sum::<f64>() / ev.len() as f64;
        let b = std::f64::consts::LOG10_E / (mean - (RIDGECREST_MC - 0.005));
        assert!((b - 0.669_443_618_965_597_3).abs() < 1e-12, "{b}");
    }
}
