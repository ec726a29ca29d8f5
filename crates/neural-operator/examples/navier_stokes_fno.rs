//! Learn the time-1 map of forced 2-D Navier–Stokes (ν = 1e-3, the FNO forcing) with a 2-D FNO on
//! a 32×32 grid: generate the data with the pseudo-spectral solver (cached as safetensors under the
//! system temp directory), train, and report the test relative L2 error.
//!
//! `cargo run -p sciml-neural-operator --release --example navier_stokes_fno`

use core_tensor::data::DataLoader;
use core_tensor::train::{Control, EpochRecord, LrSchedule, OptimizerConfig, Trainer};
use neural_operator::data::cached_pair;
use neural_operator::data::pairs::navier_stokes_pairs;
use neural_operator::fno::{relative_lp_loss, Fno, FnoConfig};
use tch::{nn, Tensor};

fn main() -> neural_operator::Result<()> {
    core_tensor::seed::seed_torch(0);
    let dev = core_tensor::device::device();
    let cache = std::env::temp_dir().join("neural-operator-examples");
    let epochs = 60;
    let (xtr, ytr) =
        cached_pair(&cache, "ns_example_train_200", || navier_stokes_pairs(200, 32, 1e-3, 2e-3, 0))?;
    let (xte, yte) =
        cached_pair(&cache, "ns_example_test_50", || navier_stokes_pairs(50, 32, 1e-3, 2e-3, 1))?;
    let (xtr, ytr, xte, yte) = (xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev));
    let vs = nn::VarStore::new(dev);
    let cfg = FnoConfig { modes: vec![8, 8], width: 24, ..Default::default() };
    let fno = Fno::new(&vs.root(), cfg)?;
    let error = |x: &Tensor, y: &Tensor| -> core_tensor::Result<Tensor> {
        Ok(relative_lp_loss(&fno.forward(x, None)?, y, 2.0)?)
    };
    let mut trainer = Trainer::builder()
        .epochs(epochs)
        .optimizer(OptimizerConfig::adam(3e-3))
        .schedule(LrSchedule::Constant)
        .seed(0)
        .build()?;
    trainer.observe(move |r: &EpochRecord| {
        if r.epoch.is_multiple_of(10) || r.epoch + 1 == epochs {
            let test = r.val_loss.unwrap_or(f64::NAN);
            println!("epoch {:2}: train rel. L2 {:.4}, test rel. L2 {test:.4}", r.epoch, r.train_loss);
        }
        Control::Continue
    });
    let train = DataLoader::new(vec![xtr, ytr], 20, 0)?;
    let test = || tch::no_grad(|| error(&xte, &yte)).map(|e| Some(e.double_value(&[])));
    trainer.fit(&vs, &train, |b| error(&b[0], &b[1]), test)?;
    Ok(())
}
