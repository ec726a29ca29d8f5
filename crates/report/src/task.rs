//! What one suite task returns.

use crate::{Metric, Plot, ReportError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The result of one suite task. `crate`, `task` and `wall_s` are filled by the runner that
/// registered the task (core-tensor's `run_task`), so a task only adds what it measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    pub fn new() -> Self {
        Self::default()
    }
    /// Names the headline metric (see [`TaskReport::headline`]).
    pub fn headline(&mut self, name: impl Into<String>) -> &mut Self {
        self.headline = Some(name.into());
        self
    }
    /// Adds a metric; non-finite values are rejected so a broken experiment cannot report NaN.
    ///
    /// # Errors
    /// [`ReportError::NonFiniteMetric`] for a NaN or infinite value.
    pub fn metric(&mut self, name: impl Into<String>, m: Metric) -> Result<&mut Self, ReportError> {
        let name = name.into();
        if !m.value.is_finite() {
            return Err(ReportError::NonFiniteMetric { name, value: m.value });
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
    /// The headline metric: the named one, else the first with a goal, else the first with a
    /// reference, else the first.
    pub fn headline_metric(&self) -> Option<(&String, &Metric)> {
        if let Some(h) = &self.headline {
            if let Some(kv) = self.metrics.get_key_value(h) {
                return Some(kv);
            }
        }
        self.metrics
            .iter()
            .find(|(_, m)| m.goal.is_some())
            .or_else(|| self.metrics.iter().find(|(_, m)| m.reference.is_some()))
            .or_else(|| self.metrics.iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Better;

    #[test]
    fn schema_round_trips() {
        let mut r = TaskReport::new();
        r.crate_name = "core-tensor".into();
        r.task = "square".into();
        r.metric("value", Metric::new(4.0, "", Better::Lower).with_reference(4.0, "closed form")).unwrap();
        r.plot(Plot::new("sq", "x²", "x", "y").line("x²", vec![(0.0, 0.0), (2.0, 4.0)]));
        let v = serde_json::to_value(&r).unwrap();
        let expected = serde_json::json!({
            "crate": "core-tensor", "task": "square",
            "metrics": {"value": {"value": 4.0, "unit": "", "better": "lower", "reference": 4.0, "source": "closed form"}},
            "plots": [{"id": "sq", "title": "x²", "x_label": "x", "y_label": "y", "log_x": false, "log_y": false,
                       "series": [{"label": "x²", "points": [[0.0, 0.0], [2.0, 4.0]], "scatter": false}]}],
            "wall_s": 0.0
        });
        assert_eq!(v, expected);
        let back: TaskReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn non_finite_metrics_are_rejected_and_headline_falls_back() {
        let mut r = TaskReport::new();
        let e = r.metric("x", Metric::new(f64::NAN, "", Better::Lower)).unwrap_err();
        assert!(e.to_string().contains("metric `x`"), "{e}");
        r.metric("a", Metric::new(1.0, "", Better::Lower)).unwrap();
        r.metric("b", Metric::new(1.0, "", Better::Lower).with_reference(1.0, "closed form")).unwrap();
        assert_eq!(r.headline_metric().unwrap().0, "b");
        r.metric("c", Metric::new(1.0, "", Better::Lower).with_goal(2.0)).unwrap();
        assert_eq!(r.headline_metric().unwrap().0, "c");
        r.headline("a");
        assert_eq!(r.headline_metric().unwrap().0, "a");
    }
}
