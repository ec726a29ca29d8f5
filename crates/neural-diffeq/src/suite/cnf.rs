//! FFJORD on the 2-D toy densities, with and without RNODE's regularisers, against a Gaussian KDE
//! and the data's exact entropy.

use super::*;
use crate::density::{toy2d, GaussianKde, Toy2d};
use crate::models::cnf::{Cnf, Rnode, Trace};

/// RNODE weight of both penalties in the regularised runs (on two moons, 0.5 cost 0.3 nats and
/// 0.01 changed nothing measurable; 0.1 halves the NFE at a tight tolerance for a few hundredths).
const LAMBDA: f64 = 0.1;

/// Trains FFJORD (Hutchinson trace, dopri5 at 1e-5) by maximum likelihood on samples of a toy
/// density, plain and with RNODE's kinetic and Jacobian penalties, and reports the test NLL
/// (exact trace) against a KDE with a validated bandwidth and the exact NLL of the test points,
/// and the NFE of training and of evaluation.
pub const FFJORD_TOY: Task = Task::new(
    "ffjord_toy",
    "FFJORD on 2-D toy densities, plain vs RNODE: test NLL vs a validated Gaussian KDE and the exact density, training and evaluation NFE",
    ffjord_toy,
);

fn ffjord_toy(cfg: &SuiteConfig) -> TaskResult {
    let densities: &[Toy2d] = cfg.pick(&[Toy2d::TwoMoons][..], &Toy2d::ALL[..]);
    let iters = cfg.pick(2000, 10_000);
    let mut r = TaskReport::new();
    r.note(format!(
        "5000 training, 2000 validation, 5000 test points per density; MLP 3-64-64-64-2 (softplus) of [z, t]; \
         Adam 5e-3 with cosine decay to 2.5e-4 over {iters} steps of batch 256; gradients by {}; dopri5 \
         (rtol = atol = 1e-5) with one Rademacher probe per sample; RNODE λ_K = λ_J = {LAMBDA}; test NLL with \
         the exact trace at the same tolerance, NFE of that evaluation at 1e-5 and at 1e-8 (dopri5's NFE moves \
         in steps of 6, so the tight tolerance resolves the difference); KDE bandwidth from 40 values \
         0.02·1.1^k by validation NLL",
        cfg.pick("backpropagation through the solver", "the continuous adjoint with the seminorm")
    ));
    for (di, &density) in densities.iter().enumerate() {
        let name = density.name();
        let dev = cfg.device;
        let mut g = core_tensor::seed::rng(core_tensor::seed::derive_seed(cfg.seed, di as u64));
        let train = density.sample_tensor(5000, &mut g, Kind::Float, dev);
        let valid = density.sample_tensor(2000, &mut g, Kind::Float, dev);
        let test = density.sample_tensor(5000, &mut g, Kind::Float, dev);
        let grid: Vec<f64> = (0..40).map(|i| 0.02 * 1.1f64.powi(i)).collect();
        let (kde, search) = GaussianKde::fit(&train, &valid, &grid)?;
        let kde_nll = kde.mean_nll(&test)?;
        let exact = density.mean_nll(&test)?;
        r.metric(format!("{name}_exact_nll"), Metric::new(exact, "nats", Better::Lower))?;
        r.metric(format!("{name}_kde_nll"), Metric::new(kde_nll, "nats", Better::Lower))?;
        r.metric(format!("{name}_kde_bandwidth"), Metric::new(search.bandwidth, "", Better::Lower))?;
        let mut curves = Plot::new(
            format!("ffjord_{name}_training"),
            format!("FFJORD on {name}: training NLL (Hutchinson, batch estimate)"),
            "step",
            "NLL (nats)",
        );
        let mut samples_plot = Plot::new(
            format!("ffjord_{name}_samples"),
            format!("FFJORD on {name}: samples of the trained flows"),
            "x1",
            "x2",
        )
        .scatter("data", toy2d::points(&test.narrow(0, 0, 1000))?.iter().map(|p| (p[0], p[1])).collect());
        let mut eval_nfe: Vec<[f64; 2]> = Vec::new();
        for (label, rnode) in [("plain", Rnode::NONE), ("rnode", Rnode::both(LAMBDA))] {
            let mut run = train_flow(cfg, &train, iters, rnode)?;
            let (nll, nfe, samples) = run.evaluate(&test)?;
            let nfe = nfe.map(|n| n as f64);
            let tag = format!("{name}_{label}");
            r.metric(
                format!("{tag}_test_nll"),
                Metric::new(nll, "nats", Better::Lower)
                    .with_reference(
                        kde_nll,
                        "Gaussian KDE on the same training points, bandwidth by validation",
                    )
                    .with_goal(kde_nll + 0.1),
            )?;
            r.metric(format!("{tag}_eval_nfe"), Metric::new(nfe[0], "", Better::Lower))?;
            r.metric(format!("{tag}_eval_nfe_tol1e-8"), Metric::new(nfe[1], "", Better::Lower))?;
            r.metric(format!("{tag}_train_nfe_per_step"), Metric::new(run.train_nfe, "", Better::Lower))?;
            r.metric(format!("{tag}_train_seconds"), Metric::new(run.seconds, "s", Better::Lower))?;
            eval_nfe.push(nfe);
            curves = curves.line(label, run.curve.clone());
            samples_plot = samples_plot.scatter(label, samples);
        }
        r.metric(
            format!("{name}_eval_nfe_ratio_plain_over_rnode"),
            Metric::new(eval_nfe[0][0] / eval_nfe[1][0], "", Better::Higher).with_reference(1.0, "no change"),
        )?;
        r.metric(
            format!("{name}_eval_nfe_tol1e-8_ratio_plain_over_rnode"),
            Metric::new(eval_nfe[0][1] / eval_nfe[1][1], "", Better::Higher)
                .with_reference(1.0, "no change")
                .with_goal(1.0),
        )?;
        r.plot(curves);
        r.plot(samples_plot);
    }
    Ok(r)
}

