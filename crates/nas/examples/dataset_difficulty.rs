//! How hard is the procedural image set? A fixed ResNet-8 trained under one protocol on it and,
//! when `SCIML_CIFAR10` names a directory with the CIFAR-10 binary batches, on CIFAR-10.
//!
//! ```text
//! cargo run --release -p sciml-nas --example dataset_difficulty [-- EPOCHS]
//! SCIML_CIFAR10=/path/to/cifar-10-batches-bin cargo run --release -p sciml-nas --example dataset_difficulty
//! ```
//!
//! Both sets: 10 classes, 32×32 RGB, 5000 training and 1000 test images, SGD 0.9, lr 0.05 cosine,
//! weight decay 5e-4, batch 128.

use nas::data::{read_cifar10, ProceduralImages};
use nas::resnet::ResNet8;
use nas::train::{train_network, ImageData, TrainConfig};
use tch::{nn, Tensor};

fn split(x: Tensor, y: Tensor, xt: Tensor, yt: Tensor, n: i64, m: i64) -> ImageData {
    ImageData {
        x_train: x.narrow(0, 0, n),
        y_train: y.narrow(0, 0, n),
        x_val: xt.narrow(0, 0, m),
        y_val: yt.narrow(0, 0, m),
        x_test: xt.narrow(0, 0, m),
        y_test: yt.narrow(0, 0, m),
    }
}

fn run(name: &str, data: &ImageData, epochs: usize) -> nas::Result<()> {
    core_tensor::seed::seed_torch(0);
    let device = core_tensor::device::device();
    let data = data.to_device(device);
    let vs = nn::VarStore::new(device);
    let net = ResNet8::new(&vs.root(), 3, 16, 10)?;
    let forward = |x: &Tensor, train: bool| net.forward_t(x, train);
    let cfg = TrainConfig::new(epochs, 128);
    let params = core_tensor::train::optim::trainable_named(&vs);
    let t = std::time::Instant::now();
    let out = train_network(forward, params, &data, &cfg, &mut core_tensor::seed::rng(1))?;
    println!(
        "{name:<28} ResNet-8, {epochs} epochs: test accuracy {:.4} (final training loss {:.3}, {:.0} s)",
        out.test_acc,
        out.train_loss.last().copied().unwrap_or(f64::NAN),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> nas::Result<()> {
    let epochs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let (n, m) = (5000i64, 1000i64);
    let gen = ProceduralImages { classes: 10, size: 32, noise: 0.1 };
    let (x, y) = gen.generate((n + m) as usize, &mut core_tensor::seed::rng(7))?;
    let proc = split(x.narrow(0, 0, n), y.narrow(0, 0, n), x.narrow(0, n, m), y.narrow(0, n, m), n, m);
    run("procedural 10-class 32×32", &proc, epochs)?;
    match std::env::var_os("SCIML_CIFAR10") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            let (x, y) = read_cifar10(dir.join("data_batch_1.bin"))?;
            let (xt, yt) = read_cifar10(dir.join("test_batch.bin"))?;
            run("CIFAR-10 (5000 of batch 1)", &split(x, y, xt, yt, n, m), epochs)?;
        }
        None => println!("CIFAR-10: set SCIML_CIFAR10 to the directory of its binary batches to compare"),
    }
    Ok(())
}
