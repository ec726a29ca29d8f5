//! Configuration of a neural temporal point process: which history encoder, which decoder, and
//! how compensators without a closed form are integrated.

use crate::error::{invalid, Result};
use serde::{Deserialize, Serialize};

/// History encoders: map the events strictly before an interval to a context vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderKind {
    /// GRU over `[mark embedding, Δt, ln Δt]` (RMTPP's recurrent history, Du et al. 2016).
    Gru,
    /// LSTM over the same inputs.
    Lstm,
    /// Causal transformer over `mark embedding + sinusoidal(t)` (THP, Zuo et al. 2020; SAHP,
    /// Zhang et al. 2020).
    SelfAttention,
    /// Continuous-time LSTM whose cell decays between events (NHP, Mei & Eisner 2017).
    CtLstm,
}

/// Decoders: the conditional intensity (or density) of the next event given a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderKind {
    /// `λ(τ) = exp(v·h + b + wτ)`, marks `softmax(Vh)` (RMTPP); exact compensator.
    Exponential,
    /// Log-normal mixture density of the gap, marks `softmax(Vh)` (IntensityFree); exact.
    LogNormalMixture,
    /// Monotone cumulative-hazard network Φ(τ|h), λ = ∂Φ/∂τ (FullyNN); exact.
    CumulativeHazard,
    /// `λ_k(τ) = softplus(MLP([h, τ]))_k`; compensator by quadrature or Monte Carlo.
    NeuralIntensity,
    /// `λ_k(τ) = softplus(μ_k + (η_k − μ_k) e^{−γ_k τ})` (SAHP); quadrature.
    Sahp,
    /// `λ_k(τ) = softplus(α_k τ + w_k·h + b_k)` (THP); quadrature.
    Thp,
    /// `λ_k(τ) = softplus(w_k·h(τ) + b_k)` with the decaying CT-LSTM state (NHP); needs the
    /// [`EncoderKind::CtLstm`] encoder; quadrature.
    CtLstm,
    /// Attention from the query time over past event states (AttNHP, Yang et al. 2022); quadrature.
    ContinuousAttention,
}

/// Numerical integration of a compensator `∫_a^b Σ_k λ_k` without a closed form.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Integration {
    /// Composite 16-point Gauss–Legendre on `panels` equal panels of every interval
    /// (deterministic, 16·panels intensity evaluations per interval).
    GaussLegendre {
        /// Panels per interval (≥ 1).
        panels: usize,
    },
    /// Unbiased Monte-Carlo estimate `(b − a)·mean_s λ(a + u_s (b − a))`, `u_s ~ U(0, 1)` drawn
    /// from libtorch's seeded generator.
    MonteCarlo {
        /// Samples per interval (≥ 1).
        samples: usize,
    },
}

impl Integration {
    /// Checks the counts.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Integration::GaussLegendre { panels: 0 } => Err(invalid("panels", 0, "must be >= 1")),
            Integration::MonteCarlo { samples: 0 } => Err(invalid("samples", 0, "must be >= 1")),
            _ => Ok(()),
        }
    }
}

/// The seven models of the EasyTPP zoo studied by Bosser & Ben Taieb (2023), as encoder ×
/// decoder presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Recurrent marked TPP (Du et al. 2016): GRU + exponential intensity.
    Rmtpp,
    /// Neural Hawkes process (Mei & Eisner 2017): CT-LSTM + its decaying-state intensity.
    Nhp,
    /// Self-attentive Hawkes process (Zhang et al. 2020): self-attention + SAHP decoder.
    Sahp,
    /// Transformer Hawkes process (Zuo et al. 2020): self-attention + THP decoder.
    Thp,
    /// Attentive neural Hawkes process (Yang et al. 2022): self-attention + continuous attention.
    AttNhp,
    /// Fully neural network TPP (Omi et al. 2019): GRU + cumulative-hazard network.
    FullyNn,
    /// Intensity-free TPP (Shchur et al. 2020): GRU + log-normal mixture.
    IntensityFree,
}

impl Model {
    /// Every preset.
    pub const ALL: [Model; 7] = [
        Model::Rmtpp,
        Model::Nhp,
        Model::Sahp,
        Model::Thp,
        Model::AttNhp,
        Model::FullyNn,
        Model::IntensityFree,
    ];

