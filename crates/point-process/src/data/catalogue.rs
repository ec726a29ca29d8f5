//! Earthquake catalogues: time (days), longitude, latitude (degrees), magnitude, depth (km), in a
//! longitude/latitude rectangle and a time window, complete above magnitude `mc`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Mean Earth radius in km (the `etas` package's value).
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in km between two points given in degrees (haversine formula).
pub fn haversine_km(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// The point reached from `(lon, lat)` after `dist_km` along initial bearing `bearing` (radians
/// clockwise from north) on the sphere; consistent with [`haversine_km`]. The longitude returned
/// lies in `[−180, 180]`.
///
/// # Errors
/// A non-finite argument, `|lon| > 360`, `|lat| > 90` or a negative distance.
pub fn destination(lon: f64, lat: f64, dist_km: f64, bearing: f64) -> Result<(f64, f64)> {
    if !(lon.abs() <= 360.0
        && lat.abs() <= 90.0
        && dist_km >= 0.0
        && dist_km.is_finite()
        && bearing.is_finite())
    {
        return Err(Error::Core(core_tensor::Error::invalid(
            "lon, lat, dist_km, bearing",
            format!("{lon}, {lat}, {dist_km}, {bearing}"),
            "need finite values with |lon| ≤ 360, |lat| ≤ 90 and dist_km ≥ 0",
        )));
    }
    let d = dist_km / EARTH_RADIUS_KM;
    let p1 = lat.to_radians();
    let l1 = lon.to_radians();
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos()).clamp(-1.0, 1.0).asin();
    let l2 = l1 + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let mut lon2 = l2.to_degrees();
    while lon2 > 180.0 {
        lon2 -= 360.0;
    }
    while lon2 < -180.0 {
        lon2 += 360.0;
    }
    Ok((lon2, p2.to_degrees()))
}

/// A longitude/latitude rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Western edge (degrees).
    pub lon_min: f64,
    /// Eastern edge (degrees).
    pub lon_max: f64,
    /// Southern edge (degrees).
    pub lat_min: f64,
    /// Northern edge (degrees).
    pub lat_max: f64,
}

impl Region {
    /// Validated rectangle.
    pub fn new(lon_min: f64, lon_max: f64, lat_min: f64, lat_max: f64) -> Result<Self> {
        let ok = [lon_min, lon_max, lat_min, lat_max].iter().all(|v| v.is_finite())
            && lon_min < lon_max
            && lat_min < lat_max
            && (-90.0..=90.0).contains(&lat_min)
            && (-90.0..=90.0).contains(&lat_max)
            && lon_max - lon_min <= 360.0;
        if !ok {
            return Err(Error::Data(format!(
                "region lon [{lon_min}, {lon_max}] × lat [{lat_min}, {lat_max}] is not a valid rectangle"
            )));
        }
        Ok(Region { lon_min, lon_max, lat_min, lat_max })
    }
    /// Area in km² on the sphere: `R² Δλ (sin φ₂ − sin φ₁)`.
    pub fn area_km2(&self) -> f64 {
        EARTH_RADIUS_KM.powi(2)
            * (self.lon_max - self.lon_min).to_radians()
            * (self.lat_max.to_radians().sin() - self.lat_min.to_radians().sin())
    }
    /// Whether the point lies inside (edges included).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        lon >= self.lon_min && lon <= self.lon_max && lat >= self.lat_min && lat <= self.lat_max
    }
    /// A point uniform in area (longitude uniform, sine of latitude uniform) from two uniforms.
    pub fn uniform_point(&self, u1: f64, u2: f64) -> (f64, f64) {
        let lon = self.lon_min + u1 * (self.lon_max - self.lon_min);
        let (s0, s1) = (self.lat_min.to_radians().sin(), self.lat_max.to_radians().sin());
        let lat = (s0 + u2 * (s1 - s0)).asin().to_degrees();
        (lon, lat)
    }
}

/// One earthquake.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quake {
    /// Time in days.
    pub time: f64,
    /// Longitude (degrees).
    pub lon: f64,
    /// Latitude (degrees).
    pub lat: f64,
    /// Magnitude.
    pub mag: f64,
    /// Depth (km).
    pub depth: f64,
}

/// A validated catalogue: events sorted by strictly increasing time, all inside `region`, with
/// magnitudes `≥ mc`. Events before `t_start` are *history*: they trigger but are not targets of the
/// likelihood (the `etas` package's auxiliary window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CatalogueFields")]
pub struct Catalogue {
    events: Vec<Quake>,
    t_history: f64,
    t_start: f64,
    t_end: f64,
    mc: f64,
    region: Region,
}

