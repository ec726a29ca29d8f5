//! Multi-layer perceptron with a selectable activation and activation-aware initialisation.

use super::activation::Activation;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

/// Configuration of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Activation between hidden layers.
    pub activation: Activation,
    /// Optional activation applied to the output layer (e.g. `Sigmoid` for a diffusion MLP).
    pub final_activation: Option<Activation>,
    /// Dropout probability after each hidden activation (alpha dropout when the activation is SELU,
    /// so self-normalisation is kept).
    pub dropout: f64,
    /// Whether linear layers have a bias.
    pub bias: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig { activation: Activation::Relu, final_activation: None, dropout: 0.0, bias: true }
    }
}

impl MlpConfig {
    /// Sets the hidden activation.
    pub fn activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
    /// Sets the output activation.
    pub fn final_activation(mut self, a: Activation) -> Self {
        self.final_activation = Some(a);
        self
    }
    /// Sets the dropout probability.
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }
    /// Enables or disables biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

/// A fully connected network `x ↦ W_L φ(… φ(W_1 x + b_1) …) + b_L`.
///
/// Shapes: input `[..., widths[0]]`, output `[..., widths[last]]`.
///
/// Initialisation: weights feeding a SELU use LeCun normal `N(0, 1/fan_in)` with zero bias, so that
/// activations keep mean ≈ 0 and variance ≈ 1 through depth (Klambauer et al. 2017); all other
/// layers use PyTorch's default `U(±1/√fan_in)`.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
    config: MlpConfig,
}

/// LeCun-normal initialisation `N(0, 1/fan_in)` of a linear layer with zero bias.
pub fn lecun_normal_linear(path: &nn::Path<'_>, fan_in: i64, fan_out: i64, bias: bool) -> nn::Linear {
    let cfg = nn::LinearConfig {
        ws_init: nn::Init::Randn { mean: 0.0, stdev: 1.0 / (fan_in as f64).sqrt() },
        bs_init: Some(nn::Init::Const(0.0)),
        bias,
    };
    nn::linear(path, fan_in, fan_out, cfg)
}

/// A linear layer with PyTorch's default initialisation: weight and bias `U(±1/√fan_in)`
/// (what `torch.nn.Linear` does; tch's own default is Kaiming-uniform with ReLU gain, √6 times wider).
pub fn torch_default_linear(path: &nn::Path<'_>, fan_in: i64, fan_out: i64, bias: bool) -> nn::Linear {
    let b = 1.0 / (fan_in as f64).sqrt();
    let cfg = nn::LinearConfig {
        ws_init: nn::Init::Uniform { lo: -b, up: b },
        bs_init: Some(nn::Init::Uniform { lo: -b, up: b }),
        bias,
    };
    nn::linear(path, fan_in, fan_out, cfg)
}

impl Mlp {
    /// Builds an MLP with layer widths `widths = [in, hidden..., out]` under `path`
    /// (variables `path/layer{i}/weight`, `path/layer{i}/bias`).
    pub fn new(path: &nn::Path<'_>, widths: &[i64], config: MlpConfig) -> Result<Self> {
        if widths.len() < 2 {
            return Err(Error::invalid("widths", format!("{widths:?}"), "need at least [in, out]"));
        }
        if let Some(w) = widths.iter().find(|w| **w <= 0) {
            return Err(Error::invalid("widths", format!("{widths:?}"), format!("width {w} must be > 0")));
        }
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(Error::invalid("dropout", config.dropout, "must be in [0, 1)"));
        }
        let n = widths.len() - 1;
        let layers = (0..n)
            .map(|i| {
                let p = path / format!("layer{i}");
                let feeds_selu = if i + 1 < n {
                    config.activation == Activation::Selu
                } else {
                    config.final_activation == Some(Activation::Selu)
                };
                if feeds_selu {
                    lecun_normal_linear(&p, widths[i], widths[i + 1], config.bias)
                } else {
                    torch_default_linear(&p, widths[i], widths[i + 1], config.bias)
                }
            })
            .collect();
        Ok(Mlp { layers, config })
    }

    /// The linear layers, input first.
    pub fn layers(&self) -> &[nn::Linear] {
        &self.layers
    }

    /// The configuration.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// Input width.
    pub fn in_dim(&self) -> i64 {
        self.layers[0].ws.size()[1]
    }

    /// Output width.
    pub fn out_dim(&self) -> i64 {
        self.layers[self.layers.len() - 1].ws.size()[0]
    }

    /// Forward pass returning every hidden activation (after the non-linearity) and the output.
    pub fn forward_all(&self, xs: &Tensor, train: bool) -> Vec<Tensor> {
        let mut out = Vec::with_capacity(self.layers.len());
        let mut h = xs.shallow_clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = h.linear(&layer.ws, layer.bs.as_ref());
            if i < last {
                h = self.config.activation.apply(&h);
                if self.config.dropout > 0.0 {
                    h = if self.config.activation == Activation::Selu {
                        h.alpha_dropout(self.config.dropout, train)
                    } else {
                        h.dropout(self.config.dropout, train)
                    };
                }
            } else if let Some(a) = self.config.final_activation {
                h = a.apply(&h);
            }
            out.push(h.shallow_clone());
        }
        out
    }

    /// Checked forward pass: the last dimension of `xs` must equal the input width.
    pub fn try_forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let size = xs.size();
        if size.is_empty() || size.last() != Some(&self.in_dim()) {
            return Err(Error::shape("xs", format!("[..., {}]", self.in_dim()), size));
        }
        crate::check::check_like("xs", xs, &self.layers[0].ws)?;
        Ok(nn::ModuleT::forward_t(self, xs, train))
    }
}

