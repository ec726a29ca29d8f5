"""Golden-file generator: spiking neurons and surrogate gradients of snnTorch 1.0.0.

Writes, next to this script:
  snntorch_golden.safetensors  every tensor float64, contiguous
  snntorch_golden.json         one entry per case (parameters, tensor keys), plus
                               the combinations snnTorch 1.0.0 cannot run ("skipped")

How to run (outside the repository; nothing here is needed by cargo):

    python3.11 -m venv /tmp/snnvenv
    /tmp/snnvenv/bin/pip install --no-deps \
        ~/.cache/sciml-rs/wheels/torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl \
        ~/.cache/sciml-rs/wheels/nvidia_cuda_runtime-*.whl \
        ~/.cache/sciml-rs/wheels/nvidia_cuda_cupti-*.whl
    /tmp/snnvenv/bin/pip install filelock typing-extensions sympy networkx jinja2 fsspec \
        numpy safetensors
    /tmp/snnvenv/bin/pip install --no-deps snntorch==1.0.0
    # The PyPI torch wheel is a CUDA build; stub the big CUDA libraries (CPU only here):
    /tmp/snnvenv/bin/python make_cuda_stubs.py /tmp/snnvenv/lib/python3.11/site-packages /tmp/cudastubs
    LD_LIBRARY_PATH=/tmp/cudastubs /tmp/snnvenv/bin/python gen_snntorch.py

(snnTorch 1.0.0 imports without pandas/matplotlib, so --no-deps is enough.)

What each case is
-----------------
Shapes: T=10 time steps, B=2 batch, N=4 neurons.  One input current
X[T,B,N] = randn*0.8 + 0.4 and one cotangent pair Cs, Cm [T,B,N] ~ randn per
neuron type (seeded), shared by all cases of that neuron type and stored once
under "{neuron}/x", "{neuron}/cs", "{neuron}/cm".  The neuron is run step by
step from snnTorch's default zero state (no state passed in); we collect
spk_t, mem_t (and syn_t, or syn_exc_t / syn_inh_t for Alpha), then take

    L = sum(spk * Cs) + sum(mem * Cm)

and store dL/dX, dL/dbeta, dL/dthreshold (both made learnable), dL/dalpha
(Synaptic, RSynaptic), dL/d(graded_spikes_factor) for the graded Leaky, the
recurrent weights and their gradients for RLeaky / RSynaptic, and dL/dR, dL/dC
for Lapicque (R and C are passed as tensors requiring grad; beta cannot be
learned there).  Per-case tensors live under "{neuron}/{reset}/{delay|nodelay}/
{surrogate}/{name}"; scalars have shape [1].

Deviations from running stock snnTorch, on purpose
--------------------------------------------------
* float64 everywhere.  torch.set_default_dtype(torch.float64) makes beta,
  alpha, threshold, graded factor and nn.Linear weights float64.  But every
  snnTorch surrogate's forward is `(input_ > 0).float()`, i.e. the spike is
  float32 whatever the input dtype, so autograd would hand a float32
  grad_output to the surrogate backward and round every gradient through a
  spike to float32.  We patch each surrogate autograd.Function's forward to
  return the spike in the input's dtype (values are identical 0/1); the
  backward formulas are untouched.  The JSON records the largest difference
  between patched and stock results for a few cases ("unpatched_check").
* Inputs are chosen so that no surrogate input (mem - threshold) lies within
  MIN_MARGIN of a decision point (0 for the spike, 1 for SFS's cut-off and the
  spike_rate_escape kink): a reimplementation that rounds differently still
  makes the same spike decisions.  Per neuron type, seeds are tried in order
  until every case of that type has that margin; the seed is recorded.
* snnTorch's sigmoid surrogate backward, slope*exp(-slope*x)/(exp(-slope*x)+1)^2,
  is NaN once exp overflows (x < about -709/slope = -28.4 for slope 25).  Our
  inputs keep |mem - threshold| far below that; the script asserts that no
  stored value is NaN and records per case whether one appeared.
"""

import json
import math
import os
import sys

import torch
import snntorch
import snntorch as snn
from snntorch import surrogate
from safetensors.torch import load_file

torch.set_default_dtype(torch.float64)

T, B, N = 10, 2, 4
MIN_MARGIN = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_ST = os.path.join(HERE, "snntorch_golden.safetensors")
OUT_JSON = os.path.join(HERE, "snntorch_golden.json")

