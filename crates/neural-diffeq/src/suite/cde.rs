//! Irregular-spirals classification: neural CDE and stable neural SDEs against a GRU.

use super::*;

/// Spiral data on a common grid with 50 % of the values missing (NaN): `[N, T, 2]` and labels.
fn spirals(n: usize, t: usize, seed: u64) -> (Vec<f64>, Tensor, Tensor) {
    use rand::Rng as _;
    let mut g = core_tensor::seed::rng(seed);
    let times: Vec<f64> = (0..t).map(|k| 4.0 * std::f64::consts::PI * k as f64 / (t - 1) as f64).collect();
    let mut x = Vec::with_capacity(n * t * 2);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let cls = g.gen_bool(0.5);
        let dir = if cls { 1.0 } else { -1.0 };
        let phase: f64 = g.gen::<f64>() * std::f64::consts::TAU;
        let grow: f64 = 0.05 + 0.05 * g.gen::<f64>();
        for &tk in &times {
            let r = 0.5 + grow * tk;
            for v in [r * (tk + phase).cos(), dir * r * (tk + phase).sin()] {
                x.push(if g.gen_bool(0.5) { v + 0.05 * (g.gen::<f64>() - 0.5) } else { f64::NAN });
            }
        }
        y.push(cls as i64);
    }
    (times, Tensor::from_slice(&x).view([n as i64, t as i64, 2]).to_kind(Kind::Float), Tensor::from_slice(&y))
}

/// Irregularly sampled, partly missing 2-D spirals: clockwise against anticlockwise. A neural CDE on
/// the Hermite (backward-difference) control path against a GRU reading the same forward-filled
/// values, times and observation masks.
pub const CDE_CLASSIFICATION: Task = Task::new(
    "cde_classification",
    "irregular, 50 %-missing spirals (cw vs ccw): neural CDE and stable neural SDEs (LSDE, LNSDE, GSDE) vs a GRU",
    cde_classification,
);

