//! The space–magnitude grid of CSEP forecasts: square longitude/latitude cells of side `dh`
//! degrees covering a rectangle, and magnitude bins from increasing lower edges, the last bin open
//! above (pycsep's `CartesianGrid2D` over a full rectangle and its magnitude bins).

use crate::data::{Quake, Region};
use crate::error::{invalid, Error, Result};

/// Tolerance (in units of the bin width) for a value that sits on a bin edge up to rounding: it
/// belongs to the bin above, as in pycsep's binning.
const EDGE_TOL: f64 = 1e-5;

/// Largest number of cells × magnitude bins a grid may have.
pub const MAX_BINS: usize = 50_000_000;

/// A CSEP grid: `nx × ny` cells of `dh` degrees with lower-left corner `(lon0, lat0)`, and
/// magnitude bins `[mags[k], mags[k+1])` from increasing lower edges, the last bin open above.
///
/// Cells are numbered row by row from the south-west: cell `i = iy · nx + ix` covers longitudes
/// `[lon0 + ix dh, lon0 + (ix+1) dh)` and latitudes `[lat0 + iy dh, lat0 + (iy+1) dh)`. A bin is
/// `cell · nm + k`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Western edge (degrees).
    pub lon0: f64,
    /// Southern edge (degrees).
    pub lat0: f64,
    /// Cell side (degrees).
    pub dh: f64,
    /// Cells along longitude.
    pub nx: usize,
    /// Cells along latitude.
    pub ny: usize,
    /// Lower edges of the magnitude bins, increasing (the last bin is open above).
    pub mags: Vec<f64>,
}

impl Grid {
    /// A checked grid.
    ///
    /// # Errors
    /// Non-finite or non-positive sizes, an empty grid, magnitude edges that are not finite and
    /// strictly increasing, latitudes outside ±90°, or more than [`MAX_BINS`] bins.
    pub fn new(lon0: f64, lat0: f64, dh: f64, nx: usize, ny: usize, mags: Vec<f64>) -> Result<Self> {
        for (n, v) in [("lon0", lon0), ("lat0", lat0)] {
            if !v.is_finite() {
                return Err(invalid(n, v, "must be finite"));
            }
        }
        crate::error::positive("dh", dh)?;
        if !(mags.iter().all(|m| m.is_finite()) && mags.windows(2).all(|w| w[1] > w[0])) {
            return Err(invalid("mags", format!("{mags:?}"), "must be finite and strictly increasing"));
        }
        let nm = mags.len();
        for (n, v) in [("nx", nx), ("ny", ny), ("mags.len()", nm)] {
            if v == 0 {
                return Err(invalid(n, 0, "must be > 0"));
            }
        }
        if nx.saturating_mul(ny).saturating_mul(nm) > MAX_BINS {
            return Err(invalid("nx × ny × nm", format!("{nx} × {ny} × {nm}"), "must be at most 5e7 bins"));
        }
        if lat0 < -90.0 || lat0 + ny as f64 * dh > 90.0 + 1e-9 || nx as f64 * dh > 360.0 + 1e-9 {
            return Err(invalid(
                "grid",
                format!("lat0 = {lat0}, ny = {ny}, nx = {nx}, dh = {dh}"),
                "must stay within latitudes ±90 and span at most 360° of longitude",
            ));
        }
        Ok(Grid { lon0, lat0, dh, nx, ny, mags })
    }

    /// The grid of `dh`-degree cells that tiles `region` exactly, with magnitude bins from `m0` up
    /// to (and including a last open bin at) `m_last`.
    ///
    /// # Errors
    /// When the region's sides are not whole multiples of `dh` (to 1e-6 of a cell), or the
    /// magnitude range is empty.
    pub fn covering(region: &Region, dh: f64, m0: f64, m_last: f64, dm: f64) -> Result<Self> {
        crate::error::positive("dh", dh)?;
        crate::error::positive("dm", dm)?;
        let count = |span: f64, name: &str| -> Result<usize> {
            let n = (span / dh).round();
            if (span / dh - n).abs() > 1e-6 || n < 1.0 {
                return Err(invalid(name, span, "must be a whole number of cells of side dh"));
            }
            Ok(n as usize)
        };
        let nx = count(region.lon_max - region.lon_min, "region longitude span")?;
        let ny = count(region.lat_max - region.lat_min, "region latitude span")?;
        if !(m_last >= m0) {
            return Err(invalid("m_last", m_last, "must be >= m0"));
        }
        if (m_last - m0) / dm > MAX_BINS as f64 {
            return Err(invalid("(m_last − m0) / dm", (m_last - m0) / dm, "must be at most 5e7 bins"));
        }
        let nm = ((m_last - m0) / dm + EDGE_TOL).floor() as usize + 1;
        // edges as m0 + k dm rounded to 1e-9, so that 2.5 + 3 × 0.1 prints as 2.8
        let mags = (0..nm).map(|k| ((m0 + k as f64 * dm) * 1e9).round() / 1e9).collect();
        Grid::new(region.lon_min, region.lat_min, dh, nx, ny, mags)
    }

