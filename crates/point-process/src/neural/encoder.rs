//! History encoders. Each maps a [`TppBatch`] to a [`History`] whose context for interval `i`
//! depends only on the events `0..i` strictly before it, so no future event can leak into the
//! intensity.

use super::batch::TppBatch;
use super::config::{EncoderKind, TppConfig};
use crate::error::Result;
use core_tensor::nn::attention::AttentionMask;
use core_tensor::nn::{Activation, Mlp, MlpConfig, MultiHeadAttention, SinusoidalTimeEncoding};
use tch::nn::{self, RNN};
use tch::{Kind, Tensor};

/// What a decoder sees of the past.
///
/// Shapes: `N` intervals (`L + 1` for a batch: one per event plus the tail), `L` events, `H`
/// the encoder width.
#[derive(Debug)]
pub struct History {
    /// Context of each interval, `[B, N, H]`; row `i` summarises the events before interval `i`.
    pub ctx: Tensor,
    /// Start of each interval (time of the last event before it, 0 if none), `[B, N]`.
    pub prev_times: Tensor,
    /// Per-event states after each event, `[B, L, H_e]` (the keys of continuous attention).
    pub events: Tensor,
    /// Event times `[B, L]`.
    pub event_times: Tensor,
    /// `[B, L]`, `true` at real events.
    pub event_mask: Tensor,
}

impl History {
    /// The history seen from intervals `index [B, Q]` (int64, each `< N`): contexts and starts
    /// gathered, the event states shared.
    pub fn gather(&self, index: &Tensor) -> Result<History> {
        let (b, n, h) = self.ctx.size3().map_err(core_tensor::Error::from)?;
        let shape = || {
            crate::Error::Core(core_tensor::Error::shape("index", format!("[{b}, Q] int64"), index.size()))
        };
        let (ib, q) = index.size2().map_err(|_| shape())?;
        if ib != b || index.kind() != Kind::Int64 {
            return Err(shape());
        }
        if q > 0 && (index.min().int64_value(&[]) < 0 || index.max().int64_value(&[]) >= n) {
            return Err(crate::error::invalid("index", "out of range", &format!("intervals are 0..{n}")));
        }
        Ok(History {
            ctx: self.ctx.gather(1, &index.unsqueeze(-1).expand([b, q, h], false), false),
            prev_times: self.prev_times.gather(1, index, false),
            events: self.events.shallow_clone(),
            event_times: self.event_times.shallow_clone(),
            event_mask: self.event_mask.shallow_clone(),
        })
    }
}

/// A history encoder.
pub trait Encoder: std::fmt::Debug + Send {
    /// Encodes a batch into contexts `[B, L + 1, H]` (see [`History`]).
    fn encode(&self, batch: &TppBatch, train: bool) -> Result<History>;
    /// Context width H.
    fn out_dim(&self) -> i64;
    /// Width of the per-event states in [`History::events`].
    fn event_dim(&self) -> i64 {
        self.out_dim()
    }
    /// Floating-point kind of the parameters, when known (batches must match it).
    fn kind(&self) -> Option<Kind> {
        None
    }
}

/// Builds the encoder of `cfg`.
pub(crate) fn build(path: &nn::Path<'_>, cfg: &TppConfig) -> Result<Box<dyn Encoder>> {
    Ok(match cfg.encoder {
        EncoderKind::Gru => Box::new(RnnEncoder::new(path, cfg.num_marks, cfg.hidden, false)),
        EncoderKind::Lstm => Box::new(RnnEncoder::new(path, cfg.num_marks, cfg.hidden, true)),
        EncoderKind::SelfAttention => {
            Box::new(AttentionEncoder::new(path, cfg.num_marks, cfg.hidden, cfg.layers, cfg.heads)?)
        }
        EncoderKind::CtLstm => Box::new(CtLstmEncoder::new(path, cfg.num_marks, cfg.hidden)),
    })
}

fn history(batch: &TppBatch, ctx: Tensor, events: Tensor) -> History {
    let b = batch.batch_size();
    let zeros = Tensor::zeros([b, 1], (batch.kind(), batch.device()));
    History {
        ctx,
        prev_times: Tensor::cat(&[&zeros, &batch.times], 1),
        events,
        event_times: batch.times.shallow_clone(),
        event_mask: batch.mask.shallow_clone(),
    }
}

/// `[Δt, ln(Δt + 10⁻³)]` per event, `[B, L, 2]`.
fn gap_features(batch: &TppBatch) -> Tensor {
    let g = batch.gaps().unsqueeze(-1);
    Tensor::cat(&[g.shallow_clone(), (g + 1e-3).log()], -1)
}

/// Prepends a learned initial context `h0 [H]` to per-event states `[B, L, H]`.
fn prepend(h0: &Tensor, states: &Tensor) -> Tensor {
    let (b, _, h) = states.size3().expect("[B, L, H]");
    Tensor::cat(&[&h0.view([1, 1, h]).expand([b, 1, h], false), states], 1)
}