# --------------------------------------------------------------------------
# float64 spikes: patch the surrogate Functions' forward (see module doc).
# --------------------------------------------------------------------------
SURROGATE_FUNCTIONS = [
    surrogate.StraightThroughEstimator, surrogate.Triangular, surrogate.FastSigmoid,
    surrogate.ATan, surrogate.Heaviside, surrogate.Sigmoid, surrogate.SpikeRateEscape,
    surrogate.SparseFastSigmoid,
]
_ORIGINAL_FORWARDS = {cls: cls.forward for cls in SURROGATE_FUNCTIONS}


def _dtype_preserving(orig):
    def forward(ctx, input_, *args):
        return orig(ctx, input_, *args).to(input_.dtype)
    return staticmethod(forward)


def set_float64_spikes(enabled):
    for cls, orig in _ORIGINAL_FORWARDS.items():
        cls.forward = _dtype_preserving(orig) if enabled else staticmethod(orig)


# --------------------------------------------------------------------------
# The grid.
# --------------------------------------------------------------------------
# name -> (factory, parameters recorded in the JSON).  snnTorch names: the
# straight-through estimator is `straight_through_estimator`, the sparse fast
# sigmoid is `SFS` (class SparseFastSigmoid).  `heaviside` is an extra.
SURROGATES = {
    "atan": (lambda: surrogate.atan(alpha=2.0), {"alpha": 2.0}),
    "fast_sigmoid": (lambda: surrogate.fast_sigmoid(slope=25), {"slope": 25.0}),
    "sigmoid": (lambda: surrogate.sigmoid(slope=25), {"slope": 25.0}),
    "straight_through_estimator": (lambda: surrogate.straight_through_estimator(), {}),
    "triangular": (lambda: surrogate.triangular(), {"threshold": 1.0}),
    "spike_rate_escape": (lambda: surrogate.spike_rate_escape(beta=1, slope=25),
                          {"beta": 1.0, "slope": 25.0}),
    "sfs": (lambda: surrogate.SFS(), {"slope": 25.0, "B": 1.0}),
    "heaviside": (lambda: surrogate.heaviside(), {}),
}
RESETS = ["subtract", "zero", "none"]
DELAYS = [("delay", True), ("nodelay", False)]

BETA, ALPHA_SYN = 0.9, 0.8
ALPHA_ALPHA, BETA_ALPHA = 0.9, 0.8  # Alpha requires alpha > beta (and beta != 1)
LAPICQUE_R, LAPICQUE_C, LAPICQUE_DT = 5.0, 2.0, 1.0  # 1 - dt/(R C) = 0.9, input gain dt/C = 0.5
GRADED_THRESHOLD, GRADED_FACTOR = 0.5, 1.5

# neuron key -> description.  "state" lists the per-step outputs after spk.
NEURONS = {
    "leaky": dict(cls="Leaky", state=["mem"], delay_kw=True),
    "leaky_graded": dict(cls="Leaky", state=["mem"], delay_kw=True, graded=True),
    "synaptic": dict(cls="Synaptic", state=["syn", "mem"], delay_kw=True),
    "alpha": dict(cls="Alpha", state=["syn_exc", "syn_inh", "mem"], delay_kw=False),
    "lapicque": dict(cls="Lapicque", state=["mem"], delay_kw=False),
    "rleaky_all": dict(cls="RLeaky", state=["mem"], delay_kw=True, all_to_all=True),
    "rleaky_one": dict(cls="RLeaky", state=["mem"], delay_kw=True, all_to_all=False),
    "rsynaptic_all": dict(cls="RSynaptic", state=["syn", "mem"], delay_kw=True, all_to_all=True),
    "rsynaptic_one": dict(cls="RSynaptic", state=["syn", "mem"], delay_kw=True, all_to_all=False),
}


def shared_tensors(neuron, seed):
    """Inputs shared by every case of one neuron type."""
    g = torch.Generator().manual_seed(seed)
    d = {
        "x": torch.randn(T, B, N, generator=g) * 0.8 + 0.4,
        "cs": torch.randn(T, B, N, generator=g),
        "cm": torch.randn(T, B, N, generator=g),
    }
    spec = NEURONS[neuron]
    if spec.get("all_to_all") is True:
        # Feedback = nn.Linear(N, N): spk_{t-1} @ w_rec^T + b_rec.
        d["w_rec"] = torch.randn(N, N, generator=g) * 0.5
        d["b_rec"] = torch.randn(N, generator=g) * 0.2
    elif spec.get("all_to_all") is False:
        # Feedback = spk_{t-1} * v_rec (elementwise, one weight per neuron).
        d["v_rec"] = torch.randn(N, generator=g) * 0.5
    return d


