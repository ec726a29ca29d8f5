//! AttNHP's continuous-time attention (Yang, Mei & Eisner 2022).

use super::{check_tau, log_softplus, Decoder};
use crate::error::Result;
use crate::neural::encoder::History;
use core_tensor::nn::SinusoidalTimeEncoding;
use tch::{nn, Tensor};

/// The state at any time `t` is attention from a query built from the time itself over the
/// states of the events strictly before `t`: `q(t) = W_q z(t)`, keys/values
/// `W_{k,v} [e_j, z(t_j)]` for events `t_j < t` (`e_j` the encoder's event states, `z` the
/// sinusoidal time encoding), `a(t) = softmax(q kᵀ/√D) v` (zero when no event precedes `t`), and
/// `λ_k(t) = softplus(W_o [a(t), h] + b)_k` with `h` the interval's context. One attention layer
/// on top of the self-attention encoder stands in for the paper's stack of continuous-time
/// layers. Shapes: queries `[B, N·S, D]`, keys `[B, L, D]`.
#[derive(Debug)]
pub struct ContinuousAttentionDecoder {
    time: SinusoidalTimeEncoding,
    q: nn::Linear,
    kv: nn::Linear,
    out: nn::Linear,
    d: i64,
    k: usize,
}

impl ContinuousAttentionDecoder {
    /// Decoder over contexts of width `h`, event states of width `e`, `k` marks, attention width `d`.
    pub fn new(path: &nn::Path<'_>, h: i64, e: i64, k: usize, d: i64) -> Result<Self> {
        Ok(ContinuousAttentionDecoder {
            time: SinusoidalTimeEncoding::new(d)?,
            q: nn::linear(path / "q", d, d, Default::default()),
            kv: nn::linear(path / "kv", e + d, 2 * d, Default::default()),
            out: nn::linear(path / "out", d + h, k as i64, Default::default()),
            d,
            k,
        })
    }
}

impl Decoder for ContinuousAttentionDecoder {
    fn num_marks(&self) -> usize {
        self.k
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> Result<Tensor> {
        check_tau(h, tau)?;
        let (b, n, s) = tau.size3().map_err(core_tensor::Error::from)?;
        let l = h.event_times.size()[1];
        let t = (h.prev_times.unsqueeze(-1) + tau).view([b, n * s]); // absolute query times
        let q = self.time.encode(&t).apply(&self.q); // [B, NS, D]
        let a = if l == 0 {
            q.zeros_like()
        } else {
            let kv = Tensor::cat(&[h.events.shallow_clone(), self.time.encode(&h.event_times)], -1)
                .apply(&self.kv);
            let kv = kv.chunk(2, -1);
            let scores = q.matmul(&kv[0].transpose(1, 2)) / (self.d as f64).sqrt(); // [B, NS, L]
            let visible = h
                .event_times
                .unsqueeze(1)
                .lt_tensor(&t.unsqueeze(-1))
                .logical_and(&h.event_mask.unsqueeze(1));
            let w = scores.masked_fill(&visible.logical_not(), -1e9).softmax(-1, scores.kind());
            let any = visible.any_dim(-1, true).to_kind(w.kind());
            (w * any).matmul(&kv[1])
        };
        let ctx = h.ctx.unsqueeze(2).expand([b, n, s, h.ctx.size()[2]], false);
        let x = Tensor::cat(&[a.view([b, n, s, self.d]), ctx], -1).apply(&self.out);
        Ok(log_softplus(&x))
    }
}
