"""SpikingJelly peer of `snn/train_step` (benches/benches/spiking.rs), in its multi-step mode.

Same shapes and training step as ours: layer.Linear(784, 1000) -> LIFNode -> layer.Linear(1000, 10)
-> LIFNode, all with step_mode='m', so each Linear is one GEMM over T·B, like our
`forward_multi_step`; T = 25, batch 128, fixed Bernoulli(0.2) input [25, 128, 784]; per step
zero_grad, `functional.reset_net`, forward, cross-entropy on the spike counts over T used as
logits, backward, Adam (lr 5e-4) step.

Neuron: LIFNode(tau=20.0, decay_input=False, v_threshold=1.0, v_reset=None, detach_reset=True).
- decay_input=False charges H_t = V_{t-1} - V_{t-1}/tau + X_t = 0.95 V_{t-1} + X_t, snnTorch's
  (and our) beta U + I with beta = 1 - 1/tau. SpikingJelly's default, decay_input=True, charges
  V += (X - V)/tau instead, scaling the input by 1/tau: same cost, different arithmetic.
- v_reset=None is its soft reset (subtract the threshold) and detach_reset=True keeps the reset
  out of the gradient, as snnTorch and ours do. One difference is left: SpikingJelly resets in the
  same step as the spike (V_t = H_t - S_t), ours and snnTorch's one step later.
- Surrogate: SoftSign(alpha=25), whose derivative alpha / (2 (1 + alpha |x|)^2) has the shape of
  snnTorch's fast_sigmoid(slope=25), 1 / (1 + 25 |x|)^2, scaled by alpha / 2. SpikingJelly has no
  fast-sigmoid surrogate under that name; SoftSign is one of the surrogates its fused LIF kernel
  supports. Spikes fire at H >= threshold (ours and snnTorch's: U > threshold).

Backend: there is no `backend` argument in SpikingJelly 2.0; on CPU tensors the LIF sequence runs
its built-in CPU implementation (a time loop in torch ops with a hand-written backward), no CuPy or
Triton.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: E402

T, BATCH = 25, 128


def _lif():
    return neuron.LIFNode(tau=20.0, decay_input=False, v_threshold=1.0, v_reset=None,
                          surrogate_function=surrogate.SoftSign(alpha=25.0), detach_reset=True, step_mode="m")


def train_step():
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(784, 1000, step_mode="m"), _lif(),
        layer.Linear(1000, 10, step_mode="m"), _lif(),
    )
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    x = torch.full((T, BATCH, 784), 0.2).bernoulli()
    y = torch.randint(10, (BATCH,))

    def step():
        opt.zero_grad()
        functional.reset_net(net)
        counts = net(x).sum(0)
        F.cross_entropy(counts, y).backward()
        opt.step()

    return step


WORKLOADS = [
    Workload(
        id="snn/train_step",
        workload="784-1000-10 LIFNode(tau=20, decay_input=False, soft reset, SoftSign 25), step_mode='m', "
        "T=25, batch 128, CE on spike counts, Adam 5e-4",
        setup=train_step,
    ),
]

if __name__ == "__main__":
    sys.exit(main("spikingjelly", "spikingjelly", WORKLOADS))
