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

/// Any neuron can be made recurrent: with zero feedback gains [`Recurrent`] spikes exactly as its
/// parent; with gains the previous spikes raise the drive, so it fires at least as often.
#[test]
fn recurrent_wraps_any_neuron() {
    let vs = nn::VarStore::new(Device::Cpu);
    let o = NeuronOptions::default().reset_delay(true);
    let x = Tensor::rand([20, 3, 4], (Kind::Float, Device::Cpu)) * 0.6;
    let parent = run(&Lapicque::new(&vs.root(), 2.0, 1.0, 1.0, &o).unwrap(), &x).unwrap();
    let off = Recurrent::wrap(
        Lapicque::new(&vs.root(), 2.0, 1.0, 1.0, &o).unwrap(),
        Feedback::one_to_one(&(vs.root() / "off"), 0.0, false).unwrap(),
    );
    assert_eq!(off.state_names(), vec!["spk", "mem"]);
    let rec = run(&off, &x).unwrap();
    assert!(rec.spk.equal(&parent.spk));
    let on = Recurrent::wrap(
        Alpha::new(&(vs.root() / "a"), 0.9, 0.8, &o).unwrap(),
        Feedback::one_to_one(&(vs.root() / "on"), 0.5, false).unwrap(),
    );
    assert_eq!(on.state_names(), vec!["spk", "syn_exc", "syn_inh", "mem"]);
    let alone = run(&Alpha::new(&(vs.root() / "b"), 0.9, 0.8, &o).unwrap(), &x).unwrap();
    let fed = run(&on, &x).unwrap();
    assert!(fed.spk.sum(Kind::Double).double_value(&[]) >= alone.spk.sum(Kind::Double).double_value(&[]));
}
