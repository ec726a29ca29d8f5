//! Zero-cost proxies: scores of an untrained network that are meant to rank architectures.
//!
//! With `L` the cross-entropy on one batch and `θ` the weights of every convolution and linear
//! layer (tensors of rank ≥ 2):
//! - `grad_norm` (Abdelfattah et al. 2021): `Σ_layers ‖∂L/∂θ‖₂`;
//! - `snip` (Lee et al. 2019): `Σ |θ ⊙ ∂L/∂θ|`;
//! - `synflow` (Tanaka et al. 2020): in f64 with every BatchNorm removed, `θ ← |θ|` for all
//!   parameters, input all ones `[1, C, H, W]`, `R = Σ f(1)`, score `Σ |θ ⊙ ∂R/∂θ|`;
//! - `jacob_cov` (Mellor et al. 2021, v1): `J` = rows `∂(Σ_k f_k(x_b))/∂x_b`, `Σ` = correlation
//!   matrix of the rows, eigenvalues `λ`, score `−Σ_i [log(λ_i + k) + 1/(λ_i + k)]`, `k = 10⁻⁵`;
//! - `naswot` (Mellor et al. 2021): binary codes `c = 1[z > 0]` of every ReLU input `z`,
//!   `K = Σ_layers [c cᵀ + (1 − c)(1 − c)ᵀ]` over the batch, score `log|det K|`; a singular `K`
//!   (two inputs with identical codes everywhere, e.g. a cell that outputs zeros) scores
//!   `f64::MIN`, the lowest finite value, so such networks rank last;
//! - `dextr` (label-free): `S = log(1 + Σ_layers σ_min/σ_max)` of each ReLU layer's feature matrix
//!   `[B, D]`, `K = log(1 + κ)` with `κ` the total extrinsic curvature `∮ κ(θ) ‖y′(θ)‖ dθ` of the
//!   logits along the input circle `x(θ) = u cos θ + v sin θ` (orthonormal random `u, v` scaled to
//!   the batch's mean image norm; derivatives by central differences on 64 points, BatchNorm in
//!   inference mode), score `S·K/(S + K)`;
//! - `params`: trainable parameter count; `flops`: multiply–accumulates of one image
//!   ([`crate::model::CellNetwork::macs`]).
//!
//! Scores are deterministic given the seed that initialises the network.

use std::cell::RefCell;
use std::f64::consts::PI;

use tch::nn;
use tch::{Kind, Tensor};

use core_tensor::train::optim::trainable_named;

use crate::model::{CellNetwork, NetworkConfig};
use crate::space::{Cell, CellSpace};
use crate::train::{cross_entropy, grads_or_zeros};
use crate::{Error, Result};

/// A zero-cost proxy (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Proxy {
    /// Sum of layer gradient norms.
    GradNorm,
    /// Connection sensitivity `Σ|θ ⊙ g|`.
    Snip,
    /// Synaptic flow in f64 without BatchNorm.
    Synflow,
    /// Jacobian covariance score.
    JacobCov,
    /// NASWOT log-determinant of the activation-pattern kernel.
    Naswot,
    /// Dextr: feature conditioning × output curvature.
    Dextr,
    /// Parameter count.
    Params,
    /// Multiply–accumulates.
    Flops,
}

impl Proxy {
    /// Every proxy.
    pub const ALL: [Proxy; 8] = [
        Proxy::GradNorm,
        Proxy::Snip,
        Proxy::Synflow,
        Proxy::JacobCov,
        Proxy::Naswot,
        Proxy::Dextr,
        Proxy::Params,
        Proxy::Flops,
    ];

    /// The proxy's name as used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Proxy::GradNorm => "grad_norm",
            Proxy::Snip => "snip",
            Proxy::Synflow => "synflow",
            Proxy::JacobCov => "jacob_cov",
            Proxy::Naswot => "naswot",
            Proxy::Dextr => "dextr",
            Proxy::Params => "params",
            Proxy::Flops => "flops",
        }
    }

    /// Parses a name.
    ///
    /// # Errors
    /// An unknown name, listing the known ones.
    pub fn from_name(name: &str) -> Result<Self> {
        Proxy::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Proxy::ALL.iter().map(|p| p.name()).collect();
            Error::invalid("proxy", format!("{name:?}"), format!("unknown proxy; known: {known:?}"))
        })
    }
}

