//! A two-layer spiking network trained by BPTT on rate-coded inputs.
//!
//! Two classes of 20-dimensional intensities (class 0 bright in the first half, class 1 in the
//! second) are rate-coded over T = 25 steps; the network is Linear → Leaky → Linear → Leaky with the
//! fast-sigmoid surrogate, trained on the spike-count cross-entropy.
//!
//! `cargo run --release -p sciml-spiking --example quickstart`

use core_tensor::train::{OptimizerConfig, Trainer};
use spiking::neuron::Leaky;
use spiking::train::{accuracy, fit, SequenceBatches, SpikeLoss};
use spiking::{encode, Layer, NeuronOptions, SpikingNet, Surrogate};
use tch::{nn, Kind, Tensor};

fn data(n: i64, device: tch::Device) -> spiking::Result<(Tensor, Tensor)> {
    let y = Tensor::randint(2, [n], (Kind::Int64, device));
    let first = Tensor::cat(
        &[Tensor::full([10], 0.6, (Kind::Float, device)), Tensor::full([10], 0.1, (Kind::Float, device))],
        0,
    );
    let second = first.flip([0]);
    let intensity = first.unsqueeze(0).where_self(&y.eq(0).unsqueeze(-1), &second.unsqueeze(0));
    // [T, n, 20] spikes, stored batch-first for the loader.
    let x = encode::rate(&intensity, 25, 1.0, 0.0)?.transpose(0, 1);
    Ok((x, y))
}

fn main() -> spiking::Result<()> {
    core_tensor::seed::seed_torch(0);
    let device = core_tensor::device::device();
    let vs = nn::VarStore::new(device);
    let root = vs.root();
    let o = NeuronOptions::default().surrogate(Surrogate::FastSigmoid { slope: 25.0 });
    let net = SpikingNet::new()
        .push(Layer::Linear(nn::linear(&root / "fc1", 20, 64, Default::default())))
        .neuron(Leaky::new(&(&root / "lif1"), 0.9, &o)?)
        .push(Layer::Linear(nn::linear(&root / "fc2", 64, 2, Default::default())))
        .neuron(Leaky::new(&(&root / "lif2"), 0.9, &o)?);
    let (x, y) = data(512, device)?;
    let (xt, yt) = data(256, device)?;
    let batches = SequenceBatches::new(x, y, 64, None, 0)?;
    let mut trainer = Trainer::builder().epochs(10).optimizer(OptimizerConfig::adam(5e-3)).build()?;
    let history = fit(&mut trainer, &vs, &net, &batches, SpikeLoss::CeCount, || Ok(None))?;
    let acc = accuracy(&net, &xt.transpose(0, 1), &yt, SpikeLoss::CeCount, 128)?;
    println!(
        "final training loss {:.4}, test accuracy {acc:.3}",
        history.final_train_loss().unwrap_or(f64::NAN)
    );
    Ok(())
}
