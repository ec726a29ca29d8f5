"""EasyTPP peer of `neural_tpp_train_step/{nhp,thp}` (benches/benches/point_process.rs).

Data: 32 sequences of the 5-D exponential Hawkes process of our benchmark (μ_i = 0.2, α_ii = 0.3,
α_ij = 0.08 for i ≠ j, β = 1.5, kernel α_ij β e^{-β t} as in tick and ours) on [0, 20], simulated here
with numpy by Ogata thinning (seed 0; our sequences come from our own generator, so they are other
draws of the same process). They are padded the way EasyTPP's runner pads them: its `TPPDataset` and
data loader (`EventTokenizer` collation: right padding with the pad mark 5, `time_seqs`,
`time_delta_seqs` with a first gap of 0, `type_seqs`, `seq_non_pad_mask` and the causal
`attention_mask`), one batch of all 32 sequences. The note gives the padded length and event count.

Models: built as EasyTPP's runner builds them, from a `ModelConfig` completed with the data's fields
(`BaseModel.generate_model_from_config`), hidden size 32, THP with 1 layer and 2 heads, dropout 0,
20 points per interval for the compensator, Adam with lr 1e-3, all on the CPU on one intra-op
thread (as our bench). One step is EasyTPP's own training step, `ModelWrapper.run_batch(batch,
RunnerPhase.TRAIN)`: `loglike_loss`, zero_grad, backward of the loss per event, Adam step (and a
`loss.item()`).

Semantic differences from ours (same sizes, not the same models):
- Likelihood window: EasyTPP scores events 2..n of each sequence, each given the events before it,
  with the compensator over the gaps between consecutive events only; the first event is context,
  and neither [0, t_1] nor the tail from the last event to T = 20 enters the loss. Ours scores every
  event, with the compensator over the whole window [0, T], tail included.
- Compensator: EasyTPP's "Monte-Carlo" points are 20 evenly spaced, fixed points of each gap, both
  ends included (`use_mc_samples=True` averages them); ours draws 20 uniform random points per
  interval at every step.
- NHP: both are the continuous-time LSTM of Mei & Eisner with a softplus intensity read-out (EasyTPP's
  has a learnable scale per mark); the gate layouts and initialisations are each library's own.
- THP: EasyTPP's block adds the sinusoidal encoding of the event time to the mark embedding and runs
  attention (no output projection) and a ReLU feed-forward 32-64-32 with neither residual connections
  nor layer norm (its defaults); its intensity is a softplus with a learnable scale per mark of
  w_k·h + α_k Δt + b_k. Ours adds a learned projection of the gap to the inputs, uses post-norm blocks
  (residuals, layer norms, GELU feed-forward 32-64-32) and softplus(w_k·h + α_k Δt + b_k).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import logging  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import easy_tpp.model  # noqa: E402,F401  (registers the model classes)
from easy_tpp.config_factory import BaseConfig, DataSpecConfig, ModelConfig  # noqa: E402
from easy_tpp.config_factory.model_config import TrainerConfig  # noqa: E402
from easy_tpp.model.basemodel import BaseModel  # noqa: E402
from easy_tpp.model_wrapper import ModelWrapper  # noqa: E402
from easy_tpp.preprocess.data_loader import get_data_loader  # noqa: E402
from easy_tpp.preprocess.dataset import TPPDataset  # noqa: E402
from easy_tpp.preprocess.event_tokenizer import EventTokenizer  # noqa: E402
from easy_tpp.utils import RunnerPhase, logger  # noqa: E402

logger.handlers = [logging.StreamHandler(sys.stderr)]  # EasyTPP logs to stdout, which carries the JSON

MARKS, BATCH, T_END = 5, 32, 20.0
MU, BETA = 0.2, 1.5
ALPHA = np.where(np.eye(MARKS, dtype=bool), 0.3, 0.08)


def _hawkes_sequence(rng):
    """Ogata thinning on [0, T_END]; the bound is the total intensity just after the current time."""
    times, marks = [], []
    t, decayed = 0.0, np.zeros(MARKS)  # decayed[j] = Σ_k exp(-β (t - t^j_k))
    while True:
        bound = (MU + BETA * ALPHA @ decayed).sum()
        gap = rng.exponential(1.0 / bound)
        t += gap
        if t >= T_END:
            return times, marks
        decayed *= np.exp(-BETA * gap)
        lam = MU + BETA * ALPHA @ decayed
        u = rng.uniform(0.0, bound)
        if u < lam.sum():
            k = int(np.searchsorted(np.cumsum(lam), u, side="right"))
            times.append(t)
            marks.append(k)
            decayed[k] += 1.0


def _batch():
    rng = np.random.default_rng(0)
    seqs = [_hawkes_sequence(rng) for _ in range(BATCH)]
    data = {
        "time_seqs": [ts for ts, _ in seqs],
        "time_delta_seqs": [[0.0] + list(np.diff(ts)) for ts, _ in seqs],
        "type_seqs": [ms for _, ms in seqs],
    }
    specs = DataSpecConfig(num_event_types=MARKS, pad_token_id=MARKS, padding_side="right",
                           truncation_side="right")
    loader = get_data_loader(TPPDataset(data), "torch", EventTokenizer(specs), batch_size=BATCH,
                             shuffle=False)
    batch = next(iter(loader))
    return specs, batch, sum(len(ts) for ts, _ in seqs)


def _train_step(model_id):
    """EasyTPP's training step on the batch, and the note."""
    specs, batch, events = _batch()
    torch.manual_seed(0)
    config = ModelConfig(model_id=model_id, hidden_size=32, num_layers=1, num_heads=2, dropout_rate=0.0,
                         loss_integral_num_sample_per_step=20, use_mc_samples=True, thinning=None, gpu=-1)
    # what the runner's config fills in from the stage and the data specs
    config.is_training = True
    config.num_event_types = specs.num_event_types
    config.num_event_types_pad = specs.num_event_types_pad
    config.pad_token_id = specs.pad_token_id
    model = BaseModel.generate_model_from_config(config)
    wrapper = ModelWrapper(model, BaseConfig(stage="train", backend="torch", model_id=model_id), config,
                           TrainerConfig(optimizer="adam", learning_rate=1e-3, gpu=-1, use_tfb=False))
    note = f"padded length {batch['type_seqs'].shape[1]}, {events} events in {BATCH} sequences"
    return (lambda: wrapper.run_batch(batch, RunnerPhase.TRAIN)), note


def _workload(id_, model_id, text):
    """A one-thread workload (as our bench pins one thread); set-up returns the step and its note."""
    return Workload(id=id_, workload=text, setup=lambda: _train_step(model_id), threads=1)


WORKLOADS = [
    _workload("neural_tpp_train_step/nhp", "NHP",
              "EasyTPP NHP (H=32) run_batch TRAIN: loglike_loss, backward, Adam lr 1e-3, "
              "batch 32 of 5-D Hawkes"),
    _workload("neural_tpp_train_step/thp", "THP",
              "EasyTPP THP (H=32, 1 layer, 2 heads) run_batch TRAIN: loglike_loss, backward, Adam lr 1e-3, "
              "batch 32 of 5-D Hawkes"),
]

if __name__ == "__main__":
    sys.exit(main("easy-tpp", "easy-tpp", WORKLOADS))
