//! SVG rendering of task plots and of the speed-up chart, with plotters.
//!
//! Text is fitted to the canvas: titles and axis labels shrink (down to [`MIN_FONT`]) and are then
//! shortened with `…`; categorical plots put their names on the axis. Widths are estimated at
//! [`CHAR_EM`] of the font size per character, wider than sans-serif's average, since an SVG has
//! no font metrics of its own.

use crate::report::{PeerRun, Plot};
use plotters::prelude::*;
use std::path::Path;

/// Estimated advance of one character, in units of the font size written to the SVG.
pub const CHAR_EM: f64 = 0.55;
/// plotters writes a font of size `s` as `font-size = s / SVG_FONT_SCALE` in the SVG.
const SVG_FONT_SCALE: f64 = 1.24;
/// Smallest (plotters) font size text is shrunk to before it is shortened.
pub const MIN_FONT: u32 = 13;
const WIDTH: u32 = 720;
const HEIGHT: u32 = 480;

/// Estimated width in pixels of `s` drawn with an SVG `font-size` of `px`.
pub fn text_width(s: &str, px: f64) -> f64 {
    CHAR_EM * px * s.chars().count() as f64
}

/// Estimated width in pixels of `s` drawn by plotters at font size `size`.
fn drawn_width(s: &str, size: u32) -> f64 {
    text_width(s, size as f64 / SVG_FONT_SCALE)
}

/// `s` at the largest size ≤ `size` (≥ [`MIN_FONT`]) that fits `max_px`, shortened with `…` when
/// even the smallest size does not fit.
pub fn fit_text(s: &str, size: u32, max_px: f64) -> (String, u32) {
    let mut sz = size;
    while sz > MIN_FONT && drawn_width(s, sz) > max_px {
        sz -= 1;
    }
    if drawn_width(s, sz) <= max_px {
        return (s.to_string(), sz);
    }
    let keep = ((max_px / drawn_width("x", sz)).floor() as usize).saturating_sub(1);
    let mut t: String = s.chars().take(keep).collect();
    t.push('…');
    (t, sz)
}

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
        let (lo, hi) = (lo / 1.5, hi * 1.5);
        // plotters labels a log axis from the first power of ten inside it: make sure there is one
        let decade = 10f64.powf(lo.log10().floor());
        (if decade * 10.0 > hi { decade * 0.999 } else { lo }, hi)
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

pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_series<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    p: &Plot,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    // series that share a label share a colour and one legend entry (e.g. one interval per row)
    let mut labels: Vec<&str> = Vec::new();
    for s in &p.series {
        let first = labels.iter().position(|l| *l == s.label);
        let slot = first.unwrap_or(labels.len());
        if first.is_none() {
            labels.push(&s.label);
        }
        let color = COLORS[slot % COLORS.len()];
        let label =
            if first.is_none() { fit_text(&s.label, 13, 0.45 * WIDTH as f64).0 } else { String::new() };
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| {
                x.is_finite() && y.is_finite() && (!p.log_x || *x > 0.0) && (!p.log_y || *y > 0.0)
            })
            .collect();
        if s.scatter {
            let drawn =
                chart.draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, color.filled())))?;
            if !label.is_empty() {
                drawn.label(label).legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
            }
        } else {
            let drawn = chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?;
            if !label.is_empty() {
                drawn
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// Renders one plot to `path`: a line/scatter chart, or a dot chart with names on the axis when
/// the plot has categories.
pub fn render(p: &Plot, path: &Path) -> DrawResult {
    if !p.categories.is_empty() {
        return render_categorical(p, path);
    }
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
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
    let (title, title_size) = fit_text(&p.title, 20, WIDTH as f64 - 24.0);
    let (x_desc, x_size) = fit_text(&p.x_label, 13, WIDTH as f64 - 100.0);
    let (y_desc, y_size) = fit_text(&p.y_label, 13, HEIGHT as f64 - 100.0);
    let mut b = ChartBuilder::on(&root);
    b.caption(&title, ("sans-serif", title_size)).margin(12).x_label_area_size(40).y_label_area_size(70);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc.as_str())
                .y_desc(y_desc.as_str())
                .axis_desc_style(("sans-serif", x_size.min(y_size)))
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

/// Writes `names[i]` right-aligned just left of the pixel `at(i)` (the axis at row `i`).
fn name_rows(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    names: &[String],
    at: impl Fn(usize) -> (i32, i32),
) -> DrawResult {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let style = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = at(i);
        root.draw(&Text::new(name.clone(), (x - 6, y), style.clone()))?;
    }
    Ok(())
}

/// A categorical plot as a dot chart: one row per name (on the vertical axis), values along the
/// horizontal axis (log when `log_y`). Line series become reference lines across the rows.
fn render_categorical(p: &Plot, path: &Path) -> DrawResult {
    let n = p.categories.len();
    let height = (120 + 34 * n as u32).max(260);
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<String> = p.categories.iter().map(|c| fit_text(c, 13, 220.0).0).collect();
    let name_px = names.iter().map(|c| drawn_width(c, 13)).fold(0.0, f64::max);
    let values = p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1));
    let (v0, v1) = bounds(values, p.log_y);
    if !(v1 - v0).is_finite() {
        return Err(format!("plot `{}`: values span more than the f64 range", p.id).into());
    }
    let (title, title_size) = fit_text(&p.title, 20, WIDTH as f64 - 24.0);
    let (x_desc, x_size) = fit_text(&p.y_label, 13, WIDTH as f64 - name_px - 60.0);
    let mut b = ChartBuilder::on(&root);
    b.caption(&title, ("sans-serif", title_size))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size((name_px + 16.0) as u32);
    let rows = -0.5..(n as f64 - 0.5);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_label_formatter(&|_| String::new())
                .x_desc(x_desc.as_str())
                .axis_desc_style(("sans-serif", x_size))
                .x_label_formatter(&|v| tick(*v))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let flipped = Plot {
                series: p
                    .series
                    .iter()
                    .map(|s| crate::report::Series {
                        label: s.label.clone(),
                        points: s.points.iter().map(|&(i, v)| (v, i)).collect(),
                        scatter: s.scatter,
                    })
                    .collect(),
                log_x: p.log_y,
                log_y: false,
                ..p.clone()
            };
            draw_series(&mut chart, &flipped)?;
            name_rows(&root, &names, |i| chart.backend_coord(&(v0, i as f64)))?;
        }};
    }
    if p.log_y {
        body!(b.build_cartesian_2d((v0..v1).log_scale(), rows)?);
    } else {
        body!(b.build_cartesian_2d(v0..v1, rows)?);
    }
    root.present()?;
    Ok(())
}

