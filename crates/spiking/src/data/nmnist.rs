//! N-MNIST / ATIS event files: the 40-bit event codec, the N-MNIST reader and writer, event binning.

use std::path::Path;

use crate::{Error, Result};

/// Side length of the N-MNIST sensor crop, in pixels (34 × 34).
pub const NMNIST_SIZE: u16 = 34;

/// Largest timestamp representable in the 23-bit field of the event format, in µs (`2^23 − 1`).
pub const MAX_TIMESTAMP_US: u64 = (1 << 23) - 1;

/// One address event of a dynamic vision sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DvsEvent {
    /// Column, in pixels.
    pub x: u16,
    /// Row, in pixels.
    pub y: u16,
    /// Timestamp, in µs from the start of the recording.
    pub t_us: u64,
    /// Polarity: `true` = ON (brightness increase), `false` = OFF.
    pub p: bool,
}

/// Decodes the 40-bit ATIS event format used by N-MNIST and N-Caltech101 (Orchard et al. 2015).
///
/// Each event is 5 bytes: byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity (1 = ON), and the remaining
/// 23 bits (bits 6..0 of byte 2, then bytes 3 and 4, big-endian) = timestamp in µs. No range check on x/y
/// beyond the byte; see [`read_nmnist`] for the N-MNIST 34 × 34 check.
///
/// # Errors
/// `bytes.len()` not a multiple of 5.
pub fn decode_events(bytes: &[u8]) -> Result<Vec<DvsEvent>> {
    if !bytes.len().is_multiple_of(5) {
        return Err(Error::invalid("bytes.len()", bytes.len(), "must be a multiple of 5 (40-bit events)"));
    }
    Ok(bytes
        .chunks_exact(5)
        .map(|b| DvsEvent {
            x: u16::from(b[0]),
            y: u16::from(b[1]),
            p: b[2] & 0x80 != 0,
            t_us: (u64::from(b[2] & 0x7F) << 16) | (u64::from(b[3]) << 8) | u64::from(b[4]),
        })
        .collect())
}

/// Encodes events in the 40-bit ATIS format (inverse of [`decode_events`]).
///
/// # Errors
/// An event with `x > 255`, `y > 255` or `t_us > 2^23 − 1` (the error names the event index).
pub fn encode_events(events: &[DvsEvent]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(events.len() * 5);
    for (k, e) in events.iter().enumerate() {
        let x =
            u8::try_from(e.x).map_err(|_| Error::invalid(format!("events[{k}].x"), e.x, "must be ≤ 255"))?;
        let y =
            u8::try_from(e.y).map_err(|_| Error::invalid(format!("events[{k}].y"), e.y, "must be ≤ 255"))?;
        if e.t_us > MAX_TIMESTAMP_US {
            return Err(Error::invalid(
                format!("events[{k}].t_us"),
                e.t_us,
                "must be < 2^23 µs (23-bit field)",
            ));
        }
        let t = e.t_us as u32;
        out.extend_from_slice(&[
            x,
            y,
            (u8::from(e.p) << 7) | ((t >> 16) as u8 & 0x7F),
            (t >> 8) as u8,
            t as u8,
        ]);
    }
    Ok(out)
}

fn check_nmnist_range(events: &[DvsEvent]) -> Result<()> {
    for (k, e) in events.iter().enumerate() {
        if e.x >= NMNIST_SIZE {
            return Err(Error::invalid(format!("events[{k}].x"), e.x, "must be < 34 (N-MNIST sensor)"));
        }
        if e.y >= NMNIST_SIZE {
            return Err(Error::invalid(format!("events[{k}].y"), e.y, "must be < 34 (N-MNIST sensor)"));
        }
    }
    Ok(())
}

/// Decodes an N-MNIST sample file's bytes ([`decode_events`] plus the 34 × 34 sensor check).
///
/// # Errors
/// Length not a multiple of 5, or an event with `x ≥ 34` or `y ≥ 34` (named by index).
pub fn read_nmnist(bytes: &[u8]) -> Result<Vec<DvsEvent>> {
    let events = decode_events(bytes)?;
    check_nmnist_range(&events)?;
    Ok(events)
}

/// Encodes events as an N-MNIST sample file ([`encode_events`] plus the 34 × 34 sensor check).
///
/// # Errors
/// An event with `x ≥ 34`, `y ≥ 34` or `t_us ≥ 2^23` (named by index).
pub fn write_nmnist(events: &[DvsEvent]) -> Result<Vec<u8>> {
    check_nmnist_range(events)?;
    encode_events(events)
}

/// Reads and decodes an N-MNIST `.bin` sample file.
///
/// # Errors
/// I/O failure, or as [`read_nmnist`].
pub fn read_nmnist_file(path: impl AsRef<Path>) -> Result<Vec<DvsEvent>> {
    read_nmnist(&std::fs::read(path)?)
}

/// Bins events into count frames `[n_bins][2][height][width]` (row-major, `f32`).
///
/// Event `(x, y, t, p)` with `t < duration_us` adds 1 to frame `⌊t·n_bins / duration_us⌋`, channel
/// `p as usize` (0 = OFF, 1 = ON), row `y`, column `x`. Events with `t ≥ duration_us` are ignored (this
/// crops a recording); event order does not matter.
///
/// # Errors
/// `width`, `height`, `n_bins` or `duration_us` zero, or an event with `x ≥ width` or `y ≥ height`.
pub fn bin_events(
    events: &[DvsEvent],
    width: usize,
    height: usize,
    n_bins: usize,
    duration_us: u64,
) -> Result<Vec<f32>> {
    for (name, v) in [
        ("width", width as u64),
        ("height", height as u64),
        ("n_bins", n_bins as u64),
        ("duration_us", duration_us),
    ] {
        if v == 0 {
            return Err(Error::invalid(name, v, "must be ≥ 1"));
        }
    }
    let frame = 2 * height * width;
    let mut out = vec![0.0f32; n_bins * frame];
    for (k, e) in events.iter().enumerate() {
        let (x, y) = (usize::from(e.x), usize::from(e.y));
        if x >= width {
            return Err(Error::invalid(format!("events[{k}].x"), e.x, format!("must be < width {width}")));
        }
        if y >= height {
            return Err(Error::invalid(format!("events[{k}].y"), e.y, format!("must be < height {height}")));
        }
        if e.t_us >= duration_us {
            continue;
        }
        let bin = (u128::from(e.t_us) * n_bins as u128 / u128::from(duration_us)) as usize;
        out[bin * frame + usize::from(e.p) * height * width + y * width + x] += 1.0;
    }
    Ok(out)
}
