#!/usr/bin/env bash
# Runs on the GPU machine (staged by scripts/gpu.sh; carried as .gpu/). For every case in cases.txt:
# validate (GPU vs interpreter and plain reference), bench (CUDA events, median), compute-sanitizer
# memcheck on partial-tile shapes; the peers (cuBLAS via torch, Triton) in the same call; then one
# final table. Results also land in $OUT (results.jsonl, peers.jsonl, table.txt, logs.tar.gz).
set -uo pipefail
cd "$(dirname "$0")"
# The device tool returns at most 8 files from $OUT: results.jsonl, peers.jsonl, table.txt and one
# archive of the per-run logs (kept in $LOGS while running).
OUT=${OUT:-/tmp/tessera-gpu-out}
LOGS=${TMPDIR:-/tmp}/tessera-gpu-logs
rm -rf "$LOGS"; mkdir -p "$OUT" "$LOGS"
R=./bin/tessera-runner
RES=$OUT/results.jsonl
: > "$RES"
echo "== $(date -u '+%Y-%m-%d %H:%M UTC') on $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"

echo "== peers (torch/cuBLAS, Triton): $OUT/peers.jsonl"
PYTHONUNBUFFERED=1 timeout 180 python3 peers.py cases.txt "$OUT/peers.jsonl" 2>"$LOGS/peers.log" \
  || echo "   peers failed (rc $?): see the tail of peers.log below"
tail -n 3 "$LOGS/peers.log" | sed 's/^/   /'

SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)

ceiling() { # kernel -> the measured cuBLAS ceiling in TFLOP/s for that kernel's input type
  python3 - "$OUT/peers.jsonl" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()] if __import__("os").path.exists(sys.argv[1]) else []
kind = "fp8" if "fp8" in sys.argv[2] else "bf16"
c = [r["tflops"] for r in rows if r.get("ceiling") == kind and r.get("tflops")]
print(max(c) if c else "")
PY
}

# The device call has a 600 s limit: leave time for the table, and turn a hung kernel into an error.
BUDGET_S=${TESSERA_GPU_BUDGET_S:-480}
export TESSERA_KERNEL_TIMEOUT_S=${TESSERA_KERNEL_TIMEOUT_S:-30}
while read -r kernel M N K; do
  [ -n "$kernel" ] || continue
  if (( SECONDS > BUDGET_S )); then
    echo "== skipping $kernel M=$M N=$N K=$K: past the ${BUDGET_S} s budget of this call"; continue
  fi
  dims=(--dim "M=$M" --dim "N=$N" --dim "K=$K")
  b=bundles/$kernel
  echo "== $kernel M=$M N=$N K=$K"
  timeout 150 "$R" validate "$b" "${dims[@]}" --seed 7 --json "$RES" 2>"$LOGS/validate-$kernel-$M-$N-$K.log"
  rc=$?; sed 's/^/   /' "$LOGS/validate-$kernel-$M-$N-$K.log" | tail -n 8
  [ $rc -le 1 ] || echo "{\"kind\":\"validate\",\"kernel\":\"$kernel\",\"shape\":\"M=$M K=$K N=$N\",\"pass\":false,\"error_rc\":$rc}" >> "$RES"
  c=$(ceiling "$kernel")
  timeout 120 "$R" bench "$b" "${dims[@]}" --iters 50 --warmup 10 ${c:+--ceiling-tflops "$c"} --json "$RES" \
    2>"$LOGS/bench-$kernel-$M-$N-$K.log" || { echo "   bench failed:"; tail -n 3 "$LOGS/bench-$kernel-$M-$N-$K.log"; }
  if (( M % 128 || N % 128 || K % 64 )); then
    if [ -n "$SAN" ]; then
      log=$LOGS/memcheck-$kernel-$M-$N-$K.log
      timeout 120 "$SAN" --tool memcheck --error-exitcode 9 "$R" run "$b" "${dims[@]}" --seed 7 >"$log" 2>&1
      mrc=$?
      errs=$(grep -oE 'ERROR SUMMARY: [0-9]+' "$log" | grep -oE '[0-9]+' | tail -1)
      if grep -q "Device not supported" "$log"; then
        echo "   memcheck: compute-sanitizer does not support this machine's GPU setup (seen on gVisor hosts)"
        errs=""
      else
        echo "   memcheck: ${errs:-?} errors (rc $mrc)"; grep -m 3 -E '^=+ +(Invalid|Address|ERROR)' "$log" | sed 's/^/     /'
      fi
      echo "{\"kind\":\"memcheck\",\"kernel\":\"$kernel\",\"shape\":\"M=$M K=$K N=$N\",\"errors\":${errs:-null},\"rc\":$mrc}" >> "$RES"
    else
      echo "   memcheck: compute-sanitizer not found"
    fi
  fi