    /// Short name (`"rmtpp"`).
    pub fn name(self) -> &'static str {
        match self {
            Model::Rmtpp => "rmtpp",
            Model::Nhp => "nhp",
            Model::Sahp => "sahp",
            Model::Thp => "thp",
            Model::AttNhp => "attnhp",
            Model::FullyNn => "fullynn",
            Model::IntensityFree => "intensity_free",
        }
    }

    /// The preset's encoder and decoder.
    pub fn parts(self) -> (EncoderKind, DecoderKind) {
        match self {
            Model::Rmtpp => (EncoderKind::Gru, DecoderKind::Exponential),
            Model::Nhp => (EncoderKind::CtLstm, DecoderKind::CtLstm),
            Model::Sahp => (EncoderKind::SelfAttention, DecoderKind::Sahp),
            Model::Thp => (EncoderKind::SelfAttention, DecoderKind::Thp),
            Model::AttNhp => (EncoderKind::SelfAttention, DecoderKind::ContinuousAttention),
            Model::FullyNn => (EncoderKind::Gru, DecoderKind::CumulativeHazard),
            Model::IntensityFree => (EncoderKind::Gru, DecoderKind::LogNormalMixture),
        }
    }
}

impl std::str::FromStr for Model {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        Model::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            invalid("model", s, "expected rmtpp, nhp, sahp, thp, attnhp, fullynn or intensity_free")
        })
    }
}

/// Configuration of a [`NeuralTpp`](super::NeuralTpp); a consuming builder validated by
/// [`NeuralTpp::new`](super::NeuralTpp::new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TppConfig {
    /// Number of marks K.
    pub num_marks: usize,
    /// History encoder.
    pub encoder: EncoderKind,
    /// Intensity / density decoder.
    pub decoder: DecoderKind,
    /// Hidden width H of encoders and decoders.
    pub hidden: i64,
    /// Attention layers (self-attention encoder).
    pub layers: i64,
    /// Attention heads (must divide `hidden`).
    pub heads: i64,
    /// Mixture components of the log-normal decoder.
    pub components: i64,
    /// Compensator integration while training (decoders without a closed form).
    pub train_integration: Integration,
    /// Compensator integration for evaluation.
    pub eval_integration: Integration,
}

impl TppConfig {
    /// A preset with H = 32, 2 attention layers of 2 heads, 8 mixture components, 20 Monte-Carlo
    /// samples while training and 2 Gauss–Legendre panels (32 nodes) per interval for evaluation.
    pub fn new(model: Model, num_marks: usize) -> Self {
        let (encoder, decoder) = model.parts();
        Self::custom(encoder, decoder, num_marks)
    }

    /// Any encoder × decoder combination (the study's grid).
    pub fn custom(encoder: EncoderKind, decoder: DecoderKind, num_marks: usize) -> Self {
        TppConfig {
            num_marks,
            encoder,
            decoder,
            hidden: 32,
            layers: 2,
            heads: 2,
            components: 8,
            train_integration: Integration::MonteCarlo { samples: 20 },
            eval_integration: Integration::GaussLegendre { panels: 2 },
        }
    }

    /// Sets the hidden width.
    pub fn hidden(mut self, h: i64) -> Self {
        self.hidden = h;
        self
    }
    /// Sets the number of attention layers.
    pub fn layers(mut self, n: i64) -> Self {
        self.layers = n;
        self
    }
    /// Sets the number of attention heads.
    pub fn heads(mut self, n: i64) -> Self {
        self.heads = n;
        self
    }
    /// Sets the number of log-normal components.
    pub fn components(mut self, n: i64) -> Self {
        self.components = n;
        self
    }
    /// Sets the training integration.
    pub fn train_integration(mut self, i: Integration) -> Self {
        self.train_integration = i;
        self
    }
    /// Sets the evaluation integration.
    pub fn eval_integration(mut self, i: Integration) -> Self {
        self.eval_integration = i;
        self
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.num_marks == 0 {
            return Err(invalid("num_marks", 0, "must be > 0"));
        }
        if self.hidden <= 0 || self.hidden % 2 != 0 {
            return Err(invalid("hidden", self.hidden, "must be even and > 0"));
        }
        if self.layers <= 0 {
            return Err(invalid("layers", self.layers, "must be > 0"));
        }
        if self.heads <= 0 || self.hidden % self.heads != 0 {
            return Err(invalid(
                "heads",
                self.heads,
                &format!("must be > 0 and divide hidden = {}", self.hidden),
            ));
        }
        if self.components <= 0 {
            return Err(invalid("components", self.components, "must be > 0"));
        }
        if self.decoder == DecoderKind::CtLstm && self.encoder != EncoderKind::CtLstm {
            return Err(invalid(
                "decoder",
                "ct_lstm",
                &format!("needs the ct_lstm encoder, got {:?}", self.encoder),
            ));
        }
        self.train_integration.validate()?;
        self.eval_integration.validate()
    }
}
