//! NeuralStagger against one fine FNO on Burgers and Navier–Stokes.

use super::*;

/// Records `{key}_speedup_sequential` (`fine_ms / ms`, against `reference`) and
/// `{key}_speedup_parallel` (as if the `subs` sub-solvers ran concurrently).
fn stagger_speedups(
    r: &mut TaskReport,
    key: &str,
    fine_ms: f64,
    ms: f64,
    subs: i64,
    reference: &str,
) -> Result<()> {
    r.metric(
        format!("{key}_speedup_sequential"),
        Metric::new(fine_ms / ms, "×", Better::Higher).with_reference(1.0, reference),
    )?;
    r.metric(
        format!("{key}_speedup_parallel"),
        Metric::new(fine_ms / (ms / subs as f64), "×", Better::Higher),
    )?;
    Ok(())
}

/// NeuralStagger on Burgers: one fine FNO against `s = 2` and `s = 4` staggered coarse
/// sub-solvers trained jointly; test error and inference time.
pub const NEURAL_STAGGER_BURGERS: Task = Task::new(
    "neural_stagger_burgers",
    "NeuralStagger (s = 2, 4 coarse sub-solvers) vs one fine FNO on Burgers: test relative L2 and inference speed-up",
    neural_stagger_burgers,
).full_only();

fn neural_stagger_burgers(cfg: &SuiteConfig) -> TaskResult {
    use crate::stagger::NeuralStagger;
    let (n, fine, n_train, n_test, epochs) = cfg.pick((256, 256, 200, 50, 30), (1024, 8192, 1000, 100, 300));
    let [(xtr, ytr), (xte, yte)] = burgers_train_test(cfg, n, fine, (n_train, n_test))?;
    let dev = cfg.device;
    let (xtr, ytr, xte, yte) = (xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev));
    let base = FnoConfig { width: 32, ..FnoConfig::default() };
    // every model predicts normalised targets (see `FNO_BURGERS`)
    let yn = UnitGaussianNormalizer::fit_per_channel(&ytr)?;
    let mut r = TaskReport::new();
    let mut fine_ms = 0.0;
    let mut fine_err = 0.0;
    for s in [1i64, 2, 4] {
        core_tensor::seed::seed_torch(derive_seed(cfg.seed, 40 + s as u64));
        let vs = nn::VarStore::new(dev);
        // The same modes fit every coarse grid here (16 ≤ n/(2s)).
        let model = NeuralStagger::new(&vs.root(), &base, s)?;
        let forward = |x: &Tensor| -> crate::Result<Tensor> { Ok(yn.decode(&model.forward(x)?)) };
        train_operator(forward, &vs, OptimizerConfig::adam(1e-3), &xtr, &ytr, epochs, epochs / 3 + 1, cfg)?;
        let test = tch::no_grad(|| -> crate::Result<f64> {
            Ok(relative_lp_loss(&forward(&xte)?, &yte, 2.0)?.double_value(&[]))
        })?;
        let ms = median_ms(cfg.pick(9, 21), || {
            let _ = tch::no_grad(|| forward(&xte))?;
            Ok(())
        })?;
        let label = if s == 1 { "fine".to_string() } else { format!("stagger{s}") };
        r.metric(format!("{label}_test_relative_l2"), Metric::new(test, "", Better::Lower))?;
        r.metric(format!("{label}_inference_ms"), Metric::new(ms, "ms", Better::Lower))?;
        if s == 1 {
            fine_ms = ms;
            fine_err = test;
        } else {
            stagger_speedups(&mut r, &label, fine_ms, ms, s, "single fine FNO")?;
            r.metric(format!("{label}_error_ratio"), Metric::new(test / fine_err, "×", Better::Lower))?;
        }
    }
    r.note(format!(
        "Burgers, {n} points, {n_train}/{n_test} samples, FNO width 32 / modes 16, {epochs} epochs; inference = one forward pass over the {n_test} test samples; parallel speed-up assumes the s sub-solvers run concurrently"
    ));
    Ok(r)
}

/// NeuralStagger in 2-D and in time on forced Navier–Stokes (ν = 1e-3): a fine FNO-2D stepping one
/// frame per call against staggered coarse sub-solvers (s = 2, four 16×16 grids) stepping one
/// (τ = 1) or two (τ = 2) frames per call; rollout error over the trajectory and inference time.
pub const NEURAL_STAGGER_NAVIER_STOKES: Task = Task::new(
    "neural_stagger_navier_stokes",
    "NeuralStagger 2-D (s = 2) and spatio-temporal (s = 2, τ = 2) vs a fine FNO-2D on Navier–Stokes rollouts: error and speed-up",
    neural_stagger_navier_stokes,
).full_only();

