//! Fits `f(x) = x sin(3x)` on `[-2, 2]` with an MLP through the `Trainer`: validation, early
//! stopping, checkpoints every 20 epochs, then a second `fit` call that resumes from the last
//! checkpoint and continues to more epochs.
//!
//! `cargo run -p sciml-core-tensor --example fit_function`

use core_tensor::data::random_split;
use core_tensor::prelude::*;
use tch::{nn, nn::ModuleT, Kind, Tensor};

fn main() -> core_tensor::Result<()> {
    seed_everything(7);
    let dev = device();
    let x = Tensor::rand([2000, 1], (Kind::Float, dev)) * 4.0 - 2.0;
    let y = &x * (&x * 3.0).sin();
    let split = random_split(2000, 0.8, 0.2, 7)?;
    let idx = |v: &[usize]| Tensor::from_slice(&v.iter().map(|&i| i as i64).collect::<Vec<_>>()).to(dev);
    let (tr, va) = (idx(&split.train), idx(&split.val));
    let train = DataLoader::new(vec![x.index_select(0, &tr), y.index_select(0, &tr)], 100, 7)?;
    let (xv, yv) = (x.index_select(0, &va), y.index_select(0, &va));

    let vs = nn::VarStore::new(dev);
    let mlp = Mlp::new(&vs.root(), &[1, 64, 64, 1], MlpConfig::default().activation(Activation::Gelu))?;
    let dir = std::env::temp_dir().join(format!("sciml-fit-function-{}", std::process::id()));
    let config = |epochs| {
        Trainer::builder()
            .epochs(epochs)
            .optimizer(OptimizerConfig::adamw(3e-3, 1e-4))
            .schedule(LrSchedule::Cosine { t_max: 200, eta_min: 1e-4 }.with_warmup(5))
            .clip_norm(1.0)
            .early_stopping(40, 1e-6)
            .checkpoint(&dir, 20)
            .seed(7)
            .progress(true)
    };
    let loss = |b: &Vec<Tensor>| Ok((mlp.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float));
    let val = || Ok(Some((mlp.forward_t(&xv, false) - &yv).square().mean(Kind::Float).double_value(&[])));

    let h1 = config(100).build()?.fit(&vs, &train, loss, val)?;
    println!(
        "first run: {} epochs, validation MSE {:.2e}",
        h1.epochs.len(),
        h1.best_loss.unwrap_or(f64::NAN)
    );
    let h2 = config(200).build()?.fit(&vs, &train, loss, val)?;
    println!(
        "resumed at epoch {:?}: {} epochs in total, best validation MSE {:.2e} at epoch {:?}",
        h2.resumed_at,
        h2.epochs.len(),
        h2.best_loss.unwrap_or(f64::NAN),
        h2.best_epoch
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
