//! The two kinds of CSEP forecast: a gridded forecast (expected counts per space–magnitude bin)
//! and a catalogue-based forecast (many simulated catalogues of the same window), with pycsep's
//! file layouts for both.

use super::grid::Grid;
use crate::data::Quake;
use crate::error::{invalid, Error, Result};
use core_tensor::checkpoint::write_bytes_atomic;
use std::fmt::Write as _;
use std::path::Path;

/// Largest number of catalogues a catalogue-forecast file may hold.
pub const MAX_CATALOGUES: usize = 10_000_000;

/// Expected number of events in each bin of a [`Grid`] over the window `(t_start, t_end]` (days).
#[derive(Debug, Clone, PartialEq)]
pub struct GriddedForecast {
    grid: Grid,
    rates: Vec<f64>,
    t_start: f64,
    t_end: f64,
}

impl GriddedForecast {
    /// A checked forecast: `rates` has one finite, non-negative value per bin (cell-major,
    /// magnitude fastest) and a positive total.
    ///
    /// # Errors
    /// A length that differs from `grid.n_bins()`, a negative or non-finite rate (named by its bin),
    /// a zero total, or a window that is not finite and increasing.
    pub fn new(grid: Grid, rates: Vec<f64>, t_start: f64, t_end: f64) -> Result<Self> {
        if rates.len() != grid.n_bins() {
            return Err(invalid(
                "rates",
                format!("{} values", rates.len()),
                &format!("need one per bin, {}", grid.n_bins()),
            ));
        }
        if let Some((i, r)) = rates.iter().enumerate().find(|(_, r)| !(r.is_finite() && **r >= 0.0)) {
            return Err(invalid(&format!("rates[{i}]"), r, "must be finite and >= 0"));
        }
        if !(rates.iter().sum::<f64>() > 0.0) {
            return Err(invalid("rates", "all zero", "need a positive total"));
        }
        if !(t_start.is_finite() && t_end.is_finite() && t_end > t_start) {
            return Err(invalid(
                "t_start, t_end",
                format!("{t_start}, {t_end}"),
                "need finite times with t_end > t_start",
            ));
        }
        Ok(GriddedForecast { grid, rates, t_start, t_end })
    }
    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }
    /// Expected counts per bin (cell-major, magnitude fastest).
    pub fn rates(&self) -> &[f64] {
        &self.rates
    }
    /// Window start (days).
    pub fn t_start(&self) -> f64 {
        self.t_start
    }
    /// Window end (days).
    pub fn t_end(&self) -> f64 {
        self.t_end
    }
    /// Expected number of events, `Λ = Σ rates`.
    pub fn total(&self) -> f64 {
        self.rates.iter().sum()
    }
    /// Expected counts per cell (summed over magnitudes).
    pub fn spatial_rates(&self) -> Vec<f64> {
        self.grid.spatial_marginal(&self.rates)
    }
    /// Expected counts per magnitude bin (summed over cells).
    pub fn magnitude_rates(&self) -> Vec<f64> {
        self.grid.magnitude_marginal(&self.rates)
    }

    /// Writes pycsep's ASCII forecast layout, atomically: one whitespace-separated row per bin,
    /// `lon_min lon_max lat_min lat_max depth_min depth_max mag_min mag_max rate mask`, cells in
    /// grid order with magnitudes fastest, depth `[0, 30]` km, mask 1. pycsep loads it with
    /// `csep.load_gridded_forecast(path)` when the name ends in `.dat`.
    ///
    /// # Errors
    /// A grid with magnitude bins of unequal widths (pycsep infers one width), or an I/O error.
    pub fn write_dat(&self, path: &Path) -> Result<()> {
        let w =
            self.grid.uniform_mag_width().or(if self.grid.nm() == 1 { Some(0.1) } else { None }).ok_or_else(
                || {
                    invalid(
                        "grid.mags",
                        format!("{:?}", self.grid.mags),
                        "need bins of one width for pycsep's layout",
                    )
                },
            )?;
        let mut s = String::with_capacity(self.rates.len() * 64);
        for c in 0..self.grid.n_cells() {
            let (lo0, lo1, la0, la1) = self.grid.cell_bounds(c);
            for k in 0..self.grid.nm() {
                let m = self.grid.magnitude(k);
                let _ = writeln!(
                    s,
                    "{lo0:.6} {lo1:.6} {la0:.6} {la1:.6} 0.0 30.0 {m:.4} {:.4} {:.12e} 1",
                    m + w,
                    self.rates[c * self.grid.nm() + k]
                );
            }
        }
        write_bytes_atomic(path, s.as_bytes())?;
        Ok(())
    }

    /// Reads pycsep's ASCII forecast layout (see [`Self::write_dat`]) for a full rectangular grid:
    /// rows grouped by cell, every cell listing the same magnitude bins. Masked rows (mask 0) are
    /// refused: this reader knows only full rectangles.
    ///
    /// # Errors
    /// A row without 10 numbers, non-square or unequal cells, cells that do not tile a rectangle,
    /// magnitude bins that differ between cells, a negative rate, each naming the line.
    pub fn read_dat(path: &Path, t_start: f64, t_end: f64) -> Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Self::from_dat_str(&text, &path.display().to_string(), t_start, t_end)
    }

    /// Parses pycsep's ASCII forecast layout from text (see [`Self::read_dat`]).
    pub fn from_dat_str(text: &str, name: &str, t_start: f64, t_end: f64) -> Result<Self> {
        let err = |line: usize, reason: String| Error::Parse { path: name.to_string(), line, reason };
        let mut cells: Vec<[f64; 4]> = Vec::new();
        let mut mags: Vec<f64> = Vec::new();
        let mut rates = Vec::new();
        let mut k_in_cell = 0usize;
        for (ln, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let v: Vec<f64> = line
                .split_whitespace()
                .map(|f| f.parse::<f64>().map_err(|_| err(ln, format!("`{f}` is not a number"))))
                .collect::<Result<_>>()?;
            if v.len() != 10 {
                return Err(err(ln, format!("{} columns, need 10 (lon_min lon_max lat_min lat_max depth_min depth_max mag_min mag_max rate mask)", v.len())));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(err(ln, "a value is not finite".into()));
            }
            if v[9] != 1.0 {
                return Err(err(ln, format!("mask {} (only full rectangles with mask 1 are read)", v[9])));
            }
            if v[8] < 0.0 {
                return Err(err(ln, format!("negative rate {}", v[8])));
            }
            let cell = [v[0], v[1], v[2], v[3]];
            if cells.last() != Some(&cell) {
                if let Some(prev) = cells.last() {
                    if k_in_cell != mags.len() {
                        return Err(err(
                            ln,
                            format!(
                                "cell {prev:?} lists {k_in_cell} magnitude bins, the first cell {}",
                                mags.len()
                            ),
                        ));
                    }
                }
                cells.push(cell);
                k_in_cell = 0;
            }
            if cells.len() == 1 {
                mags.push(v[6]);
            } else if mags.get(k_in_cell).is_none_or(|m| (m - v[6]).abs() > 1e-9) {
                return Err(err(
                    ln,
                    format!("magnitude bin {} differs from the first cell's bins {mags:?}", v[6]),
                ));
            }
            k_in_cell += 1;
            rates.push(v[8]);
        }
        if cells.is_empty() {
            return Err(err(0, "no rows".into()));
        }
        if k_in_cell != mags.len() {
            return Err(err(
                0,
                format!("the last cell lists {k_in_cell} magnitude bins, the first {}", mags.len()),
            ));
        }
        let dh = cells[0][3] - cells[0][2];
        let lon0 = cells.iter().map(|c| c[0]).fold(f64::INFINITY, f64::min);
        let lat0 = cells.iter().map(|c| c[2]).fold(f64::INFINITY, f64::min);
        let lon1 = cells.iter().map(|c| c[1]).fold(f64::NEG_INFINITY, f64::max);
        let lat1 = cells.iter().map(|c| c[3]).fold(f64::NEG_INFINITY, f64::max);
        let (nx, ny) = (((lon1 - lon0) / dh).round() as usize, ((lat1 - lat0) / dh).round() as usize);
        let grid = Grid::new(lon0, lat0, dh, nx.max(1), ny.max(1), mags)?;
        if cells.len() != grid.n_cells() {
            return Err(err(
                0,
                format!("{} cells do not tile the {nx} × {ny} rectangle of side {dh}", cells.len()),
            ));
        }
        // place each cell's rates at its grid index
        let nm = grid.nm();
        let mut placed = vec![f64::NAN; grid.n_bins()];
        for (i, c) in cells.iter().enumerate() {
            if ((c[1] - c[0]) - dh).abs() > 1e-6 * dh || ((c[3] - c[2]) - dh).abs() > 1e-6 * dh {
                return Err(err(0, format!("cell {c:?} is not a square of side {dh}")));
            }
            let g = grid
                .cell_of(c[0] + 0.5 * dh, c[2] + 0.5 * dh)
                .ok_or_else(|| err(0, format!("cell {c:?} lies outside the grid")))?;
            if !placed[g * nm].is_nan() {
                return Err(err(0, format!("cell {c:?} appears twice")));
            }
            placed[g * nm..(g + 1) * nm].copy_from_slice(&rates[i * nm..(i + 1) * nm]);
        }
        GriddedForecast::new(grid, placed, t_start, t_end)
    }
}

