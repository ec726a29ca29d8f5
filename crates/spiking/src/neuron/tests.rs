//! Unit tests of the neurons' parameter checks and shapes.

use super::*;
use tch::{nn, Device, Kind, Tensor};

#[test]
fn parameter_errors_are_clear() {
    let vs = nn::VarStore::new(Device::Cpu);
    let o = NeuronOptions::default().clamp(false);
    let e = Leaky::new(&vs.root(), 1.2, &o).unwrap_err().to_string();
    assert!(e.contains("beta") && e.contains("1.2"), "{e}");
    // Clamped (snnTorch's default): β = 1.2 acts as 1.
    assert!(Leaky::new(&vs.root(), 1.2, &NeuronOptions::default()).is_ok());
    assert!(Leaky::new(&vs.root(), f64::NAN, &NeuronOptions::default()).is_err());
    assert!(Alpha::new(&vs.root(), 0.5, 0.8, &NeuronOptions::default()).is_err());
    assert!(Lapicque::new(&vs.root(), -1.0, 1.0, 1.0, &NeuronOptions::default()).is_err());
    assert!(Reset::from_name("soft").is_err());
}

#[test]
fn learned_beta_leaving_range_is_an_error() {
    let vs = nn::VarStore::new(Device::Cpu);
    let o = NeuronOptions::default().clamp(false).learn(false, true, false);
    let n = Leaky::new(&vs.root(), 0.9, &o).unwrap();
    let _ = tch::no_grad(|| vs.variables()["beta"].shallow_clone().fill_(1.5));
    let x = Tensor::ones([3, 2, 2], (Kind::Float, Device::Cpu));
    let e = run(&n, &x).unwrap_err().to_string();
    assert!(e.contains("beta") && e.contains("1.5"), "{e}");
}

#[test]
fn shape_mismatch_is_an_error() {
    let vs = nn::VarStore::new(Device::Cpu);
    let n = Leaky::new(&vs.root(), 0.9, &NeuronOptions::default()).unwrap();
    let mut st = n.init_state(&Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)));
    let e = n.step(&Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)), &mut st).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[2, 4]"), "{e}");
    assert!(run(&n, &Tensor::zeros([4], (Kind::Float, Device::Cpu))).is_err());
}

#[test]
fn lapicque_from_beta_matches_snntorch_parameterisation() {
    let vs = nn::VarStore::new(Device::Cpu);
    let n = Lapicque::from_beta(&vs.root(), 0.9, 1.0, &NeuronOptions::default()).unwrap();
    assert!((n.decay() - (1.0 - (1.0f64 / 0.9).ln())).abs() < 1e-15);
}
