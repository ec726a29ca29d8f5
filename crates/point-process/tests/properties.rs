//! Property tests: the readers, the time parser, the window checks and the samplers take arbitrary
//! text and numbers and return `Ok` with a valid value or a clear `Err` — never a panic or a hang.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default 256).

use point_process::data::catalogue::destination;
use point_process::data::io::{
    parse_time_days, quakes_from_csv_str, sequences_from_csv_str, sequences_from_tpp_json_str,
};
use point_process::data::{Catalogue, Region};
use point_process::etas::{presets, simulate, Etas};
use point_process::hawkes::{Hawkes, SimOptions};
use point_process::poisson::HomogeneousPoisson;
use proptest::prelude::*;

/// Any float, with the awkward ones (NaN, ±∞, ±0, subnormals, extremes) well represented.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 2.0),
        Just(f64::MAX),
        -1e3..1e3f64,
    ]
}

/// A CSV field: numbers of every kind, dates real and impossible, quotes, blanks, junk.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        any_f64().prop_map(|v| v.to_string()),
        (0u32..3, 0u32..20).prop_map(|(s, i)| format!("{s}.{i}")),
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-1e400".to_string()),
        Just("2019-07-06T03:19:53.04Z".to_string()),
        Just("2019-02-30T00:00:00".to_string()),
        Just("2019-13-01 25:61:99".to_string()),
        Just("\"a,b\"".to_string()),
        Just("\"unterminated".to_string()),
        "[ -~]{0,12}",
    ]
}

/// CSV text with a plausible header (sometimes with missing or extra columns) and rows of random
/// widths, so the parsers see both well-formed and ragged tables.
fn csv_text(headers: &'static [&'static str]) -> impl Strategy<Value = String> {
    (proptest::sample::subsequence(headers, 0..=headers.len()), 0usize..8)
        .prop_flat_map(|(cols, rows)| {
            let width = cols.len();
            let row = proptest::collection::vec(field(), width.saturating_sub(1)..=width + 1);
            (Just(cols), proptest::collection::vec(row, rows))
        })
        .prop_map(|(cols, rows)| {
            let mut s = cols.join(",");
            for r in rows {
                s.push('\n');
                s.push_str(&r.join(","));
            }
            s
        })
}

