//! Energy estimates: synaptic operations (SynOps) over a forward pass and the Bit Budget view.
//!
//! - **SynOps** (Merolla et al. 2014; the usual SNN metric): every non-zero input element of a
//!   weight layer triggers one accumulate per synapse it reaches, `SynOps = Σ_layers
//!   nnz(input) × fan-out`. The dense counterpart (an ANN of the same shape evaluated at every time
//!   step) costs `numel(input) × fan-out` multiply-accumulates. With 45 nm figures (Horowitz 2014:
//!   0.9 pJ per 32-bit float add, 4.6 pJ per 32-bit float multiply-add) these give energies.
//! - **Bit Budget** (Shen et al. 2024): the cost of a layer grows with weight bits × activation
//!   bits × time steps, so a spiking layer (1-bit activations over T steps) and a quantised ANN
//!   layer (b-bit activations, one step) can be compared on one axis: `weights × b_w × b_a × T`.
//!
//! Fan-out: a linear layer's input reaches `n_out` synapses; a convolution's input element reaches
//! `C_out·k_h·k_w` (interior elements, stride 1); a delayed linear layer with integer delays reaches
//! `n_out`.

use serde::Serialize;

use crate::net::{NetOutput, SpikingNet};
use crate::{Error, Result};

/// Energy estimate of a pJ per accumulate (32-bit float add, 45 nm; Horowitz 2014).
pub const PJ_PER_AC: f64 = 0.9;
/// Energy estimate of a pJ per multiply-accumulate (32-bit float, 45 nm; Horowitz 2014).
pub const PJ_PER_MAC: f64 = 4.6;

/// SynOps and dense-equivalent cost of one weight layer over a recorded forward pass.
#[derive(Debug, Clone, Serialize)]
pub struct LayerEnergy {
    /// Index of the layer in the network.
    pub layer: usize,
    /// Layer description.
    pub kind: String,
    /// Number of weights (including biases).
    pub weights: i64,
    /// Non-zero input elements over the pass (all time steps and samples).
    pub input_events: f64,
    /// Fraction of input elements that are non-zero.
    pub input_rate: f64,
    /// Synaptic operations `input_events × fan-out`.
    pub synops: f64,
    /// Dense multiply-accumulates `numel(input) × fan-out`.
    pub dense_macs: f64,
    /// `synops × PJ_PER_AC` (pJ).
    pub snn_energy_pj: f64,
    /// `dense_macs × PJ_PER_MAC` (pJ).
    pub ann_energy_pj: f64,
}

/// Per-layer SynOps of `net` for a pass `out` recorded with `record_inputs = true`.
///
/// # Errors
/// `out` without recorded layer inputs, or from another network.
pub fn synops(net: &SpikingNet, out: &NetOutput) -> Result<Vec<LayerEnergy>> {
    if out.layer_inputs.len() != net.layers().len() {
        return Err(Error::invalid(
            "out.layer_inputs",
            out.layer_inputs.len(),
            format!("record the pass with record_inputs = true ({} layers)", net.layers().len()),
        ));
    }
    let mut v = Vec::new();
    for (i, (layer, x)) in net.layers().iter().zip(&out.layer_inputs).enumerate() {
        let Some(fan) = layer.fan_out() else { continue };
        let events = x.ne(0.0).sum(tch::Kind::Double).double_value(&[]);
        let total = x.numel() as f64;
        let synops = events * fan;
        let dense = total * fan;
        v.push(LayerEnergy {
            layer: i,
            kind: format!("{layer:?}"),
            weights: layer.num_weights(),
            input_events: events,
            input_rate: if total > 0.0 { events / total } else { 0.0 },
            synops,
            dense_macs: dense,
            snn_energy_pj: synops * PJ_PER_AC,
            ann_energy_pj: dense * PJ_PER_MAC,
        });
    }
    Ok(v)
}

/// Bit budget of one weight layer: `weights × weight_bits × activation_bits × time_steps`.
#[derive(Debug, Clone, Serialize)]
pub struct BitBudget {
    /// Index of the layer in the network.
    pub layer: usize,
    /// Number of weights.
    pub weights: i64,
    /// Bits per weight.
    pub weight_bits: u32,
    /// Bits per activation (1 for spikes).
    pub activation_bits: u32,
    /// Time steps.
    pub time_steps: u32,
    /// The budget in bit-operations.
    pub bits: f64,
}

/// The bit budget of every weight layer of `net`.
///
/// # Errors
/// Zero bit widths or time steps.
pub fn bit_budget(
    net: &SpikingNet,
    weight_bits: u32,
    activation_bits: u32,
    time_steps: u32,
) -> Result<Vec<BitBudget>> {
    for (n, v) in
        [("weight_bits", weight_bits), ("activation_bits", activation_bits), ("time_steps", time_steps)]
    {
        if v == 0 {
            return Err(Error::invalid(n, v, "must be ≥ 1"));
        }
    }
    Ok(net
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.fan_out().is_some())
        .map(|(i, l)| {
            let w = l.num_weights();
            BitBudget {
                layer: i,
                weights: w,
                weight_bits,
                activation_bits,
                time_steps,
                bits: w as f64 * weight_bits as f64 * activation_bits as f64 * time_steps as f64,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::Leaky;
    use crate::{Layer, NeuronOptions};
    use tch::{nn, Device, Kind, Tensor};

    #[test]
    fn synops_count_input_spikes_times_fan_out() {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let net = SpikingNet::new()
            .push(Layer::Linear(nn::linear(&root / "a", 4, 3, Default::default())))
            .neuron(Leaky::new(&(&root / "l"), 0.9, &NeuronOptions::default()).unwrap());
        // 5 spikes in [T = 2, B = 2, 4].
        let x = Tensor::from_slice(&[1.0f32, 0., 1., 0., 0., 0., 0., 1., 1., 1., 0., 0.]).reshape([2, 2, 3]);
        let x = Tensor::cat(&[x, Tensor::zeros([2, 2, 1], (Kind::Float, Device::Cpu))], 2);
        let out = net.forward_multi_step(&x, true).unwrap();
        let e = synops(&net, &out).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].input_events, 5.0);
        assert_eq!(e[0].synops, 15.0);
        assert_eq!(e[0].dense_macs, 16.0 * 3.0);
        assert_eq!(e[0].weights, 15);
        let no_inputs = net.forward_multi_step(&x, false).unwrap();
        assert!(synops(&net, &no_inputs).is_err());
        let b = bit_budget(&net, 8, 1, 25).unwrap();
        assert_eq!(b[0].bits, 15.0 * 8.0 * 25.0);
        assert!(bit_budget(&net, 8, 0, 25).is_err());
    }
}
