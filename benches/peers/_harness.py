"""Timing harness shared by the peer scripts of `cargo xtask bench --peers`.

Every script in this folder times, with one peer library, exactly the workload of a criterion bench
of `sciml-bench` and prints one JSON object per workload on stdout:

    {"id": "<criterion id>", "peer": "<package>", "version": "<installed version>",
     "median_ns": <float>, "samples": <int>, "iters_per_sample": <int>, "threads": <int>,
     "workload": "<what was timed>", "note": "<optional>"}

The protocol mirrors criterion's: a warm-up of at least `--warmup` seconds (three calls at
least, so that lazy initialisation and JIT compilation stay out of the timings), then
`--samples` samples, each the mean time of enough calls to last `MIN_SAMPLE_S`, and the median
over samples. Progress goes to stderr; stdout carries only the JSON lines.

Command line (set by xtask; the defaults match `cargo xtask bench --quick`):

    python <script>.py [--list] [--filter REGEX] [--threads N] [--samples N] [--warmup SECONDS]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

MIN_SAMPLE_S = 0.005


# Scripts in this folder carry their peer's name (torchdiffeq.py, tick.py, ...): once a script has
# imported this harness, take the folder off the import path so that `import torchdiffeq` (also from
# inside other packages) finds the installed package, not the script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


@dataclass
class Workload:
    """One timed workload: `setup()` returns the zero-argument callable to time, or a pair
    `(callable, note)` when set-up also measures something worth reporting (NFE, event counts).

    `threads` is `None` to use the command line's thread count, or a fixed count when the
    matching criterion bench pins one (the neural-TPP steps run on one thread on both sides).
    `sync` (optional) is called after each timed batch of calls, for asynchronous peers (JAX).
    """

    id: str
    workload: str
    setup: Callable[[], Callable[[], object]]
    threads: int | None = None
    note: str | None = None
    sync: Callable[[object], object] | None = None


def version(package: str) -> str:
    """The installed version of a distribution, read from its metadata (never typed in)."""
    return importlib.metadata.version(package)


def set_threads(n: int) -> None:
    """Intra-op threads for every library a script may use."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["MKL_NUM_THREADS"] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="print the workload ids and exit")
    p.add_argument("--filter", default=None, help="regex on the workload id")
    p.add_argument("--threads", type=int, default=int(os.environ.get("SCIML_BENCH_THREADS", "2")))
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds")
    a = p.parse_args(argv)
    if a.threads < 1:
        p.error(f"--threads {a.threads}: must be >= 1")
    if a.samples < 1:
        p.error(f"--samples {a.samples}: must be >= 1")
    if not (a.warmup >= 0.0):
        p.error(f"--warmup {a.warmup}: must be >= 0")
    return a


def _time(fn: Callable[[], object], sync, samples: int, warmup_s: float) -> tuple[float, int]:
    """Median seconds per call over `samples` samples, and the calls per sample."""
    t0 = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - t0 < warmup_s:
        out = fn()
        if sync is not None:
            sync(out)
        calls += 1
        if calls >= 10_000:
            break
    per_call = (time.perf_counter() - t0) / calls
    iters = max(1, int(MIN_SAMPLE_S / max(per_call, 1e-9)))
    times = []
    for _ in range(samples):
        s = time.perf_counter()
        for _ in range(iters):
            out = fn()
        if sync is not None:
            sync(out)
        times.append((time.perf_counter() - s) / iters)
    return statistics.median(times), iters


def main(peer: str, package: str, workloads: list[Workload], argv: list[str] | None = None) -> int:
    """Runs the selected workloads of one peer and prints their JSON lines."""
    a = _args(argv)
    pat = re.compile(a.filter) if a.filter else None
    chosen = [w for w in workloads if pat is None or pat.search(w.id)]
    if a.list:
        for w in chosen:
            print(w.id)
        return 0
    ver = version(package)
    failed = 0
    for w in chosen:
        threads = w.threads if w.threads is not None else a.threads
        set_threads(threads)
        print(f"[{peer}] {w.id}: {w.workload}", file=sys.stderr, flush=True)
        try:
            fn = w.setup()
            if isinstance(fn, tuple):
                fn, w.note = fn
            med, iters = _time(fn, w.sync, a.samples, a.warmup)
        except Exception as e:  # a peer that cannot run this workload is reported, not hidden
            failed += 1
            print(json.dumps({"id": w.id, "peer": peer, "version": ver, "error": f"{type(e).__name__}: {e}"}),
                  flush=True)
            continue
        rec = {
            "id": w.id,
            "peer": peer,
            "version": ver,
            "median_ns": med * 1e9,
            "samples": a.samples,
            "iters_per_sample": iters,
            "threads": threads,
            "workload": w.workload,
        }
        if w.note:
            rec["note"] = w.note
        print(json.dumps(rec), flush=True)
        print(f"[{peer}] {w.id}: median {med * 1e3:.3f} ms", file=sys.stderr, flush=True)
    return 1 if failed else 0
