//! Training: optimizers, learning-rate schedules, the `Trainer` loop and zeroth-order gradients.

pub mod optim;
pub mod schedule;
pub mod steps;
pub mod trainer;
pub mod zeroth_order;

pub use optim::{accumulate_grads, trainable_named, zero_grads, Optimizer, OptimizerConfig};
pub use schedule::LrSchedule;
pub use steps::{StepContext, StepHistory, StepOutput, StepRecord};
pub use trainer::{
    Control, EarlyStopping, EpochRecord, GradClip, Observer, TrainHistory, Trainer, TrainerConfig,
};
pub use zeroth_order::{ZerothOrder, ZerothOrderEstimator};