impl nn::ModuleT for Mlp {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.forward_all(xs, train).pop().expect("an Mlp has at least one layer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::ModuleT, Device, Kind};

    #[test]
    fn shapes_and_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mlp = Mlp::new(&vs.root(), &[3, 16, 2], MlpConfig::default()).unwrap();
        let y = mlp.forward_t(&Tensor::zeros([5, 7, 3], (Kind::Float, Device::Cpu)), false);
        assert_eq!(y.size(), vec![5, 7, 2]);
        assert_eq!(vs.variables().len(), 4);
        let e = mlp.try_forward(&Tensor::zeros([5, 4], (Kind::Float, Device::Cpu)), false);
        assert!(e.unwrap_err().to_string().contains("[5, 4]"));
        // a dtype the weights do not have is an error, not a libtorch panic
        let e = mlp.try_forward(&Tensor::zeros([5, 3], (Kind::Double, Device::Cpu)), false).unwrap_err();
        assert!(e.to_string().contains("Double") && e.to_string().contains("xs"), "{e}");
        assert!(mlp.try_forward(&Tensor::zeros([], (Kind::Float, Device::Cpu)), false).is_err());
        assert!(Mlp::new(&vs.root(), &[3], MlpConfig::default()).is_err());
        assert!(Mlp::new(&vs.root(), &[3, 0, 1], MlpConfig::default()).is_err());
        assert!(Mlp::new(&vs.root(), &[3, 1], MlpConfig::default().dropout(1.5)).is_err());
    }

    #[test]
    fn matches_manual_computation() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpConfig::default().activation(Activation::Tanh).final_activation(Activation::Sigmoid);
        let mlp = Mlp::new(&vs.root(), &[2, 4, 1], cfg).unwrap();
        let x = Tensor::from_slice(&[0.3f32, -1.2]).view([1, 2]);
        let [l0, l1] = [&mlp.layers()[0], &mlp.layers()[1]];
        let h = (x.matmul(&l0.ws.tr()) + l0.bs.as_ref().unwrap()).tanh();
        let y = (h.matmul(&l1.ws.tr()) + l1.bs.as_ref().unwrap()).sigmoid();
        let diff = (mlp.forward_t(&x, false) - y).abs().max().double_value(&[]);
        assert!(diff < 1e-7);
    }

    /// Deep SELU networks with LeCun-normal weights self-normalise: activations keep
    /// mean ≈ 0 and variance ≈ 1 through 32 layers (Klambauer et al. 2017, Theorem 1).
    #[test]
    fn selu_self_normalises_through_32_layers() {
        crate::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let widths: Vec<i64> = std::iter::repeat_n(256, 34).collect();
        let mlp = Mlp::new(&vs.root(), &widths, MlpConfig::default().activation(Activation::Selu)).unwrap();
        let x = Tensor::randn([2048, 256], (Kind::Float, Device::Cpu));
        let acts = tch::no_grad(|| mlp.forward_all(&x, false));
        assert_eq!(acts.len(), 33);
        for (i, a) in acts.iter().take(32).enumerate() {
            let mean = a.mean(Kind::Double).double_value(&[]);
            let var = a.var(true).double_value(&[]);
            assert!(mean.abs() < 0.1, "layer {i}: mean {mean}");
            assert!((var - 1.0).abs() < 0.2, "layer {i}: var {var}");
        }
        // The same depth with tanh and default init collapses the variance.
        let vs2 = nn::VarStore::new(Device::Cpu);
        let tanh = Mlp::new(&vs2.root(), &widths, MlpConfig::default().activation(Activation::Tanh)).unwrap();
        let acts = tch::no_grad(|| tanh.forward_all(&x, false));
        assert!(acts[31].var(true).double_value(&[]) < 0.1);
    }
}
