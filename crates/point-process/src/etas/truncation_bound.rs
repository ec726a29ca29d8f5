//! A bound on the intensity that the events left out of a truncated ETAS sum could add, from
//! space–time cumulative sums: the events are counted in 16 × 16 longitude/latitude cells and 1024
//! time bins, and each cell contributes at most its kernel at the smallest distance any of its
//! events can have from the target.
//!
//! For a target at `x_i` and the events `j` with `t_j < t_i − T`:
//! `Σ_j K_j f(t_i − t_j) (r_ij² + D_j)^{−(1+ρ)} ≤ f(T) Σ_cells B_c`, with
//! `B_c = Σ_{j ∈ c, bin(t_j) ≤ bin(t_i − T)} K_j D_j^{−(1+ρ)}` for a cell that may touch the target
//! (lower bound of the distance 0) and `B_c = (d_c² + min_c D)^{−(1+ρ)} Σ_{...} K_j` otherwise, where
//! `d_c ≤ r_ij` is a lower bound of the great-circle distance from the target to the cell
//! (`R Δφ` and `R cos φ_max Δλ (1 − Δλ²/24)`, both below the haversine distance). Counting whole time
//! bins only adds events, so the bound stays an upper bound.

use super::model::Etas;
use crate::data::catalogue::EARTH_RADIUS_KM;
use crate::data::Quake;

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
    /// `Σ K_j` over the events of a cell in bins `≤ b`, at `cell · BINS + b`.
    cum_k: Vec<f64>,
    /// `Σ K_j D_j^{−(1+ρ)}` likewise (`Σ K_j` for temporal ETAS).
    cum_kd: Vec<f64>,
    /// Smallest `D` of each cell's events (∞ for an empty cell).
    d_min: Vec<f64>,
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
        };
        for q in events {
            let c = b.cell(q.lon, q.lat);
            let k = model.productivity(q.mag);
            let (kd, d) = if model.spatial {
                let d = model.spatial_scale(q.mag);
                (k * d.powf(-rho1), d)
            } else {
                (k, 0.0)
            };
            let bin = b.bin(q.time);
            b.cum_k[c * BINS + bin] += k;
            b.cum_kd[c * BINS + bin] += kd;
            b.d_min[c] = b.d_min[c].min(d);
        }
        for c in 0..nx * ny {
            for bin in 1..BINS {
                b.cum_k[c * BINS + bin] += b.cum_k[c * BINS + bin - 1];
                b.cum_kd[c * BINS + bin] += b.cum_kd[c * BINS + bin - 1];
            }
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

    fn bin(&self, t: f64) -> usize {
        (((t - self.t0) / self.hb).floor().max(0.0) as usize).min(BINS - 1)
    }

    /// Per cell: `None` when its lower distance bound to `(lon, lat)` is 0 (use `Σ K D^{−(1+ρ)}`),
    /// else the kernel factor `(d_c² + min D)^{−(1+ρ)}` multiplying `Σ K`.
    pub(crate) fn row(&self, lon: f64, lat: f64) -> Vec<Option<f64>> {
        (0..self.n_cells())
            .map(|c| {
                if !self.spatial || self.d_min[c].is_infinite() {
                    return None;
                }
                let (ix, iy) = (c % CELLS, c / CELLS);
                // the cell's events lie in the closed box of its index range (the last cells hold
                // the box's far edges)
                let (lo0, lo1) = (self.lon0 + ix as f64 * self.dlon, self.lon0 + (ix + 1) as f64 * self.dlon);
                let (la0, la1) = (self.lat0 + iy as f64 * self.dlat, self.lat0 + (iy + 1) as f64 * self.dlat);
                let dphi = (la0 - lat).max(lat - la1).max(0.0).to_radians();
                let dlam = (lo0 - lon).max(lon - lo1).max(0.0).to_radians().min(std::f64::consts::PI);
                if dphi == 0.0 && dlam == 0.0 {
                    return None;
                }
                let phi_max = lat.abs().max(la0.abs()).max(la1.abs()).min(90.0).to_radians();
                let d_lam = EARTH_RADIUS_KM * phi_max.cos() * dlam * (1.0 - dlam * dlam / 24.0);
                let d = (EARTH_RADIUS_KM * dphi).max(d_lam.max(0.0));
                if d == 0.0 {
                    return None;
                }
                Some((d * d + self.d_min[c]).powf(-self.rho1))
            })
            .collect()
    }

    /// Upper bound of `Σ_{t_j < cut} K_j (r_ij² + D_j)^{−(1+ρ)}` for the target of `row`.
    pub(crate) fn omitted(&self, row: &[Option<f64>], cut: f64) -> f64 {
        if cut <= self.t0 {
            return 0.0;
        }
        let b = self.bin(cut);
        row.iter()
            .enumerate()
            .map(|(c, r)| match r {
                None => self.cum_kd[c * BINS + b],
                Some(factor) => factor * self.cum_k[c * BINS + b],
            })
            .sum()
    }
}
