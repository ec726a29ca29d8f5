use super::*;
use crate::nn::MlpConfig;
use tch::{nn, nn::ModuleT, Kind};

fn host<T: Real>(t: &Tensor) -> Vec<T> {
    host_values(t).unwrap()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// Forward pass and vector–Jacobian product against libtorch's forward and autograd, for several
/// activations, with and without biases, across a row count spanning three blocks.
fn check_against_libtorch<T: Real>(kind: Kind, tol: f64) {
    crate::seed::seed_everything(3);
    let configs = [
        (vec![2, 64, 64, 2], MlpConfig::default().activation(Activation::Tanh)),
        (
            vec![5, 16, 3],
            MlpConfig::default().activation(Activation::Relu).final_activation(Activation::Sigmoid),
        ),
        (vec![4, 8, 8, 4], MlpConfig::default().activation(Activation::Softplus).bias(false)),
        (vec![3, 7, 2], MlpConfig::default().activation(Activation::Gelu).final_activation(Activation::Tanh)),
        (vec![3, 6, 2], MlpConfig::default().activation(Activation::Lipswish)),
        // every layer packed: the input read with strides, the output written row-major
        (
            vec![6, 12, 5],
            MlpConfig::default().activation(Activation::Selu).final_activation(Activation::Softplus),
        ),
        (
            vec![7, 9, 11, 6],
            MlpConfig::default().activation(Activation::Tanh).final_activation(Activation::Tanh),
        ),
    ];
    for (widths, cfg) in configs {
        let mut vs = nn::VarStore::new(Device::Cpu);
        let mlp = Mlp::new(&vs.root(), &widths, cfg.clone()).unwrap();
        if kind == Kind::Double {
            vs.double();
        }
        check_one::<T>(&mlp, &widths, kind, tol);
    }
}

fn check_one<T: Real>(mlp: &Mlp, widths: &[i64], kind: Kind, tol: f64) {
    let rows = 2 * BLOCK_ROWS + 37;
    let x = Tensor::randn([rows as i64, widths[0]], (kind, Device::Cpu)).set_requires_grad(true);
    let y = mlp.forward_t(&x, false);
    let gy = Tensor::randn_like(&y);
    (&y * &gy).sum(Kind::Double).backward();
    let native = NativeMlp::<T>::from_mlp(mlp).unwrap();
    let (xs, gys) = (host::<T>(&x.detach()), host::<T>(&gy));
    let mut cache = MlpCache::default();
    let mut out = vec![T::ZERO; rows * native.out_dim()];
    native.forward_into(&xs, &mut out, &mut cache).unwrap();
    let f = |v: &[T]| v.iter().map(|x| x.to_f64()).collect::<Vec<_>>();
    let e = max_rel(&f(&out), &host::<f64>(&y.detach()));
    assert!(e < tol, "{widths:?} forward: {e}");
    let mut gx = vec![T::ZERO; xs.len()];
    let mut gp = vec![T::ZERO; native.num_params()];
    native.vjp(&mut cache, &xs, &gys, Some(&mut gx), &mut gp).unwrap();
    let e = max_rel(&f(&gx), &host::<f64>(&x.grad()));
    assert!(e < tol, "{widths:?} ∂x: {e}");
    let want: Vec<f64> = mlp
        .layers()
        .iter()
        .flat_map(|l| {
            let mut v = host::<f64>(&l.ws.grad());
            if let Some(b) = &l.bs {
                v.extend(host::<f64>(&b.grad()));
            }
            v
        })
        .collect();
    let e = max_rel(&f(&gp), &want);
    assert!(e < tol, "{widths:?} ∂θ: {e}");
    // unflatten gives one tensor per variable, shaped like it
    let ts = native.unflatten(&gp, Device::Cpu).unwrap();
    let shapes: Vec<Vec<i64>> = mlp
        .layers()
        .iter()
        .flat_map(|l| std::iter::once(l.ws.size()).chain(l.bs.iter().map(|b| b.size())))
        .collect();
    assert_eq!(ts.iter().map(|t| t.size()).collect::<Vec<_>>(), shapes);
}

#[test]
fn f32_matches_libtorch() {
    check_against_libtorch::<f32>(Kind::Float, 2e-5);
}

#[test]
fn f64_matches_libtorch() {
    check_against_libtorch::<f64>(Kind::Double, 1e-12);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mlp = Mlp::new(&vs.root(), &[2, 32, 2], MlpConfig::default().activation(Activation::Tanh)).unwrap();
    let native = NativeMlp::<f32>::from_mlp(&mlp).unwrap();
    let x: Vec<f32> = (0..2 * 1000).map(|i| (i as f32 * 0.37).sin()).collect();
    let run = || {
        let mut cache = MlpCache::default();
        let mut out = vec![0f32; 2000];
        native.forward_into(&x, &mut out, &mut cache).unwrap();
        let mut gp = vec![0f32; native.num_params()];
        native.vjp(&mut cache, &x, &out.clone(), None, &mut gp).unwrap();
        (out, gp)
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(pool.install(run), run());
}

#[test]
fn bad_sizes_are_errors() {
    let w = vec![vec![0f64; 6], vec![0f64; 6]];
    assert!(NativeMlp::new(vec![2, 3, 2], w.clone(), vec![None, None], Activation::Tanh, None).is_ok());
    assert!(NativeMlp::new(vec![2, 3], w.clone(), vec![None, None], Activation::Tanh, None).is_err());
    assert!(NativeMlp::new(vec![2, 0, 2], w.clone(), vec![None, None], Activation::Tanh, None).is_err());
    let e = NativeMlp::new(vec![2, 3, 2], w.clone(), vec![Some(vec![0.0; 2]), None], Activation::Tanh, None);
    assert!(e.unwrap_err().to_string().contains("biases[0]"));
    let m = NativeMlp::new(vec![2, 3, 2], w, vec![None, None], Activation::Tanh, None).unwrap();
    assert!(m.forward(&[1.0; 5]).unwrap_err().to_string().contains('x'));
    let mut cache = MlpCache::default();
    let mut gp = vec![0.0; m.num_params()];
    // no forward pass in the cache
    assert!(m.vjp(&mut cache, &[1.0; 4], &[1.0; 4], None, &mut gp).is_err());
    let mut out = vec![0.0; 4];
    m.forward_into(&[1.0; 4], &mut out, &mut cache).unwrap();
    assert!(m.vjp(&mut cache, &[1.0; 4], &[1.0; 3], None, &mut gp).is_err());
    assert!(m.vjp(&mut cache, &[1.0; 4], &[1.0; 4], None, &mut [0.0; 3]).is_err());
    assert!(m.vjp(&mut cache, &[1.0; 4], &[1.0; 4], Some(&mut [0.0; 3]), &mut gp).is_err());
}
