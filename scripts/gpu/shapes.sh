# Dims for the staged GPU checks (sourced by scripts/gpu-conformance.sh and scripts/gpu-dots.sh):
# small values that leave partial tiles, and large ones; per-name values keep 3-D/4-D tensors and
# attention sequence lengths realistic.
small() { case "$1" in N) echo 96;; K) echo 256;; S) echo 80;; BH|B|H) echo 2;; E) echo 4;; *) echo 70;; esac; }
large() { case "$1" in M|T|P|R|G) echo 3000;; N) echo 2048;; K) echo 1024;; S) echo 1000;; BH) echo 16;; B|H) echo 4;; E) echo 8;; D) echo 128;; Z) echo 8;; *) echo 512;; esac; }
# Kernels whose contract bounds a dim by a tile (one row per tile of BN columns): their large shape
# keeps the dim at that tile, since columns past it are, by design, never written.
large_of() { case "$1:$2" in
  softmax_rows:N|layernorm_bf16:N|rmsnorm_quant_mxfp8:N|rmsnorm_fake_quant_mxfp8:N) echo 128;;
  rmsnorm_bf16:N) echo 256;;
  *) large "$2";; esac; }
# `name|--dim small ...|--dim large ...` for a built bundle directory.
case_line() {
  local n=$1 d=$2 syms s="" l="" x
  syms=$(sed -n 's/^  syms \[\(.*\)\]$/\1/p' "$d/kernel.tir" | head -1 | tr -d ' ')
  IFS=, read -ra names <<<"$syms"
  for x in "${names[@]}"; do [ "$x" = E1 ] && continue; [ -n "$x" ] && s="$s --dim $x=$(small "$x")" && l="$l --dim $x=$(large_of "$n" "$x")"; done
  echo "$n|$s|$l"
}
