"""diffrax peer of the `neural_ode/*` and `neural_sde/*` benches (benches/benches/neural_diffeq.rs).

JAX on the CPU in float32 (JAX's default dtype). Every timed function is compiled with `jax.jit`;
the harness's warm-up calls absorb the compilation, and its `sync` (`jax.block_until_ready`) after
each timed batch makes JAX's asynchronous dispatch finish inside the timing. Unlike ours (tch), a
JAX forward pass records no autograd graph: differentiation is a separate, traced transformation.

Threads: XLA reads its thread settings when jax is imported, so this script reads `--threads` (or
SCIML_BENCH_THREADS) before the harness does. With 1 thread it turns off XLA's multi-threaded Eigen
(XLA_FLAGS); with more, XLA keeps its own default pool, sized to the machine's cores whatever count
was asked for (each record's note says so).

Neural ODE: vector field MLP 2-64-64-2 with tanh after each hidden layer (plain jnp weights, uniform
±1/sqrt(fan_in) initialisation, fixed key; time is not an input), passed to the solver as `args`.
The batch of 512 is one state [512, 2], y0 ~ N(0, 1), so one step size serves the whole batch, as
in ours. `diffeqsolve` from t0 = 0 to t1 = 1, keeping only y(1) (`SaveAt(t1=True)`).

- `neural_ode/dopri5_forward`: `Dopri5`, `dt0=None` (diffrax picks the initial step),
  `PIDController(rtol=1e-6, atol=1e-6)`. diffrax's step-size controller and initial-step rule are
  its own, so it need not take the same steps as ours: the note gives the steps and the vector-field
  evaluations (NFE) of one solve, counted in setup.
- `neural_ode/dopri5_backprop`: `jax.value_and_grad` of sum(y(1)) with respect to the MLP weights,
  through the solver's operations (`RecursiveCheckpointAdjoint`, diffrax's default).
- `neural_ode/dopri5_adjoint`: the same gradient with `BacksolveAdjoint`, the continuous adjoint
  solved backwards with the same solver and controller (Dopri5, rtol = atol = 1e-6). diffrax
  measures the error over the whole augmented state (y, its adjoint and the parameter adjoint), like
  our `seminorm: false`.
- `neural_ode/rk4_100_steps_forward`: diffrax ships no classical RK4; it is defined here from
  diffrax's public `ButcherTableau` / `AbstractERK` API (the classical tableau: c = (1/2, 1/2, 1),
  b = (1/6, 1/3, 1/3, 1/6)), with `ConstantStepSize` and dt0 = 0.01. Classical RK4 has no embedded
  error estimate, so its error weights are all zero (it is unusable with an adaptive controller, and
  not used with one here).

Neural SDE (`neural_sde/euler_forward_backward`): state [512, 8], y0 ~ N(0, 1); drift
Linear(8, 64) tanh Linear(64, 8); diffusion Linear(8, 64) tanh Linear(64, 8) sigmoid, applied
elementwise (diagonal noise) through a `lineax.DiagonalLinearOperator` in a `ControlTerm`, added to
the drift's `ODETerm` in a `MultiTerm`. `Euler` (Itô, like our Euler-Maruyama) with dt0 = 0.01 on
[0, 1] (100 steps), then `jax.value_and_grad` of sum(y(1)) with respect to all weights, through the
solver's operations (`RecursiveCheckpointAdjoint`). Brownian motion: as ours, fresh N(0, dt)
increments every call, drawn inside the compiled function from a new key; their cumulative sum on
the step grid is the control path, a `LinearInterpolation`, so each Euler step uses exactly one
increment. (`UnsafeBrownianPath` would draw the same increments, but diffrax 0.7.2 refuses it under
every reverse-mode adjoint; a `VirtualBrownianTree` can be differentiated, but every query descends
the tree, work that neither ours nor this set-up does: on this workload it cost several times the
solve itself.)
"""

import os
import sys


def _requested_threads(argv):
    """The harness's thread count, read before jax is imported (None if malformed)."""
    value = os.environ.get("SCIML_BENCH_THREADS", "2")
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--threads="):
            value = a.split("=", 1)[1]
    try:
        return int(value)
    except ValueError:
        return None  # the harness reports the malformed flag


THREADS = _requested_threads(sys.argv[1:])
if THREADS == 1:
    # XLA acts on the first flag; the second (no leading "--") is skipped by XLA's flag parser
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
THREAD_NOTE = ("XLA single-threaded" if THREADS == 1
               else f"XLA default thread pool ({os.cpu_count()} cores)")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import Workload, main  # noqa: E402

import itertools  # noqa: E402
import math  # noqa: E402

import diffrax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import lineax  # noqa: E402
import numpy as np  # noqa: E402

TOL = 1e-6
DT = 0.01  # the SDE step


def _linear(key, n_in, n_out):
    kw, kb = jax.random.split(key)
    bound = 1.0 / math.sqrt(n_in)
    return (jax.random.uniform(kw, (n_in, n_out), minval=-bound, maxval=bound),
            jax.random.uniform(kb, (n_out,), minval=-bound, maxval=bound))


def _mlp(layers, y):
    """tanh after every layer but the last."""
    for w, b in layers[:-1]:
        y = jnp.tanh(y @ w + b)
    w, b = layers[-1]
    return y @ w + b


class RK4(diffrax.AbstractERK):
    """Classical fourth-order Runge-Kutta (4 evaluations per step), for fixed steps only."""

    tableau = diffrax.ButcherTableau(
        c=np.array([0.5, 0.5, 1.0]),
        b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
        b_error=np.zeros(4),
        a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])),
    )
    interpolation_cls = diffrax.ThirdOrderHermitePolynomialInterpolation.from_k

    def order(self, terms):
        return 4