def build(neuron, reset, delay, spike_grad, shared):
    """Construct the snnTorch neuron; returns (module, params dict name->leaf tensor, record)."""
    spec = NEURONS[neuron]
    kw = dict(spike_grad=spike_grad, reset_mechanism=reset, learn_threshold=True)
    if spec["delay_kw"]:
        kw["reset_delay"] = delay
    rec = {"class": spec["cls"], "threshold": 1.0}
    params = {}
    if neuron in ("leaky", "leaky_graded"):
        if spec.get("graded"):
            kw.update(threshold=GRADED_THRESHOLD, graded_spikes_factor=GRADED_FACTOR,
                      learn_graded_spikes_factor=True)
            rec.update(threshold=GRADED_THRESHOLD, graded_spikes_factor=GRADED_FACTOR)
        m = snn.Leaky(beta=BETA, learn_beta=True, **kw)
        rec["beta"] = BETA
    elif neuron == "synaptic":
        m = snn.Synaptic(alpha=ALPHA_SYN, beta=BETA, learn_alpha=True, learn_beta=True, **kw)
        rec.update(alpha=ALPHA_SYN, beta=BETA)
    elif neuron == "alpha":
        # learn_alpha=True raises in 1.0.0 (see JSON "notes"), so alpha is a buffer.
        m = snn.Alpha(alpha=ALPHA_ALPHA, beta=BETA_ALPHA, learn_beta=True, **kw)
        rec.update(alpha=ALPHA_ALPHA, beta=BETA_ALPHA)
    elif neuron == "lapicque":
        R = torch.tensor(LAPICQUE_R, requires_grad=True)
        C = torch.tensor(LAPICQUE_C, requires_grad=True)
        m = snn.Lapicque(R=R, C=C, time_step=LAPICQUE_DT, **kw)
        params.update(r=R, c=C)
        rec.update(R=LAPICQUE_R, C=LAPICQUE_C, time_step=LAPICQUE_DT,
                   decay=1 - LAPICQUE_DT / (LAPICQUE_R * LAPICQUE_C),
                   input_gain=LAPICQUE_DT / LAPICQUE_C,
                   beta_buffer_unused=math.exp(-LAPICQUE_DT / (LAPICQUE_R * LAPICQUE_C)))
    elif neuron.startswith("rleaky") or neuron.startswith("rsynaptic"):
        common = dict(beta=BETA, learn_beta=True, learn_recurrent=True, **kw)
        if neuron.startswith("rsynaptic"):
            common.update(alpha=ALPHA_SYN, learn_alpha=True)
            rec["alpha"] = ALPHA_SYN
        rec["beta"] = BETA
        cls = snn.RLeaky if neuron.startswith("rleaky") else snn.RSynaptic
        if spec["all_to_all"]:
            m = cls(all_to_all=True, linear_features=N, **common)
            with torch.no_grad():
                m.recurrent.weight.copy_(shared["w_rec"])
                m.recurrent.bias.copy_(shared["b_rec"])
            params.update(w_rec=m.recurrent.weight, b_rec=m.recurrent.bias)
            rec["recurrent"] = "linear: rec_t = spk_{t-1} @ w_rec^T + b_rec"
        else:
            m = cls(all_to_all=False, V=shared["v_rec"].clone(), **common)
            params["v_rec"] = m.V
            rec["recurrent"] = "one_to_one: rec_t = spk_{t-1} * v_rec"
    else:
        raise KeyError(neuron)
    params["threshold"] = m.threshold
    if isinstance(getattr(m, "beta", None), torch.nn.Parameter):
        params["beta"] = m.beta
    if isinstance(getattr(m, "alpha", None), torch.nn.Parameter):
        params["alpha"] = m.alpha
    if isinstance(getattr(m, "graded_spikes_factor", None), torch.nn.Parameter):
        params["graded_spikes_factor"] = m.graded_spikes_factor
    # Every float tensor of the module must be float64.
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        if t.is_floating_point():
            assert t.dtype == torch.float64, (name, t.dtype)
    return m, params, rec


