//! A fused training pass for feed-forward `Linear → Leaky → … → Linear → Leaky` networks.
//!
//! The tensor path ([`SpikingNet::forward_multi_step`] then `loss.backward()`) runs each leaky
//! neuron as ~15 libtorch operations per time step and records them all for autograd; for a
//! 1000-neuron layer over 25 steps that is ~400 dispatched kernels each way. Here a linear layer
//! whose input is binary (input spikes, or the spikes of the layer before) runs as event sums
//! ([`crate::event`]: the weight rows of the inputs that fired, added; the weight gradient
//! likewise), any other as one libtorch product over all `T · B` rows; each neuron layer's whole
//! time loop runs as one plain-Rust pass over `[T, B, N]`, and so does its backward pass: with the reset signal detached (as in the tensor path) the membrane
//! cotangent obeys `m̄_t = β m̄_{t+1} + s̄_t g(U_t − θ)` (times `1 − r_{t+1}` for the zero reset),
//! `Ī_t = m̄_t`, where `g` is the surrogate derivative. Linear-layer gradients are `Īᵀ h` (event
//! sums or a product) and `Ī W`, accumulated into the variables' `.grad`, so an optimiser steps the model as
//! after `loss.backward()` — the same spikes and, up to rounding, the same gradients (tested).
//!
//! Supported: fixed β (scalar or per neuron) and threshold, unit spikes, the delayed reset
//! (snnTorch's default), subtract / zero / no reset, every built-in surrogate, `f32`. Anything
//! else is an error naming the layer, with the tensor path as the alternative.

use crate::event::{self, Events};
use crate::neuron::{LifConstants, Reset};
use crate::surrogate::Surrogate;
use crate::{Error, Layer, Result, SpikingNet};
use rayon::prelude::*;
use tch::{Kind, Tensor};

/// What [`SpikingNet::fused_backward`] returns.
#[derive(Debug)]
pub struct FusedOutput {
    /// The loss value.
    pub loss: f64,
    /// Output spikes `[T, B, out]` (no graph).
    pub spk: Tensor,
}

/// One `Linear → Leaky` stage of the network.
struct Stage<'a> {
    linear: &'a tch::nn::Linear,
    lif: LifConstants,
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    core_tensor::native::host_values(t)
}

/// β and θ expanded to one value per neuron.
fn per_neuron(v: &[f32], n: usize, name: &str) -> Result<Vec<f32>> {
    match v.len() {
        1 => Ok(vec![v[0]; n]),
        k if k == n => Ok(v.to_vec()),
        k => Err(Error::invalid(name, k, format!("need 1 or {n} values"))),
    }
}

/// Batch rows per part of the neuron passes: each neuron's recurrence is independent, so parts of
/// the batch run in parallel. Fixed, so results do not depend on the thread count.
const PART_ROWS: usize = 32;

/// Element ranges `[a, b)` of one time plane `[rows, n]`, [`PART_ROWS`] rows each.
fn parts(m: usize, n: usize) -> Vec<(usize, usize)> {
    let rows = m / n.max(1);
    (0..rows.div_ceil(PART_ROWS)).map(|p| (p * PART_ROWS * n, ((p + 1) * PART_ROWS).min(rows) * n)).collect()
}

/// `buf [T, m]` cut into, for each part, its slice of every time plane.
fn split_planes<'a>(buf: &'a mut [f32], m: usize, ranges: &[(usize, usize)]) -> Vec<Vec<&'a mut [f32]>> {
    let mut out: Vec<Vec<&mut [f32]>> = ranges.iter().map(|_| Vec::new()).collect();
    for plane in buf.chunks_mut(m.max(1)) {
        let mut rest = plane;
        let mut off = 0;
        for (k, &(_, b)) in ranges.iter().enumerate() {
            let (head, tail) = rest.split_at_mut(b - off);
            out[k].push(head);
            rest = tail;
            off = b;
        }
    }
    out
}

/// The leaky neuron over `input [T, rows, n]` (flat): spikes and membrane trace, both `[T, rows, n]`.
/// Operation order as in [`Leaky`](crate::neuron::Leaky)'s step, so spikes equal the tensor path's.
fn lif_forward(
    c: &LifConstants,
    beta: &[f32],
    th: &[f32],
    input: &[f32],
    t_len: usize,
) -> (Vec<f32>, Vec<f32>) {
    let m = input.len() / t_len;
    let n = beta.len();
    let ranges = parts(m, n);
    let mut spk = vec![0f32; input.len()];
    let mut mem = vec![0f32; input.len()];
    let (sp, mp) = (split_planes(&mut spk, m, &ranges), split_planes(&mut mem, m, &ranges));
    ranges.par_iter().zip(sp).zip(mp).for_each(|((&(a, b), mut sp), mut mp)| {
        let mut prev = vec![0f32; b - a];
        for t in 0..t_len {
            let inp = &input[t * m + a..t * m + b];
            let (s_t, m_t) = (&mut *sp[t], &mut *mp[t]);
            for (((i_r, s_r), m_r), p_r) in inp
                .chunks_exact(n)
                .zip(s_t.chunks_exact_mut(n))
                .zip(m_t.chunks_exact_mut(n))
                .zip(prev.chunks_exact_mut(n))
            {
                for j in 0..n {
                    let (bj, theta, u) = (beta[j], th[j], p_r[j]);
                    let r = if u - theta > 0.0 { 1.0 } else { 0.0 };
                    let new = match c.reset {
                        Reset::Subtract => bj * u + i_r[j] - r * theta,
                        Reset::Zero => bj * ((1.0 - r) * u) + i_r[j],
                        Reset::None => bj * u + i_r[j],
                    };
                    s_r[j] = if new - theta > 0.0 { 1.0 } else { 0.0 };
                    m_r[j] = new;
                    p_r[j] = new;
                }
            }
        }
    });
    (spk, mem)
}

