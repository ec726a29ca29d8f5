//! `report.json`: the suite's task reports, criterion medians and live peer measurements of one
//! `cargo xtask bench` run, with the machine they ran on.

use crate::{FailedTask, Profile, TaskReport};
use serde::{Deserialize, Serialize};

/// One peer workload, measured in this run right after our criterion bench of the same id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerRun {
    /// Criterion id of the workload (`neural_ode/dopri5_forward`).
    pub id: String,
    /// Peer package (`torchdiffeq`).
    pub peer: String,
    /// Installed version of the peer, read from its metadata.
    #[serde(default)]
    pub version: String,
    /// What was timed, in the peer script's words.
    #[serde(default)]
    pub workload: String,
    /// Peer median per call (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_median_ns: Option<f64>,
    /// Samples behind the peer median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_samples: Option<u64>,
    /// Our criterion median (ns), measured just before the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ours_median_ns: Option<f64>,
    /// Intra-op threads on both sides.
    #[serde(default)]
    pub threads: i64,
    /// True when both sides ran in this run (the only rows with a ratio).
    #[serde(default)]
    pub measured: bool,
    /// UTC time of the peer measurement.
    #[serde(default)]
    pub timestamp: String,
    /// What differs between the two sides, in the peer script's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why the peer (or our bench) could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PeerRun {
    /// Peer median / ours (above 1: sciml-rs is faster), only for rows measured in this run.
    pub fn ratio(&self) -> Option<f64> {
        match (self.measured, self.peer_median_ns, self.ours_median_ns) {
            (true, Some(p), Some(o)) if o > 0.0 => Some(p / o),
            _ => None,
        }
    }
}

/// The machine and date of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical cores.
    pub cores: i64,
    /// UTC date and time of the run (RFC 3339).
    pub date: String,
    /// Python version of the peer environment, when peers ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
}

/// One criterion benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    /// Benchmark id (`group/name`).
    pub id: String,
    /// Median time per iteration (ns).
    pub median_ns: f64,
    /// Lower end of criterion's confidence interval of the median (ns).
    pub lower_ns: f64,
    /// Upper end of that interval (ns).
    pub upper_ns: f64,
    /// Criterion's throughput setting, as it wrote it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throughput: Option<serde_json::Value>,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Suite profile.
    pub profile: Profile,
    /// Short git revision of the measured tree.
    pub git_rev: String,
    /// libtorch intra-op threads.
    pub threads: i64,
    /// Where and when it ran.
    #[serde(default)]
    pub machine: Machine,
    /// Suite task reports.
    pub tasks: Vec<TaskReport>,
    /// Criterion medians.
    pub criterion: Vec<CriterionResult>,
    /// Suite tasks that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedTask>,
    /// Tasks the quick profile leaves to `--full`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub full_only: Vec<String>,
    /// Whether `--peers` ran; without it `peers` is empty and the report says so.
    #[serde(default)]
    pub peers_run: bool,
    /// Live peer measurements.
    #[serde(default)]
    pub peers: Vec<PeerRun>,
}
