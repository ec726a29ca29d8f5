"""torchcde peer of `neural_cde/hermite_rk4_forward_backward` (benches/benches/neural_diffeq.rs).

Data: batch 256, 100 observations at t = linspace(0, 1, 100), 3 channels = time + 2 data channels
(random walks: cumulative sums of N(0, 0.1²) steps, seeded). The Hermite cubic coefficients with
backward differences are computed once in setup, outside the timing, as ours builds its path once.

Timed: z0 = Linear(3, 32)(X(t0)); `cdeint` with vector field Linear(32, 128) relu
Linear(128, 32·3) tanh reshaped to [B, 32, 3], method 'rk4' with step_size = t[1] - t[0] over
X.interval (99 steps); read-out Linear(32, 1) of z(t1); loss = sum; backward. `adjoint=False`
(torchcde's default is the adjoint method), so the backward pass goes through the solver's
operations, as ours does. torchdiffeq's 'rk4' is the 3/8-rule variant (4 evaluations per step,
like our classical RK4), and `cdeint` makes one more evaluation per call to check shapes; the
`note` gives the NFE of one call, counted in setup.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torchcde  # noqa: E402

BATCH, OBS, HIDDEN = 256, 100, 32


class Field(nn.Module):
    """f(z) as a [B, hidden, channels] matrix; `nfe` counts the calls."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(nn.Linear(HIDDEN, 128), nn.ReLU(), nn.Linear(128, HIDDEN * channels), nn.Tanh())
        self.nfe = 0

    def forward(self, t, z):
        self.nfe += 1
        return self.net(z).view(z.shape[0], HIDDEN, self.channels)


def hermite_rk4_forward_backward():
    torch.manual_seed(0)
    t = torch.linspace(0, 1, OBS)
    walk = (torch.randn(BATCH, OBS, 2) * 0.1).cumsum(1)
    x = torch.cat([t.view(1, OBS, 1).expand(BATCH, OBS, 1), walk], dim=-1)
    coeffs = torchcde.hermite_cubic_coefficients_with_backward_differences(x, t)
    path = torchcde.CubicSpline(coeffs, t)
    channels = x.shape[-1]
    init, field, readout = nn.Linear(channels, HIDDEN), Field(channels), nn.Linear(HIDDEN, 1)
    step_size = (t[1] - t[0]).item()

    def step():
        z0 = init(path.evaluate(path.interval[0]))
        zt = torchcde.cdeint(X=path, func=field, z0=z0, t=path.interval, adjoint=False, method="rk4",
                             options={"step_size": step_size})
        readout(zt[:, -1]).sum().backward()

    field.nfe = 0
    step()
    return step, f"NFE {field.nfe} per call: 4 per RK4 step plus the one cdeint makes to check shapes"


WORKLOADS = [Workload(
    id="neural_cde/hermite_rk4_forward_backward",
    workload="batch 256, 100 obs, 3 channels, Hermite backward-difference path (built in setup), hidden 32, "
    "field 32-128-96 relu/tanh, cdeint rk4 step = obs spacing, Linear(32, 1) read-out, sum, backward",
    setup=hermite_rk4_forward_backward,
)]


if __name__ == "__main__":
    sys.exit(main("torchcde", "torchcde", WORKLOADS))
