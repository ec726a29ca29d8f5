//! A multi-layer perceptron evaluated and differentiated in plain Rust.

use super::activation;
use super::real::Real;
use super::skinny::{self, SKINNY};
use crate::error::{Error, Result};
use crate::nn::{Activation, Mlp};
use rayon::prelude::*;
use tch::{nn, Device, Tensor};

/// Rows per block: the batch is cut into blocks of this many rows, evaluated in parallel. Fixed
/// (not derived from the thread count), so that results do not depend on the machine.
pub const BLOCK_ROWS: usize = 256;

/// `x ↦ W_L φ(… φ(W_1 x + b_1) …) + b_L` (then the optional final activation), the network of
/// [`Mlp`] in evaluation mode, in plain Rust.
///
/// Shapes: input `[rows, widths[0]]`, output `[rows, widths[last]]`, both row-major slices.
/// Weights are stored as libtorch stores them (`[out, in]` row-major); parameters, in the flat
/// order used by [`NativeMlp::vjp`], are each layer's weight then its bias, input layer first.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeMlp<T> {
    widths: Vec<usize>,
    weights: Vec<Vec<T>>,
    biases: Vec<Option<Vec<T>>>,
    activation: Activation,
    final_activation: Option<Activation>,
}

/// The activations of one forward pass, kept for the vector–Jacobian product; reusable across
/// passes (buffers are resized, not reallocated, when the batch keeps its size).
#[derive(Debug, Default)]
pub struct MlpCache<T> {
    rows: usize,
    blocks: Vec<Block<T>>,
}

/// One row block's buffers, feature-major (`[width, rows]`).
#[derive(Debug, Default)]
struct Block<T> {
    /// The block's input, transposed: `[in, rows]`.
    xt: Vec<T>,
    /// Pre-activations per layer (kept only for activations whose derivative needs them).
    z: Vec<Vec<T>>,
    /// Activations per layer (the last one is the output).
    a: Vec<Vec<T>>,
    /// Scratch cotangents of the backward pass.
    g: Vec<T>,
    g_in: Vec<T>,
    /// Scratch for one layer's weight gradient.
    gw: Vec<T>,
    /// This block's parameter gradient.
    gp: Vec<T>,
}

impl<T: Real> NativeMlp<T> {
    /// A network from its widths `[in, hidden..., out]`, weights (`[out, in]` row-major per layer),
    /// optional biases and activations. Checks every size.
    pub fn new(
        widths: Vec<usize>,
        weights: Vec<Vec<T>>,
        biases: Vec<Option<Vec<T>>>,
        activation: Activation,
        final_activation: Option<Activation>,
    ) -> Result<Self> {
        if widths.len() < 2 || widths.contains(&0) {
            return Err(Error::invalid("widths", format!("{widths:?}"), "need [in, ..., out], all > 0"));
        }
        let layers = widths.len() - 1;
        if weights.len() != layers || biases.len() != layers {
            return Err(Error::invalid(
                "weights, biases",
                format!("{} and {}", weights.len(), biases.len()),
                format!("need {layers} layers for widths {widths:?}"),
            ));
        }
        for l in 0..layers {
            if weights[l].len() != widths[l] * widths[l + 1] {
                return Err(Error::shape(
                    format!("weights[{l}]"),
                    [widths[l + 1], widths[l]],
                    [weights[l].len()],
                ));
            }
            if let Some(b) = &biases[l] {
                if b.len() != widths[l + 1] {
                    return Err(Error::shape(format!("biases[{l}]"), [widths[l + 1]], [b.len()]));
                }
            }
        }
        Ok(NativeMlp { widths, weights, biases, activation, final_activation })
    }

    /// A copy of a libtorch [`Mlp`]'s weights, converted to `T` (dropout is ignored: evaluation mode).
    pub fn from_mlp(mlp: &Mlp) -> Result<Self> {
        let cfg = mlp.config();
        NativeMlp::from_layers(mlp.layers(), cfg.activation, cfg.final_activation)
    }

