//! The benchmark-suite contract: every domain crate exposes its experiments as [`Task`]s whose
//! [`TaskReport`]s the `suite` binary collects into `report.json`.
//!
//! Schema of one task in `report.json`:
//! `{ "crate", "task", "metrics": { NAME: { "value", "unit", "better", "reference"?, "source"? } },
//! "plots": [...], "notes": [...], "wall_s" }`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better (errors, times, NLL).
    Lower,
    /// Larger is better (accuracies, speed-ups).
    Higher,
}

/// One measured number with its unit and, when available, a reference value to compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The measured value.
    pub value: f64,
    /// Unit (`"ms"`, `"nats/event"`, `"%"`, `""` for ratios).
    pub unit: String,
    /// Direction of improvement.
    pub better: Better,
    /// A reference value (closed form, baseline or published number).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<f64>,
    /// Where the reference comes from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    /// A threshold the task aims for: met when `value <= goal` (lower is better) or
    /// `value >= goal` (higher is better). The report's summary lists it as met or not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub goal: Option<f64>,
}

impl Metric {
    /// A metric without reference.
    pub fn new(value: f64, unit: impl Into<String>, better: Better) -> Self {
        Metric { value, unit: unit.into(), better, reference: None, source: None, goal: None }
    }
    /// Sets the goal threshold (see [`Metric::goal`]).
    pub fn with_goal(mut self, goal: f64) -> Self {
        self.goal = Some(goal);
        self
    }
    /// Whether the goal is met; `None` without a goal.
    pub fn goal_met(&self) -> Option<bool> {
        self.goal.map(|g| match self.better {
            Better::Lower => self.value <= g,
            Better::Higher => self.value >= g,
        })
    }
    /// Adds a reference value and its source.
    pub fn with_reference(mut self, reference: f64, source: impl Into<String>) -> Self {
        self.reference = Some(reference);
        self.source = Some(source.into());
        self
    }
}

/// One line of a plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
    /// Draw markers instead of a line.
    #[serde(default)]
    pub scatter: bool,
}

/// A plot rendered to SVG by `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plot {
    /// File stem of the SVG (letters, digits, `-`, `_`).
    pub id: String,
    /// Title.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    #[serde(default)]
    pub log_x: bool,
    /// Logarithmic y axis.
    #[serde(default)]
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// Names of a categorical x axis: when not empty, x values are indices into this list and
    /// the plot is drawn as a labelled dot chart (one row per name) instead of numbered points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

impl Plot {
    /// An empty plot.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Plot {
            id: id.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            series: Vec::new(),
            categories: Vec::new(),
        }
    }
    /// Makes the x axis categorical: point `x = i` belongs to `names[i]`.
    pub fn categories<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.categories = names.into_iter().map(Into::into).collect();
        self
    }
    /// Uses log axes.
    pub fn log(mut self, log_x: bool, log_y: bool) -> Self {
        self.log_x = log_x;
        self.log_y = log_y;
        self
    }
    /// Adds a line.
    pub fn line(mut self, label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { label: label.into(), points, scatter: false });
        self
    }
    /// Adds a scatter series.
    pub fn scatter(mut self, label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { label: label.into(), points, scatter: true });
        self
    }
}

/// The result of one suite task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Crate the task belongs to.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// Task name (unique within the crate).
    pub task: String,
    /// Named metrics, sorted by name.
    pub metrics: BTreeMap<String, Metric>,
    /// Plots to render.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plots: Vec<Plot>,
    /// Free-form remarks (set-up, caveats).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The metric that sums the task up in the terminal summary (default: the first metric
    /// with a goal, else the first with a reference, else the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

impl TaskReport {
    /// An empty report.
    pub fn new(crate_name: impl Into<String>, task: impl Into<String>) -> Self {
        TaskReport {
            crate_name: crate_name.into(),
            task: task.into(),
            metrics: BTreeMap::new(),
            plots: Vec::new(),
            notes: Vec::new(),
            headline: None,
            wall_s: 0.0,
        }
    }
    /// Names the headline metric (see [`TaskReport::headline`]).
    pub fn headline(&mut self, name: impl Into<String>) -> &mut Self {
        self.headline = Some(name.into());
        self
    }
    /// Adds a metric; non-finite values are rejected so a broken experiment cannot report NaN.
    pub fn metric(&mut self, name: impl Into<String>, m: Metric) -> Result<&mut Self> {
        let name = name.into();
        if !m.value.is_finite() {
            return Err(Error::invalid(format!("metric `{name}`"), m.value, "must be finite"));
        }
        self.metrics.insert(name, m);
        Ok(self)
    }
    /// Adds a plot.
    pub fn plot(&mut self, p: Plot) -> &mut Self {
        self.plots.push(p);
        self
    }
    /// Adds a note.
    pub fn note(&mut self, s: impl Into<String>) -> &mut Self {
        self.notes.push(s.into());
        self
    }
}

