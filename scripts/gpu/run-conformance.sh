#!/usr/bin/env bash
# On the GPU machine: validate every staged conformance bundle (partial and large shape) and run
# compute-sanitizer memcheck on the partial shape. Writes $OUT/conformance.txt (one row per run).
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/conformance.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
printf '%-28s %-8s %-10s %s\n' kernel shape verdict detail >> "$out"
# Inputs a kernel's contract constrains (tests/conformance/inputs/README.md): `inputs <name> <dims>`
# prints the runner arguments, writing the files under conformance/<name>/in-<shape>.
inputs() {
  local n=$1 shape=$2; shift 2
  [ -f "conformance/inputs/$n.py" ] || return 0
  mkdir -p "conformance/$n/in-$shape"
  (cd conformance/inputs && python3 "$n.py" "../$n/in-$shape" "$@") | sed "s|\.\./$n/|conformance/$n/|g"
}
while IFS='|' read -r n s l; do
  s="$s $(inputs "$n" partial $s)"
  l="$l $(inputs "$n" large $l)"
  for shape in partial large; do
    dims=$s; [ "$shape" = large ] && dims=$l
    # a scalar the runner has no convention for is asked for by name: give it 1 and retry
    for _ in 1 2 3 4 5; do
      res=$(timeout 60 $R validate "conformance/$n" $dims --seed 7 2>&1); rc=$?
      need=$(echo "$res" | sed -n 's/.*needs --scalar \([a-z_0-9]*\)=VALUE.*/\1/p' | head -1)
      [ -n "$need" ] || break
      s="$s --scalar $need=1"; l="$l --scalar $need=1"; dims="$dims --scalar $need=1"
    done
    verdict=$([ $rc -eq 0 ] && echo PASS || echo "FAIL($rc)")
    printf '%-28s %-8s %-10s %s\n' "$n" "$shape" "$verdict" "$(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-400)" >> "$out"
  done
  if command -v compute-sanitizer >/dev/null; then
    mc=$(timeout 60 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "conformance/$n" $s --seed 7 2>&1); rc=$?
    # memcheck's verdict is its error summary (the run itself may exit non-zero, e.g. on NaN outputs)
    if echo "$mc" | grep -q 'ERROR SUMMARY: 0 errors'; then v=CLEAN; else v="ERR($rc)"; fi
    printf '%-28s %-8s %-10s %s\n' "$n" memcheck "$v" "$(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error' | cut -c1-160)" >> "$out"
  fi
done < conformance/cases.txt
cp conformance/refused.txt "${OUT:-.}/refused.txt" 2>/dev/null
cat "$out"
