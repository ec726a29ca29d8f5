//! Learned synaptic delays (DCLS) against zero delays on a task where only spike timing carries
//! the class: every channel fires once, at a class-specific permutation of the same times.
//!
//! `cargo run --release -p sciml-spiking --example learned_delays [-- <beta_readout> <position_lr_factor> <epochs>]`

use spiking::suite::{train_timing, TimingNet, TimingTask};

fn main() -> spiking::Result<()> {
    let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let defaults = TimingNet::default();
    let net = TimingNet {
        beta_readout: args.first().copied().unwrap_or(defaults.beta_readout),
        position_lr_factor: args.get(1).copied().unwrap_or(defaults.position_lr_factor),
        ..defaults
    };
    let epochs = args.get(2).copied().unwrap_or(30.0) as usize;
    let task = TimingTask::default();
    let device = core_tensor::device::device();
    for delays in [true, false] {
        let r = train_timing(&task, &net, delays, (2048, 512, epochs), 0, device, true)?;
        println!(
            "{}: test accuracy {:.3}, final training loss {:.3}",
            if delays { "learned delays" } else { "zero delays   " },
            r.test_accuracy,
            r.losses.last().copied().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
