//! What the `suite` binary writes: every task's report of one run.

use crate::{ReportError, TaskReport};
use serde::{Deserialize, Serialize};

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

impl Profile {
    /// `"quick"` or `"full"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Full => "full",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s {
            "quick" => Ok(Profile::Quick),
            "full" => Ok(Profile::Full),
            _ => Err(ReportError::UnknownProfile(s.to_string())),
        }
    }
}

/// A task that returned an error (or panicked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedTask {
    /// Crate the task belongs to.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// Task name.
    pub task: String,
    /// The error message.
    pub error: String,
}

/// The output of one `suite` run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuiteOutput {
    /// Profile the tasks ran with.
    pub profile: Profile,
    /// libtorch intra-op threads.
    pub threads: i64,
    /// Reports of the tasks that finished.
    pub tasks: Vec<TaskReport>,
    /// Tasks that failed.
    #[serde(default)]
    pub failed: Vec<FailedTask>,
    /// Tasks left out of this profile (`crate/task`).
    #[serde(default)]
    pub full_only: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_print() {
        assert_eq!("full".parse::<Profile>().unwrap(), Profile::Full);
        assert_eq!(Profile::Quick.to_string(), "quick");
        let e = "medium".parse::<Profile>().unwrap_err();
        assert!(e.to_string().contains("medium"));
    }
}