/// A catalogue-based forecast: simulated catalogues of one window, each a list of events (empty
/// catalogues count: they are forecasts of no event).
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueForecast {
    /// The simulated catalogues.
    pub catalogues: Vec<Vec<Quake>>,
    /// Window start (days).
    pub t_start: f64,
    /// Window end (days).
    pub t_end: f64,
}

impl CatalogueForecast {
    /// A checked forecast: at least one catalogue, events finite and inside the window.
    ///
    /// # Errors
    /// No catalogue, a non-finite field, or an event outside `(t_start, t_end]`, named by its
    /// catalogue and index.
    pub fn new(catalogues: Vec<Vec<Quake>>, t_start: f64, t_end: f64) -> Result<Self> {
        if catalogues.is_empty() {
            return Err(invalid("catalogues", 0, "need at least one simulated catalogue"));
        }
        if !(t_start.is_finite() && t_end.is_finite() && t_end > t_start) {
            return Err(invalid(
                "t_start, t_end",
                format!("{t_start}, {t_end}"),
                "need finite times with t_end > t_start",
            ));
        }
        for (j, c) in catalogues.iter().enumerate() {
            for (i, q) in c.iter().enumerate() {
                let finite = [q.time, q.lon, q.lat, q.mag, q.depth].iter().all(|v| v.is_finite());
                if !finite || q.time < t_start || q.time > t_end {
                    return Err(invalid(
                        &format!("catalogues[{j}][{i}]"),
                        format!("{q:?}"),
                        "must be finite and inside the window",
                    ));
                }
            }
        }
        Ok(CatalogueForecast { catalogues, t_start, t_end })
    }
    /// Number of catalogues.
    pub fn len(&self) -> usize {
        self.catalogues.len()
    }
    /// Whether there is no catalogue (never, for a checked forecast).
    pub fn is_empty(&self) -> bool {
        self.catalogues.is_empty()
    }
    /// Mean counts per bin of `grid` over all catalogues (empty ones included), events outside
    /// the grid skipped: the gridded forecast the catalogues imply.
    pub fn expected_rates(&self, grid: &Grid) -> Vec<f64> {
        let mut e = vec![0.0; grid.n_bins()];
        for c in &self.catalogues {
            for q in c {
                if let Some(b) = grid.bin_of(q) {
                    e[b] += 1.0;
                }
            }
        }
        let n = self.catalogues.len() as f64;
        e.iter_mut().for_each(|x| *x /= n);
        e
    }

