//! # sciml-bench
//!
//! The cross-crate benchmark suite of sciml-rs: criterion benches (among them every workload that
//! a script in `benches/peers/` times with a peer library) and the `suite` binary that runs every crate's
//! [`Task`](core_tensor::bench::Task)s and writes `suite.json` for `cargo xtask bench`.

use core_tensor::bench::Task;

/// Every suite task of every crate, in crate order.
pub fn all_tasks() -> Vec<Box<dyn Task>> {
    let mut v = core_tensor::suite::tasks();
    v.extend(point_process::suite::tasks());
    v.extend(neural_diffeq::suite::tasks());
    v.extend(spiking::suite::tasks());
    v.extend(neural_operator::suite::tasks());
    v.extend(nas::suite::tasks());
    v
}
