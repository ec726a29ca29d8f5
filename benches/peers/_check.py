"""Imports every peer of `requirements.txt` and prints its version: the last step of
`cargo xtask peers setup`, so that a broken environment is reported before any timing starts."""

import importlib
import importlib.metadata
import os
import sys

# Scripts in this folder carry their peer's name (torchdiffeq.py, ...): import the packages, not them.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

# (distribution, import name)
PEERS = [
    ("torch", "torch"),
    ("torchdiffeq", "torchdiffeq"),
    ("torchsde", "torchsde"),
    ("torchcde", "torchcde"),
    ("snntorch", "snntorch"),
    ("spikingjelly", "spikingjelly"),
    ("neuraloperator", "neuralop"),
    ("tick", "tick"),
    ("hawkes-rs", "hawkes"),
    ("easy-tpp", "easy_tpp"),
    ("jax", "jax"),
    ("diffrax", "diffrax"),
]

failed = []
for dist, module in PEERS:
    try:
        importlib.import_module(module)
        print(f"  {dist} {importlib.metadata.version(dist)}", file=sys.stderr)
    except Exception as e:  # report every broken peer, not only the first
        failed.append(f"{dist} ({module}): {type(e).__name__}: {e}")
if failed:
    print("cannot import:\n  " + "\n  ".join(failed), file=sys.stderr)
    sys.exit(1)