    /// Writes pycsep's ASCII catalogue-forecast layout, atomically: rows
    /// `lon,lat,mag,time_string,depth,catalog_id,event_id` with ids from 0, an empty catalogue as
    /// one row holding only its id (so that trailing empty catalogues are not lost). pycsep loads
    /// it with `csep.load_catalog_forecast(path, type='ascii', region=...)`. Times are days since
    /// 1970-01-01 written as UTC date-times with microseconds; longitudes and latitudes with five
    /// decimals (about 1 m), magnitudes and depths with three.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut s = String::from("lon,lat,mag,time_string,depth,catalog_id,event_id\n");
        for (j, c) in self.catalogues.iter().enumerate() {
            if c.is_empty() {
                let _ = writeln!(s, ",,,,,{j},");
            }
            for (i, q) in c.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{:.5},{:.5},{:.3},{},{:.3},{j},{i}",
                    q.lon,
                    q.lat,
                    q.mag,
                    iso_time(q.time)?,
                    q.depth
                );
            }
        }
        write_bytes_atomic(path, s.as_bytes())?;
        Ok(())
    }

    /// Reads pycsep's ASCII catalogue-forecast layout (see [`Self::write_csv`]); catalogue ids
    /// must start at 0 and never decrease; a gap stands for empty catalogues.
    ///
    /// # Errors
    /// A malformed row or a decreasing id, naming the line.
    pub fn from_csv_str(text: &str, name: &str, t_start: f64, t_end: f64) -> Result<Self> {
        let err = |line: usize, reason: String| Error::Parse { path: name.to_string(), line, reason };
        let mut cats: Vec<Vec<Quake>> = Vec::new();
        for (ln, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || (ln == 1 && line.to_ascii_lowercase().starts_with("lon")) {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != 7 {
                return Err(err(
                    ln,
                    format!(
                        "{} columns, need 7 (lon,lat,mag,time_string,depth,catalog_id,event_id)",
                        f.len()
                    ),
                ));
            }
            let id: usize =
                f[5].parse().map_err(|_| err(ln, format!("catalog_id `{}` is not a count", f[5])))?;
            if id + 1 < cats.len() {
                return Err(err(
                    ln,
                    format!("catalog_id {id} after {}: ids must not decrease", cats.len() - 1),
                ));
            }
            if id >= MAX_CATALOGUES {
                return Err(err(ln, format!("catalog_id {id}: at most {MAX_CATALOGUES} catalogues")));
            }
            while cats.len() <= id {
                cats.push(Vec::new());
            }
            if f[..5].iter().all(|x| x.is_empty()) {
                continue; // an empty catalogue's placeholder
            }
            let num = |k: usize, what: &str| -> Result<f64> {
                f[k].parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| err(ln, format!("{what} `{}` is not a finite number", f[k])))
            };
            let time = crate::data::io::parse_time_days(f[3])
                .ok_or_else(|| err(ln, format!("time `{}` is not a date-time", f[3])))?;
            cats[id].push(Quake {
                time,
                lon: num(0, "lon")?,
                lat: num(1, "lat")?,
                mag: num(2, "mag")?,
                depth: num(4, "depth")?,
            });
        }
        CatalogueForecast::new(cats, t_start, t_end)
    }
}

