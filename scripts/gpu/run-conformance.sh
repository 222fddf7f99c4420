#!/usr/bin/env bash
# On the GPU machine: validate every staged conformance bundle (partial and large shape) and run
# compute-sanitizer memcheck on the partial shape. Writes $OUT/conformance.txt (one row per run).
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/conformance.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
printf '%-28s %-8s %-10s %s\n' kernel shape verdict detail >> "$out"
while IFS='|' read -r n s l; do
  for shape in partial large; do
    dims=$s; [ "$shape" = large ] && dims=$l
    res=$(timeout 60 $R validate "conformance/$n" $dims --seed 7 2>&1); rc=$?
    verdict=$([ $rc -eq 0 ] && echo PASS || echo "FAIL($rc)")
    printf '%-28s %-8s %-10s %s\n' "$n" "$shape" "$verdict" "$(echo "$res" | grep -E 'rel_l2|PASS|FAIL|error' | tail -2 | tr '\n' ' ' | cut -c1-220)" >> "$out"
  done
  if command -v compute-sanitizer >/dev/null; then
    mc=$(timeout 60 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "conformance/$n" $s --seed 7 2>&1); rc=$?
    printf '%-28s %-8s %-10s %s\n' "$n" memcheck "$([ $rc -eq 0 ] && echo CLEAN || echo "ERR($rc)")" "$(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error' | cut -c1-160)" >> "$out"
  fi
done < conformance/cases.txt
cp conformance/refused.txt "${OUT:-.}/refused.txt" 2>/dev/null
cat "$out"
