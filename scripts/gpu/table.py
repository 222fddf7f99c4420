"""The final table of a GPU run: python3 table.py results.jsonl peers.jsonl
One row per (kernel, shape): tessera median us, the peer's us, the ratio (tessera / peer; < 1 is
faster), tessera TFLOP/s and % of the measured cuBLAS ceiling, validation verdict, memcheck errors."""
import json, os, sys

def load(p):
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []

def dims(shape):
    d = dict(kv.split("=") for kv in shape.split())
    return int(d.get("M", 0)), int(d.get("N", 0)), int(d.get("K", 0))

res, peers = load(sys.argv[1]), load(sys.argv[2])
rows = {}
for r in res:
    # Named-dim shapes (attention: BH=.. S=..) keep their shape in the row's name.
    key = (r["kernel"] + ("" if "M=" in r["shape"] else " " + r["shape"]), dims(r["shape"]))
    rows.setdefault(key, {})[r["kind"]] = r
peer = {(p["kernel"], (p["M"], p["N"], p["K"])): p for p in peers if "kernel" in p}
ceil = {p["ceiling"]: p for p in peers if "ceiling" in p}

hdr = ["kernel", "M", "N", "K", "tessera us", "peer", "peer us", "ratio", "TFLOP/s", "% ceil", "validation", "rel_l2", "memcheck"]
out = []
for (k, (M, N, K)), r in sorted(rows.items(), key=lambda x: (x[0][0], x[0][1][0] * x[0][1][1] * x[0][1][2])):
    b, v, m, p = r.get("bench"), r.get("validate"), r.get("memcheck"), peer.get((k, (M, N, K)), {})
    us = b["median_us"] if b else None
    pus = p.get("us")
    rel = max((c["rel_l2"] for c in v.get("checks", [])), default=None) if v else None
    out.append([k, M, N, K,
        f"{us:.1f}" if us else "-",
        (p.get("peer") or "-") + (" *" if p.get("note") else ""),
        f"{pus:.1f}" if pus else "-",
        f"{us / pus:.2f}x" if us and pus else "-",
        f"{b['tflops']:.1f}" if b and b.get("tflops") else "-",
        f"{b['pct_of_ceiling']:.1f}%" if b and b.get("pct_of_ceiling") else "-",
        (f"ERROR rc {v['error_rc']}" if "error_rc" in v else "PASS" if v.get("pass") else "FAIL") if v else "-",
        f"{rel:.2e}" if rel is not None else "-",
        (f"{m['errors']} errors" if m.get("errors") is not None else f"rc {m.get('rc')}") if m else "-"])
w = [max(len(str(x)) for x in col) for col in zip(hdr, *out)] if out else [len(h) for h in hdr]
line = lambda r: "| " + " | ".join(str(x).rjust(n) for x, n in zip(r, w)) + " |"
print(line(hdr)); print("|" + "|".join("-" * (n + 2) for n in w) + "|")
for r in out: print(line(r))
for kind, c in sorted(ceil.items()):
    if "gbps" in c:
        print(f"ceiling {kind}: {c['peer']} = {c['gbps']:.0f} GB/s (read + write)")
    else:
        print(f"ceiling {kind}: {c['peer']} 8192^3 = {c['tflops']:.1f} TFLOP/s")
for p in peers:
    if "ref" in p:
        print(f"ref {p['ref']} {p['M']}x{p['N']}x{p['K']}: {p['peer']} {p['us']:.1f} us ({p['tflops']:.1f} TFLOP/s)")
for p in peers:
    if p.get("note") and "kernel" in p: print(f"* {p.get('kernel')} {p.get('M')}x{p.get('N')}x{p.get('K')}: {p['note']}")
fails = [k for k, r in rows.items() if "validate" in r and not r["validate"].get("pass")]
print(f"validation: {sum(1 for r in rows.values() if r.get('validate', {}).get('pass'))} PASS, {len(fails)} FAIL")
