//! Unit tests of the STDP rule, the LIF unit, the pattern experiment and the Tempotron.

use super::*;
use crate::data::poisson_train;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn stdp(rule: StdpRule) -> Stdp {
    Stdp { a_plus: 0.01, a_minus: 0.012, tau_plus: 20.0, tau_minus: 30.0, dt: 0.5, rule, ..Stdp::default() }
}

/// Runs one synapse through `n` steps with spikes at the given steps; returns the final weight.
fn run_pair(cfg: Stdp, w0: f64, pre_steps: &[usize], post_steps: &[usize], n: usize) -> f64 {
    let mut st = StdpState::new(cfg, 1, 1).unwrap();
    let mut w = [w0];
    for t in 0..n {
        st.step(&mut w, &[pre_steps.contains(&t)], &[post_steps.contains(&t)]).unwrap();
    }
    w[0]
}

#[test]
fn additive_single_pair_closed_form() {
    let cfg = stdp(StdpRule::Additive);
    for delta in [1usize, 3, 10, 40] {
        let ltp = run_pair(cfg, 0.5, &[5], &[5 + delta], 100) - 0.5;
        let expect = cfg.a_plus * (-(delta as f64) * cfg.dt / cfg.tau_plus).exp();
        assert!((ltp - expect).abs() < 1e-14, "Δ = {delta}: {ltp} vs {expect}");
        let ltd = run_pair(cfg, 0.5, &[5 + delta], &[5], 100) - 0.5;
        let expect = -cfg.a_minus * (-(delta as f64) * cfg.dt / cfg.tau_minus).exp();
        assert!((ltd - expect).abs() < 1e-14, "Δ = {delta}: {ltd} vs {expect}");
    }
    // Same-step pair: both orders count once, net A₊ − A₋.
    let same = run_pair(cfg, 0.5, &[7], &[7], 20) - 0.5;
    assert!((same - (cfg.a_plus - cfg.a_minus)).abs() < 1e-14);
}

#[test]
fn multiplicative_single_pair_closed_form() {
    let cfg = Stdp { w_min: -0.2, w_max: 1.5, ..stdp(StdpRule::Multiplicative) };
    let w0 = 0.4;
    for delta in [1usize, 4, 25] {
        let ltp = run_pair(cfg, w0, &[2], &[2 + delta], 60) - w0;
        let expect = cfg.a_plus * (cfg.w_max - w0) * (-(delta as f64) * cfg.dt / cfg.tau_plus).exp();
        assert!((ltp - expect).abs() < 1e-14, "{ltp} vs {expect}");
        let ltd = run_pair(cfg, w0, &[2 + delta], &[2], 60) - w0;
        let expect = -cfg.a_minus * (w0 - cfg.w_min) * (-(delta as f64) * cfg.dt / cfg.tau_minus).exp();
        assert!((ltd - expect).abs() < 1e-14, "{ltd} vs {expect}");
    }
    // Same step: both terms from the start-of-step weight.
    let same = run_pair(cfg, w0, &[3], &[3], 10) - w0;
    let expect = cfg.a_plus * (cfg.w_max - w0) - cfg.a_minus * (w0 - cfg.w_min);
    assert!((same - expect).abs() < 1e-14);
}

#[test]
fn traces_follow_closed_form() {
    let cfg = stdp(StdpRule::Additive);
    let mut st = StdpState::new(cfg, 2, 1).unwrap();
    let mut w = [0.5, 0.5];
    let pre_spikes = [0usize, 3, 4, 10];
    let post_spikes = [2usize, 9];
    for t in 0..15 {
        let pre = [pre_spikes.contains(&t), false];
        st.step(&mut w, &pre, &[post_spikes.contains(&t)]).unwrap();
        let x: f64 = pre_spikes
            .iter()
            .filter(|&&s| s <= t)
            .map(|&s| (-((t - s) as f64) * cfg.dt / cfg.tau_plus).exp())
            .sum();
        let y: f64 = post_spikes
            .iter()
            .filter(|&&s| s <= t)
            .map(|&s| (-((t - s) as f64) * cfg.dt / cfg.tau_minus).exp())
            .sum();
        assert!((st.pre_trace()[0] - x).abs() < 1e-12);
        assert_eq!(st.pre_trace()[1], 0.0);
        assert!((st.post_trace()[0] - y).abs() < 1e-12);
    }
    // Afferent 1 never fired: its trace stayed 0, so the post spikes left its weight unchanged.
    assert_eq!(w[1], 0.5);
    st.reset();
    assert!(st.pre_trace().iter().chain(st.post_trace()).all(|&v| v == 0.0));
}

