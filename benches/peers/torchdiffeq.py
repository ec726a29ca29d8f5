"""torchdiffeq peer of the `neural_ode/*` benches (benches/benches/neural_diffeq.rs).

Vector field: MLP 2-64-64-2 with tanh after each hidden layer (time not an input); batch 512,
x0 ~ N(0, 1); integrated from t = 0 to 1, only y(1) kept.

- `neural_ode/dopri5_forward`: `odeint` with dopri5 at rtol = atol = 1e-6. Not under `no_grad`,
  so the autograd graph is recorded, as ours records it.
- `neural_ode/dopri5_backprop`: the same solve, then `y(1).sum().backward()` through the solver's
  operations (discretise-then-optimise).
- `neural_ode/dopri5_adjoint`: `odeint_adjoint`, rtol = atol = adjoint_rtol = adjoint_atol = 1e-6
  (full norm on the adjoint state, like our `seminorm: false`), then `.sum().backward()`.
- `neural_ode/rk4_100_steps_forward`: torchdiffeq's fixed-grid 'rk4' with step_size 0.01. That
  method uses the 3/8-rule variant of RK4; like the classical tableau ours uses, it costs 4
  evaluations per step.

Gradients accumulate across calls (no zero_grad), as in our benches. The step-size controller and
the initial step selection are torchdiffeq's own, so an adaptive solve need not take the same
steps as ours: each record's `note` gives the function evaluations (NFE) of one solve, counted in
setup.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchdiffeq import odeint, odeint_adjoint  # noqa: E402

TOL = 1e-6


class Field(nn.Module):
    """dy/dt = MLP(y); `nfe` counts the calls."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return self.net(y)


def _problem():
    torch.manual_seed(0)
    f = Field()
    x0 = torch.randn(512, 2)
    t = torch.tensor([0.0, 1.0])
    return f, x0, t


def _solve(f, x0, t):
    return odeint(f, x0, t, rtol=TOL, atol=TOL, method="dopri5")[-1]


def _adjoint(f, x0, t):
    y1 = odeint_adjoint(f, x0, t, rtol=TOL, atol=TOL, method="dopri5", adjoint_rtol=TOL, adjoint_atol=TOL)[-1]
    y1.sum().backward()


def _rk4(f, x0, t):
    return odeint(f, x0, t, method="rk4", options={"step_size": 0.01})[-1]


def _nfe(f, call):
    """Counts the vector-field evaluations of one call (forward and, if any, backward)."""
    f.nfe = 0
    call()
    return f.nfe


def forward():
    f, x0, t = _problem()
    n = _nfe(f, lambda: _solve(f, x0, t))
    return (lambda: _solve(f, x0, t)), f"forward NFE {n}"


def backprop():
    f, x0, t = _problem()
    n = _nfe(f, lambda: _solve(f, x0, t))
    return (lambda: _solve(f, x0, t).sum().backward()), f"forward NFE {n}; backward through the recorded steps"


def adjoint():
    f, x0, t = _problem()
    n_fwd = _nfe(f, lambda: _solve(f, x0, t))
    n_all = _nfe(f, lambda: _adjoint(f, x0, t))
    return (lambda: _adjoint(f, x0, t)), f"forward NFE {n_fwd}; forward + adjoint NFE {n_all}"


def rk4():
    f, x0, t = _problem()
    n = _nfe(f, lambda: _rk4(f, x0, t))
    return (lambda: _rk4(f, x0, t)), f"NFE {n} (3/8-rule RK4, 4 per step)"


WORKLOADS = [
    Workload("neural_ode/dopri5_forward",
              "MLP 2-64-64-2 tanh, batch 512, odeint dopri5 rtol=atol=1e-6 on [0, 1], forward with graph", forward),
    Workload("neural_ode/dopri5_backprop",
              "same dopri5 solve, then y(1).sum().backward() through the solver", backprop),
    Workload("neural_ode/dopri5_adjoint",
              "odeint_adjoint dopri5, rtol=atol=adjoint_rtol=adjoint_atol=1e-6, y(1).sum().backward()", adjoint),
    Workload("neural_ode/rk4_100_steps_forward",
              "odeint 'rk4' (3/8 rule), step_size 0.01 on [0, 1], forward with graph", rk4),
]

if __name__ == "__main__":
    sys.exit(main("torchdiffeq", "torchdiffeq", WORKLOADS))
