#!/usr/bin/env bash
# Runs a pack made by `cargo xtask device-pack` on the machine it was carried to.
#
#   tar -xJf sciml-device.tar.xz -C DIR && DIR/run.sh [OUT]
#
# Environment:
#   SCIML_DEVICE   device for the tests and the suite (default: cuda)
#   TORCH_LIB      libtorch's library directory (default: that of the `python3` torch package)
#   TEST_TIMEOUT   seconds per test binary (default: 600)
#   SUITE_FILTER   regex of suite tasks to time after the tests (default: none)
#   SUITE_PROFILE  quick or full (default: quick)
#
# Writes to OUT (default: $OUT, else ./device-out): summary.tsv (passed / failed / ignored per
# binary and per package), tests.log (every binary's output), failures.txt, suite.json.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${OUT:-device-out}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [[ -z "${TORCH_LIB:-}" ]]; then
    TORCH_LIB="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)" || {
        echo "run.sh: set TORCH_LIB to libtorch's lib directory (no python3 torch found)" >&2
        exit 2
    }
fi
if [[ ! -f "$TORCH_LIB/libtorch_cpu.so" ]]; then
    echo "run.sh: TORCH_LIB=$TORCH_LIB has no libtorch_cpu.so" >&2
    exit 2
fi
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SCIML_DEVICE="${SCIML_DEVICE:-cuda}"
export RUST_TEST_THREADS=1
timeout_s="${TEST_TIMEOUT:-600}"

# Tests read fixtures under the crate directory they were built in: recreate that path as a link.
build_root="$(head -n1 "$here/build-root")"
if [[ "$build_root" != "$here/src" ]]; then
    if [[ -e "$build_root" && ! -L "$build_root" ]]; then
        echo "run.sh: $build_root exists and is not a link; fixtures are read from there" >&2
    else
        mkdir -p "$(dirname "$build_root")" && ln -sfn "$here/src" "$build_root" ||
            echo "run.sh: cannot link $build_root -> $here/src; tests reading fixtures will fail" >&2
    fi
fi

echo "libtorch: $TORCH_LIB (pack built for $(cat "$here/libtorch-version"))" | tee "$out/tests.log"
echo "SCIML_DEVICE=$SCIML_DEVICE" | tee -a "$out/tests.log"
# what the machine offers: the GPU, and whether the python torch next to TORCH_LIB sees it
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/gpu: /' | tee -a "$out/tests.log"
fi
python3 -c 'import torch; print("python torch", torch.__version__, "cuda available:", torch.cuda.is_available())' \
    2>/dev/null | tee -a "$out/tests.log" || true
printf 'package\ttarget\tstatus\tpassed\tfailed\tignored\tseconds\n' >"$out/summary.tsv"
: >"$out/failures.txt"

tail -n +2 "$here/tests.tsv" | while IFS=$'\t' read -r package target binary package_dir; do
    log="$(mktemp)"
    start=$(date +%s)
    (cd "$here/src/$package_dir" && timeout "$timeout_s" "$here/bin/$binary" --test-threads=1) >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # libtest prints one "test result:" line per binary.
    read -r passed failed ignored < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log" | tail -n1)
    if [[ $rc -eq 0 ]]; then status=ok; elif [[ $rc -eq 124 ]]; then status=timeout; elif [[ -n "${failed:-}" ]]; then status=failed; else status="crashed($rc)"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$package" "$target" "$status" "${passed:-0}" "${failed:-0}" "${ignored:-0}" "$secs" >>"$out/summary.tsv"
    { echo "===== $package/$target: $status ($secs s)"; cat "$log"; } >>"$out/tests.log"
    if [[ $status != ok ]]; then
        { echo "===== $package/$target: $status"; grep -E '^test .* FAILED$|panicked at|^error' "$log" | head -n 40; } >>"$out/failures.txt"
    fi
    echo "$package/$target: $status (${passed:-0} passed, ${failed:-0} failed, ${ignored:-0} ignored, $secs s)"
    rm -f "$log"
done

echo
echo "per package (passed / failed / ignored, binaries not ok):"
awk -F'\t' 'NR > 1 { p[$1] += $4; f[$1] += $5; i[$1] += $6; if ($3 != "ok") bad[$1]++ }
    END { for (k in p) printf "  %-16s %5d %5d %5d  %d\n", k, p[k], f[k], i[k], bad[k] }' "$out/summary.tsv" | sort

if [[ -n "${SUITE_FILTER:-}" ]]; then
    echo
    echo "suite --filter '$SUITE_FILTER' (${SUITE_PROFILE:-quick})"
    (cd "$here/src" && timeout "$timeout_s" "$here/bin/suite" --profile "${SUITE_PROFILE:-quick}" \
        --filter "$SUITE_FILTER" --out "$out/suite.json" --work-dir "$(mktemp -d)") >>"$out/tests.log" 2>&1 ||
        echo "suite failed (see tests.log)"
fi
