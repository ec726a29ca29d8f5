"""torchsde peer of `neural_sde/euler_forward_backward` (benches/benches/neural_diffeq.rs).

Neural SDE on states [512, 8] with y0 ~ N(0, 1): drift Linear(8, 64) tanh Linear(64, 8);
diffusion Linear(8, 64) tanh Linear(64, 8) sigmoid, used as diagonal noise (Itô). `sdeint` with
method 'euler' and dt = 0.01 on ts = [0, 1] (100 steps), then `y(1).sum().backward()` through the
solver's operations; gradients accumulate across calls, as in ours.

Brownian motion: no `bm` is passed, so each call builds torchsde's default `BrownianInterval`
with fresh entropy and samples new increments, inside the timed call. Ours also draws fresh
increments every call, but as plain N(0, dt) samples; the interval tree torchsde keeps (it can
answer queries at any time, for adaptive and adjoint solves) is extra work on its side, and so is
the one drift and diffusion evaluation `sdeint` makes per call to check shapes.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torchsde  # noqa: E402


class NeuralSde(nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, dim=8, hidden=64):
        super().__init__()
        self.drift = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
        self.diffusion = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim), nn.Sigmoid())

    def f(self, t, y):
        return self.drift(y)

    def g(self, t, y):
        return self.diffusion(y)


def euler_forward_backward():
    torch.manual_seed(0)
    sde = NeuralSde()
    y0 = torch.randn(512, 8)
    # float64 times: 100 steps of 0.01 then land on t = 1; with float32 times the accumulated time
    # falls short of 1 and torchsde takes a 101st, tiny step.
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def step():
        ys = torchsde.sdeint(sde, y0, ts, method="euler", dt=0.01)
        ys[-1].sum().backward()

    return step


WORKLOADS = [
    Workload(
        id="neural_sde/euler_forward_backward",
        workload="drift 8-64-8 tanh, diagonal diffusion 8-64-8 tanh/sigmoid, Itô, batch 512, "
        "sdeint euler dt=0.01 on [0, 1] (fresh BrownianInterval), y(1).sum().backward()",
        setup=euler_forward_backward,
    ),
]

if __name__ == "__main__":
    sys.exit(main("torchsde", "torchsde", WORKLOADS))
