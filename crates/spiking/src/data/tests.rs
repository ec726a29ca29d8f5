//! Unit tests of the spike datasets and generators.

use super::*;
use crate::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn small_randman() -> RandmanConfig {
    RandmanConfig {
        n_classes: 3,
        n_inputs: 12,
        n_steps: 40,
        dim_manifold: 2,
        n_fourier: 4,
        ..Default::default()
    }
}

#[test]
fn randman_is_deterministic_from_seed() {
    let cfg = small_randman();
    let a = randman(&cfg, 5, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
    let b = randman(&cfg, 5, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
    let c = randman(&cfg, 5, &mut ChaCha8Rng::seed_from_u64(8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 15);
    for k in 0..3 {
        assert_eq!(a.labels.iter().filter(|&&l| l == k).count(), 5);
    }
}

#[test]
fn randman_spike_counts_identical_across_classes() {
    let cfg = RandmanConfig { jitter_steps: 1.5, ..small_randman() };
    let ds = randman(&cfg, 4, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    for s in 0..ds.len() {
        assert_eq!(ds.spike_counts(s).unwrap(), vec![1; cfg.n_inputs]);
        let dense = ds.to_dense(s).unwrap();
        assert_eq!(dense.len(), cfg.n_steps * cfg.n_inputs);
        assert_eq!(dense.iter().sum::<f32>(), cfg.n_inputs as f32);
        // Per-neuron column sums are 1 in the dense layout [T][N].
        for i in 0..cfg.n_inputs {
            let col: f32 = (0..cfg.n_steps).map(|t| dense[t * cfg.n_inputs + i]).sum();
            assert_eq!(col, 1.0);
        }
        assert!(ds.events[s].windows(2).all(|w| w[0] <= w[1]));
    }
    assert!(ds.to_dense(ds.len()).is_err());
}

#[test]
fn randman_maps_span_unit_interval_and_are_smooth() {
    let cfg = RandmanConfig { dim_manifold: 1, n_probe: 2000, ..small_randman() };
    let man = Randman::new(cfg.clone(), &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    for c in 0..cfg.n_classes {
        let grid: Vec<Vec<f64>> = (0..=200).map(|k| man.eval(c, &[k as f64 / 200.0]).unwrap()).collect();
        for i in 0..cfg.n_inputs {
            let lo = grid.iter().map(|v| v[i]).fold(f64::INFINITY, f64::min);
            let hi = grid.iter().map(|v| v[i]).fold(f64::NEG_INFINITY, f64::max);
            assert!(lo < 0.02 && hi > 0.98, "class {c} input {i}: range [{lo}, {hi}]");
            // Lipschitz bound: |g'| ≤ Σ_k 2π k a_k/k^α ≤ 2π Σ_k k^{1−α}; after rescaling steps are small.
            let max_jump = grid.windows(2).map(|w| (w[1][i] - w[0][i]).abs()).fold(0.0, f64::max);
            assert!(max_jump < 0.2, "jump {max_jump}");
        }
    }
    // Different classes have different maps.
    assert_ne!(man.eval(0, &[0.3]).unwrap(), man.eval(1, &[0.3]).unwrap());
}

#[test]
fn randman_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let bad = RandmanConfig { n_inputs: 0, ..small_randman() };
    let e = Randman::new(bad, &mut rng).unwrap_err().to_string();
    assert!(e.contains("n_inputs"), "{e}");
    let bad = RandmanConfig { alpha: f64::NAN, ..small_randman() };
    assert!(Randman::new(bad, &mut rng).unwrap_err().to_string().contains("alpha"));
    let man = Randman::new(small_randman(), &mut rng).unwrap();
    assert!(man.eval(3, &[0.1, 0.2]).is_err());
    assert!(man.eval(0, &[0.1]).is_err());
    assert!(man.eval(0, &[0.1, 1.5]).unwrap_err().to_string().contains("1.5"));
    assert!(man.eval(0, &[0.1, f64::NAN]).is_err());
    assert!(man.sample(0, &mut rng).is_err());
}

#[test]
fn nmnist_decodes_hand_made_bytes() {
    // x = 5, y = 33, ON, t = 0x12_34_56 = 1193046 µs; then x = 0, y = 1, OFF, t = 0x7F_FF_FF.
    let bytes = [5u8, 33, 0x80 | 0x12, 0x34, 0x56, 0, 1, 0x7F, 0xFF, 0xFF];
    let ev = read_nmnist(&bytes).unwrap();
    assert_eq!(
        ev,
        vec![
            DvsEvent { x: 5, y: 33, t_us: 0x12_3456, p: true },
            DvsEvent { x: 0, y: 1, t_us: MAX_TIMESTAMP_US, p: false },
        ]
    );
    assert_eq!(write_nmnist(&ev).unwrap(), bytes.to_vec());
}

#[test]
fn nmnist_round_trip() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut t = 0u64;
    let events: Vec<DvsEvent> = (0..500)
        .map(|_| {
            t += rng.gen_range(0..2000);
            DvsEvent { x: rng.gen_range(0..34), y: rng.gen_range(0..34), t_us: t, p: rng.gen() }
        })
        .collect();
    let bytes = write_nmnist(&events).unwrap();
    assert_eq!(bytes.len(), 5 * events.len());
    assert_eq!(read_nmnist(&bytes).unwrap(), events);
    let path = std::env::temp_dir().join(format!("nmnist_rt_{}.bin", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(read_nmnist_file(&path).unwrap(), events);
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(read_nmnist_file(&path), Err(Error::Io(_))));
}

#[test]
fn nmnist_errors() {
    let e = read_nmnist(&[1, 2, 3, 4, 5, 6, 7]).unwrap_err().to_string();
    assert!(e.contains("bytes.len()") && e.contains('7'), "{e}");
    // x = 40 is a valid ATIS byte but outside the N-MNIST sensor.
    let bytes = [1u8, 2, 0, 0, 1, 40, 2, 0, 0, 2];
    assert_eq!(decode_events(&bytes).unwrap()[1].x, 40);
    let e = read_nmnist(&bytes).unwrap_err().to_string();
    assert!(e.contains("events[1].x") && e.contains("40"), "{e}");
    let too_late = DvsEvent { x: 1, y: 1, t_us: 1 << 23, p: true };
    assert!(write_nmnist(&[too_late]).unwrap_err().to_string().contains("events[0].t_us"));
    let too_big = DvsEvent { x: 300, y: 1, t_us: 0, p: true };
    assert!(encode_events(&[too_big]).unwrap_err().to_string().contains("events[0].x"));
    assert!(write_nmnist(&[DvsEvent { x: 1, y: 34, t_us: 0, p: true }]).is_err());
    assert_eq!(read_nmnist(&[]).unwrap(), vec![]);
}

#[test]
fn binning_counts_events() {
    let ev = [
        DvsEvent { x: 1, y: 2, t_us: 0, p: true },
        DvsEvent { x: 1, y: 2, t_us: 99, p: true },
        DvsEvent { x: 3, y: 0, t_us: 100, p: false },
        DvsEvent { x: 3, y: 0, t_us: 299, p: false },
        DvsEvent { x: 0, y: 0, t_us: 300, p: false }, // beyond duration: ignored
    ];
    let (w, h) = (4, 3);
    let frames = bin_events(&ev, w, h, 3, 300).unwrap();
    assert_eq!(frames.len(), 3 * 2 * h * w);
    let at = |b: usize, p: usize, y: usize, x: usize| frames[((b * 2 + p) * h + y) * w + x];
    assert_eq!(at(0, 1, 2, 1), 2.0);
    assert_eq!(at(1, 0, 0, 3), 1.0);
    assert_eq!(at(2, 0, 0, 3), 1.0);
    assert_eq!(frames.iter().sum::<f32>(), 4.0);
    assert!(bin_events(&ev, 3, h, 3, 300).unwrap_err().to_string().contains("events[2].x"));
    assert!(bin_events(&ev, w, 2, 3, 300).unwrap_err().to_string().contains("events[0].y"));
    assert!(bin_events(&ev, w, h, 0, 300).is_err());
    assert!(bin_events(&ev, w, h, 3, 0).is_err());
}

#[test]
fn poisson_train_rate_and_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let tr = poisson_train(50.0, 100_000.0, &mut rng).unwrap();
    assert!(tr.windows(2).all(|w| w[0] <= w[1]));
    assert!(tr.iter().all(|&t| (0.0..100_000.0).contains(&t)));
    let rate = tr.len() as f64 / 100.0;
    assert!((rate - 50.0).abs() < 3.0, "rate {rate}");
    assert!(poisson_train(0.0, 10.0, &mut rng).unwrap().is_empty());
    assert!(poisson_train(-1.0, 10.0, &mut rng).unwrap_err().to_string().contains("rate_hz"));
    assert!(poisson_train(1.0, f64::INFINITY, &mut rng).is_err());
}

#[test]
fn pattern_stream_structure() {
    let cfg = PatternStreamConfig {
        n_afferents: 200,
        n_pattern_afferents: 100,
        rate_hz: 30.0,
        noise_hz: 5.0,
        ..Default::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let pat = cfg.frozen_pattern(&mut rng).unwrap();
    assert_eq!(pat.afferents.len(), 100);
    assert_eq!(pat.len_steps, 50);
    let s = cfg.stream(&pat, 20_000.0, &mut rng).unwrap();
    assert_eq!(s.n_steps, 20_000);
    // Presentations never abut and occupy ≈ 25 % of the time.
    assert!(s.pattern_starts.windows(2).all(|w| w[1] >= w[0] + 2 * s.pattern_len));
    let frac = (s.pattern_starts.len() * s.pattern_len) as f64 / s.n_steps as f64;
    assert!((frac - 0.25).abs() < 0.05, "fraction {frac}");
    // Every pattern spike is present at every presentation (no jitter).
    for &st in &s.pattern_starts {
        for &(off, a) in &pat.spikes {
            assert!(s.spikes_at(st + off as usize).contains(&a));
        }
    }
    // Rates: every afferent ≈ 35 Hz, inside and outside patterns.
    let rate = s.n_spikes() as f64 / (200.0 * 20.0);
    assert!((rate - 35.0).abs() < 2.0, "rate {rate}");
    for t in 0..s.n_steps {
        assert!(s.spikes_at(t).windows(2).all(|w| w[0] < w[1]));
    }
    assert!(s.spikes_at(s.n_steps).is_empty());
    // Same seed, same stream.
    let mut r1 = ChaCha8Rng::seed_from_u64(9);
    let mut r2 = ChaCha8Rng::seed_from_u64(9);
    assert_eq!(cfg.stream(&pat, 1000.0, &mut r1).unwrap(), cfg.stream(&pat, 1000.0, &mut r2).unwrap());
}

#[test]
fn pattern_stream_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let bad = PatternStreamConfig { rate_hz: 2000.0, ..Default::default() };
    assert!(bad.frozen_pattern(&mut rng).unwrap_err().to_string().contains("rate_hz"));
    let bad = PatternStreamConfig { pattern_fraction: 0.7, ..Default::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("pattern_fraction"));
    let bad = PatternStreamConfig { n_pattern_afferents: 2000, ..Default::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("n_pattern_afferents"));
    let bad = PatternStreamConfig { dt_ms: 0.0, ..Default::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("dt_ms"));
    let cfg = PatternStreamConfig::default();
    let pat = cfg.frozen_pattern(&mut rng).unwrap();
    let other = PatternStreamConfig { pattern_ms: 20.0, ..Default::default() };
    assert!(other.stream(&pat, 100.0, &mut rng).unwrap_err().to_string().contains("pattern.len_steps"));
    assert!(cfg.stream(&pat, -1.0, &mut rng).is_err());
}
