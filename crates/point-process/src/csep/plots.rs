//! The usual CSEP figures as report plots: a consistency chart (one row per forecast, its central
//! 95 % range and the observed statistic) and the histogram of a test distribution with the
//! observed value.

use super::result::{TestDistribution, TestResult};
use core_tensor::bench::Plot;

/// One row per `(label, result)`: the central `1 − alpha` range of the comparison distribution as
/// a line, the observed statistic as a marker (rows whose statistic is infinite show no marker).
pub fn consistency_plot(id: &str, title: &str, rows: &[(String, TestResult)], alpha: f64) -> Plot {
    let x_label = rows.first().map_or("statistic".to_string(), |r| format!("{} statistic", r.1.name));
    let mut p = Plot::new(id, title, "forecast", x_label).categories(rows.iter().map(|r| r.0.clone()));
    let mut obs = Vec::new();
    // one line per row under one label: the report draws series sharing a label in one colour
    // with one legend entry
    let range = format!("central {:.0} % of the forecast's distribution", 100.0 * (1.0 - alpha));
    for (i, (_, r)) in rows.iter().enumerate() {
        let (lo, hi) = r.interval(alpha);
        if lo.is_finite() && hi.is_finite() {
            p = p.line(range.clone(), vec![(i as f64, lo), (i as f64, hi)]);
        }
        if r.observed.is_finite() {
            obs.push((i as f64, r.observed));
        }
    }
    p.scatter("observed", obs)
}

/// Histogram of a sampled test distribution (`bins` equal-width bins, as a step line) with the
/// observed statistic as a vertical line; `None` for an analytic distribution or no finite sample.
pub fn distribution_plot(id: &str, title: &str, r: &TestResult, bins: usize) -> Option<Plot> {
    let TestDistribution::Samples(s) = &r.distribution else { return None };
    let v: Vec<f64> = s.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() || bins == 0 {
        return None;
    }
    let mut lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if r.observed.is_finite() {
        lo = lo.min(r.observed);
        hi = hi.max(r.observed);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let w = (hi - lo) / bins as f64;
    let mut h = vec![0usize; bins];
    for x in &v {
        h[(((x - lo) / w) as usize).min(bins - 1)] += 1;
    }
    let mut steps = Vec::with_capacity(2 * bins + 2);
    steps.push((lo, 0.0));
    for (k, c) in h.iter().enumerate() {
        let y = *c as f64 / v.len() as f64;
        steps.push((lo + k as f64 * w, y));
        steps.push((lo + (k + 1) as f64 * w, y));
    }
    steps.push((hi, 0.0));
    let top = h.iter().copied().max().unwrap_or(0) as f64 / v.len() as f64;
    let mut p =
        Plot::new(id, title, format!("{} statistic", r.name), "fraction of simulated or forecast catalogues")
            .line("test distribution", steps);
    if r.observed.is_finite() {
        p = p.line(format!("observed ({:.3})", r.observed), vec![(r.observed, 0.0), (r.observed, top)]);
    }
    Some(p)
}
