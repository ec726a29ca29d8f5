use super::likelihood::r2;
use super::*;
use crate::data::{Catalogue, Quake, Region};
use crate::poisson::gauss_legendre;
use approx::assert_relative_eq;
use core_tensor::seed::rng;

fn params() -> EtasParams {
    super::presets::benchmark_params(-4.8, 0.0)
}

/// A model whose branching ratio is `n` (k0 scaled accordingly).
fn model(spatial: bool, n: f64, log10_mu: f64) -> Etas {
    let p = EtasParams { log10_mu, ..params() };
    let unit = if spatial { Etas::new(p, 3.0, 1.0) } else { Etas::temporal(p, 3.0, 1.0) }.unwrap();
    let k0 = n / unit.branching_ratio();
    let p = EtasParams { log10_k0: k0.log10(), ..p };
    if spatial { Etas::new(p, 3.0, 1.0) } else { Etas::temporal(p, 3.0, 1.0) }.unwrap()
}

fn region() -> Region {
    Region::new(-118.0, -116.0, 33.0, 35.0).unwrap()
}

fn small_catalogue() -> Catalogue {
    let q = |t: f64, lon: f64, lat: f64, m: f64| Quake { time: t, lon, lat, mag: m, depth: 5.0 };
    let ev = vec![
        q(0.5, -117.2, 34.1, 4.1),
        q(3.0, -117.21, 34.11, 3.2),
        q(3.02, -117.19, 34.12, 3.5),
        q(10.0, -116.5, 33.5, 3.0),
        q(10.4, -117.2, 34.09, 3.8),
        q(25.0, -117.0, 34.0, 3.3),
        q(40.0, -116.51, 33.52, 3.1),
    ];
    Catalogue::new(ev, 0.0, 2.0, 60.0, 3.0, region()).unwrap()
}

/// Independent evaluation: intensities by direct sums of `g`; the temporal compensator by
/// Gauss–Legendre quadrature of `λ*(t)` between events (with the plane integral of the spatial
/// kernel checked by radial quadrature).
fn direct(m: &Etas, cat: &Catalogue) -> f64 {
    let ev = cat.events();
    let area = if m.spatial { cat.region().area_km2() } else { 1.0 };
    let mu = m.params.mu();
    let mut ll = 0.0;
    for i in cat.first_target()..ev.len() {
        let mut lam = mu;
        for j in 0..i {
            let rr = if m.spatial { r2(&ev[i], &ev[j]) } else { 0.0 };
            lam += m.triggering(ev[i].time - ev[j].time, rr, ev[j].mag);
        }
        ll += lam.ln();
    }
    let lam_star = |t: f64| {
        mu * area
            + ev.iter()
                .filter(|q| q.time < t)
                .map(|q| m.productivity(q.mag) * m.spatial_integral(q.mag) * m.time_kernel(t - q.time))
                .sum::<f64>()
    };
    let mut cuts: Vec<f64> = vec![cat.t_start()];
    cuts.extend(ev.iter().map(|q| q.time).filter(|&t| t > cat.t_start()));
    cuts.push(cat.t_end());
    for w in cuts.windows(2) {
        // the kernel has a (t + c)^{-1.1} singularity scale c ≈ 0.003 after each event: grade the panels
        let (a, b) = (w[0], w[1]);
        let mut x = a;
        let mut h = 1e-4;
        while x < b {
            let y = (x + h).min(b);
            ll -= gauss_legendre(lam_star, x, y, 1);
            x = y;
            h *= 1.5;
        }
    }
    ll
}

#[test]
fn spatial_kernel_integrates_to_closed_form() {
    let m = model(true, 0.5, -4.8);
    for mag in [3.0, 4.5] {
        let dd = m.spatial_scale(mag);
        // ∫ 2π r (r² + D)^{−1−ρ} dr with r = D^{1/2} tan θ-free substitution u = ln r
        let f = |u: f64| {
            let r = u.exp();
            2.0 * std::f64::consts::PI * r * r * m.space_kernel(r * r, mag)
        };
        let num = gauss_legendre(f, -15.0, 25.0, 4000);
        assert_relative_eq!(num, m.spatial_integral(mag) / 1.0, max_relative = 1e-8);
        let _ = dd;
    }
}

