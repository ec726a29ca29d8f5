//! One-step SDE methods: Euler–Maruyama, Milstein, Heun, Euler–Heun, SRA1 and SRIW1, each advancing from
//! an already evaluated drift and diffusion; [`sdeint`](super::sdeint) runs them.

use super::term::{Noise, SdeTerm};
use crate::error::{invalid, Result};
use tch::Tensor;

/// What an SDE method is, apart from its step: a name, its strong order of convergence (for the
/// noise types it supports) and the calculus of the solution it converges to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SdeMethod {
    /// Name (`"euler_maruyama"`).
    pub name: &'static str,
    /// Strong order of convergence.
    pub strong_order: f64,
    /// Converges to the Stratonovich (true) or the Itô (false) solution.
    pub stratonovich: bool,
}

/// A one-step SDE method.
pub trait SdeSolver {
    /// Name, strong order and calculus.
    fn method(&self) -> SdeMethod;
    /// Name.
    fn name(&self) -> &'static str {
        self.method().name
    }
    /// Strong order of convergence (for the noise types the method supports).
    fn strong_order(&self) -> f64 {
        self.method().strong_order
    }
    /// Whether the method converges to the Stratonovich (true) or Itô (false) solution.
    fn stratonovich(&self) -> bool {
        self.method().stratonovich
    }
    /// Refuses a noise type the method does not support (every type by default).
    fn check_noise(&self, _noise: Noise) -> Result<()> {
        Ok(())
    }
    /// One step over `h` from `(t, y)` with the drift `f = f(t, y)` and diffusion `g = g(t, y)`
    /// already evaluated, increment `dw` and space-time Lévy area `levy`.
    fn advance(&self, step: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor>;
    /// One step from `(t, y)` over `h` with increment `dw` and space-time Lévy area `levy`: checks
    /// the noise type, evaluates `f(t, y)` then `g(t, y)`, and advances.
    fn step(
        &self,
        term: &dyn SdeTerm,
        t: f64,
        y: &Tensor,
        h: f64,
        dw: &Tensor,
        levy: &Tensor,
    ) -> Result<Tensor> {
        self.check_noise(term.noise())?;
        let (f, g) = drift_diffusion(term, t, y)?;
        self.advance(StepInput { term, t, y, h, dw, levy }, f, g)
    }
}

/// What one step of an [`SdeSolver`] works on.
#[derive(Clone, Copy)]
pub struct StepInput<'a> {
    /// The equation.
    pub term: &'a dyn SdeTerm,
    /// Time at the start of the step.
    pub t: f64,
    /// State `[B, D]` at `t`.
    pub y: &'a Tensor,
    /// Step size.
    pub h: f64,
    /// Brownian increment over the step.
    pub dw: &'a Tensor,
    /// Space-time Lévy area over the step.
    pub levy: &'a Tensor,
}

/// `(f(t, y), g(t, y))`, drift first.
pub(crate) fn drift_diffusion(term: &dyn SdeTerm, t: f64, y: &Tensor) -> Result<(Tensor, Tensor)> {
    let (f, g) = (term.drift(t, y)?, term.diffusion(t, y)?);
    check_outputs(term.noise(), y, &f, &g)?;
    Ok((f, g))
}

/// The drift must have the state's shape, the diffusion the shape its noise type states (the
/// state's, or the state's with the Brownian dimension `m` appended for general noise), both with
/// the state's dtype and device: a wrong vector field is named here, not deep inside libtorch.
/// Shape metadata only, no data access.
fn check_outputs(noise: Noise, y: &Tensor, f: &Tensor, g: &Tensor) -> Result<()> {
    use core_tensor::check::{check_tensor, Dim};
    let ys = y.size();
    let same: Vec<Dim> = ys.iter().map(|&n| Dim::Is(n)).collect();
    check_tensor("drift output", f, Some(&same), Some(y.kind()), Some(y.device()))?;
    let mut gshape = same;
    if let Noise::General { m } = noise {
        gshape.push(Dim::Is(m));
    }
    check_tensor("diffusion output", g, Some(&gshape), Some(y.kind()), Some(y.device()))?;
    Ok(())
}

/// Euler–Maruyama (Itô, strong order 0.5; 1.0 for additive noise).
#[derive(Debug, Clone, Copy, Default)]
pub struct EulerMaruyama;

impl SdeSolver for EulerMaruyama {
    fn method(&self) -> SdeMethod {
        SdeMethod { name: "euler_maruyama", strong_order: 0.5, stratonovich: false }
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, y, h, dw, .. } = s;
        Ok(y + f * h + term.noise().prod(&g, dw)?)
    }
}