def run_case(neuron, reset, delay, sname, shared):
    """Run one case.  Returns (tensors, record, margins)."""
    factory, _ = SURROGATES[sname]
    base = factory()
    margins = {"spike": math.inf, "one": math.inf}

    def spike_grad(v):  # records how close each surrogate input is to 0 and 1
        a = v.detach()
        margins["spike"] = min(margins["spike"], a.abs().min().item())
        margins["one"] = min(margins["one"], (a - 1).abs().min().item())
        return base(v)

    m, params, rec = build(neuron, reset, delay, spike_grad, shared)
    x = shared["x"].clone().requires_grad_(True)
    outs = {k: [] for k in ["spk"] + NEURONS[neuron]["state"]}
    for t in range(T):
        step = m(x[t])  # zero state on the first call (snnTorch's default init)
        for k, v in zip(outs, step):
            outs[k].append(v)
    outs = {k: torch.stack(v) for k, v in outs.items()}
    loss = (outs["spk"] * shared["cs"]).sum() + (outs["mem"] * shared["cm"]).sum()
    leaves = {"x": x, **params}
    grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
    tensors = {k: v.detach() for k, v in outs.items()}
    for name, g in zip(leaves, grads):
        if g is None:
            g = torch.zeros_like(leaves[name])
        key = {"graded_spikes_factor": "grad_graded"}.get(name, "grad_" + name)
        tensors[key] = g.detach().reshape(-1) if g.dim() == 0 else g.detach()
    tensors = {k: v.to(torch.float64).contiguous() for k, v in tensors.items()}
    tensors["loss"] = loss.detach().reshape(1)
    return tensors, rec, margins