/// Size of the suite run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Minutes on 2 cores: small data, few epochs.
    #[default]
    Quick,
    /// Paper-scale runs (hours).
    Full,
}

impl std::str::FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "quick" => Ok(Profile::Quick),
            "full" => Ok(Profile::Full),
            _ => Err(Error::invalid("profile", s, "expected quick or full")),
        }
    }
}

/// Settings shared by every task of a suite run.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// Quick or full.
    pub profile: Profile,
    /// Base seed.
    pub seed: u64,
    /// Device for tensor work.
    pub device: tch::Device,
    /// Directory for task artefacts (caches, checkpoints).
    pub work_dir: PathBuf,
    /// Show progress bars.
    pub progress: bool,
}

impl SuiteConfig {
    /// Quick profile on the default device, seed 0, artefacts under `work_dir`.
    pub fn quick(work_dir: impl Into<PathBuf>) -> Self {
        SuiteConfig {
            profile: Profile::Quick,
            seed: 0,
            device: crate::device::device(),
            work_dir: work_dir.into(),
            progress: false,
        }
    }
    /// Picks the quick or the full value.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        match self.profile {
            Profile::Quick => quick,
            Profile::Full => full,
        }
    }
}

/// A benchmark experiment.
pub trait Task: Send + Sync {
    /// Crate name (`"spiking"`).
    fn crate_name(&self) -> &'static str;
    /// Task name, unique within its crate (`"delay_task"`).
    fn name(&self) -> &'static str;
    /// One line saying what is measured against what.
    fn description(&self) -> &'static str;
    /// Runs the experiment and returns its metrics (wall time is filled by [`run_task`]).
    fn run(&self, config: &SuiteConfig) -> Result<TaskReport>;
    /// Whether the task runs only in the full profile: experiments that need more than about a
    /// minute to say anything, so that the quick profile stays a short first run.
    fn full_only(&self) -> bool {
        false
    }
}

/// Runs a task, timing it and filling `crate`, `task` and `wall_s`.
pub fn run_task(task: &dyn Task, config: &SuiteConfig) -> Result<TaskReport> {
    let start = Instant::now();
    let mut r = task.run(config)?;
    r.crate_name = task.crate_name().to_string();
    r.task = task.name().to_string();
    r.wall_s = start.elapsed().as_secs_f64();
    Ok(r)
}

/// A progress bar for long work: hidden when `show` is false or stderr is not a terminal.
pub fn progress_bar(len: u64, message: impl Into<String>, show: bool) -> indicatif::ProgressBar {
    let pb = if show { indicatif::ProgressBar::new(len) } else { indicatif::ProgressBar::hidden() };
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>24} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    pb.set_message(message.into());
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Square;
    impl Task for Square {
        fn crate_name(&self) -> &'static str {
            "core-tensor"
        }
        fn name(&self) -> &'static str {
            "square"
        }
        fn description(&self) -> &'static str {
            "2² against its closed form"
        }
        fn run(&self, _c: &SuiteConfig) -> Result<TaskReport> {
            let mut r = TaskReport::new("", "");
            r.metric("value", Metric::new(4.0, "", Better::Lower).with_reference(4.0, "closed form"))?;
            r.plot(Plot::new("sq", "x²", "x", "y").line("x²", vec![(0.0, 0.0), (2.0, 4.0)]));
            Ok(r)
        }
    }

    #[test]
    fn report_schema() {
        let r = run_task(&Square, &SuiteConfig::quick(std::env::temp_dir())).unwrap();
        let mut v = serde_json::to_value(&r).unwrap();
        v["wall_s"] = serde_json::json!(0.0);
        let expected = serde_json::json!({
            "crate": "core-tensor", "task": "square",
            "metrics": {"value": {"value": 4.0, "unit": "", "better": "lower", "reference": 4.0, "source": "closed form"}},
            "plots": [{"id": "sq", "title": "x²", "x_label": "x", "y_label": "y", "log_x": false, "log_y": false,
                       "series": [{"label": "x²", "points": [[0.0, 0.0], [2.0, 4.0]], "scatter": false}]}],
            "wall_s": 0.0
        });
        assert_eq!(v, expected);
        let back: TaskReport = serde_json::from_value(v).unwrap();
        assert_eq!(back.metrics["value"].reference, Some(4.0));
    }

    #[test]
    fn nan_metrics_are_rejected() {
        let mut r = TaskReport::new("c", "t");
        assert!(r.metric("x", Metric::new(f64::NAN, "", Better::Lower)).is_err());
        assert!("medium".parse::<Profile>().is_err());
        assert_eq!(SuiteConfig::quick(".").pick(1, 2), 1);
    }
}
