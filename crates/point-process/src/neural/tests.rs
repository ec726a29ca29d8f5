//! Tests of the neural TPPs against closed forms and the classical implementation.

use super::decoder::Decoder;
use super::encoder::{Encoder, History};
use super::*;
use crate::data::EventSequence;
use crate::hawkes::{self, Hawkes, SimOptions};
use approx::assert_abs_diff_eq;
use core_tensor::seed::rng;
use nalgebra::DMatrix;
use tch::{nn, Device, Kind, Tensor};

const GL: Integration = Integration::GaussLegendre { panels: 4 };

fn set(vs: &nn::VarStore, name: &str, value: &Tensor) {
    let vars = vs.variables();
    let mut v =
        vars.get(name).unwrap_or_else(|| panic!("no variable {name}: {:?}", vars.keys())).shallow_clone();
    let src = value.to_kind(v.kind());
    tch::no_grad(|| v.copy_(&src));
}

fn hawkes2() -> Hawkes {
    Hawkes::exponential(vec![0.4, 0.3], DMatrix::from_row_slice(2, 2, &[0.3, 0.2, 0.1, 0.4]), 1.5).unwrap()
}

fn sims(h: &Hawkes, n: usize, t_end: f64, seed: u64) -> Vec<EventSequence> {
    let mut r = rng(seed);
    (0..n).map(|_| h.simulate_ogata(SimOptions::new(t_end), &mut r).unwrap()).collect()
}

fn model_f64(cfg: TppConfig, seed: i64) -> (nn::VarStore, NeuralTpp) {
    core_tensor::seed::seed_torch(seed as u64);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let m = NeuralTpp::new(&vs.root(), cfg).unwrap();
    vs.double();
    (vs, m)
}

/// RMTPP with zero weights is a multivariate homogeneous Poisson process: its log-likelihood must
/// equal the classical Hawkes likelihood with α = 0, tail compensator included.
#[test]
fn rmtpp_poisson_matches_classical_likelihood() {
    let rates = [0.5, 1.5];
    let (vs, m) = model_f64(TppConfig::new(Model::Rmtpp, 2).hidden(8), 0);
    set(&vs, "decoder.base.weight", &Tensor::zeros([1, 8], (Kind::Double, Device::Cpu)));
    set(&vs, "decoder.base.bias", &Tensor::from_slice(&[2.0f64.ln()]));
    set(&vs, "decoder.w", &Tensor::from_slice(&[0.0f64]));
    set(&vs, "decoder.marks.weight", &Tensor::zeros([2, 8], (Kind::Double, Device::Cpu)));
    set(&vs, "decoder.marks.bias", &Tensor::from_slice(&[0.5f64.ln(), 1.5f64.ln()]));
    let truth = Hawkes::exponential(rates.to_vec(), DMatrix::zeros(2, 2), 1.0).unwrap();
    let mut seqs = sims(&truth, 4, 7.0, 1);
    seqs.push(EventSequence::new(vec![], None, 2, 0.0, 3.0).unwrap()); // empty: tail only
    let b = TppBatch::from_sequences(&seqs, Kind::Double, Device::Cpu).unwrap();
    let ll = m.log_likelihood(&b, GL, false).unwrap();
    let per: Vec<f64> = Vec::try_from(ll.per_sequence()).unwrap();
    for (s, got) in seqs.iter().zip(per) {
        let want = hawkes::log_likelihood(&truth, s).unwrap();
        assert_abs_diff_eq!(got, want, epsilon = 1e-9);
    }
}

/// An encoder computing the exact excitation state of an exponential Hawkes process.
#[derive(Debug)]
struct HawkesState {
    h: Hawkes,
}

