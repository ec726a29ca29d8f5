//! Multi-head scaled dot-product attention with padding and causal masks (Vaswani et al. 2017).

use super::mlp::torch_default_linear;
use crate::error::{Error, Result};
use tch::{nn, Kind, Tensor};

/// Multi-head attention `softmax(Q Kᵀ / √d_head + M) V` with learned projections.
///
/// Shapes: `query [B, Tq, D]`, `key`/`value [B, Tk, D]`, output `[B, Tq, D]`, weights
/// `[B, H, Tq, Tk]`. Padded keys (`key_padding_mask[b, k] = true`) and, when `causal`, keys with
/// `k > q` get zero weight. A query whose keys are all masked returns zeros rather than NaN.
#[derive(Debug)]
pub struct MultiHeadAttention {
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    o: nn::Linear,
    heads: i64,
    dim: i64,
    dropout: f64,
}

/// Options of one attention call.
#[derive(Debug, Default, Clone, Copy)]
pub struct AttentionMask<'a> {
    /// `[B, Tk]` boolean tensor, `true` where the key is padding.
    pub key_padding: Option<&'a Tensor>,
    /// Mask keys after the query position (`k > q`); requires `Tq == Tk` alignment.
    pub causal: bool,
    /// Also mask the key at the query position itself (`k ≥ q`): strictly-past attention, as used
    /// by point-process encoders whose intensity at an event may not see that event.
    pub strict: bool,
}

impl MultiHeadAttention {
    /// New attention block with model width `dim` split over `heads` heads.
    pub fn new(path: &nn::Path<'_>, dim: i64, heads: i64, dropout: f64) -> Result<Self> {
        if heads <= 0 || dim <= 0 || dim % heads != 0 {
            return Err(Error::invalid("heads", heads, format!("must be > 0 and divide dim = {dim}")));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(Error::invalid("dropout", dropout, "must be in [0, 1)"));
        }
        let lin = |name: &str| torch_default_linear(&(path / name), dim, dim, true);
        Ok(MultiHeadAttention { q: lin("q"), k: lin("k"), v: lin("v"), o: lin("o"), heads, dim, dropout })
    }

    /// Model width.
    pub fn dim(&self) -> i64 {
        self.dim
    }

    /// Number of heads.
    pub fn heads(&self) -> i64 {
        self.heads
    }

    fn split(&self, x: &Tensor) -> Tensor {
        let (b, t, _) = x.size3().expect("checked 3-d");
        x.view([b, t, self.heads, self.dim / self.heads]).transpose(1, 2)
    }

    /// Attention output `[B, Tq, D]` and weights `[B, H, Tq, Tk]`.
    pub fn forward_with_weights(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        mask: AttentionMask<'_>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (b, tq, d) = query.size3().map_err(|_| Error::shape("query", "[B, Tq, D]", query.size()))?;
        let (bk, tk, dk) = key.size3().map_err(|_| Error::shape("key", "[B, Tk, D]", key.size()))?;
        if d != self.dim || dk != self.dim || bk != b {
            return Err(Error::shape("key", [b, tk, self.dim], key.size()));
        }
        if value.size() != key.size() {
            return Err(Error::shape("value", key.size(), value.size()));
        }
        let q = self.split(&query.apply(&self.q));
        let k = self.split(&key.apply(&self.k));
        let v = self.split(&value.apply(&self.v));
        let scale = 1.0 / ((self.dim / self.heads) as f64).sqrt();
        let mut scores = q.matmul(&k.transpose(-2, -1)) * scale; // [B, H, Tq, Tk]
        let dev = query.device();
        let mut masked = Tensor::zeros([b, 1, tq, tk], (Kind::Bool, dev));
        if let Some(pad) = mask.key_padding {
            if pad.size() != [b, tk] {
                return Err(Error::shape("key_padding", [b, tk], pad.size()));
            }
            masked = masked.logical_or(&pad.to_kind(Kind::Bool).view([b, 1, 1, tk]));
        }
        if mask.causal || mask.strict {
            let diag = if mask.strict { 0 } else { 1 };
            let fut = Tensor::ones([tq, tk], (Kind::Bool, dev)).triu(diag);
            masked = masked.logical_or(&fut.view([1, 1, tq, tk]));
        }
        scores = scores.masked_fill(&masked, f64::NEG_INFINITY);
        // Rows with every key masked give NaN after softmax; they attend to nothing.
        let weights = scores.softmax(-1, scores.kind()).nan_to_num(0.0, None, None);
        let weights = weights.dropout(self.dropout, train);
        let out = weights.matmul(&v).transpose(1, 2).contiguous().view([b, tq, self.dim]).apply(&self.o);
        Ok((out, weights))
    }

