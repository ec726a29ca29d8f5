//! Suite tasks of the neural half.

use core_tensor::bench::Task;

/// The neural tasks.
pub(crate) fn tasks() -> Vec<Box<dyn Task>> {
    vec![]
}
