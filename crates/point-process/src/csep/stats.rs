//! Distribution functions the CSEP tests need: Poisson and negative-binomial CDFs, the Poisson
//! joint log-likelihood of binned counts, and empirical quantile scores.

/// `ln n!` (`ln Γ(n + 1)`).
pub fn ln_factorial(n: f64) -> f64 {
    libm::lgamma(n + 1.0)
}

/// `log Σ exp` of an iterator of log terms.
fn log_sum_exp(terms: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = terms.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + terms.map(|t| (t - m).exp()).sum::<f64>().ln()
}

/// Largest count a CDF is summed to term by term.
const MAX_TERMS: f64 = 1e8;

/// `P(X ≤ n)` for `X ~ Poisson(λ)`, `n` floored (0 for `n < 0`; 1 beyond 10⁸ terms).
pub fn poisson_cdf(n: f64, lambda: f64) -> f64 {
    let n = n.floor();
    if n < 0.0 || lambda.is_nan() {
        return if n < 0.0 { 0.0 } else { f64::NAN };
    }
    if lambda == 0.0 || n >= MAX_TERMS {
        return 1.0;
    }
    let ll = lambda.ln();
    let terms = (0..=n as u64).map(move |k| k as f64 * ll - lambda - ln_factorial(k as f64));
    log_sum_exp(terms).exp().min(1.0)
}

/// `P(X ≤ n)` for the negative binomial of mean `m` and variance `v > m`: `p = m / v`,
/// `r = m² / (v − m)`, `P(X = k) = Γ(k + r) / (k! Γ(r)) p^r (1 − p)^k` (scipy's `nbinom(r, p)`).
/// NaN when `v ≤ m`.
pub fn negative_binomial_cdf(n: f64, m: f64, v: f64) -> f64 {
    let n = n.floor();
    if !(v > m && m > 0.0) {
        return f64::NAN;
    }
    if n < 0.0 {
        return 0.0;
    }
    if n >= MAX_TERMS {
        return 1.0;
    }
    let p = m / v;
    let r = m * m / (v - m);
    let (lp, lq, lgr) = (p.ln(), (1.0 - p).ln(), libm::lgamma(r));
    let terms = (0..=n as u64)
        .map(move |k| libm::lgamma(k as f64 + r) - ln_factorial(k as f64) - lgr + r * lp + k as f64 * lq);
    log_sum_exp(terms).exp().min(1.0)
}

/// Smallest integer `k ≥ 0` with `cdf(k) ≥ q` (searched by doubling and bisection).
pub fn discrete_ppf(q: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    if !(q > 0.0) {
        return 0.0;
    }
    let mut hi = 1.0;
    while cdf(hi) < q && hi < MAX_TERMS {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    if cdf(lo) >= q {
        return 0.0;
    }
    // invariant: cdf(lo) < q <= cdf(hi)
    while hi - lo > 1.0 {
        let mid = ((lo + hi) / 2.0).floor();
        if cdf(mid) >= q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Poisson joint log-likelihood of counts given log-rates and the expected total `t`:
/// `Σ_{n_i > 0} (n_i log λ_i − ln n_i!) − t` (summed in index order; `−∞` when an observed bin
/// has rate 0).
pub fn poisson_joint_ll(counts: &[f64], log_rates: &[f64], t: f64) -> f64 {
    let mut s = 0.0;
    for (n, lr) in counts.iter().zip(log_rates) {
        if *n > 0.0 {
            s += n * lr;
        }
    }
    let mut f = 0.0;
    for n in counts {
        if *n > 0.0 {
            f += ln_factorial(*n);
        }
    }
    s - f - t
}

/// `(δ1, δ2) = (#{x ≥ obs}, #{x ≤ obs}) / n` over the non-NaN samples.
pub fn deltas(samples: &[f64], obs: f64) -> (f64, f64) {
    let v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = v.len().max(1) as f64;
    (v.iter().filter(|&&x| x >= obs).count() as f64 / n, v.iter().filter(|&&x| x <= obs).count() as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{DiscreteCDF, NegativeBinomial, Poisson};

    #[test]
    fn cdfs_match_an_independent_library() {
        for (n, lam) in [(0.0, 0.5), (4.0, 38.9), (40.0, 38.9), (120.0, 100.0), (3.0, 1e-3)] {
            let ours = poisson_cdf(n, lam);
            let theirs = Poisson::new(lam).unwrap().cdf(n as u64);
            assert!(
                (ours - theirs).abs() < 1e-12 * theirs.max(1e-300).max(1.0)
                    || (ours / theirs - 1.0).abs() < 1e-9,
                "{n} {lam}: {ours} {theirs}"
            );
        }
        for (n, m, v) in [(4.0, 38.9, 77.8), (30.0, 20.0, 25.0), (0.0, 3.0, 9.0)] {
            let (p, r) = (m / v, m * m / (v - m));
            let ours = negative_binomial_cdf(n, m, v);
            let theirs = NegativeBinomial::new(r, p).unwrap().cdf(n as u64);
            assert!((ours / theirs - 1.0).abs() < 1e-9, "{n} {m} {v}: {ours} {theirs}");
        }
        assert!(negative_binomial_cdf(3.0, 5.0, 5.0).is_nan());
        assert_eq!(poisson_cdf(-1.0, 2.0), 0.0);
        // ppf inverts the CDF
        let k = discrete_ppf(0.975, |x| poisson_cdf(x, 38.9));
        assert!(poisson_cdf(k, 38.9) >= 0.975 && poisson_cdf(k - 1.0, 38.9) < 0.975);
    }
}