    /// A copy of a stack of libtorch linear layers (input first) with `activation` between them
    /// and `final_activation` after the last — a single layer with `Identity` is a linear map.
    pub fn from_layers(
        layers: &[nn::Linear],
        activation: Activation,
        final_activation: Option<Activation>,
    ) -> Result<Self> {
        let first = layers.first().ok_or_else(|| Error::invalid("layers", 0, "need at least one layer"))?;
        let mut widths = vec![first.ws.size()[1] as usize];
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for layer in layers {
            widths.push(layer.ws.size()[0] as usize);
            weights.push(host_values::<T>(&layer.ws)?);
            biases.push(layer.bs.as_ref().map(host_values::<T>).transpose()?);
        }
        NativeMlp::new(widths, weights, biases, activation, final_activation)
    }

    /// Copies the current values of `mlp`'s weights (after an optimiser step, say); `mlp` must
    /// have this network's widths.
    pub fn load(&mut self, mlp: &Mlp) -> Result<()> {
        let fresh = NativeMlp::<T>::from_mlp(mlp)?;
        if fresh.widths != self.widths
            || fresh.biases.iter().zip(&self.biases).any(|(a, b)| a.is_some() != b.is_some())
        {
            return Err(Error::invalid(
                "mlp",
                format!("widths {:?}", fresh.widths),
                format!("expected this network's widths {:?}", self.widths),
            ));
        }
        *self = fresh;
        Ok(())
    }