impl Encoder for HawkesState {
    fn encode(&self, batch: &TppBatch, _train: bool) -> crate::Result<History> {
        let (b, l) = (batch.batch_size(), batch.max_len());
        let d = self.h.dim();
        let beta = 1.5;
        let t: Vec<f64> = Vec::try_from(batch.times.flatten(0, -1)).unwrap();
        let mk: Vec<i64> = Vec::try_from(batch.marks.flatten(0, -1)).unwrap();
        let mask: Vec<bool> = Vec::try_from(batch.mask.flatten(0, -1)).unwrap();
        let mut ctx = vec![0.0; (b * (l + 1)) as usize * d];
        for r in 0..b as usize {
            let mut s = vec![0.0; d];
            let mut prev = 0.0;
            for c in 0..l as usize {
                let i = r * l as usize + c;
                if !mask[i] {
                    break;
                }
                for (k, sk) in s.iter_mut().enumerate() {
                    *sk = *sk * (-beta * (t[i] - prev)).exp() + self.h.alpha()[0][(k, mk[i] as usize)] * beta;
                }
                prev = t[i];
                let o = (r * (l as usize + 1) + c + 1) * d;
                ctx[o..o + d].copy_from_slice(&s);
            }
        }
        let ctx = Tensor::from_slice(&ctx).view([b, l + 1, d as i64]);
        let zeros = Tensor::zeros([b, 1], (Kind::Double, Device::Cpu));
        Ok(History {
            ctx,
            prev_times: Tensor::cat(&[&zeros, &batch.times], 1),
            events: Tensor::zeros([b, l, 1], (Kind::Double, Device::Cpu)),
            event_times: batch.times.shallow_clone(),
            event_mask: batch.mask.shallow_clone(),
        })
    }
    fn out_dim(&self) -> i64 {
        self.h.dim() as i64
    }
}

/// `λ_k(τ) = μ_k + s_k e^{−βτ}`, with or without its closed-form compensator.
#[derive(Debug)]
struct HawkesDecoder {
    mu: Vec<f64>,
    exact: bool,
}

impl Decoder for HawkesDecoder {
    fn num_marks(&self) -> usize {
        self.mu.len()
    }
    fn log_intensity(&self, h: &History, tau: &Tensor) -> crate::Result<Tensor> {
        let mu = Tensor::from_slice(&self.mu);
        Ok((mu + h.ctx.unsqueeze(2) * (tau.unsqueeze(-1) * -1.5).exp()).log())
    }
    fn compensator(&self, h: &History, tau: &Tensor) -> Option<crate::Result<Tensor>> {
        self.exact.then(|| {
            let m: f64 = self.mu.iter().sum();
            let s = h.ctx.sum_dim_intlist(-1, false, Kind::Double);
            Ok(tau * m + s * (1.0 - (tau * -1.5).exp()) / 1.5)
        })
    }
}

fn hawkes_model(exact: bool) -> NeuralTpp {
    let h = hawkes2();
    let mu = h.mu().to_vec();
    NeuralTpp::from_parts(
        TppConfig::new(Model::Rmtpp, 2),
        Box::new(HawkesState { h }),
        Box::new(HawkesDecoder { mu, exact }),
    )
    .unwrap()
}

/// The likelihood assembly (event terms, compensators between events and the tail to T) with a
/// decoder reproducing the Hawkes intensity gives the classical log-likelihood, both with the
/// exact compensator and with quadrature.
#[test]
fn hawkes_decoder_gives_classical_likelihood_exact_and_by_quadrature() {
    let truth = hawkes2();
    let seqs = sims(&truth, 5, 15.0, 3);
    let b = TppBatch::from_sequences(&seqs, Kind::Double, Device::Cpu).unwrap();
    for exact in [true, false] {
        let m = hawkes_model(exact);
        let per: Vec<f64> = Vec::try_from(m.log_likelihood(&b, GL, false).unwrap().per_sequence()).unwrap();
        for (s, got) in seqs.iter().zip(per) {
            let want = hawkes::log_likelihood(&truth, s).unwrap();
            assert_abs_diff_eq!(got, want, epsilon = if exact { 1e-9 } else { 1e-7 });
        }
    }
    // Monte Carlo is unbiased: the mean over repetitions is close to the exact value
    let m = hawkes_model(false);
    core_tensor::seed::seed_torch(0);
    let want: f64 = seqs.iter().map(|s| hawkes::log_likelihood(&truth, s).unwrap()).sum();
    let mc: f64 = (0..20)
        .map(|_| m.log_likelihood(&b, Integration::MonteCarlo { samples: 50 }, false).unwrap().total())
        .sum::<f64>()
        / 20.0;
    assert!((mc - want).abs() < 0.01 * want.abs(), "MC {mc} vs exact {want}");
}

