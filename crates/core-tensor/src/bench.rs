//! The benchmark-suite contract: every domain crate registers its experiments as [`Task`]s in a
//! [`TaskGroup`]; the `suite` binary runs them and collects their [`TaskReport`]s, whose schema
//! lives in the libtorch-free `sciml-report` crate (re-exported here).

use crate::error::{Error, Result};
pub use sciml_report::{Better, FailedTask, Metric, Plot, Profile, Series, SuiteOutput, TaskReport};
use std::path::PathBuf;
use std::time::Instant;

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

/// What a task's `run` returns on failure: any error, so that a task uses `?` on its own crate's
/// results without converting them.
pub type TaskError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of [`Task::run`].
pub type TaskResult = std::result::Result<TaskReport, TaskError>;

/// A benchmark experiment. Its crate is named once, where the crate registers its tasks
/// ([`TaskGroup`]).
pub trait Task: Send + Sync {
    /// Task name, unique within its crate (`"delay_timing"`).
    fn name(&self) -> &'static str;
    /// One line saying what is measured against what.
    fn description(&self) -> &'static str;
    /// Runs the experiment and returns its metrics (`crate`, `task` and the wall time are filled
    /// by [`run_task`]).
    fn run(&self, config: &SuiteConfig) -> TaskResult;
    /// Whether the task runs only in the full profile: experiments that need more than about a
    /// minute to say anything, so that the quick profile stays a short first run.
    fn full_only(&self) -> bool {
        false
    }
}

/// A crate's suite tasks, registered under the crate's name.
pub struct TaskGroup {
    crate_name: &'static str,
    tasks: Vec<Box<dyn Task>>,
}

impl TaskGroup {
    /// An empty group for `crate_name` (the name reports use, e.g. `"spiking"`).
    pub fn new(crate_name: &'static str) -> Self {
        TaskGroup { crate_name, tasks: Vec::new() }
    }
    /// Adds a task.
    pub fn with(mut self, task: impl Task + 'static) -> Self {
        self.tasks.push(Box::new(task));
        self
    }
    /// The crate name the tasks report under.
    pub fn crate_name(&self) -> &'static str {
        self.crate_name
    }
    /// The tasks, in registration order.
    pub fn tasks(&self) -> impl Iterator<Item = &dyn Task> {
        self.tasks.iter().map(|t| t.as_ref())
    }
    /// The task called `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the known tasks when there is none of that name.
    pub fn get(&self, name: &str) -> Result<&dyn Task> {
        self.tasks().find(|t| t.name() == name).ok_or_else(|| {
            let known: Vec<&str> = self.tasks().map(|t| t.name()).collect();
            Error::invalid(
                "task",
                name,
                format!("not a {} task (known: {})", self.crate_name, known.join(", ")),
            )
        })
    }
    /// Runs the task called `name` (see [`run_task`]).
    ///
    /// # Errors
    /// An unknown name, or the task's own error.
    pub fn run(&self, name: &str, config: &SuiteConfig) -> TaskResult {
        run_task(self.crate_name, self.get(name)?, config)
    }
}

/// Runs a task of crate `crate_name`, timing it and filling `crate`, `task` and `wall_s`.
///
/// # Errors
/// The task's own error.
pub fn run_task(crate_name: &str, task: &dyn Task, config: &SuiteConfig) -> TaskResult {
    let start = Instant::now();
    let mut r = task.run(config)?;
    r.crate_name = crate_name.to_string();
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
        fn name(&self) -> &'static str {
            "square"
        }
        fn description(&self) -> &'static str {
            "2² against its closed form"
        }
        fn run(&self, _c: &SuiteConfig) -> TaskResult {
            let mut r = TaskReport::new();
            r.metric("value", Metric::new(4.0, "", Better::Lower).with_reference(4.0, "closed form"))?;
            Ok(r)
        }
    }

    #[test]
    fn the_runner_fills_crate_task_and_time() {
        let group = TaskGroup::new("core-tensor").with(Square);
        let cfg = SuiteConfig::quick(std::env::temp_dir());
        let r = group.run("square", &cfg).unwrap();
        assert_eq!((r.crate_name.as_str(), r.task.as_str()), ("core-tensor", "square"));
        assert!(r.wall_s >= 0.0);
        let e = group.run("cube", &cfg).unwrap_err().to_string();
        assert!(e.contains("cube") && e.contains("square"), "{e}");
        assert_eq!(SuiteConfig::quick(".").pick(1, 2), 1);
    }
}