fn weights_of(params: &[(String, Tensor)]) -> Vec<Tensor> {
    params.iter().filter(|(_, t)| t.dim() >= 2).map(|(_, t)| t.shallow_clone()).collect()
}

fn sum_f64(ts: impl Iterator<Item = Tensor>) -> f64 {
    ts.map(|t| t.double_value(&[])).sum()
}

/// `Σ_layers ‖∂loss/∂θ‖₂` over the weight tensors `ws`.
pub fn grad_norm_of(loss: &Tensor, ws: &[Tensor]) -> f64 {
    sum_f64(grads_or_zeros(loss, ws).iter().map(|g| g.norm()))
}

/// `Σ |θ ⊙ ∂loss/∂θ|` over the weight tensors `ws`.
pub fn snip_of(loss: &Tensor, ws: &[Tensor]) -> f64 {
    sum_f64(grads_or_zeros(loss, ws).iter().zip(ws).map(|(g, w)| (g * w).abs().sum(Kind::Double)))
}

/// Synflow of `forward` whose parameters are `params` (all of them are made non-negative during
/// the call and restored after) on an all-ones `input`; the score sums over `ws`.
pub fn synflow_of(
    forward: impl Fn(&Tensor) -> Tensor,
    params: &[Tensor],
    ws: &[Tensor],
    input: &Tensor,
) -> f64 {
    let signs: Vec<Tensor> = tch::no_grad(|| {
        params
            .iter()
            .map(|p| {
                let s = p.sign();
                let mut q = p.shallow_clone();
                let _ = q.abs_();
                s
            })
            .collect()
    });
    let r = forward(&input.ones_like()).sum(input.kind());
    let score = snip_of(&r, ws);
    tch::no_grad(|| {
        for (p, s) in params.iter().zip(&signs) {
            let mut q = p.shallow_clone();
            let _ = q.g_mul_(s);
        }
    });
    score
}

/// The jacob_cov score of `forward` on the batch `x` `[B, …]` (module docs).
pub fn jacob_cov_of(forward: impl Fn(&Tensor) -> Tensor, x: &Tensor) -> Result<f64> {
    let xg = x.detach().copy().set_requires_grad(true);
    let out = forward(&xg).sum(Kind::Double);
    let j = grads_or_zeros(&out, &[xg.shallow_clone()]).remove(0).flatten(1, -1).to_kind(Kind::Double);
    let centred = &j - j.mean_dim(1, true, Kind::Double);
    let norm = centred.square().sum_dim_intlist(1, true, Kind::Double).sqrt().clamp_min(1e-300);
    let z = centred / norm;
    let corr = z.matmul(&z.tr());
    let ev = corr.linalg_eigvalsh("L");
    let k = 1e-5;
    let v = ev.clamp_min(0.0) + k;
    let s = -(v.log() + v.reciprocal()).sum(Kind::Double).double_value(&[]);
    if !s.is_finite() {
        return Err(Error::invalid("jacob_cov", s, "non-finite score (degenerate Jacobian)"));
    }
    Ok(s)
}

/// NASWOT `log|det K|` from pre-activation tensors of the ReLUs, each `[B, …]`.
pub fn naswot_of(pre_activations: &[Tensor]) -> f64 {
    let b = pre_activations.first().map(|t| t.size()[0]).unwrap_or(0);
    if b == 0 {
        return f64::NEG_INFINITY;
    }
    let dev = pre_activations[0].device();
    let mut k = Tensor::zeros([b, b], (Kind::Double, dev));
    for z in pre_activations {
        let c = z.flatten(1, -1).gt(0.0).to_kind(Kind::Double);
        let nc: Tensor = 1.0 - &c;
        k += c.matmul(&c.tr()) + nc.matmul(&nc.tr());
    }
    Tensor::linalg_slogdet(&k).1.double_value(&[])
}