fn random_batch(k: usize) -> (Vec<EventSequence>, TppBatch) {
    let seqs = vec![
        EventSequence::new(
            vec![0.2, 0.9, 1.1, 2.5, 2.6, 3.7, 4.0, 5.2],
            Some(vec![0, 1, 2, 1, 0, 2, 2, 1].into_iter().map(|m| m % k).collect()),
            k,
            0.0,
            6.0,
        )
        .unwrap(),
        EventSequence::new(vec![0.5, 3.0], Some(vec![1 % k, 0]), k, 0.0, 4.0).unwrap(),
    ];
    let b = TppBatch::from_sequences(&seqs, Kind::Double, Device::Cpu).unwrap();
    (seqs, b)
}

/// Where a decoder has a closed-form compensator, quadrature of its intensity agrees with it.
#[test]
fn closed_form_compensators_match_quadrature() {
    for model in [Model::Rmtpp, Model::IntensityFree, Model::FullyNn] {
        let (_vs, m) = model_f64(TppConfig::new(model, 3).hidden(8), 5);
        let (_, b) = random_batch(3);
        let h = m.encode(&b, false).unwrap();
        let hi = Tensor::from_slice(&[0.3f64, 1.0, 2.5, 0.05, 4.0, 0.7, 1.9, 3.3, 0.2])
            .view([1, 9])
            .expand([2, 9], false);
        let lo = &hi * 0.25;
        let exact = m.compensator(&h, &lo, &hi, GL).unwrap();
        assert!(m.decoder().compensator(&h, &hi).is_some());
        let quad = m.integrate(&h, &lo, &hi, Integration::GaussLegendre { panels: 32 }).unwrap();
        let err = ((&exact - &quad).abs() / exact.abs().clamp_min(1e-12)).max().double_value(&[]);
        assert!(err < 1e-6, "{model:?}: relative error {err}");
        // a 1-D input is a shape error, not a libtorch panic
        let e = m.integrate(&h, &lo.reshape([-1]), &hi.reshape([-1]), GL).unwrap_err().to_string();
        assert!(e.contains("a, b"), "{model:?}: {e}");
    }
}

