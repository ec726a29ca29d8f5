//! # sciml-bench
//!
//! The cross-crate benchmark suite of sciml-rs: criterion benches (among them every workload that
//! a script in `benches/peers/` times with a peer library) and the `suite` binary that runs every crate's
//! [`Task`](core_tensor::bench::Task)s and writes `suite.json` for `cargo xtask bench`.

use core_tensor::bench::TaskGroup;

/// Every crate's suite tasks, in crate order.
pub fn all_tasks() -> Vec<TaskGroup> {
    vec![
        core_tensor::suite::tasks(),
        point_process::suite::tasks(),
        neural_diffeq::suite::tasks(),
        spiking::suite::tasks(),
        neural_operator::suite::tasks(),
        nas::suite::tasks(),
    ]
}
