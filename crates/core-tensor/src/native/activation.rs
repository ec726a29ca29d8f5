//! Activations and their derivatives on slices, with libtorch's definitions (softplus switches to
//! the identity above 20, GELU is the exact erf form, LipSwish is `0.909 · x σ(x)`).

use super::real::Real;
use crate::nn::Activation;

const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const LIPSWISH: f64 = 0.909;

#[inline(always)]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Whether `φ'` needs the pre-activation `z`; otherwise [`backward`] reads only `a = φ(z)` (tanh,
/// sigmoid, relu, identity), and `z` need not be kept.
pub fn derivative_needs_input(act: Activation) -> bool {
    !matches!(act, Activation::Identity | Activation::Tanh | Activation::Sigmoid | Activation::Relu)
}

/// `a ← φ(z)` elementwise (`a` and `z` of one length). NaN inputs give NaN outputs.
pub fn apply<T: Real>(act: Activation, z: &[T], a: &mut [T]) {
    debug_assert_eq!(z.len(), a.len());
    let map = |a: &mut [T], f: &dyn Fn(f64) -> f64| {
        for (o, x) in a.iter_mut().zip(z) {
            *o = T::from_f64(f(x.to_f64()));
        }
    };
    match act {
        Activation::Identity => a.copy_from_slice(z),
        Activation::Tanh => {
            a.copy_from_slice(z);
            T::tanh_in_place(a);
        }
        Activation::Relu => {
            for (o, x) in a.iter_mut().zip(z) {
                // `x < 0`, not `x > 0`: NaN passes through as libtorch's relu lets it
                *o = if *x < T::ZERO { T::ZERO } else { *x };
            }
        }
        Activation::Sigmoid => map(a, &sigmoid),
        Activation::Softplus => map(a, &|x| if x > 20.0 { x } else { x.exp().ln_1p() }),
        Activation::Gelu => map(a, &|x| 0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2))),
        Activation::Selu => {
            map(a, &|x| if x > 0.0 { SELU_LAMBDA * x } else { SELU_LAMBDA * SELU_ALPHA * x.exp_m1() })
        }
        Activation::Lipswish => map(a, &|x| LIPSWISH * x * sigmoid(x)),
    }
}

/// `g ← g · φ'(z)` elementwise, given the pre-activation `z` and the activation `a = φ(z)` (`z` is
/// not read where [`derivative_needs_input`] is false).
pub fn backward<T: Real>(act: Activation, z: &[T], a: &[T], g: &mut [T]) {
    debug_assert!(z.len() == g.len() && a.len() == g.len());
    let scale = |g: &mut [T], d: &dyn Fn(f64, f64) -> f64| {
        for ((gi, zi), ai) in g.iter_mut().zip(z).zip(a) {
            *gi = T::from_f64(gi.to_f64() * d(zi.to_f64(), ai.to_f64()));
        }
    };
    match act {
        Activation::Identity => {}
        Activation::Tanh => {
            for (gi, ai) in g.iter_mut().zip(a) {
                *gi *= T::ONE - *ai * *ai;
            }
        }
        Activation::Relu => {
            for (gi, ai) in g.iter_mut().zip(a) {
                if !(*ai > T::ZERO) {
                    *gi = T::ZERO;
                }
            }
        }
        Activation::Sigmoid => scale(g, &|_, s| s * (1.0 - s)),
        Activation::Softplus => scale(g, &|x, _| if x > 20.0 { 1.0 } else { sigmoid(x) }),
        Activation::Gelu => scale(g, &|x, _| {
            let cdf = 0.5 * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2));
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            cdf + x * pdf
        }),
        Activation::Selu => {
            scale(g, &|x, _| if x > 0.0 { SELU_LAMBDA } else { SELU_LAMBDA * SELU_ALPHA * x.exp() })
        }
        Activation::Lipswish => scale(g, &|x, _| {
            let s = sigmoid(x);
            LIPSWISH * (s + x * s * (1.0 - s))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    /// Values and derivatives against libtorch's own, in f64.
    #[test]
    fn every_activation_and_derivative_matches_libtorch() {
        let xs: Vec<f64> = (0..=240).map(|i| -30.0 + 0.25 * i as f64).collect();
        for act in Activation::ALL {
            let t = Tensor::from_slice(&xs).set_requires_grad(true);
            let y = act.apply(&t);
            y.sum(Kind::Double).backward();
            let want_y = Vec::<f64>::try_from(&y.detach()).unwrap();
            let want_d = Vec::<f64>::try_from(&t.grad()).unwrap();
            let mut a = vec![0.0; xs.len()];
            apply(act, &xs, &mut a);
            let mut g = vec![1.0; xs.len()];
            backward(act, &xs, &a, &mut g);
            for i in 0..xs.len() {
                assert!(
                    (a[i] - want_y[i]).abs() <= 1e-12 * (1.0 + want_y[i].abs()),
                    "{act} at {}: {} vs {}",
                    xs[i],
                    a[i],
                    want_y[i]
                );
                assert!(
                    (g[i] - want_d[i]).abs() <= 1e-9 * (1.0 + want_d[i].abs()),
                    "{act}' at {}: {} vs {}",
                    xs[i],
                    g[i],
                    want_d[i]
                );
            }
        }
    }

    #[test]
    fn nan_passes_through() {
        for act in Activation::ALL {
            let mut a = [0f32; 1];
            apply(act, &[f32::NAN], &mut a);
            assert!(a[0].is_nan(), "{act}");
        }
    }
}
