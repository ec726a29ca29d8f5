//! Feed-forward spiking networks in single-step and multi-step mode.
//!
//! A [`SpikingNet`] is a stack of stateless layers (linear, convolution, flatten) and neuron
//! layers. Two execution modes give identical numbers:
//! - **single-step** ([`SpikingNet::forward_single_step`]): for each time step, every layer in
//!   turn (snnTorch's style);
//! - **multi-step** ([`SpikingNet::forward_multi_step`]): layer by layer over the whole sequence;
//!   stateless layers see `[T·B, ...]` at once (one GEMM instead of T), neurons iterate over T
//!   (SpikingJelly's multi-step mode).

use tch::nn::{self, Module};
use tch::Tensor;

use crate::delay::DelayedLinear;
use crate::neuron::Neuron;
use crate::{Error, Result};

/// One layer of a [`SpikingNet`].
pub enum Layer {
    /// `y = x Wᵀ + b` over the last axis.
    Linear(nn::Linear),
    /// 2-D convolution over `[B, C, H, W]`.
    Conv2d(nn::Conv2D),
    /// Flattens all axes after the batch axis.
    Flatten,
    /// A neuron layer.
    Neuron(Box<dyn Neuron>),
    /// A linear layer with synaptic delays over `[.., n_in]` (time-dependent: keeps a history).
    Delayed(DelayedLinear),
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::Linear(l) => write!(f, "Linear({:?})", l.ws.size()),
            Layer::Conv2d(c) => write!(f, "Conv2d({:?})", c.ws.size()),
            Layer::Flatten => write!(f, "Flatten"),
            Layer::Neuron(n) => write!(f, "Neuron({:?})", n.state_names()),
            Layer::Delayed(d) => write!(f, "Delayed({:?}, D = {})", d.dims(), d.max_delay()),
        }
    }
}

impl Layer {
    fn stateless(&self, x: &Tensor) -> Tensor {
        match self {
            Layer::Linear(l) => l.forward(x),
            Layer::Conv2d(c) => c.forward(x),
            Layer::Flatten => x.flatten(1, -1),
            Layer::Neuron(_) | Layer::Delayed(_) => unreachable!("neurons and delays are not stateless"),
        }
    }

    /// Synaptic fan-out of one input element (outputs it reaches), for SynOps counting.
    pub fn fan_out(&self) -> Option<f64> {
        match self {
            Layer::Linear(l) => Some(l.ws.size()[0] as f64),
            Layer::Delayed(d) => Some(d.dims().1 as f64),
            Layer::Conv2d(c) => {
                let s = c.ws.size();
                // Each input element reaches out_channels × kh × kw outputs (stride 1, interior).
                Some((s[0] * s[2] * s[3]) as f64)
            }
            _ => None,
        }
    }

    /// Number of weights (and biases) of the layer.
    pub fn num_weights(&self) -> i64 {
        match self {
            Layer::Linear(l) => l.ws.numel() as i64 + l.bs.as_ref().map_or(0, |b| b.numel() as i64),
            Layer::Conv2d(c) => c.ws.numel() as i64 + c.bs.as_ref().map_or(0, |b| b.numel() as i64),
            Layer::Delayed(d) => {
                let (i, o) = d.dims();
                i * o + o
            }
            _ => 0,
        }
    }
}

/// Spikes and membrane of the last neuron layer, and the input of every layer (for energy
/// estimates), each time-first.
#[derive(Debug)]
pub struct NetOutput {
    /// Output spikes `[T, B, ...]`.
    pub spk: Tensor,
    /// Output membrane `[T, B, ...]`.
    pub mem: Tensor,
    /// Input of each layer `[T, B, ...]`, recorded only when asked for.
    pub layer_inputs: Vec<Tensor>,
}

/// A stack of layers run over time-first inputs `[T, B, ...]`.
#[derive(Debug, Default)]
pub struct SpikingNet {
    layers: Vec<Layer>,
}

