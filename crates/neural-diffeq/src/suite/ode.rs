//! Work-precision diagrams on the canonical problems and the NFE of the peer neural-ODE workload.

use super::*;

/// Error against NFE and against wall time for every adaptive method on the canonical problems.
pub const WORK_PRECISION: Task = Task::new(
    "work_precision",
    "error vs NFE and vs time (f64) for bosh3, dopri5, tsit5, dopri8 and kvaerno3/5 on the canonical problems",
    work_precision,
);

fn work_precision(cfg: &SuiteConfig) -> TaskResult {
    let all = problems::all()?;
    let tols: Vec<f64> = (3..=cfg.pick(10, 12)).map(|k| 10f64.powi(-k)).collect();
    let mut r = TaskReport::new();
    let pb = progress_bar(all.len() as u64, "work-precision", cfg.progress);
    for p in &all {
        let solvers: Vec<Box<dyn Solver<DVector<f64>>>> = if p.stiff {
            vec![Box::new(Esdirk::kvaerno3(1.0, 1.0)), Box::new(Esdirk::kvaerno5(1.0, 1.0))]
        } else {
            vec![
                Box::new(ExplicitRk::bosh3()),
                Box::new(ExplicitRk::dopri5()),
                Box::new(ExplicitRk::tsit5()),
                Box::new(ExplicitRk::dopri8()),
            ]
        };
        let mut by_nfe = Plot::new(
            format!("{}_nfe", p.name),
            format!("Work-precision: {}", p.name),
            "function evaluations",
            "error at t1",
        )
        .log(true, true);
        let mut by_time = Plot::new(
            format!("{}_time", p.name),
            format!("Work-precision: {} (time)", p.name),
            "wall time (s)",
            "error at t1",
        )
        .log(true, true);
        for s in &solvers {
            let (mut pts_n, mut pts_t) = (Vec::new(), Vec::new());
            for &tol in &tols {
                let (atol, tol_eff) = if p.name == "robertson" { (tol * 1e-4, tol) } else { (tol, tol) };
                let solver: Box<dyn Solver<DVector<f64>>> = if p.stiff {
                    let mut e = if s.name() == "kvaerno3" {
                        Esdirk::kvaerno3(tol_eff, atol)
                    } else {
                        Esdirk::kvaerno5(tol_eff, atol)
                    };
                    if let Some(j) = p.jacobian {
                        e = e.with_jacobian(Box::new(move |t, y| Ok(j(t, y))));
                    }
                    Box::new(e)
                } else {
                    Box::new(ExplicitRk::by_name(s.name())?)
                };
                let c = StepControl::Adaptive(PidController::new(tol_eff, atol).max_steps(2_000_000));
                let start = Instant::now();
                let reps = 3;
                let mut out = None;
                for _ in 0..reps {
                    out = Some(solve(&p.term(), solver.as_ref(), (p.t0, p.t1), &p.y0, &c, &SaveAt::t1())?);
                }
                let secs = start.elapsed().as_secs_f64() / reps as f64;
                let sol = out.expect("ran");
                let err = p.error(sol.last().expect("t1")).max(1e-16);
                pts_n.push((sol.stats.nfe as f64, err));
                pts_t.push((secs, err));
                if (tol - 1e-8).abs() < 1e-20 {
                    r.metric(
                        format!("{}_{}_nfe_at_tol_1e-8", p.name, s.name()),
                        Metric::new(sol.stats.nfe as f64, "", Better::Lower),
                    )?;
                    r.metric(
                        format!("{}_{}_error_over_tol_1e-8", p.name, s.name()),
                        Metric::new(err / tol, "", Better::Lower),
                    )?;
                    if p.name == "robertson" {
                        r.metric(
                            format!("robertson_{}_steps_at_tol_1e-8", s.name()),
                            Metric::new(sol.stats.steps as f64, "", Better::Lower).with_goal(300.0),
                        )?;
                    }
                }
            }
            by_nfe = by_nfe.line(s.name(), pts_n);
            by_time = by_time.line(s.name(), pts_t);
        }
        r.plot(by_nfe);
        r.plot(by_time);
        pb.inc(1);
    }
    pb.finish_and_clear();
    r.note("Errors are max-norm errors at t1 relative to max(1, |reference|); references are closed forms, the matrix exponential, periodicity (Arenstorf), Hairer & Wanner's Robertson values, or DOP853 at 1e-13.");
    Ok(r)
}

/// The neural-ODE workload that `benches/peers/{torchdiffeq,diffrax}.py` time: NFE of the forward
/// solve (checked against Dopri5's 2 + 6 · steps with FSAL) and the continuous adjoint's backward
/// NFE with and without the seminorm.
pub const NEURAL_ODE_PEER_WORKLOAD: Task = Task::new(
    "neural_ode_peer_workload",
    "MLP 2-64-64-2 tanh, batch 512, dopri5 1e-6: forward NFE and adjoint NFE with/without seminorm",
    neural_ode_peer_workload,
);

fn neural_ode_peer_workload(cfg: &SuiteConfig) -> TaskResult {
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(cfg.device);
    let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig::default())?;
    let x0 = Tensor::randn([512, 2], (Kind::Float, cfg.device));
    let c = StepControl::adaptive(1e-6, 1e-6);
    let sol = solve(&ode, &ExplicitRk::dopri5(), (0.0, 1.0), &x0, &c, &SaveAt::t1())?;
    let mut r = TaskReport::new();
    r.metric(
        "forward_nfe",
        Metric::new(sol.stats.nfe as f64, "", Better::Lower)
            .with_reference(2.0 + 6.0 * sol.stats.steps as f64, "Dopri5 with FSAL: 2 + 6 · attempted steps"),
    )?;
    r.metric("forward_steps", Metric::new(sol.stats.steps as f64, "", Better::Lower))?;
    let mut back = [0.0; 2];
    for (k, semi) in [false, true].into_iter().enumerate() {
        // a trained-looking regime: several random fields, averaged
        let mut total = 0.0;
        for s in 0..cfg.pick(5, 20) {
            core_tensor::seed::seed_torch(cfg.seed + s);
            let vs = nn::VarStore::new(cfg.device);
            let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig::default())?;
            let (_, _, _, b) = ode.backward(
                &vs,
                &x0,
                (0.0, 1.0),
                &ExplicitRk::dopri5(),
                &c,
                &Gradient::Adjoint { rtol: 1e-6, atol: 1e-6, seminorm: semi },
                |y| Ok(y.ones_like()),
            )?;
            total += b.nfe as f64;
        }
        back[k] = total / cfg.pick(5, 20) as f64;
    }
    r.metric("adjoint_backward_nfe", Metric::new(back[0], "", Better::Lower))?;
    r.metric("adjoint_backward_nfe_seminorm", Metric::new(back[1], "", Better::Lower))?;
    r.metric(
        "seminorm_nfe_reduction",
        Metric::new(100.0 * (1.0 - back[1] / back[0]), "%", Better::Higher)
            .with_reference(40.0, "Kidger et al. 2021, median"),
    )?;
    Ok(r)
}
