//! The Fourier neural operator (Li et al. 2021) for 1-D and 2-D fields, with optional CP-factorised
//! spectral weights (TFNO, Kossaifi et al. 2023): grid coordinates appended
//! as channels, a pointwise lifting, `L` Fourier blocks `x ← σ(K x + W x)` (spectral convolution plus
//! pointwise skip, GELU except after the last block), and a pointwise projection MLP.

use crate::error::{invalid, Result};
use crate::layers::SpectralConv;
use tch::{nn, Kind, Tensor};

/// Configuration of an [`Fno`].
#[derive(Debug, Clone, PartialEq)]
pub struct FnoConfig {
    /// Input channels (without the grid).
    pub in_channels: i64,
    /// Output channels.
    pub out_channels: i64,
    /// Modes kept per spatial dimension (length 1 or 2).
    pub modes: Vec<i64>,
    /// Hidden width.
    pub width: i64,
    /// Number of Fourier blocks.
    pub layers: usize,
    /// Width of the projection MLP.
    pub projection: i64,
    /// CP rank of factorised spectral weights (TFNO); `None` for dense weights.
    pub factorization_rank: Option<i64>,
    /// Positional channels appended to the input before the lifting.
    pub grid: GridEmbedding,
}

/// Positional information an [`Fno`] appends to its input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GridEmbedding {
    /// The coordinates `x_i ∈ [0, 1)` themselves, one channel per dimension (the FNO paper).
    #[default]
    Linear,
    /// `sin 2πx_i` and `cos 2πx_i`, two channels per dimension: continuous across the periodic
    /// boundary.
    Periodic,
    /// No positional channels: on a periodic domain the model is then exactly equivariant under
    /// grid shifts, which suits translation-invariant problems (Burgers, Navier–Stokes on the
    /// torus).
    None,
}

impl GridEmbedding {
    /// Channels added for `d` spatial dimensions.
    pub fn channels(self, d: i64) -> i64 {
        match self {
            GridEmbedding::Linear => d,
            GridEmbedding::Periodic => 2 * d,
            GridEmbedding::None => 0,
        }
    }
}

impl Default for FnoConfig {
    fn default() -> Self {
        FnoConfig {
            in_channels: 1,
            out_channels: 1,
            modes: vec![16],
            width: 64,
            layers: 4,
            projection: 128,
            factorization_rank: None,
            grid: GridEmbedding::Linear,
        }
    }
}

/// A pointwise (1×1) linear map on channel-first fields `[B, C, …]`.
#[derive(Debug)]
struct Pointwise {
    w: Tensor,
    b: Tensor,
}

impl Pointwise {
    fn new(path: &nn::Path<'_>, cin: i64, cout: i64) -> Self {
        let bound = 1.0 / (cin as f64).sqrt();
        Pointwise {
            w: path.var("weight", &[cout, cin], nn::Init::Uniform { lo: -bound, up: bound }),
            b: path.var("bias", &[cout], nn::Init::Uniform { lo: -bound, up: bound }),
        }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, c) = (x.size()[0], x.size()[1]);
        let rest: Vec<i64> = x.size()[2..].to_vec();
        let flat = x.reshape([b, c, -1]);
        let co = self.w.size()[0];
        // one batched product with the bias fused (`baddbmm`), the weight broadcast over the batch
        // as a view: `matmul` of a [co, c] weight that requires grad with a [b, c, n] field takes
        // libtorch's folding path, which copies the field transposed (3–7× slower here)
        let w = self.w.expand([b, co, c], false);
        let y = self.b.view([1, -1, 1]).baddbmm(&w, &flat, 1.0, 1.0);
        let mut shape = vec![b, co];
        shape.extend(rest);
        y.reshape(shape.as_slice())
    }
}

/// The Fourier neural operator. Inputs `[B, C_in, N]` or `[B, C_in, H, W]` on a uniform grid of
/// `[0, 1)^d`.
#[derive(Debug)]
pub struct Fno {
    cfg: FnoConfig,
    lift: Pointwise,
    spectral: Vec<SpectralConv>,
    skip: Vec<Pointwise>,
    proj1: Pointwise,
    proj2: Pointwise,
}