impl SpikingNet {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer.
    pub fn push(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// Appends a neuron layer.
    pub fn neuron(self, n: impl Neuron + 'static) -> Self {
        self.push(Layer::Neuron(Box::new(n)))
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    fn check(&self, x: &Tensor) -> Result<i64> {
        if x.dim() < 2 {
            return Err(Error::shape("x", "[T, B, ...]", x.size()));
        }
        let Some(last) = self.layers.iter().rposition(|l| matches!(l, Layer::Neuron(_))) else {
            return Err(Error::invalid(
                "layers",
                format!("{:?}", self.layers),
                "the network needs a neuron layer",
            ));
        };
        if last + 1 != self.layers.len() {
            return Err(Error::invalid(
                "layers",
                format!("{:?}", self.layers),
                "the last layer must be a neuron layer",
            ));
        }
        for l in &self.layers {
            if let Layer::Neuron(n) = l {
                n.validate()?;
            }
        }
        Ok(x.size()[0])
    }

    /// Single-step mode: at each t, all layers in order.
    ///
    /// # Errors
    /// A sequence with fewer than two axes, a network not ending in a neuron layer, or a shape
    /// mismatch inside (reported by libtorch).
    pub fn forward_single_step(&self, x: &Tensor, record_inputs: bool) -> Result<NetOutput> {
        let t_len = self.check(x)?;
        let mut states: Vec<Option<Vec<Tensor>>> = self.layers.iter().map(|_| None).collect();
        let (mut spk, mut mem) = (Vec::with_capacity(t_len as usize), Vec::with_capacity(t_len as usize));
        let mut inputs: Vec<Vec<Tensor>> = self.layers.iter().map(|_| Vec::new()).collect();
        // Delay kernels depend only on the parameters: build them once per sequence.
        let kernels: Vec<Option<Tensor>> = self
            .layers
            .iter()
            .map(|l| match l {
                Layer::Delayed(d) => Some(d.kernel()),
                _ => None,
            })
            .collect();
        for x_t in x.unbind(0) {
            let mut h = x_t;
            for (i, layer) in self.layers.iter().enumerate() {
                if record_inputs {
                    inputs[i].push(h.detach());
                }
                h = match layer {
                    Layer::Neuron(n) => {
                        let st = states[i].get_or_insert_with(|| n.init_state(&h));
                        let s = n.step(&h, st)?;
                        if i + 1 == self.layers.len() {
                            mem.push(st[n.mem_index()].shallow_clone());
                        }
                        s
                    }
                    Layer::Delayed(d) => {
                        let k = kernels[i].as_ref().expect("built for every delay layer");
                        d.step_with(&h, states[i].get_or_insert_with(Vec::new), k)?
                    }
                    other => other.f_stateless(&h)?,
                };
            }
            spk.push(h);
        }
        Ok(NetOutput {
            spk: Tensor::stack(&spk, 0),
            mem: Tensor::stack(&mem, 0),
            layer_inputs: if record_inputs {
                inputs.iter().map(|v| Tensor::stack(v, 0)).collect()
            } else {
                Vec::new()
            },
        })
    }

    /// Multi-step mode: layer by layer over the sequence; stateless layers run on `[T·B, ...]`.
    ///
    /// # Errors
    /// As [`SpikingNet::forward_single_step`].
    pub fn forward_multi_step(&self, x: &Tensor, record_inputs: bool) -> Result<NetOutput> {
        self.forward_multi_step_with(x, &mut NetState::default(), record_inputs)
    }

    /// Multi-step mode continuing from `state` (empty = zero state) and leaving the final state in
    /// it, so a long sequence can be processed in chunks (truncated BPTT: call
    /// [`NetState::detach`] between chunks).
    ///
    /// # Errors
    /// As [`SpikingNet::forward_single_step`]; a state from a different network or batch size.
    pub fn forward_multi_step_with(
        &self,
        x: &Tensor,
        state: &mut NetState,
        record_inputs: bool,
    ) -> Result<NetOutput> {
        let t_len = self.check(x)?;
        if state.layers.is_empty() {
            state.layers = self.layers.iter().map(|_| None).collect();
        }
        if state.layers.len() != self.layers.len() {
            return Err(Error::invalid(
                "state",
                state.layers.len(),
                format!("the network has {} layers", self.layers.len()),
            ));
        }
        let mut h = x.shallow_clone();
        let mut inputs = Vec::new();
        let mut mem = None;
        for (i, layer) in self.layers.iter().enumerate() {
            if record_inputs {
                inputs.push(h.detach());
            }
            h = match layer {
                Layer::Neuron(n) => {
                    let st = state.layers[i].get_or_insert_with(|| n.init_state(&h.get(0)));
                    let mut spk = Vec::with_capacity(t_len as usize);
                    let mut m = Vec::new();
                    let last = i + 1 == self.layers.len();
                    // `unbind` has a cheap backward (a stack); `get(t)` would scatter each step's
                    // gradient into a fresh full-size zero tensor.
                    for x_t in h.unbind(0).iter() {
                        spk.push(n.step(x_t, st)?);
                        if last {
                            m.push(st[n.mem_index()].shallow_clone());
                        }
                    }
                    if last {
                        mem = Some(Tensor::stack(&m, 0));
                    }
                    Tensor::stack(&spk, 0)
                }
                Layer::Delayed(d) => {
                    let keep = d.max_delay() - 1;
                    let (full, skip) = match state.layers[i].as_ref().and_then(|v| v.first()) {
                        Some(hist) => {
                            (Tensor::cat(&[hist.shallow_clone(), h.shallow_clone()], 0), hist.size()[0])
                        }
                        None => (h.shallow_clone(), 0),
                    };
                    let y = d.forward_seq(&full)?;
                    let n = full.size()[0];
                    let k = keep.min(n);
                    state.layers[i] = Some(vec![full.narrow(0, n - k, k)]);
                    y.narrow(0, skip, n - skip)
                }
                other => {
                    let flat = h.flatten(0, 1);
                    let y = other.f_stateless(&flat)?;
                    let mut shape = vec![t_len, h.size()[1]];
                    shape.extend_from_slice(&y.size()[1..]);
                    y.reshape(&shape)
                }
            };
        }
        Ok(NetOutput { spk: h, mem: mem.expect("checked: last layer is a neuron"), layer_inputs: inputs })
    }
}

/// The carried state of a [`SpikingNet`] between chunks of a sequence (neuron states and delay
/// histories, per layer). `NetState::default()` is the zero state.
#[derive(Debug, Default)]
pub struct NetState {
    layers: Vec<Option<Vec<Tensor>>>,
}

impl NetState {
    /// Cuts the autograd graph at the current state (truncated BPTT).
    pub fn detach(&mut self) {
        for v in self.layers.iter_mut().flatten() {
            for t in v.iter_mut() {
                *t = t.detach();
            }
        }
    }

    /// Forgets the state (next chunk starts from zero).
    pub fn reset(&mut self) {
        self.layers.clear();
    }
}

impl Layer {
    fn f_stateless(&self, x: &Tensor) -> Result<Tensor> {
        // Shape errors surface as libtorch errors instead of panics.
        let expected = match self {
            Layer::Linear(l) => Some(l.ws.size()[1]),
            Layer::Conv2d(c) => Some(c.ws.size()[1]),
            _ => None,
        };
        if let Some(e) = expected {
            let got = match self {
                Layer::Linear(_) => x.size().last().copied(),
                _ => x.size().get(1).copied(),
            };
            if got != Some(e) {
                return Err(Error::shape("layer input", format!("features = {e}"), x.size()));
            }
        }
        Ok(self.stateless(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::{Leaky, Synaptic};
    use crate::{NeuronOptions, Surrogate};
    use tch::{Kind, Tensor};

    fn build(vs: &nn::VarStore) -> SpikingNet {
        let root = vs.root();
        let o = NeuronOptions::default().surrogate(Surrogate::FastSigmoid { slope: 25.0 });
        SpikingNet::new()
            .push(Layer::Flatten)
            .push(Layer::Linear(nn::linear(&root / "fc1", 12, 16, Default::default())))
            .neuron(Leaky::new(&(&root / "l1"), 0.9, &o).unwrap())
            .push(Layer::Linear(nn::linear(&root / "fc2", 16, 3, Default::default())))
            .neuron(Synaptic::new(&(&root / "l2"), 0.8, 0.9, &o).unwrap())
    }

    #[test]
    fn single_and_multi_step_agree() {
        core_tensor::seed::seed_torch(1);
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let net = build(&vs);
        vs.set_kind(Kind::Double);
        let x = Tensor::rand([7, 5, 3, 4], (Kind::Double, tch::Device::Cpu)) * 1.5;
        let grads = |multi: bool| {
            let out =
                if multi { net.forward_multi_step(&x, true) } else { net.forward_single_step(&x, true) }
                    .unwrap();
            let loss = out.spk.sum(Kind::Double) + out.mem.square().sum(Kind::Double);
            let g: Vec<Tensor> = Tensor::run_backward(&[loss], &vs.trainable_variables(), false, false);
            (out, g)
        };
        let (a, ga) = grads(false);
        let (b, gb) = grads(true);
        assert_eq!(a.spk.size(), vec![7, 5, 3]);
        assert!(a.spk.sum(Kind::Double).double_value(&[]) > 0.0);
        assert_eq!((&a.spk - &b.spk).abs().max().double_value(&[]), 0.0);
        assert!((&a.mem - &b.mem).abs().max().double_value(&[]) < 1e-12);
        for (x, y) in ga.iter().zip(&gb) {
            assert!((x - y).abs().max().double_value(&[]) < 1e-10);
        }
        assert_eq!(a.layer_inputs.len(), 5);
        assert_eq!(b.layer_inputs[2].size(), vec![7, 5, 16]);
    }

    #[test]
    fn bad_networks_are_errors() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = SpikingNet::new().push(Layer::Linear(nn::linear(vs.root(), 4, 2, Default::default())));
        assert!(net
            .forward_multi_step(&Tensor::zeros([3, 2, 4], (Kind::Float, tch::Device::Cpu)), false)
            .is_err());
        let net = build(&vs);
        let wrong = Tensor::zeros([3, 2, 5, 4], (Kind::Float, tch::Device::Cpu));
        let e = net.forward_multi_step(&wrong, false).unwrap_err().to_string();
        assert!(e.contains("features = 12"), "{e}");
        assert!(net
            .forward_single_step(&Tensor::zeros([3], (Kind::Float, tch::Device::Cpu)), false)
            .is_err());
    }
}
