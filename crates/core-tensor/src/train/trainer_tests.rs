use super::*;
use crate::data::DataLoader;
use crate::nn::{Activation, Mlp, MlpConfig};
use tch::{nn::ModuleT, Device, Kind};

fn data(seed: i64) -> (Tensor, Tensor) {
    crate::seed::seed_torch(seed as u64);
    let x = Tensor::rand([64, 2], (Kind::Float, Device::Cpu)) * 4.0 - 2.0;
    let y = (x.select(1, 0).sin() * x.select(1, 1)).unsqueeze(1);
    (x, y)
}

fn model(init_seed: i64) -> (nn::VarStore, Mlp) {
    crate::seed::seed_torch(init_seed as u64);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = MlpConfig::default().activation(Activation::Tanh).dropout(0.1);
    let m = Mlp::new(&vs.root(), &[2, 16, 1], cfg).unwrap();
    (vs, m)
}

fn config() -> TrainerConfig {
    Trainer::builder()
        .epochs(6)
        .optimizer(OptimizerConfig::adam(0.02))
        .schedule(LrSchedule::Cosine { t_max: 6, eta_min: 0.001 }.with_warmup(1))
        .clip_norm(1.0)
        .seed(42)
}

fn run(vs: &nn::VarStore, m: &Mlp, cfg: TrainerConfig, stop_after: Option<usize>) -> TrainHistory {
    let (x, y) = data(1);
    let dl = DataLoader::new(vec![x, y], 16, 7).unwrap();
    let mut t = cfg.build().unwrap();
    if let Some(k) = stop_after {
        t.observe(move |r: &EpochRecord| if r.epoch + 1 == k { Control::Stop } else { Control::Continue });
    }
    t.fit(vs, &dl, |b| Ok((m.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float)), || Ok(None))
        .unwrap()
}

/// An interrupted run resumed from its checkpoint ends with exactly the parameters of an
/// uninterrupted run (model, optimizer moments, schedule, data order and dropout masks restored).
#[test]
fn resume_equals_uninterrupted() {
    let (vs_a, m_a) = model(0);
    let full = run(&vs_a, &m_a, config(), None);
    assert_eq!(full.epochs.len(), 6);

    let dir = tempfile::tempdir().unwrap();
    let (vs_b, m_b) = model(0);
    let part = run(&vs_b, &m_b, config().checkpoint(dir.path(), 1), Some(3));
    assert!(part.interrupted);
    assert_eq!(part.epochs.len(), 3);

    // A fresh process: different initial weights, the checkpoint overrides them.
    let (vs_c, m_c) = model(99);
    let resumed = run(&vs_c, &m_c, config().checkpoint(dir.path(), 1), None);
    assert_eq!(resumed.resumed_at, Some(3));
    assert_eq!(resumed.epochs.len(), 6);
    assert_eq!(resumed.train_losses(), full.train_losses());
    for ((na, a), (nc, c)) in named_variables(&vs_a).iter().zip(named_variables(&vs_c).iter()) {
        assert_eq!(na, nc);
        assert!(a.equal(c), "{na} differs after resume");
    }
    // Only `keep_checkpoints` checkpoints remain.
    assert_eq!(checkpoints(dir.path()).unwrap().len(), 2);
}

/// Least squares with a linear model converges to the normal-equation solution.
#[test]
fn fits_linear_regression_to_closed_form() {
    crate::seed::seed_torch(3);
    let x = Tensor::randn([200, 3], (Kind::Double, Device::Cpu));
    let w_true = Tensor::from_slice(&[1.5f64, -2.0, 0.5]).view([3, 1]);
    let y = x.matmul(&w_true) + Tensor::randn([200, 1], (Kind::Double, Device::Cpu)) * 0.1;
    let w_star = x.pinverse(1e-12).matmul(&y);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().zeros("w", &[3, 1]);
    vs.double();
    let dl = DataLoader::new(vec![x, y], 200, 0).unwrap();
    let mut t = Trainer::builder().epochs(300).optimizer(OptimizerConfig::sgd(0.3, 0.5)).build().unwrap();
    t.fit(&vs, &dl, |b| Ok((b[0].matmul(&w) - &b[1]).square().mean(Kind::Double)), || Ok(None)).unwrap();
    let err = (&w - &w_star).abs().max().double_value(&[]);
    assert!(err < 1e-6, "max |w - w*| = {err}");
}