    /// Whether the magnitude bins have one width (to 1e-9), as pycsep's files need; the width.
    pub fn uniform_mag_width(&self) -> Option<f64> {
        if self.nm() < 2 {
            return None;
        }
        let w = self.mags[1] - self.mags[0];
        self.mags.windows(2).all(|p| ((p[1] - p[0]) - w).abs() <= 1e-9).then_some(w)
    }

    /// Number of magnitude bins.
    pub fn nm(&self) -> usize {
        self.mags.len()
    }
    /// Number of spatial cells.
    pub fn n_cells(&self) -> usize {
        self.nx * self.ny
    }
    /// Number of space–magnitude bins.
    pub fn n_bins(&self) -> usize {
        self.n_cells() * self.nm()
    }
    /// The rectangle the cells cover.
    pub fn region(&self) -> Region {
        Region {
            lon_min: self.lon0,
            lon_max: self.lon0 + self.nx as f64 * self.dh,
            lat_min: self.lat0,
            lat_max: self.lat0 + self.ny as f64 * self.dh,
        }
    }
    /// Bounds `(lon_min, lon_max, lat_min, lat_max)` of cell `i`.
    pub fn cell_bounds(&self, i: usize) -> (f64, f64, f64, f64) {
        let (ix, iy) = (i % self.nx, i / self.nx);
        let lon = self.lon0 + ix as f64 * self.dh;
        let lat = self.lat0 + iy as f64 * self.dh;
        (lon, lon + self.dh, lat, lat + self.dh)
    }
    /// Area of cell `i` on the sphere (km²).
    pub fn cell_area_km2(&self, i: usize) -> f64 {
        let (lon_min, lon_max, lat_min, lat_max) = self.cell_bounds(i);
        Region { lon_min, lon_max, lat_min, lat_max }.area_km2()
    }
    /// Lower edge of magnitude bin `k`.
    pub fn magnitude(&self, k: usize) -> f64 {
        self.mags[k]
    }
    /// Cell holding `(lon, lat)`, `None` outside the grid (the eastern and northern edges belong to
    /// the last cells).
    pub fn cell_of(&self, lon: f64, lat: f64) -> Option<usize> {
        let fx = (lon - self.lon0) / self.dh;
        let fy = (lat - self.lat0) / self.dh;
        let index = |f: f64, n: usize| -> Option<usize> {
            if !(f >= -EDGE_TOL && f <= n as f64 + EDGE_TOL) {
                return None;
            }
            Some(((f + EDGE_TOL).floor().max(0.0) as usize).min(n - 1))
        };
        Some(index(fy, self.ny)? * self.nx + index(fx, self.nx)?)
    }
    /// Magnitude bin of `m`, `None` below the first edge; everything above the last edge falls in
    /// the last bin.
    pub fn mag_bin(&self, m: f64) -> Option<usize> {
        // an edge counts as reached within EDGE_TOL of the neighbouring bin's width
        let width = |k: usize| {
            if k + 1 < self.nm() {
                self.mags[k + 1] - self.mags[k]
            } else if k > 0 {
                self.mags[k] - self.mags[k - 1]
            } else {
                1.0
            }
        };
        if !(m >= self.mags[0] - EDGE_TOL * width(0)) {
            return None;
        }
        let mut k = self.mags.partition_point(|&e| e <= m);
        if k < self.nm() && m >= self.mags[k] - EDGE_TOL * width(k) {
            k += 1;
        }
        Some(k.max(1) - 1)
    }
    /// Bin of an event, `None` when it lies outside the grid or below the first magnitude.
    pub fn bin_of(&self, q: &Quake) -> Option<usize> {
        Some(self.cell_of(q.lon, q.lat)? * self.nm() + self.mag_bin(q.mag)?)
    }
    /// The events of `[t0, t1)` that fall in a bin of the grid (an observed catalogue filtered to a
    /// forecast's window, space and magnitudes).
    pub fn observed(&self, events: &[Quake], t0: f64, t1: f64) -> Vec<Quake> {
        events.iter().filter(|q| q.time >= t0 && q.time < t1 && self.bin_of(q).is_some()).copied().collect()
    }
    /// Counts of `events` per bin (length [`Self::n_bins`]); events outside the grid are skipped
    /// and their number returned second.
    pub fn counts(&self, events: &[Quake]) -> (Vec<f64>, usize) {
        let mut c = vec![0.0; self.n_bins()];
        let mut outside = 0;
        for q in events {
            match self.bin_of(q) {
                Some(b) => c[b] += 1.0,
                None => outside += 1,
            }
        }
        (c, outside)
    }
    /// Counts of `events` per bin, refusing events outside the grid.
    ///
    /// # Errors
    /// The first event outside the grid or below its first magnitude, named by its index.
    pub fn counts_strict(&self, events: &[Quake]) -> Result<Vec<f64>> {
        let mut c = vec![0.0; self.n_bins()];
        for (i, q) in events.iter().enumerate() {
            let b = self.bin_of(q).ok_or_else(|| {
                Error::Data(format!(
                    "event {i} (lon {}, lat {}, M {}) lies outside the grid lon [{}, {}] × lat [{}, {}], M ≥ {}",
                    q.lon,
                    q.lat,
                    q.mag,
                    self.lon0,
                    self.region().lon_max,
                    self.lat0,
                    self.region().lat_max,
                    self.mags[0]
                ))
            })?;
            c[b] += 1.0;
        }
        Ok(c)
    }
    /// Sums bin values over magnitudes: one value per cell.
    pub fn spatial_marginal(&self, v: &[f64]) -> Vec<f64> {
        v.chunks(self.nm()).map(|c| c.iter().sum()).collect()
    }
    /// Sums bin values over cells: one value per magnitude bin.
    pub fn magnitude_marginal(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.nm()];
        for c in v.chunks(self.nm()) {
            for (o, x) in out.iter_mut().zip(c) {
                *o += x;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(lon: f64, lat: f64, mag: f64) -> Quake {
        Quake { time: 0.0, lon, lat, mag, depth: 0.0 }
    }

    #[test]
    fn binning_follows_edges_and_opens_the_last_magnitude_bin() {
        let g = Grid::new(-118.0, 34.0, 0.1, 3, 2, vec![2.5, 2.6, 2.7, 2.8]).unwrap();
        assert_eq!(g.n_bins(), 24);
        assert_eq!(g.cell_of(-118.0, 34.0), Some(0));
        assert_eq!(g.cell_of(-117.95, 34.15), Some(3));
        // an edge that rounds below its exact value still belongs above
        assert_eq!(g.cell_of(-118.0 + 0.3 * (1.0 - 1e-12), 34.0), Some(2));
        assert_eq!(g.cell_of(-117.7, 34.2), Some(5));
        assert_eq!(g.cell_of(-117.69, 34.0), None);
        assert_eq!(g.mag_bin(2.5), Some(0));
        assert_eq!(g.mag_bin(2.6), Some(1));
        assert_eq!(g.mag_bin(7.1), Some(3));
        assert_eq!(g.mag_bin(2.49), None);
        assert_eq!(g.mag_bin(2.5 + 2.0 * 0.1), Some(2)); // 2.7000000000000002
        assert_eq!(g.mag_bin(2.8 - 1e-12), Some(3));
        let uneven = Grid::new(0.0, 0.0, 1.0, 1, 1, vec![2.5, 3.0, 4.0]).unwrap();
        assert_eq!(
            [2.7, 3.2, 3.99, 4.0, 6.5].map(|m| uneven.mag_bin(m)),
            [Some(0), Some(1), Some(1), Some(2), Some(2)]
        );
        assert_eq!(uneven.uniform_mag_width(), None);
        let (c, out) = g.counts(&[q(-117.95, 34.05, 2.75), q(-117.95, 34.05, 2.7), q(0.0, 0.0, 3.0)]);
        assert_eq!(out, 1);
        assert_eq!(c[2], 2.0);
        assert!(g.counts_strict(&[q(0.0, 0.0, 3.0)]).unwrap_err().to_string().contains("event 0"));
    }

    #[test]
    fn covering_needs_whole_cells() {
        let r = Region::new(-118.0, -117.2, 34.1, 39.9).unwrap();
        let g = Grid::covering(&r, 0.1, 2.5, 5.5, 0.1).unwrap();
        assert_eq!((g.nx, g.ny, g.nm()), (8, 58, 31));
        assert!(Grid::covering(&r, 0.3, 2.5, 5.5, 0.1).is_err());
        assert!((g.uniform_mag_width().unwrap() - 0.1).abs() < 1e-12);
        assert!(Grid::new(0.0, 0.0, f64::NAN, 1, 1, vec![0.0]).is_err());
        assert!(Grid::new(0.0, 0.0, 0.1, 0, 1, vec![0.0]).is_err());
        assert!(Grid::new(0.0, 0.0, 0.1, 1, 1, vec![3.0, 2.0]).is_err());
        assert!(Grid::new(0.0, 0.0, 0.1, 1, 1, vec![]).is_err());
        let area: f64 = (0..g.n_cells()).map(|i| g.cell_area_km2(i)).sum();
        assert!((area / r.area_km2() - 1.0).abs() < 1e-9);
    }
}
