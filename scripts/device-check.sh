#!/usr/bin/env bash
# Every check that needs a GPU, in one run, for a lent or lab GPU machine that has Python,
# NumPy, CuPy, pytest and (optionally) PyTorch but no nox and no package registry.
#
#   scripts/device-check.sh OUT [WHEELS]
#
# WHEELS (default dist/) holds the five nnott wheels and those of any dependency the machine
# lacks, all made where a registry is reachable: `nox -s build` for nnott, and for a machine
# with the usual scientific stack but not these two pure-Python ones,
#   python3 -m pip download --no-deps -d dist platformdirs pooch
# Every wheel there is installed with --no-deps into a private folder, never into the
# machine's Python. Then, most important first, each step under its own time limit:
#
#   1. nnott-gpucheck --stress-seconds 10 --stress-size 4096 --json (the device's report)
#   2. the quick GPU benchmark: lenet and resnet18 against PyTorch+cuDNN, the convolution
#      layers against cuBLAS's GEMM roof, the memory of one ResNet18 step
#   3. every package's test suite on the GPU, as `nox -s tests-gpu` runs them
#
# What each step printed lands in OUT (at most 8 files, for tools that copy few back), with
# summary.txt listing each step's exit status. The script exits 0 only when all passed, and
# ends within TOTAL_SECONDS (default 540); each step's own limit is named below.
# DEVICE=emulated rehearses the whole run on a machine without a GPU (step 1 then exits 2).
set -uo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: scripts/device-check.sh OUT [WHEELS]}
wheels=${2:-dist}
device=${DEVICE:-gpu}
site=${NNOTT_DEVICE_SITE:-/tmp/nnott-device-site}
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"

shopt -s nullglob
nnott_wheels=("$wheels"/nnott_*.whl)
wheel_files=("$wheels"/*.whl)
if [ ${#nnott_wheels[@]} -ne 5 ]; then
    echo "device-check: expected the 5 nnott wheels in $wheels/, found ${#nnott_wheels[@]};" \
        "build them with 'nox -s build'" | tee -a "$summary" >&2
    exit 3
fi
rm -rf "$site"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target "$site" "${wheel_files[@]}" || { echo "device-check: wheel install failed" >&2; exit 3; }
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$site/bin:$PATH"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg NNOTT_DEVICE="$device" NNOTT_STRICT=0

status=0
deadline=$((SECONDS + ${TOTAL_SECONDS:-540})) # the whole run, under a 10-minute call limit
step() { # step NAME SECONDS LOG COMMAND...: run one step, note its exit status
    local name=$1 seconds=$2 log=$3 code left=$((deadline - SECONDS))
    shift 3
    if [ $left -lt 15 ]; then
        echo "$name: not run, the run's ${TOTAL_SECONDS:-540} s were spent" | tee -a "$summary"
        status=1
        return
    fi
    [ $seconds -gt $left ] && seconds=$left
    echo "== $name ($(date -u +%H:%M:%S))" | tee -a "$log"
    timeout --kill-after=10 "$seconds" "$@" >>"$log" 2>&1
    code=$?
    [ $code -eq 124 ] && echo "device-check: $name passed its ${seconds} s limit" >>"$log"
    echo "$name: exit $code" | tee -a "$summary"
    [ $code -eq 0 ] || status=1
}

step gpucheck "${GPUCHECK_SECONDS:-120}" "$out/gpucheck.txt" \
    python3 -m nnott.gpucheck --stress-seconds 10 --stress-size 4096 --json "$out/gpucheck.json"
step bench "${BENCH_SECONDS:-240}" "$out/bench.txt" \
    python3 benchmarks/run.py --device "$device" --quick --only cnn,conv,memory --out "$out/bench"
for package in nnott-cnn nnott-backend nnott-vectorized nnott-gpucheck nnott-scalar; do
    step "tests $package" "${TEST_SECONDS:-240}" "$out/tests.txt" \
        python3 -m pytest "packages/$package/tests" -q -p no:cacheprovider
done
exit $status
