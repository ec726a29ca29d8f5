//! Neural ODEs (Chen et al. 2018): `dy/dt = f_θ(t, y)` with an MLP vector field, optional time input
//! and augmentation (Dupont et al. 2019: `a` extra zero-initialised state dimensions).

use crate::adjoint::{solve_backward, Gradient};
use crate::controller::StepControl;
use crate::error::{invalid, Result};
use crate::native::MlpField;
use crate::solve::{solve, SaveAt, Solution};
use crate::solver::{Solver, Stats};
use crate::term::OdeTerm;
use core_tensor::native::Real;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use tch::{nn, nn::ModuleT, Tensor};

/// Configuration of a [`NeuralOde`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NeuralOdeConfig {
    /// Data dimension D.
    pub dim: i64,
    /// Hidden widths of the vector-field MLP.
    pub hidden: Vec<i64>,
    /// Activation.
    pub activation: Activation,
    /// Feed the time as an extra input.
    pub time_input: bool,
    /// Extra zero-initialised state dimensions.
    pub augment: i64,
}

impl Default for NeuralOdeConfig {
    fn default() -> Self {
        NeuralOdeConfig {
            dim: 2,
            hidden: vec![64, 64],
            activation: Activation::Tanh,
            time_input: false,
            augment: 0,
        }
    }
}

/// A neural ODE. As a vector field it maps states `[B, D + augment]` to the same shape.
#[derive(Debug)]
pub struct NeuralOde {
    mlp: Mlp,
    config: NeuralOdeConfig,
}

impl NeuralOde {
    /// Builds the vector field under `path`.
    pub fn new(path: &nn::Path<'_>, config: NeuralOdeConfig) -> Result<Self> {
        if config.dim <= 0 || config.augment < 0 {
            return Err(invalid(
                "dim, augment",
                format!("{}, {}", config.dim, config.augment),
                "need dim > 0 and augment >= 0",
            ));
        }
        let state = config.dim + config.augment;
        let mut widths = vec![state + config.time_input as i64];
        widths.extend(&config.hidden);
        widths.push(state);
        let mlp = Mlp::new(path, &widths, MlpConfig::default().activation(config.activation))?;
        Ok(NeuralOde { mlp, config })
    }
    /// The configuration.
    pub fn config(&self) -> &NeuralOdeConfig {
        &self.config
    }
    /// The vector field's network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
    /// A copy of the vector field for the native path ([`crate::native`]): solved on
    /// [`Batch`](crate::native::Batch) states of width [`NeuralOde::state_dim`], in `f32` or `f64`.
    pub fn native<T: Real>(&self) -> Result<MlpField<T>> {
        MlpField::from_mlp(&self.mlp, self.config.time_input)
    }
    /// Adds a native parameter gradient (flat, from [`crate::native::backprop`] or
    /// [`crate::native::adjoint`]) to the `.grad` of this model's variables, on their device and
    /// in their kind.
    pub fn add_native_grads<T: Real>(&self, field: &MlpField<T>, grad_params: &[T]) -> Result<()> {
        Ok(field.mlp().add_grads_to(self.mlp.layers(), grad_params)?)
    }
    /// Width of the solved state.
    pub fn state_dim(&self) -> i64 {
        self.config.dim + self.config.augment
    }
    /// Pads `x [B, D]` with the augmentation zeros.
    pub fn augment(&self, x: &Tensor) -> Result<Tensor> {
        let (b, d) =
            x.size2().map_err(|_| invalid("x", format!("{:?}", x.size()), "expected [batch, dim]"))?;
        if d != self.config.dim {
            return Err(invalid(
                "x",
                format!("{:?}", x.size()),
                &format!("last dimension must be {}", self.config.dim),
            ));
        }
        if self.config.augment == 0 {
            return Ok(x.shallow_clone());
        }
        Ok(Tensor::cat(
            &[x.shallow_clone(), Tensor::zeros([b, self.config.augment], (x.kind(), x.device()))],
            1,
        ))
    }
    /// Solves from `x0 [B, D]` and returns the data part at `ts`: `[len(ts), B, D]`, with the graph
    /// attached (backpropagation through the solver), and the solve's counters.
    pub fn forward(
        &self,
        x0: &Tensor,
        ts: &[f64],
        solver: &dyn Solver<Tensor>,
        control: &StepControl,
    ) -> Result<(Tensor, Stats)> {
        let (t0, t1) = match (ts.first(), ts.last()) {
            (Some(a), Some(b)) if a != b => (*a, *b),
            _ => return Err(invalid("ts", format!("{ts:?}"), "need at least two distinct times")),
        };
        let y0 = self.augment(x0)?;
        let sol: Solution<Tensor> = solve(self, solver, (t0, t1), &y0, control, &SaveAt::ts(ts.to_vec()))?;
        let ys: Vec<Tensor> = sol.ys.iter().map(|y| y.narrow(1, 0, self.config.dim)).collect();
        Ok((Tensor::stack(&ys, 0), sol.stats))
    }
    /// Solves to `t1` and backpropagates `∂L/∂y(t1)` (from `loss_grad`, given `y(t1)` of the data
    /// part) with `gradient`; parameter gradients accumulate into `vs`'s variables.
    pub fn backward(
        &self,
        vs: &nn::VarStore,
        x0: &Tensor,
        span: (f64, f64),
        solver: &dyn Solver<Tensor>,
        control: &StepControl,
        gradient: &Gradient,
        loss_grad: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<(Tensor, Tensor, Stats, Stats)> {
        let params =
            core_tensor::train::optim::trainable_named(vs).into_iter().map(|(_, t)| t).collect::<Vec<_>>();
        let y0 = self.augment(x0)?;
        let d = self.config.dim;
        let aug = self.config.augment;
        solve_backward(self, &params, solver, span, &y0, control, gradient, |y1| {
            let yd = y1.narrow(1, 0, d);
            let g = loss_grad(&yd)?;
            // the cotangent must be shaped, typed and placed like y(t1)
            core_tensor::check::check_tensor(
                "loss_grad(y1)",
                &g,
                Some(&yd.size().iter().map(|&n| core_tensor::check::Dim::Is(n)).collect::<Vec<_>>()),
                Some(yd.kind()),
                Some(yd.device()),
            )?;
            Ok(if aug > 0 {
                Tensor::cat(&[g, Tensor::zeros([y1.size()[0], aug], (y1.kind(), y1.device()))], 1)
            } else {
                g
            })
        })
    }
}

impl OdeTerm<Tensor> for NeuralOde {
    fn vf(&self, t: f64, y: &Tensor) -> Result<Tensor> {
        if self.config.time_input {
            let b = y.size()[0];
            let tt = Tensor::full([b, 1], t, (y.kind(), y.device()));
            Ok(self.mlp.forward_t(&Tensor::cat(&[y.shallow_clone(), tt], 1), false))
        } else {
            Ok(self.mlp.forward_t(y, false))
        }
    }
}

/// Mean squared error between predictions and targets, a convenience for training.
pub fn mse(pred: &Tensor, target: &Tensor) -> Tensor {
    let sq = (pred - target).square();
    sq.mean(sq.kind())
}