    /// Attention output `[B, Tq, D]`.
    pub fn forward(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        mask: AttentionMask<'_>,
        train: bool,
    ) -> Result<Tensor> {
        Ok(self.forward_with_weights(query, key, value, mask, train)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn setup() -> (nn::VarStore, MultiHeadAttention) {
        crate::seed::seed_torch(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let mha = MultiHeadAttention::new(&vs.root(), 8, 2, 0.0).unwrap();
        (vs, mha)
    }

    #[test]
    fn single_head_matches_formula() {
        crate::seed::seed_torch(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let mha = MultiHeadAttention::new(&vs.root(), 4, 1, 0.0).unwrap();
        let x = Tensor::randn([1, 3, 4], (Kind::Float, Device::Cpu));
        let q = x.apply(&mha.q);
        let k = x.apply(&mha.k);
        let v = x.apply(&mha.v);
        let w = (q.matmul(&k.transpose(-2, -1)) / 2.0).softmax(-1, Kind::Float);
        let expected = w.matmul(&v).apply(&mha.o);
        let got = mha.forward(&x, &x, &x, AttentionMask::default(), false).unwrap();
        assert!(got.allclose(&expected, 1e-5, 1e-6, false));
    }

    #[test]
    fn causal_mask_blocks_the_future() {
        let (_vs, mha) = setup();
        let x = Tensor::randn([2, 5, 8], (Kind::Float, Device::Cpu));
        let y = x.copy();
        let _ = y.narrow(1, 3, 2).fill_(7.0);
        let m = AttentionMask { causal: true, ..Default::default() };
        let a = mha.forward(&x, &x, &x, m, false).unwrap();
        let b = mha.forward(&y, &y, &y, m, false).unwrap();
        assert!(a.narrow(1, 0, 3).allclose(&b.narrow(1, 0, 3), 1e-6, 1e-6, false));
        assert!(!a.narrow(1, 3, 2).allclose(&b.narrow(1, 3, 2), 1e-3, 1e-3, false));
        // strict: position q does not even see itself; position 0 sees nothing and returns o(0)
        let s = AttentionMask { strict: true, ..Default::default() };
        let (_, w) = mha.forward_with_weights(&x, &x, &x, s, false).unwrap();
        assert_eq!(w.get(0).get(0).get(2).double_value(&[2]), 0.0);
        assert_eq!(w.get(0).get(0).get(0).sum(Kind::Float).double_value(&[]), 0.0);
        assert_eq!(w.isnan().any().int64_value(&[]), 0);
    }

    #[test]
    fn padding_mask_ignores_padded_keys() {
        let (_vs, mha) = setup();
        let x = Tensor::randn([1, 4, 8], (Kind::Float, Device::Cpu));
        let y = x.copy();
        let _ = y.narrow(1, 3, 1).fill_(-5.0);
        let pad = Tensor::from_slice(&[false, false, false, true]).view([1, 4]);
        let m = AttentionMask { key_padding: Some(&pad), ..Default::default() };
        let a = mha.forward(&x, &x, &x, m, false).unwrap();
        let b = mha.forward(&x, &y, &y, m, false).unwrap();
        assert!(a.allclose(&b, 1e-6, 1e-6, false));
        let (_, w) = mha.forward_with_weights(&x, &x, &x, m, false).unwrap();
        assert_eq!(w.narrow(3, 3, 1).abs().sum(Kind::Float).double_value(&[]), 0.0);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let (_vs, mha) = setup();
        let x = Tensor::zeros([2, 5, 8], (Kind::Float, Device::Cpu));
        let bad = Tensor::zeros([2, 5, 6], (Kind::Float, Device::Cpu));
        assert!(mha.forward(&x, &bad, &bad, AttentionMask::default(), false).is_err());
        let pad = Tensor::zeros([2, 4], (Kind::Bool, Device::Cpu));
        let m = AttentionMask { key_padding: Some(&pad), ..Default::default() };
        assert!(mha.forward(&x, &x, &x, m, false).is_err());
        let vs = nn::VarStore::new(Device::Cpu);
        assert!(MultiHeadAttention::new(&vs.root(), 8, 3, 0.0).is_err());
    }
}