/// A trained flow and what its training cost.
struct TrainedFlow {
    _vs: nn::VarStore,
    cnf: Cnf,
    curve: Vec<(f64, f64)>,
    train_nfe: f64,
    seconds: f64,
}

fn train_flow(cfg: &SuiteConfig, train: &Tensor, iters: usize, rnode: Rnode) -> Result<TrainedFlow> {
    let dev = cfg.device;
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(dev);
    let cnf = Cnf::new(&vs.root(), 2, &[64, 64, 64], Trace::Hutchinson)?;
    let params = vs.trainable_variables();
    let (solver, control) = (ExplicitRk::dopri5(), StepControl::adaptive(1e-5, 1e-5));
    let mut trainer = Trainer::builder()
        .optimizer(OptimizerConfig::adam(5e-3))
        .schedule(LrSchedule::Cosine { t_max: iters, eta_min: 2.5e-4 })
        .progress(cfg.progress)
        .build()?;
    let gradient = cfg.pick(Gradient::Backprop, Gradient::Adjoint { rtol: 1e-5, atol: 1e-5, seminorm: true });
    let n = train.size()[0];
    let (mut curve, mut nfe) = (Vec::new(), 0usize);
    let start = Instant::now();
    trainer.run_steps(trainable_named(&vs), iters, |c| {
        let idx = Tensor::randint(n, [256], (Kind::Int64, dev));
        let s = cnf.train_step(&train.index_select(0, &idx), &params, &solver, &control, &gradient, rnode)?;
        nfe += s.forward.nfe;
        if c.step % 20 == 0 {
            curve.push((c.step as f64, s.nll));
        }
        Ok(StepOutput::Gradients(s.loss))
    })?;
    Ok(TrainedFlow {
        _vs: vs,
        cnf,
        curve,
        train_nfe: nfe as f64 / iters as f64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Test NLL, evaluation NFE at 1e-5 and 1e-8, and sample points.
type Evaluation = (f64, [usize; 2], Vec<(f64, f64)>);

impl TrainedFlow {
    /// Test NLL (exact trace), the NFE of that evaluation at tolerances 1e-5 and 1e-8, and 1000
    /// samples as points.
    fn evaluate(&mut self, test: &Tensor) -> Result<Evaluation> {
        self.cnf.set_trace(Trace::Exact);
        let (solver, control) = (ExplicitRk::dopri5(), StepControl::adaptive(1e-5, 1e-5));
        let (lp, stats) = tch::no_grad(|| self.cnf.log_prob(test, &solver, &control))?;
        let tight = StepControl::adaptive(1e-8, 1e-8);
        let (_, tight_stats) = tch::no_grad(|| self.cnf.log_prob(test, &solver, &tight))?;
        let (x, _) = self.cnf.sample(1000, &solver, &control, (Kind::Float, test.device()))?;
        let points = toy2d::points(&x)?.iter().map(|p| (p[0], p[1])).collect();
        Ok((-lp.mean(Kind::Double).double_value(&[]), [stats.nfe, tight_stats.nfe], points))
    }
}
