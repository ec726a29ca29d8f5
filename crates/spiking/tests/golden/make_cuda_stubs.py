"""Build empty stand-ins for the CUDA libraries that the PyPI torch wheel links.

Only needed to *run* gen_snntorch.py; the Rust crate never uses this.

The Linux torch wheel on PyPI is a CUDA build: ``import torch`` loads
libtorch_cuda.so, which is linked against cuDNN, cuBLAS, NCCL, ... .  This
workspace caches only the torch wheel and the two small NVIDIA runtime wheels
(cudart, cupti), not the multi-GB ones, and everything here runs on the CPU.
So we create tiny shared objects with the right SONAMEs and symbol versions
whose functions all call abort().  They satisfy the dynamic loader; none of
them is ever called by CPU-only code.

Usage (stdlib only, needs gcc and binutils' nm):

    python make_cuda_stubs.py /path/to/venv/lib/python3.11/site-packages /tmp/cudastubs
    export LD_LIBRARY_PATH=/tmp/cudastubs

The first argument is the site-packages directory holding torch/ (and the
nvidia/ runtime wheels, if installed).
"""

import os
import subprocess
import sys

# Libraries linked by torch/lib/*.so that the small cached wheels don't supply.
MISSING = [
    "libcudnn.so.9", "libcufile.so.0", "libnccl.so.2", "libcusparse.so.12",
    "libcufft.so.12", "libcusparseLt.so.0", "libcurand.so.10",
    "libcublas.so.13", "libcublasLt.so.13", "libnvrtc.so.13",
    "libnvshmem_host.so.3", "libcusolver.so.12", "libcuda.so.1",
]
# Version node name -> library defining it (node name == SONAME except NVSHMEM).
VERSION_TO_LIB = {m: m for m in MISSING}
VERSION_TO_LIB["NVSHMEM"] = "libnvshmem_host.so.3"
# Unversioned symbols go to a library chosen by prefix (first match wins).
PREFIX_TO_LIB = [
    ("cusparseLt", "libcusparseLt.so.0"),
    ("cuFile", "libcufile.so.0"),
    ("nccl", "libnccl.so.2"),
    ("nvshmem", "libnvshmem_host.so.3"),
    ("cu", "libcuda.so.1"),
]


def nm(path, *flags):
    out = subprocess.run(["nm", "-D", *flags, path], capture_output=True, text=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.split()]


def main():
    site, out = sys.argv[1], sys.argv[2]
    torch_lib = os.path.join(site, "torch", "lib")
    torch_sos = [os.path.join(torch_lib, f) for f in os.listdir(torch_lib) if ".so" in f]

    # Everything defined by torch itself, the installed NVIDIA wheels and the
    # system C/C++ runtime: unversioned references to these need no stub.
    defined = set()
    candidates = list(torch_sos)
    nvidia = os.path.join(site, "nvidia")
    for root, _, files in os.walk(nvidia):
        candidates += [os.path.join(root, f) for f in files if ".so" in f]
    for lib in ["libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libdl.so.2",
                "libpthread.so.0", "librt.so.1"]:
        for d in ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]:
            if os.path.exists(os.path.join(d, lib)):
                candidates.append(os.path.join(d, lib))
                break
    for c in candidates:
        defined.update(s.split("@")[0] for s in nm(c, "--defined-only"))

    versioned = {m: set() for m in MISSING}  # lib -> {(symbol, version)}
    unversioned = {m: set() for m in MISSING}  # lib -> {symbol}
    for so in torch_sos:
        for sym in nm(so, "--undefined-only"):
            if "@" in sym:
                name, ver = sym.split("@", 1)
                ver = ver.lstrip("@")
                if ver in VERSION_TO_LIB:
                    versioned[VERSION_TO_LIB[ver]].add((name, ver))
            elif sym not in defined and not sym.startswith(("Py", "_Py", "_Z", "_ITM", "__gmon")):
                for prefix, lib in PREFIX_TO_LIB:
                    if sym.startswith(prefix):
                        unversioned[lib].add(sym)
                        break

    os.makedirs(out, exist_ok=True)
    for lib in MISSING:
        vsyms = sorted(versioned[lib])
        usyms = sorted(unversioned[lib] - {s for s, _ in vsyms})
        src = os.path.join(out, lib + ".c")
        with open(src, "w") as fh:
            fh.write("#include <stdlib.h>\n")
            for s in [s for s, _ in vsyms] + usyms:
                fh.write(f"void {s}(void) {{ abort(); }}\n")
        cmd = ["gcc", "-shared", "-fPIC", "-o", os.path.join(out, lib), src, f"-Wl,-soname,{lib}"]
        versions = sorted({v for _, v in vsyms})
        if versions:
            # Unversioned symbols are attached to the first node as well; a
            # plain reference binds to any default-version definition.
            script = os.path.join(out, lib + ".map")
            with open(script, "w") as fh:
                for i, v in enumerate(versions):
                    names = [s for s, vv in vsyms if vv == v] + (usyms if i == 0 else [])
                    fh.write(f"{v} {{ global: {'; '.join(names)}; local: *; }};\n")
            cmd.append(f"-Wl,--version-script={script}")
        subprocess.check_call(cmd)
        print(f"{lib}: {len(vsyms)} versioned + {len(usyms)} unversioned stubs")


if __name__ == "__main__":
    main()
