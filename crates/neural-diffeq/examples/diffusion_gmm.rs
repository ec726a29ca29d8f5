//! Train a VP diffusion model by denoising score matching on eight Gaussians, sample it with the
//! reverse SDE and the probability-flow ODE, and compare the samples with held-out data (energy
//! two-sample test) and the probability-flow NLL with the exact one.
//!
//! `cargo run -p sciml-neural-diffeq --release --example diffusion_gmm -- [steps]`

use core_tensor::train::{trainable_named, LrSchedule, OptimizerConfig, StepOutput, Trainer};
use neural_diffeq::density::{energy_test, Gmm};
use neural_diffeq::diffusion::{
    pf_log_likelihood, sample, Draw, Parameterisation, Process, Sampler, ScoreModel, Weighting,
};
use neural_diffeq::models::cnf::Trace;
use neural_diffeq::prelude::*;
use tch::{nn, Kind, Tensor};

fn main() -> neural_diffeq::Result<()> {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dev = core_tensor::device::device();
    let mut g = core_tensor::seed::seed_everything(0);
    let gmm = Gmm::eight_gaussians();
    let train = gmm.sample(5000, &mut g).to_kind(Kind::Float).to(dev);
    let test = gmm.sample(1000, &mut g).to_kind(Kind::Float).to(dev);
    let process = Process::VP;
    let vs = nn::VarStore::new(dev);
    let model = ScoreModel::new(&vs.root(), 2, &[128, 128, 128], process, Parameterisation::Epsilon)?;
    let mut trainer = Trainer::builder()
        .optimizer(OptimizerConfig::adam(2e-3))
        .schedule(LrSchedule::Cosine { t_max: steps, eta_min: 1e-4 })
        .progress(true)
        .build()?;
    trainer.run_steps(trainable_named(&vs), steps, |_| {
        let idx = Tensor::randint(5000, [256], (Kind::Int64, dev));
        Ok(StepOutput::Loss(model.loss(&train.index_select(0, &idx), 1e-3, Weighting::Unit)?))
    })?;
    let score = |x: &Tensor, t: f64| model.score(x, t);
    let adaptive = StepControl::adaptive(1e-5, 1e-5);
    let em = StepControl::constant(1.0 / 500.0);
    let dopri5 = ExplicitRk::dopri5();
    for (name, sampler) in [
        ("reverse SDE (Euler–Maruyama, 500 steps)", Sampler::ReverseSde { control: &em }),
        ("probability flow (dopri5, 1e-5)", Sampler::ProbabilityFlow { solver: &dopri5, control: &adaptive }),
    ] {
        let draw = Draw { n: 1000, dim: 2, t_min: 1e-3, options: (Kind::Float, dev), seed: 1 };
        let (x, stats) = sample(&process, &score, sampler, &draw)?;
        let t = energy_test(&x, &test, 200, &mut g)?;
        println!("{name}: energy distance {:.4}, p-value {:.3}, {} NFE", t.energy, t.p_value, stats.nfe);
    }
    let x = test.narrow(0, 0, 200).to_kind(Kind::Double);
    let score64 =
        |x: &Tensor, t: f64| model.score(&x.to_kind(Kind::Float), t).map(|s| s.to_kind(Kind::Double));
    let lik = pf_log_likelihood(&process, &score64, &x, (1e-3, 1.0), &dopri5, &adaptive, Trace::Exact, None)?;
    println!(
        "probability-flow NLL {:.4} nats ({} NFE); exact NLL of the same points {:.4}",
        -lik.log_prob.mean(Kind::Double).double_value(&[]),
        lik.stats.nfe,
        -gmm.log_density(&x)?.mean(Kind::Double).double_value(&[])
    );
    Ok(())
}
