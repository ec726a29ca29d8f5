use crate::neuron::{Leaky, NeuronOptions, Reset};
use crate::{loss, Layer, SpikingNet, Surrogate};
use tch::{nn, Device, Kind, Tensor};

fn net(vs: &nn::VarStore, o: &NeuronOptions) -> SpikingNet {
    let root = vs.root();
    SpikingNet::new()
        .push(Layer::Linear(nn::linear(&root / "fc1", 20, 30, Default::default())))
        .neuron(Leaky::new(&(&root / "lif1"), 0.9, o).unwrap())
        .push(Layer::Linear(nn::linear(&root / "fc2", 30, 5, Default::default())))
        .neuron(Leaky::new(&(&root / "lif2"), 0.8, o).unwrap())
}

fn grads(vs: &nn::VarStore) -> Vec<Vec<f32>> {
    let mut v = vs.variables().into_iter().collect::<Vec<_>>();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.iter().map(|(_, t)| Vec::<f32>::try_from(&t.grad().flatten(0, -1)).unwrap()).collect()
}

/// Spikes equal the tensor path's exactly; gradients agree to f32 rounding.
#[test]
fn fused_pass_equals_the_tensor_path() {
    for (reset, surrogate) in [
        (Reset::Subtract, Surrogate::FastSigmoid { slope: 25.0 }),
        (Reset::Zero, Surrogate::Atan { alpha: 2.0 }),
        (Reset::None, Surrogate::Sigmoid { slope: 5.0 }),
    ] {
        core_tensor::seed::seed_everything(4);
        let vs = nn::VarStore::new(Device::Cpu);
        let o = NeuronOptions::default().reset(reset).surrogate(surrogate.clone());
        let model = net(&vs, &o);
        // weights on a grid of 2⁻¹⁰, so that sums in any order are exact and both paths see the
        // same currents (the event sums add in another order than the dense product)
        tch::no_grad(|| {
            for mut v in vs.trainable_variables() {
                let q = (&v * 1024.0).round() / 1024.0;
                v.copy_(&q);
            }
        });
        // binary input (event path for every layer) and graded input (dense first layer)
        let spikes = Tensor::rand([12, 7, 20], (Kind::Float, Device::Cpu)).bernoulli_p(0.3);
        let x = if reset == Reset::Zero { spikes * 1.5 } else { spikes };
        let y = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 0, 1]);
        let out = model.forward_multi_step(&x, false).unwrap();
        let l = loss::ce_count(&out.spk, &y).unwrap();
        l.backward();
        let want = grads(&vs);
        for v in vs.trainable_variables() {
            let _ = v.grad().zero_();
        }
        let fused = model.fused_backward(&x, |s| loss::ce_count(s, &y)).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(&fused.spk.flatten(0, -1)).unwrap(),
            Vec::<f32>::try_from(&out.spk.detach().flatten(0, -1)).unwrap()
        );
        assert!((fused.loss - l.double_value(&[])).abs() < 1e-6);
        let got = grads(&vs);
        for (g, w) in got.iter().zip(&want) {
            let scale = w.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
            let err = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale;
            assert!(err < 1e-4, "{reset:?} {surrogate:?}: {err}");
        }
    }
}

#[test]
fn unsupported_networks_are_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let o = NeuronOptions { learn_threshold: true, ..NeuronOptions::default() };
    let model = net(&vs, &o);
    let x = Tensor::zeros([3, 2, 20], (Kind::Float, Device::Cpu));
    let e = model.fused_backward(&x, |s| Ok(s.sum(Kind::Float))).unwrap_err();
    assert!(e.to_string().contains("learnable"), "{e}");
    let model = net(&vs, &NeuronOptions::default());
    let e = model
        .fused_backward(&Tensor::zeros([3, 2, 19], (Kind::Float, Device::Cpu)), |s| Ok(s.sum(Kind::Float)));
    assert!(e.unwrap_err().to_string().contains("x"));
    let e = model.fused_backward(&x, |s| Ok(s.shallow_clone())).unwrap_err();
    assert!(e.to_string().contains("scalar"), "{e}");
    let nan = x.fill(f64::NAN);
    let e = model.fused_backward(&nan, |s| Ok(s.sum(Kind::Float))).unwrap_err();
    assert!(e.to_string().contains('x'), "{e}");
}