#[test]
fn rate_terms_apply_per_spike() {
    let cfg = Stdp { a_plus: 0.0, a_minus: 0.0, w_pre: 0.01, w_post: -0.03, ..Stdp::default() };
    let mut st = StdpState::new(cfg, 2, 2).unwrap();
    let mut w = [0.5; 4];
    st.step(&mut w, &[true, false], &[false, true]).unwrap();
    // Row-major [post][pre]: (0,0) pre only; (0,1) none; (1,0) both; (1,1) post only.
    let expect = [0.51, 0.5, 0.48, 0.47];
    for (a, b) in w.iter().zip(expect) {
        assert!((a - b).abs() < 1e-15, "{w:?}");
    }
}

#[test]
fn weights_stay_within_bounds() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for rule in [StdpRule::Additive, StdpRule::Multiplicative] {
        let cfg = Stdp {
            a_plus: 0.3,
            a_minus: 0.35,
            w_pre: 0.02,
            w_post: -0.01,
            w_min: -0.5,
            w_max: 0.8,
            rule,
            ..Stdp::default()
        };
        let (n_pre, n_post) = (7, 3);
        let mut st = StdpState::new(cfg, n_pre, n_post).unwrap();
        let mut w: Vec<f64> = (0..n_pre * n_post).map(|_| rng.gen_range(-0.5..0.8)).collect();
        for _ in 0..2000 {
            let pre: Vec<bool> = (0..n_pre).map(|_| rng.gen_bool(0.3)).collect();
            let post: Vec<bool> = (0..n_post).map(|_| rng.gen_bool(0.2)).collect();
            st.step(&mut w, &pre, &post).unwrap();
            assert!(w.iter().all(|&v| (-0.5..=0.8).contains(&v)), "{rule:?}: {w:?}");
        }
        // Such large amplitudes drive weights onto a bound, so the clipping is exercised.
        assert!(w.contains(&0.8) || w.contains(&-0.5), "{rule:?}: {w:?}");
    }
}

#[test]
fn stdp_errors() {
    let ok = Stdp::default();
    assert!(ok.validate().is_ok());
    let e = Stdp { tau_plus: 0.0, ..ok }.validate().unwrap_err().to_string();
    assert!(e.contains("tau_plus"), "{e}");
    let e = Stdp { a_minus: -1.0, ..ok }.validate().unwrap_err().to_string();
    assert!(e.contains("a_minus") && e.contains("-1"), "{e}");
    assert!(Stdp { w_min: 1.0, w_max: 1.0, ..ok }.validate().unwrap_err().to_string().contains("w_max"));
    assert!(Stdp { w_post: f64::NAN, ..ok }.validate().is_err());
    assert!(Stdp { dt: f64::INFINITY, ..ok }.validate().is_err());
    assert!(StdpState::new(ok, 0, 1).unwrap_err().to_string().contains("n_pre"));
    let mut st = StdpState::new(ok, 3, 2).unwrap();
    let mut w = vec![0.5; 6];
    assert!(st.step(&mut w, &[true; 2], &[false; 2]).unwrap_err().to_string().contains("pre"));
    assert!(st.step(&mut w, &[true; 3], &[false; 3]).unwrap_err().to_string().contains("post"));
    assert!(st.step(&mut w[..5], &[true; 3], &[false; 2]).unwrap_err().to_string().contains("`w`"));
    w[4] = f64::NAN; // w[1][1]
    let e = st.step(&mut w, &[false, true, false], &[false; 2]).unwrap_err().to_string();
    assert!(e.contains("w[1][1]"), "{e}");
    assert!(w[..4].iter().all(|&v| v == 0.5), "nothing modified on error");
    // A step that does not touch the bad synapse is fine.
    assert!(st.step(&mut w, &[true, false, false], &[false; 2]).is_ok());
}

#[test]
fn lif_dynamics() {
    let p = LifParams { tau_m: 10.0, v_rest: -1.0, threshold: 1.0, v_reset: -2.0, refractory: 3.0, dt: 1.0 };
    let mut u = LifUnit::new(p).unwrap();
    assert_eq!(u.v(), -1.0);
    assert!(!u.step(1.5).unwrap());
    assert!((u.v() - 0.5).abs() < 1e-15);
    // Free decay towards rest: V − V_rest ∝ e^{−k dt/τ}.
    for k in 1..=5 {
        assert!(!u.step(0.0).unwrap());
        assert!((u.v() - (-1.0 + 1.5 * (-(k as f64) / 10.0).exp())).abs() < 1e-12);
    }
    assert!(u.step(5.0).unwrap());
    assert_eq!(u.v(), -2.0);
    // Three refractory steps ignore even huge input.
    for _ in 0..3 {
        assert!(!u.step(100.0).unwrap());
        assert_eq!(u.v(), -2.0);
    }
    assert!(u.step(100.0).unwrap());
    assert!(u.step(f64::NAN).unwrap_err().to_string().contains("input"));
    u.reset();
    assert_eq!(u.v(), -1.0);
    assert!(LifUnit::new(LifParams { threshold: -3.0, ..p }).unwrap_err().to_string().contains("threshold"));
    assert!(LifUnit::new(LifParams { tau_m: 0.0, ..p }).unwrap_err().to_string().contains("tau_m"));
    assert!(LifUnit::new(LifParams { refractory: -1.0, ..p }).is_err());
}