/// The recurrent cell of an [`RnnEncoder`].
#[derive(Debug)]
enum Recurrence {
    Gru(nn::GRU),
    Lstm(nn::LSTM),
}

/// Recurrent history (RMTPP's): input per event `x_j = [emb(m_j), Δt_j, ln(Δt_j + 10⁻³)]`
/// (`[B, L, H + 2]`), GRU or LSTM states `h_j [B, L, H]`; the context of interval `i` is
/// `h_{i−1}` (a learned `h_0` for the first interval).
#[derive(Debug)]
pub struct RnnEncoder {
    emb: nn::Embedding,
    rnn: Recurrence,
    h0: Tensor,
    hidden: i64,
}

impl RnnEncoder {
    /// GRU (`lstm = false`) or LSTM encoder of width `hidden` over `num_marks` marks.
    pub fn new(path: &nn::Path<'_>, num_marks: usize, hidden: i64, lstm: bool) -> Self {
        let emb = nn::embedding(path / "emb", num_marks as i64, hidden, Default::default());
        let cfg = nn::RNNConfig { batch_first: true, ..Default::default() };
        let rnn = if lstm {
            Recurrence::Lstm(nn::lstm(path / "rnn", hidden + 2, hidden, cfg))
        } else {
            Recurrence::Gru(nn::gru(path / "rnn", hidden + 2, hidden, cfg))
        };
        RnnEncoder { emb, rnn, h0: path.zeros("h0", &[hidden]), hidden }
    }
}

impl Encoder for RnnEncoder {
    fn encode(&self, batch: &TppBatch, _train: bool) -> Result<History> {
        let (b, l) = (batch.batch_size(), batch.max_len());
        let states = if l == 0 {
            Tensor::zeros([b, 0, self.hidden], (batch.kind(), batch.device()))
        } else {
            let x = Tensor::cat(&[batch.marks.apply(&self.emb), gap_features(batch)], -1);
            match &self.rnn {
                Recurrence::Gru(g) => g.seq(&x).0,
                Recurrence::Lstm(m) => m.seq(&x).0,
            }
        };
        let ctx = prepend(&self.h0, &states);
        Ok(history(batch, ctx, states))
    }
    fn out_dim(&self) -> i64 {
        self.hidden
    }
    fn kind(&self) -> Option<Kind> {
        Some(self.h0.kind())
    }
}

/// Self-attention history (THP / SAHP): `x_j = emb(m_j) + z(t_j) + W[Δt_j, ln(Δt_j + 10⁻³)]` with
/// the sinusoidal time encoding `z` of the event time and a learned projection of the gap to the
/// previous event (in the spirit of SAHP's time-shifted encoding), then `layers` post-norm transformer blocks
/// `x ← LN(x + MHA(x)); x ← LN(x + FFN(x))` with causal masks (event `j` attends to events `≤ j`).
/// The context of interval `i` is the state of event `i − 1` (a learned `h_0` for the first).
/// Shapes `[B, L, H]`.
#[derive(Debug)]
pub struct AttentionEncoder {
    emb: nn::Embedding,
    time: SinusoidalTimeEncoding,
    gap: nn::Linear,
    blocks: Vec<(MultiHeadAttention, nn::LayerNorm, Mlp, nn::LayerNorm)>,
    h0: Tensor,
    hidden: i64,
}

impl AttentionEncoder {
    /// Encoder of width `hidden` with `layers` blocks of `heads` heads.
    pub fn new(path: &nn::Path<'_>, num_marks: usize, hidden: i64, layers: i64, heads: i64) -> Result<Self> {
        let emb = nn::embedding(path / "emb", num_marks as i64, hidden, Default::default());
        let mut blocks = Vec::new();
        for i in 0..layers {
            let p = path / format!("block{i}");
            blocks.push((
                MultiHeadAttention::new(&(&p / "attn"), hidden, heads, 0.0)?,
                nn::layer_norm(&p / "ln1", vec![hidden], Default::default()),
                Mlp::new(
                    &(&p / "ffn"),
                    &[hidden, 2 * hidden, hidden],
                    MlpConfig::default().activation(Activation::Gelu),
                )?,
                nn::layer_norm(&p / "ln2", vec![hidden], Default::default()),
            ));
        }
        Ok(AttentionEncoder {
            emb,
            time: SinusoidalTimeEncoding::new(hidden)?,
            gap: nn::linear(path / "gap", 2, hidden, Default::default()),
            blocks,
            h0: path.zeros("h0", &[hidden]),
            hidden,
        })
    }
}