/// Dextr's feature term `Σ_layers σ_min/σ_max` of each layer's `[B, D]` feature matrix.
pub fn inverse_condition_sum(features: &[Tensor]) -> f64 {
    sum_f64(features.iter().map(|f| {
        // Squared singular values from the smaller Gram matrix.
        let m = f.flatten(1, -1).to_kind(Kind::Double);
        let (b, d) = (m.size()[0], m.size()[1]);
        let gram = if b <= d { m.matmul(&m.tr()) } else { m.tr().matmul(&m) };
        let ev = gram.linalg_eigvalsh("L").clamp_min(0.0);
        let max = ev.max();
        if max.double_value(&[]) > 0.0 {
            (ev.min() / max).sqrt()
        } else {
            // cpu: a 0-dim scalar, which mixes with tensors of any device
            Tensor::from(0.0)
        }
    }))
}

/// Total extrinsic curvature `∮ κ ‖y′‖ dθ` of the closed curve `ys` `[M, D]` sampled at `M`
/// equispaced angles (central differences, periodic).
pub fn total_curvature(ys: &Tensor) -> f64 {
    let m = ys.size()[0];
    let y = ys.flatten(1, -1).to_kind(Kind::Double);
    let h = 2.0 * PI / m as f64;
    let next = y.roll([-1], [0]);
    let prev = y.roll([1], [0]);
    let d1 = (&next - &prev) / (2.0 * h);
    let d2 = (next - &y * 2.0 + prev) / (h * h);
    let v2 = d1.square().sum_dim_intlist(1, false, Kind::Double);
    let a2 = d2.square().sum_dim_intlist(1, false, Kind::Double);
    let va = (&d1 * &d2).sum_dim_intlist(1, false, Kind::Double);
    let num = (&v2 * a2 - va.square()).clamp_min(0.0).sqrt();
    // κ ‖y′‖ = √(‖v‖²‖a‖² − (v·a)²) / ‖v‖².
    let dens = num / v2.clamp_min(1e-300);
    dens.sum(Kind::Double).double_value(&[]) * h
}

/// Builds the network of `cell` and scores it with `proxy` on the batch `(x, y)` (images
/// `[B, C, H, W]`, labels `[B]`); the network is initialised from `seed` on `x`'s device.
///
/// # Errors
/// An invalid cell or configuration, shape mismatches, or a non-finite score.
pub fn score(
    proxy: Proxy,
    space: &CellSpace,
    cell: &Cell,
    cfg: NetworkConfig,
    x: &Tensor,
    y: &Tensor,
    seed: u64,
) -> Result<f64> {
    let xs = x.size();
    if xs.len() != 4 || y.size() != [xs[0]] || xs[1] != cfg.in_channels {
        return Err(Error::invalid(
            "batch",
            format!("images {xs:?}, labels {:?}", y.size()),
            format!("expected images [B, {}, H, W] and labels [B]", cfg.in_channels),
        ));
    }
    let dev = x.device();
    let _seed_scope = core_tensor::seed::TorchSeedScope::enter(seed);
    let synflow = proxy == Proxy::Synflow;
    let mut vs = nn::VarStore::new(dev);
    let net_cfg = NetworkConfig { batch_norm: cfg.batch_norm && !synflow, ..cfg };
    let net = CellNetwork::new(&vs.root(), space, cell, net_cfg)?;
    let named = trainable_named(&vs);
    let ws = weights_of(&named);
    let s = match proxy {
        Proxy::GradNorm => grad_norm_of(&cross_entropy(&net.forward_t(x, true), y), &ws),
        Proxy::Snip => snip_of(&cross_entropy(&net.forward_t(x, true), y), &ws),
        Proxy::Synflow => {
            vs.set_kind(Kind::Double);
            let all: Vec<Tensor> = named.iter().map(|(_, t)| t.shallow_clone()).collect();
            let input = x.narrow(0, 0, 1).to_kind(Kind::Double);
            synflow_of(|i| net.forward_t(i, true), &all, &ws, &input)
        }
        Proxy::JacobCov => jacob_cov_of(|i| net.forward_t(i, true), x)?,
        Proxy::Naswot => {
            let probe = RefCell::new(Vec::new());
            let _ = tch::no_grad(|| net.forward_probe(x, true, Some(&probe)));
            let s = naswot_of(&probe.into_inner());
            if s == f64::NEG_INFINITY {
                f64::MIN
            } else {
                s
            }
        }
        Proxy::Dextr => {
            let probe = RefCell::new(Vec::new());
            let _ = tch::no_grad(|| net.forward_probe(x, true, Some(&probe)));
            let feats: Vec<Tensor> = probe.into_inner().iter().map(|z| z.relu()).collect();
            let s = (1.0 + inverse_condition_sum(&feats)).ln();
            let k = (1.0 + tch::no_grad(|| curvature_along_circle(&net, x))).ln();
            if s + k > 0.0 {
                s * k / (s + k)
            } else {
                0.0
            }
        }
        Proxy::Params => named.iter().map(|(_, t)| t.numel() as f64).sum(),
        Proxy::Flops => net.macs(xs[2], xs[3]),
    };
    if !s.is_finite() {
        return Err(Error::invalid(proxy.name(), s, "non-finite proxy score"));
    }
    Ok(s)
}

