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
    /// The events of `x [rows, width]`, or `None` if some value is neither 0 nor 1. Row blocks
    /// are scanned in parallel, without branches on the values.
    pub fn from_binary(x: &[f32], width: usize) -> Option<Events> {
        if width == 0 || !x.len().is_multiple_of(width) || width > u32::MAX as usize {
            return None;
        }
        let parts: Vec<Option<(Vec<usize>, Vec<u32>)>> = x
            .par_chunks(ROW_BLOCK * width)
            .map(|block| {
                let mut counts = Vec::with_capacity(block.len() / width);
                let mut inputs = vec![0u32; block.len()];
                let (mut n, mut bad) = (0usize, false);
                for row in block.chunks_exact(width) {
                    for (i, v) in row.iter().enumerate() {
                        inputs[n] = i as u32;
                        n += usize::from(*v == 1.0);
                        bad |= *v != 0.0 && *v != 1.0;
                    }
                    counts.push(n);
                }
                inputs.truncate(n);
                (!bad).then_some((counts, inputs))
            })
            .collect();
        let mut starts = Vec::with_capacity(x.len() / width + 1);
        let mut inputs = Vec::new();
        starts.push(0);
        for part in parts {
            let (counts, ins) = part?;
            let base = inputs.len();
            starts.extend(counts.iter().map(|c| base + c));
            inputs.extend_from_slice(&ins);
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

/// Rows per block of the transposed events in [`weight_grad`] (a block of `g` is
/// `GRAD_ROWS × COLS` values, read from cache by every input that fired in it).
const GRAD_ROWS: usize = 256;

/// For each block of [`GRAD_ROWS`] rows, the rows where each input fired (compressed sparse
/// columns): `starts[b][i]..starts[b][i + 1]` indexes `rows[b]`.
struct Columns {
    starts: Vec<Vec<usize>>,
    rows: Vec<Vec<u32>>,
}

fn columns(ev: &Events) -> Columns {
    let blocks: Vec<(Vec<usize>, Vec<u32>)> = (0..ev.rows().div_ceil(GRAD_ROWS))
        .into_par_iter()
        .map(|b| {
            let (r0, r1) = (b * GRAD_ROWS, ((b + 1) * GRAD_ROWS).min(ev.rows()));
            let mut starts = vec![0usize; ev.width() + 1];
            for r in r0..r1 {
                for &i in ev.row(r) {
                    starts[i as usize + 1] += 1;
                }
            }
            for i in 0..ev.width() {
                starts[i + 1] += starts[i];
            }
            let mut fill = starts.clone();
            let mut rows = vec![0u32; starts[ev.width()]];
            for r in r0..r1 {
                for &i in ev.row(r) {
                    rows[fill[i as usize]] = r as u32;
                    fill[i as usize] += 1;
                }
            }
            (starts, rows)
        })
        .collect();
    let (starts, rows) = blocks.into_iter().unzip();
    Columns { starts, rows }
}

/// `∂L/∂Wᵀ [in, out] = xᵀ g` for the cotangent `g [rows, out]` of `y`: for each input, the sum of
/// the rows of `g` where it fired, over row blocks kept in cache, summed in registers.
pub fn weight_grad(ev: &Events, g: &[f32], out: usize) -> Vec<f32> {
    let width = ev.width();
    let cols = columns(ev);
    let blocks = out.div_ceil(COLS);
    // one [in, cols] buffer per column block, each filled by one task, then interleaved
    let parts: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|c| {
            let (c0, c1) = (c * COLS, ((c + 1) * COLS).min(out));
            let mut acc = vec![0f32; width * (c1 - c0)];
            simd::dispatch(Simd::detected(), Gather { cols: &cols, g, out, c0, c1, width, acc: &mut acc });
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

struct Gather<'a> {
    cols: &'a Columns,
    g: &'a [f32],
    out: usize,
    c0: usize,
    c1: usize,
    width: usize,
    acc: &'a mut [f32],
}

impl Kernel for Gather<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let Gather { cols, g, out, c0, c1, width, acc } = self;
        let w = c1 - c0;
        for (starts, rows) in cols.starts.iter().zip(&cols.rows) {
            for i in 0..width {
                let rs = &rows[starts[i]..starts[i + 1]];
                if rs.is_empty() {
                    continue;
                }
                let dst = &mut acc[i * w..(i + 1) * w];
                if w == COLS {
                    let mut sum = [0f32; COLS];
                    for &r in rs {
                        let row: &[f32; COLS] =
                            g[r as usize * out + c0..r as usize * out + c1].try_into().expect("a full block");
                        for j in 0..COLS {
                            sum[j] += row[j];
                        }
                    }
                    for j in 0..COLS {
                        dst[j] += sum[j];
                    }
                } else {
                    for &r in rs {
                        for (a, v) in dst.iter_mut().zip(&g[r as usize * out + c0..r as usize * out + c1]) {
                            *a += *v;
                        }
                    }
                }
            }
        }
    }
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
                if w == COLS {
                    // the block's sums stay in registers
                    let mut acc = [0f32; COLS];
                    if let Some(b) = bias {
                        acc = b[c0..c1].try_into().expect("a full block");
                    }
                    for &i in ev.row(r0 + k) {
                        let row: &[f32; COLS] = wt[i as usize * out + c0..i as usize * out + c1]
                            .try_into()
                            .expect("a full block");
                        for j in 0..COLS {
                            acc[j] += row[j];
                        }
                    }
                    let dst: &mut [f32; COLS] = (&mut yr[c0..c1]).try_into().expect("a full block");
                    *dst = acc;
                } else {
                    let dst = &mut yr[c0..c1];
                    match bias {
                        Some(b) => dst.copy_from_slice(&b[c0..c1]),
                        None => dst.fill(0.0),
                    }
                    for &i in ev.row(r0 + k) {
                        for (a, v) in dst.iter_mut().zip(&wt[i as usize * out + c0..i as usize * out + c1]) {
                            *a += *v;
                        }
                    }
                }
            }
            c0 = c1;
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
