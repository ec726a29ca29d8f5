//! The Alpha neuron with excitatory and inhibitory currents ([`Alpha`]).

use tch::nn;
use tch::Tensor;

use super::options::{NeuronOptions, ParamInit, Reset};
use super::soma::{Decay, Soma};
use super::traits::{check_state, Neuron};
use crate::{Error, Result};

/// Alpha neuron (snnTorch form) with excitatory current `E`, inhibitory current `N` and
/// `τ_α = ln ᾱ / (ln β̄ − ln ᾱ) + 1`:
/// `E_t = ᾱE_{t−1} + X_t`, `N_t = β̄N_{t−1} − X_t`, `U_t = τ_α(E_t + N_t)`; with subtraction
/// `E_t −= R_tθ`, `N_t ← (1 − R_t)N_t`, `U_t += R_t N_{t−1}` (applied after `U_t`), with zero
/// reset all three are multiplied by `(1 − R_t)`. Requires `α > β` and `β < 1`; the reset is
/// always delayed. States: `syn_exc`, `syn_inh`, `mem`.
#[derive(Debug)]
pub struct Alpha {
    alpha: Decay,
    beta: Decay,
    soma: Soma,
}

impl Alpha {
    /// An alpha layer.
    ///
    /// # Errors
    /// `α ≤ β` or `β = 1` after clamping; `reset_delay = false`; as [`Leaky::new`].
    ///
    /// [`Leaky::new`]: crate::neuron::Leaky::new
    pub fn new(
        path: &nn::Path<'_>,
        alpha: impl Into<ParamInit>,
        beta: impl Into<ParamInit>,
        o: &NeuronOptions,
    ) -> Result<Self> {
        let (alpha, beta) = (alpha.into(), beta.into());
        if !o.reset_delay {
            return Err(Error::invalid("reset_delay", false, "Alpha always delays its reset"));
        }
        let a = alpha.values().to_vec();
        let b = beta.values().to_vec();
        let n = a.len().max(b.len());
        for i in 0..n {
            let ai = a[i.min(a.len() - 1)].clamp(0.0, 1.0);
            let bi = b[i.min(b.len() - 1)].clamp(0.0, 1.0);
            if ai <= bi || bi >= 1.0 {
                return Err(Error::invalid(
                    "alpha",
                    ai,
                    format!("Alpha needs alpha > beta = {bi} and beta < 1"),
                ));
            }
        }
        Ok(Alpha {
            alpha: Decay::new(path, "alpha", &alpha, o)?,
            beta: Decay::new(path, "beta", &beta, o)?,
            soma: Soma::new(path, o)?,
        })
    }
}

impl Neuron for Alpha {
    fn state_names(&self) -> Vec<&'static str> {
        vec!["syn_exc", "syn_inh", "mem"]
    }

    fn step(&self, input: &Tensor, state: &mut [Tensor]) -> Result<Tensor> {
        check_state(input, state, 3)?;
        let (exc, inh, mem) = (&state[0], &state[1], &state[2]);
        let r = self.soma.reset_signal(mem);
        let (a, b) = (self.alpha.get(), self.beta.get());
        let tau = a.log() / (b.log() - a.log()) + 1.0;
        let e = &a * exc + input;
        let n = &b * inh - input;
        let u = &tau * (&e + &n);
        let (e, n, u) = match self.soma.reset {
            Reset::Subtract => (e - &r * &self.soma.threshold, &n - &n * &r, u + &r * inh),
            Reset::Zero => (&e - &e * &r, &n - &n * &r, &u - &u * &r),
            Reset::None => (e, n, u),
        };
        let spk = self.soma.fire(&u);
        state[0] = e;
        state[1] = n;
        state[2] = u;
        Ok(spk)
    }

    fn validate(&self) -> Result<()> {
        self.alpha.validate()?;
        self.beta.validate()
    }
}