/// The reverse pass of [`lif_forward`]: `∂L/∂input` from `∂L/∂spk`, both `[T, rows, n]`.
fn lif_backward<G: Fn(f32) -> f32 + Sync>(
    reset: Reset,
    beta: &[f32],
    th: &[f32],
    mem: &[f32],
    gspk: &[f32],
    t_len: usize,
    g: G,
) -> Vec<f32> {
    let m = mem.len() / t_len;
    let n = beta.len();
    let ranges = parts(m, n);
    let mut gin = vec![0f32; mem.len()];
    let gp = split_planes(&mut gin, m, &ranges);
    ranges.par_iter().zip(gp).for_each(|(&(a, b), mut gp)| {
        let mut carry = vec![0f32; b - a];
        for t in (0..t_len).rev() {
            let (u_t, gs) = (&mem[t * m + a..t * m + b], &gspk[t * m + a..t * m + b]);
            let prev = if t == 0 { None } else { Some(&mem[(t - 1) * m + a..(t - 1) * m + b]) };
            for (e, ((u, s), (o, c))) in
                u_t.iter().zip(gs).zip(gp[t].iter_mut().zip(carry.iter_mut())).enumerate()
            {
                let j = e % n;
                let mbar = *c + *s * g(*u - th[j]);
                *o = mbar;
                // ∂U_t/∂U_{t−1}: β, or β(1 − r_t) for the zero reset (r_t = H(U_{t−1} − θ))
                *c = match reset {
                    Reset::Zero => {
                        let r = prev.map_or(0.0, |p| if p[e] - th[j] > 0.0 { 1.0 } else { 0.0 });
                        mbar * beta[j] * (1.0 - r)
                    }
                    _ => mbar * beta[j],
                };
            }
        }
    });
    gin
}

/// [`lif_backward`] with the surrogate's derivative as a closure the compiler can inline.
fn lif_backward_for(
    c: &LifConstants,
    beta: &[f32],
    th: &[f32],
    mem: &[f32],
    gspk: &[f32],
    t_len: usize,
) -> Vec<f32> {
    let r = c.reset;
    match c.surrogate {
        Surrogate::FastSigmoid { slope } => {
            let k = slope as f32;
            lif_backward(r, beta, th, mem, gspk, t_len, |x| {
                let d = k * x.abs() + 1.0;
                1.0 / (d * d)
            })
        }
        Surrogate::Atan { alpha } => {
            let (a, h) = ((std::f64::consts::FRAC_PI_2 * alpha) as f32, (alpha / 2.0) as f32);
            lif_backward(r, beta, th, mem, gspk, t_len, |x| {
                let u = a * x;
                h / (1.0 + u * u)
            })
        }
        Surrogate::StraightThrough => lif_backward(r, beta, th, mem, gspk, t_len, |_| 1.0),
        ref s => {
            lif_backward(r, beta, th, mem, gspk, t_len, |x| s.derivative_at(x as f64).unwrap_or(0.0) as f32)
        }
    }
}

