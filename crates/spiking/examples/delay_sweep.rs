//! Sweeps the timing-task settings: learned (DCLS) vs zero delays.
//!
//! `cargo run --release -p spiking --example delay_sweep -- <beta_readout> <pos_lr_factor> <epochs>`

use spiking::suite::{train_timing, TimingNet, TimingTask};

fn main() -> spiking::Result<()> {
    let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let net = TimingNet {
        beta_readout: args.first().copied().unwrap_or(0.3),
        position_lr_factor: args.get(1).copied().unwrap_or(100.0),
        ..TimingNet::default()
    };
    let epochs = args.get(2).copied().unwrap_or(30.0) as usize;
    let task = TimingTask::default();
    for delays in [true, false] {
        let r = train_timing(&task, &net, delays, (2048, 512, epochs), 0, tch::Device::Cpu, false)?;
        println!(
            "delays {delays}: test accuracy {:.3}, final loss {:.3}",
            r.test_accuracy,
            r.losses.last().copied().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