/// Perturbing a later event (its time and mark) leaves every earlier intensity and likelihood
/// term unchanged, for every model.
#[test]
fn no_future_leakage() {
    for model in Model::ALL {
        let (_vs, m) = model_f64(TppConfig::new(model, 3).hidden(8), 7);
        let (seqs, b) = random_batch(3);
        let s = &seqs[0];
        let j = 5;
        let mut t = s.times().to_vec();
        let mut mk = s.marks().to_vec();
        t[j] = 0.5 * (t[j] + t[j + 1]);
        mk[j] = (mk[j] + 1) % 3;
        let p = EventSequence::new(t, Some(mk), 3, 0.0, 6.0).unwrap();
        let bp = TppBatch::from_sequences(&[p, seqs[1].clone()], Kind::Double, Device::Cpu).unwrap();
        let q = Tensor::linspace(0.0, s.times()[j] - 1e-3, 40, (Kind::Double, Device::Cpu))
            .view([1, 40])
            .expand([2, 40], false);
        let l0 = m.intensity(&b, &q).unwrap();
        let l1 = m.intensity(&bp, &q).unwrap();
        let d = (&l0 - &l1).abs().max().double_value(&[]);
        assert!(d < 1e-10, "{model:?}: intensity before the perturbed event changed by {d}");
        let a = m.log_likelihood(&b, GL, false).unwrap();
        let c = m.log_likelihood(&bp, GL, false).unwrap();
        let ta = (&a.time + &a.mark).narrow(1, 0, j as i64);
        let tc = (&c.time + &c.mark).narrow(1, 0, j as i64);
        let d = (ta - tc).abs().max().double_value(&[]);
        assert!(d < 1e-10, "{model:?}: likelihood terms before the perturbed event changed by {d}");
        // and the perturbation is visible later (the test can fail)
        let later =
            (&a.time + &a.mark).narrow(1, j as i64 + 1, 3) - (&c.time + &c.mark).narrow(1, j as i64 + 1, 3);
        assert!(later.abs().max().double_value(&[]) > 1e-8, "{model:?}: history ignored");
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let t = Tensor::from_slice(&[0.5f64, 0.2]).view([1, 2]);
    let mk = Tensor::from_slice(&[0i64, 1]).view([1, 2]);
    let mask = Tensor::from_slice(&[true, true]).view([1, 2]);
    let dur = Tensor::from_slice(&[1.0f64]);
    let e = TppBatch::new(t, mk.shallow_clone(), mask.shallow_clone(), dur.shallow_clone(), 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("times[0, 1]") && e.contains("increase"), "{e}");
    let t = Tensor::from_slice(&[0.5f64, f64::NAN]).view([1, 2]);
    let e = TppBatch::new(t, mk.shallow_clone(), mask.shallow_clone(), dur.shallow_clone(), 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("times[0, 1]") && e.contains("finite"), "{e}");
    let t = Tensor::from_slice(&[0.2f64, 0.5]).view([1, 2]);
    let e =
        TppBatch::new(t.shallow_clone(), mk.shallow_clone(), mask.shallow_clone(), dur.shallow_clone(), 1)
            .unwrap_err()
            .to_string();
    assert!(e.contains("marks[0, 1]"), "{e}");
    let e = TppBatch::new(t.shallow_clone(), mk.view([2, 1]), mask.shallow_clone(), dur.shallow_clone(), 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("marks"), "{e}");
    assert!(TppBatch::new(t, mk, mask, dur, 2).is_ok());
    let e = NeuralTpp::new(&nn::VarStore::new(Device::Cpu).root(), TppConfig::new(Model::Thp, 2).heads(3))
        .unwrap_err()
        .to_string();
    assert!(e.contains("heads"), "{e}");
    let e = NeuralTpp::new(
        &nn::VarStore::new(Device::Cpu).root(),
        TppConfig::custom(EncoderKind::Gru, DecoderKind::CtLstm, 2),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("decoder"), "{e}");
    assert!("lstm_thing".parse::<Model>().unwrap_err().to_string().contains("model"));
    let (_vs, m) = model_f64(TppConfig::new(Model::Rmtpp, 3).hidden(8), 1);
    let (_, b) = random_batch(3);
    let e = m.intensity(&b, &Tensor::zeros([3, 2], (Kind::Double, Device::Cpu))).unwrap_err().to_string();
    assert!(e.contains("query"), "{e}");
    let (_, b2) = random_batch(2);
    let e = m.log_likelihood(&b2, GL, false).unwrap_err().to_string();
    assert!(e.contains("num_marks"), "{e}");
    let h = m.encode(&b, false).unwrap();
    let e = m
        .decoder()
        .log_intensity(&h, &Tensor::zeros([2, 3], (Kind::Double, Device::Cpu)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tau"), "{e}");
    let e = h.gather(&Tensor::from_slice(&[0i64, 99]).view([2, 1])).unwrap_err().to_string();
    assert!(e.contains("index"), "{e}");
}

fn poisson_rmtpp(rates: [f64; 2]) -> (nn::VarStore, NeuralTpp) {
    let (vs, m) = model_f64(TppConfig::new(Model::Rmtpp, 2).hidden(8), 0);
    set(&vs, "decoder.base.weight", &Tensor::zeros([1, 8], (Kind::Double, Device::Cpu)));
    set(&vs, "decoder.base.bias", &Tensor::from_slice(&[(rates[0] + rates[1]).ln()]));
    set(&vs, "decoder.w", &Tensor::from_slice(&[0.0f64]));
    set(&vs, "decoder.marks.weight", &Tensor::zeros([2, 8], (Kind::Double, Device::Cpu)));
    set(&vs, "decoder.marks.bias", &Tensor::from_slice(&[rates[0].ln(), rates[1].ln()]));
    (vs, m)
}

/// On data from the model itself (a Poisson process): the NLL is the closed form, the PIT values
/// are uniform, the predicted gap is the mean 1/R (RMSE ≈ the gap's standard deviation 1/R) and
/// the mark accuracy is the majority share.
#[test]
fn metrics_of_the_true_poisson_model() {
    benchmark::with_single_thread(metrics_of_the_true_poisson_model_inner)
}

fn metrics_of_the_true_poisson_model_inner() {
    let rates = [0.5, 1.5];
    let (_vs, m) = poisson_rmtpp(rates);
    let truth = Hawkes::exponential(rates.to_vec(), DMatrix::zeros(2, 2), 1.0).unwrap();
    let seqs = sims(&truth, 150, 10.0, 11);
    let n: usize = seqs.iter().map(|s| s.len()).sum();
    let n1: usize = seqs.iter().map(|s| s.counts()[1]).sum();
    let cfg = EvalConfig { horizon: Some(20.0), grid: 2001, ..EvalConfig::new(Kind::Double, Device::Cpu) };
    let r = evaluate(&m, &seqs, None, &cfg).unwrap();
    assert_eq!(r.events, n);
    let exact = -(n1 as f64 * 1.5f64.ln() + (n - n1) as f64 * 0.5f64.ln() - 2.0 * 10.0 * 150.0) / n as f64;
    assert_abs_diff_eq!(r.nll_per_event, exact, epsilon = 1e-9);
    let mark = -(n1 as f64 * 0.75f64.ln() + (n - n1) as f64 * 0.25f64.ln()) / n as f64;
    assert_abs_diff_eq!(r.nll_mark_per_event, mark, epsilon = 1e-9);
    assert_abs_diff_eq!(r.mark_accuracy, n1 as f64 / n as f64, epsilon = 1e-12);
    assert!(r.time_calibration_error < 0.03, "{r:?}");
    assert!(r.mark_ece < 0.03, "{r:?}");
    assert!((r.rmse_next_time - 0.5).abs() < 0.05, "{r:?}");
    // history before score_from is context only
    let from: Vec<f64> = seqs.iter().map(|_| 5.0).collect();
    let r2 = evaluate(&m, &seqs, Some(&from), &cfg).unwrap();
    let n2: usize = seqs.iter().map(|s| s.times().iter().filter(|&&t| t > 5.0).count()).sum();
    assert_eq!(r2.events, n2);
    let n2_1: usize = seqs.iter().map(|s| s.iter().filter(|&(t, k)| t > 5.0 && k == 1).count()).sum();
    let exact2 =
        -(n2_1 as f64 * 1.5f64.ln() + (n2 - n2_1) as f64 * 0.5f64.ln() - 2.0 * 5.0 * 150.0) / n2 as f64;
    assert_abs_diff_eq!(r2.nll_per_event, exact2, epsilon = 1e-9);
    // point predictions: E[τ] = (1 − e^{−RH})/R and P(k) = r_k / R
    let b = TppBatch::from_sequences(&seqs[..3], Kind::Double, Device::Cpu).unwrap();
    let (gap, pk) = m.predict_next(&m.encode(&b, false).unwrap(), 3.0, 3001).unwrap();
    let want = (1.0 - (-6.0f64).exp()) / 2.0;
    assert!((gap - want).abs().max().double_value(&[]) < 1e-5);
    assert!((pk.select(-1, 1) - 0.75).abs().max().double_value(&[]) < 1e-5);
}

/// Training through the Trainer lowers the validation NLL, stops early or at the epoch cap, and
/// writes checkpoints.
#[test]
fn training_lowers_the_nll_and_checkpoints() {
    benchmark::with_single_thread(training_inner)
}

fn training_inner() {
    let truth = hawkes2();
    let train_s = sims(&truth, 48, 20.0, 21);
    let val = sims(&truth, 16, 20.0, 22);
    core_tensor::seed::seed_torch(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let m = NeuralTpp::new(&vs.root(), TppConfig::new(Model::Rmtpp, 2).hidden(16)).unwrap();
    let before = train::nll_per_event(&m, &val, 16, Kind::Float, Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = TppTrainConfig {
        epochs: 6,
        batch_size: 16,
        lr: 1e-2,
        checkpoint_dir: Some(dir.path().to_path_buf()),
        checkpoint_every: 2,
        ..Default::default()
    };
    let hist = train(&m, &vs, &train_s, &val, &cfg).unwrap();
    let after = train::nll_per_event(&m, &val, 16, Kind::Float, Device::Cpu).unwrap();
    assert!(after < before - 0.1, "NLL {before} -> {after}");
    assert!(hist.epochs.len() <= 6 && hist.best_loss.is_some());
    assert!(std::fs::read_dir(dir.path()).unwrap().count() > 0);
    // same seeds, same numbers (a fresh run without checkpoints)
    core_tensor::seed::seed_torch(0);
    let vs2 = nn::VarStore::new(Device::Cpu);
    let m2 = NeuralTpp::new(&vs2.root(), TppConfig::new(Model::Rmtpp, 2).hidden(16)).unwrap();
    let hist2 = train(
        &m2,
        &vs2,
        &train_s,
        &val,
        &TppTrainConfig { checkpoint_dir: None, checkpoint_every: 0, ..cfg },
    )
    .unwrap();
    assert_eq!(hist.train_losses(), hist2.train_losses());
    // a batch in the wrong dtype is an error, not a panic
    let b = TppBatch::from_sequences(&val[..2], Kind::Double, Device::Cpu).unwrap();
    assert!(m.log_likelihood(&b, GL, false).unwrap_err().to_string().contains("Float"));
}

/// Samples of the first gap, mapped through the model's own compensator, are Exp(1) (time
/// rescaling), for the three sampler paths: closed-form inversion (RMTPP), thinning with a valid
/// bound (SAHP, NHP) and numerical inversion (neural intensity).
#[test]
fn samplers_follow_the_model() {
    benchmark::with_single_thread(samplers_inner)
}

fn samplers_inner() {
    let cases = [
        TppConfig::new(Model::Rmtpp, 2).hidden(8),
        TppConfig::new(Model::Sahp, 2).hidden(8).layers(1),
        TppConfig::new(Model::Nhp, 2).hidden(8),
        TppConfig::custom(EncoderKind::Gru, DecoderKind::NeuralIntensity, 2).hidden(8),
    ];
    for cfg in cases {
        let name = format!("{:?}", cfg.decoder);
        let rmtpp = cfg.decoder == DecoderKind::Exponential;
        let (vs, m) = model_f64(cfg, 3);
        if rmtpp {
            // a growing intensity, so an event surely comes
            set(&vs, "decoder.w", &Tensor::from_slice(&[0.05f64]));
        }
        let hist = EventSequence::new(vec![0.4, 1.0], Some(vec![1, 0]), 2, 0.0, 1.5).unwrap();
        let b = TppBatch::from_sequences(std::slice::from_ref(&hist), Kind::Double, Device::Cpu).unwrap();
        let h = m.encode(&b, false).unwrap().gather(&Tensor::from_slice(&[2i64]).view([1, 1])).unwrap();
        let mut r = rng(5);
        let sc = SampleConfig::default();
        let mut res = Vec::new();
        for _ in 0..150 {
            let next = sample_next(&m, &hist, 200.0, &mut r, &sc, Kind::Double, Device::Cpu).unwrap();
            let (t, k) = next.unwrap_or_else(|| panic!("{name}: no event before the horizon"));
            assert!(t > 1.5 && k < 2);
            let a = Tensor::from_slice(&[0.5f64]).view([1, 1]);
            let bb = Tensor::from_slice(&[t - 1.0]).view([1, 1]);
            res.push(
                m.compensator(&h, &a, &bb, Integration::GaussLegendre { panels: 16 })
                    .unwrap()
                    .double_value(&[0, 0]),
            );
        }
        let ks = crate::hawkes::ks_exp1(&res).unwrap();
        assert!(ks.p_value > 0.01, "{name}: KS p = {}", ks.p_value);
    }
}

/// Whole continuations: increasing times inside the window, deterministic from the seed, and for
/// a Poisson model the expected count.
#[test]
fn continuations() {
    let (_vs, m) = poisson_rmtpp([0.5, 1.5]);
    let hist = EventSequence::new(vec![0.4, 1.0], Some(vec![1, 0]), 2, 0.0, 1.5).unwrap();
    let sc = SampleConfig::default();
    let a = generate(&m, &hist, 40.0, &mut rng(1), &sc, Kind::Double, Device::Cpu).unwrap();
    let b = generate(&m, &hist, 40.0, &mut rng(1), &sc, Kind::Double, Device::Cpu).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.t_start(), 1.5);
    // 2 events per unit time on 38.5 units: 77 ± 9
    assert!((a.len() as f64 - 77.0).abs() < 30.0, "{}", a.len());
    let (_vs, m) = model_f64(TppConfig::new(Model::Thp, 2).hidden(8).layers(1), 2);
    let c = generate(&m, &hist, 6.0, &mut rng(2), &sc, Kind::Double, Device::Cpu).unwrap();
    assert!(c.times().iter().all(|&t| t > 1.5 && t <= 6.0));
    // a window far too short for the horizon hits the draw cap instead of looping for hours
    let tiny = SampleConfig { window: 1e-9, max_draws: 1000, ..SampleConfig::default() };
    let e = sample_next(&m, &hist, 1e6, &mut rng(3), &tiny, Kind::Double, Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("candidates or windows"), "{e}");
}

/// Every valid encoder × decoder combination builds, gives a finite likelihood with gradients for
/// its parameters, and the invalid ones are refused.
#[test]
fn every_combination_runs() {
    let encoders = [EncoderKind::Gru, EncoderKind::Lstm, EncoderKind::SelfAttention, EncoderKind::CtLstm];
    let decoders = [
        DecoderKind::Exponential,
        DecoderKind::LogNormalMixture,
        DecoderKind::CumulativeHazard,
        DecoderKind::NeuralIntensity,
        DecoderKind::Sahp,
        DecoderKind::Thp,
        DecoderKind::CtLstm,
        DecoderKind::ContinuousAttention,
    ];
    let seqs = random_batch(3).0;
    for e in encoders {
        for d in decoders {
            let cfg = TppConfig::custom(e, d, 3).hidden(8).layers(1);
            let vs = nn::VarStore::new(Device::Cpu);
            let m = NeuralTpp::new(&vs.root(), cfg);
            if d == DecoderKind::CtLstm && e != EncoderKind::CtLstm {
                assert!(m.is_err());
                continue;
            }
            let m = m.unwrap();
            let bf = TppBatch::from_sequences(&seqs, Kind::Float, Device::Cpu).unwrap();
            let loss = m.loss(&bf, true).unwrap();
            assert!(loss.double_value(&[]).is_finite(), "{e:?} × {d:?}");
            loss.backward();
            let with_grad = vs.trainable_variables().iter().filter(|v| v.grad().defined()).count();
            assert!(with_grad > 0, "{e:?} × {d:?}: no gradient");
        }
    }
    // a batch of empty sequences: only the tail compensators
    let (_vs, m) = poisson_rmtpp([0.5, 1.5]);
    let empty = vec![EventSequence::new(vec![], None, 2, 0.0, 3.0).unwrap(); 2];
    let be = TppBatch::from_sequences(&empty, Kind::Double, Device::Cpu).unwrap();
    assert_abs_diff_eq!(m.log_likelihood(&be, GL, false).unwrap().total(), -12.0, epsilon = 1e-9);
}

#[test]
fn specs_parse_presets_and_combinations() {
    use benchmark::Spec;
    let s: Spec = "gru+sahp".parse().unwrap();
    assert_eq!(s, Spec::Combination(EncoderKind::Gru, DecoderKind::Sahp));
    assert_eq!(s.name(), "gru+sahp");
    let s: Spec = "self_attention+log_normal_mixture".parse().unwrap();
    assert_eq!(s.name().parse::<Spec>().unwrap(), s);
    assert_eq!("attnhp".parse::<Spec>().unwrap(), Spec::Preset(Model::AttNhp));
    assert!("tcn+sahp".parse::<Spec>().unwrap_err().to_string().contains("encoder"));
    assert!("gru+weibull".parse::<Spec>().unwrap_err().to_string().contains("decoder"));
}
