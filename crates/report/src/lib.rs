//! The report contract of sciml-rs, shared by the task suites (which write it) and the
//! `xtask` report (which reads it), with no libtorch dependency.
//!
//! - [`metric`]: [`Metric`] (value, unit, direction, reference, goal) and [`Better`];
//! - [`plot`]: [`Plot`] and [`Series`], rendered to SVG by `cargo xtask bench`;
//! - [`task`]: [`TaskReport`], what one suite task returns;
//! - [`suite`]: [`Profile`], [`SuiteOutput`] and [`FailedTask`], what the `suite` binary writes;
//! - [`report`]: [`Report`], the schema of `report.json` (suite, criterion medians, peers, machine);
//! - [`fs`]: crash-safe writes (unique temporary sibling, fsync, rename, directory fsync).
//!
//! ```
//! use sciml_report::{Better, Metric, Plot, TaskReport};
//!
//! let mut r = TaskReport::new();
//! r.metric("test_rmse", Metric::new(0.004, "", Better::Lower).with_goal(0.01))?;
//! r.plot(Plot::new("fit", "Fit", "x", "y").line("model", vec![(0.0, 0.0), (1.0, 0.9)]));
//! assert_eq!(r.headline_metric().unwrap().1.goal_met(), Some(true));
//! # Ok::<(), sciml_report::ReportError>(())
//! ```

pub mod fs;
pub mod metric;
pub mod plot;
pub mod report;
pub mod suite;
pub mod task;

pub use metric::{Better, Metric};
pub use plot::{Plot, Series};
pub use report::{CriterionResult, Machine, PeerRun, Report};
pub use suite::{FailedTask, Profile, SuiteOutput};
pub use task::TaskReport;

/// Errors of building a report.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReportError {
    /// A metric value was NaN or infinite (a broken experiment must not report it).
    #[error("metric `{name}` = {value}: must be finite")]
    NonFiniteMetric {
        /// Metric name.
        name: String,
        /// The offending value.
        value: f64,
    },
    /// An unknown profile name.
    #[error("profile `{0}`: expected quick or full")]
    UnknownProfile(String),
}