fn curvature_along_circle(net: &CellNetwork, x: &Tensor) -> f64 {
    let d: i64 = x.size()[1..].iter().product();
    let radius = x.flatten(1, -1).norm_scalaropt_dim(2.0, [1i64].as_slice(), false).mean(Kind::Float);
    let basis = Tensor::linalg_qr(&Tensor::randn([d, 2], (Kind::Float, x.device())), "reduced").0;
    let (u, v) = (basis.select(1, 0), basis.select(1, 1));
    let m = 64;
    let theta = Tensor::arange(m, (Kind::Float, x.device())) * (2.0 * PI / m as f64);
    let pts =
        (theta.cos().unsqueeze(1) * u.unsqueeze(0) + theta.sin().unsqueeze(1) * v.unsqueeze(0)) * radius;
    let mut shape = x.size();
    shape[0] = m;
    total_curvature(&net.forward_t(&pts.view(shape.as_slice()), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SearchSpace;
    use tch::Device;

    fn t(v: &[f64], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for p in Proxy::ALL {
            assert_eq!(Proxy::from_name(p.name()).unwrap(), p);
        }
        let e = Proxy::from_name("zen").unwrap_err().to_string();
        assert!(e.contains("zen") && e.contains("synflow"), "{e}");
    }

    #[test]
    fn gradient_proxies_match_least_squares_closed_forms() {
        // L = ½‖W x − y‖², ∂L/∂W = (W x − y) xᵀ.
        let w = t(&[1.0, -2.0, 0.5, 3.0], &[2, 2]).set_requires_grad(true);
        let x = t(&[1.0, 2.0], &[2, 1]);
        let y = t(&[0.0, 1.0], &[2, 1]);
        let loss = || (w.matmul(&x) - &y).square().sum(Kind::Double) * 0.5;
        // W x − y = (−3, 5.5) ⇒ g = [[−3, −6], [5.5, 11]].
        let g = [-3.0, -6.0, 5.5, 11.0];
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((grad_norm_of(&loss(), &[w.shallow_clone()]) - norm).abs() < 1e-12);
        let snip: f64 = [1.0, -2.0, 0.5, 3.0].iter().zip(g).map(|(a, b)| (a * b).abs()).sum();
        assert!((snip_of(&loss(), &[w.shallow_clone()]) - snip).abs() < 1e-12);
    }

    #[test]
    fn synflow_of_a_linear_chain_is_depth_times_flow() {
        // R = 1ᵀ|W2||W1|1 is homogeneous of degree 1 in each layer ⇒ Σ θ ∂R/∂θ = 2R.
        let w1 = t(&[1.0, -2.0, 0.5, 3.0, -1.0, 0.25], &[3, 2]).set_requires_grad(true);
        let w2 = t(&[-1.0, 2.0, 0.5], &[1, 3]).set_requires_grad(true);
        let (a, b) = (w1.shallow_clone(), w2.shallow_clone());
        let fwd = move |i: &Tensor| b.matmul(&a.matmul(&i.view([2, 1])).relu());
        let input = Tensor::ones([2], (Kind::Double, Device::Cpu));
        let abs1 = [1.0, 2.0, 0.5, 3.0, 1.0, 0.25];
        let r: f64 = (0..3).map(|k| [1.0, 2.0, 0.5][k] * (abs1[2 * k] + abs1[2 * k + 1])).sum();
        let params = [w1.shallow_clone(), w2.shallow_clone()];
        let s = synflow_of(fwd, &params, &params, &input);
        assert!((s - 2.0 * r).abs() < 1e-12, "{s} vs {}", 2.0 * r);
        // Signs are restored.
        assert_eq!(w1.double_value(&[0, 1]), -2.0);
    }

    #[test]
    fn jacob_cov_of_a_linear_map_has_its_closed_form() {
        // Every row of J is 1ᵀA, so the correlation matrix is all ones: eigenvalues B and 0.
        let a = t(&[1.0, 2.0, -1.0, 0.5, 0.0, 3.0], &[3, 2]);
        let x = Tensor::randn([5, 2], (Kind::Double, Device::Cpu));
        let s = jacob_cov_of(|i| i.matmul(&a.tr()), &x).unwrap();
        let k: f64 = 1e-5;
        let want = -((5.0 + k).ln() + 1.0 / (5.0 + k) + 4.0 * (k.ln() + 1.0 / k));
        assert!(((s - want) / want).abs() < 1e-6, "{s} vs {want}");
    }

    #[test]
    fn naswot_counts_agreements() {
        // Codes (1,0,1) and (1,1,0): K = [[3, 1], [1, 3]], log det = log 8.
        let z = t(&[1.0, -1.0, 2.0, 0.5, 3.0, -2.0], &[2, 3]);
        assert!((naswot_of(&[z]) - 8f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn dextr_terms_have_their_closed_forms() {
        let f = t(&[3.0, 0.0, 0.0, 0.5], &[2, 2]);
        assert!((inverse_condition_sum(&[f.shallow_clone(), f]) - 2.0 / 6.0).abs() < 1e-12);
        // The image of a circle under a linear map is an ellipse: total curvature 2π.
        let m = 256;
        let th = Tensor::arange(m, (Kind::Double, Device::Cpu)) * (2.0 * PI / m as f64);
        let circle = Tensor::stack(&[th.cos(), th.sin()], 1);
        let a = t(&[2.0, 0.3, -0.5, 1.0, 0.7, 0.2], &[3, 2]);
        let k = total_curvature(&circle.matmul(&a.tr()));
        assert!((k - 2.0 * PI).abs() < 1e-3, "{k}");
    }

    #[test]
    fn scores_are_deterministic_and_params_flops_have_closed_forms() {
        let space = CellSpace::nb201();
        let cfg = NetworkConfig { channels: 4, classes: 3, ..NetworkConfig::default() };
        let gen = crate::data::ProceduralImages { classes: 3, size: 8, ..Default::default() };
        let (x, y) = gen.generate(16, &mut core_tensor::seed::rng(0)).unwrap();
        let none = Cell(vec![0; 6]);
        let one = {
            let mut c = none.clone();
            c.0[5] = space.op_index("nor_conv_3x3").unwrap();
            c
        };
        // One 3×3 conv (C² · 9 weights, 2C BN parameters, H·W·C²·9 MACs) per stage.
        let dp = score(Proxy::Params, &space, &one, cfg, &x, &y, 0).unwrap()
            - score(Proxy::Params, &space, &none, cfg, &x, &y, 0).unwrap();
        let want_p: f64 = [4.0, 8.0, 16.0].iter().map(|c| 9.0 * c * c + 2.0 * c).sum();
        assert_eq!(dp, want_p);
        let df = score(Proxy::Flops, &space, &one, cfg, &x, &y, 0).unwrap()
            - score(Proxy::Flops, &space, &none, cfg, &x, &y, 0).unwrap();
        let want_f: f64 =
            [(8.0, 4.0), (4.0, 8.0), (2.0, 16.0)].iter().map(|(h, c)| h * h * c * c * 9.0).sum();
        assert_eq!(df, want_f);
        let cell = space.sample(&mut core_tensor::seed::rng(3));
        for p in Proxy::ALL {
            let a = score(p, &space, &cell, cfg, &x, &y, 7).unwrap();
            let b = score(p, &space, &cell, cfg, &x, &y, 7).unwrap();
            assert_eq!(a, b, "{}", p.name());
        }
        assert!(score(Proxy::Snip, &space, &cell, cfg, &x, &y.narrow(0, 0, 3), 0).is_err());
        // A conv fed by a node nothing reaches never enters the graph: its gradient counts as 0.
        let dead =
            space.decode("|none~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|").unwrap();
        for p in Proxy::ALL {
            assert!(score(p, &space, &dead, cfg, &x, &y, 1).unwrap().is_finite(), "{}", p.name());
        }
    }
}
