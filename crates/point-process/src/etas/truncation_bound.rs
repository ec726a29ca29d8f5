//! A bound on the intensity that the events left out of a truncated ETAS sum could add, from
//! space–time cumulative sums: the events are counted in 16 × 16 longitude/latitude cells and 1024
//! time bins, and each cell contributes at most its kernel at the smallest distance any of its
//! events can have from the target.
//!
//! For a target at `x_i` and the events `j` of a set of time bins:
//! `Σ_j K_j (r_ij² + D_j)^{−(1+ρ)} ≤ Σ_cells B_c`, with `B_c = Σ_{j ∈ c} K_j D_j^{−(1+ρ)}` for a
//! cell that may hold the target (lower bound of the distance 0) and
//! `B_c = (d_c² + min_c D)^{−(1+ρ)} Σ_{j ∈ c} K_j` otherwise, where `d_c ≤ r_ij` is a lower bound
//! of the great-circle distance from the target to the cell (`R Δφ` and
//! `R cos φ_max Δλ (1 − Δλ²/24)`, both below the haversine distance). [`CellBound::blocks`] takes
//! the sets as blocks of whole bins by age; counting whole bins only adds events, so the bound
//! stays an upper bound.

use super::model::Etas;
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::Quake;
use crate::simd::{dispatch, exp, ln, Kernel, MulAdd, Simd};

/// Cells along each axis.
const CELLS: usize = 16;
/// Time bins.
const BINS: usize = 1024;

/// Space–time cumulative sums of `K` and `K D^{−(1+ρ)}`.
pub(crate) struct CellBound {
    spatial: bool,
    rho1: f64,
    lon0: f64,
    lat0: f64,
    dlon: f64,
    dlat: f64,
    t0: f64,
    hb: f64,
    /// `Σ K_j` over the events of a cell in bins `≤ b`, at `b · cells + cell` (one bin's cells
    /// side by side, as [`CellBound::blocks`] reads them).
    cum_k: Vec<f64>,
    /// `Σ K_j D_j^{−(1+ρ)}` likewise (`Σ K_j` for temporal ETAS).
    cum_kd: Vec<f64>,
    /// Smallest `D` of each cell's events (∞ for an empty cell).
    d_min: Vec<f64>,
    /// `cos` of the `|latitude|` of each cell edge, south to north (a lower bound: the edges'
    /// latitudes are clamped to 90°).
    cos_edge: Vec<f64>,
    /// Cell edges, west to east and south to north.
    lon_edge: Vec<f64>,
    lat_edge: Vec<f64>,
}

impl CellBound {
    /// The sums over `events` (sorted by time).
    pub(crate) fn new(model: &Etas, events: &[Quake]) -> Self {
        let rho1 = 1.0 + model.params.rho;
        let fold =
            |f: fn(f64, f64) -> f64, init: f64, g: fn(&Quake) -> f64| events.iter().map(g).fold(init, f);
        let (lon0, lon1) =
            (fold(f64::min, f64::INFINITY, |q| q.lon), fold(f64::max, f64::NEG_INFINITY, |q| q.lon));
        let (lat0, lat1) =
            (fold(f64::min, f64::INFINITY, |q| q.lat), fold(f64::max, f64::NEG_INFINITY, |q| q.lat));
        let t0 = events.first().map_or(0.0, |q| q.time);
        let t1 = events.last().map_or(1.0, |q| q.time);
        let (nx, ny) = if model.spatial { (CELLS, CELLS) } else { (1, 1) };
        let dlon = ((lon1 - lon0) / nx as f64).max(1e-9);
        let dlat = ((lat1 - lat0) / ny as f64).max(1e-9);
        let hb = ((t1 - t0) / BINS as f64).max(1e-12);
        let mut b = CellBound {
            spatial: model.spatial,
            rho1,
            lon0: if events.is_empty() { 0.0 } else { lon0 },
            lat0: if events.is_empty() { 0.0 } else { lat0 },
            dlon,
            dlat,
            t0,
            hb,
            cum_k: vec![0.0; nx * ny * BINS],
            cum_kd: vec![0.0; nx * ny * BINS],
            d_min: vec![f64::INFINITY; nx * ny],
            cos_edge: Vec::new(),
            lon_edge: Vec::new(),
            lat_edge: Vec::new(),
        };
        b.lon_edge = (0..=nx).map(|ix| b.lon0 + ix as f64 * dlon).collect();
        b.lat_edge = (0..=ny).map(|iy| b.lat0 + iy as f64 * dlat).collect();
        b.cos_edge = (0..=ny)
            .map(|iy| (b.lat0 + iy as f64 * dlat).abs().min(90.0).to_radians().cos().max(0.0))
            .collect();
        for q in events {
            let c = b.cell(q.lon, q.lat);
            let k = model.productivity(q.mag);
            let (kd, d) = if model.spatial {
                let d = model.spatial_scale(q.mag);
                (k * d.powf(-rho1), d)
            } else {
                (k, 0.0)
            };
            let at = b.bin(q.time) * nx * ny + c;
            b.cum_k[at] += k;
            b.cum_kd[at] += kd;
            b.d_min[c] = b.d_min[c].min(d);
        }
        let n = nx * ny;
        for at in n..BINS * n {
            b.cum_k[at] += b.cum_k[at - n];
            b.cum_kd[at] += b.cum_kd[at - n];
        }
        b
    }

