//! The gradient strategies side by side: agreement with finite differences and with backprop,
//! backward work, and the states held as the number of steps grows.

use super::*;
use crate::adjoint::solve_backward_at;

/// Every gradient strategy on a loss over ten save times: explicit (RK4, constant steps) and
/// implicit (Kvaerno5, stiff; the interpolating adjoint with adaptive steps) ODEs against central
/// differences, dopri5 against backprop, the SDE
/// adjoint against backprop through Heun, and the states the discrete strategies hold as the
/// number of steps grows.
pub const GRADIENT_STRATEGIES: Task = Task::new(
    "gradient_strategies",
    "backprop, recompute, binomial checkpointing and the adjoint: gradient errors, backward work, states held",
    gradient_strategies,
);

fn strategy_name(g: &Gradient) -> String {
    match g {
        Gradient::Backprop => "backprop".into(),
        Gradient::Recompute => "recompute".into(),
        Gradient::Checkpointed { checkpoints } => format!("checkpointed_{checkpoints}"),
        Gradient::Adjoint { .. } => "adjoint".into(),
    }
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[]).max(1e-300)
}

fn gradient_strategies(cfg: &SuiteConfig) -> TaskResult {
    let mut r = TaskReport::new();
    let dev = cfg.device;
    let ts: Vec<f64> = (1..=10).map(|k| k as f64 / 10.0).collect();
    let cot = |ys: &[Tensor]| Ok(ys.iter().map(Tensor::shallow_clone).collect());
    // 1. explicit neural ODE, RK4 with constant steps: central differences in one weight
    core_tensor::seed::seed_torch(cfg.seed);
    let mut vs = nn::VarStore::new(dev);
    let ode = NeuralOde::new(
        &vs.root(),
        NeuralOdeConfig { dim: 2, hidden: vec![16], time_input: true, augment: 0, ..Default::default() },
    )?;
    vs.double();
    let params: Vec<Tensor> = trainable_named(&vs).into_iter().map(|(_, t)| t).collect();
    let wi = params.iter().position(|p| p.dim() == 2).expect("a weight matrix");
    let x0 = Tensor::randn([8, 2], (Kind::Double, dev));
    let rk4 = ExplicitRk::rk4();
    let constant = StepControl::Constant { dt: 0.025 };
    let loss = |x0: &Tensor| -> Result<f64> {
        let sol = tch::no_grad(|| {
            solve(&ode, &rk4, (0.0, 1.0), x0, &constant, &SaveAt { ts: ts.clone(), ..Default::default() })
        })?;
        Ok(sol.ys.iter().map(|y| 0.5 * y.square().sum(Kind::Double).double_value(&[])).sum())
    };
    let eps = 1e-5;
    let w = params[wi].shallow_clone();
    tch::no_grad(|| w.get(0).get(0).f_add_scalar_(eps).map(|_| ()))?;
    let up = loss(&x0)?;
    tch::no_grad(|| w.get(0).get(0).f_add_scalar_(-2.0 * eps).map(|_| ()))?;
    let down = loss(&x0)?;
    tch::no_grad(|| w.get(0).get(0).f_add_scalar_(eps).map(|_| ()))?;
    let fd = (up - down) / (2.0 * eps);
    let strategies = [
        Gradient::Backprop,
        Gradient::Recompute,
        Gradient::Checkpointed { checkpoints: 3 },
        Gradient::Adjoint { rtol: 1e-12, atol: 1e-12, seminorm: false },
    ];
    for g in &strategies {
        core_tensor::train::zero_grads(&params);
        let (_, _, _, back) =
            solve_backward_at(&ode, &params, &rk4, (0.0, 1.0), &x0, &constant, g, &ts, cot)?;
        let got = params[wi].grad().double_value(&[0, 0]);
        let name = strategy_name(g);
        r.metric(
            format!("explicit_{name}_rel_error_vs_fd"),
            Metric::new((got - fd).abs() / fd.abs(), "", Better::Lower)
                .with_reference(1e-5, "issue goal: 1e-5 relative"),
        )?;
        r.metric(
            format!("explicit_{name}_backward_evaluations"),
            Metric::new(back.steps as f64, "", Better::Lower),
        )?;
    }
    // dopri5 at 1e-10: every strategy against backprop
    let adaptive = StepControl::adaptive(1e-10, 1e-10);
    let dopri5 = ExplicitRk::dopri5();
    let mut reference: Option<Vec<Tensor>> = None;
    for g in &strategies {
        core_tensor::train::zero_grads(&params);
        let (_, _, _, back) =
            solve_backward_at(&ode, &params, &dopri5, (0.0, 1.0), &x0, &adaptive, g, &ts, cot)?;
        let grads: Vec<Tensor> = params.iter().map(|p| p.grad().copy()).collect();
        if let Some(refs) = &reference {
            let e = grads.iter().zip(refs).map(|(a, b)| rel(a, b)).fold(0.0, f64::max);
            r.metric(
                format!("dopri5_{}_rel_diff_vs_backprop", strategy_name(g)),
                Metric::new(e, "", Better::Lower),
            )?;
        } else {
            reference = Some(grads);
        }
        r.metric(
            format!("dopri5_{}_backward_nfe", strategy_name(g)),
            Metric::new(back.nfe as f64, "", Better::Lower),
        )?;
    }
    // 2. implicit: Kvaerno5 on dy/dt = −k (y − cos(w t)) − y³, k = 1000, through Newton
    let stiff = |k: Tensor, w: Tensor| {
        move |t: f64, y: &Tensor| -> crate::Result<Tensor> { Ok(-(&k * (y - (&w * t).cos())) - y * y * y) }
    };
    let y0 = Tensor::from_slice(&[0.5f64, 1.5]).view([2, 1]).to(dev);
    let kv5 = Esdirk::<Tensor>::kvaerno5(1e-10, 1e-10);
    let control = StepControl::Constant { dt: 0.02 };
    let stiff_loss = |w: f64, control: &StepControl| -> Result<f64> {
        let term = stiff(Tensor::from_slice(&[1000.0f64]).to(dev), Tensor::from_slice(&[w]).to(dev));
        let saveat = SaveAt { ts: ts.clone(), ..Default::default() };
        let sol = tch::no_grad(|| solve(&term, &kv5, (0.0, 1.0), &y0, control, &saveat))?;
        Ok(sol.ys.iter().map(|y| 0.5 * y.square().sum(Kind::Double).double_value(&[])).sum())
    };
    // dL/dw by a strategy, and its backward steps
    let stiff_grad_w = |control: &StepControl, g: &Gradient| -> Result<(f64, usize)> {
        let k = Tensor::from_slice(&[1000.0f64]).to(dev).set_requires_grad(true);
        let w = Tensor::from_slice(&[2.0f64]).to(dev).set_requires_grad(true);
        let term = stiff(k.shallow_clone(), w.shallow_clone());
        let (_, _, _, back) =
            solve_backward_at(&term, &[k, w.shallow_clone()], &kv5, (0.0, 1.0), &y0, control, g, &ts, cot)?;
        Ok((w.grad().double_value(&[0]), back.steps))
    };
    let fd_w = (stiff_loss(2.0 + 1e-6, &control)? - stiff_loss(2.0 - 1e-6, &control)?) / 2e-6;
    for g in &strategies[..3] {
        let (got, _) = stiff_grad_w(&control, g)?;
        r.metric(
            format!("implicit_kvaerno5_{}_rel_error_vs_fd", strategy_name(g)),
            Metric::new((got - fd_w).abs() / fd_w.abs(), "", Better::Lower)
                .with_reference(1e-5, "issue goal: 1e-5 relative"),
        )?;
    }
    // the continuous (interpolating) adjoint needs adaptive steps: against central differences
    // of the adaptive solve at 1e-10
    let adaptive = StepControl::adaptive(1e-10, 1e-10);
    let fd_w = (stiff_loss(2.0 + 1e-4, &adaptive)? - stiff_loss(2.0 - 1e-4, &adaptive)?) / 2e-4;
    {
        let adjoint = Gradient::Adjoint { rtol: 1e-10, atol: 1e-10, seminorm: true };
        let (got, back_steps) = stiff_grad_w(&adaptive, &adjoint)?;
        r.metric(
            "implicit_kvaerno5_adjoint_rel_error_vs_fd",
            Metric::new((got - fd_w).abs() / fd_w.abs(), "", Better::Lower)
                .with_reference(1e-5, "issue goal: 1e-5 relative"),
        )?;
        r.metric(
            "implicit_kvaerno5_adjoint_backward_steps",
            Metric::new(back_steps as f64, "", Better::Lower),
        )?;
    }
    // 3. SDE: the stochastic adjoint over 16 grid points against backprop through Heun
    {
        use crate::models::NeuralSde;
        use crate::sde::{sdeint_on_grid, stochastic_adjoint_at, BrownianPath, Heun};
        core_tensor::seed::seed_torch(cfg.seed + 1);
        let mut vs = nn::VarStore::new(dev);
        let sde = NeuralSde::new(&vs.root(), 2, &[8])?;
        vs.double();
        let params: Vec<Tensor> = trainable_named(&vs).into_iter().map(|(_, t)| t).collect();
        let y0 = Tensor::randn([4, 2], (Kind::Double, dev));
        let path = BrownianPath::new(0.0, 1.0 / 1024.0, 1024, &[4, 2], cfg.seed, Kind::Double, dev)?;
        let saves: Vec<usize> = (1..=16).map(|q| q * 64).collect();
        let y0r = y0.detach().set_requires_grad(true);
        let every = sdeint_on_grid(&sde, &Heun, &y0r, &path, &SaveAt::every_step())?.ys;
        let total = saves
            .iter()
            .map(|&s| (&every[s] * &every[s]).sum(Kind::Double) * 0.5)
            .reduce(|a, b| a + b)
            .expect("16 save points");
        let mut inputs: Vec<&Tensor> = vec![&y0r];
        inputs.extend(params.iter());
        let g = Tensor::f_run_backward(&[total], &inputs, false, false)?;
        core_tensor::train::zero_grads(&params);
        let (_, gy0) = stochastic_adjoint_at(&sde, &params, &y0, &path, &saves, cot)?;
        let mut e = rel(&gy0, &g[0]);
        for (p, gb) in params.iter().zip(&g[1..]) {
            e = e.max(rel(&p.grad(), gb));
        }
        r.metric("sde_adjoint_rel_error_vs_backprop_h1024", Metric::new(e, "", Better::Lower))?;
        // the discrete strategies on the same path: exact gradients of the Heun solve
        for strategy in [Gradient::Recompute, Gradient::Checkpointed { checkpoints: 32 }] {
            core_tensor::train::zero_grads(&params);
            let (_, gy0, back) =
                crate::sde::sde_solve_backward_at(&sde, &params, &Heun, &y0, &path, &saves, &strategy, cot)?;
            let mut e = rel(&gy0, &g[0]);
            for (p, gb) in params.iter().zip(&g[1..]) {
                e = e.max(rel(&p.grad(), gb));
            }
            let name = strategy_name(&strategy);
            r.metric(format!("sde_{name}_rel_diff_vs_backprop"), Metric::new(e, "", Better::Lower))?;
            r.metric(
                format!("sde_{name}_backward_steps"),
                Metric::new(back.steps as f64, "", Better::Lower),
            )?;
        }
    }
    // 4. memory against the number of steps. Counted: the states the discrete strategies hold
    // (the recompute sweep keeps every step's start, the checkpointed executor at most its stack;
    // a state of 256 × 16 f64 is 32 KiB). Measured: the peak heap above the start of each
    // strategy's whole solve_backward_at (glibc's counters, libtorch on one thread), the autograd
    // graph of backprop included.
    let state_kib = 256.0 * 16.0 * 8.0 / 1024.0;
    let steps: Vec<usize> = cfg.pick(vec![64, 256, 1024, 4096], vec![64, 256, 1024, 4096, 16384, 65536]);
    let mut rec = Vec::new();
    let mut chk = Vec::new();
    for &n in &steps {
        let c = (n as f64).sqrt().ceil() as usize;
        let (recomputed, peak) = crate::checkpoint::cost(&crate::checkpoint::schedule(n, c));
        rec.push((n as f64, (n + 1) as f64 * state_kib));
        chk.push((n as f64, peak as f64 * state_kib));
        r.metric(
            format!("recompute_{n}_steps_state_kib"),
            Metric::new((n + 1) as f64 * state_kib, "KiB", Better::Lower),
        )?;
        r.metric(
            format!("checkpointed_sqrt_n_{n}_steps_state_kib"),
            Metric::new(peak as f64 * state_kib, "KiB", Better::Lower),
        )?;
        r.metric(
            format!("checkpointed_sqrt_n_{n}_steps_recomputed_per_step"),
            Metric::new(recomputed as f64 / n as f64, "", Better::Lower),
        )?;
    }
    r.plot(
        Plot::new(
            "gradient_memory",
            "States held by the discrete strategies (state 256 × 16 f64)",
            "steps",
            "KiB held",
        )
        .log(true, true)
        .line("recompute", rec)
        .line("checkpointed, c = ⌈√n⌉", chk),
    );
    // measured peaks: neural ODE 16-64-16 (tanh) on 256 × 16 f64, RK4, loss at t1.
    // cpu: whatever `cfg.device`, since the glibc counters PeakHeap reads see host allocations only
    let host = tch::Device::Cpu;
    core_tensor::seed::seed_torch(cfg.seed + 2);
    let mut vs = nn::VarStore::new(host);
    let big =
        NeuralOde::new(&vs.root(), NeuralOdeConfig { dim: 16, hidden: vec![64], ..Default::default() })?;
    vs.double();
    let big_params: Vec<Tensor> = trainable_named(&vs).into_iter().map(|(_, t)| t).collect();
    let x0 = Tensor::randn([256, 16], (Kind::Double, host));
    let measured_steps: Vec<usize> = cfg.pick(vec![16, 64, 256, 1024], vec![16, 64, 256, 1024, 4096]);
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for &n in &measured_steps {
        let c = (n as f64).sqrt().ceil() as usize;
        let dt = StepControl::Constant { dt: 1.0 / n as f64 };
        let measured = [
            Gradient::Backprop,
            Gradient::Recompute,
            Gradient::Checkpointed { checkpoints: c },
            Gradient::Adjoint { rtol: 1e-6, atol: 1e-6, seminorm: true },
        ];
        for (i, g) in measured.iter().enumerate() {
            core_tensor::train::zero_grads(&big_params);
            let Some(watch) = core_tensor::memory::PeakHeap::start() else { break };
            let out = solve_backward_at(&big, &big_params, &rk4, (0.0, 1.0), &x0, &dt, g, &[1.0], cot);
            let bytes = watch.finish();
            let _ = out?;
            let name = match g {
                Gradient::Checkpointed { .. } => "checkpointed_sqrt_n".to_string(),
                _ => strategy_name(g),
            };
            let kib = bytes as f64 / 1024.0;
            r.metric(format!("peak_heap_{name}_{n}_steps_kib"), Metric::new(kib, "KiB", Better::Lower))?;
            if lines.len() <= i {
                lines.push((name, Vec::new()));
            }
            lines[i].1.push((n as f64, kib));
        }
    }
    if !lines.is_empty() {
        let mut plot = Plot::new(
            "gradient_peak_heap",
            "Peak heap of one gradient (neural ODE on 256 × 16 f64, RK4)",
            "steps",
            "KiB above the start",
        )
        .log(true, true);
        for (name, pts) in lines {
            plot = plot.line(name, pts);
        }
        r.plot(plot);
    }
    Ok(r)
}
