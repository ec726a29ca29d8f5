//! Diffusion models on a 2-D Gaussian mixture: denoising score matching, every sampler, the
//! probability-flow likelihood, against the exact score and density.

use super::*;
use crate::density::{energy_test, toy2d, Gmm};
use crate::diffusion::{
    pf_log_likelihood, sample, Draw, Parameterisation, Process, Sampler, ScoreModel, Weighting,
};
use crate::models::cnf::Trace;

/// Trains a VP diffusion model (ε-parameterisation, DSM) on samples of the eight Gaussians and
/// reports, per sampler, the energy distance of its samples to held-out data with a permutation
/// p-value and the NFE, beside the same samplers driven by the exact score; and the
/// probability-flow NLL of test points against the exact mixture NLL.
pub const DIFFUSION_GMM: Task = Task::new(
    "diffusion_gmm",
    "VP diffusion (DSM, ε-prediction) on eight Gaussians: energy distance and two-sample p-value per sampler, NFE, probability-flow NLL vs the exact NLL",
    diffusion_gmm,
);

/// A DSM-trained model with its var store, training seconds and loss curve.
struct Trained {
    _vs: nn::VarStore,
    model: ScoreModel,
    seconds: f64,
    curve: Vec<(f64, f64)>,
}

/// Train and test points of the eight Gaussians (the same for every task of this file).
fn gmm_data(cfg: &SuiteConfig, g: &mut core_tensor::seed::Rng) -> (Gmm, Tensor, Tensor) {
    let gmm = Gmm::eight_gaussians();
    let train = gmm.sample(5000, g).to_kind(Kind::Float).to(cfg.device);
    let test = gmm.sample(1000, g).to_kind(Kind::Float).to(cfg.device);
    (gmm, train, test)
}

/// DSM on `train [N, D]` (MLP (D+16)-128-128-128-D, Adam 2e-3 with cosine decay, batch 256,
/// t ~ U(1e-3, 1)).
fn train_dsm(
    cfg: &SuiteConfig,
    train: &Tensor,
    process: Process,
    param: Parameterisation,
    iters: usize,
) -> Result<Trained> {
    train_dsm_with(cfg, train, (process, param), iters, &|_| (1e-3, 1.0), &mut |_, _| Ok(()))
}

/// [`train_dsm`] drawing the times of step `k` from the band `band(k)`, with `observe(k, model)`
/// called before each step.
fn train_dsm_with(
    cfg: &SuiteConfig,
    train: &Tensor,
    (process, param): (Process, Parameterisation),
    iters: usize,
    band: &dyn Fn(usize) -> (f64, f64),
    observe: &mut dyn FnMut(usize, &ScoreModel) -> Result<()>,
) -> Result<Trained> {
    let dev = cfg.device;
    core_tensor::seed::seed_torch(cfg.seed);
    let vs = nn::VarStore::new(dev);
    let model = ScoreModel::new(&vs.root(), train.size()[1], &[128, 128, 128], process, param)?;
    let mut trainer = Trainer::builder()
        .optimizer(OptimizerConfig::adam(2e-3))
        .schedule(LrSchedule::Cosine { t_max: iters, eta_min: 1e-4 })
        .progress(cfg.progress)
        .build()?;
    let n = train.size()[0];
    let mut curve = Vec::new();
    let start = Instant::now();
    trainer.run_steps(trainable_named(&vs), iters, |c| {
        observe(c.step, &model)?;
        let idx = Tensor::randint(n, [256], (Kind::Int64, dev));
        let loss = model.loss_on(&train.index_select(0, &idx), band(c.step), Weighting::Unit)?;
        if c.step % 20 == 0 {
            curve.push((c.step as f64, loss.double_value(&[])));
        }
        Ok(StepOutput::Loss(loss))
    })?;
    Ok(Trained { _vs: vs, model, seconds: start.elapsed().as_secs_f64(), curve })
}

