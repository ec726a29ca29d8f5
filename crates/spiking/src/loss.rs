//! Losses and metrics on spike and membrane recordings `[T, B, C]` with class targets `[B]`
//! (int64), following snnTorch's `functional` module.

use tch::{Kind, Reduction, Tensor};

use crate::encode::spike_count;
use crate::{Error, Result};

fn check(name: &str, rec: &Tensor, targets: &Tensor) -> Result<(i64, i64, i64)> {
    let s = rec.size();
    if s.len() != 3 {
        return Err(Error::shape(name, "[T, B, C]", s));
    }
    let t = targets.size();
    if t != [s[1]] {
        return Err(Error::shape("targets", [s[1]], t));
    }
    if targets.kind() != Kind::Int64 {
        return Err(Error::invalid(
            "targets",
            format!("{:?}", targets.kind()),
            "class targets must be int64",
        ));
    }
    if targets.numel() > 0 {
        let (lo, hi) = (targets.min().int64_value(&[]), targets.max().int64_value(&[]));
        if lo < 0 || hi >= s[2] {
            let bad = if lo < 0 { lo } else { hi };
            return Err(Error::invalid("targets", bad, format!("class index outside [0, {})", s[2])));
        }
    }
    Ok((s[0], s[1], s[2]))
}

/// Rate cross-entropy: `(1/T) Σ_t CE(S_t, y)` with `S_t` used as logits (mean over the batch).
///
/// # Errors
/// Shapes other than `[T, B, C]` / `[B]`, non-int64 or out-of-range targets.
pub fn ce_rate(spk: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (t, b, c) = check("spk", spk, targets)?;
    let logp = spk.log_softmax(-1, spk.kind()).reshape([t * b, c]);
    let y = targets.repeat([t]);
    Ok(logp.nll_loss(&y))
}

/// Count cross-entropy: `CE(Σ_t S_t, y)` (spike counts used as logits).
///
/// # Errors
/// As [`ce_rate`].
pub fn ce_count(spk: &Tensor, targets: &Tensor) -> Result<Tensor> {
    check("spk", spk, targets)?;
    let counts = spike_count(spk);
    Ok(counts.log_softmax(-1, counts.kind()).nll_loss(targets))
}

/// Membrane MSE: `(1/T) Σ_t MSE(U_t, y_onehot)` with the on-target value `on` and off-target value
/// `off` (snnTorch defaults 1 and 0).
///
/// # Errors
/// As [`ce_rate`].
pub fn mse_membrane(mem: &Tensor, targets: &Tensor, on: f64, off: f64) -> Result<Tensor> {
    let (_, _, c) = check("mem", mem, targets)?;
    let onehot = targets.one_hot(c).to_kind(mem.kind());
    let target = onehot * (on - off) + off;
    Ok(mem.mse_loss(&target.unsqueeze(0).expand_as(mem), Reduction::Mean))
}

/// Count MSE: MSE between spike counts `Σ_t S_t` and the target counts `⌊correct_rate·T⌋` for the
/// true class and `⌊incorrect_rate·T⌋` for the others, divided by `T` (snnTorch's `mse_count_loss`,
/// which truncates the targets to integers).
///
/// # Errors
/// As [`ce_rate`]; rates outside [0, 1].
pub fn mse_count(spk: &Tensor, targets: &Tensor, correct_rate: f64, incorrect_rate: f64) -> Result<Tensor> {
    let (t, _, c) = check("spk", spk, targets)?;
    for (n, v) in [("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::invalid(n, v, "must lie in [0, 1]"));
        }
    }
    let counts = spike_count(spk);
    let onehot = targets.one_hot(c).to_kind(spk.kind());
    let (on, off) = ((correct_rate * t as f64).floor(), (incorrect_rate * t as f64).floor());
    let target = onehot * (on - off) + off;
    Ok(counts.mse_loss(&target, Reduction::Mean) / t as f64)
}

/// Accuracy by rate: the fraction of samples whose most active output (largest spike count; ties
/// go to the lowest index) is the target.
///
/// # Errors
/// As [`ce_rate`].
pub fn accuracy_rate(spk: &Tensor, targets: &Tensor) -> Result<f64> {
    check("spk", spk, targets)?;
    let counts = spike_count(spk);
    let pred = counts.argmax(-1, false);
    Ok(pred.eq_tensor(targets).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> (Tensor, Tensor) {
        // T = 2, B = 2, C = 3.
        let spk =
            Tensor::from_slice(&[1.0f64, 0., 0., 0., 1., 1., 1., 1., 0., 0., 0., 1.]).reshape([2, 2, 3]);
        (spk, Tensor::from_slice(&[0i64, 2]))
    }

    fn ce(logits: &[f64], y: usize) -> f64 {
        let lse = logits.iter().map(|v| v.exp()).sum::<f64>().ln();
        lse - logits[y]
    }

    #[test]
    fn hand_values() {
        let (spk, y) = rec();
        let r = ce_rate(&spk, &y).unwrap().double_value(&[]);
        let want =
            (ce(&[1., 0., 0.], 0) + ce(&[0., 1., 1.], 2) + ce(&[1., 1., 0.], 0) + ce(&[0., 0., 1.], 2)) / 4.0;
        assert!((r - want).abs() < 1e-12);
        let c = ce_count(&spk, &y).unwrap().double_value(&[]);
        let want = (ce(&[2., 1., 0.], 0) + ce(&[0., 1., 2.], 2)) / 2.0;
        assert!((c - want).abs() < 1e-12);
        // counts [2,1,0],[0,1,2]; targets T·[1,0,0] → [2,0,0]; [0,0,2]: squared errors 1 and 1 over 6.
        let m = mse_count(&spk, &y, 1.0, 0.0).unwrap().double_value(&[]);
        assert!((m - (2.0 / 6.0) / 2.0).abs() < 1e-12);
        let mm = mse_membrane(&spk, &y, 1.0, 0.0).unwrap().double_value(&[]);
        // errors: t0 [0,0,0],[0,1,0] ; t1 [0,1,0],[0,0,0] → 2 / 12.
        assert!((mm - 2.0 / 12.0).abs() < 1e-12);
        assert_eq!(accuracy_rate(&spk, &y).unwrap(), 1.0);
    }

    #[test]
    fn bad_shapes_and_targets() {
        let (spk, _) = rec();
        assert!(ce_rate(&spk, &Tensor::from_slice(&[0i64, 3])).is_err());
        assert!(ce_rate(&spk, &Tensor::from_slice(&[0i64])).is_err());
        assert!(ce_count(&spk.get(0), &Tensor::from_slice(&[0i64, 1])).is_err());
        assert!(ce_count(&spk, &Tensor::from_slice(&[0.0f64, 1.0])).is_err());
    }
}