/// Horizontal bars of the measured ratio (peer median / sciml-rs median, log scale, 1× marked),
/// one row per peer workload named on the axis with the peer's version; rows without a ratio
/// measured in this run are left out.
pub fn render_speedups(peers: &[PeerRun], path: &Path) -> DrawResult {
    let rows: Vec<(String, f64)> = peers
        .iter()
        .filter_map(|p| Some((format!("{} · {} {}", p.id, p.peer, p.version), p.ratio()?)))
        .collect();
    let n = rows.len().max(1);
    let width = 960u32;
    let names: Vec<String> = rows.iter().map(|r| fit_text(&r.0, 13, 460.0).0).collect();
    let name_px = names.iter().map(|c| drawn_width(c, 13)).fold(0.0, f64::max);
    let root = SVGBackend::new(path, (width, 110 + 34 * n as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = bounds(rows.iter().map(|r| r.1).chain([1.0]), true);
    let hi = hi * 2.0; // room for the value printed after each bar
    let title = "Measured in this run: peer median / sciml-rs median (> 1: sciml-rs faster)";
    let (title, title_size) = fit_text(title, 18, width as f64 - 24.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(&title, ("sans-serif", title_size))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size((name_px + 16.0) as u32)
        .build_cartesian_2d((lo..hi).log_scale(), -0.5..(n as f64 - 0.5))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_label_formatter(&|_| String::new())
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| tick(*v))
        .x_desc("ratio (×, log scale)")
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
        let color = if *v >= 1.0 { COLORS[2] } else { COLORS[3] };
        let (a, b) = if *v >= 1.0 { (1.0, *v) } else { (*v, 1.0) };
        Rectangle::new([(a, i as f64 - 0.32), (b, i as f64 + 0.32)], color.filled())
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
        Text::new(format!("{v:.2}×"), (v.max(1.0) * 1.04, i as f64 + 0.15), ("sans-serif", 13).into_font())
    }))?;
    chart.draw_series(LineSeries::new(vec![(1.0, -0.5), (1.0, n as f64 - 0.5)], BLACK.stroke_width(1)))?;
    name_rows(&root, &names, |i| chart.backend_coord(&(lo, i as f64)))?;
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
            categories: vec![],
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

#[cfg(test)]
mod text_tests {
    use super::*;
    use crate::report::{Plot, Series};

