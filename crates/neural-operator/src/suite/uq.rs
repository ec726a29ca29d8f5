//! Uncertainty of an FNO on Burgers: MC dropout, a deep ensemble and HMC.

use super::*;

/// Predictive mean and standard deviation `[B, 1, N]` of one UQ method, with the scores.
fn uq_scores(mean: &Tensor, spread: &Tensor, noise_var: f64, y: &Tensor) -> crate::Result<[f64; 5]> {
    let std = (spread.square() + noise_var).sqrt();
    let rmse = (mean - y).square().mean(Kind::Double).sqrt().double_value(&[]);
    let rel = relative_lp_loss(mean, y, 2.0)?.double_value(&[]);
    Ok([
        rmse,
        rel,
        crate::uq::gaussian_nll(mean, &std, y)?,
        crate::uq::gaussian_crps(mean, &std, y)?,
        crate::uq::coverage(mean, &std, y, 0.9)?,
    ])
}

/// Uncertainty quantification for FNO on Burgers: MC dropout, a deep ensemble and HMC over the
/// weights, scored side by side (RMSE, relative L2, Gaussian NLL, CRPS, 90 % coverage).
pub const FNO_BURGERS_UQ: Task = Task::new(
    "fno_burgers_uq",
    "FNO on Burgers with MC dropout, a deep ensemble and HMC over the weights: RMSE, NLL, CRPS and 90 % coverage on the test set",
    fno_burgers_uq,
).full_only();

