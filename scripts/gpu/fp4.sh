#!/usr/bin/env bash
# On the GPU machine: validate the packed-FP4 per-op builds (partial tiles, a partial K tile, a K
# not a multiple of 32 where the contract allows it (NVFP4), a large shape; all outputs poisoned by
# the runner), memcheck them, and time new / old at 4096^3.
# Writes $OUT/fp4.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/fp4.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
dims() { # kernel shape -> --dim flags (the residual GEMM names its dims like the others)
  case $2 in
    partial) echo "--dim M=70 --dim N=96 --dim K=256";;
    k96) echo "--dim M=130 --dim N=136 --dim K=96";;
    k208) echo "--dim M=70 --dim N=96 --dim K=208";;
    large) echo "--dim M=3000 --dim N=2048 --dim K=1024";;
    big) echo "--dim M=4096 --dim N=4096 --dim K=4096";;
  esac
}
for b in fp4/*.new; do
  for shape in partial k96 k208 large; do
    res=$(timeout 120 $R validate "$b" $(dims "$b" $shape) --seed 11 2>&1); rc=$?
    echo "$b $shape rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-330)" >> "$out"
  done
done
for b in fp4/*.new; do
  for shape in k96 k208; do
    mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "$b" $(dims "$b" $shape) --seed 11 2>&1)
    echo "$b memcheck $shape $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error\[' )" >> "$out"
  done
done
for b in fp4/*.new fp4/*.old; do
  echo "$b $(timeout 120 $R bench "$b" $(dims "$b" big) 2>&1 | tail -1 | cut -c1-200)" >> "$out"
done
cat "$out"