/// The serialised fields of a [`Catalogue`], validated by [`Region::new`] and [`Catalogue::new`]
/// on the way in.
#[derive(Deserialize)]
struct CatalogueFields {
    events: Vec<Quake>,
    t_history: f64,
    t_start: f64,
    t_end: f64,
    mc: f64,
    region: Region,
}

impl TryFrom<CatalogueFields> for Catalogue {
    type Error = Error;
    fn try_from(f: CatalogueFields) -> Result<Self> {
        let r = f.region;
        let region = Region::new(r.lon_min, r.lon_max, r.lat_min, r.lat_max)?;
        Catalogue::new(f.events, f.t_history, f.t_start, f.t_end, f.mc, region)
    }
}

impl Catalogue {
    /// Builds and validates a catalogue over `[t_history, t_end]` whose target window is
    /// `[t_start, t_end]`.
    pub fn new(
        events: Vec<Quake>,
        t_history: f64,
        t_start: f64,
        t_end: f64,
        mc: f64,
        region: Region,
    ) -> Result<Self> {
        if !(t_history.is_finite() && t_end.is_finite() && t_history <= t_start && t_start < t_end) {
            return Err(Error::Data(format!(
                "windows must satisfy t_history <= t_start < t_end (got {t_history}, {t_start}, {t_end})"
            )));
        }
        if !mc.is_finite() {
            return Err(Error::Data(format!("mc = {mc} is not finite")));
        }
        for (i, q) in events.iter().enumerate() {
            if ![q.time, q.lon, q.lat, q.mag, q.depth].iter().all(|v| v.is_finite()) {
                return Err(Error::Data(format!("event {i} has a non-finite field: {q:?}")));
            }
            if q.time < t_history || q.time > t_end {
                return Err(Error::Data(format!(
                    "event {i} at time {} is outside [{t_history}, {t_end}]",
                    q.time
                )));
            }
            if !region.contains(q.lon, q.lat) {
                return Err(Error::Data(format!(
                    "event {i} at ({}, {}) is outside the region",
                    q.lon, q.lat
                )));
            }
            if q.mag < mc {
                return Err(Error::Data(format!("event {i} has magnitude {} below mc = {mc}", q.mag)));
            }
            if i > 0 {
                let p = events[i - 1].time;
                if q.time == p {
                    return Err(Error::Data(format!("duplicate time {p} at events {} and {i}", i - 1)));
                }
                if q.time < p {
                    return Err(Error::Data(format!(
                        "times are not sorted: event {} at {p} > event {i} at {}",
                        i - 1,
                        q.time
                    )));
                }
            }
        }
        Ok(Catalogue { events, t_history, t_start, t_end, mc, region })
    }

    /// Keeps the events with magnitude `≥ mc` inside `region` and the time window, sorts them by time,
    /// drops exact duplicates, and builds the catalogue (for raw data).
    pub fn from_raw(
        mut events: Vec<Quake>,
        t_history: f64,
        t_start: f64,
        t_end: f64,
        mc: f64,
        region: Region,
    ) -> Result<Self> {
        events.retain(|q| {
            q.mag >= mc && region.contains(q.lon, q.lat) && q.time >= t_history && q.time <= t_end
        });
        events.sort_by(|a, b| a.time.total_cmp(&b.time));
        events.dedup_by(|a, b| a.time == b.time);
        Self::new(events, t_history, t_start, t_end, mc, region)
    }

