//! Spectral convolution (Li et al. 2021): Fourier-transform the spatial dimensions, keep the
//! lowest modes, multiply by complex weights `[in, out, modes…]`, transform back — the output size
//! follows the input (or a requested) size, so one layer works at every resolution. Transforms use
//! the "forward" normalisation (1/n on the forward transform), so Fourier coefficients, and hence
//! the output, do not depend on the grid size.
//!
//! Only the kept modes are computed: each transform is a product with a truncated DFT matrix
//! instead of a full `rfftn`/`irfftn` pair (identical numbers; tested against the FFT definition).
//! With the few modes FNOs keep this is faster on CPUs, most of all on grid sizes with large prime
//! factors such as the Darcy benchmark's 85 = 5·17.

use crate::error::{invalid, Result};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use tch::{nn, Kind, Tensor};

/// How the complex weights are stored.
#[derive(Debug)]
enum Weights {
    /// Dense `[C_in, C_out, modes…, 2]` (real, imaginary) per corner block.
    Dense(Vec<Tensor>),
    /// CP factorisation per corner block (TFNO, Kossaifi et al. 2023):
    /// `W[i, o, k…] = Σ_r A[i, r] B[o, r] Π_d M_d[k_d, r]`, every factor complex `[…, rank, 2]`.
    Cp(Vec<Vec<Tensor>>),
}

/// A 1-D or 2-D spectral convolution. Inputs `[B, C_in, N]` or `[B, C_in, H, W]`.
#[derive(Debug)]
pub struct SpectralConv {
    /// Weights per corner block (2-D keeps both signs of the first axis' frequencies).
    weights: Weights,
    modes: Vec<i64>,
    in_ch: i64,
    out_ch: i64,
}

fn check(in_ch: i64, out_ch: i64, modes: &[i64]) -> Result<()> {
    if in_ch <= 0 || out_ch <= 0 || modes.is_empty() || modes.len() > 2 || modes.iter().any(|&m| m <= 0) {
        return Err(invalid(
            "modes",
            format!("{modes:?} ({in_ch} → {out_ch})"),
            "need 1 or 2 positive mode counts and positive channels",
        ));
    }
    Ok(())
}

impl SpectralConv {
    /// Spectral convolution with `modes` kept per spatial dimension (1 or 2 dimensions), weights
    /// `U(0, 1/(C_in C_out))` as in the reference implementation.
    pub fn new(path: &nn::Path<'_>, in_ch: i64, out_ch: i64, modes: &[i64]) -> Result<Self> {
        check(in_ch, out_ch, modes)?;
        let scale = 1.0 / (in_ch * out_ch) as f64;
        let blocks = if modes.len() == 2 { 2 } else { 1 };
        let mut shape = vec![in_ch, out_ch];
        shape.extend_from_slice(modes);
        shape.push(2);
        let weights = (0..blocks)
            .map(|i| path.var(&format!("weight{i}"), &shape, nn::Init::Uniform { lo: 0.0, up: scale }))
            .collect();
        Ok(SpectralConv { weights: Weights::Dense(weights), modes: modes.to_vec(), in_ch, out_ch })
    }

    /// The factorised (TFNO) variant: a rank-`rank` CP decomposition of each weight block, with
    /// `rank (C_in + C_out + Σ modes)` complex parameters per block instead of `C_in C_out Π modes`.
    pub fn factorised(
        path: &nn::Path<'_>,
        in_ch: i64,
        out_ch: i64,
        modes: &[i64],
        rank: i64,
    ) -> Result<Self> {
        check(in_ch, out_ch, modes)?;
        if rank <= 0 {
            return Err(invalid("rank", rank, "must be > 0"));
        }
        let blocks = if modes.len() == 2 { 2 } else { 1 };
        // factors ~ U(0, s) with s^(2 + d) rank ≈ 1/(C_in C_out): reconstructed entries on the dense
        // initialisation's scale
        let nfac = 2 + modes.len() as i32;
        let s = (1.0 / (in_ch * out_ch) as f64 / rank as f64).powf(1.0 / nfac as f64);
        let mut all = Vec::new();
        for b in 0..blocks {
            let mut dims = vec![in_ch, out_ch];
            dims.extend_from_slice(modes);
            let f = dims
                .iter()
                .enumerate()
                .map(|(k, &n)| {
                    path.var(
                        &format!("block{b}_factor{k}"),
                        &[n, rank, 2],
                        nn::Init::Uniform { lo: 0.0, up: s },
                    )
                })
                .collect();
            all.push(f);
        }
        Ok(SpectralConv { weights: Weights::Cp(all), modes: modes.to_vec(), in_ch, out_ch })
    }