def write_safetensors(path, tensors, metadata):
    """Byte-reproducible safetensors writer (the safetensors package orders the
    header through a hash map, so its output differs from run to run).
    Format: u64 little-endian header size, JSON header (keys sorted, padded with
    spaces to a multiple of 8), then the raw little-endian float64 data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        assert t.dtype == torch.float64 and t.is_contiguous(), name
        blob = t.numpy().astype("<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as fh:
        fh.write(len(head).to_bytes(8, "little"))
        fh.write(head)
        for blob in blobs:
            fh.write(blob)


def case_keys(neuron):
    for reset in RESETS:
        for dname, delay in DELAYS:
            for sname in SURROGATES:
                yield f"{neuron}/{reset}/{dname}/{sname}", reset, dname, delay, sname


def run_neuron(neuron, seed):
    """All cases of one neuron type; returns (results, skipped, worst margin)."""
    shared = shared_tensors(neuron, seed)
    results, skipped, worst = {}, [], math.inf
    for key, reset, dname, delay, sname in case_keys(neuron):
        if not NEURONS[neuron]["delay_kw"] and not delay:
            skipped.append({"key": key, "error": f"snn.{NEURONS[neuron]['cls']} in snnTorch "
                            "1.0.0 has no reset_delay argument (its reset is always delayed)"})
            continue
        try:
            tensors, rec, margins = run_case(neuron, reset, delay, sname, shared)
        except Exception as e:  # noqa: BLE001 -- recorded, not hidden
            skipped.append({"key": key, "error": f"{type(e).__name__}: {e}"})
            continue
        m = margins["spike"]
        if sname in ("sfs", "spike_rate_escape"):
            m = min(m, margins["one"])
        worst = min(worst, m)
        results[key] = (tensors, rec, reset, delay, sname, margins)
    return shared, results, skipped, worst


def main():
    set_float64_spikes(True)
    st, cases, skipped, neurons_json = {}, [], [], {}
    for neuron in NEURONS:
        for seed in range(1000):
            shared, results, skip, worst = run_neuron(neuron, seed)
            if worst >= MIN_MARGIN:
                break
        else:
            sys.exit(f"{neuron}: no seed gives margin {MIN_MARGIN}")
        for k, v in shared.items():
            st[f"{neuron}/{k}"] = v.contiguous()
        neurons_json[neuron] = {"class": NEURONS[neuron]["cls"], "seed": seed,
                                "min_margin": worst,
                                "shared": {k: f"{neuron}/{k}" for k in shared}}
        skipped += skip
        for key, (tensors, rec, reset, delay, sname, margins) in results.items():
            nan = any(bool(torch.isnan(t).any()) for t in tensors.values())
            assert not nan, key
            for k, v in tensors.items():
                st[f"{key}/{k}"] = v
            cases.append({
                "key": key, "neuron": neuron, **rec,
                "reset_mechanism": reset, "reset_delay": delay,
                "surrogate": sname, "surrogate_params": SURROGATES[sname][1],
                "inputs": neurons_json[neuron]["shared"],
                "tensors": sorted(tensors),
                "min_abs_mem_minus_threshold": margins["spike"],
                "has_nan": nan,
            })
        print(f"{neuron}: seed {seed}, {len(results)} cases, {len(skip)} skipped, margin {worst:.3g}")

    # How much the float32 spikes of stock snnTorch would change the numbers.
    check = {}
    for key in ["leaky/subtract/delay/atan", "leaky/zero/nodelay/sigmoid",
                "synaptic/subtract/nodelay/fast_sigmoid", "rleaky_all/subtract/delay/atan",
                "leaky_graded/subtract/delay/atan"]:
        neuron, reset, dname, sname = key.split("/")
        shared = {k[len(neuron) + 1:]: v for k, v in st.items()
                  if k.startswith(neuron + "/") and k.count("/") == 1}
        set_float64_spikes(False)
        try:
            stock, _, _ = run_case(neuron, reset, dname == "delay", sname, shared)
            check[key] = max((stock[k] - st[f"{key}/{k}"]).abs().max().item() for k in stock)
        except Exception as e:  # noqa: BLE001 -- e.g. float32 spikes into a float64 nn.Linear
            check[key] = f"stock snnTorch fails: {type(e).__name__}: {e}"
        set_float64_spikes(True)
    print("stock-vs-float64 max abs diff:", check)

    write_safetensors(OUT_ST, st, {"generator": "gen_snntorch.py",
                                   "snntorch": snntorch.__version__, "torch": torch.__version__})
    back = load_file(OUT_ST)  # round trip through the reference reader
    assert sorted(back) == sorted(st) and all(back[k].equal(st[k]) for k in st)
    meta = {
        "snntorch_version": snntorch.__version__,
        "torch_version": torch.__version__,
        "T": T, "B": B, "N": N, "dtype": "float64",
        "loss": "L = sum(spk * cs) + sum(mem * cm); grads are dL/d(.)",
        "layout": "per case: '{key}/{tensor}'; shared per neuron: '{neuron}/{x,cs,cm,w_rec,b_rec,v_rec}'; "
                  "scalars have shape [1]; all tensors [T,B,N] unless a parameter",
        "min_margin": MIN_MARGIN,
        "notes": [
            "Surrogate forwards patched to return spikes in the input dtype (stock: float32); "
            "see unpatched_check for the size of the difference.",
            "Alpha: learn_alpha=True raises TypeError in 1.0.0 (_alpha_register_buffer assigns "
            "alpha.clamp(0,1) over the Parameter), so alpha is a fixed buffer and there is no grad_alpha.",
            "Alpha and Lapicque have no reset_delay argument; only 'delay' keys exist for them.",
            "Lapicque: beta is not learnable when R and C are given (beta=False becomes a bool "
            "tensor); the update uses R, C, time_step only, beta buffer = exp(-dt/(RC)) is unused. "
            "R and C are passed as tensors requiring grad: grad_r, grad_c.",
            "RSynaptic reset_delay=False raises TypeError in 1.0.0 when states are implicit "
            "(its no-delay branch uses the forward() arguments spk/mem, which are None).",
            "Synaptic/RLeaky/RSynaptic/Alpha/Lapicque take no graded_spikes_factor (fixed 1.0).",
            "heaviside is an extra surrogate beyond the requested seven.",
            "triangular here is snntorch.surrogate.triangular(threshold=1) (its own parameter, "
            "not the neuron threshold).",
        ],
        "unpatched_check": check,
        "neurons": neurons_json,
        "cases": cases,
        "skipped": skipped,
    }
    with open(OUT_JSON, "w") as fh:
        json.dump(meta, fh, indent=1)
    print(f"{len(cases)} cases, {len(skipped)} skipped, {len(st)} tensors, "
          f"{os.path.getsize(OUT_ST)} bytes")


if __name__ == "__main__":
    main()