impl Fno {
    /// Builds the model under `path`.
    pub fn new(path: &nn::Path<'_>, cfg: FnoConfig) -> Result<Self> {
        if cfg.in_channels <= 0
            || cfg.out_channels <= 0
            || cfg.width <= 0
            || cfg.layers == 0
            || cfg.projection <= 0
        {
            return Err(invalid(
                "config",
                format!("{cfg:?}"),
                "channels, width, layers and projection must be > 0",
            ));
        }
        let d = cfg.modes.len() as i64;
        let lift = Pointwise::new(&(path / "lift"), cfg.in_channels + cfg.grid.channels(d), cfg.width);
        let spectral = (0..cfg.layers)
            .map(|i| SpectralConv::new(&(path / format!("spectral{i}")), cfg.width, cfg.width, &cfg.modes))
            .collect::<Result<Vec<_>>>()?;
        let skip = (0..cfg.layers)
            .map(|i| Pointwise::new(&(path / format!("skip{i}")), cfg.width, cfg.width))
            .collect();
        Ok(Fno {
            proj1: Pointwise::new(&(path / "proj1"), cfg.width, cfg.projection),
            proj2: Pointwise::new(&(path / "proj2"), cfg.projection, cfg.out_channels),
            lift,
            spectral,
            skip,
            cfg,
        })
    }
    /// The configuration.
    pub fn config(&self) -> &FnoConfig {
        &self.cfg
    }
    /// The input with its positional channels appended, `[B, C_in + c_grid, …]`.
    fn with_grid(&self, x: &Tensor) -> Tensor {
        let x = x.to_kind(Kind::Float);
        if self.cfg.grid == GridEmbedding::None {
            return x;
        }
        let size = x.size();
        let (b, sp) = (size[0], &size[2..]);
        let opts = (Kind::Float, x.device());
        let axes: Vec<Tensor> = sp.iter().map(|&n| Tensor::arange(n, opts) / n as f64).collect();
        let mesh = Tensor::meshgrid_indexing(&axes, "ij");
        let mut g = Tensor::stack(&mesh, 0).unsqueeze(0); // [1, d, …]
        if self.cfg.grid == GridEmbedding::Periodic {
            let phase = g * (2.0 * std::f64::consts::PI);
            g = Tensor::cat(&[phase.sin(), phase.cos()], 1);
        }
        let mut shape = vec![b, g.size()[1]];
        shape.extend_from_slice(sp);
        Tensor::cat(&[x, g.expand(shape.as_slice(), false)], 1)
    }
    /// Maps `x` to the output field, at the input resolution or at `out_size` (super-resolution:
    /// the last Fourier block evaluates on the finer grid).
    pub fn forward(&self, x: &Tensor, out_size: Option<&[i64]>) -> Result<Tensor> {
        self.forward_dropout(x, out_size, 0.0)
    }

    /// [`Fno::forward`] with dropout of rate `p` on the hidden features after every activation
    /// (each Fourier block but the last, and the projection's hidden layer), active whenever
    /// `p > 0`: training with dropout and Monte-Carlo dropout at prediction time (Gal &
    /// Ghahramani 2016) both use it.
    ///
    /// # Errors
    /// As [`Fno::forward`]; `p ∉ [0, 1)`.
    pub fn forward_dropout(&self, x: &Tensor, out_size: Option<&[i64]>, p: f64) -> Result<Tensor> {
        if !(0.0..1.0).contains(&p) {
            return Err(invalid("p", p, "dropout rate must lie in [0, 1)"));
        }
        let drop = |t: Tensor| if p > 0.0 { t.dropout(p, true) } else { t };
        let size = x.size();
        let d = self.cfg.modes.len();
        if size.len() != 2 + d || size[1] != self.cfg.in_channels {
            return Err(invalid(
                "x",
                format!("{size:?}"),
                &format!("expected [batch, {}, {} spatial dims]", self.cfg.in_channels, d),
            ));
        }
        core_tensor::check::check_like("x", x, &self.lift.w)?;
        if let Some(o) = out_size {
            if o.len() != d || o.iter().any(|&n| n < 1) {
                return Err(invalid(
                    "out_size",
                    format!("{o:?}"),
                    &format!("expected {d} positive spatial sizes"),
                ));
            }
        }
        let isfinite = tch::no_grad(|| x.isfinite().all().int64_value(&[]) != 0);
        if !isfinite {
            return Err(invalid("x", "non-finite values", "input fields must be finite"));
        }
        let mut h = self.lift.forward(&self.with_grid(x));
        let n = self.spectral.len();
        for i in 0..n {
            let last = i + 1 == n;
            let target = if last { out_size } else { None };
            let k = self.spectral[i].forward(&h, target)?;
            let s = self.skip[i].forward(&h);
            let s = match target {
                Some(t) if t != &h.size()[2..] => {
                    if d == 1 {
                        s.upsample_linear1d(t, false, None)
                    } else {
                        s.upsample_bilinear2d(t, false, None, None)
                    }
                }
                _ => s,
            };
            h = k + s;
            if !last {
                h = drop(h.gelu("none"));
            }
        }
        Ok(self.proj2.forward(&drop(self.proj1.forward(&h).gelu("none"))))
    }
}

