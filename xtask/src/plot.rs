//! SVG rendering of task plots and of the speed-up chart, with plotters.

use crate::report::{Peer, Plot, Report};
use plotters::prelude::*;
use std::path::Path;

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn bounds(v: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.filter(|x| x.is_finite() && (!log || *x > 0.0)) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else if hi == lo {
        (lo - 1.0, hi + 1.0)
    } else {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

/// A short tick label: plain for moderate values, scientific otherwise, no trailing zeros.
fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_series<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    p: &Plot,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in p.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| {
                x.is_finite() && y.is_finite() && (!p.log_x || *x > 0.0) && (!p.log_y || *y > 0.0)
            })
            .collect();
        if s.scatter {
            chart
                .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, color.filled())))?
                .label(s.label.clone())
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
        } else {
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// Renders one plot to `path`.
pub fn render(p: &Plot, path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let xs = p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0));
    let ys = p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1));
    let (x0, x1) = bounds(xs, p.log_x);
    let (y0, y1) = bounds(ys, p.log_y);
    // A span beyond the f64 range (e.g. a sentinel like f64::MIN among ordinary values) has no
    // drawable axis; refuse it instead of letting the tick search run away.
    if !((x1 - x0).is_finite() && (y1 - y0).is_finite()) {
        return Err(format!("plot `{}`: values span more than the f64 range", p.id).into());
    }
    let mut b = ChartBuilder::on(&root);
    b.caption(&p.title, ("sans-serif", 20)).margin(12).x_label_area_size(40).y_label_area_size(70);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(p.x_label.as_str())
                .y_desc(p.y_label.as_str())
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            draw_series(&mut chart, p)?;
        }};
    }
    match (p.log_x, p.log_y) {
        (false, false) => body!(b.build_cartesian_2d(x0..x1, y0..y1)?),
        (true, false) => body!(b.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?),
        (false, true) => body!(b.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?),
        (true, true) => body!(b.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?),
    }
    root.present()?;
    Ok(())
}

/// Horizontal bars of speed-up against each peer (log scale, 1× marked), each labelled at its end.
pub fn render_speedups(r: &Report, peers: &[Peer], path: &Path) -> DrawResult {
    let rows: Vec<(String, f64)> = peers
        .iter()
        .filter_map(|p| {
            let c = r.criterion.iter().find(|c| c.id == p.id)?;
            Some((format!("{} vs {}", p.id, p.peer), p.median_ms * 1e6 / c.median_ns))
        })
        .collect();
    let n = rows.len().max(1);
    let root = SVGBackend::new(path, (900, 100 + 44 * n as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = bounds(rows.iter().map(|r| r.1).chain([1.0]), true);
    // room on the right for the labels
    let hi = hi * 60.0;
    let mut chart = ChartBuilder::on(&root)
        .caption("Speed-up against peers (peer median / sciml-rs median)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| tick(*v))
        .x_desc("speed-up (×, log scale)")
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
        let color = if *v >= 1.0 { COLORS[2] } else { COLORS[3] };
        Rectangle::new([(lo, i as f64 + 0.2), (*v, i as f64 + 0.8)], color.filled())
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (label, v))| {
        Text::new(format!("{v:.1}×  {label}"), (v * 1.08, i as f64 + 0.62), ("sans-serif", 13).into_font())
    }))?;
    chart.draw_series(LineSeries::new(vec![(1.0, 0.0), (1.0, n as f64)], BLACK.stroke_width(1)))?;
    root.present()?;
    Ok(())
}
#[cfg(test)]
mod tests {
    #[test]
    fn overflowing_ranges_are_errors_not_hangs() {
        let p = crate::report::Plot {
            id: "x".into(),
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: false,
            log_y: false,
            series: vec![crate::report::Series {
                label: "s".into(),
                points: vec![(f64::MIN, 0.0), (1.0, 1.0)],
                scatter: true,
            }],
        };
        let dir = std::env::temp_dir().join("xtask-plot-test.svg");
        assert!(super::render(&p, &dir).is_err());
    }

    use super::tick;

    #[test]
    fn tick_labels() {
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(3e-5), "3e-5");
        assert_eq!(tick(0.30000000000000004), "0.3");
    }
}