    /// Layer widths `[in, hidden..., out]`.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }
    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.widths[0]
    }
    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }
    /// Number of parameters (the length of a flat parameter gradient).
    pub fn num_params(&self) -> usize {
        self.weights.iter().map(Vec::len).sum::<usize>()
            + self.biases.iter().map(|b| b.as_ref().map_or(0, Vec::len)).sum::<usize>()
    }

    fn check_rows(&self, name: &str, xs: &[T], width: usize) -> Result<usize> {
        if !xs.len().is_multiple_of(width) {
            return Err(Error::shape(name, format!("[rows, {width}]"), [xs.len()]));
        }
        Ok(xs.len() / width)
    }

    /// `y = MLP(x)` for `x [rows, in]`: a new `[rows, out]` vector.
    pub fn forward(&self, x: &[T]) -> Result<Vec<T>> {
        let mut cache = MlpCache::default();
        let mut out = vec![T::ZERO; self.check_rows("x", x, self.in_dim())? * self.out_dim()];
        self.forward_into(x, &mut out, &mut cache)?;
        Ok(out)
    }

    /// `out = MLP(x)` for `x [rows, in]`, `out [rows, out]`, keeping the activations in `cache`
    /// for [`NativeMlp::vjp`]. Blocks of [`BLOCK_ROWS`] rows run in parallel.
    pub fn forward_into(&self, x: &[T], out: &mut [T], cache: &mut MlpCache<T>) -> Result<()> {
        let rows = self.check_rows("x", x, self.in_dim())?;
        if out.len() != rows * self.out_dim() {
            return Err(Error::shape("out", [rows, self.out_dim()], [out.len()]));
        }
        cache.rows = rows;
        let n_blocks = rows.div_ceil(BLOCK_ROWS).max(1);
        cache.blocks.resize_with(n_blocks, Block::default);
        let (wi, wo) = (self.in_dim(), self.out_dim());
        if n_blocks == 1 {
            self.forward_block(x, out, &mut cache.blocks[0]);
        } else {
            cache
                .blocks
                .par_iter_mut()
                .zip(x.par_chunks(BLOCK_ROWS * wi))
                .zip(out.par_chunks_mut(BLOCK_ROWS * wo))
                .for_each(|((b, x), o)| self.forward_block(x, o, b));
        }
        Ok(())
    }

    fn layer_activation(&self, l: usize) -> Option<Activation> {
        if l + 1 < self.weights.len() {
            Some(self.activation)
        } else {
            self.final_activation
        }
    }

    /// Whether layer `l` goes through the packed GEMM (both widths above [`SKINNY`]); otherwise
    /// through the row-wise kernels, which need feature-major operands.
    fn packed(&self, l: usize) -> bool {
        self.widths[l] > SKINNY && self.widths[l + 1] > SKINNY
    }

    /// The block's input as the `[in, rows]` operand `(slice, row stride, column stride)`: the
    /// row-major `x` read with strides when the first layer is packed, its transpose otherwise.
    fn input_operand<'a>(&self, x: &'a [T], xt: &'a [T], rows: usize) -> (&'a [T], usize, usize) {
        if self.packed(0) {
            (x, 1, self.in_dim())
        } else {
            (xt, rows, 1)
        }
    }

    /// Strides `(row, column)` of layer `l`'s `[wo, rows]` activations: the last packed layer
    /// writes row-major `[rows, out]` (the output's own layout, no transpose), every other one
    /// feature-major.
    fn act_strides(&self, l: usize, rows: usize) -> (usize, usize) {
        if l + 1 == self.weights.len() && self.packed(l) {
            (1, self.widths[l + 1])
        } else {
            (rows, 1)
        }
    }

    fn forward_block(&self, x: &[T], out: &mut [T], b: &mut Block<T>) {
        let layers = self.weights.len();
        let rows = x.len() / self.in_dim();
        if !self.packed(0) {
            b.xt.resize(x.len(), T::ZERO);
            skinny::transpose(x, rows, self.in_dim(), &mut b.xt);
        }
        b.z.resize_with(layers, Vec::new);
        b.a.resize_with(layers, Vec::new);
        for l in 0..layers {
            let (wi, wo) = (self.widths[l], self.widths[l + 1]);
            let (done, rest) = b.a.split_at_mut(l);
            let input = if l == 0 { self.input_operand(x, &b.xt, rows) } else { (&done[l - 1][..], rows, 1) };
            let a = &mut rest[0];
            a.resize(rows * wo, T::ZERO);
            let (rsc, csc) = self.act_strides(l, rows);
            // a = W · input   ([wo, wi] × [wi, rows])
            if self.packed(l) {
                T::gemm(wo, wi, rows, T::ONE, (&self.weights[l], wi, 1), input, T::ZERO, (a, rsc, csc));
            } else {
                skinny::small_gemm((&self.weights[l], wi, 1), wo, wi, input.0, a);
            }
            let act = self.layer_activation(l);
            let feature_major = rsc == rows;
            if let (Some(Activation::Tanh), Some(bias), true) = (act, &self.biases[l], feature_major) {
                T::bias_tanh_in_place(a, bias, rows);
                continue;
            }
            if let Some(bias) = &self.biases[l] {
                if feature_major {
                    for (row, bj) in a.chunks_exact_mut(rows.max(1)).zip(bias) {
                        for v in row {
                            *v += *bj;
                        }
                    }
                } else {
                    for row in a.chunks_exact_mut(wo) {
                        for (v, bj) in row.iter_mut().zip(bias) {
                            *v += *bj;
                        }
                    }
                }
            }
            if let Some(act) = act {
                if activation::derivative_needs_input(act) {
                    let z = &mut b.z[l];
                    z.clear();
                    z.extend_from_slice(a);
                    activation::apply(act, z, a);
                } else {
                    apply_in_place(act, a);
                }
            }
        }
        if self.act_strides(layers - 1, rows).0 == 1 {
            out.copy_from_slice(&b.a[layers - 1]);
        } else {
            skinny::transpose(&b.a[layers - 1], self.out_dim(), rows, out);
        }
    }

    /// Vector–Jacobian product at the inputs `x` of the last [`NativeMlp::forward_into`] (whose
    /// activations `cache` holds): given `gy = ∂L/∂y [rows, out]`, adds `∂L/∂θ` to `gparams`
    /// (flat, [`NativeMlp::num_params`]) and, when asked, writes `∂L/∂x [rows, in]` to `gx`.
    pub fn vjp(
        &self,
        cache: &mut MlpCache<T>,
        x: &[T],
        gy: &[T],
        gx: Option<&mut [T]>,
        gparams: &mut [T],
    ) -> Result<()> {
        let rows = self.check_rows("x", x, self.in_dim())?;
        if rows != cache.rows || cache.blocks.is_empty() {
            return Err(Error::invalid(
                "cache",
                cache.rows,
                format!("holds no forward pass of these {rows} rows"),
            ));
        }
        if gy.len() != rows * self.out_dim() {
            return Err(Error::shape("gy", [rows, self.out_dim()], [gy.len()]));
        }
        if gparams.len() != self.num_params() {
            return Err(Error::shape("gparams", [self.num_params()], [gparams.len()]));
        }
        let (wi, wo) = (self.in_dim(), self.out_dim());
        let mut scratch;
        let gx: &mut [T] = match gx {
            Some(g) if g.len() == rows * wi => g,
            Some(g) => return Err(Error::shape("gx", [rows, wi], [g.len()])),
            None => {
                scratch = Vec::new();
                &mut scratch[..]
            }
        };
        let want_gx = !gx.is_empty();
        let np = self.num_params();
        let gx_chunk = if want_gx { BLOCK_ROWS * wi } else { 1 };
        let blocks = &mut cache.blocks;
        if blocks.len() == 1 {
            // one block: its gradient goes straight into `gparams`
            self.backward_block(x, gy, if want_gx { Some(gx) } else { None }, &mut blocks[0], gparams);
            return Ok(());
        } else {
            let mut gx_parts: Vec<Option<&mut [T]>> = if want_gx {
                gx.chunks_mut(gx_chunk).map(Some).collect()
            } else {
                (0..blocks.len()).map(|_| None).collect()
            };
            blocks
                .par_iter_mut()
                .zip(x.par_chunks(BLOCK_ROWS * wi))
                .zip(gy.par_chunks(BLOCK_ROWS * wo))
                .zip(gx_parts.par_iter_mut())
                .for_each(|(((b, x), gy), gx)| {
                    let mut gp = std::mem::take(&mut b.gp);
                    gp.clear();
                    gp.resize(np, T::ZERO);
                    self.backward_block(x, gy, gx.take(), b, &mut gp);
                    b.gp = gp;
                });
        }
        for b in blocks.iter() {
            for (p, g) in gparams.iter_mut().zip(&b.gp) {
                *p += *g;
            }
        }
        Ok(())
    }

    /// The reverse pass of one block, adding its parameter gradient to `gp`.
    fn backward_block(&self, x: &[T], gy: &[T], gx: Option<&mut [T]>, b: &mut Block<T>, gp: &mut [T]) {
        let layers = self.weights.len();
        let rows = x.len() / self.in_dim();
        b.g.resize(gy.len(), T::ZERO);
        if self.act_strides(layers - 1, rows).0 == 1 {
            b.g.copy_from_slice(gy);
        } else {
            skinny::transpose(gy, rows, self.out_dim(), &mut b.g);
        }
        let mut off = self.num_params();
        let mut gx = gx;
        for l in (0..layers).rev() {
            let (wi, wo) = (self.widths[l], self.widths[l + 1]);
            off -= self.weights[l].len() + self.biases[l].as_ref().map_or(0, Vec::len);
            if let Some(act) = self.layer_activation(l) {
                let z = if activation::derivative_needs_input(act) { &b.z[l] } else { &b.a[l] };
                activation::backward(act, z, &b.a[l], &mut b.g);
            }
            // g as the [wo, rows] operand, in the layout of this layer's activations
            let (rsg, csg) = self.act_strides(l, rows);
            let input = if l == 0 { self.input_operand(x, &b.xt, rows) } else { (&b.a[l - 1][..], rows, 1) };
            let (gw, gb) = gp[off..].split_at_mut(self.weights[l].len());
            // ∂L/∂W = g · inputᵀ   ([wo, rows] × [rows, wi])
            if self.packed(l) {
                let (inp, rsi, csi) = input;
                T::gemm(wo, rows, wi, T::ONE, (&b.g, rsg, csg), (inp, csi, rsi), T::ONE, (gw, wi, 1));
            } else {
                b.gw.resize(wo * wi, T::ZERO);
                skinny::row_dots(&b.g, input.0, rows, &mut b.gw);
                for (s, v) in gw.iter_mut().zip(&b.gw) {
                    *s += *v;
                }
            }
            if self.biases[l].is_some() {
                if rsg == rows {
                    skinny::row_sums(&b.g, rows, &mut gb[..wo]);
                } else {
                    for row in b.g.chunks_exact(wo) {
                        for (s, v) in gb[..wo].iter_mut().zip(row) {
                            *s += *v;
                        }
                    }
                }
            }
            if l == 0 && gx.is_none() {
                break;
            }
            // ∂L/∂input = Wᵀ · g   ([wi, wo] × [wo, rows]); the first layer's, when packed, is
            // written row-major straight into gx
            if self.packed(l) {
                let (w, g) = ((&self.weights[l][..], 1, wi), (&b.g[..], rsg, csg));
                if l == 0 {
                    if let Some(gx) = gx.take() {
                        T::gemm(wi, wo, rows, T::ONE, w, g, T::ZERO, (gx, 1, wi));
                    }
                    break;
                }
                b.g_in.resize(rows * wi, T::ZERO);
                T::gemm(wi, wo, rows, T::ONE, w, g, T::ZERO, (&mut b.g_in, rows, 1));
            } else {
                b.g_in.resize(rows * wi, T::ZERO);
                skinny::small_gemm((&self.weights[l], 1, wi), wi, wo, &b.g, &mut b.g_in);
            }
            std::mem::swap(&mut b.g, &mut b.g_in);
            if l == 0 {
                if let Some(gx) = gx.take() {
                    skinny::transpose(&b.g, wi, rows, gx);
                }
            }
        }
    }

    /// A flat parameter vector (the order of [`NativeMlp::vjp`]) as one tensor per variable of the
    /// libtorch [`Mlp`] (`layer{i}/weight [out, in]`, `layer{i}/bias [out]`, in that order) on
    /// `device`.
    pub fn unflatten(&self, flat: &[T], device: Device) -> Result<Vec<Tensor>> {
        if flat.len() != self.num_params() {
            return Err(Error::shape("flat", [self.num_params()], [flat.len()]));
        }
        let mut out = Vec::new();
        let mut off = 0;
        for l in 0..self.weights.len() {
            let (wi, wo) = (self.widths[l], self.widths[l + 1]);
            let t = to_tensor(&flat[off..off + wi * wo], &[wo as i64, wi as i64], device)?;
            out.push(t);
            off += wi * wo;
            if self.biases[l].is_some() {
                out.push(to_tensor(&flat[off..off + wo], &[wo as i64], device)?);
                off += wo;
            }
        }
        Ok(out)
    }

    /// Adds a flat parameter gradient of this network to the `.grad` of the libtorch `layers` it
    /// was copied from ([`NativeMlp::from_layers`]; [`Mlp::layers`] for an [`Mlp`]), on their
    /// device and in their kind ([`crate::train::accumulate_grads`]), so that a libtorch optimiser
    /// applies it.
    pub fn add_grads_to(&self, layers: &[nn::Linear], flat: &[T]) -> Result<()> {
        let first = layers
            .first()
            .ok_or_else(|| Error::invalid("layers", 0, "need the layers this network was copied from"))?;
        let device = first.ws.device();
        let grads = self.unflatten(flat, device)?;
        let params: Vec<Tensor> = layers
            .iter()
            .flat_map(|l| {
                std::iter::once(l.ws.shallow_clone()).chain(l.bs.as_ref().map(Tensor::shallow_clone))
            })
            .collect();
        if params.len() != grads.len() || params.iter().zip(&grads).any(|(p, g)| p.size() != g.size()) {
            return Err(Error::invalid(
                "layers",
                format!("{} tensors", params.len()),
                format!("are not the ones this network (widths {:?}) was copied from", self.widths),
            ));
        }
        crate::train::accumulate_grads(&params, &grads);
        Ok(())
    }
}

/// `a ← φ(a)` for the activations whose derivative reads only `a`.
fn apply_in_place<T: Real>(act: Activation, a: &mut [T]) {
    match act {
        Activation::Identity => {}
        Activation::Tanh => T::tanh_in_place(a),
        Activation::Relu => {
            for v in a.iter_mut() {
                // `v < 0`, not `v > 0`: NaN passes through as libtorch's relu lets it
                if *v < T::ZERO {
                    *v = T::ZERO;
                }
            }
        }
        _ => {
            let z = a.to_vec();
            activation::apply(act, &z, a);
        }
    }
}

/// A libtorch tensor's values (any kind, any device) as a flat host vector of `T`.
pub fn host_values<T: Real>(t: &Tensor) -> Result<Vec<T>> {
    let flat = t.f_to_kind(T::KIND)?.f_to(Device::Cpu)?.f_contiguous()?.f_view([-1])?;
    Vec::<T>::try_from(&flat).map_err(|e| Error::invalid("tensor", format!("{:?}", t.size()), e.to_string()))
}

fn to_tensor<T: Real>(v: &[T], shape: &[i64], device: Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(v).f_view(shape)?.f_to(device)?)
}

#[cfg(test)]
#[path = "mlp_tests.rs"]
mod tests;
