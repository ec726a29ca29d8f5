"""snnTorch peer of the `snn/*` training-step benches (benches/benches/spiking.rs).

Network: Linear(784, 1000) -> Leaky -> Linear(1000, 10) -> Leaky, each Leaky with beta = 0.95 and
the fast-sigmoid surrogate of slope 25. snnTorch's Leaky defaults are threshold 1 and reset by
subtraction, applied one step late (the reset uses the previous membrane, detached); our Leaky
follows snnTorch 1.0.0 and has the same semantics: U_t = beta U_{t-1} + I_t - H(U_{t-1} - 1).

One step: zero_grad, fresh membranes (`reset_mem`, formerly `init_leaky`), run T = 25 steps on a
fixed Bernoulli(0.2) input [25, 128, 784], cross-entropy on the output spike counts over T used as
logits (`ce_count_loss`, our `loss::ce_count`), backward, Adam (lr 5e-4) step.

- `snn/train_step_single_step`: snnTorch's usual form, each time step running fc1, lif1, fc2, lif2
  in turn (one small GEMM per layer and step), like our `forward_single_step`.
- `snn/train_step`: the multi-step form of our `forward_multi_step`: each Linear runs once on the
  whole [T, B, ·] sequence (one GEMM over T·B), and only the Leaky layers loop over time.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import snntorch as snn  # noqa: E402
import snntorch.functional as SF  # noqa: E402
from snntorch import surrogate  # noqa: E402

T, BATCH = 25, 128


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        grad = surrogate.fast_sigmoid(slope=25)
        self.fc1 = nn.Linear(784, 1000)
        self.lif1 = snn.Leaky(beta=0.95, spike_grad=grad)
        self.fc2 = nn.Linear(1000, 10)
        self.lif2 = snn.Leaky(beta=0.95, spike_grad=grad)

    def single_step(self, x):
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        out = []
        for x_t in x:
            spk1, mem1 = self.lif1(self.fc1(x_t), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)

    @staticmethod
    def _run(lif, cur):
        mem = lif.reset_mem()
        out = []
        for c in cur.unbind(0):
            spk, mem = lif(c, mem)
            out.append(spk)
        return torch.stack(out)

    def multi_step(self, x):
        spk1 = self._run(self.lif1, self.fc1(x))
        return self._run(self.lif2, self.fc2(spk1))


def _train_step(multi):
    def setup():
        torch.manual_seed(0)
        net = Net()
        opt = torch.optim.Adam(net.parameters(), lr=5e-4)
        loss_fn = SF.ce_count_loss()
        x = torch.full((T, BATCH, 784), 0.2).bernoulli()
        y = torch.randint(10, (BATCH,))
        forward = net.multi_step if multi else net.single_step

        def step():
            opt.zero_grad()
            loss_fn(forward(x), y).backward()
            opt.step()

        return step

    return setup


WORKLOADS = [
    Workload(
        id="snn/train_step",
        workload="784-1000-10 Leaky(0.95, fast_sigmoid 25), T=25, batch 128, Linear over all T at once, "
        "ce_count_loss, Adam 5e-4",
        setup=_train_step(multi=True),
    ),
    Workload(
        id="snn/train_step_single_step",
        workload="784-1000-10 Leaky(0.95, fast_sigmoid 25), T=25, batch 128, layer by layer per time step, "
        "ce_count_loss, Adam 5e-4",
        setup=_train_step(multi=False),
    ),
]

if __name__ == "__main__":
    sys.exit(main("snntorch", "snntorch", WORKLOADS))