impl SpikingNet {
    /// The stages of a `Linear → Leaky` stack, or why the network is not one.
    fn fused_stages(&self) -> Result<Vec<Stage<'_>>> {
        let layers = self.layers();
        if layers.is_empty() || !layers.len().is_multiple_of(2) {
            return Err(Error::invalid(
                "layers",
                format!("{layers:?}"),
                "the fused pass takes Linear → Leaky pairs (use forward_multi_step)",
            ));
        }
        layers
            .chunks_exact(2)
            .enumerate()
            .map(|(i, pair)| match pair {
                [Layer::Linear(linear), Layer::Neuron(n)] => {
                    let leaky = n.as_leaky().ok_or_else(|| {
                        Error::invalid(
                            format!("layers[{}]", 2 * i + 1),
                            format!("{:?}", n.state_names()),
                            "the fused pass takes Leaky neurons (use forward_multi_step)",
                        )
                    })?;
                    if linear.ws.kind() != Kind::Float {
                        return Err(Error::invalid(
                            format!("layers[{}]", 2 * i),
                            format!("{:?}", linear.ws.kind()),
                            "the fused pass runs in f32",
                        ));
                    }
                    Ok(Stage { linear, lif: leaky.fused_constants()? })
                }
                other => Err(Error::invalid(
                    format!("layers[{}..{}]", 2 * i, 2 * i + 2),
                    format!("{other:?}"),
                    "the fused pass takes Linear → Leaky pairs (use forward_multi_step)",
                )),
            })
            .collect()
    }

    /// One forward and backward pass of the fused path (module docs): runs `x [T, B, in]` through
    /// the network, evaluates `loss_fn` on the output spikes `[T, B, out]` (a scalar loss with its
    /// graph from those spikes, e.g. [`crate::loss::ce_count`]) and adds every parameter's
    /// gradient to its `.grad`. Returns the loss value and the output spikes.
    ///
    /// # Errors
    /// A network that is not a stack of `Linear → Leaky` pairs with fixed neuron constants, a
    /// non-`f32` model, an input of the wrong shape, or a loss that is not a finite scalar.
    pub fn fused_backward(
        &self,
        x: &Tensor,
        loss_fn: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<FusedOutput> {
        let stages = self.fused_stages()?;
        let size = x.size();
        let in_dim = stages[0].linear.ws.size()[1];
        if size.len() != 3 || size[2] != in_dim || size[0] < 1 {
            return Err(Error::shape("x", format!("[T, B, {in_dim}]"), size));
        }
        let (t_len, batch) = (size[0], size[1]);
        if !tch::no_grad(|| x.isfinite().all().int64_value(&[]) != 0) {
            return Err(Error::NonFinite { name: "x".into(), index: 0 });
        }
        let device = stages[0].linear.ws.device();
        // forward: each linear map as event sums when its input is binary (spikes), as a libtorch
        // product otherwise; each neuron's time loop in one pass
        let rows = (t_len * batch) as usize;
        let mut h = host(x)?;
        let mut saved = Vec::with_capacity(stages.len());
        for st in &stages {
            let (out, inp) = (st.linear.ws.size()[0] as usize, st.linear.ws.size()[1] as usize);
            let beta = per_neuron(&st.lif.beta, out, "beta")?;
            let th = per_neuron(&st.lif.threshold, out, "threshold")?;
            let events = Events::from_binary(&h, inp);
            let current = match &events {
                Some(ev) => {
                    let wt = host(&st.linear.ws.tr())?;
                    let bias = st.linear.bs.as_ref().map(host).transpose()?;
                    event::forward(ev, &wt, bias.as_deref(), out)
                }
                None => {
                    let ht = Tensor::from_slice(&h).view([rows as i64, inp as i64]).to(device);
                    host(&tch::no_grad(|| ht.linear(&st.linear.ws, st.linear.bs.as_ref())))?
                }
            };
            let (spk, mem) = lif_forward(&st.lif, &beta, &th, &current, t_len as usize);
            saved.push((h, events, beta, th, mem));
            h = spk;
        }
        let out_dim = stages[stages.len() - 1].linear.ws.size()[0];
        let h = Tensor::from_slice(&h).view([t_len, batch, out_dim]).to(device);
        // the loss and its gradient with respect to the output spikes
        let leaf = h.detach().set_requires_grad(true);
        let loss = loss_fn(&leaf)?;
        if loss.numel() != 1 {
            return Err(Error::shape("loss_fn(spk)", "a scalar", loss.size()));
        }
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(Error::NonFinite { name: "loss_fn(spk)".into(), index: 0 });
        }
        loss.backward();
        let g = leaf.grad();
        let mut gspk = if g.defined() { host(&g)? } else { vec![0f32; h.numel()] };
        // backward, last stage first
        for (k, (st, (input, events, beta, th, mem))) in stages.iter().zip(&saved).enumerate().rev() {
            let (out, inp) = (st.linear.ws.size()[0], st.linear.ws.size()[1]);
            let gin = lif_backward_for(&st.lif, beta, th, mem, &gspk, t_len as usize);
            let gw = match events {
                Some(ev) => {
                    let gwt = event::weight_grad(ev, &gin, out as usize);
                    Tensor::from_slice(&gwt).view([inp, out]).tr().to(device)
                }
                None => {
                    let g = Tensor::from_slice(&gin).view([rows as i64, out]).to(device);
                    let x = Tensor::from_slice(input).view([rows as i64, inp]).to(device);
                    tch::no_grad(|| g.tr().mm(&x))
                }
            };
            let mut gb = vec![0f32; out as usize];
            for row in gin.chunks_exact(out as usize) {
                for (s, v) in gb.iter_mut().zip(row) {
                    *s += *v;
                }
            }
            let mut params = vec![st.linear.ws.shallow_clone()];
            let mut grads = vec![gw];
            if let Some(b) = &st.linear.bs {
                params.push(b.shallow_clone());
                grads.push(Tensor::from_slice(&gb).to(device));
            }
            core_tensor::train::accumulate_grads(&params, &grads);
            if k > 0 {
                let g = Tensor::from_slice(&gin).view([rows as i64, out]).to(device);
                gspk = host(&tch::no_grad(|| g.mm(&st.linear.ws)))?;
            }
        }
        Ok(FusedOutput { loss: value, spk: h })
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