    fn n_cells(&self) -> usize {
        if self.spatial {
            CELLS * CELLS
        } else {
            1
        }
    }

    fn cell(&self, lon: f64, lat: f64) -> usize {
        if !self.spatial {
            return 0;
        }
        let ix = (((lon - self.lon0) / self.dlon).floor().max(0.0) as usize).min(CELLS - 1);
        let iy = (((lat - self.lat0) / self.dlat).floor().max(0.0) as usize).min(CELLS - 1);
        iy * CELLS + ix
    }

    /// The time bin of `t` (bin `b` covers `[t0 + b h, t0 + (b + 1) h)`, the last one up to the
    /// catalogue's end).
    fn bin(&self, t: f64) -> usize {
        (((t - self.t0) / self.hb).floor().max(0.0) as usize).min(BINS - 1)
    }

    /// Per cell, the weights of `Σ K D^{−(1+ρ)}` and of `Σ K` in the bound for a target at
    /// `(lon, lat)`: `(1, 0)` when the cell's lower distance bound is 0, else
    /// `(0, (d_c² + min D)^{−(1+ρ)})`.
    /// Writes it into `row` (reused across targets: no allocation once it has its size).
    pub(crate) fn row_into(&self, lon: f64, lat: f64, row: &mut Row) {
        dispatch(Simd::detected(), RowKernel { b: self, lon, lat, row })
    }

    /// The events before `t_i − T` in [`BLOCKS`] blocks by age, for the target of `row`: block
    /// `k` holds the time bins `(c_{k+1}, c_k]`, `c_0 = bin(t_i − T)` and
    /// `c_k = bin(t_i − T − 2^{k−1} τ)` (`c_BLOCKS = −1`), and comes back as `(σ_k, W_k)`: no
    /// event of the block is younger than `σ_k` (`T` for the first block, else `t_i` minus the
    /// end of bin `c_k`), and `W_k = Σ_{cells} row · (C[c_k] − C[c_{k+1}])` bounds the block's
    /// `Σ K_j (r_ij² + D_j)^{−(1+ρ)}`. Every event before `t_i − T` is in exactly one block, and
    /// every event in bins `≤ c_k` is at least `σ_k` old, whatever the `c_k`: so
    /// `Σ_{t_j < t_i − T} g_ij ≤ Σ_k f(σ_k) W_k` for any kernel `f` that decreases with age (the
    /// `c_k` only decide how tight it is).
    pub(crate) fn blocks(&self, row: &Row, ti: f64, window: f64, tau: f64) -> [(f64, f64); BLOCKS] {
        let mut out = [(window, 0.0); BLOCKS];
        let cut = ti - window;
        if cut <= self.t0 {
            return out;
        }
        // bin indices, + 1 so that "no bin" is 0
        let mut c = [0usize; BLOCKS + 1];
        c[0] = self.bin(cut) + 1;
        for k in 1..BLOCKS {
            let at = cut - tau * (1u64 << (k - 1)) as f64;
            c[k] = if at <= self.t0 { 0 } else { (self.bin(at) + 1).min(c[k - 1]) };
        }
        let w = dispatch(Simd::detected(), BlockKernel { b: self, row, c });
        for k in 0..BLOCKS {
            // the bin's end, less a millionth of a bin against rounding in `bin`
            let end = self.t0 + c[k] as f64 * self.hb + 1e-6 * self.hb;
            let age = if k == 0 || c[k] == 0 { window } else { (ti - end).max(window) };
            out[k] = (age, w[k]);
        }
        out
    }
}

