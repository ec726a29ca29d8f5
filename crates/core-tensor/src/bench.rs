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

/// What a task runs: a function of the suite settings.
pub type TaskFn = fn(&SuiteConfig) -> TaskResult;

/// A benchmark experiment: a name, one line saying what is measured against what, and the
/// function that runs it. A crate declares each task as a constant beside its function and lists
/// them once in a [`TaskGroup`], which names the crate:
///
/// ```
/// use core_tensor::bench::{Better, Metric, SuiteConfig, Task, TaskGroup, TaskReport, TaskResult};
///
/// fn square(_cfg: &SuiteConfig) -> TaskResult {
///     let mut r = TaskReport::new();
///     r.metric("value", Metric::new(4.0, "", Better::Lower).with_reference(4.0, "closed form"))?;
///     Ok(r)
/// }
/// /// 2² against its closed form.
/// const SQUARE: Task = Task::new("square", "2² against its closed form", square);
///
/// let group = TaskGroup::new("my-crate").with_all([SQUARE]);
/// assert_eq!(group.get("square").unwrap().description(), "2² against its closed form");
/// ```
#[derive(Clone, Copy)]
pub struct Task {
    name: &'static str,
    description: &'static str,
    run: TaskFn,
    full_only: bool,
}

impl Task {
    /// A task called `name` (unique within its crate, e.g. `"delay_timing"`) that `run` performs.
    pub const fn new(name: &'static str, description: &'static str, run: TaskFn) -> Self {
        Task { name, description, run, full_only: false }
    }
    /// Marks the task as run only in the full profile: experiments that need more than about a
    /// minute to say anything, so that the quick profile stays a short first run.
    pub const fn full_only(mut self) -> Self {
        self.full_only = true;
        self
    }
    /// Task name, unique within its crate.
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// One line saying what is measured against what.
    pub fn description(&self) -> &'static str {
        self.description
    }
    /// Whether the task runs only in the full profile.
    pub fn is_full_only(&self) -> bool {
        self.full_only
    }
    /// Runs the experiment and returns its metrics (`crate`, `task` and the wall time are filled
    /// by [`run_task`]).
    ///
    /// # Errors
    /// Whatever the experiment returns.
    pub fn run(&self, config: &SuiteConfig) -> TaskResult {
        (self.run)(config)
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).field("full_only", &self.full_only).finish()
    }
}

/// A crate's suite tasks, registered under the crate's name.
pub struct TaskGroup {
    crate_name: &'static str,
    tasks: Vec<Task>,
}

impl TaskGroup {
    /// An empty group for `crate_name` (the name reports use, e.g. `"spiking"`).
    pub fn new(crate_name: &'static str) -> Self {
        TaskGroup { crate_name, tasks: Vec::new() }
    }
    /// Adds a task.
    pub fn with(mut self, task: Task) -> Self {
        self.tasks.push(task);
        self
    }
    /// Adds tasks, in order.
    pub fn with_all(mut self, tasks: impl IntoIterator<Item = Task>) -> Self {
        self.tasks.extend(tasks);
        self
    }
    /// The crate name the tasks report under.
    pub fn crate_name(&self) -> &'static str {
        self.crate_name
    }
    /// The tasks, in registration order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter()
    }
    /// The task called `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the known tasks when there is none of that name.
    pub fn get(&self, name: &str) -> Result<&Task> {
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
pub fn run_task(crate_name: &str, task: &Task, config: &SuiteConfig) -> TaskResult {
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

    fn square(_c: &SuiteConfig) -> TaskResult {
        let mut r = TaskReport::new();
        r.metric("value", Metric::new(4.0, "", Better::Lower).with_reference(4.0, "closed form"))?;
        Ok(r)
    }

    #[test]
    fn the_runner_fills_crate_task_and_time() {
        let group =
            TaskGroup::new("core-tensor").with(Task::new("square", "2² against its closed form", square));
        let cfg = SuiteConfig::quick(std::env::temp_dir());
        let r = group.run("square", &cfg).unwrap();
        assert_eq!((r.crate_name.as_str(), r.task.as_str()), ("core-tensor", "square"));
        assert!(r.wall_s >= 0.0);
        let e = group.run("cube", &cfg).unwrap_err().to_string();
        assert!(e.contains("cube") && e.contains("square"), "{e}");
        assert_eq!(SuiteConfig::quick(".").pick(1, 2), 1);
    }
}