fn fno_burgers_uq(cfg: &SuiteConfig) -> TaskResult {
    let (n, fine, n_train, n_test, epochs, members, passes) =
        cfg.pick((256, 256, 200, 50, 60, 3, 30), (1024, 8192, 1000, 100, 300, 5, 100));
    let [(xtr, ytr), (xte, yte)] = burgers_train_test(cfg, n, fine, (n_train, n_test))?;
    let dev = cfg.device;
    let (xtr, ytr, xte, yte) = (xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev));
    let fno_cfg = FnoConfig { width: 32, ..FnoConfig::default() };
    // every model predicts normalised targets (see `FNO_BURGERS`)
    let yn = UnitGaussianNormalizer::fit_per_channel(&ytr)?;
    let forward = |fno: &Fno, x: &Tensor, p: f64| -> crate::Result<Tensor> {
        Ok(yn.decode(&fno.forward_dropout(x, None, p)?))
    };
    let train_member = |seed: u64, dropout: f64| -> Result<(nn::VarStore, Fno)> {
        core_tensor::seed::seed_torch(seed);
        let vs = nn::VarStore::new(dev);
        let fno = Fno::new(&vs.root(), fno_cfg.clone())?;
        let f = |x: &Tensor| forward(&fno, x, dropout);
        train_operator(f, &vs, OptimizerConfig::adam(1e-3), &xtr, &ytr, epochs, epochs / 3 + 1, cfg)?;
        Ok((vs, fno))
    };
    let predict = |fno: &Fno, x: &Tensor, p: f64| tch::no_grad(|| forward(fno, x, p));
    let residual_var =
        |mean_train: &Tensor| (mean_train - &ytr).square().mean(Kind::Double).double_value(&[]);
    let mut rows: Vec<(&str, [f64; 5])> = Vec::new();

    // Deep ensemble: independently initialised members; spread = ensemble standard deviation.
    let mut members_out = Vec::new();
    for m in 0..members {
        members_out.push(train_member(derive_seed(cfg.seed, 10 + m as u64), 0.0)?);
    }
    let ens_test: Vec<Tensor> =
        members_out.iter().map(|(_, f)| predict(f, &xte, 0.0)).collect::<crate::Result<_>>()?;
    let ens_train: Vec<Tensor> =
        members_out.iter().map(|(_, f)| predict(f, &xtr, 0.0)).collect::<crate::Result<_>>()?;
    let (m_te, s_te) = crate::uq::ensemble_moments(&ens_test)?;
    let (m_tr, _) = crate::uq::ensemble_moments(&ens_train)?;
    rows.push(("deep_ensemble", uq_scores(&m_te, &s_te, residual_var(&m_tr), &yte)?));

    // MC dropout: one model trained with dropout 0.1, `passes` stochastic passes.
    let (_, drop_fno) = train_member(derive_seed(cfg.seed, 20), 0.1)?;
    let mc = |x: &Tensor| -> Result<(Tensor, Tensor)> {
        let preds: Vec<Tensor> =
            (0..passes).map(|_| predict(&drop_fno, x, 0.1)).collect::<crate::Result<_>>()?;
        Ok(crate::uq::ensemble_moments(&preds)?)
    };
    let (d_te, ds_te) = mc(&xte)?;
    let (d_tr, _) = mc(&xtr)?;
    rows.push(("mc_dropout", uq_scores(&d_te, &ds_te, residual_var(&d_tr), &yte)?));

    // HMC over all weights of ensemble member 1, started at its trained weights: Gaussian
    // likelihood with the member's training residual variance, N(0, 1) prior.
    let (vs0, fno0) = &members_out[0];
    let sigma2 = residual_var(&ens_train[0]).max(1e-12);
    let params = vs0.trainable_variables();
    let log_prob = || -> crate::Result<Tensor> {
        let pred = forward(fno0, &xtr, 0.0)?;
        let ll = (pred - &ytr).square().sum(Kind::Float) / (-2.0 * sigma2);
        let prior = params
            .iter()
            .map(|p| p.square().sum(Kind::Float))
            .fold(Tensor::from(0.0f32).to(dev), |a, b| a + b)
            / -2.0;
        Ok(ll + prior)
    };
    let hcfg = crate::hmc::HmcConfig {
        step_size: 1e-4,
        leapfrog: cfg.pick(5, 10),
        burn_in: cfg.pick(20, 200),
        samples: cfg.pick(10, 50),
        thin: 2,
        seed: derive_seed(cfg.seed, 30),
        target_accept: Some(0.65),
    };
    let pb = progress_bar(1, "HMC over FNO weights", cfg.progress);
    let res = crate::hmc::hmc(&params, log_prob, &hcfg)?;
    pb.finish_and_clear();
    let mut h_te = Vec::new();
    let mut h_tr = Vec::new();
    for s in &res.samples {
        tch::no_grad(|| {
            for (p, v) in params.iter().zip(s) {
                p.shallow_clone().copy_(v);
            }
        });
        h_te.push(predict(fno0, &xte, 0.0)?);
        h_tr.push(predict(fno0, &xtr, 0.0)?);
    }
    let (h_mte, h_ste) = crate::uq::ensemble_moments(&h_te)?;
    let (h_mtr, _) = crate::uq::ensemble_moments(&h_tr)?;
    rows.push(("hmc", uq_scores(&h_mte, &h_ste, residual_var(&h_mtr), &yte)?));

    let mut r = TaskReport::new();
    let mut table = vec![
        "| method | RMSE | relative L2 | NLL | CRPS | 90 % coverage |".to_string(),
        "|---|---|---|---|---|---|".to_string(),
    ];
    for (name, [rmse, rel, nll, crps, cov]) in &rows {
        r.metric(format!("{name}_rmse"), Metric::new(*rmse, "", Better::Lower))?;
        r.metric(format!("{name}_relative_l2"), Metric::new(*rel, "", Better::Lower))?;
        r.metric(format!("{name}_nll"), Metric::new(*nll, "nats", Better::Lower))?;
        r.metric(format!("{name}_crps"), Metric::new(*crps, "", Better::Lower))?;
        r.metric(
            format!("{name}_coverage90"),
            Metric::new(*cov, "", Better::Higher).with_reference(0.9, "nominal"),
        )?;
        table.push(format!("| {name} | {rmse:.3e} | {rel:.4} | {nll:.3} | {crps:.3e} | {cov:.3} |"));
    }
    r.metric("hmc_acceptance", Metric::new(res.acceptance, "", Better::Higher))?;
    r.note(table.join("\n"));
    r.note(format!(
        "{n} points, {n_train}/{n_test} samples, FNO width 32, {epochs} epochs per model; ensemble of {members}; MC dropout p = 0.1 × {passes} passes; HMC over all weights from ensemble member 1: {} samples (ε after burn-in {:.2e}, {} leapfrog steps, acceptance {:.2}); predictive σ² = method spread² + training residual variance",
        res.samples.len(),
        res.step_size,
        hcfg.leapfrog,
        res.acceptance
    ));
    Ok(r)
}