/// `row · C[bin1 − 1]` (0 for `bin1 = 0`). A function, not a closure: closures do not inherit
/// the instruction set of the function around them.
#[inline(always)]
fn dot<F: MulAdd>(b: &CellBound, row: &Row, bin1: usize) -> f64 {
    if bin1 == 0 {
        return 0.0;
    }
    let n = b.n_cells();
    let at = (bin1 - 1) * n;
    let (k, rk) = (&b.cum_k[at..at + n], &row.k[..n]);
    let mut lanes = [0.0; 8];
    for x in 0..n {
        lanes[x % 8] = F::mul_add(rk[x], k[x], lanes[x % 8]);
    }
    let near: f64 = row.near.iter().map(|&c| b.cum_kd[at + c]).sum();
    lanes.iter().sum::<f64>() + near
}

/// Blocks of age per target in [`CellBound::blocks`].
pub(crate) const BLOCKS: usize = 6;

struct BlockKernel<'a> {
    b: &'a CellBound,
    row: &'a Row,
    /// Bin indices + 1 (0: none).
    c: [usize; BLOCKS + 1],
}

impl Kernel for BlockKernel<'_> {
    type Output = [f64; BLOCKS];
    #[inline(always)]
    fn run<F: MulAdd>(self) -> [f64; BLOCKS] {
        let BlockKernel { b, row, c } = self;
        // a loop, not `array::from_fn`: its closure would not inherit the instruction set
        let mut d = [0.0; BLOCKS + 1];
        for k in 0..=BLOCKS {
            d[k] = dot::<F>(b, row, c[k]);
        }
        // rounded up against the cancellation
        std::array::from_fn(|k| (d[k] - d[k + 1]).max(0.0) + 1e-15 * d[k])
    }
}

/// One target's weights of the cells' cumulative sums ([`CellBound::row_into`]).
#[derive(Default)]
pub(crate) struct Row {
    /// The weight of `Σ K` per cell (0 for the cells in `near`).
    k: Vec<f64>,
    /// The cells whose lower distance bound is 0: their `Σ K D^{−(1+ρ)}` counts in full.
    near: Vec<usize>,
}

struct RowKernel<'a> {
    b: &'a CellBound,
    lon: f64,
    lat: f64,
    row: &'a mut Row,
}

impl Kernel for RowKernel<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: MulAdd>(self) {
        let RowKernel { b, lon, lat, row } = self;
        let n = b.n_cells();
        row.k.clear();
        row.k.resize(n, 0.0);
        row.near.clear();
        if !b.spatial {
            row.near.push(0);
            return;
        }
        let cos_lat = lat.abs().min(90.0).to_radians().cos();
        // east–west gaps to each column (radians), and the ∆λ factor of the bound
        let dlam: [f64; CELLS] = std::array::from_fn(|ix| {
            let (lo0, lo1) = (b.lon_edge[ix], b.lon_edge[ix + 1]);
            let d = (lo0 - lon).max(lon - lo1).max(0.0).to_radians().min(std::f64::consts::PI);
            EARTH_RADIUS_KM * d * (1.0 - d * d / 24.0)
        });
        for iy in 0..CELLS {
            let (la0, la1) = (b.lat_edge[iy], b.lat_edge[iy + 1]);
            let dphi = EARTH_RADIUS_KM * (la0 - lat).max(lat - la1).max(0.0).to_radians();
            // cos of the largest |latitude| of target and cell: cos falls with |φ|
            let cos_max = cos_lat.min(b.cos_edge[iy]).min(b.cos_edge[iy + 1]);
            let k = &mut row.k[iy * CELLS..(iy + 1) * CELLS];
            let d_min = &b.d_min[iy * CELLS..(iy + 1) * CELLS];
            // branch-free over the columns, so that the loop vectorises
            for ix in 0..CELLS {
                let d = dphi.max((cos_max * dlam[ix]).max(0.0));
                // (d² + min D)^{−(1+ρ)}, rounded up by a relative 1e-12 (the exp and ln are
                // within a few ulp); an empty cell (min D = ∞) has weight 0 and sums 0
                let w = exp::<F>(-b.rho1 * ln::<F>(F::mul_add(d, d, d_min[ix]))) * (1.0 + 1e-12);
                k[ix] = if d == 0.0 { 0.0 } else { w };
            }
            // the cells at distance bound 0 (the same test, `d == 0`), a few at most
            if dphi == 0.0 {
                for ix in 0..CELLS {
                    if !(cos_max * dlam[ix] > 0.0) {
                        row.near.push(iy * CELLS + ix);
                    }
                }
            }
        }
    }
}