fn diffusion_gmm(cfg: &SuiteConfig) -> TaskResult {
    let dev = cfg.device;
    let process = Process::VP;
    let mut g = core_tensor::seed::rng(cfg.seed);
    let (gmm, train, test) = gmm_data(cfg, &mut g);
    let iters = cfg.pick(10_000, 40_000);
    let Trained { model, seconds: train_s, curve, .. } =
        train_dsm(cfg, &train, process, Parameterisation::Epsilon, iters)?;
    let mut r = TaskReport::new();
    r.headline("pf_dopri5_energy_distance");
    r.metric("train_seconds", Metric::new(train_s, "s", Better::Lower))?;
    let learned = |x: &Tensor, t: f64| model.score(x, t);
    let exact = |x: &Tensor, t: f64| {
        let (m, s) = process.marginal(t);
        gmm.perturbed(m, s).score(x)
    };
    // the noise floor: two independent samples of the mixture
    let other = gmm.sample(1000, &mut g).to_kind(Kind::Float).to(dev);
    let floor = energy_test(&other, &test, 200, &mut g)?;
    r.metric("data_vs_data_energy_distance", Metric::new(floor.energy, "", Better::Lower))?;
    let (adaptive, em) = (StepControl::adaptive(1e-5, 1e-5), StepControl::constant(1.0 / 500.0));
    let (dopri5, tsit5) = (ExplicitRk::dopri5(), ExplicitRk::tsit5());
    let samplers: [(&str, Sampler<'_>); 5] = [
        ("reverse_sde_em500", Sampler::ReverseSde { control: &em }),
        ("pf_dopri5", Sampler::ProbabilityFlow { solver: &dopri5, control: &adaptive }),
        ("pf_tsit5", Sampler::ProbabilityFlow { solver: &tsit5, control: &adaptive }),
        ("ancestral500", Sampler::Ancestral { steps: 500 }),
        ("ddim100", Sampler::Ddim { steps: 100 }),
    ];
    let mut scatter =
        Plot::new("diffusion_gmm_samples", "Eight Gaussians: data and model samples", "x1", "x2")
            .scatter("data", toy2d::points(&test.narrow(0, 0, 500))?.iter().map(|p| (p[0], p[1])).collect());
    for (name, sampler) in samplers {
        for (which, score) in
            [("", &learned as &crate::diffusion::likelihood::ScoreFn<'_>), ("exact_score_", &exact)]
        {
            let (x, stats) = sample(
                &process,
                score,
                sampler,
                &Draw { n: 1000, dim: 2, t_min: 1e-3, options: (Kind::Float, dev), seed: cfg.seed + 7 },
            )?;
            let t = energy_test(&x, &test, 200, &mut g)?;
            r.metric(
                format!("{which}{name}_energy_distance"),
                Metric::new(t.energy, "", Better::Lower)
                    .with_reference(floor.energy, "two samples of the data"),
            )?;
            r.metric(format!("{which}{name}_p_value"), Metric::new(t.p_value, "", Better::Higher))?;
            if which.is_empty() {
                r.metric(format!("{name}_nfe"), Metric::new(stats.nfe as f64, "", Better::Lower))?;
                if name == "pf_dopri5" || name == "reverse_sde_em500" {
                    scatter = scatter.scatter(
                        name,
                        toy2d::points(&x.narrow(0, 0, 500))?.iter().map(|p| (p[0], p[1])).collect(),
                    );
                }
            }
        }
    }
    // probability-flow NLL of 200 test points, exact trace, against the exact mixture
    let xt = test.narrow(0, 0, 200).to_kind(Kind::Double);
    // the float model read in double precision (the divergence flows through the casts)
    let score64 =
        |x: &Tensor, t: f64| model.score(&x.to_kind(Kind::Float), t).map(|s| s.to_kind(Kind::Double));
    let lik =
        pf_log_likelihood(&process, &score64, &xt, (1e-3, 1.0), &dopri5, &adaptive, Trace::Exact, None)?;
    let nll = -lik.log_prob.mean(Kind::Double).double_value(&[]);
    let exact_nll = -gmm.log_density(&xt)?.mean(Kind::Double).double_value(&[]);
    r.metric(
        "pf_nll",
        Metric::new(nll, "nats", Better::Lower)
            .with_reference(exact_nll, "exact mixture NLL of the same points"),
    )?;
    r.metric("pf_nll_nfe", Metric::new(lik.stats.nfe as f64, "", Better::Lower))?;
    r.plot(scatter);
    r.plot(
        Plot::new("dsm_loss", "DSM loss (ε-prediction, unit weight)", "step", "loss")
            .line("training batch", curve),
    );
    r.note(format!(
        "5000 training and 1000 test points; MLP [x, sinusoidal(1000 t)] 18-128-128-128-2 (LipSwish); Adam 2e-3 with cosine \
         decay over {iters} steps of batch 256; t ~ U(1e-3, 1); every sampler draws 1000 points from t = 1 to 1e-3; \
         energy test with 200 permutations; probability-flow NLL of 200 test points with the exact divergence, dopri5 at 1e-5"
    ));
    Ok(r)
}

/// Is the learned field a score? The Jacobian asymmetry `‖J − Jᵀ‖/‖J‖` and the circulation ratio
/// around circles of radius 0.5, at noise levels from t = 0.01 to 1, for DSM models with the ε-
/// and the score-parameterisation and for the exact score, on perturbed held-out points
/// (circles of half the perturbed components' standard deviation).
pub const DIFFUSION_CONSERVATIVITY: Task = Task::new(
    "diffusion_conservativity",
    "is a DSM-trained field a gradient? Jacobian asymmetry and loop circulation vs noise level, ε- and score-parameterisation against the exact score",
    diffusion_conservativity,
);

fn diffusion_conservativity(cfg: &SuiteConfig) -> TaskResult {
    use crate::diffusion::{jacobian_asymmetry, loop_circulation};
    let process = Process::VP;
    let mut g = core_tensor::seed::rng(cfg.seed);
    let (gmm, train, test) = gmm_data(cfg, &mut g);
    let iters = cfg.pick(10_000, 40_000);
    let eps_model = train_dsm(cfg, &train, process, Parameterisation::Epsilon, iters)?;
    let score_model = train_dsm(cfg, &train, process, Parameterisation::Score, iters)?;
    let exact = |x: &Tensor, t: f64| {
        let (m, s) = process.marginal(t);
        gmm.perturbed(m, s).score(x)
    };
    let eps_score = |x: &Tensor, t: f64| eps_model.model.score(x, t);
    let direct_score = |x: &Tensor, t: f64| score_model.model.score(x, t);
    let fields: [(&str, &crate::diffusion::likelihood::ScoreFn<'_>); 3] =
        [("eps_model", &eps_score), ("score_model", &direct_score), ("exact", &exact)];
    let mut r = TaskReport::new();
    r.headline("eps_model_asymmetry_t0.05");
    let mut asym_plot = Plot::new(
        "jacobian_asymmetry",
        "‖J − Jᵀ‖ / ‖J‖ of the field against the noise level",
        "t",
        "mean asymmetry",
    )
    .log(true, true);
    let x0 = test.narrow(0, 0, 200);
    for (name, field) in fields {
        let mut line = Vec::new();
        for t in [0.01, 0.05, 0.2, 0.5, 1.0] {
            let (m, s) = process.marginal(t);
            let xt = &x0 * m + Tensor::randn(x0.size(), (x0.kind(), x0.device())) * s;
            let a = jacobian_asymmetry(field, &xt, t)?.mean(Kind::Double).double_value(&[]);
            // circles of half the perturbed components' standard deviation
            let radius = 0.5 * gmm.perturbed(m, s).stds()[0];
            let (_, ratio) = loop_circulation(field, &xt, radius, t, 64)?;
            let ratio = ratio.mean(Kind::Double).double_value(&[]);
            r.metric(format!("{name}_asymmetry_t{t}"), Metric::new(a, "", Better::Lower))?;
            r.metric(format!("{name}_circulation_ratio_t{t}"), Metric::new(ratio, "", Better::Lower))?;
            line.push((t, a.max(1e-16)));
        }
        asym_plot = asym_plot.line(name, line);
    }
    // generation with the closest gradient field: DDIM (100 steps) with the ε-model's field read
    // directly, read from a 96 × 96 grid on [−6, 6]², and Helmholtz-projected on that grid
    {
        use crate::diffusion::GridField;
        let dev = cfg.device;
        let model = &eps_model.model;
        let on_grid = |project: bool| {
            move |x: &Tensor, t: f64| -> crate::Result<Tensor> {
                let f = |p: &Tensor| model.score(&p.to_kind(Kind::Float), t);
                let grid = GridField::sample(&f, (-6.0, 6.0), 96, x.device())?;
                let field = if project { grid.projected()?.0 } else { grid };
                field.evaluate(x)
            }
        };
        let (grid_only, projected) = (on_grid(false), on_grid(true));
        let fields: [(&str, &crate::diffusion::likelihood::ScoreFn<'_>); 3] =
            [("direct", &eps_score), ("grid", &grid_only), ("projected", &projected)];
        for (name, field) in fields {
            let draw = Draw { n: 1000, dim: 2, t_min: 1e-3, options: (Kind::Float, dev), seed: cfg.seed + 3 };
            let (x, _) = sample(&process, field, Sampler::Ddim { steps: 100 }, &draw)?;
            let t = energy_test(&x, &test, 200, &mut g)?;
            r.metric(
                format!("ddim100_{name}_field_energy_distance"),
                Metric::new(t.energy, "", Better::Lower),
            )?;
            r.metric(format!("ddim100_{name}_field_p_value"), Metric::new(t.p_value, "", Better::Higher))?;
        }
        for t in [0.01, 0.1, 0.5] {
            let f = |p: &Tensor| model.score(&p.to_kind(Kind::Float), t);
            let (_, share) = GridField::sample(&f, (-6.0, 6.0), 96, dev)?.projected()?;
            r.metric(format!("eps_model_non_gradient_share_t{t}"), Metric::new(share, "", Better::Lower))?;
        }
    }
    r.metric("train_seconds_eps_model", Metric::new(eps_model.seconds, "s", Better::Lower))?;
    r.metric("train_seconds_score_model", Metric::new(score_model.seconds, "s", Better::Lower))?;
    r.plot(asym_plot);
    r.note(format!(
        "VP, eight Gaussians, DSM with unit weight, {iters} steps each; 200 held-out points perturbed to each t; \
         circulation ratio |∮ s·dl| / ∮ |s| |dl| on circles (64 points) of radius half the perturbed components' \
         standard deviation √(m² 0.125 + σ²)/2; a gradient field scores 0 on both. Generation: DDIM with 100 steps, \
         the ε-model's field read directly, from a 96 × 96 grid on [−6, 6]² (bilinear), and Helmholtz-projected on \
         that grid (least-squares potential by conjugate gradients); non-gradient share = relative residual of the \
         projection"
    ));
    Ok(r)
}

/// Mode interpolation ("Understanding hallucinations in diffusion models through mode
/// interpolation", Aithal et al. 2024) on a 1-D mixture of three narrow Gaussians: the share of
/// samples out of the support (farther than 4 standard deviations from every mode) against the
/// training-set size and the number of ancestral steps, and the paper's detector — the variance
/// of the predicted `x̂_0` along the sampling trajectory, here over three windows of the noise
/// level — with its ROC AUC and the share of hallucinations it removes when it keeps 96 % of the
/// in-support samples.
pub const DIFFUSION_HALLUCINATION: Task = Task::new(
    "diffusion_hallucination",
    "mode interpolation on a 1-D three-Gaussian mixture: out-of-support fraction vs training size and sampling steps; trajectory-variance detector AUC and removal at 96 % retention",
    diffusion_hallucination,
);

/// Samples a trained model with `steps` ancestral steps, reports the out-of-support fraction
/// (farther than 4 standard deviations from every component of `gmm`) and the trajectory-variance detector per noise
/// window under metric names with `tag`; returns the fraction.
#[allow(clippy::too_many_arguments)]
fn hallucination_run(
    cfg: &SuiteConfig,
    r: &mut TaskReport,
    model: &ScoreModel,
    gmm: &Gmm,
    steps: usize,
    n_samples: i64,
    tag: &str,
) -> Result<f64> {
    use crate::diffusion::sample_observed;
    let (dev, process) = (cfg.device, *model.process());
    let dim = gmm.dim() as i64;
    let score = |x: &Tensor, t: f64| model.score(x, t);
    // running sums of x̂_0 and x̂_0² over three windows of the noise level t
    let windows = [(0.0, 0.05), (0.05, 0.2), (0.2, 0.5)];
    let zeros = || Tensor::zeros([n_samples, dim], (Kind::Double, dev));
    let mut sums: Vec<(Tensor, Tensor, f64)> = windows.iter().map(|_| (zeros(), zeros(), 0.0)).collect();
    let mut observe = |_: usize, t: f64, x: &Tensor, s: &Tensor| -> crate::Result<()> {
        let (m, sig) = process.marginal(t);
        let x0 = ((x + s * (sig * sig)) / m).to_kind(Kind::Double);
        for (w, (sum, sq, count)) in windows.iter().zip(sums.iter_mut()) {
            if t > w.0 && t <= w.1 {
                *sum += &x0;
                *sq += x0.square();
                *count += 1.0;
            }
        }
        Ok(())
    };
    let draw = Draw { n: n_samples, dim, t_min: 1e-3, options: (Kind::Float, dev), seed: cfg.seed + 11 };
    let (x, _) = sample_observed(&process, &score, Sampler::Ancestral { steps }, &draw, &mut observe)?;
    let xs = core_tensor::interop::tensor_to_vec(&x.to_kind(Kind::Double).reshape([-1]))?;
    let outside: Vec<bool> =
        xs.chunks_exact(dim as usize)
            .map(|p| {
                gmm.means().iter().zip(gmm.stds()).all(|(mu, sd)| {
                    p.iter().zip(mu).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt() > 4.0 * sd
                })
            })
            .collect();
    let halluc = outside.iter().filter(|&&o| o).count();
    let frac = halluc as f64 / outside.len() as f64;
    r.metric(format!("out_of_support_fraction_{tag}"), Metric::new(frac, "", Better::Lower))?;
    if halluc < 5 || halluc + 5 > outside.len() {
        return Ok(frac);
    }
    for (w, (sum, sq, count)) in windows.iter().zip(&sums) {
        if *count == 0.0 {
            continue;
        }
        // the trace of the covariance of x̂_0 along the window
        let var =
            ((sq / *count) - (sum / *count).square()).sum_dim_intlist([1].as_slice(), false, Kind::Double);
        let var = core_tensor::interop::tensor_to_vec(&var)?;
        let auc = core_tensor::metrics::roc_auc(&var, &outside)?;
        let mut inside: Vec<f64> = var.iter().zip(&outside).filter(|(_, &o)| !o).map(|(v, _)| *v).collect();
        inside.sort_by(f64::total_cmp);
        let threshold = inside[((0.96 * inside.len() as f64) as usize).min(inside.len() - 1)];
        let removed =
            var.iter().zip(&outside).filter(|(v, &o)| o && **v > threshold).count() as f64 / halluc as f64;
        let wtag = format!("{tag}_t{}-{}", w.0, w.1);
        r.metric(format!("detector_auc_{wtag}"), Metric::new(auc, "", Better::Higher))?;
        r.metric(
            format!("removed_at_96pct_kept_{wtag}"),
            Metric::new(removed, "", Better::Higher)
                .with_reference(0.95, "Aithal et al. 2024: > 95 % removed at 96 % kept (their data)"),
        )?;
    }
    Ok(frac)
}

fn diffusion_hallucination(cfg: &SuiteConfig) -> TaskResult {
    let dev = cfg.device;
    let gmm = Gmm::new(vec![1.0; 3], vec![vec![1.0], vec![2.0], vec![3.0]], vec![0.05; 3])?;
    let process = Process::VP;
    let sizes: Vec<usize> = cfg.pick(vec![1000, 10_000], vec![1000, 3000, 10_000, 50_000]);
    let step_counts: Vec<usize> = cfg.pick(vec![100, 1000], vec![50, 100, 250, 500, 1000]);
    let iters = cfg.pick(10_000, 40_000);
    let n_samples = 10_000i64;
    let mut r = TaskReport::new();
    r.headline(format!(
        "removed_at_96pct_kept_n{}_steps{}_t0-0.05",
        sizes[sizes.len() - 1],
        step_counts[step_counts.len() - 1]
    ));
    let mut lines: Vec<(String, Vec<(f64, f64)>)> =
        step_counts.iter().map(|t| (format!("{t} ancestral steps"), Vec::new())).collect();
    let mut g = core_tensor::seed::rng(cfg.seed);
    for &n in &sizes {
        let train = gmm.sample(n, &mut g).to_kind(Kind::Float).to(dev);
        let trained = train_dsm(cfg, &train, process, Parameterisation::Epsilon, iters)?;
        for (si, &steps) in step_counts.iter().enumerate() {
            let tag = format!("n{n}_steps{steps}");
            let frac = hallucination_run(cfg, &mut r, &trained.model, &gmm, steps, n_samples, &tag)?;
            lines[si].1.push((n as f64, frac.max(1e-5)));
        }
    }
    // the 2-D grid: 25 Gaussians with σ = 0.1 at spacing 2
    let grid = Gmm::grid25(0.1)?;
    let train = grid.sample(10_000, &mut g).to_kind(Kind::Float).to(dev);
    let trained = train_dsm(cfg, &train, process, Parameterisation::Epsilon, iters)?;
    hallucination_run(cfg, &mut r, &trained.model, &grid, 1000, n_samples, "grid25_n10000_steps1000")?;
    let mut plot = Plot::new(
        "out_of_support_fraction",
        "Samples between the modes against the training-set size",
        "training samples",
        "out-of-support fraction",
    )
    .log(true, true);
    for (name, pts) in lines {
        plot = plot.line(name, pts);
    }
    r.plot(plot);
    r.note(format!(
        "Mixture of N(1, 0.05²), N(2, 0.05²), N(3, 0.05²), and a 5×5 grid of N(μ, 0.1² I) at spacing 2 (10 000 \
         training points, 1000 steps); VP, ε-prediction, {iters} DSM steps per training set; \
         {n_samples} ancestral samples per setting; out of support = farther than 4σ from every mode; detector: variance \
         of x̂_0 = (x + σ² s)/m over the steps with t in (0, 0.05], (0.05, 0.2] and (0.2, 0.5] (metrics only where at \
         least 5 samples fall outside)"
    ));
    Ok(r)
}

/// Timestep difficulty and a curriculum ("Denoising task difficulty-based curriculum for training
/// diffusion models", Kim et al. 2024) on the eight Gaussians: the noise levels split into five
/// equal bands; per band, the relative entropy between the marginals at its edges (exact mixture
/// densities, Monte Carlo) and how fast its held-out DSM loss converges under uniform training;
/// then a curriculum that adds the bands easy → hard (highest noise first) over the first half of
/// training against uniform training with the same number of steps, judged by sample quality and
/// the probability-flow NLL.
pub const DIFFUSION_CURRICULUM: Task = Task::new(
    "diffusion_curriculum",
    "timestep difficulty (relative entropy, convergence per noise band) and an easy-to-hard timestep curriculum against uniform training at equal steps",
    diffusion_curriculum,
);

/// The five noise bands `(t_lo, t_hi)` from `1e-3` to 1.
fn bands() -> Vec<(f64, f64)> {
    let edges: Vec<f64> = (0..=5).map(|k| if k == 0 { 1e-3 } else { k as f64 / 5.0 }).collect();
    edges.windows(2).map(|w| (w[0], w[1])).collect()
}

fn diffusion_curriculum(cfg: &SuiteConfig) -> TaskResult {
    let dev = cfg.device;
    let process = Process::VP;
    let mut g = core_tensor::seed::rng(cfg.seed);
    let (gmm, train, test) = gmm_data(cfg, &mut g);
    let iters = cfg.pick(6000, 30_000);
    let bands = bands();
    let mut r = TaskReport::new();
    r.headline("curriculum_pf_energy_distance");
    // 1. relative entropy KL(p_lo ‖ p_hi) between the marginals at each band's edges
    for (k, &(lo, hi)) in bands.iter().enumerate() {
        let (m0, s0) = process.marginal(lo);
        let (m1, s1) = process.marginal(hi);
        let (p0, p1) = (gmm.perturbed(m0, s0), gmm.perturbed(m1, s1));
        let x = p0.sample(4000, &mut g);
        let kl = (p0.log_density(&x)? - p1.log_density(&x)?).mean(Kind::Double).double_value(&[]);
        r.metric(format!("band{k}_kl_between_edges"), Metric::new(kl, "nats", Better::Lower))?;
    }
    // 2. per-band held-out loss along uniform training (fixed noise for the evaluation)
    let eval_every = iters / 20;
    let mut per_band: Vec<Vec<(f64, f64)>> = vec![Vec::new(); bands.len()];
    let held = test.narrow(0, 0, 1000);
    let mut track = |step: usize, model: &ScoreModel| -> Result<()> {
        if step.is_multiple_of(eval_every) {
            let _scope = core_tensor::seed::TorchSeedScope::enter(cfg.seed + 99);
            for (k, &band) in bands.iter().enumerate() {
                let l = tch::no_grad(|| model.loss_on(&held, band, Weighting::Unit))?;
                per_band[k].push((step as f64, l.double_value(&[])));
            }
        }
        Ok(())
    };
    let eps = (process, Parameterisation::Epsilon);
    let uniform = train_dsm_with(cfg, &train, eps, iters, &|_| (1e-3, 1.0), &mut track)?;
    // steps until a band's held-out loss has made 95 % of its total decrease
    let mut converged = Vec::new();
    for (k, curve) in per_band.iter().enumerate() {
        let (first, last) = (curve.first().map_or(f64::NAN, |p| p.1), curve.last().map_or(f64::NAN, |p| p.1));
        let target = last + 0.05 * (first - last);
        let at = curve.iter().find(|p| p.1 <= target).map_or(f64::NAN, |p| p.0);
        converged.push(at);
        r.metric(format!("band{k}_steps_to_95pct_of_decrease"), Metric::new(at, "steps", Better::Lower))?;
        r.metric(format!("band{k}_final_heldout_loss"), Metric::new(last, "", Better::Lower))?;
    }
    // 3. curriculum: bands added from the highest noise down over the first half, then all
    let stage = iters / (2 * bands.len());
    let n_bands = bands.len();
    let curriculum = move |step: usize| -> (f64, f64) {
        let added = (step / stage.max(1) + 1).min(n_bands);
        (if added == n_bands { 1e-3 } else { (n_bands - added) as f64 / 5.0 }, 1.0)
    };
    let paced = train_dsm_with(cfg, &train, eps, iters, &curriculum, &mut |_, _| Ok(()))?;
    let (adaptive, dopri5) = (StepControl::adaptive(1e-5, 1e-5), ExplicitRk::dopri5());
    let em = StepControl::constant(1.0 / 500.0);
    for (name, trained) in [("uniform", &uniform), ("curriculum", &paced)] {
        let score = |x: &Tensor, t: f64| trained.model.score(x, t);
        for (sname, sampler) in [
            ("pf", Sampler::ProbabilityFlow { solver: &dopri5, control: &adaptive }),
            ("reverse_sde", Sampler::ReverseSde { control: &em }),
        ] {
            let draw = Draw { n: 1000, dim: 2, t_min: 1e-3, options: (Kind::Float, dev), seed: cfg.seed + 5 };
            let (x, _) = sample(&process, &score, sampler, &draw)?;
            let t = energy_test(&x, &test, 200, &mut g)?;
            r.metric(format!("{name}_{sname}_energy_distance"), Metric::new(t.energy, "", Better::Lower))?;
        }
        let xt = test.narrow(0, 0, 200).to_kind(Kind::Double);
        let score64 = |x: &Tensor, t: f64| {
            trained.model.score(&x.to_kind(Kind::Float), t).map(|s| s.to_kind(Kind::Double))
        };
        let lik =
            pf_log_likelihood(&process, &score64, &xt, (1e-3, 1.0), &dopri5, &adaptive, Trace::Exact, None)?;
        let nll = -lik.log_prob.mean(Kind::Double).double_value(&[]);
        r.metric(
            format!("{name}_pf_nll"),
            Metric::new(nll, "nats", Better::Lower).with_reference(
                -gmm.log_density(&xt)?.mean(Kind::Double).double_value(&[]),
                "exact mixture NLL",
            ),
        )?;
        r.metric(format!("{name}_train_seconds"), Metric::new(trained.seconds, "s", Better::Lower))?;
    }
    let mut plot =
        Plot::new("band_losses", "Held-out DSM loss per noise band under uniform training", "step", "loss")
            .log(false, true);
    for (k, curve) in per_band.into_iter().enumerate() {
        plot = plot.line(format!("t in ({:.3}, {:.1}]", bands[k].0, bands[k].1), curve);
    }
    r.plot(plot);
    r.note(format!(
        "VP, ε-prediction, unit weight, {iters} steps for both runs; bands (1e-3, 0.2], (0.2, 0.4], …, (0.8, 1]; the \\
         curriculum trains on bands added from (0.8, 1] downwards, {stage} steps per stage, then uniformly for the second \\
         half; energy distances on 1000 samples against 1000 held-out points"
    ));
    r.metric(
        "hardest_band_by_convergence",
        Metric::new(
            converged
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(f64::NAN, |(k, _)| k as f64),
            "",
            Better::Lower,
        ),
    )?;
    Ok(r)
}
