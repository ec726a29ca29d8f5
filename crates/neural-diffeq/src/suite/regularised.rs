//! Regularised neural-ODE training (ERNODE, SRNODE): Van der Pol regression and nested-rings classification.

use super::*;

fn vdp_flow(x0: &[[f64; 2]], horizon: f64) -> crate::Result<Vec<[f64; 2]>> {
    let p = problems::van_der_pol();
    let c = StepControl::adaptive(1e-10, 1e-10);
    x0.iter()
        .map(|x| {
            let s = solve(
                &p.term(),
                &ExplicitRk::dopri8(),
                (0.0, horizon),
                &DVector::from_row_slice(x),
                &c,
                &SaveAt::t1(),
            )?;
            let y = s.ys.last().expect("t1");
            Ok([y[0], y[1]])
        })
        .collect()
}

/// Fits the time-2 flow map of Van der Pol (μ = 1) with a neural ODE, with and without the ERNODE
/// regulariser, and compares the test error and the NFE an adaptive solver needs at prediction.
pub const REGULARISED_TRAINING: Task = Task::new(
    "regularised_training",
    "neural ODE fitting Van der Pol's time-2 map: plain vs ERNODE (Pal et al. 2021), test MSE and prediction NFE",
    regularised_training,
).full_only();

fn regularised_training(cfg: &SuiteConfig) -> TaskResult {
    let dev = cfg.device;
    let mut g = core_tensor::seed::rng(cfg.seed);
    use rand::Rng as _;
    let sample = |n: usize, g: &mut core_tensor::seed::Rng| -> Vec<[f64; 2]> {
        (0..n).map(|_| [g.gen::<f64>() * 4.0 - 2.0, g.gen::<f64>() * 4.0 - 2.0]).collect()
    };
    let (xtr, xte) = (sample(256, &mut g), sample(256, &mut g));
    let horizon = 2.0;
    let (ytr, yte) = (vdp_flow(&xtr, horizon)?, vdp_flow(&xte, horizon)?);
    let to_t = |v: &[[f64; 2]]| {
        Tensor::from_slice(&v.iter().flatten().copied().collect::<Vec<f64>>())
            .view([-1, 2])
            .to_kind(Kind::Float)
            .to(dev)
    };
    let (xtr, ytr, xte, yte) = (to_t(&xtr), to_t(&ytr), to_t(&xte), to_t(&yte));
    let iters = cfg.pick(600, 3000);
    let train_c = StepControl::adaptive(1e-4, 1e-4);
    let pred_c = StepControl::adaptive(1e-6, 1e-6);
    let mut r = TaskReport::new();
    let mut curves =
        Plot::new("training_loss", "Neural ODE on Van der Pol's flow map", "iteration", "training MSE")
            .log(false, true);
    let mut nfes = Vec::new();
    let mut mses = Vec::new();
    for (li, lambda) in [0.0, 10.0, 30.0].into_iter().enumerate() {
        let label = if li == 0 { "plain".to_string() } else { format!("ernode_lambda{lambda}") };
        core_tensor::seed::seed_torch(cfg.seed);
        let vs = nn::VarStore::new(dev);
        let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig { hidden: vec![64, 64], ..Default::default() })?;
        let mut trainer = Trainer::builder()
            .optimizer(OptimizerConfig::adam(1e-2))
            .schedule(LrSchedule::Piecewise { boundaries: vec![iters / 2], rates: vec![1e-2, 3e-3] })
            .progress(cfg.progress)
            .build()?;
        let mut curve = Vec::new();
        let start = Instant::now();
        trainer.run_steps(trainable_named(&vs), iters, |c| {
            let save = if lambda > 0.0 { SaveAt::t1().with_steps() } else { SaveAt::t1() };
            let sol = solve(&ode, &ExplicitRk::dopri5(), (0.0, horizon), &xtr, &train_c, &save)?;
            let mse = (sol.ys.last().expect("t1") - &ytr).square().mean(Kind::Float);
            if c.step % 10 == 0 {
                curve.push((c.step as f64, mse.double_value(&[])));
            }
            let loss = if lambda > 0.0 { &mse + error_regulariser(&sol)? * lambda } else { mse };
            Ok(StepOutput::Loss(loss))
        })?;
        let train_s = start.elapsed().as_secs_f64();
        let pred =
            tch::no_grad(|| solve(&ode, &ExplicitRk::dopri5(), (0.0, horizon), &xte, &pred_c, &SaveAt::t1()));
        let pred = pred?;
        let test_mse = (pred.ys.last().expect("t1") - &yte).square().mean(Kind::Float).double_value(&[]);
        r.metric(format!("{label}_test_mse"), Metric::new(test_mse, "", Better::Lower))?;
        r.metric(format!("{label}_prediction_nfe"), Metric::new(pred.stats.nfe as f64, "", Better::Lower))?;
        r.metric(format!("{label}_train_seconds"), Metric::new(train_s, "s", Better::Lower))?;
        nfes.push(pred.stats.nfe as f64);
        mses.push(test_mse);
        if li > 0 {
            r.metric(
                format!("nfe_ratio_plain_over_{label}"),
                Metric::new(nfes[0] / nfes[li], "", Better::Higher)
                    .with_reference(2.0, "Pal et al. 2021: prediction time about halved"),
            )?;
            r.metric(
                format!("test_mse_ratio_{label}_over_plain"),
                Metric::new(test_mse / mses[0], "", Better::Lower).with_reference(1.0, "same loss"),
            )?;
        }
        curves = curves.line(label, curve);
    }
    r.plot(curves);
    Ok(r)
}