    /// All events (history included).
    pub fn events(&self) -> &[Quake] {
        &self.events
    }
    /// Start of the history window.
    pub fn t_history(&self) -> f64 {
        self.t_history
    }
    /// Start of the target window.
    pub fn t_start(&self) -> f64 {
        self.t_start
    }
    /// End of the window.
    pub fn t_end(&self) -> f64 {
        self.t_end
    }
    /// Completeness magnitude.
    pub fn mc(&self) -> f64 {
        self.mc
    }
    /// Spatial region.
    pub fn region(&self) -> &Region {
        &self.region
    }
    /// Number of events (history included).
    pub fn len(&self) -> usize {
        self.events.len()
    }
    /// Whether the catalogue is empty.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
    /// Index of the first target event (time ≥ t_start).
    pub fn first_target(&self) -> usize {
        self.events.partition_point(|q| q.time < self.t_start)
    }
    /// The catalogue restricted to events up to `t` (the window ends at `t`).
    pub fn until(&self, t: f64) -> Result<Self> {
        let events = self.events.iter().copied().filter(|q| q.time <= t).collect();
        Self::new(events, self.t_history, self.t_start.min(t), t, self.mc, self.region)
    }
    /// Maximum-likelihood Gutenberg–Richter b-value above `mc` (Aki 1965): `b = 1 / (ln 10 (m̄ − mc))`.
    pub fn b_value(&self) -> Result<f64> {
        if self.events.is_empty() {
            return Err(Error::Data("b-value of an empty catalogue".into()));
        }
        let mean = self.events.iter().map(|q| q.mag).sum::<f64>() / self.events.len() as f64;
        if mean <= self.mc {
            return Err(Error::Data("all magnitudes equal mc: b-value undefined".into()));
        }
        Ok(1.0 / (std::f64::consts::LN_10 * (mean - self.mc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn geometry() {
        // One degree of latitude ≈ 111.19 km on a 6371 km sphere.
        assert_abs_diff_eq!(haversine_km(0.0, 0.0, 0.0, 1.0), 111.194_926_644_558_73, epsilon = 1e-9);
        let (lon, lat) = destination(-118.0, 34.0, 50.0, 1.0).unwrap();
        // deserialised catalogues go through the validating constructors
        let cat = Catalogue::new(
            vec![Quake { time: 1.0, lon: 0.5, lat: 0.5, mag: 3.2, depth: 5.0 }],
            0.0,
            0.0,
            2.0,
            3.0,
            Region::new(0.0, 1.0, 0.0, 1.0).unwrap(),
        )
        .unwrap();
        let json = serde_json::to_string(&cat).unwrap();
        assert_eq!(serde_json::from_str::<Catalogue>(&json).unwrap(), cat);
        let outside = json.replace("\"lon\":0.5", "\"lon\":7.5");
        assert_ne!(outside, json);
        assert!(serde_json::from_str::<Catalogue>(&outside).is_err());
        let flipped = json.replace("\"lon_max\":1.0", "\"lon_max\":-1.0");
        assert!(serde_json::from_str::<Catalogue>(&flipped).is_err());
        assert!(destination(f64::INFINITY, 34.0, 50.0, 1.0).is_err());
        assert!(destination(-118.0, 34.0, f64::NAN, 1.0).is_err());
        assert_abs_diff_eq!(haversine_km(-118.0, 34.0, lon, lat), 50.0, epsilon = 1e-9);
        // A 1°×1° cell at the equator: R² (π/180) sin(1°).
        let r = Region::new(0.0, 1.0, 0.0, 1.0).unwrap();
        assert_abs_diff_eq!(
            r.area_km2(),
            6371.0f64.powi(2) * 1f64.to_radians() * 1f64.to_radians().sin(),
            epsilon = 1e-6
        );
        let (lon, lat) = r.uniform_point(0.5, 1.0);
        assert_abs_diff_eq!(lon, 0.5);
        assert_abs_diff_eq!(lat, 1.0, epsilon = 1e-12);
    }

    #[test]
    fn validation() {
        let r = Region::new(0.0, 1.0, 0.0, 1.0).unwrap();
        let q = |t, m| Quake { time: t, lon: 0.5, lat: 0.5, mag: m, depth: 5.0 };
        let e =
            Catalogue::new(vec![q(1.0, 3.0), q(0.5, 3.0)], 0.0, 0.0, 2.0, 2.5, r).unwrap_err().to_string();
        assert!(e.contains("not sorted"), "{e}");
        let e = Catalogue::new(vec![q(1.0, 2.0)], 0.0, 0.0, 2.0, 2.5, r).unwrap_err().to_string();
        assert!(e.contains("below mc"), "{e}");
        let e = Catalogue::new(vec![Quake { lon: 5.0, ..q(1.0, 3.0) }], 0.0, 0.0, 2.0, 2.5, r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the region"), "{e}");
        assert!(Region::new(1.0, 0.0, 0.0, 1.0).is_err());
        let c =
            Catalogue::from_raw(vec![q(1.5, 3.0), q(0.5, 2.0), q(1.0, 4.0)], 0.0, 1.2, 2.0, 2.5, r).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.first_target(), 1);
        // Aki: magnitudes 4.0 and 3.0 above mc = 2.5 have mean excess 1.0 → b = 1/ln 10
        assert_abs_diff_eq!(c.b_value().unwrap(), 1.0 / std::f64::consts::LN_10, epsilon = 1e-12);
    }
}
