//! The same fit as `neural_ode_fit` (the time-1 flow of the harmonic oscillator) on the native path:
//! the model lives in a libtorch var store and the Trainer's Adam steps it, while every solve and
//! gradient runs in plain Rust ([`neural_diffeq::native`]). Both paths train for the same steps
//! from the same initial weights; the example prints both losses and times.
//!
//! `cargo run -p sciml-neural-diffeq --release --example native_neural_ode`

use core_tensor::train::{trainable_named, OptimizerConfig, StepOutput, Trainer};
use neural_diffeq::native::{self, Batch};
use neural_diffeq::prelude::*;
use std::time::Instant;
use tch::{nn, Kind, Tensor};

const STEPS: usize = 200;

fn problem() -> neural_diffeq::Result<(nn::VarStore, NeuralOde, Tensor, Tensor)> {
    core_tensor::seed::seed_everything(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig { hidden: vec![32, 32], ..Default::default() })?;
    let x0 = Tensor::randn([512, 2], (Kind::Float, dev));
    let (c, s) = (1f64.cos(), 1f64.sin());
    let rot = Tensor::from_slice(&[c as f32, -s as f32, s as f32, c as f32]).view([2, 2]).to(dev);
    let target = x0.matmul(&rot);
    Ok((vs, ode, x0, target))
}

fn main() -> neural_diffeq::Result<()> {
    let solver = ExplicitRk::dopri5();
    let control = StepControl::adaptive(1e-5, 1e-5);

    // libtorch path: the loss's graph through every solver operation
    let (vs, ode, x0, target) = problem()?;
    let mut trainer = Trainer::builder().optimizer(OptimizerConfig::adam(1e-2)).build()?;
    let start = Instant::now();
    let tensor_history = trainer.run_steps(trainable_named(&vs), STEPS, |_| {
        let sol = solve(&ode, &solver, (0.0, 1.0), &x0, &control, &SaveAt::t1())?;
        Ok(StepOutput::Loss((sol.ys.last().unwrap() - &target).square().mean(Kind::Float)))
    })?;
    let tensor_time = start.elapsed().as_secs_f64();

    // native path: same model, same initial weights, gradients computed in plain Rust and handed
    // to the Trainer through the variables' .grad
    let (vs, ode, x0, target) = problem()?;
    let mut field = ode.native::<f32>()?;
    let y0 = Batch::<f32>::from_tensor(&x0)?;
    let target = Batch::<f32>::from_tensor(&target)?;
    let n = target.data().len() as f32;
    let mut trainer = Trainer::builder().optimizer(OptimizerConfig::adam(1e-2)).build()?;
    let start = Instant::now();
    let native_history = trainer.run_steps(trainable_named(&vs), STEPS, |_| {
        field.load(ode.mlp())?; // the weights after the last Adam step
        let mut loss = 0.0;
        let g = native::backprop(&field, &solver, (0.0, 1.0), &y0, &control, |y1| {
            // MSE and its gradient 2 (y − target) / n
            let d: Vec<f32> = y1.data().iter().zip(target.data()).map(|(a, b)| a - b).collect();
            loss = d.iter().map(|v| (v * v) as f64).sum::<f64>() / n as f64;
            Batch::new(d.iter().map(|v| 2.0 * v / n).collect(), y1.rows(), y1.cols())
        })?;
        ode.add_native_grads(&field, &g.grad_params)?;
        Ok(StepOutput::Gradients(loss))
    })?;
    let native_time = start.elapsed().as_secs_f64();

    let (a, b) = (tensor_history.losses(), native_history.losses());
    for k in [0, STEPS / 4, STEPS / 2, STEPS - 1] {
        println!("step {k:3}: MSE libtorch {:.4e}, native {:.4e}", a[k], b[k]);
    }
    println!(
        "{STEPS} training steps: libtorch path {tensor_time:.2} s, native path {native_time:.2} s ({:.1}x)",
        tensor_time / native_time
    );
    Ok(())
}