impl Encoder for AttentionEncoder {
    fn encode(&self, batch: &TppBatch, train: bool) -> Result<History> {
        let (b, l) = (batch.batch_size(), batch.max_len());
        let mut x = if l == 0 {
            Tensor::zeros([b, 0, self.hidden], (batch.kind(), batch.device()))
        } else {
            batch.marks.apply(&self.emb)
                + self.time.encode(&batch.times)
                + gap_features(batch).apply(&self.gap)
        };
        if l > 0 {
            let pad = batch.mask.logical_not();
            for (attn, ln1, ffn, ln2) in &self.blocks {
                let mask = AttentionMask { key_padding: Some(&pad), causal: true, strict: false };
                let a = attn.forward(&x, &x, &x, mask, train)?;
                x = (&x + a).apply(ln1);
                let f = ffn.try_forward(&x, train)?;
                x = (&x + f).apply(ln2);
            }
        }
        let ctx = prepend(&self.h0, &x);
        Ok(history(batch, ctx, x))
    }
    fn out_dim(&self) -> i64 {
        self.hidden
    }
    fn kind(&self) -> Option<Kind> {
        Some(self.h0.kind())
    }
}

/// Continuous-time LSTM (NHP, Mei & Eisner 2017). At event `j` (input `k_j = emb(m_j)`, state
/// `h(t_j)` just before it) the gates `i, f, ī, f̄, o = σ(W[k_j, h(t_j)])`, `z = tanh(·)`,
/// `δ = softplus(·)` give `c_{j+1} = f ⊙ c(t_j) + i ⊙ z`, `c̄_{j+1} = f̄ ⊙ c̄_j + ī ⊙ z`; between
/// events `c(t) = c̄ + (c − c̄) e^{−δ (t − t_j)}` and `h(t) = o ⊙ tanh(c(t))`. A beginning-of-sequence
/// input at time 0 gives the first interval's state.
///
/// Context of interval `i`: `[c, c̄, δ, o]` of the state after event `i − 1`, `[B, L + 1, 4H]`; the
/// per-event states are `h` right after each event, `[B, L, H]`.
#[derive(Debug)]
pub struct CtLstmEncoder {
    emb: nn::Embedding,
    input: nn::Linear,
    recurrent: nn::Linear,
    hidden: i64,
    bos: i64,
}

impl CtLstmEncoder {
    /// Encoder of width `hidden` over `num_marks` marks (plus a BOS input).
    pub fn new(path: &nn::Path<'_>, num_marks: usize, hidden: i64) -> Self {
        let no_bias = nn::LinearConfig { bias: false, ..Default::default() };
        CtLstmEncoder {
            emb: nn::embedding(path / "emb", num_marks as i64 + 1, hidden, Default::default()),
            input: nn::linear(path / "input", hidden, 7 * hidden, Default::default()),
            recurrent: nn::linear(path / "recurrent", hidden, 7 * hidden, no_bias),
            hidden,
            bos: num_marks as i64,
        }
    }

    /// One cell update from the projected input `x [B, 7H]`, decayed `c(t) [B, H]`, `h(t) [B, H]`
    /// and the previous `c̄`; returns `(c, c̄, δ, o)`.
    fn step(&self, x: &Tensor, c_t: &Tensor, h_t: &Tensor, cbar: &Tensor) -> [Tensor; 4] {
        let g = (x + h_t.apply(&self.recurrent)).chunk(7, -1);
        let (i, f, z, o) = (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
        let (ib, fb, d) = (g[4].sigmoid(), g[5].sigmoid(), g[6].softplus());
        let c = f * c_t + &i * &z;
        let cb = fb * cbar + ib * z;
        [c, cb, d, o]
    }
}

impl Encoder for CtLstmEncoder {
    fn encode(&self, batch: &TppBatch, _train: bool) -> Result<History> {
        let (b, l) = (batch.batch_size(), batch.max_len());
        let h = self.hidden;
        let (kind, dev) = (batch.kind(), batch.device());
        let zeros = Tensor::zeros([b, h], (kind, dev));
        let bos = Tensor::full([b], self.bos, (Kind::Int64, dev)).apply(&self.emb).apply(&self.input);
        let mut state = self.step(&bos, &zeros, &zeros, &zeros);
        let mut states: [Vec<Tensor>; 4] = Default::default();
        let mut after = Vec::with_capacity(l as usize);
        let gaps = batch.gaps();
        let x = batch.marks.apply(&self.emb).apply(&self.input); // [B, L, 7H], all steps at once
        for j in 0..=l {
            for (v, s) in states.iter_mut().zip(&state) {
                v.push(s.shallow_clone());
            }
            if j == l {
                break;
            }
            let [c, cb, d, o] = &state;
            let c_t = cb + (c - cb) * (-(d * gaps.select(1, j).unsqueeze(1))).exp();
            let h_t = o * c_t.tanh();
            state = self.step(&x.select(1, j), &c_t, &h_t, cb);
            after.push(&state[3] * state[0].tanh());
        }
        let ctx: Vec<Tensor> = states.iter().map(|v| Tensor::stack(v, 1)).collect();
        let events = if l == 0 { Tensor::zeros([b, 0, h], (kind, dev)) } else { Tensor::stack(&after, 1) };
        Ok(history(batch, Tensor::cat(&ctx, -1), events))
    }
    fn out_dim(&self) -> i64 {
        4 * self.hidden
    }
    fn event_dim(&self) -> i64 {
        self.hidden
    }
    fn kind(&self) -> Option<Kind> {
        Some(self.input.ws.kind())
    }
}