/// Derivative-free Milstein for diagonal (or scalar) noise, strong order 1.0:
/// `y₁ = y + f h + g ΔW + (g(ŷ) − g(y)) (ΔW² − h) / (2√h)` with `ŷ = y + g √h` (Itô; the
/// Stratonovich version drops `− h`). The support point carries no drift: a drift term there would
/// add a bias `σ f h^{3/2}/2` per step that `ΔW²` does not average out in the Stratonovich form.
#[derive(Debug, Clone, Copy, Default)]
pub struct Milstein {
    /// Converge to the Stratonovich solution.
    pub stratonovich: bool,
}

impl SdeSolver for Milstein {
    fn method(&self) -> SdeMethod {
        let name = if self.stratonovich { "milstein_stratonovich" } else { "milstein" };
        SdeMethod { name, strong_order: 1.0, stratonovich: self.stratonovich }
    }
    fn check_noise(&self, noise: Noise) -> Result<()> {
        if let Noise::General { .. } = noise {
            return Err(invalid(
                "noise",
                "general",
                "Milstein is implemented for diagonal, scalar and additive noise",
            ));
        }
        Ok(())
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, .. } = s;
        let sq = h.sqrt();
        let yh = y + &g * sq;
        let gh = term.diffusion(t, &yh)?;
        let dw2 = dw.square();
        let corr = if self.stratonovich { dw2 } else { dw2 - h };
        Ok(y + f * h + &g * dw + (gh - &g) * corr / (2.0 * sq))
    }
}

/// Heun's method for Stratonovich SDEs (strong order 0.5 in general, 1.0 for commutative noise):
/// predictor `ỹ = y + f h + g ΔW`, corrector averaging drift and diffusion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Heun;

impl SdeSolver for Heun {
    fn method(&self) -> SdeMethod {
        SdeMethod { name: "heun", strong_order: 0.5, stratonovich: true }
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, .. } = s;
        let n = term.noise();
        let yt = y + &f * h + n.prod(&g, dw)?;
        let f2 = term.drift(t + h, &yt)?;
        let g2 = term.diffusion(t + h, &yt)?;
        Ok(y + (f + f2) * (0.5 * h) + n.prod(&((g + g2) * 0.5), dw)?)
    }
}

/// Euler–Heun (Stratonovich): Euler drift, Heun diffusion, `ỹ = y + g ΔW`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EulerHeun;

impl SdeSolver for EulerHeun {
    fn method(&self) -> SdeMethod {
        SdeMethod { name: "euler_heun", strong_order: 0.5, stratonovich: true }
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, .. } = s;
        let n = term.noise();
        let yt = y + n.prod(&g, dw)?;
        let g2 = term.diffusion(t, &yt)?;
        Ok(y + f * h + n.prod(&((g + g2) * 0.5), dw)?)
    }
}

/// Rößler's SRA1 for additive noise (Rößler 2010), strong order 1.5: two drift stages with
/// `c = (0, 3/4)`, the second fed by `(3/2) g ΔZ/h`, and weights `α = (1/3, 2/3)`,
/// `β⁽¹⁾ = (1, 0)`, `β⁽²⁾ = (−1, 1)` (diffusion at `t + h` and `t`). `ΔZ = ∫(W_s − W_t) ds =
/// h(ΔW/2 + H)` comes from the space-time Lévy area `H` of the Brownian path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sra1;

impl SdeSolver for Sra1 {
    fn method(&self) -> SdeMethod {
        // additive noise: Itô and Stratonovich coincide
        SdeMethod { name: "sra1", strong_order: 1.5, stratonovich: false }
    }
    fn check_noise(&self, noise: Noise) -> Result<()> {
        if noise != Noise::Additive {
            return Err(invalid("noise", format!("{noise:?}"), "SRA1 needs additive noise"));
        }
        Ok(())
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, levy } = s;
        let (f1, g_t) = (f, g);
        let zeta = dw * 0.5 + levy; // ΔZ / h
        let g_th = term.diffusion(t + h, y)?;
        let h2 = y + &f1 * (0.75 * h) + &g_t * &zeta * 1.5;
        let f2 = term.drift(t + 0.75 * h, &h2)?;
        // β⁽¹⁾ pairs with ΔW, β⁽²⁾ with ΔZ/h; stage 1 uses g(t + c₁₁h) = g(t + h), stage 2 g(t)
        Ok(y + (f1 * (1.0 / 3.0) + f2 * (2.0 / 3.0)) * h + &g_th * (dw - &zeta) + g_t * zeta)
    }
}

