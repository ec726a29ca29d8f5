//! Fit a neural ODE to the time-1 flow of the harmonic oscillator (a rotation) from random initial
//! states, then compare the three gradient strategies on the trained model.
//!
//! `cargo run -p sciml-neural-diffeq --release --example neural_ode_fit`

use core_tensor::train::{trainable_named, OptimizerConfig, StepOutput, Trainer};
use neural_diffeq::prelude::*;
use tch::{nn, Kind, Tensor};

fn main() -> neural_diffeq::Result<()> {
    core_tensor::seed::seed_torch(0);
    let dev = core_tensor::device::device();
    let vs = nn::VarStore::new(dev);
    let ode = NeuralOde::new(&vs.root(), NeuralOdeConfig { hidden: vec![32, 32], ..Default::default() })?;
    let x0 = Tensor::randn([256, 2], (Kind::Float, dev));
    // exact flow of x'' = −x over one time unit: a rotation by 1 radian
    let (c, s) = (1f64.cos(), 1f64.sin());
    let rot = Tensor::from_slice(&[c as f32, -s as f32, s as f32, c as f32]).view([2, 2]).to(dev);
    let target = x0.matmul(&rot);
    let solver = ExplicitRk::dopri5();
    let control = StepControl::adaptive(1e-5, 1e-5);
    let mut trainer = Trainer::builder().optimizer(OptimizerConfig::adam(1e-2)).build()?;
    trainer.run_steps(trainable_named(&vs), 300, |c| {
        let sol = solve(&ode, &solver, (0.0, 1.0), &x0, &control, &SaveAt::t1())?;
        let loss = (sol.ys.last().unwrap() - &target).square().mean(Kind::Float);
        if c.step % 50 == 0 || c.step == 299 {
            println!(
                "iteration {:3}: MSE {:.3e}, {} evaluations",
                c.step,
                loss.double_value(&[]),
                sol.stats.nfe
            );
        }
        Ok(StepOutput::Loss(loss))
    })?;
    for g in [
        Gradient::Backprop,
        Gradient::Recompute,
        Gradient::Adjoint { rtol: 1e-5, atol: 1e-5, seminorm: true },
    ] {
        let (_, gy0, fwd, back) =
            ode.backward(&vs, &x0, (0.0, 1.0), &solver, &control, &g, |y| Ok((y - &target) * (2.0 / 512.0)))?;
        println!(
            "{g:?}: |dL/dy0| = {:.4e}, forward NFE {}, backward NFE {}",
            gy0.norm().double_value(&[]),
            fwd.nfe,
            back.nfe
        );
    }
    Ok(())
}
