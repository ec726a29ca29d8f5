//! Learn the time-1 solution operator of viscous Burgers (ν = 0.1, the FNO paper's data) with a
//! 1-D FNO on 256 points: generate the data with the pseudo-spectral solver (cached as
//! safetensors under the system temp directory), train on normalised targets, report the test
//! relative L2 error, then evaluate the same model zero-shot on 1024 points.
//!
//! At ν = 0.1 the solution at t = 1 is about a hundredth of the initial condition, so the model
//! predicts `u(1)/σ` with `σ` pooled over the training targets; without it Adam's steps are large
//! against the output and training is noisy.
//!
//! `cargo run -p neural-operator --release --example burgers_fno`

use core_tensor::train::{Optimizer, OptimizerConfig};
use neural_operator::data::cached_pair;
use neural_operator::fno::{relative_lp_loss, Fno, FnoConfig};
use neural_operator::losses::UnitGaussianNormalizer;
use neural_operator::suite::burgers_pairs;
use tch::{nn, Kind, Tensor};

fn main() -> neural_operator::Result<()> {
    tch::manual_seed(0);
    let dev = core_tensor::device::device();
    let cache = std::env::temp_dir().join("neural-operator-examples");
    let (n_train, epochs, batch) = (200i64, 100usize, 20i64);
    let (xtr, ytr) = cached_pair(&cache, "burgers_example_train_200", || burgers_pairs(200, 256, 256, 0))?;
    let (xte, yte) = cached_pair(&cache, "burgers_example_test_50", || burgers_pairs(50, 256, 256, 1))?;
    let (xtr, ytr, xte, yte) = (xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev));
    let yn = UnitGaussianNormalizer::fit_per_channel(&ytr)?;
    let vs = nn::VarStore::new(dev);
    let fno = Fno::new(&vs.root(), FnoConfig::default())?;
    let predict = |x: &Tensor, size: Option<&[i64]>| -> neural_operator::Result<Tensor> {
        Ok(yn.decode(&fno.forward(x, size)?))
    };
    let mut opt = Optimizer::from_var_store(OptimizerConfig::adam(1e-3), &vs)?;
    for epoch in 0..epochs {
        opt.set_lr(1e-3 * 0.5f64.powi((epoch / 25) as i32));
        let perm = Tensor::randperm(n_train, (Kind::Int64, dev));
        let mut total = 0.0;
        for b in 0..n_train / batch {
            let idx = perm.narrow(0, b * batch, batch);
            opt.zero_grad();
            let loss = relative_lp_loss(
                &predict(&xtr.index_select(0, &idx), None)?,
                &ytr.index_select(0, &idx),
                2.0,
            )?;
            loss.backward();
            opt.step()?;
            total += loss.double_value(&[]);
        }
        if epoch % 10 == 0 || epoch + 1 == epochs {
            let test = tch::no_grad(|| relative_lp_loss(&predict(&xte, None)?, &yte, 2.0))?;
            println!(
                "epoch {epoch:3}: train rel. L2 {:.4}, test rel. L2 {:.4}",
                total / (n_train / batch) as f64,
                test.double_value(&[])
            );
        }
    }
    // zero-shot super-resolution: new samples solved and evaluated on 1024 points
    let (xs, ys) = burgers_pairs(20, 1024, 1024, 2)?;
    let sr = tch::no_grad(|| relative_lp_loss(&predict(&xs.to(dev), None)?, &ys.to(dev), 2.0))?;
    println!("zero-shot at 1024 points: test rel. L2 {:.4}", sr.double_value(&[]));
    Ok(())
}