def _ode_problem():
    k1, k2, k3, ky = jax.random.split(jax.random.key(0), 4)
    params = [_linear(k1, 2, 64), _linear(k2, 64, 64), _linear(k3, 64, 2)]
    return params, jax.random.normal(ky, (512, 2))


def _solve(field, params, y0, solver, controller, dt0, adjoint=diffrax.RecursiveCheckpointAdjoint()):
    return diffrax.diffeqsolve(diffrax.ODETerm(field), solver, t0=0.0, t1=1.0, dt0=dt0, y0=y0, args=params,
                               stepsize_controller=controller, saveat=diffrax.SaveAt(t1=True),
                               adjoint=adjoint)


def _field(t, y, params):
    return _mlp(params, y)


def _counts(params, y0, solver, controller, dt0):
    """Steps (from `solution.stats`) and vector-field evaluations of one forward solve."""
    nfe = [0]

    def counted(t, y, p):
        jax.debug.callback(lambda: nfe.__setitem__(0, nfe[0] + 1))
        return _field(t, y, p)

    sol = jax.jit(lambda p, y: _solve(counted, p, y, solver, controller, dt0))(params, y0)
    jax.block_until_ready(sol.ys)
    s = {k: int(v) for k, v in sol.stats.items()}
    return (f"forward: {s['num_steps']} steps ({s['num_accepted_steps']} accepted, "
            f"{s['num_rejected_steps']} rejected), NFE {nfe[0]}; {THREAD_NOTE}")


def _workload(id_, text, make):
    """A workload whose `make` returns the compiled callable and its note; JAX dispatches
    asynchronously, so every timed batch of calls ends by waiting for the result."""
    return Workload(id=id_, workload=text, setup=make, sync=jax.block_until_ready)


def _dopri5(adjoint=None):
    def make():
        params, y0 = _ode_problem()
        solver, controller = diffrax.Dopri5(), diffrax.PIDController(rtol=TOL, atol=TOL)
        note = _counts(params, y0, solver, controller, None)
        if adjoint is None:
            fwd = jax.jit(lambda p, y: _solve(_field, p, y, solver, controller, None).ys)
            return (lambda: fwd(params, y0)), note
        adj = (diffrax.RecursiveCheckpointAdjoint() if adjoint == "checkpoint"
               else diffrax.BacksolveAdjoint(solver=solver, stepsize_controller=controller))

        def loss(p):
            return _solve(_field, p, y0, solver, controller, None, adj).ys.sum()

        step = jax.jit(jax.value_and_grad(loss))
        return (lambda: step(params)), note

    return make


def rk4():
    params, y0 = _ode_problem()
    solver, controller = RK4(), diffrax.ConstantStepSize()
    note = _counts(params, y0, solver, controller, 0.01)
    fwd = jax.jit(lambda p, y: _solve(_field, p, y, solver, controller, 0.01).ys)
    return (lambda: fwd(params, y0)), note


def euler_sde():
    keys = jax.random.split(jax.random.key(0), 5)
    params = ([_linear(keys[0], 8, 64), _linear(keys[1], 64, 8)],
              [_linear(keys[2], 8, 64), _linear(keys[3], 64, 8)])
    y0 = jax.random.normal(keys[4], (512, 8))

    def drift(t, y, p):
        return _mlp(p[0], y)

    def diffusion(t, y, p):
        return lineax.DiagonalLinearOperator(jax.nn.sigmoid(_mlp(p[1], y)))

    steps_n = round(1.0 / DT)
    grid = jnp.linspace(0.0, 1.0, steps_n + 1)

    def solve(p, seed):
        dw = jax.random.normal(jax.random.key(seed), (steps_n,) + y0.shape) * jnp.sqrt(DT)
        w = jnp.concatenate([jnp.zeros((1,) + y0.shape), jnp.cumsum(dw, axis=0)])
        bm = diffrax.LinearInterpolation(ts=grid, ys=w)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        return diffrax.diffeqsolve(terms, diffrax.Euler(), t0=0.0, t1=1.0, dt0=DT, y0=y0, args=p,
                                   saveat=diffrax.SaveAt(t1=True))

    steps = int(jax.jit(solve)(params, 0).stats["num_steps"])
    step = jax.jit(jax.value_and_grad(lambda p, seed: solve(p, seed).ys.sum()))
    seeds = itertools.count(1)
    return (lambda: step(params, next(seeds))), f"{steps} Euler steps; {THREAD_NOTE}"


WORKLOADS = [
    _workload("neural_ode/dopri5_forward",
              "MLP 2-64-64-2 tanh, state [512, 2], Dopri5 PID rtol=atol=1e-6 on [0, 1], dt0 auto, jit",
              _dopri5()),
    _workload("neural_ode/dopri5_backprop",
              "jit value_and_grad of sum(y(1)) w.r.t. the MLP, Dopri5, RecursiveCheckpointAdjoint",
              _dopri5("checkpoint")),
    _workload("neural_ode/dopri5_adjoint",
              "jit value_and_grad of sum(y(1)), BacksolveAdjoint (Dopri5, PID rtol=atol=1e-6 backwards)",
              _dopri5("backsolve")),
    _workload("neural_ode/rk4_100_steps_forward",
              "classical RK4 (user ButcherTableau), ConstantStepSize dt0=0.01 on [0, 1], jit", rk4),
    _workload("neural_sde/euler_forward_backward",
              "drift 8-64-8 tanh, diagonal diffusion 8-64-8 tanh/sigmoid, state [512, 8], Euler dt=0.01 "
              "on [0, 1], fresh N(0, dt) increments per call as a LinearInterpolation control, "
              "jit value_and_grad of sum(y(1))",
              euler_sde),
]

if __name__ == "__main__":
    sys.exit(main("diffrax", "diffrax", WORKLOADS))