#[test]
fn likelihood_equals_direct_evaluation() {
    let cat = small_catalogue();
    for m in [model(true, 0.5, -4.8), model(false, 0.5, -1.0)] {
        let fast = log_likelihood(&m, &cat).unwrap();
        let slow = direct(&m, &cat);
        assert_relative_eq!(fast, slow, max_relative = 1e-9);
        let s = event_scores(&m, &cat).unwrap();
        let total: f64 = s.tll.iter().sum::<f64>() + s.sll.iter().sum::<f64>() + s.tail;
        assert_relative_eq!(total, fast, max_relative = 1e-10);
        let p = background_probabilities(&m, &cat).unwrap();
        assert!(p.iter().all(|v| *v > 0.0 && *v <= 1.0));
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let cat = small_catalogue();
    for m in [model(true, 0.5, -4.8), model(false, 0.5, -1.0)] {
        let (_, g) = log_likelihood_with_grad(&m, &cat, true).unwrap();
        let g = g.unwrap();
        let v = m.params.to_vec();
        for k in 0..9 {
            let h = 1e-5;
            let f = |d: f64| {
                let mut w = v.clone();
                w[k] += d;
                log_likelihood(&Etas { params: EtasParams::from_slice(&w).unwrap(), ..m }, &cat).unwrap()
            };
            let fd = (f(h) - f(-h)) / (2.0 * h);
            assert_relative_eq!(g[k], fd, max_relative = 1e-5, epsilon = 1e-6);
        }
    }
}

/// Mean counts of long simulations match `μ A T / (1 − n)` within Monte-Carlo error.
#[test]
fn simulated_counts_match_branching_theory() {
    let m = model(false, 0.5, 0.0);
    let r = region();
    let mut g = rng(3);
    let counts: Vec<f64> = (0..200)
        .map(|_| {
            let c = simulate(&m, r, 0.0, 2000.0, 3000.0, &mut g, 1_000_000).unwrap();
            (c.len() - c.first_target()) as f64
        })
        .collect();
    let n = counts.len() as f64;
    let (mean, var) = core_tensor::metrics::mean_var(&counts).unwrap();
    let sd = var.sqrt();
    // after a 2000-day burn-in the remaining transient (aftershocks of early events decaying with
    // τ ≈ 32 days) is far below the Monte-Carlo error
    let expected = m.params.mu() * 1000.0 / (1.0 - m.branching_ratio());
    assert!((mean - expected).abs() < 4.0 * sd / n.sqrt(), "mean {mean} vs {expected} (sd {sd})");
}

/// The truth lies inside the 99.9% likelihood-ratio confidence region,
/// `2(ℓ̂ − ℓ(θ₀)) < χ²_{k, 0.999}`, and each parameter within `k_sigma` standard errors. (The
/// ω–τ ridge makes the likelihood far from quadratic in τ, so Wald intervals are only indicative
/// there.)
fn check_recovery(truth: &Etas, fit: &EtasFit, cat: &Catalogue, k_sigma: f64) {
    let lr = 2.0 * (fit.log_likelihood - log_likelihood(truth, cat).unwrap());
    let chi2_999 = if truth.spatial { 27.877 } else { 22.458 };
    assert!((0.0..chi2_999).contains(&lr), "likelihood ratio statistic {lr}");
    let se = fit.std_errors.expect("standard errors");
    let est = fit.model.params.to_vec();
    for (k, name) in PARAM_NAMES.iter().enumerate() {
        if se[k].is_nan() {
            continue;
        }
        let t = truth.params.to_vec()[k];
        assert!(
            (est[k] - t).abs() < k_sigma * se[k],
            "{name}: estimate {} vs truth {t} (se {})",
            est[k],
            se[k]
        );
    }
}

#[test]
fn fit_recovers_temporal_parameters() {
    let truth = model(false, 0.5, -0.3);
    let cat = simulate(&truth, region(), 0.0, 300.0, 1300.0, &mut rng(8), 1_000_000).unwrap();
    assert!(cat.len() > 800, "{}", cat.len());
    let start = Etas::temporal(
        EtasParams {
            log10_mu: 0.0,
            log10_k0: -1.0,
            a: 1.5,
            log10_c: -2.5,
            omega: 0.3,
            log10_tau: 2.0,
            ..params()
        },
        3.0,
        1.0,
    )
    .unwrap();
    let f = fit(&cat, &start, &EtasFitConfig::default()).unwrap();
    check_recovery(&truth, &f, &cat, 4.0);
}

#[test]
fn fit_recovers_spatio_temporal_parameters() {
    let truth = model(true, 0.5, -4.7);
    let cat = simulate(&truth, region(), 0.0, 300.0, 1000.0, &mut rng(5), 1_000_000).unwrap();
    assert!(cat.len() > 600, "{}", cat.len());
    let start = Etas::new(EtasParams::fit_start(-4.0), 3.0, 1.0).unwrap();
    let f = fit(&cat, &start, &EtasFitConfig::default()).unwrap();
    check_recovery(&truth, &f, &cat, 4.0);
}

#[test]
fn forecast_n_test_accepts_the_true_model() {
    let truth = model(false, 0.5, 0.0);
    let full = simulate(&truth, region(), 0.0, 0.0, 1100.0, &mut rng(21), 1_000_000).unwrap();
    let hist = full.until(1000.0).unwrap();
    let observed = full.events().iter().filter(|q| q.time > 1000.0).count();
    let fc = forecast(&truth, &hist, 100.0, 300, 4).unwrap();
    let nt = fc.n_test(observed);
    assert!(nt.passes(0.05), "{nt:?}, mean {}", fc.mean());
    // deterministic given the seed
    assert_eq!(fc.counts, forecast(&truth, &hist, 100.0, 300, 4).unwrap().counts);
    assert!(forecast(&truth, &hist, -1.0, 10, 0).is_err());
}

/// The EM M-step sums over thousands of pairs in parallel; the sums go in a fixed order, so a fit
/// is the same bit for bit on one thread and on several.
#[test]
fn fit_is_bitwise_identical_whatever_the_thread_count() {
    let truth = model(false, 0.5, -0.3);
    let cat = simulate(&truth, region(), 0.0, 300.0, 1300.0, &mut rng(8), 1_000_000).unwrap();
    let start = Etas::temporal(EtasParams { log10_k0: -1.0, a: 1.5, ..params() }, 3.0, 1.0).unwrap();
    let cfg = EtasFitConfig { max_em_iter: 3, polish: false, std_errors: false, ..Default::default() };
    let fit_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| fit(&cat, &start, &cfg).unwrap())
    };
    let one = fit_on(1);
    for threads in [2, 3, 5] {
        let many = fit_on(threads);
        assert_eq!(one.model.params.to_vec(), many.model.params.to_vec(), "{threads} threads");
        assert_eq!(one.log_likelihood.to_bits(), many.log_likelihood.to_bits(), "{threads} threads");
    }
}