#[test]
fn early_stopping_restores_best() {
    let (vs, m) = model(0);
    let (x, y) = data(1);
    let dl = DataLoader::new(vec![x, y], 16, 7).unwrap();
    let mut t = config().epochs(50).early_stopping(2, 0.0).build().unwrap();
    // A validation loss that improves for 3 epochs and then gets worse.
    let mut calls = 0;
    let mut snapshots = Vec::new();
    let vs_ref = &vs;
    let h = t
        .fit(
            &vs,
            &dl,
            |b| Ok((m.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float)),
            || {
                calls += 1;
                snapshots.push(
                    named_variables(vs_ref).into_iter().map(|(n, t)| (n, t.copy())).collect::<Vec<_>>(),
                );
                Ok(Some((calls as f64 - 3.0).abs()))
            },
        )
        .unwrap();
    assert!(h.stopped_early);
    assert_eq!(h.epochs.len(), 5);
    assert_eq!(h.best_epoch, Some(2));
    for ((n, a), (_, b)) in named_variables(&vs).iter().zip(snapshots[2].iter()) {
        assert!(a.equal(b), "{n} not restored to the best epoch");
    }
}

#[test]
fn zeroth_order_training_reduces_the_loss() {
    let (vs, m) = model(0);
    let cfg = config()
        .epochs(30)
        .optimizer(OptimizerConfig::adam(0.02))
        .zeroth_order(ZerothOrder::Spsa { c: 1e-3, samples: 4 });
    let h = run(&vs, &m, cfg, None);
    let l = h.train_losses();
    assert!(l[l.len() - 1] < 0.75 * l[0], "{l:?}");
}

#[test]
fn bad_configs_and_nan_losses_are_errors() {
    assert!(Trainer::builder().epochs(0).build().is_err());
    assert!(Trainer::builder().clip_norm(-1.0).build().is_err());
    assert!(Trainer::builder().early_stopping(0, 0.0).build().is_err());
    let mut c = Trainer::builder();
    c.checkpoint_every = 2;
    assert!(c.build().unwrap_err().to_string().contains("checkpoint_dir"));
    let (vs, m) = model(0);
    let (x, y) = data(1);
    let dl = DataLoader::new(vec![x, y], 16, 7).unwrap();
    let mut t = config().build().unwrap();
    let e = t
        .fit(&vs, &dl, |b| Ok(m.forward_t(&b[0], true).sum(Kind::Float) * f64::NAN), || Ok(None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("epoch 0, batch 0"), "{e}");
    // a loss detached from the parameters would train nothing: refused
    let e = t
        .fit(&vs, &dl, |b| Ok(m.forward_t(&b[0], true).sum(Kind::Float).detach()), || Ok(None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("graph"), "{e}");
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_and_all_damaged_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (vs, m) = model(0);
    run(&vs, &m, config().epochs(2).checkpoint(dir.path(), 1), None);
    let all = checkpoints(dir.path()).unwrap();
    assert_eq!(all.len(), 2);
    let newest = all[1].1.clone();
    std::fs::write(newest.join(OPT_FILE), b"garbage").unwrap();
    // Resumes from the older checkpoint (after epoch 0) and says which one it skipped.
    let (vs2, m2) = model(0);
    let h = run(&vs2, &m2, config().epochs(3).checkpoint(dir.path(), 1), None);
    assert_eq!(h.resumed_at, Some(1));
    assert_eq!(h.damaged_checkpoints, vec![newest]);
    // With every checkpoint damaged the newest one's error is returned.
    let all = checkpoints(dir.path()).unwrap();
    for (_, p) in &all {
        std::fs::write(p.join(OPT_FILE), b"garbage").unwrap();
    }
    let newest = all.last().unwrap().1.file_name().unwrap().to_string_lossy().into_owned();
    let (x, y) = data(1);
    let dl = DataLoader::new(vec![x, y], 16, 7).unwrap();
    let mut t = config().epochs(4).checkpoint(dir.path(), 1).build().unwrap();
    let e = t
        .fit(&vs, &dl, |b| Ok((m.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float)), || Ok(None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("optimizer.safetensors") && e.contains(&newest), "{e}");
}