/// Points of two concentric classes in the plane (the 2-D "nested spheres" of Dupont et al. 2019):
/// class 0 uniform in radius on `r < 0.5`, class 1 on `1 < r < 1.5`, alternating; `([n, 2], [n])`.
fn nested_rings(n: usize, g: &mut core_tensor::seed::Rng, dev: tch::Device) -> (Tensor, Tensor) {
    use rand::Rng as _;
    let mut xs = Vec::with_capacity(2 * n);
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as i64;
        let r = 0.5 * g.gen::<f64>() + if class == 0 { 0.0 } else { 1.0 };
        let th = g.gen::<f64>() * std::f64::consts::TAU;
        xs.extend_from_slice(&[r * th.cos(), r * th.sin()]);
        ys.push(class);
    }
    (Tensor::from_slice(&xs).view([-1, 2]).to_kind(Kind::Float).to(dev), Tensor::from_slice(&ys).to(dev))
}

/// Classification of the nested rings by an augmented neural ODE (one extra dimension, linear
/// read-out, cross-entropy), trained plain, with ERNODE and with SRNODE (Pal et al. 2021). Where
/// many vector fields separate the classes equally well, the regularisers pick one an adaptive
/// solver integrates in far fewer steps: the task reports the prediction NFE (rtol = atol = 1e-6)
/// at the final test loss and, at matched loss, the plain model's NFE at the first check
/// (every 25 iterations) where its test loss was already as low as the regularised model's.
pub const REGULARISED_CLASSIFICATION: Task = Task::new(
    "regularised_classification",
    "augmented neural ODE classifying nested rings: plain vs ERNODE vs SRNODE, test loss, accuracy and prediction NFE",
    regularised_classification,
);

