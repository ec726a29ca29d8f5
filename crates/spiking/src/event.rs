//! Event-driven linear maps: `y = x Wᵀ + b` for binary inputs `x ∈ {0, 1}` (spikes), summing the
//! weight rows of the inputs that fired instead of multiplying by the zeros.
//!
//! At a firing rate `p` this does `p` of the dense product's additions and no multiplications:
//! for 784 inputs at `p = 0.2`, ~157 row additions per output row instead of 784 multiply–adds.
//! The weights are read transposed (`Wᵀ [in, out]`, one contiguous row per input) in column
//! blocks of [`COLS`] that stay in cache while every row of a row block reads them; the sums of a
//! block live in registers. The weight gradient `∂L/∂Wᵀ = xᵀ Ī` is the same sum the other way:
//! the output cotangent rows of the rows where input `i` fired, added into row `i`.
//! Row and column blocks are fixed, so results do not depend on the thread count.

use core_tensor::simd::{self, Kernel, MulAdd, Simd};
use rayon::prelude::*;

/// Output columns per block (a block of `Wᵀ` is `in × COLS` values).
pub const COLS: usize = 128;
/// Rows per parallel task.
const ROW_BLOCK: usize = 64;

/// The inputs that fired in each row of a binary `x [rows, in]` (compressed sparse rows).
#[derive(Debug, Clone)]
pub struct Events {
    /// `starts[r]..starts[r + 1]` indexes `inputs` for row `r`.
    starts: Vec<usize>,
    /// Input indices, increasing within a row.
    inputs: Vec<u32>,
    /// Input width.
    width: usize,
}

impl Events {
    /// The events of `x [rows, width]`, or `None` if some value is neither 0 nor 1.
    pub fn from_binary(x: &[f32], width: usize) -> Option<Events> {
        if width == 0 || !x.len().is_multiple_of(width) || width > u32::MAX as usize {
            return None;
        }
        let mut starts = Vec::with_capacity(x.len() / width + 1);
        let mut inputs = Vec::new();
        starts.push(0);
        for row in x.chunks_exact(width) {
            for (i, v) in row.iter().enumerate() {
                if *v == 1.0 {
                    inputs.push(i as u32);
                } else if *v != 0.0 {
                    return None;
                }
            }
            starts.push(inputs.len());
        }
        Some(Events { starts, inputs, width })
    }
    /// Rows.
    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }
    /// Input width.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Fraction of inputs that fired.
    pub fn rate(&self) -> f64 {
        self.inputs.len() as f64 / (self.rows() * self.width).max(1) as f64
    }
    fn row(&self, r: usize) -> &[u32] {
        &self.inputs[self.starts[r]..self.starts[r + 1]]
    }
}

/// `y [rows, out] = x Wᵀ + b` from the events of `x` and `wt = Wᵀ [in, out]`.
pub fn forward(ev: &Events, wt: &[f32], bias: Option<&[f32]>, out: usize) -> Vec<f32> {
    let rows = ev.rows();
    let mut y = vec![0f32; rows * out];
    if out == 0 {
        return y;
    }
    y.par_chunks_mut(ROW_BLOCK * out).enumerate().for_each(|(blk, yb)| {
        simd::dispatch(Simd::detected(), Forward { ev, wt, bias, out, r0: blk * ROW_BLOCK, y: yb })
    });
    y
}

/// `∂L/∂Wᵀ [in, out] = xᵀ g` for the cotangent `g [rows, out]` of `y`.
pub fn weight_grad(ev: &Events, g: &[f32], out: usize) -> Vec<f32> {
    let width = ev.width();
    let blocks = out.div_ceil(COLS);
    // one [in, cols] buffer per column block, each filled by one task, then interleaved
    let parts: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|c| {
            let (c0, c1) = (c * COLS, ((c + 1) * COLS).min(out));
            let mut acc = vec![0f32; width * (c1 - c0)];
            simd::dispatch(Simd::detected(), Scatter { ev, g, out, c0, c1, acc: &mut acc });
            acc
        })
        .collect();
    let mut gwt = vec![0f32; width * out];
    for (c, part) in parts.iter().enumerate() {
        let (c0, c1) = (c * COLS, ((c + 1) * COLS).min(out));
        for (dst, src) in gwt.chunks_exact_mut(out).zip(part.chunks_exact(c1 - c0)) {
            dst[c0..c1].copy_from_slice(src);
        }
    }
    gwt
}

struct Forward<'a> {
    ev: &'a Events,
    wt: &'a [f32],
    bias: Option<&'a [f32]>,
    out: usize,
    r0: usize,
    y: &'a mut [f32],
}

impl Kernel for Forward<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let Forward { ev, wt, bias, out, r0, y } = self;
        let mut c0 = 0;
        while c0 < out {
            let c1 = (c0 + COLS).min(out);
            let w = c1 - c0;
            for (k, yr) in y.chunks_exact_mut(out).enumerate() {
                let mut acc = [0f32; COLS];
                if let Some(b) = bias {
                    acc[..w].copy_from_slice(&b[c0..c1]);
                }
                for &i in ev.row(r0 + k) {
                    let row = &wt[i as usize * out + c0..i as usize * out + c1];
                    if w == COLS {
                        let row: &[f32; COLS] = row.try_into().expect("a full block");
                        for j in 0..COLS {
                            acc[j] += row[j];
                        }
                    } else {
                        for (a, v) in acc.iter_mut().zip(row) {
                            *a += *v;
                        }
                    }
                }
                yr[c0..c1].copy_from_slice(&acc[..w]);
            }
            c0 = c1;
        }
    }
}

struct Scatter<'a> {
    ev: &'a Events,
    g: &'a [f32],
    out: usize,
    c0: usize,
    c1: usize,
    acc: &'a mut [f32],
}

impl Kernel for Scatter<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let Scatter { ev, g, out, c0, c1, acc } = self;
        let w = c1 - c0;
        for r in 0..ev.rows() {
            let gr = &g[r * out + c0..r * out + c1];
            for &i in ev.row(r) {
                let dst = &mut acc[i as usize * w..(i as usize + 1) * w];
                for (a, v) in dst.iter_mut().zip(gr) {
                    *a += *v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_sums_equal_dense_products() {
        let (rows, width, out) = (150, 37, 300);
        let x: Vec<f32> = (0..rows * width).map(|k| ((k * 7919) % 5 == 0) as u8 as f32).collect();
        let w: Vec<f32> = (0..width * out).map(|k| ((k as f32) * 0.37).sin()).collect(); // Wᵀ [in, out]
        let b: Vec<f32> = (0..out).map(|k| k as f32 * 0.01).collect();
        let ev = Events::from_binary(&x, width).unwrap();
        assert!((ev.rate() - 0.2).abs() < 0.01);
        let y = forward(&ev, &w, Some(&b), out);
        for r in 0..rows {
            for o in 0..out {
                let want: f32 = b[o] + (0..width).map(|i| x[r * width + i] * w[i * out + o]).sum::<f32>();
                assert!((y[r * out + o] - want).abs() < 1e-4, "{r} {o}");
            }
        }
        let g: Vec<f32> = (0..rows * out).map(|k| ((k as f32) * 0.11).cos()).collect();
        let gw = weight_grad(&ev, &g, out);
        for i in 0..width {
            for o in 0..out {
                let want: f32 = (0..rows).map(|r| x[r * width + i] * g[r * out + o]).sum();
                assert!((gw[i * out + o] - want).abs() < 1e-3, "{i} {o}");
            }
        }
        assert!(Events::from_binary(&[0.0, 0.5], 2).is_none());
    }
}
