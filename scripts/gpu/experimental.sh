#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-experimental.sh): every corpus kernel whose per-op code
# an experimental option changes, validated with it at a partial and a large shape (outputs
# poisoned; scalars the runner asks for get 1), memcheck at the partial shape, and the examples
# timed at 4096^3 with it, without it (`.base`) and on the mainloop (`.sched`).
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
log=${OUT:-.}/experimental.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
val() { # label bundle dims...
  local n=$1 b=$2; shift 2
  local extra=""
  for _ in 1 2 3 4; do
    res=$(timeout 90 $R validate "$b" "$@" $extra --seed 31 2>&1); rc=$?
    need=$(echo "$res" | sed -n 's/.*needs --scalar \([a-z_0-9]*\)=VALUE.*/\1/p' | head -1)
    [ -n "$need" ] || break
    extra="$extra --scalar $need=1"
  done
  echo "$n rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-280)" >> "$log"
}
while IFS='|' read -r n opt s l; do
  val "$n.$opt partial" "x/$n.$opt" $s
  val "$n.$opt large" "x/$n.$opt" $l
  mc=$(timeout 90 compute-sanitizer --tool memcheck $R run "x/$n.$opt" $s --seed 31 2>&1)
  echo "$n.$opt memcheck $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error')" >> "$log"
done < x/cases.txt
BIG="--dim M=4096 --dim N=4096 --dim K=4096"
for b in x/gemm_nvfp4.* x/gemm_mxfp8.*; do
  echo "$(basename "$b") $(timeout 90 $R bench "$b" $BIG 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-150)" >> "$log"
done
echo done >> "$log"
cat "$log"
