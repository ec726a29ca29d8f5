"""hawkes-rs peer of the `hawkes/*` benches (benches/benches/point_process.rs).

hawkes-rs (distribution `hawkes-rs`, imported as `hawkes`) is a Rust library with Python bindings
for the multivariate exponential Hawkes process with one shared decay. Its kernel is α_ij β e^{-β t}
with `excitation[i][j]` meaning "j excites i": the same convention as tick's and ours
(`Hawkes::exponential`). The process is the one of tick.py: 10-D, μ_i = 0.5, β = 3, α_ij ~ U(0, 0.08)
drawn with numpy (seed 0), a different draw from the same distribution as ours. Its calls are
single-threaded (its parallel likelihood is an opt-in build feature, absent from the wheel), like
ours for one sequence. Events are one float64 array per component; every call validates and copies them.

- `hawkes/simulate_10d`: `multivariate.simulate` on [0, 20000], a new seed every call. Ogata
  thinning with the total intensity as the bound, like our `simulate_ogata`. The note gives the mean
  event count over setup's check.
- `hawkes/loglik_grad_10d_100k`: `multivariate.negative_log_likelihood_and_gradient` at the true
  parameters on one realisation on [0, 11500] (≈100k events): the exact negative log-likelihood and
  its gradient with respect to μ, α and β in one pass, recomputed from scratch each call, as ours.
- `hawkes/fit_10d`: `multivariate.fit(events, T)` on one realisation on [0, 200] (≈1.8k events).
  The fit has no options: maximum likelihood over log μ, log α and log β jointly (111 parameters), on
  the negative log-likelihood divided by the event count N, by L-BFGS (memory 10, More-Thuente line
  search with c1 = 1e-4, c2 = 0.9) from μ_i = n_i / (2T), α_ij = 1 / (2D), β = N / T; it stops when the
  Euclidean norm of the scaled gradient falls below 1e-10 or the objective changes by less than
  machine epsilon in an iteration, else after 1000 iterations. On this process the smallest α
  entries head for 0 (−∞ in log space), so the fit runs to the 1000-iteration cap; the note gives the
  iterations and evaluations counted by hawkes-rs (each line-search trial makes one pass for the
  objective and another for the gradient, and L-BFGS makes one more gradient pass at the accepted
  point: about three passes over the events per iteration).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import itertools  # noqa: E402

import numpy as np  # noqa: E402
from hawkes import multivariate  # noqa: E402

D, MU, BETA = 10, 0.5, 3.0


def _parameters():
    alpha = np.random.default_rng(0).uniform(0.0, 0.08, (D, D))
    return multivariate.Parameters(baseline=np.full(D, MU), excitation=alpha, decay=BETA)


def _count(events):
    return sum(len(e) for e in events)


def _workload(id_, text, make):
    """A workload whose `make` returns the timed callable and its note."""
    return Workload(id=id_, workload=text, setup=make)


def simulate():
    params = _parameters()
    counts = [_count(multivariate.simulate(params, 20_000.0, s)) for s in (1, 2, 3)]
    seeds = itertools.count(10)
    note = f"mean {np.mean(counts):.0f} events per simulation (seeds 1-3)"
    return (lambda: multivariate.simulate(params, 20_000.0, next(seeds))), note


def loglik_grad():
    params = _parameters()
    end_time = 11_500.0
    events = multivariate.simulate(params, end_time, 2)
    note = f"{_count(events)} events; gradient w.r.t. μ, α and β"
    return (lambda: multivariate.negative_log_likelihood_and_gradient(params, events, end_time)), note


def fit():
    end_time = 200.0
    events = multivariate.simulate(_parameters(), end_time, 3)
    f = multivariate.fit(events, end_time)
    note = (f"{_count(events)} events; {f.iterations} L-BFGS iterations (converged: {f.converged}), "
            f"{f.objective_evaluations} objective and {f.gradient_evaluations} gradient evaluations; "
            f"fitted β {f.parameters.decay:.3f}")
    return (lambda: multivariate.fit(events, end_time)), note


WORKLOADS = [
    _workload("hawkes/simulate_10d",
              "multivariate.simulate 10-D, mu=0.5, alpha~U(0,0.08), beta=3, horizon 20000, new seed per call",
              simulate),
    _workload("hawkes/loglik_grad_10d_100k",
              "multivariate.negative_log_likelihood_and_gradient at the true parameters, horizon 11500",
              loglik_grad),
    _workload("hawkes/fit_10d",
              "multivariate.fit (L-BFGS on log mu, log alpha, log beta; default start and stopping rule), "
              "horizon 200",
              fit),
]

if __name__ == "__main__":
    sys.exit(main("hawkes-rs", "hawkes-rs", WORKLOADS))