fn cde_classification(cfg: &SuiteConfig) -> TaskResult {
    use crate::cde::{ControlPath, Interpolation, NeuralCde};
    use tch::nn::RNN;
    let dev = cfg.device;
    let t = 32;
    let (times, xtr, ytr) = spirals(cfg.pick(512, 4096), t, cfg.seed);
    let (_, xte, yte) = spirals(512, t, cfg.seed + 1);
    let (xtr, ytr, xte, yte) = (xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev));
    let epochs = cfg.pick(10, 60);
    let batch = 128;
    let n = xtr.size()[0];
    let mut r = TaskReport::new();
    r.headline("test_accuracy_neural_cde");
    let mut curves =
        Plot::new("training_loss", "Irregular spirals: training cross-entropy", "epoch", "cross-entropy")
            .log(false, true);
    // --- neural CDE
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(dev);
    let model = NeuralCde::new(&vs.root(), 5, 16, &[32], 2)?;
    let control = StepControl::adaptive(1e-3, 1e-3);
    let start = Instant::now();
    let curve = train_in_batches(
        &vs,
        OptimizerConfig::adam(5e-3),
        (n, batch),
        epochs,
        cfg.progress,
        |_, b0, len| {
            let path = ControlPath::new(&times, &xtr.narrow(0, b0, len), Interpolation::HermiteBackward)?;
            let (logits, _) = model.forward(&path, &control)?;
            Ok(logits.cross_entropy_for_logits(&ytr.narrow(0, b0, len)))
        },
    )?;
    let cde_s = start.elapsed().as_secs_f64();
    let path = ControlPath::new(&times, &xte, Interpolation::HermiteBackward)?;
    let (logits, stats) = tch::no_grad(|| model.forward(&path, &control))?;
    let acc_cde = core_tensor::metrics::accuracy_logits(&logits, &yte)?;
    curves = curves.line("neural CDE", curve);
    // --- GRU baseline on [t, forward-filled x, observation mask]
    core_tensor::seed::seed_torch(cfg.seed);
    let vs2 = nn::VarStore::new(dev);
    let gru = nn::gru(&(vs2.root() / "gru"), 5, 32, Default::default());
    let head = nn::linear(vs2.root() / "head", 32, 2, Default::default());
    let inputs = |x: &Tensor| -> Result<Tensor> {
        let p = ControlPath::new(&times, x, Interpolation::Linear)?;
        // knot values: [t, ffill x, counts]; the mask is the increment of the counts
        let vals = (0..t as i64)
            .map(|k| p.evaluate(times[k as usize] + 1e-12 * (k == 0) as i64 as f64))
            .collect::<Vec<_>>();
        let v = Tensor::stack(&vals, 1); // [B, T, 5]
        let counts = v.narrow(2, 3, 2);
        let prev = Tensor::cat(&[counts.zeros_like().narrow(1, 0, 1), counts.narrow(1, 0, t as i64 - 1)], 1);
        Ok(Tensor::cat(&[v.narrow(2, 0, 3), &counts - prev], 2))
    };
    let (gtr, gte) = (inputs(&xtr)?, inputs(&xte)?);
    let start = Instant::now();
    let curve = train_in_batches(
        &vs2,
        OptimizerConfig::adam(5e-3),
        (n, batch),
        epochs,
        cfg.progress,
        |_, b0, len| {
            let (out, _) = gru.seq(&gtr.narrow(0, b0, len));
            let logits = out.select(1, t as i64 - 1).apply(&head);
            Ok(logits.cross_entropy_for_logits(&ytr.narrow(0, b0, len)))
        },
    )?;
    let gru_s = start.elapsed().as_secs_f64();
    let acc_gru = tch::no_grad(|| {
        let (out, _) = gru.seq(&gte);
        core_tensor::metrics::accuracy_logits(&out.select(1, t as i64 - 1).apply(&head), &yte)
    })?;
    curves = curves.line("GRU", curve);
    // --- the three stable neural SDEs on the same Hermite control path
    for (name, kind) in [
        ("lsde", crate::models::StableKind::Langevin),
        ("lnsde", crate::models::StableKind::LinearNoise),
        ("gsde", crate::models::StableKind::Geometric),
    ] {
        core_tensor::seed::seed_torch(cfg.seed);
        let vs3 = nn::VarStore::new(dev);
        let m = crate::models::StableSde::new(&vs3.root(), kind, 5, 16, 32, 2)?;
        let steps = 2 * (t - 1);
        let sde_epochs = cfg.pick(60, 200);
        let curve = train_in_batches(
            &vs3,
            OptimizerConfig::adam(1e-2),
            (n, batch),
            sde_epochs,
            cfg.progress,
            |step, b0, len| {
                let path = ControlPath::new(&times, &xtr.narrow(0, b0, len), Interpolation::HermiteBackward)?;
                // a fresh Brownian path per step
                let logits = m.forward(&path, steps, cfg.seed.wrapping_add(step as u64 + 1))?;
                Ok(logits.cross_entropy_for_logits(&ytr.narrow(0, b0, len)))
            },
        )?;
        let path = ControlPath::new(&times, &xte, Interpolation::HermiteBackward)?;
        let logits = tch::no_grad(|| m.forward(&path, steps, 12_345))?;
        let acc = core_tensor::metrics::accuracy_logits(&logits, &yte)?;
        r.metric(
            format!("test_accuracy_{name}"),
            Metric::new(acc, "", Better::Higher).with_reference(acc_gru, "GRU on the same inputs"),
        )?;
        curves = curves.line(name, curve);
    }
    r.metric(
        "test_accuracy_neural_cde",
        Metric::new(acc_cde, "", Better::Higher).with_reference(acc_gru, "GRU on the same inputs"),
    )?;
    r.metric("test_accuracy_gru", Metric::new(acc_gru, "", Better::Higher))?;
    r.metric("neural_cde_test_nfe", Metric::new(stats.nfe as f64, "", Better::Lower))?;
    r.metric("neural_cde_train_seconds", Metric::new(cde_s, "s", Better::Lower))?;
    r.metric("gru_train_seconds", Metric::new(gru_s, "s", Better::Lower))?;
    r.note("Each series has 32 grid times on [0, 4π] with half of the values missing at random; every model sees the times and the observation pattern.");
    r.plot(curves);
    Ok(r)
}
