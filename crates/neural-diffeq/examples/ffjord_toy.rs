//! Train a continuous normalising flow (FFJORD) on a 2-D toy density and compare its test NLL
//! with a Gaussian KDE (bandwidth chosen on validation data) and with the data's exact entropy.
//!
//! `cargo run -p sciml-neural-diffeq --release --example ffjord_toy -- [two_moons|eight_gaussians|checkerboard] [iterations] [rnode lambda]`

use core_tensor::train::{trainable_named, LrSchedule, OptimizerConfig, StepOutput, Trainer};
use neural_diffeq::density::{GaussianKde, Toy2d};
use neural_diffeq::models::cnf::{Cnf, Rnode, Trace};
use neural_diffeq::prelude::*;
use tch::{nn, Kind};

fn main() -> neural_diffeq::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let density = Toy2d::parse(args.get(1).map(String::as_str).unwrap_or("two_moons"))?;
    let iters: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let lambda: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let batch: i64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(256);
    let n_train: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let lr: f64 = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(5e-3);
    let gradient = match args.get(7).map(String::as_str).unwrap_or("backprop") {
        "adjoint" => Gradient::Adjoint { rtol: 1e-5, atol: 1e-5, seminorm: true },
        _ => Gradient::Backprop,
    };
    let dev = core_tensor::device::device();
    let mut g = core_tensor::seed::seed_everything(0);
    let (train, valid, test) = (
        density.sample_tensor(n_train, &mut g, Kind::Float, dev),
        density.sample_tensor(2000, &mut g, Kind::Float, dev),
        density.sample_tensor(5000, &mut g, Kind::Float, dev),
    );
    let grid: Vec<f64> = (0..40).map(|i| 0.02 * 1.1f64.powi(i)).collect();
    let (kde, search) = GaussianKde::fit(&train, &valid, &grid)?;
    println!(
        "{}: exact NLL of the test set {:.4}, KDE (h = {:.3}) {:.4}",
        density.name(),
        density.mean_nll(&test)?,
        search.bandwidth,
        kde.mean_nll(&test)?
    );
    let vs = nn::VarStore::new(dev);
    let mut cnf = Cnf::new(&vs.root(), 2, &[64, 64, 64], Trace::Hutchinson)?;
    let params = vs.trainable_variables();
    let solver = ExplicitRk::dopri5();
    let control = StepControl::adaptive(1e-5, 1e-5);
    let rnode = Rnode::both(lambda);
    let mut trainer = Trainer::builder()
        .optimizer(OptimizerConfig::adam(lr))
        .schedule(LrSchedule::Cosine { t_max: iters, eta_min: lr / 20.0 })
        .progress(true)
        .build()?;
    let n = train.size()[0];
    let start = std::time::Instant::now();
    let mut nfe = 0;
    trainer.run_steps(trainable_named(&vs), iters, |c| {
        let idx = tch::Tensor::randint(n, [batch], (Kind::Int64, dev));
        let s = cnf.train_step(&train.index_select(0, &idx), &params, &solver, &control, &gradient, rnode)?;
        nfe += s.forward.nfe;
        if c.step % 100 == 0 {
            println!(
                "iteration {:5}: NLL {:.4}, forward NFE {}, {:.1} s",
                c.step,
                s.nll,
                s.forward.nfe,
                start.elapsed().as_secs_f64()
            );
        }
        Ok(StepOutput::Gradients(s.loss))
    })?;
    cnf.set_trace(Trace::Exact);
    let (lp, stats) = tch::no_grad(|| cnf.log_prob(&test, &solver, &control))?;
    println!(
        "FFJORD test NLL {:.4} ({} NFE at evaluation, mean training NFE {:.1}, {:.1} s)",
        -lp.mean(Kind::Double).double_value(&[]),
        stats.nfe,
        nfe as f64 / iters as f64,
        start.elapsed().as_secs_f64()
    );
    let tight = StepControl::adaptive(1e-8, 1e-8);
    let (lp, stats) = tch::no_grad(|| cnf.log_prob(&test, &solver, &tight))?;
    println!(
        "at tolerance 1e-8: test NLL {:.4}, {} NFE",
        -lp.mean(Kind::Double).double_value(&[]),
        stats.nfe
    );
    Ok(())
}