    /// `(attributes, content)` of every `<text>` element of an SVG.
    fn texts(svg: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find("<text") {
            rest = &rest[i + 5..];
            let Some(gt) = rest.find('>') else { break };
            let attrs = rest[..gt].to_string();
            let Some(end) = rest.find("</text>") else { break };
            let content = rest[gt + 1..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&apos;", "'");
            out.push((attrs, content.trim().to_string()));
            rest = &rest[end..];
        }
        out
    }

    fn attr(attrs: &str, name: &str) -> Option<String> {
        let key = format!("{name}=\"");
        let i = attrs.find(&key)? + key.len();
        let j = attrs[i..].find('"')?;
        Some(attrs[i..i + j].to_string())
    }

    /// Asserts that every text of the SVG at `path` lies inside its canvas (estimated extents).
    fn assert_text_fits(path: &Path) {
        let svg = std::fs::read_to_string(path).unwrap();
        let w: f64 = attr(&svg, "width").unwrap().parse().unwrap();
        let h: f64 = attr(&svg, "height").unwrap().parse().unwrap();
        let all = texts(&svg);
        assert!(!all.is_empty(), "{} has no text", path.display());
        for (a, content) in all {
            let size: f64 = attr(&a, "font-size").and_then(|v| v.parse().ok()).unwrap_or(12.0);
            let x: f64 = attr(&a, "x").unwrap().parse().unwrap();
            let y: f64 = attr(&a, "y").unwrap().parse().unwrap();
            let len = text_width(&content, size);
            let rotated = attr(&a, "transform").is_some_and(|t| t.contains("rotate"));
            let (pos, span) = if rotated { (y, h) } else { (x, w) };
            let (lo, hi) = match attr(&a, "text-anchor").as_deref() {
                Some("middle") => (pos - len / 2.0, pos + len / 2.0),
                Some("end") => (pos - len, pos),
                _ => (pos, pos + len),
            };
            assert!(
                lo >= -0.5 && hi <= span + 0.5,
                "`{content}` spans {lo:.0}..{hi:.0} outside 0..{span} in {}",
                path.display()
            );
        }
    }

    #[test]
    fn fitted_text_shrinks_then_shortens() {
        assert_eq!(fit_text("short", 20, 500.0), ("short".to_string(), 20));
        let long = "x".repeat(60);
        let (t, sz) = fit_text(&long, 20, 400.0);
        assert!(sz < 20 && t == long && drawn_width(&t, sz) <= 400.0);
        let (t, sz) = fit_text(&"y".repeat(300), 20, 400.0);
        assert_eq!(sz, MIN_FONT);
        assert!(t.ends_with('…') && drawn_width(&t, sz) <= 400.0);
    }

    #[test]
    fn every_title_and_label_fits_its_canvas() {
        let dir = std::env::temp_dir().join("xtask-text-fit");
        std::fs::create_dir_all(&dir).unwrap();
        let long = "Test negative log-likelihood gap to the true multivariate Hawkes model for every neural temporal point process";
        let line = Plot {
            id: "a".into(),
            title: long.into(),
            x_label:
                "epoch of training over the whole data set, with the learning rate halved every twenty epochs"
                    .into(),
            y_label: "validation negative log-likelihood per event (nats)".into(),
            log_x: false,
            log_y: true,
            series: vec![
                Series {
                    label: long.into(),
                    points: vec![(1.0, 0.5), (2.0, 0.25), (3.0, 0.2)],
                    scatter: false,
                },
                Series { label: "b".into(), points: vec![(1.0, 0.4), (3.0, 0.3)], scatter: true },
            ],
            categories: vec![],
        };
        let p1 = dir.join("line.svg");
        render(&line, &p1).unwrap();
        assert_text_fits(&p1);
        let cat = Plot {
            categories: vec![
                "rmtpp".into(),
                "intensity_free".into(),
                "a model with an extremely long descriptive name that would never fit on the axis".into(),
            ],
            series: vec![
                Series {
                    label: "gap".into(),
                    points: vec![(0.0, 0.1), (1.0, 0.02), (2.0, 0.3)],
                    scatter: true,
                },
                Series { label: "goal".into(), points: vec![(0.0, 0.05), (2.0, 0.05)], scatter: false },
            ],
            ..line.clone()
        };
        let p2 = dir.join("cat.svg");
        render(&cat, &p2).unwrap();
        assert_text_fits(&p2);
        let names: Vec<String> =
            texts(&std::fs::read_to_string(&p2).unwrap()).into_iter().map(|t| t.1).collect();
        assert!(
            names.iter().any(|t| t == "intensity_free") && names.iter().any(|t| t == "rmtpp"),
            "{names:?}"
        );
        let peers: Vec<PeerRun> = [(30.0, 10.0), (1.0, 4.0), (9.0, 9.5)]
            .iter()
            .enumerate()
            .map(|(i, &(p, o))| PeerRun {
                id: format!("neural_ode/a_rather_long_workload_identifier_{i}"),
                peer: "torchdiffeq".into(),
                version: "0.2.5".into(),
                peer_median_ns: Some(p * 1e6),
                ours_median_ns: Some(o * 1e6),
                measured: true,
                ..Default::default()
            })
            .collect();
        let p3 = dir.join("speedups.svg");
        render_speedups(&peers, &p3).unwrap();
        assert_text_fits(&p3);
        let labels: Vec<String> =
            texts(&std::fs::read_to_string(&p3).unwrap()).into_iter().map(|t| t.1).collect();
        assert!(labels.iter().any(|t| t.contains("torchdiffeq 0.2.5")), "{labels:?}");
        assert!(labels.iter().any(|t| t == "3.00×") && labels.iter().any(|t| t == "0.25×"), "{labels:?}");
        if std::env::var_os("XTASK_KEEP_SVG").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
