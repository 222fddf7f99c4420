#!/usr/bin/env bash
# On the GPU machine: validate the staged scaled GEMMs' default builds (partial tiles, a partial K
# tile, a large shape; memcheck), then time them at docs/PERFORMANCE.md's shapes and the peers at the
# same shapes. Writes $OUT/scaled.txt and $OUT/scaled-peers.jsonl.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/scaled.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
d() { echo "--dim M=$1 --dim N=$2 --dim K=$3"; }
for b in scaled/*.default; do
  for s in "70 96 256" "130 136 384" "3000 2048 1024"; do
    res=$(timeout 120 $R validate "$b" $(d $s) --seed 13 2>&1); rc=$?
    echo "$b validate $s rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-330)" >> "$out"
  done
  mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "$b" $(d 130 136 384) --seed 13 2>&1)
  echo "$b memcheck $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error\[')" >> "$out"
done
shapes() { case $1 in
  *mxfp4*|*dequant*) echo "100 704 320|4096 4096 4096|8192 8192 8192|16 8192 8192|64 8192 8192";;
  *blockscale*) echo "100 704 384|4096 4096 4096";;
  *) echo "100 704 320|4096 4096 4096";;
esac; }
: > cases.txt
for b in scaled/*.default; do
  n=$(basename "$b"); n=${n%.*}
  IFS='|' read -ra ss <<<"$(shapes "$n")"
  for s in "${ss[@]}"; do
    echo "$b $s $(timeout 120 $R bench "$b" $(d $s) 2>&1 | tail -1 | cut -c1-200)" >> "$out"
    case $b in *.default) echo "$n $s" >> cases.txt;; esac
  done
done
python3 peers.py cases.txt ${OUT:-.}/scaled-peers.jsonl >> "$out" 2>&1
cat "$out"; cat ${OUT:-.}/scaled-peers.jsonl