/// Relative Lp loss per sample, averaged: `mean_b ‖u_b − v_b‖_p / ‖v_b‖_p` (differentiable).
pub fn relative_lp_loss(pred: &Tensor, target: &Tensor, p: f64) -> Result<Tensor> {
    if pred.size() != target.size() {
        return Err(invalid(
            "pred",
            format!("{:?}", pred.size()),
            &format!("must match the target {:?}", target.size()),
        ));
    }
    let b = pred.size().first().copied().unwrap_or(0);
    if b < 1 {
        return Err(invalid(
            "pred",
            format!("{:?}", pred.size()),
            "needs a batch dimension with at least one sample",
        ));
    }
    let diff = (pred - target).reshape([b, -1]);
    let t = target.reshape([b, -1]);
    let nd = diff
        .abs()
        .pow_tensor_scalar(p)
        .sum_dim_intlist([1].as_slice(), false, diff.kind())
        .pow_tensor_scalar(1.0 / p);
    let nt = t
        .abs()
        .pow_tensor_scalar(p)
        .sum_dim_intlist([1].as_slice(), false, t.kind())
        .pow_tensor_scalar(1.0 / p);
    let ratio = nd / nt.clamp_min(1e-12);
    Ok(ratio.mean(ratio.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn shapes_resolution_and_errors() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let fno =
            Fno::new(&vs.root(), FnoConfig { modes: vec![8], width: 16, layers: 2, ..Default::default() })
                .unwrap();
        let x = Tensor::randn([3, 1, 64], (Kind::Float, Device::Cpu));
        assert_eq!(fno.forward(&x, None).unwrap().size(), vec![3, 1, 64]);
        assert_eq!(fno.forward(&x, Some(&[256])).unwrap().size(), vec![3, 1, 256]);
        assert!(fno
            .forward(&Tensor::randn([3, 2, 64], (Kind::Float, Device::Cpu)), None)
            .unwrap_err()
            .to_string()
            .contains("[batch, 1"));
        let bad = Tensor::from_slice(&[f32::NAN; 64]).view([1, 1, 64]);
        assert!(fno.forward(&bad, None).is_err());
        // a wrong-rank out_size, a dtype the weights do not have, an empty batch: errors, not panics
        let e = fno.forward(&x, Some(&[64, 64])).unwrap_err().to_string();
        assert!(e.contains("out_size"), "{e}");
        let e = fno.forward(&x.to_kind(Kind::Double), None).unwrap_err().to_string();
        assert!(e.contains("Double"), "{e}");
        let empty = Tensor::zeros([0, 1, 8], (Kind::Float, Device::Cpu));
        assert!(relative_lp_loss(&empty, &empty, 2.0).unwrap_err().to_string().contains("batch"));
        let fno2 = Fno::new(
            &vs.root().sub("two"),
            FnoConfig { modes: vec![4, 4], width: 8, layers: 2, ..Default::default() },
        )
        .unwrap();
        assert_eq!(
            fno2.forward(&Tensor::randn([2, 1, 16, 16], (Kind::Float, Device::Cpu)), None).unwrap().size(),
            vec![2, 1, 16, 16]
        );
    }

    #[test]
    fn grid_embeddings_and_shift_equivariance() {
        core_tensor::seed::seed_torch(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let x = Tensor::randn([2, 1, 64], (Kind::Float, Device::Cpu));
        let shifted = x.roll([5].as_slice(), [2].as_slice());
        let make = |name: &str, grid| {
            Fno::new(
                &vs.root().sub(name),
                FnoConfig { modes: vec![8], width: 16, layers: 2, grid, ..Default::default() },
            )
            .unwrap()
        };
        // without positional channels the model commutes with periodic shifts of the grid
        let none = make("none", GridEmbedding::None);
        let a = none.forward(&shifted, None).unwrap();
        let b = none.forward(&x, None).unwrap().roll([5].as_slice(), [2].as_slice());
        assert!(a.allclose(&b, 1e-4, 1e-5, false));
        // with coordinates it does not; the periodic embedding adds sin and cos channels
        for (name, grid, channels) in [("lin", GridEmbedding::Linear, 2), ("per", GridEmbedding::Periodic, 3)]
        {
            let m = make(name, grid);
            assert_eq!(m.lift.w.size(), vec![16, channels]);
            let a = m.forward(&shifted, None).unwrap();
            let b = m.forward(&x, None).unwrap().roll([5].as_slice(), [2].as_slice());
            assert!(!a.allclose(&b, 1e-4, 1e-5, false), "{name}");
        }
        assert_eq!(GridEmbedding::Periodic.channels(2), 4);
    }

    #[test]
    fn relative_l2_matches_hand_value() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 2.0, 2.0]).view([2, 2]);
        let b = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 3.0]).view([2, 2]);
        // sample 0: ‖(0,1)‖/‖(1,1)‖ = 1/√2; sample 1: ‖(1,−1)‖/‖(1,3)‖ = √2/√10
        let expected = (0.5f64.sqrt() + (2.0f64 / 10.0).sqrt()) / 2.0;
        assert!((relative_lp_loss(&a, &b, 2.0).unwrap().double_value(&[]) - expected).abs() < 1e-6);
        assert!(relative_lp_loss(&a, &b.view([4]), 2.0).is_err());
    }
}