done < cases.txt

# Named-dim cases (non-GEMM kernels, e.g. attention): `kernel NAME=V,NAME=V`; validate, bench and
# memcheck with their own --dim names (no peers).
named_args() { # "BH=2,S=200,causal=0" -> ARGS=(--dim BH=2 --dim S=200 --scalar causal=0)
  ARGS=()
  local kv
  for kv in ${1//,/ }; do
    case "${kv%%=*}" in
      [A-Z]*) ARGS+=(--dim "$kv") ;;   # symbolic dims are upper-case in the examples
      *) ARGS+=(--scalar "$kv") ;;     # scalar parameters (e.g. causal) are lower-case
    esac
  done
}
while read -r kernel named; do
  [ -n "$kernel" ] || continue
  if (( SECONDS > BUDGET_S )); then
    echo "== skipping $kernel $named: past the ${BUDGET_S} s budget of this call"; continue
  fi
  named_args "$named"; dims=("${ARGS[@]}")
  tag=${named//,/-}; b=bundles/$kernel
  echo "== $kernel $named"
  timeout 150 "$R" validate "$b" "${dims[@]}" --seed 7 --json "$RES" 2>"$LOGS/validate-$kernel-$tag.log"
  rc=$?; sed 's/^/   /' "$LOGS/validate-$kernel-$tag.log" | tail -n 8
  [ $rc -le 1 ] || echo "{\"kind\":\"validate\",\"kernel\":\"$kernel\",\"shape\":\"${named//,/ }\",\"pass\":false,\"error_rc\":$rc}" >> "$RES"
  timeout 120 "$R" bench "$b" "${dims[@]}" --iters 50 --warmup 10 --json "$RES" \
    2>"$LOGS/bench-$kernel-$tag.log" || { echo "   bench failed:"; tail -n 3 "$LOGS/bench-$kernel-$tag.log"; }
  if [ -n "$SAN" ]; then
    log=$LOGS/memcheck-$kernel-$tag.log
    timeout 120 "$SAN" --tool memcheck --error-exitcode 9 "$R" run "$b" "${dims[@]}" --seed 7 >"$log" 2>&1
    mrc=$?
    errs=$(grep -oE 'ERROR SUMMARY: [0-9]+' "$log" | grep -oE '[0-9]+' | tail -1)
    echo "   memcheck: ${errs:-?} errors (rc $mrc)"; grep -m 3 -E '^=+ +(Invalid|Address|ERROR)' "$log" | sed 's/^/     /'
    echo "{\"kind\":\"memcheck\",\"kernel\":\"$kernel\",\"shape\":\"${named//,/ }\",\"errors\":${errs:-null},\"rc\":$mrc}" >> "$RES"
  fi
done < <(cat cases-named.txt 2>/dev/null)

echo
python3 table.py "$RES" "$OUT/peers.jsonl" | tee "$OUT/table.txt"
tar czf "$OUT/logs.tar.gz" -C "$(dirname "$LOGS")" "$(basename "$LOGS")" 2>/dev/null || true