/// Above `truncate_above` events the fit sums over time windows (E-step pairs carrying less than
/// `min_prob` in total skipped, the log-likelihood truncated): on a catalogue small enough for
/// both paths, the EM estimate is the all-pairs one.
#[test]
fn windowed_fit_reaches_the_all_pairs_estimate() {
    let truth = model(false, 0.5, -0.3);
    let cat = simulate(&truth, region(), 0.0, 300.0, 4000.0, &mut rng(9), 1_000_000).unwrap();
    let start = Etas::temporal(EtasParams { log10_k0: -1.0, a: 1.5, ..params() }, 3.0, 1.0).unwrap();
    let cfg = EtasFitConfig { max_em_iter: 4, polish: false, std_errors: false, ..Default::default() };
    let exact = fit(&cat, &start, &cfg).unwrap();
    let windowed = fit(&cat, &start, &EtasFitConfig { truncate_above: 0, ..cfg }).unwrap();
    let (a, b) = (exact.model.params.to_vec(), windowed.model.params.to_vec());
    for k in 0..6 {
        assert!((a[k] - b[k]).abs() < 1e-3, "parameter {k}: {} vs {}", a[k], b[k]);
    }
    assert!((exact.log_likelihood - windowed.log_likelihood).abs() < 1e-6 * exact.log_likelihood.abs());
}

/// A log10 parameter so far out that 10^v under- or overflows (c = 0, τ = ∞) is refused by
/// validation instead of reaching the time integral (where the incomplete gamma needs c/τ > 0):
/// an optimiser's wild trial step is then an infinite objective, not a panic.
#[test]
fn log10_parameters_beyond_the_float_range_are_refused() {
    for (name, p) in [
        ("log10_c", EtasParams { log10_c: -400.0, ..params() }),
        ("log10_tau", EtasParams { log10_tau: 400.0, ..params() }),
        ("log10_mu", EtasParams { log10_mu: -1e6, ..params() }),
    ] {
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
    assert!(params().validate().is_ok());
}