    /// Input and output channels `(C_in, C_out)`.
    pub fn channels(&self) -> (i64, i64) {
        (self.in_ch, self.out_ch)
    }

    /// Modes kept per spatial dimension.
    pub fn modes(&self) -> &[i64] {
        &self.modes
    }

    /// Number of real parameters.
    pub fn num_parameters(&self) -> i64 {
        match &self.weights {
            Weights::Dense(w) => w.iter().map(|t| t.numel() as i64).sum(),
            Weights::Cp(f) => f.iter().flatten().map(|t| t.numel() as i64).sum(),
        }
    }

    /// The complex weight blocks `[C_in, C_out, modes…]`.
    fn complex_weights(&self) -> Vec<Tensor> {
        match &self.weights {
            Weights::Dense(w) => w.iter().map(|w| w.view_as_complex()).collect(),
            Weights::Cp(blocks) => blocks
                .iter()
                .map(|f| {
                    let c: Vec<Tensor> = f.iter().map(|t| t.view_as_complex()).collect();
                    if c.len() == 3 {
                        Tensor::einsum("ir,or,xr->iox", &[&c[0], &c[1], &c[2]], None::<i64>)
                    } else {
                        Tensor::einsum("ir,or,xr,yr->ioxy", &[&c[0], &c[1], &c[2], &c[3]], None::<i64>)
                    }
                })
                .collect(),
        }
    }

    /// Applies the layer; `out_size` overrides the spatial output size (zero-padding or truncating
    /// the spectrum), which is how FNOs super-resolve.
    pub fn forward(&self, x: &Tensor, out_size: Option<&[i64]>) -> Result<Tensor> {
        let d = self.modes.len();
        let size = x.size();
        if size.len() != 2 + d || size[1] != self.in_ch {
            return Err(invalid(
                "x",
                format!("{size:?}"),
                &format!("expected [batch, {}, {} spatial dims]", self.in_ch, d),
            ));
        }
        let spatial: Vec<i64> = size[2..].to_vec();
        let out_sp: Vec<i64> = out_size.map(|s| s.to_vec()).unwrap_or_else(|| spatial.clone());
        // the kept modes must exist at both the input and the output resolution
        for (i, &m) in self.modes.iter().enumerate() {
            let last = i == d - 1;
            let avail_in = if last { spatial[i] / 2 + 1 } else { spatial[i] / 2 };
            let avail_out = if last { out_sp[i] / 2 + 1 } else { out_sp[i] / 2 };
            if m > avail_in.min(avail_out) {
                return Err(invalid(
                    "modes",
                    m,
                    &format!("too many for resolution {:?} → {:?}", spatial, out_sp),
                ));
            }
        }
        let w = self.complex_weights();
        let dev = x.device();
        let x = x.to_kind(Kind::Float);
        if d == 1 {
            let m = self.modes[0];
            let xm = rdft_last(&x, m);
            let y = Tensor::einsum("bix,iox->box", &[xm, w[0].shallow_clone()], None::<i64>);
            return Ok(irdft_last(&y, out_sp[0], dev));
        }
        let (m0, m1) = (self.modes[0], self.modes[1]);
        let z = rdft_last(&x, m1); // [B, C, H, m1]
        let x_ft = basis(Basis::AxisForward, spatial[0], m0, dev).matmul(&z); // [B, C, 2 m0, m1]
        let top =
            Tensor::einsum("bixy,ioxy->boxy", &[x_ft.narrow(2, 0, m0), w[0].shallow_clone()], None::<i64>);
        let bot =
            Tensor::einsum("bixy,ioxy->boxy", &[x_ft.narrow(2, m0, m0), w[1].shallow_clone()], None::<i64>);
        let y = basis(Basis::AxisInverse, out_sp[0], m0, dev).matmul(&Tensor::cat(&[top, bot], 2)); // [B, O, H', m1]
        Ok(irdft_last(&y, out_sp[1], dev))
    }
}

