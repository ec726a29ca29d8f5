//! Classification metrics: accuracy, expected calibration error and the ROC AUC.

use crate::error::{ensure_finite, Error, Result};
use tch::{Kind, Tensor};

/// Fraction of equal labels.
pub fn accuracy(pred: &[i64], target: &[i64]) -> Result<f64> {
    if pred.len() != target.len() || pred.is_empty() {
        return Err(Error::shape("target", format!("[{}]", pred.len()), format!("[{}]", target.len())));
    }
    Ok(pred.iter().zip(target).filter(|(a, b)| a == b).count() as f64 / pred.len() as f64)
}

/// Accuracy of `logits [N, C]` against integer `labels [N]`.
pub fn accuracy_logits(logits: &Tensor, labels: &Tensor) -> Result<f64> {
    let (n, _c) = logits.size2().map_err(|_| Error::shape("logits", "[N, C]", logits.size()))?;
    if labels.size() != [n] {
        return Err(Error::shape("labels", [n], labels.size()));
    }
    let pred = logits.f_argmax(-1, false)?;
    let eq = pred.f_eq_tensor(&labels.to_kind(Kind::Int64))?;
    Ok(eq.f_to_kind(Kind::Double)?.f_mean(Kind::Double)?.double_value(&[]))
}

/// Expected calibration error with `bins` equal-width confidence bins on `[0, 1]`
/// (Guo et al. 2017): `Σ_b (|B_b|/N) |acc(B_b) − conf(B_b)|`. Bin `b` holds confidences in
/// `(b/B, (b+1)/B]`; a confidence of exactly 0 falls in the first bin.
pub fn ece(confidence: &[f64], correct: &[bool], bins: usize) -> Result<f64> {
    if confidence.len() != correct.len() || confidence.is_empty() {
        return Err(Error::shape(
            "correct",
            format!("[{}]", confidence.len()),
            format!("[{}]", correct.len()),
        ));
    }
    if bins == 0 {
        return Err(Error::invalid("bins", 0, "must be > 0"));
    }
    ensure_finite("confidence", confidence)?;
    if let Some((i, c)) = confidence.iter().enumerate().find(|(_, c)| !(0.0..=1.0).contains(*c)) {
        return Err(Error::invalid(format!("confidence[{i}]"), c, "must be in [0, 1]"));
    }
    let mut count = vec![0usize; bins];
    let mut conf_sum = vec![0.0; bins];
    let mut acc_sum = vec![0.0; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let b = ((c * bins as f64).ceil() as usize).saturating_sub(1).min(bins - 1);
        count[b] += 1;
        conf_sum[b] += c;
        acc_sum[b] += ok as u8 as f64;
    }
    let n = confidence.len() as f64;
    Ok((0..bins).filter(|&b| count[b] > 0).map(|b| (acc_sum[b] - conf_sum[b]).abs() / n).sum())
}

/// Area under the ROC curve of `scores` for the binary `labels` (true = positive, a higher score
/// meaning more positive): the Mann–Whitney statistic `(R₊ − n₊(n₊ + 1)/2) / (n₊ n₋)` with
/// average ranks for ties, i.e. `P(score₊ > score₋) + ½ P(score₊ = score₋)`.
///
/// # Errors
/// Lengths differ, a class is empty, or a score is not finite.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    if scores.len() != labels.len() {
        return Err(Error::shape("labels", format!("[{}]", scores.len()), format!("[{}]", labels.len())));
    }
    ensure_finite("scores", scores)?;
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(Error::invalid("labels", format!("{pos} positive, {neg} negative"), "need both classes"));
    }
    let ranks = crate::metrics::ranking::average_ranks(scores);
    let r_pos: f64 = ranks.iter().zip(labels).filter(|(_, &l)| l).map(|(r, _)| r).sum();
    Ok((r_pos - pos as f64 * (pos as f64 + 1.0) / 2.0) / (pos as f64 * neg as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    /// AUC by hand: scores 0.1, 0.4 (negatives) and 0.35, 0.8 (positives) order 3 of the 4
    /// pairs correctly; a tie counts one half; one class alone is an error.
    #[test]
    fn roc_auc_by_hand() {
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert_abs_diff_eq!(auc, 0.75, epsilon = 1e-12);
        assert_abs_diff_eq!(roc_auc(&[0.5, 0.5], &[true, false]).unwrap(), 0.5, epsilon = 1e-12);
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_err());
        assert!(roc_auc(&[f64::NAN, 0.2], &[true, false]).is_err());
    }

    #[test]
    fn hand_values() {
        assert_abs_diff_eq!(accuracy(&[1, 2, 3, 4], &[1, 2, 0, 4]).unwrap(), 0.75);
        let logits = Tensor::from_slice(&[0.1f32, 0.9, 0.8, 0.2, 0.3, 0.7]).view([3, 2]);
        let labels = Tensor::from_slice(&[1i64, 0, 0]);
        assert_abs_diff_eq!(accuracy_logits(&logits, &labels).unwrap(), 2.0 / 3.0, epsilon = 1e-12);
        // bins (0, .5], (.5, 1]: {0.3 wrong} → .25·.3; {.9 ok, .8 wrong, .6 ok} → .75·|2/3 − .7667|
        let e = ece(&[0.9, 0.8, 0.3, 0.6], &[true, false, false, true], 2).unwrap();
        assert_abs_diff_eq!(e, 0.15, epsilon = 1e-12);
        // perfectly calibrated
        assert_abs_diff_eq!(ece(&[1.0, 1.0], &[true, true], 10).unwrap(), 0.0);
    }

    #[test]
    fn bad_inputs() {
        assert!(accuracy(&[1], &[1, 2]).is_err());
        assert!(ece(&[1.2], &[true], 10).unwrap_err().to_string().contains("confidence[0]"));
        assert!(ece(&[0.5], &[true], 0).is_err());
        let logits = Tensor::zeros([3, 2], (Kind::Float, tch::Device::Cpu));
        assert!(accuracy_logits(&logits, &Tensor::zeros([2], (Kind::Int64, tch::Device::Cpu))).is_err());
    }
}