/// Rößler's SRIW1 (Rößler 2010, "Runge–Kutta methods for the strong approximation of solutions of
/// stochastic differential equations", SIAM J. Numer. Anal. 48), strong order 1.5 for Itô SDEs
/// with scalar noise, and with diagonal noise whose `k`-th diffusion depends on the state through
/// `y_k` (the stages then act component by component); additive noise is a special case. Four
/// diffusion stages and two drift evaluations per step, tableau
/// `c⁽⁰⁾ = (0, ¾, 0, 0)`, `c⁽¹⁾ = (0, ¼, 1, ¼)`, `A⁽⁰⁾₂₁ = ¾`, `B⁽⁰⁾₂₁ = 3/2`,
/// `A⁽¹⁾₂₁ = ¼`, `A⁽¹⁾₃₁ = 1`, `A⁽¹⁾₄₃ = ¼`, `B⁽¹⁾₂₁ = ½`, `B⁽¹⁾₃₁ = −1`, `B⁽¹⁾₄ = (−5, 3, ½)`,
/// `α = (⅓, ⅔, 0, 0)`, `β⁽¹⁾ = (−1, 4/3, 2/3, 0)`, `β⁽²⁾ = (−1, 4/3, −1/3, 0)`,
/// `β⁽³⁾ = (2, −4/3, −2/3, 0)`, `β⁽⁴⁾ = (−2, 5/3, −2/3, 1)`, which weight `ΔW`, `I₍₁,₁₎/√h =
/// (ΔW² − h)/(2√h)`, `I₍₁,₀₎/h = ΔW/2 + H` (`H` the space-time Lévy area) and
/// `I₍₁,₁,₁₎/h = (ΔW³ − 3hΔW)/(6h)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sriw1;

impl SdeSolver for Sriw1 {
    fn method(&self) -> SdeMethod {
        SdeMethod { name: "sriw1", strong_order: 1.5, stratonovich: false }
    }
    fn check_noise(&self, noise: Noise) -> Result<()> {
        if let Noise::General { .. } = noise {
            return Err(invalid(
                "noise",
                format!("{noise:?}"),
                "SRIW1 needs scalar, diagonal or additive noise (its iterated integrals are per component)",
            ));
        }
        Ok(())
    }
    fn advance(&self, s: StepInput<'_>, f: Tensor, g: Tensor) -> Result<Tensor> {
        let StepInput { term, t, y, h, dw, levy } = s;
        let sq = h.sqrt();
        let (f1, g1) = (f, g);
        let i10 = dw * 0.5 + levy; // I₍₁,₀₎ / h
        let i11 = (dw * dw - h) / (2.0 * sq); // I₍₁,₁₎ / √h
        let i111 = (dw * dw * dw - dw * (3.0 * h)) / (6.0 * h); // I₍₁,₁,₁₎ / h
                                                                // drift stage 2; drift stages 3 and 4 are f(t, y) = f1 (c⁽⁰⁾ = 0, no A⁽⁰⁾ entries)
        let h0_2 = y + &f1 * (0.75 * h) + &g1 * &i10 * 1.5;
        let f2 = term.drift(t + 0.75 * h, &h0_2)?;
        // diffusion stages
        let h1_2 = y + &f1 * (0.25 * h) + &g1 * (0.5 * sq);
        let g2 = term.diffusion(t + 0.25 * h, &h1_2)?;
        let h1_3 = y + &f1 * h - &g1 * sq;
        let g3 = term.diffusion(t + h, &h1_3)?;
        let h1_4 = y + &f1 * (0.25 * h) + (&g1 * -5.0 + &g2 * 3.0 + &g3 * 0.5) * sq;
        let g4 = term.diffusion(t + 0.25 * h, &h1_4)?;
        // Σ_i (β⁽¹⁾_i ΔW + β⁽²⁾_i I₁₁/√h + β⁽³⁾_i I₁₀/h + β⁽⁴⁾_i I₁₁₁/h) g_i
        let w = |b1: f64, b2: f64, b3: f64, b4: f64| dw * b1 + &i11 * b2 + &i10 * b3 + &i111 * b4;
        let noise = g1 * w(-1.0, -1.0, 2.0, -2.0)
            + g2 * w(4.0 / 3.0, 4.0 / 3.0, -4.0 / 3.0, 5.0 / 3.0)
            + g3 * w(2.0 / 3.0, -1.0 / 3.0, -2.0 / 3.0, -2.0 / 3.0)
            + g4 * w(0.0, 0.0, 0.0, 1.0);
        Ok(y + (f1 * (1.0 / 3.0) + f2 * (2.0 / 3.0)) * h + noise)
    }
}