proptest! {
    #[test]
    fn parse_time_days_is_total(s in prop_oneof!["\\PC{0,30}", "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{1,2}(:[0-9.]{1,6})?Z?"]) {
        if let Some(v) = parse_time_days(&s) {
            prop_assert!(v.is_finite(), "{s:?} -> {v}");
        }
    }

    #[test]
    fn valid_dates_parse_to_increasing_days(y in 1900i32..2100, m in 1u8..=12, d in 1u8..=28, h in 0u8..24, mi in 0u8..60) {
        let a = parse_time_days(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:00Z")).unwrap();
        let b = parse_time_days(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:30Z")).unwrap();
        prop_assert!((b - a - 30.0 / 86_400.0).abs() < 1e-9);
    }

    #[test]
    fn sequence_csv_reader_never_panics(text in prop_oneof![csv_text(&["sequence", "time", "mark", "t_start", "t_end"]), "\\PC{0,200}"], marks in proptest::option::of(0usize..4)) {
        if let Ok(seqs) = sequences_from_csv_str(&text, "p.csv", marks) {
            for s in seqs {
                prop_assert!(s.times().windows(2).all(|w| w[0] < w[1]));
                prop_assert!(s.times().iter().all(|t| t.is_finite()));
            }
        }
    }

    #[test]
    fn csep_forecast_readers_never_panic(
        rows in proptest::collection::vec(proptest::collection::vec(any_f64(), 0..12), 0..8),
        text in "\\PC{0,200}",
        ids in proptest::collection::vec(0usize..40, 0..8),
    ) {
        use point_process::csep::{CatalogueForecast, GriddedForecast};
        // pycsep's forecast layout: rows of numbers (any count, any value), and arbitrary text
        let dat: String = rows
            .iter()
            .map(|r| r.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join(" ") + "\n")
            .collect();
        for t in [dat.as_str(), text.as_str()] {
            if let Ok(f) = GriddedForecast::from_dat_str(t, "f.dat", 0.0, 1.0) {
                prop_assert_eq!(f.rates().len(), f.grid().n_bins());
                prop_assert!(f.rates().iter().all(|r| r.is_finite() && *r >= 0.0));
            }
        }
        // the catalogue-forecast layout: ids in any order, placeholder rows, arbitrary text
        let csv: String = ids
            .iter()
            .enumerate()
            .map(|(k, id)| {
                if k % 3 == 2 {
                    format!(",,,,,{id},\n")
                } else {
                    format!("-117.5,35.7,3.1,2019-07-06T0{}:00:00,8.0,{id},{k}\n", k % 10)
                }
            })
            .collect();
        for t in [csv.as_str(), text.as_str()] {
            if let Ok(f) = CatalogueForecast::from_csv_str(t, "c.csv", 18_000.0, 18_100.0) {
                prop_assert!(!f.is_empty());
            }
        }
    }

    #[test]
    fn tpp_json_reader_never_panics(text in prop_oneof![
        "\\PC{0,200}",
        proptest::collection::vec((any_f64(), any_f64(), 0i64..3), 0..6).prop_map(|ev| {
            let items: Vec<String> = ev.iter().map(|(a, b, k)| format!(
                "{{\"time_since_start\": {}, \"time_since_last_event\": {}, \"type_event\": {k}}}",
                serde_json::to_string(a).unwrap(), serde_json::to_string(b).unwrap())).collect();
            format!("[[{}]]", items.join(","))
        }),
    ], dim in 0u64..4) {
        if let Ok(seqs) = sequences_from_tpp_json_str(&text, "p.json", None) {
            for s in seqs {
                prop_assert!(s.times().windows(2).all(|w| w[0] < w[1]));
            }
        }
        // the same sequences as the train split of a dictionary
        let dict = format!("{{\"dim_process\": {dim}, \"train\": {text}}}");
        if let Ok(seqs) = point_process::data::io::sequences_from_tpp_json_split_str(&dict, "d.json", "train", None) {
            for s in seqs {
                prop_assert!(s.marks().iter().all(|&m| (m as u64) < dim));
            }
        }
    }

    #[test]
    fn catalogue_reader_and_builder_never_panic(
        text in csv_text(&["time", "longitude", "latitude", "magnitude", "depth"]),
        window in (any_f64(), any_f64(), any_f64(), any_f64()),
        region in (any_f64(), any_f64(), any_f64(), any_f64()),
    ) {
        let Ok(quakes) = quakes_from_csv_str(&text, "cat.csv") else { return Ok(()) };
        let Ok(region) = Region::new(region.0, region.1, region.2, region.3) else { return Ok(()) };
        if let Ok(cat) = Catalogue::from_raw(quakes, window.0, window.1, window.2, window.3, region) {
            prop_assert!(cat.events().windows(2).all(|w| w[0].time <= w[1].time));
        }
    }

    #[test]
    fn geodesic_destination_is_total(lon in any_f64(), lat in any_f64(), dist in any_f64(), bearing in any_f64()) {
        if let Ok((a, b)) = destination(lon, lat, dist, bearing) {
            prop_assert!(a.is_finite() && b.is_finite());
        }
    }

    #[test]
    fn poisson_windows_are_checked_before_sampling(rate in any_f64(), t0 in any_f64(), t1 in any_f64(), seed in any::<u64>()) {
        // a finite window with a huge rate is refused up front (expected draws capped), not sampled;
        // legal but large draws (10⁶ to 10⁹ events, gigabytes) are left out of the test
        let expected = rate * (t1 - t0);
        prop_assume!(!(expected > 1e6 && expected <= 1e9));
        if let Ok(p) = HomogeneousPoisson::new(rate) {
            if let Ok(s) = p.simulate(t0, t1, &mut core_tensor::seed::rng(seed)) {
                prop_assert!(s.len() as f64 <= 2e6);
            }
        }
    }

    #[test]
    fn hawkes_and_etas_samplers_reject_bad_windows(t0 in any_f64(), t1 in any_f64(), burn in any_f64(), seed in any::<u64>()) {
        let h = Hawkes::univariate_exp(0.5, 0.5, 2.0).unwrap();
        let opts = SimOptions { t_start: t0, t_end: t1, burn_in: burn, max_events: 5_000 };
        let _ = h.simulate_ogata(opts, &mut core_tensor::seed::rng(seed));
        let _ = h.simulate_branching(opts, &mut core_tensor::seed::rng(seed));
        let m = Etas::temporal(presets::benchmark_params(-1.0, 0.0), 3.0, 1.0).unwrap();
        let region = Region::new(-118.0, -116.0, 33.0, 35.0).unwrap();
        let _ = simulate(&m, region, t0.min(t1), t0, t1, &mut core_tensor::seed::rng(seed), 5_000);
    }
}