fn regularised_classification(cfg: &SuiteConfig) -> TaskResult {
    use tch::nn::Module as _;
    let dev = cfg.device;
    let mut g = core_tensor::seed::rng(cfg.seed);
    let (xtr, ytr) = nested_rings(512, &mut g, dev);
    let (xte, yte) = nested_rings(1024, &mut g, dev);
    let iters = cfg.pick(600, 2000);
    let (train_c, pred_c) = (StepControl::adaptive(1e-4, 1e-4), StepControl::adaptive(1e-6, 1e-6));
    let solver = ExplicitRk::dopri5();
    let mut r = TaskReport::new();
    let mut nfe_plot = Plot::new(
        "prediction_nfe",
        "Nested rings: prediction NFE during training",
        "iteration",
        "NFE (rtol = atol = 1e-6)",
    );
    let mut loss_plot =
        Plot::new("test_loss", "Nested rings: test cross-entropy", "iteration", "cross-entropy")
            .log(false, true);
    // (label, regulariser, weight λ)
    type Regulariser = fn(&crate::solve::Solution<Tensor>) -> crate::Result<Tensor>;
    let variants: [(&str, Option<(Regulariser, f64)>); 3] = [
        ("plain", None),
        ("ernode", Some((error_regulariser, 1000.0))),
        ("srnode", Some((stiffness_regulariser, 0.1))),
    ];
    // per variant: checks of (iteration, test loss, prediction NFE)
    let mut history: Vec<Vec<(f64, f64, f64)>> = Vec::new();
    for (label, regulariser) in variants {
        core_tensor::seed::seed_torch(cfg.seed);
        let vs = nn::VarStore::new(dev);
        let ode = NeuralOde::new(
            &vs.root().sub("ode"),
            NeuralOdeConfig { hidden: vec![32, 32], augment: 1, ..Default::default() },
        )?;
        let head = nn::linear(vs.root().sub("head"), 3, 2, Default::default());
        let (x0_tr, x0_te) = (ode.augment(&xtr)?, ode.augment(&xte)?);
        let save = if regulariser.is_some() { SaveAt::t1().with_steps() } else { SaveAt::t1() };
        let evaluate = || -> Result<(f64, f64, f64)> {
            tch::no_grad(|| {
                let s = solve(&ode, &solver, (0.0, 1.0), &x0_te, &pred_c, &SaveAt::t1())?;
                let logits = head.forward(s.ys.last().expect("t1"));
                let loss = logits.cross_entropy_for_logits(&yte).double_value(&[]);
                let acc = logits.argmax(1, false).eq_tensor(&yte).to_kind(Kind::Float).mean(Kind::Float);
                Ok((loss, acc.double_value(&[]), s.stats.nfe as f64))
            })
        };
        let mut trainer =
            Trainer::builder().optimizer(OptimizerConfig::adam(1e-2)).progress(cfg.progress).build()?;
        let mut checks = Vec::new();
        let start = Instant::now();
        trainer.run_steps(trainable_named(&vs), iters, |c| {
            // the test loss before every 25th step (under no_grad: the gradients stay untouched)
            if c.step % 25 == 0 {
                let (loss, _, nfe) = evaluate()?;
                checks.push((c.step as f64, loss, nfe));
            }
            let sol = solve(&ode, &solver, (0.0, 1.0), &x0_tr, &train_c, &save)?;
            let ce = head.forward(sol.ys.last().expect("t1")).cross_entropy_for_logits(&ytr);
            Ok(StepOutput::Loss(match regulariser {
                Some((reg, lambda)) => &ce + reg(&sol)? * lambda,
                None => ce,
            }))
        })?;
        let train_s = start.elapsed().as_secs_f64();
        let (loss, acc, nfe) = evaluate()?;
        checks.push((iters as f64, loss, nfe));
        r.metric(format!("{label}_test_cross_entropy"), Metric::new(loss, "nats", Better::Lower))?;
        r.metric(format!("{label}_test_accuracy"), Metric::new(100.0 * acc, "%", Better::Higher))?;
        r.metric(format!("{label}_prediction_nfe"), Metric::new(nfe, "", Better::Lower))?;
        r.metric(format!("{label}_train_seconds"), Metric::new(train_s, "s", Better::Lower))?;
        if regulariser.is_some() {
            let plain = &history[0];
            r.metric(
                format!("nfe_ratio_plain_over_{label}"),
                Metric::new(plain.last().expect("checks").2 / nfe, "", Better::Higher)
                    .with_reference(2.0, "Pal et al. 2021: prediction time about halved"),
            )?;
            // the plain model's NFE once its test loss first matched the regularised one's
            if let Some(m) = plain.iter().find(|c| c.1 <= loss) {
                r.metric(
                    format!("nfe_ratio_at_matched_loss_{label}"),
                    Metric::new(m.2 / nfe, "", Better::Higher).with_reference(
                        2.0,
                        "plain NFE at the first check with test loss ≤ the regularised model's",
                    ),
                )?;
            }
        }
        nfe_plot = nfe_plot.line(label, checks.iter().map(|c| (c.0, c.2)).collect());
        loss_plot = loss_plot.line(label, checks.iter().map(|c| (c.0, c.1)).collect());
        history.push(checks);
    }
    r.plot(nfe_plot);
    r.plot(loss_plot);
    Ok(r)
}
