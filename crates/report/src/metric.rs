//! One measured number of a task.

use serde::{Deserialize, Serialize};

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better (errors, times, NLL).
    Lower,
    /// Larger is better (accuracies, speed-ups).
    Higher,
}

impl std::fmt::Display for Better {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        })
    }
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
    /// A metric without reference or goal.
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
    /// Whether going from `before` to this value is a change for the worse.
    pub fn is_worse_than(&self, before: f64) -> bool {
        match self.better {
            Better::Lower => self.value > before,
            Better::Higher => self.value < before,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_follow_the_direction() {
        assert_eq!(Metric::new(0.5, "", Better::Lower).with_goal(1.0).goal_met(), Some(true));
        assert_eq!(Metric::new(0.5, "", Better::Higher).with_goal(1.0).goal_met(), Some(false));
        assert_eq!(Metric::new(0.5, "", Better::Higher).goal_met(), None);
        assert!(Metric::new(2.0, "", Better::Lower).is_worse_than(1.0));
        assert!(!Metric::new(2.0, "", Better::Higher).is_worse_than(1.0));
    }
}
