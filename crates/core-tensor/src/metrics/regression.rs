//! Point-prediction errors.

use super::check_pair;
use crate::error::{Error, Result};

/// Relative Lp error `‖pred − target‖_p / ‖target‖_p` (p ≥ 1), as used for neural operators.
pub fn relative_lp(pred: &[f64], target: &[f64], p: f64) -> Result<f64> {
    check_pair("pred", pred, "target", target)?;
    if !(p >= 1.0) {
        return Err(Error::invalid("p", p, "must be >= 1"));
    }
    let norm = |it: &mut dyn Iterator<Item = f64>| -> f64 {
        if p.is_infinite() {
            it.fold(0.0, |m, x| m.max(x.abs()))
        } else {
            it.map(|x| x.abs().powf(p)).sum::<f64>().powf(1.0 / p)
        }
    };
    let den = norm(&mut target.iter().copied());
    if den == 0.0 {
        return Err(Error::invalid("target", "all zeros", "relative error needs a non-zero target"));
    }
    Ok(norm(&mut pred.iter().zip(target).map(|(a, b)| a - b)) / den)
}

/// Root-mean-square error.
pub fn rmse(pred: &[f64], target: &[f64]) -> Result<f64> {
    check_pair("pred", pred, "target", target)?;
    Ok((pred.iter().zip(target).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / pred.len() as f64).sqrt())
}

/// Mean absolute error.
pub fn mae(pred: &[f64], target: &[f64]) -> Result<f64> {
    check_pair("pred", pred, "target", target)?;
    Ok(pred.iter().zip(target).map(|(a, b)| (a - b).abs()).sum::<f64>() / pred.len() as f64)
}

/// Sample mean and unbiased sample variance `Σ(x − x̄)²/(n − 1)` (variance 0 for one value), e.g.
/// of a metric over seeds or of Monte-Carlo draws.
///
/// # Errors
/// An empty slice or a non-finite value.
pub fn mean_var(x: &[f64]) -> Result<(f64, f64)> {
    if x.is_empty() {
        return Err(Error::invalid("x", "[]", "must not be empty"));
    }
    crate::error::ensure_finite("x", x)?;
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = if x.len() > 1 { x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    Ok((m, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn hand_values() {
        assert_abs_diff_eq!(
            relative_lp(&[1.0, 2.0], &[1.0, 1.0], 2.0).unwrap(),
            0.5f64.sqrt(),
            epsilon = 1e-15
        );
        assert_abs_diff_eq!(relative_lp(&[2.0, 2.0], &[1.0, 3.0], 1.0).unwrap(), 0.5);
        assert_abs_diff_eq!(relative_lp(&[2.0, 2.0], &[1.0, 3.0], f64::INFINITY).unwrap(), 1.0 / 3.0);
        assert_abs_diff_eq!(rmse(&[1.0, 3.0], &[0.0, 0.0]).unwrap(), 5f64.sqrt());
        assert_abs_diff_eq!(mae(&[1.0, -3.0], &[0.0, 0.0]).unwrap(), 2.0);
    }

    #[test]
    fn bad_inputs() {
        assert!(rmse(&[1.0], &[1.0, 2.0]).unwrap_err().to_string().contains("target"));
        assert!(rmse(&[], &[]).is_err());
        assert!(mae(&[f64::NAN], &[1.0]).is_err());
        assert!(relative_lp(&[1.0], &[0.0], 2.0).is_err());
        assert!(relative_lp(&[1.0], &[1.0], 0.5).is_err());
    }

    #[test]
    fn mean_and_sample_variance() {
        let (m, v) = mean_var(&[1.0, 2.0, 4.0]).unwrap();
        assert!((m - 7.0 / 3.0).abs() < 1e-15);
        assert!((v - (16.0 / 9.0 + 1.0 / 9.0 + 25.0 / 9.0) / 2.0).abs() < 1e-15);
        assert_eq!(mean_var(&[3.0]).unwrap(), (3.0, 0.0));
        assert!(mean_var(&[]).is_err());
        assert!(mean_var(&[1.0, f64::NAN]).is_err());
    }
}
