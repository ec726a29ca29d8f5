"""Executable spec: the neuron/surrogate maths of snnTorch 1.0.0, re-derived by hand
(no snnTorch import), checked against snntorch_golden.safetensors.

Run with the venv of gen_snntorch.py (needs torch + safetensors):
    LD_LIBRARY_PATH=/tmp/cudastubs /tmp/snnvenv/bin/python ref_semantics.py
Prints the worst relative difference over every stored tensor of every case
(about 4e-13 when the derivation is right)."""
import json, math, torch
from safetensors.torch import load_file
torch.set_default_dtype(torch.float64)
import os
D = os.path.dirname(os.path.abspath(__file__)) + "/"
st = load_file(D + "snntorch_golden.safetensors"); meta = json.load(open(D + "snntorch_golden.json"))

def sgrad(name, p, u):
    if name == "atan": a = p["alpha"]; return a / 2 / (1 + (math.pi / 2 * a * u) ** 2)
    if name == "fast_sigmoid": return 1 / (p["slope"] * u.abs() + 1) ** 2
    if name == "sigmoid": k = p["slope"]; e = torch.exp(-k * u); return k * e / (e + 1) ** 2
    if name == "straight_through_estimator": return torch.ones_like(u)
    if name == "triangular": return torch.where(u >= 0, -p["threshold"], p["threshold"]) * torch.ones_like(u)
    if name == "spike_rate_escape": return p["slope"] * torch.exp(-p["beta"] * (u - 1).abs())
    if name == "sfs": return 1 / (p["slope"] * u.abs() + 1) ** 2 * (u > p["B"]).double()
    if name == "heaviside": return (u > 0).double()

class S(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, name, p):
        ctx.save_for_backward(u); ctx.name = name; ctx.p = p
        return (u > 0).double()
    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return g * sgrad(ctx.name, ctx.p, u), None, None

def run(c):
    n = c["neuron"]; sh = {k: st[v] for k, v in c["inputs"].items()}
    sn, sp = c["surrogate"], c["surrogate_params"]
    reset, delay = c["reset_mechanism"], c["reset_delay"]
    H = lambda u: (u > 0).double()
    x = sh["x"].clone().requires_grad_()
    th = torch.tensor(c["threshold"], requires_grad=True)
    P = {"x": x, "threshold": th}
    if n != "lapicque":  # Lapicque has no learnable beta
        beta = torch.tensor(c["beta"], requires_grad=True); P["beta"] = beta
    if n in ("synaptic", "rsynaptic_all", "rsynaptic_one"):
        alpha = torch.tensor(c["alpha"], requires_grad=True); P["alpha"] = alpha
    if n == "alpha": alpha = torch.tensor(c["alpha"])
    g = torch.tensor(c.get("graded_spikes_factor", 1.0), requires_grad=n == "leaky_graded")
    if n == "leaky_graded": P["graded_spikes_factor"] = g
    if n == "lapicque":
        R = torch.tensor(c["R"], requires_grad=True); C = torch.tensor(c["C"], requires_grad=True)
        dt = c["time_step"]; P["r"] = R; P["c"] = C
    if "w_rec" in sh:
        W = sh["w_rec"].clone().requires_grad_(); b = sh["b_rec"].clone().requires_grad_()
        P["w_rec"] = W; P["b_rec"] = b; rec = lambda s: s @ W.T + b
    if "v_rec" in sh:
        V = sh["v_rec"].clone().requires_grad_(); P["v_rec"] = V; rec = lambda s: s * V
    z = torch.zeros(B, N)
    mem, syn, se, si, spk = z, z, z, z, z
    out = {"spk": [], "mem": [], "syn": [], "syn_exc": [], "syn_inh": []}
    for t in range(T):
        r = H(mem - th).detach()
        xt = x[t]
        bc = beta.clamp(0, 1) if n != "lapicque" else None
        if n in ("leaky", "leaky_graded"):
            if reset == "subtract": m = bc * mem + xt - r * th
            elif reset == "zero": m = bc * (1 - r) * mem + xt
            else: m = bc * mem + xt
        elif n in ("synaptic", "rsynaptic_all", "rsynaptic_one"):
            syn = alpha.clamp(0, 1) * syn + xt + (rec(spk) if n != "synaptic" else 0)
            m = bc * mem + syn
            if reset == "subtract": m = m - r * th
            elif reset == "zero": m = (1 - r) * m
        elif n in ("rleaky_all", "rleaky_one"):
            m = bc * mem + xt + rec(spk)
            if reset == "subtract": m = m - r * th
            elif reset == "zero": m = (1 - r) * m
        elif n == "lapicque":
            m = xt * R * (1 / (R * C)) * dt + (1 - dt / (R * C)) * mem
            if reset == "subtract": m = m - r * th
            elif reset == "zero": m = (1 - r) * m
        elif n == "alpha":
            ac = alpha.clamp(0, 1)
            tau = torch.log(ac) / (torch.log(bc) - torch.log(ac)) + 1
            se_n = ac * se + xt; si_n = bc * si - xt; m = tau * (se_n + si_n)
            if reset == "subtract":
                se_n = se_n - th * r; m = m + si * r; si_n = si_n * (1 - r)
            elif reset == "zero":
                se_n = se_n * (1 - r); si_n = si_n * (1 - r); m = m * (1 - r)
            se, si = se_n, si_n
        spk = S.apply(m - th, sn, sp) * g
        if not delay:
            d = spk / g - r
            if reset == "subtract": m = m - d * th
            elif reset == "zero": m = m - d * m
        mem = m
        out["spk"].append(spk); out["mem"].append(mem); out["syn"].append(syn)
        out["syn_exc"].append(se); out["syn_inh"].append(si)
    out = {k: torch.stack(v) for k, v in out.items()}
    L = (out["spk"] * sh["cs"]).sum() + (out["mem"] * sh["cm"]).sum()
    grads = torch.autograd.grad(L, list(P.values()), allow_unused=True)
    res = {k: v.detach() for k, v in out.items()}
    for k, gr in zip(P, grads):
        name = "grad_graded" if k == "graded_spikes_factor" else "grad_" + k
        res[name] = (gr if gr is not None else torch.zeros_like(P[k])).reshape(P[k].shape if P[k].dim() else (1,))
    return res

T, B, N = meta["T"], meta["B"], meta["N"]
worst = 0; bad = []
nspk = []
for c in meta["cases"]:
    res = run(c)
    nspk.append(st[c["key"] + "/spk"].abs().sum().item())
    for k in c["tensors"]:
        if k == "loss": continue
        d = (res[k] - st[c["key"] + "/" + k]).abs().max().item()
        scale = 1 + st[c["key"] + "/" + k].abs().max().item()
        worst = max(worst, d / scale)
        if d / scale > 1e-10: bad.append((c["key"], k, d))
print("cases", len(meta["cases"]), "worst rel diff", worst, "bad", len(bad)); print(bad[:20])
print("spike counts min/max", min(nspk), max(nspk), "cases with zero spikes", sum(1 for v in nspk if v == 0))
