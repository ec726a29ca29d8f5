//! Learning a Fredholm integral operator with NIE and ANIE.

use super::*;

fn true_kernel(grid: &Tensor, y: &Tensor) -> crate::Result<Tensor> {
    let t = grid.size()[0];
    let diff = grid.view([1, t, 1, 1]) - grid.view([1, 1, t, 1]);
    Ok((diff * std::f64::consts::PI).cos() * 0.5 * y.tanh().unsqueeze(1))
}

fn forcings(n: usize, grid: &[f64], seed: u64) -> Tensor {
    use rand::Rng as _;
    let mut g = core_tensor::seed::rng(seed);
    let mut v = Vec::with_capacity(n * grid.len());
    for _ in 0..n {
        let (a, w, p, c) = (
            0.5 + g.gen::<f64>(),
            1.0 + g.gen_range(0..2) as f64,
            g.gen::<f64>() * std::f64::consts::TAU,
            g.gen::<f64>() - 0.5,
        );
        v.extend(grid.iter().map(|t| a * (std::f64::consts::TAU * w * t + p).sin() + c));
    }
    // cpu: generated on the host; the task moves it to its device
    Tensor::from_slice(&v).view([n as i64, grid.len() as i64, 1])
}

/// Learns the solution operator of a Fredholm equation with the known kernel
/// `K(t, s, y) = ½ cos(π(t − s)) tanh(y)` from (forcing, solution) pairs: NIE (MLP kernel, Picard
/// iterations) and ANIE (attention) against the identity baseline `y = f`.
pub const INTEGRAL_EQUATION_LEARNING: Task = Task::new(
    "integral_equation_learning",
    "learn a known Fredholm operator from (f, y) pairs: NIE and ANIE test relative L2 error vs the identity baseline",
    integral_equation_learning,
);

fn integral_equation_learning(cfg: &SuiteConfig) -> TaskResult {
    use crate::ie::{solve_ie, AttentionIe, IeKind, NeuralIe, PicardOptions};
    let dev = cfg.device;
    let grid: Vec<f64> = (0..16).map(|k| k as f64 / 15.0).collect();
    let make = |n: usize, seed: u64| -> Result<(Tensor, Tensor)> {
        let f = forcings(n, &grid, seed);
        let (y, _) = solve_ie(&grid, &f, &true_kernel, IeKind::Fredholm, PicardOptions::default())?;
        Ok((f.to_kind(Kind::Float).to(dev), y.to_kind(Kind::Float).to(dev)))
    };
    let (ftr, ytr) = make(cfg.pick(256, 2048), cfg.seed)?;
    let (fte, yte) = make(256, cfg.seed + 1)?;
    let rel = |pred: &Tensor, y: &Tensor| {
        ((pred - y).square().sum(Kind::Float) / y.square().sum(Kind::Float)).sqrt().double_value(&[])
    };
    let iters = cfg.pick(1000, 4000);
    let n_train = ftr.size()[0];
    let batch = 64;
    let mut g_rng = core_tensor::seed::rng(cfg.seed);
    let mut batches = move || -> Tensor {
        use rand::Rng as _;
        let idx: Vec<i64> = (0..batch).map(|_| g_rng.gen_range(0..n_train)).collect();
        Tensor::from_slice(&idx).to(dev)
    };
    let mut r = TaskReport::new();
    let identity = rel(&fte, &yte);
    r.metric("test_rel_l2_identity", Metric::new(identity, "", Better::Lower))?;
    let mut curves =
        Plot::new("training_loss", "Learning a Fredholm operator", "iteration", "training relative L2")
            .log(false, true);
    // NIE
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(dev);
    let nie = NeuralIe::new(&vs.root(), 1, &[32, 32])?;
    let picard = PicardOptions { max_iter: 6, fixed_iterations: true, ..Default::default() };
    let mut trainer =
        Trainer::builder().optimizer(OptimizerConfig::adam(3e-3)).progress(cfg.progress).build()?;
    let mut curve = Vec::new();
    trainer.run_steps(trainable_named(&vs), iters, |c| {
        let idx = batches();
        let (fb, yb) = (ftr.index_select(0, &idx), ytr.index_select(0, &idx));
        let (pred, _) = solve_ie(&grid, &fb, &nie, IeKind::Fredholm, picard)?;
        if c.step % 10 == 0 {
            curve.push((c.step as f64, rel(&pred.detach(), &yb)));
        }
        Ok(StepOutput::Loss((&pred - &yb).square().mean(Kind::Float)))
    })?;
    curves = curves.line("NIE", curve);
    let (pred, _) = tch::no_grad(|| solve_ie(&grid, &fte, &nie, IeKind::Fredholm, picard))?;
    let nie_err = rel(&pred, &yte);
    // learned kernel against the true one on the test solutions
    let g = Tensor::from_slice(&grid).to_kind(Kind::Float).to(dev);
    let (kl, kt) = tch::no_grad(|| -> crate::Result<(Tensor, Tensor)> {
        use crate::ie::IntegralKernel;
        Ok((nie.pairs(&g, &yte)?, true_kernel(&g, &yte)?))
    })?;
    r.metric(
        "test_rel_l2_nie",
        Metric::new(nie_err, "", Better::Lower).with_reference(identity, "identity baseline y = f"),
    )?;
    r.metric("kernel_rel_l2_nie", Metric::new(rel(&kl, &kt), "", Better::Lower))?;
    r.note("Only the integral of the kernel against y is observed, so the kernel itself is not identifiable: kernel_rel_l2_nie compares the learned and true kernels pointwise for information.");
    // ANIE
    core_tensor::seed::seed_torch(cfg.seed);
    let vs2 = nn::VarStore::new(dev);
    let anie = AttentionIe::new(&vs2.root(), 1, 32, 2, IeKind::Fredholm)?;
    let mut trainer =
        Trainer::builder().optimizer(OptimizerConfig::adam(3e-3)).progress(cfg.progress).build()?;
    let mut curve = Vec::new();
    trainer.run_steps(trainable_named(&vs2), iters, |c| {
        let idx = batches();
        let (fb, yb) = (ftr.index_select(0, &idx), ytr.index_select(0, &idx));
        let pred = anie.solve(&grid, &fb, 3)?;
        if c.step % 10 == 0 {
            curve.push((c.step as f64, rel(&pred.detach(), &yb)));
        }
        Ok(StepOutput::Loss((&pred - &yb).square().mean(Kind::Float)))
    })?;
    curves = curves.line("ANIE", curve);
    let pred = tch::no_grad(|| anie.solve(&grid, &fte, 3))?;
    r.metric(
        "test_rel_l2_anie",
        Metric::new(rel(&pred, &yte), "", Better::Lower).with_reference(identity, "identity baseline y = f"),
    )?;
    r.plot(curves);
    Ok(r)
}