#[test]
fn pattern_experiment_learns_the_pattern() {
    let cfg = PatternExperiment::small();
    let r = run_pattern_experiment(&cfg, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    // Untrained: fires everywhere, hits only at chance.
    assert!(r.before.false_alarm_hz > 20.0, "{:?}", r.before);
    assert!(r.before.hit_rate - r.before.chance_hit_rate < 0.1, "{:?}", r.before);
    // Trained: fires in (almost) every presentation and (almost) never outside.
    assert!(r.after.presentations > 30);
    assert!(r.after.hit_rate > 0.8, "{:?}", r.after);
    assert!(r.after.false_alarm_hz < 1.0, "{:?}", r.after);
    assert!(r.after.hit_rate - r.after.chance_hit_rate > 0.7, "{:?}", r.after);
    assert!(r.late_training.hit_rate > 0.8, "{:?}", r.late_training);
    assert!(r.mean_w_pattern > 2.0 * r.mean_w_other);
    assert_eq!(r.weights.len(), cfg.stream.n_afferents);
}

#[test]
fn pattern_experiment_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut cfg = PatternExperiment::small();
    cfg.stdp.dt = 0.5;
    assert!(run_pattern_experiment(&cfg, &mut rng).unwrap_err().to_string().contains("stdp.dt"));
    let cfg = PatternExperiment { w_init: 2.0, ..PatternExperiment::small() };
    assert!(run_pattern_experiment(&cfg, &mut rng).unwrap_err().to_string().contains("w_init"));
    let cfg = PatternExperiment { late_fraction: 0.0, ..PatternExperiment::small() };
    assert!(cfg.validate().unwrap_err().to_string().contains("late_fraction"));
}

fn tempotron(n: usize, seed: u64) -> Tempotron {
    Tempotron::new(n, 15.0, 3.75, 1.0, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

#[test]
fn kernel_peak_is_one_at_analytic_time() {
    for (tau, tau_s) in [(15.0, 3.75), (20.0, 5.0), (10.0, 9.0)] {
        let tp = Tempotron::new(1, tau, tau_s, 1.0, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        let t_peak: f64 = tau * tau_s * (tau / tau_s).ln() / (tau - tau_s);
        assert!((tp.t_peak() - t_peak).abs() < 1e-12);
        assert!((tp.kernel(t_peak) - 1.0).abs() < 1e-12);
        // It is the maximum: a fine grid never exceeds it.
        let grid_max = (1..20_000).map(|k| tp.kernel(k as f64 * 0.005)).fold(f64::NEG_INFINITY, f64::max);
        assert!(grid_max <= 1.0 + 1e-12 && grid_max > 1.0 - 1e-6);
        assert_eq!(tp.kernel(0.0), 0.0);
        assert_eq!(tp.kernel(-1.0), 0.0);
    }
}

fn random_trains(n: usize, rate_hz: f64, t: f64, rng: &mut impl Rng) -> Vec<Vec<f64>> {
    (0..n).map(|_| poisson_train(rate_hz, t, rng).unwrap()).collect()
}

#[test]
fn potential_matches_brute_force_and_max_is_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut tp = tempotron(30, 1);
    let w: Vec<f64> = (0..30).map(|_| rng.gen_range(-0.3..0.5)).collect();
    tp.set_weights(&w).unwrap();
    let tp = tp.with_v_rest(-0.2).unwrap();
    let trains = random_trains(30, 20.0, 300.0, &mut rng);
    let (tau, tau_s) = (15.0f64, 3.75f64);
    let v0 = tp.v0();
    for t in [0.0, 13.7, 120.0, 299.9, 400.0] {
        let mut brute = -0.2;
        for (i, tr) in trains.iter().enumerate() {
            for &ti in tr.iter().filter(|&&ti| ti < t) {
                brute += w[i] * v0 * ((-(t - ti) / tau).exp() - (-(t - ti) / tau_s).exp());
            }
        }
        assert!((tp.potential(&trains, t).unwrap() - brute).abs() < 1e-12);
    }
    let (v_max, t_max) = tp.potential_max(&trains).unwrap();
    assert!((tp.potential(&trains, t_max).unwrap() - v_max).abs() < 1e-9);
    let grid_max =
        (0..=40_000).map(|k| tp.potential(&trains, k as f64 * 0.01).unwrap()).fold(f64::MIN, f64::max);
    assert!(v_max >= grid_max - 1e-12, "{v_max} < {grid_max}");
    assert!(v_max - grid_max < 1e-3, "{v_max} vs grid {grid_max}");
    // No spikes: V = V_rest everywhere.
    assert_eq!(tp.potential_max(&vec![vec![]; 30]).unwrap(), (-0.2, 0.0));
}

#[test]
fn train_step_moves_v_max_in_the_right_direction() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let trains = random_trains(50, 10.0, 200.0, &mut rng);
    let mut tp = tempotron(50, 2);
    tp.set_weights(&[0.01; 50]).unwrap();
    let (v_before, _) = tp.potential_max(&trains).unwrap();
    assert!(v_before < tp.threshold());
    assert!(!tp.train_step(&trains, true, 0.05).unwrap());
    assert!(tp.potential_max(&trains).unwrap().0 > v_before);
    tp.set_weights(&[1.0; 50]).unwrap();
    let (v_before, _) = tp.potential_max(&trains).unwrap();
    assert!(v_before >= tp.threshold());
    assert!(!tp.train_step(&trains, false, 0.05).unwrap());
    assert!(tp.potential_max(&trains).unwrap().0 < v_before);
    // Correct classification: no change.
    let w = tp.weights().to_vec();
    assert!(tp.train_step(&trains, true, 0.05).unwrap());
    assert_eq!(tp.weights(), &w[..]);
}

#[test]
fn tempotron_learns_small_problem() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (n, p) = (100, 30);
    let data: Vec<(Vec<Vec<f64>>, bool)> =
        (0..p).map(|k| (random_trains(n, 10.0, 200.0, &mut rng), k % 2 == 0)).collect();
    let mut tp = tempotron(n, 9);
    let mut epochs = 0;
    loop {
        epochs += 1;
        let mut correct = 0;
        for (trains, label) in &data {
            correct += usize::from(tp.train_step(trains, *label, 0.01).unwrap());
        }
        if correct == p || epochs == 200 {
            break;
        }
    }
    for (trains, label) in &data {
        assert_eq!(tp.classify(trains).unwrap(), *label, "after {epochs} epochs");
    }
}

