"""neuraloperator peer of the `fno1d/train_step` and `fno2d/train_step` benches
(benches/benches/neural_operator.rs, crates/neural-operator/src/fno.rs).

One Adam (lr 1e-3) step of an FNO on random input and target, MSE loss:
- `fno1d/train_step`: width 64, 4 blocks, 16 Fourier modes, batch 20, 1024 points, x, y ~ N(0, 1)
  of shape [20, 1, 1024];
- `fno2d/train_step`: width 32, 4 blocks, 12 x 12 modes, batch 10, 64 x 64, x, y of shape
  [10, 1, 64, 64].

Both use `neuralop.models.FNO` with the options that bring it closest to ours:
- positional_embedding="grid": one coordinate channel per dimension appended to the input, as ours
  (its grid runs over [0, 1] inclusive; ours is i / n, in [0, 1));
- lifting_channel_ratio=0: a single pointwise linear lifting (its default is a 2-layer MLP);
- projection_channel_ratio = 128 / width: projection MLP width -> 128 -> out with GELU, as ours;
- use_channel_mlp=False: no channel MLP inside the blocks (its default adds one per block, with a
  soft-gating skip); fno_skip="linear" (its default): a pointwise skip without bias, plus a bias in
  the spectral convolution, where ours has the bias in the skip: the same parameters.
- n_modes: neuraloperator counts the modes of each dimension over both signs and keeps
  n // 2 + 1 on the last (real-FFT) dimension, whereas our `modes` is the number kept per
  dimension, on both signs for all but the last. Ours 16 is its n_modes=(30,) (16 kept) and ours
  12 x 12 (rows -12..11, columns 0..11) is its n_modes=(24, 22). n_modes=(16,) would keep only 9.
Not aligned: with use_channel_mlp=False its block applies GELU twice (after the sum, and again
where the channel MLP would be) on all but the last block, where ours applies it once; it computes
the spectral convolution with full FFTs (rfftn/irfftn), ours with truncated DFT matrices. The
parameter counts (real numbers, a complex weight counting 2) are in the `note`.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from neuralop.models import FNO  # noqa: E402

PROJECTION = 128


def real_params(model):
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def _train_step(n_modes, width, shape):
    """Set-up of one FNO training step: the timed step and a note with the parameter count."""

    def setup():
        torch.manual_seed(0)
        model = FNO(
            n_modes=n_modes,
            in_channels=1,
            out_channels=1,
            hidden_channels=width,
            n_layers=4,
            lifting_channel_ratio=0,
            projection_channel_ratio=PROJECTION / width,
            positional_embedding="grid",
            use_channel_mlp=False,
            fno_skip="linear",
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x, y = torch.randn(shape), torch.randn(shape)

        def step():
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()

        return step, f"{real_params(model)} parameters; neuraloperator n_modes={n_modes}"

    return setup


WORKLOADS = [
    Workload("fno1d/train_step", "FNO 1-D, 16 modes kept, width 64, 4 blocks, projection 128, grid "
             "channel, batch 20 x 1024, MSE, Adam 1e-3", setup=_train_step((30,), 64, (20, 1, 1024))),
    Workload("fno2d/train_step", "FNO 2-D, 12 x 12 modes kept (both signs on rows), width 32, 4 blocks, "
             "projection 128, grid channels, batch 10 x 64 x 64, MSE, Adam 1e-3",
             setup=_train_step((24, 22), 32, (10, 1, 64, 64))),
]

if __name__ == "__main__":
    sys.exit(main("neuraloperator", "neuraloperator", WORKLOADS))