/// Days since 1970-01-01 as `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC).
///
/// # Errors
/// A time outside the years −9999..=9999.
pub fn iso_time(days: f64) -> Result<String> {
    let micros = (days * 86_400e6).round();
    if !(micros.abs() < 3e17) {
        return Err(invalid("time", days, "must lie within the years -9999..=9999"));
    }
    let micros = micros as i64;
    let (day, rem) = (micros.div_euclid(86_400_000_000), micros.rem_euclid(86_400_000_000));
    let date = time::Date::from_julian_day((2_440_588 + day) as i32)
        .map_err(|_| invalid("time", days, "must lie within the years -9999..=9999"))?;
    let (h, m, s, us) = (rem / 3_600_000_000, rem / 60_000_000 % 60, rem / 1_000_000 % 60, rem % 1_000_000);
    Ok(format!("{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{us:06}", date.year(), date.month() as u8, date.day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dat_layout_round_trips_and_names_bad_lines() {
        let g = Grid::new(-118.0, 35.0, 0.5, 2, 3, vec![2.5, 3.0, 3.5]).unwrap();
        let rates: Vec<f64> = (0..g.n_bins()).map(|i| 0.01 * (i + 1) as f64).collect();
        let f = GriddedForecast::new(g.clone(), rates.clone(), 0.0, 1.0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.dat");
        f.write_dat(&p).unwrap();
        let back = GriddedForecast::read_dat(&p, 0.0, 1.0).unwrap();
        assert_eq!(back.grid().nx, 2);
        assert_eq!(back.grid().ny, 3);
        for (a, b) in back.rates().iter().zip(&rates) {
            assert!((a / b - 1.0).abs() < 1e-11);
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let bad = text.replacen(" 1\n", " 1 7\n", 1);
        let e = GriddedForecast::from_dat_str(&bad, "f.dat", 0.0, 1.0).unwrap_err().to_string();
        assert!(e.contains("f.dat:1") && e.contains("11 columns"), "{e}");
        let e = GriddedForecast::from_dat_str("-118 -117.5 35 35.5 0 30 2.5 3.0 -1 1\n", "x", 0.0, 1.0)
            .unwrap_err();
        assert!(e.to_string().contains("negative rate"), "{e}");
        assert!(GriddedForecast::new(g, vec![0.0; 18], 0.0, 1.0).is_err());
    }

    #[test]
    fn catalogue_forecast_csv_keeps_empty_catalogues() {
        let q = |t: f64| Quake { time: 18083.0 + t, lon: -117.5, lat: 35.7, mag: 3.1, depth: 8.0 };
        let f =
            CatalogueForecast::new(vec![vec![], vec![q(0.25), q(0.5)], vec![]], 18083.0, 18084.0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        f.write_csv(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("2019-07-06T06:00:00.000000"), "{text}");
        let back = CatalogueForecast::from_csv_str(&text, "c.csv", 18083.0, 18084.0).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back.catalogues[1].len(), 2);
        assert!((back.catalogues[1][1].time - q(0.5).time).abs() < 1e-9);
        let e = CatalogueForecast::from_csv_str(
            "1,2,3,2019-07-06,4,1,0\n1,2,3,2019-07-06,4,0,0\n",
            "c",
            18000.0,
            18100.0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("c:2") && e.contains("must not decrease"), "{e}");
        assert_eq!(iso_time(-0.5).unwrap(), "1969-12-31T12:00:00.000000");
    }
}