fn neural_stagger_navier_stokes(cfg: &SuiteConfig) -> TaskResult {
    use crate::stagger::NeuralStagger;
    let (n, dt, n_train, n_test, epochs, width, modes) =
        cfg.pick((32, 2e-3, 60, 16, 20, 24, 8), (64, 1e-4, 1000, 100, 200, 32, 12));
    let (frames, frame_dt) = (9usize, 0.5);
    let pb = progress_bar(1, "Navier–Stokes trajectories", cfg.progress);
    let [(w0tr, resttr), (w0te, restte)] = train_test_pairs(
        cfg,
        &format!("navier_stokes_traj_{n}_{dt}_{frames}_{frame_dt}"),
        (n_train, n_test),
        |count, seed| navier_stokes_trajectories(count, n, 1e-3, dt, frames, frame_dt, seed),
    )?;
    pb.finish_and_clear();
    let dev = cfg.device;
    let traj_tr = Tensor::cat(&[w0tr, resttr], 1).to(dev); // [N, frames, n, n]
    let traj_te = Tensor::cat(&[w0te, restte], 1).to(dev);
    // Windows: τ frames in, the next τ frames out.
    let windows = |traj: &Tensor, tau: i64| -> (Tensor, Tensor) {
        let k = frames as i64 - 2 * tau + 1;
        let xs: Vec<Tensor> = (0..k).map(|s| traj.narrow(1, s, tau)).collect();
        let ys: Vec<Tensor> = (0..k).map(|s| traj.narrow(1, s + tau, tau)).collect();
        (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0))
    };
    // Every model starts from the known frames 0 and 1 and predicts frames 2..frames.
    let known = 2i64;
    let horizon = frames as i64 - known;
    let target = traj_te.narrow(1, known, horizon);
    let base = FnoConfig { modes: vec![modes, modes], width, ..Default::default() };
    let mut r = TaskReport::new();
    let mut lines = vec![
        "| model | sub-solvers | frames per call | calls per rollout | rollout relative L2 | rollout ms | speed-up (sequential) | speed-up (parallel sub-solvers) |".to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut fine_ms = 0.0;
    for (s, tau) in [(1i64, 1i64), (2, 1), (2, 2)] {
        core_tensor::seed::seed_torch(derive_seed(cfg.seed, 60 + 10 * s as u64 + tau as u64));
        let vs = nn::VarStore::new(dev);
        let b = FnoConfig { modes: vec![(modes).min(n as i64 / (2 * s)); 2], ..base.clone() };
        let model = NeuralStagger::with_frames(&vs.root(), &b, s, tau)?;
        let (xtr, ytr) = windows(&traj_tr, tau);
        train_operator(
            |x| model.forward(x),
            &vs,
            OptimizerConfig::adam(1e-3),
            &xtr,
            &ytr,
            epochs,
            epochs / 3 + 1,
            cfg,
        )?;
        let calls = (horizon + tau - 1) / tau;
        let start = traj_te.narrow(1, known - tau, tau);
        let pred = tch::no_grad(|| model.rollout(&start, calls as usize))?;
        let pred = Tensor::cat(&pred, 1).narrow(1, 0, horizon);
        let rel = tch::no_grad(|| -> crate::Result<f64> {
            Ok(relative_lp_loss(
                &pred.reshape([-1, 1, n as i64, n as i64]),
                &target.reshape([-1, 1, n as i64, n as i64]),
                2.0,
            )?
            .double_value(&[]))
        })?;
        let ms = median_ms(cfg.pick(5, 11), || {
            let _ = tch::no_grad(|| model.rollout(&start, calls as usize))?;
            Ok(())
        })?;
        let subs = s * s;
        let key = format!("s{s}_tau{tau}");
        r.metric(format!("{key}_rollout_relative_l2"), Metric::new(rel, "", Better::Lower))?;
        r.metric(format!("{key}_rollout_ms"), Metric::new(ms, "ms", Better::Lower))?;
        if s == 1 && tau == 1 {
            fine_ms = ms;
        } else {
            stagger_speedups(&mut r, &key, fine_ms, ms, subs, "fine FNO-2D, one frame per call")?;
        }
        lines.push(format!(
            "| {} | {subs} | {tau} | {calls} | {rel:.4} | {ms:.1} | {:.2} | {:.2} |",
            if s == 1 { "fine FNO-2D" } else { "NeuralStagger" },
            fine_ms / ms,
            fine_ms / (ms / subs as f64)
        ));
    }
    r.note(format!(
        "Forced Navier–Stokes (ν = 1e-3), {n}×{n}, frames every {frame_dt} time units; {n_train}/{n_test} trajectories of {frames} frames; every model starts from frames 0–1 and rolls out frames 2–{}; FNO width {width}, modes ≤ {modes} (≤ n/(2s) on the coarse grids), {epochs} epochs.\n\n{}",
        frames - 1,
        lines.join("\n")
    ));
    Ok(r)
}