/// The truncated DFT matrices on `n` points for `m` kept modes. Only the kept modes are ever
/// computed, so each transform is one matrix product instead of a full FFT followed by truncation
/// (the same numbers, and several times faster for the few modes FNOs keep, above all on grid
/// sizes with large prime factors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Basis {
    /// Real input along the last axis, frequencies `0..m`: real `[n, 2m]`, columns interleaving
    /// `cos(2πkx/n)/n` and `−sin(2πkx/n)/n` ("forward" normalisation) to match `view_as_complex`.
    RealForward,
    /// Inverse onto `n` points of a Hermitian spectrum kept at `0..m` along the last axis: real
    /// `[2m, n]`, rows interleaving `c_k cos` and `−c_k sin` so that `view_as_real(y) · G` is
    /// `Re Σ_k c_k y_k e^{2πikx/n}` with `c_0 = 1` (and 1 at the Nyquist frequency), `c_k = 2`
    /// otherwise — what `irfft` computes when the other modes are zero.
    RealInverse,
    /// A complex axis keeping both signs, `0..m` then `−m..−1` (the FFT layout's first and last
    /// rows): complex `[2m, n]` with entries `e^{−2πikx/n}/n`.
    AxisForward,
    /// Its inverse: complex `[n, 2m]` with entries `e^{+2πikx/n}`.
    AxisInverse,
}

/// The matrix `kind` for `n` points and `m` modes on `dev`, built once per process and shared by
/// every layer (a constant: it never requires gradients and is never written to).
fn basis(kind: Basis, n: i64, m: i64, dev: tch::Device) -> Tensor {
    type Cache = Mutex<HashMap<(Basis, i64, i64, tch::Device), Tensor>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    cache.entry((kind, n, m, dev)).or_insert_with(|| build_basis(kind, n, m).to(dev)).shallow_clone()
}

fn build_basis(kind: Basis, n: i64, m: i64) -> Tensor {
    // e^{iθ} with θ = 2πkx/n, reduced mod n for accuracy
    let phase = |k: i64, x: i64| {
        let th = 2.0 * std::f64::consts::PI * (k * x).rem_euclid(n) as f64 / n as f64;
        (th.cos(), th.sin())
    };
    let nf = n as f64;
    let both: Vec<i64> = (0..m).chain(-m..0).collect();
    let mut v = Vec::with_capacity((4 * m * n) as usize);
    let shape: Vec<i64> = match kind {
        Basis::RealForward => {
            for x in 0..n {
                for k in 0..m {
                    let (c, s) = phase(k, x);
                    v.extend_from_slice(&[c / nf, -s / nf]);
                }
            }
            vec![n, 2 * m]
        }
        Basis::RealInverse => {
            for k in 0..m {
                let ck = if k == 0 || 2 * k == n { 1.0 } else { 2.0 };
                let (re, im): (Vec<f64>, Vec<f64>) = (0..n).map(|x| phase(k, x)).unzip();
                v.extend(re.iter().map(|c| ck * c));
                v.extend(im.iter().map(|s| -ck * s));
            }
            vec![2 * m, n]
        }
        Basis::AxisForward => {
            for &k in &both {
                for x in 0..n {
                    let (c, s) = phase(k, x);
                    v.extend_from_slice(&[c / nf, -s / nf]);
                }
            }
            vec![2 * m, n, 2]
        }
        Basis::AxisInverse => {
            for x in 0..n {
                for &k in &both {
                    let (c, s) = phase(k, x);
                    v.extend_from_slice(&[c, s]);
                }
            }
            vec![n, 2 * m, 2]
        }
    };
    // cpu: built on the host once per size; the cache moves it to the device
    let t = Tensor::from_slice(&v).view(shape.as_slice()).to_kind(Kind::Float);
    if matches!(kind, Basis::AxisForward | Basis::AxisInverse) {
        t.view_as_complex()
    } else {
        t
    }
}

/// Real-input DFT along the last axis keeping frequencies `0..m`: `[…, n]` real → `[…, m]` complex.
fn rdft_last(x: &Tensor, m: i64) -> Tensor {
    let n = *x.size().last().expect("spatial axis");
    let mut shape = x.size();
    shape.pop();
    shape.extend_from_slice(&[m, 2]);
    x.matmul(&basis(Basis::RealForward, n, m, x.device())).view(shape.as_slice()).view_as_complex()
}