#[test]
fn tempotron_experiment_reaches_full_training_accuracy() {
    let cfg =
        TempotronExperiment { n_afferents: 200, n_patterns: 100, duration_ms: 300.0, ..Default::default() };
    let r = run_tempotron_experiment(&cfg, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    assert_eq!(r.final_train_accuracy, 1.0, "{:?}", r.train_accuracy);
    assert_eq!(*r.train_accuracy.last().unwrap(), 1.0);
    assert!(r.train_accuracy[0] < 0.8);
    assert!(r.test_accuracy > 0.85, "{}", r.test_accuracy);
}

#[test]
fn tempotron_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert!(Tempotron::new(0, 15.0, 3.75, 1.0, &mut rng).unwrap_err().to_string().contains("n_afferents"));
    assert!(Tempotron::new(3, 3.0, 3.75, 1.0, &mut rng).unwrap_err().to_string().contains("tau_s"));
    assert!(Tempotron::new(3, 15.0, 3.75, 0.0, &mut rng).unwrap_err().to_string().contains("threshold"));
    assert!(Tempotron::new(3, f64::NAN, 3.75, 1.0, &mut rng).is_err());
    let mut tp = tempotron(3, 0);
    let e = tp.potential_max(&[vec![1.0], vec![5.0, 2.0], vec![]]).unwrap_err().to_string();
    assert!(e.contains("trains[1]") && e.contains("5 then 2"), "{e}");
    let e = tp.classify(&[vec![1.0], vec![], vec![f64::NAN]]).unwrap_err().to_string();
    assert!(e.contains("trains[2]"), "{e}");
    assert!(tp
        .classify(&[vec![1.0], vec![f64::INFINITY], vec![]])
        .unwrap_err()
        .to_string()
        .contains("trains[1]"));
    assert!(tp.classify(&[vec![1.0]]).unwrap_err().to_string().contains("trains"));
    assert!(tp.train_step(&[vec![1.0], vec![], vec![]], true, 0.0).unwrap_err().to_string().contains("lr"));
    assert!(tp.potential(&[vec![], vec![], vec![]], f64::NAN).is_err());
    assert!(tp.set_weights(&[1.0, 2.0]).is_err());
    assert!(tp.set_weights(&[1.0, f64::NAN, 0.0]).is_err());
    assert!(tp.clone().with_v_rest(2.0).unwrap_err().to_string().contains("v_rest"));
    let cfg = TempotronExperiment { n_patterns: 0, ..Default::default() };
    assert!(run_tempotron_experiment(&cfg, &mut rng).unwrap_err().to_string().contains("n_patterns"));
}