/// The inverse of [`rdft_last`] onto `n` points: `[…, m]` complex → `[…, n]` real.
fn irdft_last(y: &Tensor, n: i64, dev: tch::Device) -> Tensor {
    let mut shape = y.size();
    let m = shape.pop().expect("mode axis");
    shape.push(2 * m);
    Tensor::view_as_real(y).reshape(shape.as_slice()).matmul(&basis(Basis::RealInverse, n, m, dev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// With identity-like weights on every kept mode, the layer is a low-pass filter: a signal made
    /// of kept modes passes unchanged, at any resolution.
    #[test]
    fn low_pass_identity_and_resolution_invariance() {
        let vs = nn::VarStore::new(Device::Cpu);
        let sc = SpectralConv::new(&vs.root(), 1, 1, &[8]).unwrap();
        let Weights::Dense(ws) = &sc.weights else { unreachable!() };
        tch::no_grad(|| {
            let mut w = ws[0].shallow_clone();
            let _ = w.zero_();
            let _ = w.narrow(3, 0, 1).fill_(1.0); // real part 1
        });
        for n in [64i64, 128] {
            let x = Tensor::linspace(0.0, 1.0 - 1.0 / n as f64, n, (Kind::Float, Device::Cpu));
            let sig = ((&x * (2.0 * std::f64::consts::PI * 3.0)).sin()
                + (&x * (2.0 * std::f64::consts::PI * 20.0)).cos())
            .view([1, 1, n]);
            let y = sc.forward(&sig, None).unwrap();
            let kept = (&x * (2.0 * std::f64::consts::PI * 3.0)).sin().view([1, 1, n]);
            assert!(y.allclose(&kept, 1e-4, 1e-4, false), "n = {n}");
        }
        // super-resolution: the same filter evaluated on a 4× finer output grid
        let x = Tensor::linspace(0.0, 1.0 - 1.0 / 64.0, 64, (Kind::Float, Device::Cpu));
        let sig = (&x * (2.0 * std::f64::consts::PI * 3.0)).sin().view([1, 1, 64]);
        let y = sc.forward(&sig, Some(&[256])).unwrap();
        let xf = Tensor::linspace(0.0, 1.0 - 1.0 / 256.0, 256, (Kind::Float, Device::Cpu));
        // "forward" normalisation: amplitudes do not depend on the grid sizes
        assert!(y.allclose(
            &(xf * (2.0 * std::f64::consts::PI * 3.0)).sin().view([1, 1, 256]),
            1e-4,
            1e-4,
            false
        ));
        assert!(sc.forward(&Tensor::zeros([1, 2, 64], (Kind::Float, Device::Cpu)), None).is_err());
        assert!(sc
            .forward(&Tensor::zeros([1, 1, 8], (Kind::Float, Device::Cpu)), None)
            .unwrap_err()
            .to_string()
            .contains("too many"));
    }

    /// A rank-1 CP layer equals the dense layer holding the reconstructed weights.
    #[test]
    fn factorised_matches_dense_reconstruction_and_saves_parameters() {
        core_tensor::seed::seed_torch(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let cp = SpectralConv::factorised(&vs.root().sub("cp"), 4, 5, &[6], 2).unwrap();
        let dense = SpectralConv::new(&vs.root().sub("dense"), 4, 5, &[6]).unwrap();
        let Weights::Dense(dw) = &dense.weights else { unreachable!() };
        tch::no_grad(|| {
            let full = cp.complex_weights().remove(0);
            let mut d = dw[0].shallow_clone();
            d.copy_(&tch::Tensor::view_as_real(&full));
        });
        let x = Tensor::randn([2, 4, 32], (Kind::Float, Device::Cpu));
        assert!(cp.forward(&x, None).unwrap().allclose(&dense.forward(&x, None).unwrap(), 1e-5, 1e-5, false));
        assert_eq!(cp.num_parameters(), 2 * 2 * (4 + 5 + 6));
        assert_eq!(dense.num_parameters(), 4 * 5 * 6 * 2);
        let cp2 = SpectralConv::factorised(&vs.root().sub("cp2"), 3, 3, &[4, 4], 3).unwrap();
        assert_eq!(
            cp2.forward(&Tensor::randn([1, 3, 16, 16], (Kind::Float, Device::Cpu)), None).unwrap().size(),
            vec![1, 3, 16, 16]
        );
        assert!(SpectralConv::factorised(&vs.root().sub("bad"), 3, 3, &[4], 0).is_err());
    }

    /// The truncated-DFT products equal `rfftn` → keep the modes → `irfftn` (the textbook
    /// definition) in 1-D and 2-D, at odd and even sizes, with a changed output size and with the
    /// Nyquist mode kept, and so do their gradients.
    #[test]
    fn truncated_dft_matches_fft_definition() {
        let fft_reference = |sc: &SpectralConv, x: &Tensor, out: &[i64]| -> Tensor {
            let w = sc.complex_weights();
            let d = sc.modes.len();
            let dims: Vec<i64> = (2..2 + d as i64).collect();
            let x_ft = x.fft_rfftn(None::<&[i64]>, dims.as_slice(), "forward");
            let mut shape = vec![x.size()[0], sc.channels().1];
            shape.extend_from_slice(&out[..d - 1]);
            shape.push(out[d - 1] / 2 + 1);
            let out_ft = Tensor::zeros(shape.as_slice(), (Kind::ComplexFloat, Device::Cpu));
            if d == 1 {
                let m = sc.modes[0];
                let y = Tensor::einsum(
                    "bix,iox->box",
                    &[x_ft.narrow(2, 0, m), w[0].shallow_clone()],
                    None::<i64>,
                );
                out_ft.narrow(2, 0, m).copy_(&y);
            } else {
                let (m0, m1, h) = (sc.modes[0], sc.modes[1], x.size()[2]);
                for (blk, from, to) in [(0, 0, 0), (1, h - m0, out[0] - m0)] {
                    let y = Tensor::einsum(
                        "bixy,ioxy->boxy",
                        &[x_ft.narrow(2, from, m0).narrow(3, 0, m1), w[blk].shallow_clone()],
                        None::<i64>,
                    );
                    out_ft.narrow(2, to, m0).narrow(3, 0, m1).copy_(&y);
                }
            }
            out_ft.fft_irfftn(Some(out), dims.as_slice(), "forward")
        };
        core_tensor::seed::seed_torch(3);
        let cases: [(&[i64], &[i64], &[i64]); 5] = [
            (&[5], &[33], &[33]),
            (&[17], &[32], &[64]),
            (&[4, 5], &[17, 20], &[34, 40]),
            (&[6, 5], &[12, 8], &[12, 8]),
            (&[3, 4], &[9, 7], &[9, 7]),
        ];
        for (modes, size, out) in cases {
            let vs = nn::VarStore::new(Device::Cpu);
            let sc = SpectralConv::new(&vs.root(), 2, 3, modes).unwrap();
            let mut shape = vec![2, 2];
            shape.extend_from_slice(size);
            let x = Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let ours = sc.forward(&x, Some(out)).unwrap();
            let reference = fft_reference(&sc, &x, out);
            let err = (&ours - &reference).abs().max().double_value(&[]);
            let scale = reference.abs().max().double_value(&[]);
            assert!(err <= 1e-5 * scale.max(1.0), "{modes:?} {size:?} → {out:?}: error {err}");
            let probe = Tensor::randn(ours.size().as_slice(), (Kind::Float, Device::Cpu));
            let g1 = Tensor::run_backward(&[(&ours * &probe).sum(Kind::Float)], &[&x], false, false);
            let g2 = Tensor::run_backward(&[(&reference * &probe).sum(Kind::Float)], &[&x], false, false);
            let gerr = (&g1[0] - &g2[0]).abs().max().double_value(&[]);
            assert!(
                gerr <= 1e-5 * g2[0].abs().max().double_value(&[]).max(1.0),
                "{modes:?}: gradient {gerr}"
            );
        }
    }

    #[test]
    fn two_dimensional_shapes() {
        let vs = nn::VarStore::new(Device::Cpu);
        let sc = SpectralConv::new(&vs.root(), 3, 4, &[6, 6]).unwrap();
        let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
        assert_eq!(sc.forward(&x, None).unwrap().size(), vec![2, 4, 32, 32]);
        assert_eq!(sc.forward(&x, Some(&[64, 64])).unwrap().size(), vec![2, 4, 64, 64]);
        assert!(SpectralConv::new(&vs.root(), 3, 4, &[6, 6, 6]).is_err());
    }
}
