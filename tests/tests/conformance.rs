//! The conformance corpus: every `tests/conformance/*.tsr` kernel and every `dsl_examples/*.tsr`
//! checks with no diagnostics, runs on the interpreter at small partial-tile shapes on fresh
//! seeded non-uniform inputs, and agrees with an independent plain reference written here (f64,
//! straightforward loops, no code shared with the interpreter). The reference of each file is
//! chosen by the table in [`cases`], keyed by file name; a file without an entry fails the test,
//! and so does an entry without a file.
//!
//! Tolerances follow the output dtype (`Tolerance::for_output`, widened where a kernel rounds an
//! intermediate to a narrower type); integer outputs match exactly; quantized outputs are compared
//! as codes against the `tessera-formats` quantizers (exact where the quantizer input is exact,
//! within one code step where the kernel computes it in f32). NaN never passes.
//! The corpus is described in tests/conformance/README.md.

use std::path::{Path, PathBuf};
use tessera_formats::{
    Format, decode as fdecode, mx_quantize_block, nvfp4_global_scale, nvfp4_quantize_block,
};
use tessera_interp::{ProgramSet, concrete_shape, run};
use tessera_ir::{DType, Kernel, Module, ParamKind, TensorType};
use tessera_numerics::{
    ArgValue, Bindings, InputGen, TensorArg, Tolerance, compare_buf, decode_buf_f64, encode_buf,
};

// ---------------------------------------------------------------------------------------------
// Files, checking, bindings
// ---------------------------------------------------------------------------------------------

fn tsr_files(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsr"))
        .collect();
    v.sort();
    v
}

fn all_files() -> Vec<PathBuf> {
    let mut v = tsr_files("conformance");
    v.extend(tsr_files("../dsl_examples"));
    v
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Checks with no diagnostics at all (no warnings either).
fn compile(p: &Path) -> Module {
    let bytes = std::fs::read(p).expect("read kernel");
    let (m, diags) = tessera_check::check_source(&p.display().to_string(), &bytes);
    let shown: Vec<String> = diags
        .iter()
        .map(|d| {
            format!(
                "{} at {:?}: {}",
                d.code,
                d.labels.first().map(|l| l.span),
                d.message
            )
        })
        .collect();
    assert!(diags.is_empty(), "{} has diagnostics: {shown:?}", p.display());
    m.expect("module")
}

/// A tiny seeded generator for index inputs (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

fn pidx(k: &Kernel, name: &str) -> usize {
    k.params
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("kernel {} has no parameter {name}", k.name))
}

fn tensor_ty(k: &Kernel, i: usize) -> &TensorType {
    match &k.params[i].kind {
        ParamKind::Tensor { ty, .. } => ty,
        ParamKind::Scalar(_) => panic!("{} is a scalar", k.params[i].name),
    }
}

fn set_ints(k: &Kernel, b: &mut Bindings, name: &str, v: &[i64]) {
    let i = pidx(k, name);
    let ArgValue::Tensor(t) = &mut b.args[i] else {
        panic!()
    };
    let vals: Vec<f32> = v.iter().map(|x| *x as f32).collect();
    t.data = encode_buf(DType::I32, &t.data.shape, None, &vals).expect("encode ints");
}

fn set_f32(k: &Kernel, b: &mut Bindings, name: &str, v: &[f64]) {
    let i = pidx(k, name);
    let ArgValue::Tensor(t) = &mut b.args[i] else {
        panic!()
    };
    let vals: Vec<f32> = v.iter().map(|x| *x as f32).collect();
    t.data = encode_buf(t.data.dtype, &t.data.shape, t.data.packed_axis, &vals).expect("encode");
}

fn numel(k: &Kernel, b: &Bindings, name: &str) -> usize {
    let ArgValue::Tensor(t) = &b.args[pidx(k, name)] else {
        panic!()
    };
    t.data.numel()
}

/// Fresh seeded inputs; outputs poisoned (zeroed when accumulated into); scaled outputs get a
/// poisoned scale buffer too. Scalars: `scalars` of the case, then the oracle's conventions, then
/// a fixed default.
fn bindings(k: &Kernel, case: &Case, variant: &[(&str, f64)], seed: u64) -> Bindings {
    let mut syms: Vec<(String, i64)> = Vec::new();
    for s in &k.syms {
        let v = case
            .dims
            .iter()
            .chain(DIMS)
            .find(|(n, _)| n == s)
            .map(|(_, v)| *v);
        if let Some(v) = v {
            syms.push((s.clone(), v));
        }
    }
    tessera_oracle::derive_dims(k, &mut syms);
    for s in &k.syms {
        assert!(
            syms.iter().any(|(n, _)| n == s),
            "{}: no value for dim {s}",
            case.file
        );
    }
    let sym = |s: &str| syms.iter().find(|(n, _)| n == s).map(|(_, v)| *v);
    let mut g = InputGen::new(seed);
    let mut args = Vec::new();
    for (i, p) in k.params.iter().enumerate() {
        args.push(match &p.kind {
            ParamKind::Tensor { ty, is_out } => {
                let shape = concrete_shape(ty, &sym).expect("shape");
                if *is_out {
                    let mut out = tessera_numerics::poison::poisoned_output(ty, &shape);
                    if tessera_oracle::accumulates_into(k, i) {
                        out.data.bytes.fill(0);
                    }
                    ArgValue::Tensor(out)
                } else {
                    ArgValue::Tensor(g.tensor_arg(ty, &shape).expect("inputs"))
                }
            }
            ParamKind::Scalar(d) => {
                let given = variant
                    .iter()
                    .chain(case.scalars)
                    .find(|(n, _)| *n == p.name)
                    .map(|(_, v)| *v);
                ArgValue::Scalar(
                    given
                        .or_else(|| tessera_oracle::default_scalar(k, &p.name, &syms))
                        .unwrap_or(if d.is_float() {
                            0.75 + 0.125 * i as f64
                        } else {
                            1.0
                        }),
                )
            }
        });
    }
    // An NV input's global scale is carried by its scalar parameter.
    for (key, param) in &k.attrs {
        let Some(t) = key.strip_prefix("global_scale.") else {
            continue;
        };
        let ti = pidx(k, t);
        let pi = pidx(k, param);
        if let ArgValue::Tensor(TensorArg {
            global_scale: Some(gs),
            ..
        }) = &args[ti]
        {
            args[pi] = ArgValue::Scalar(f64::from(*gs));
        }
    }
    let mut b = Bindings { args, syms };
    if k.attr("reference").is_some() {
        tessera_oracle::prepare_inputs(k, &mut b, seed).expect("prepare inputs");
    }
    if let Some(prep) = case.prep {
        prep(k, &mut b, &mut Rng(seed ^ 0x5EED));
    }
    b
}

// ---------------------------------------------------------------------------------------------
// The reference side: reading inputs, expected outputs, checks
// ---------------------------------------------------------------------------------------------

/// Read access to a launch's inputs, for the references.
struct Ctx<'a> {
    k: &'a Kernel,
    b: &'a Bindings,
}

impl Ctx<'_> {
    fn d(&self, name: &str) -> usize {
        self.b.sym(name).unwrap_or_else(|| panic!("dim {name}")) as usize
    }
    fn s(&self, name: &str) -> f64 {
        match self.b.args[pidx(self.k, name)] {
            ArgValue::Scalar(v) => v,
            _ => panic!("{name} is not a scalar"),
        }
    }
    fn arg(&self, name: &str) -> &TensorArg {
        match &self.b.args[pidx(self.k, name)] {
            ArgValue::Tensor(t) => t,
            _ => panic!("{name} is not a tensor"),
        }
    }
    fn shape(&self, name: &str) -> Vec<usize> {
        self.arg(name).data.shape.clone()
    }
    /// Exact values of an input tensor: codes decoded, times its block scale (found by the block
    /// extents of the type, row-major block grid) and its NV global scale.
    fn t(&self, name: &str) -> Vec<f64> {
        let (codes, scale) = scaled_parts(self.k, self.arg(name), pidx(self.k, name));
        codes.iter().zip(&scale).map(|(v, s)| v * s).collect()
    }
    fn ints(&self, name: &str) -> Vec<i64> {
        self.t(name).into_iter().map(|v| v as i64).collect()
    }
}

/// A tensor argument as (element code values, each element's multiplier: its block scale times the
/// NV global scale, 1 for unscaled tensors).
fn scaled_parts(k: &Kernel, a: &TensorArg, i: usize) -> (Vec<f64>, Vec<f64>) {
    let data = decode_buf_f64(&a.data).expect("decode");
    let Some(spec) = &tensor_ty(k, i).scale else {
        let ones = vec![1.0; data.len()];
        return (data, ones);
    };
    let sc = decode_buf_f64(a.scale.as_ref().expect("scale")).expect("decode scale");
    let shape = &a.data.shape;
    let grid: Vec<usize> = shape
        .iter()
        .zip(&spec.block)
        .map(|(d, b)| d.div_ceil(*b as usize))
        .collect();
    let g = a.global_scale.map_or(1.0, f64::from);
    let mut mult = Vec::with_capacity(data.len());
    for flat in 0..data.len() {
        let (mut rem, mut bi, mut stride) = (flat, 0usize, 1usize);
        for d in (0..shape.len()).rev() {
            let c = rem % shape[d];
            rem /= shape[d];
            bi += (c / spec.block[d] as usize) * stride;
            stride *= grid[d];
        }
        mult.push(sc[bi] * g);
    }
    (data, mult)
}

/// How one output is judged.
enum Check {
    /// Values within a tolerance (`compare_buf` + `Tolerance::judge`: poison and NaN fail).
    Close(Vec<f64>, Tolerance),
    /// Quantized values: `got / scale` within one code step of `fmt` around `real / scale`
    /// (saturated at the format's max), for quantizer inputs the kernel computes in f32.
    QuantStep {
        real: Vec<f64>,
        scale: Vec<f64>,
        fmt: Format,
    },
    /// A scaled output (codes and block scales written by the kernel): every element's stored
    /// scale equals `scale` exactly, and its code value equals `real / scale` exactly (`fmt`
    /// `None`: the quantizer input is exact) or within one code step of `fmt` around it.
    Stored {
        real: Vec<f64>,
        scale: Vec<f64>,
        fmt: Option<Format>,
    },
}

struct Want {
    out: &'static str,
    check: Check,
}

fn close(out: &'static str, v: Vec<f64>, t: Tolerance) -> Want {
    Want {
        out,
        check: Check::Close(v, t),
    }
}

/// Tolerance of an output of dtype `d` summing `k` terms in f32, widened by `extra` (relative)
/// for intermediates the kernel rounds or computes with f32 transcendental functions.
fn tol(d: DType, k: usize, extra: f64) -> Tolerance {
    let t = Tolerance::for_output(d, k);
    let rtol = t.rtol + extra;
    Tolerance {
        rtol,
        max_rel_l2: rtol,
        min_cosine: 1.0 - 2.0 * rtol * rtol - 1e-12,
        atol: 0.0,
    }
}

/// Integers: exactly equal (the cosine bound leaves room only for its own f64 rounding).
fn exact() -> Tolerance {
    Tolerance {
        rtol: 0.0,
        max_rel_l2: 0.0,
        min_cosine: 1.0 - 1e-12,
        atol: 0.0,
    }
}

const BF16: f64 = 1.0 / 128.0; // one bf16 ulp relative (2u)
const F32X: f64 = 1e-5; // f32 transcendental / reassociation slack

fn bf16(x: f64) -> f64 {
    let f = x as f32;
    if !f.is_finite() {
        return f as f64;
    }
    let b = f.to_bits();
    let r = b.wrapping_add(0x7FFF + ((b >> 16) & 1)) & 0xFFFF_0000;
    f32::from_bits(r) as f64
}

fn f32r(x: f64) -> f64 {
    x as f32 as f64
}

fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

fn gelu_tanh(x: f64) -> f64 {
    0.5 * x * (1.0 + (0.7978845608028654 * (x + 0.044715 * x * x * x)).tanh())
}

/// `c[m][n] = sum_k a[m][k] * b(n, k)`, b `[N, K]` (or `[K, N]` when `b_kn`).
fn matmul(a: &[f64], b: &[f64], m: usize, n: usize, k: usize, b_kn: bool) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for l in 0..k {
                let bv = if b_kn { b[l * n + j] } else { b[j * k + l] };
                s += a[i * k + l] * bv;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// Attention over `h` heads, `[h, s, d]` q/k/v: softmax(sm * q k^T) v, keys j > i masked when causal.
#[allow(clippy::too_many_arguments)] // q, k, v, their shape, the scale and the mask
fn attention(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    h: usize,
    s: usize,
    d: usize,
    sm: f64,
    causal: bool,
) -> Vec<f64> {
    let mut o = vec![0.0; h * s * d];
    for hh in 0..h {
        let base = hh * s * d;
        for i in 0..s {
            let nk = if causal { i + 1 } else { s };
            let logits: Vec<f64> = (0..nk)
                .map(|j| {
                    sm * (0..d)
                        .map(|c| q[base + i * d + c] * k[base + j * d + c])
                        .sum::<f64>()
                })
                .collect();
            let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let p: Vec<f64> = logits.iter().map(|l| (l - mx).exp()).collect();
            let l: f64 = p.iter().sum();
            for c in 0..d {
                o[base + i * d + c] = (0..nk).map(|j| p[j] * v[base + j * d + c]).sum::<f64>() / l;
            }
        }
    }
    o
}

/// Attention tolerance for a bf16 output whose P is rounded to `p_round` (relative unit
/// roundoff) before P·V: an absolute bound in units of max|v| (the output is a convex combination
/// of V rows) plus a relative one for the whole tensor.
fn attention_tol(v: &[f64], p_round: f64) -> Tolerance {
    let maxv = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let rtol = 2e-2;
    Tolerance {
        rtol,
        max_rel_l2: rtol,
        min_cosine: 1.0 - 2.0 * rtol * rtol,
        atol: maxv * (2.0 * p_round + 2.0 * BF16 + 1e-4),
    }
}

// ---------------------------------------------------------------------------------------------
// References, one per kernel family
// ---------------------------------------------------------------------------------------------

/// Any `@reference(gemm)` kernel: A `[M, K]` (or `[Z, M, K]`-free), B `[N, K]` or `[K, N]`, each
/// dequantized (an explicit e8m0 tensor right after a code tensor is its scale); every f32 scalar
/// that is not an NV global multiplies C. Tolerance: the oracle's per-dtype tolerance.
fn r_gemm(c: &Ctx) -> Vec<Want> {
    let (m, n, k) = (c.d("M"), c.d("N"), c.d("K"));
    let ins: Vec<usize> = (0..c.k.params.len())
        .filter(|&i| matches!(c.k.params[i].kind, ParamKind::Tensor { is_out: false, .. }))
        .collect();
    let a = c.t(&c.k.params[ins[0]].name);
    let bname = &c.k.params[ins[1]].name;
    let mut b = c.t(bname);
    if let Some(&si) = ins.get(2) {
        // explicit scale tensor [N, K / block] of B's codes (block 32 for e8m0, 16 for ue4m3)
        let s = c.t(&c.k.params[si].name);
        let block = match &tensor_ty(c.k, si).dims[1] {
            tessera_ir::Dim::CeilDiv(_, by) => *by as usize,
            other => panic!("explicit scale dim {other:?} is not K / block"),
        };
        let kb = k.div_ceil(block);
        for j in 0..n {
            for l in 0..k {
                b[j * k + l] *= s[j * kb + l / block];
            }
        }
    }
    // B is [K, N] when its type's first dim is A's K (by name, not by extent)
    let b_kn = tensor_ty(c.k, ins[1]).dims[0] == tessera_ir::Dim::Sym("K".into());
    let globals: Vec<&String> =
        c.k.attrs
            .iter()
            .filter(|(key, _)| key.starts_with("global_scale."))
            .map(|(_, v)| v)
            .collect();
    let mut scale = 1.0;
    for p in &c.k.params {
        if matches!(p.kind, ParamKind::Scalar(DType::F32)) && !globals.contains(&&p.name) {
            scale *= c.s(&p.name);
        }
    }
    let out =
        c.k.params
            .iter()
            .position(|p| matches!(p.kind, ParamKind::Tensor { is_out: true, .. }))
            .unwrap();
    let want = matmul(&a, &b, m, n, k, b_kn)
        .into_iter()
        .map(|x| x * scale)
        .collect();
    let t = tessera_oracle::tolerance(c.k, c.b, out);
    vec![close(leak(&c.k.params[out].name), want, t)]
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// `@reference(attention)` kernels with fp8 q/k/v and per-tensor scales: own attention, the
/// oracle's attention tolerance.
fn r_attention_fp8(c: &Ctx) -> Vec<Want> {
    let sh = c.shape("q");
    let (h, s, d) = (sh[0], sh[1], sh[2]);
    let q: Vec<f64> = c.t("q").iter().map(|x| x * c.s("scale_q")).collect();
    let k: Vec<f64> = c.t("k").iter().map(|x| x * c.s("scale_k")).collect();
    let v: Vec<f64> = c.t("v").iter().map(|x| x * c.s("scale_v")).collect();
    let o = attention(&q, &k, &v, h, s, d, c.s("sm_scale"), c.s("causal") != 0.0);
    vec![close("o", o, tessera_oracle::tolerance(c.k, c.b, pidx(c.k, "o")))]
}

/// bf16 attention `[BH, S, D]` or `[B, H, S, D]` (heads flattened), sm_scale, causal flag.
fn r_attention_bf16(c: &Ctx) -> Vec<Want> {
    let sh = c.shape("q");
    let d = sh[sh.len() - 1];
    let s = sh[sh.len() - 2];
    let h: usize = sh[..sh.len() - 2].iter().product();
    let v = c.t("v");
    let o = attention(
        &c.t("q"),
        &c.t("k"),
        &v,
        h,
        s,
        d,
        c.s("sm_scale"),
        c.s("causal") != 0.0,
    );
    vec![close("o", o, attention_tol(&v, BF16 / 2.0))]
}

/// Decode attention: one query per head over all S keys, f32.
fn r_attention_decode(c: &Ctx) -> Vec<Want> {
    let (bh, s, d) = (c.d("BH"), c.d("S"), 64);
    let q = c.t("q");
    let mut q3 = vec![0.0; bh * s * d];
    for h in 0..bh {
        q3[h * s * d..h * s * d + d].copy_from_slice(&q[h * d..h * d + d]);
    }
    let v = c.t("v");
    let o3 = attention(&q3, &c.t("k"), &v, bh, s, d, c.s("sm_scale"), false);
    let o: Vec<f64> = (0..bh)
        .flat_map(|h| o3[h * s * d..h * s * d + d].to_vec())
        .collect();
    vec![close("o", o, tol(DType::F32, s, 1e-4))]
}

/// Gated MoE: `y[t] += w * silu(x_t . g_e) * (x_t . u_e)` per route of expert e.
fn r_moe(c: &Ctx) -> Vec<Want> {
    let (t, e, i, k) = (c.d("T"), c.d("E"), c.d("I"), c.d("K"));
    let (x, wg, wu) = (c.t("x"), c.t("w_gate"), c.t("w_up"));
    let (offs, ids, w) = (c.ints("offs"), c.ints("token_ids"), c.t("weights"));
    let mut y = vec![0.0; t * i];
    for ex in 0..e {
        for p in offs[ex].max(0) as usize..offs[ex + 1] as usize {
            let tok = ids[p];
            if tok < 0 || tok as usize >= t {
                continue;
            }
            let xr = &x[tok as usize * k..][..k];
            for n in 0..i {
                let g: f64 = (0..k).map(|l| xr[l] * wg[(ex * i + n) * k + l]).sum();
                let u: f64 = (0..k).map(|l| xr[l] * wu[(ex * i + n) * k + l]).sum();
                y[tok as usize * i + n] += w[p] * silu(g) * u;
            }
        }
    }
    // f32 atomics of a few routes per token on top of the K-term dots; silu in f32.
    vec![close("y", y, tol(DType::F32, k, 1e-5))]
}

fn r_outer_sum(c: &Ctx) -> Vec<Want> {
    let (x, y) = (c.t("x"), c.t("y"));
    let z = x
        .iter()
        .flat_map(|a| y.iter().map(move |b| a + 2.0 * b))
        .collect();
    vec![close("z", z, tol(DType::F32, 1, 0.0))]
}

fn r_group_scale(c: &Ctx) -> Vec<Want> {
    let (x, s, offs) = (c.t("x"), c.t("s"), c.ints("offs"));
    let mut y = vec![f64::NAN; x.len()];
    for g in 0..offs.len() - 1 {
        for r in offs[g] as usize..offs[g + 1] as usize {
            for j in 0..64 {
                y[r * 64 + j] = x[r * 64 + j] * s[g];
            }
        }
    }
    vec![close("y", y, tol(DType::F32, 1, 0.0))]
}

fn r_gather_scatter(c: &Ctx) -> Vec<Want> {
    let (x, ids, w) = (c.t("x"), c.ints("ids"), c.t("w"));
    let t = c.d("T");
    let mut y = vec![0.0; t * 128];
    for (p, &r) in ids.iter().enumerate() {
        if r >= 0 && (r as usize) < t {
            for j in 0..128 {
                y[r as usize * 128 + j] += x[r as usize * 128 + j] * w[p];
            }
        }
    }
    vec![close("y", y, tol(DType::F32, 8, 0.0))]
}

fn r_zoo(c: &Ctx) -> Vec<Want> {
    let n = c.d("N");
    let bsz = 64;
    let np = n.div_ceil(bsz);
    let (x, ni) = (c.t("x"), c.ints("n"));
    let (mut y, mut z) = (vec![0.0; n], vec![0.0; n]);
    for p in 0..np {
        // the whole tile, masked lanes included (t = 1.0, k = 0), enters the tile reductions
        let t: Vec<f64> = (0..bsz)
            .map(|j| x.get(p * bsz + j).copied().map_or(1.0, f32r))
            .collect();
        let kk: Vec<i64> = (0..bsz)
            .map(|j| ni.get(p * bsz + j).copied().unwrap_or(0))
            .collect();
        let b: Vec<f64> = t
            .iter()
            .map(|&t| {
                let a = t.exp()
                    + t.exp2()
                    + (t.abs() + 1.0).ln()
                    + (t * t + 1.0).log2()
                    + t.abs().sqrt()
                    + 1.0 / (t * t + 1.0).sqrt();
                a.max(0.0) - a.min(-1.0) + 1.0 / (1.0 + t.exp()) + np as f64
            })
            .collect();
        let bsum: f64 = b.iter().sum();
        let kmin = *kk.iter().min().unwrap();
        for j in 0..bsz {
            let i = p * bsz + j;
            if i >= n {
                continue;
            }
            let tj = t[j];
            let keep = (tj > 0.0 && tj != 2.0) || tj <= -1.0;
            y[i] = if keep { b[j] / 2.0 } else { b[j] % 3.0 } + bsum;
            let k = kk[j];
            let cdiv = (k as f64 / 2.0).ceil() as i64; // cdiv(a, b) = ceil(a / b)
            z[i] = ((k * 3 - cdiv) / 2 + 63 - kmin) as f64;
        }
    }
    vec![close("y", y, tol(DType::F32, 64, F32X)), close("z", z, exact())]
}

fn r_cdiv(c: &Ctx) -> Vec<Want> {
    // ceil of the exact quotient (small ints: exact in f64)
    let ceil = |a: i64, b: i64| (a as f64 / b as f64).ceil();
    let (a, d) = (c.ints("a"), c.ints("d"));
    let y = a.iter().map(|&x| ceil(x, 2)).collect();
    let yn = a.iter().map(|&x| ceil(x, -3)).collect();
    let yd = a
        .iter()
        .zip(&d)
        .map(|(&x, &q)| ceil(x, if q == 0 { 1 } else { q }))
        .collect();
    vec![
        close("y", y, exact()),
        close("yn", yn, exact()),
        close("yd", yd, exact()),
    ]
}

fn r_vector_add(c: &Ctx) -> Vec<Want> {
    let z = c.t("x").iter().zip(c.t("y")).map(|(a, b)| a + b).collect();
    vec![close("z", z, tol(DType::F32, 1, 0.0))]
}

fn r_axpy(c: &Ctx) -> Vec<Want> {
    let al = c.s("alpha");
    let o = c.t("x").iter().zip(c.t("y")).map(|(x, y)| al * x + y).collect();
    vec![close("z", o, tol(DType::BF16, 2, 0.0))]
}

fn r_bias_gelu(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let (x, b) = (c.t("x"), c.t("bias"));
    let y = (0..m * n).map(|i| gelu_tanh(x[i] + b[i % n])).collect();
    vec![close("y", y, tol(DType::BF16, 1, F32X))]
}

fn r_silu_mul(c: &Ctx) -> Vec<Want> {
    let (m, i) = (c.d("M"), c.d("I"));
    let gu = c.t("gu");
    let y = (0..m * i).map(|e| {
        let (r, j) = (e / i, e % i);
        silu(gu[r * 2 * i + j]) * gu[r * 2 * i + i + j]
    });
    vec![close("y", y.collect(), tol(DType::BF16, 1, F32X))]
}

fn r_leaky(c: &Ctx) -> Vec<Want> {
    let lim = c.s("lim");
    let x = c.t("x");
    let y = x
        .iter()
        .map(|&t| (if t > 0.0 { t } else { 0.01 * t }).clamp(-lim, lim))
        .collect();
    let s = x
        .iter()
        .map(|&t| {
            if t > 0.0 {
                1.0
            } else if t < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
        .collect();
    vec![close("y", y, tol(DType::F32, 1, 0.0)), close("sgn", s, exact())]
}

fn r_compare_count(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let (x, thr, r) = (c.t("x"), c.t("thr"), c.t("r"));
    let ge = (0..m)
        .map(|i| (0..n).filter(|&j| x[i * n + j] >= thr[i]).count() as f64)
        .collect();
    let eq = (0..m)
        .map(|i| (0..n).filter(|&j| x[i * n + j] == r[i]).count() as f64)
        .collect();
    vec![close("ge", ge, exact()), close("eq", eq, exact())]
}

fn r_casts(c: &Ctx) -> Vec<Want> {
    let (x, ids) = (c.t("x"), c.t("ids"));
    vec![
        close("xf", x.iter().map(|v| v * 2.0).collect(), tol(DType::F32, 1, 0.0)),
        close("xh", x.clone(), tol(DType::F16, 1, 0.0)),
        close("xi", x.iter().map(|v| (v * 8.0).trunc()).collect(), exact()),
        close(
            "back",
            x.iter().zip(&ids).map(|(v, i)| v + i).collect(),
            tol(DType::BF16, 1, 0.0),
        ),
    ]
}

fn r_f16_bf16(c: &Ctx) -> Vec<Want> {
    let n = c.d("N");
    let (x, s) = (c.t("x"), c.t("s"));
    let y = x.iter().enumerate().map(|(i, v)| v * s[i % n]).collect();
    vec![close("y", y, tol(DType::BF16, 1, 0.0))]
}

/// Row softmax of `[rows, n]`, only the first `len[r]` columns (all zero if none).
fn softmax(x: &[f64], rows: usize, n: usize, len: impl Fn(usize) -> usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * n];
    for r in 0..rows {
        let l = len(r);
        if l == 0 {
            continue;
        }
        let row = &x[r * n..r * n + l];
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - mx).exp()).sum();
        for j in 0..l {
            y[r * n + j] = (row[j] - mx).exp() / s;
        }
    }
    y
}

fn r_softmax(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let out = tensor_ty(c.k, pidx(c.k, "y")).dtype;
    let y = softmax(&c.t("x"), m, n, |_| n);
    vec![close("y", y, tol(out, n, 1e-5))]
}

fn r_softmax_len(c: &Ctx) -> Vec<Want> {
    let m = c.d("M");
    let lens = c.ints("lens");
    let y = softmax(&c.t("x"), m, 100, |r| lens[r].clamp(0, 100) as usize);
    vec![close("y", y, tol(DType::F32, 100, 1e-5))]
}

fn layernorm(x: &[f64], w: &[f64], b: &[f64], m: usize, n: usize, eps: f64) -> Vec<f64> {
    let mut y = vec![0.0; m * n];
    for r in 0..m {
        let row = &x[r * n..][..n];
        let mean = row.iter().sum::<f64>() / n as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let rs = 1.0 / (var + eps).sqrt();
        for j in 0..n {
            y[r * n + j] = (row[j] - mean) * rs * w[j] + b[j];
        }
    }
    y
}

fn r_layernorm_bf16(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let y = layernorm(&c.t("x"), &c.t("gamma"), &c.t("beta"), m, n, c.s("eps"));
    vec![close("y", y, tol(DType::BF16, n, 1e-4))]
}

fn r_layernorm_looped(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let y = layernorm(&c.t("x"), &c.t("w"), &c.t("b"), m, n, c.s("eps"));
    // var = E[x^2] - mean^2 in f32: cancellation costs a few bits for rows with a large mean
    vec![close("y", y, tol(DType::F32, n, 1e-4))]
}

fn rmsnorm(x: &[f64], w: &[f64], m: usize, n: usize, eps: f64) -> Vec<f64> {
    let mut y = vec![0.0; m * n];
    for r in 0..m {
        let row = &x[r * n..][..n];
        let rs = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() / n as f64 + eps).sqrt();
        for j in 0..n {
            y[r * n + j] = row[j] * rs * w[j];
        }
    }
    y
}

fn r_rmsnorm(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let y = rmsnorm(&c.t("x"), &c.t("weight"), m, n, c.s("eps"));
    vec![close("y", y, tol(DType::BF16, n, 1e-4))]
}

fn r_add_rmsnorm(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    // the new residual stream is stored as bf16 and normalized as stored
    let h: Vec<f64> = c
        .t("x")
        .iter()
        .zip(c.t("residual"))
        .map(|(a, b)| bf16(a + b))
        .collect();
    let y = rmsnorm(&h, &c.t("weight"), m, n, c.s("eps"));
    vec![
        close("h_out", h, tol(DType::BF16, 1, 0.0)),
        close("y", y, tol(DType::BF16, n, 1e-4)),
    ]
}

fn r_quant_fp8_rowwise(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let x = c.t("x");
    let mut scales = vec![0.0; m];
    let mut q = vec![0.0; m * n];
    for r in 0..m {
        let amax = x[r * n..][..n].iter().fold(0.0f64, |a, v| a.max(v.abs()));
        // the scale is an f32 the kernel stores: amax / 448 rounded once to f32
        let s = if amax > 0.0 { f32r(amax / 448.0) } else { 1.0 };
        scales[r] = s;
        for j in 0..n {
            q[r * n + j] = x[r * n + j] / s;
        }
    }
    vec![
        close("scale", scales, tol(DType::F32, 1, 0.0)),
        Want {
            out: "q",
            check: Check::QuantStep {
                real: q,
                scale: vec![1.0; m * n],
                fmt: Format::F8E4M3,
            },
        },
    ]
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|x| *x as f32).collect()
}

/// OCP MX quantize-dequantize through `tessera-formats` of a row-major `[rows, cols]` tensor,
/// blocks of 32 along `axis`: (dequantized values, each element's block scale).
fn mx_fake(f: Format, vals: &[f32], rows: usize, cols: usize, axis: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut out, mut sc) = (vec![0.0; vals.len()], vec![0.0; vals.len()]);
    let (outer, along) = if axis == 1 { (rows, cols) } else { (cols, rows) };
    for o in 0..outer {
        for lo in (0..along).step_by(32) {
            let idx: Vec<usize> = (lo..(lo + 32).min(along))
                .map(|a| if axis == 1 { o * cols + a } else { a * cols + o })
                .collect();
            let bv: Vec<f32> = idx.iter().map(|&i| vals[i]).collect();
            let (s, codes) = mx_quantize_block(f, &bv);
            let s = fdecode(Format::E8M0, s as u16) as f64;
            for (j, &i) in idx.iter().enumerate() {
                out[i] = fdecode(f, codes[j] as u16) as f64 * s;
                sc[i] = s;
            }
        }
    }
    (out, sc)
}

/// NVFP4 quantize-dequantize (blocks of 16 along the last axis, global scale `gs`).
fn nv_fake(vals: &[f32], rows: usize, cols: usize, gs: f32) -> Vec<f64> {
    let mut out = vec![0.0; vals.len()];
    for r in 0..rows {
        for lo in (0..cols).step_by(16) {
            let (a, b) = (r * cols + lo, r * cols + (lo + 16).min(cols));
            let (s, codes) = nvfp4_quantize_block(&vals[a..b], gs);
            let s = fdecode(Format::UE4M3, s as u16) as f64 * gs as f64;
            for (j, i) in (a..b).enumerate() {
                out[i] = fdecode(Format::F4E2M1, codes[j] as u16) as f64 * s;
            }
        }
    }
    out
}

fn r_fake_quant_mxfp8(c: &Ctx) -> Vec<Want> {
    let (m, k) = (c.d("M"), c.d("K"));
    vec![close(
        "y",
        mx_fake(Format::F8E4M3, &f32s(&c.t("x")), m, k, 1).0,
        exact(),
    )]
}

fn r_fake_quant_mxfp4(c: &Ctx) -> Vec<Want> {
    let (n, k) = (c.d("N"), c.d("K"));
    vec![close(
        "y",
        mx_fake(Format::F4E2M1, &f32s(&c.t("w")), n, k, 1).0,
        exact(),
    )]
}

fn r_fake_quant_mxfp8_cols(c: &Ctx) -> Vec<Want> {
    let (k, n) = (c.d("K"), c.d("N"));
    vec![close(
        "y",
        mx_fake(Format::F8E4M3, &f32s(&c.t("w")), k, n, 0).0,
        exact(),
    )]
}

fn r_fake_quant_nvfp4(c: &Ctx) -> Vec<Want> {
    let (m, k) = (c.d("M"), c.d("K"));
    // dequant of an NV tile is x * (s * g) in f32: two roundings of a non-power-of-two product
    vec![close(
        "y",
        nv_fake(&f32s(&c.t("x")), m, k, c.s("gs") as f32),
        tol(DType::F32, 1, 0.0),
    )]
}

/// A stored MX quantization of input `x` (`[rows, cols]`, blocks of 32 along `axis`) into `out`.
fn stored_mx(c: &Ctx, out: &'static str, x: &str, f: Format, axis: usize) -> Vec<Want> {
    let sh = c.shape(x);
    let (real, scale) = mx_fake(f, &f32s(&c.t(x)), sh[0], sh[1], axis);
    vec![Want {
        out,
        check: Check::Stored {
            real,
            scale,
            fmt: None,
        },
    }]
}

fn r_quant_mx(c: &Ctx) -> Vec<Want> {
    stored_mx(c, "y", "x", Format::F8E4M3, 1)
}

fn r_quant_mxfp6(c: &Ctx) -> Vec<Want> {
    stored_mx(c, "y", "x", Format::F6E2M3, 1)
}

/// Each element rounded to `f` (round to nearest even, saturating) by `tessera-formats`.
fn rounded(x: &[f64], f: Format) -> Vec<f64> {
    x.iter()
        .map(|v| fdecode(f, tessera_formats::encode(f, *v as f32)) as f64)
        .collect()
}

fn r_cast_fp6_fp4(c: &Ctx) -> Vec<Want> {
    let x = c.t("x");
    let e2m3 = rounded(&x, Format::F6E2M3);
    vec![
        close("q2", e2m3.clone(), exact()),
        close("q3", rounded(&x, Format::F6E3M2), exact()),
        close("q4", rounded(&x, Format::F4E2M1), exact()),
        close("y", e2m3, exact()),
    ]
}

fn r_quant_mxfp4(c: &Ctx) -> Vec<Want> {
    stored_mx(c, "q", "w", Format::F4E2M1, 1)
}

fn r_quant_mxfp8_cols(c: &Ctx) -> Vec<Want> {
    stored_mx(c, "q", "w", Format::F8E4M3, 0)
}

fn r_quant_nvfp4(c: &Ctx) -> Vec<Want> {
    let (m, k) = (c.d("M"), c.d("K"));
    let gs = c.s("gs") as f32;
    let x = f32s(&c.t("x"));
    let real = nv_fake(&x, m, k, gs);
    let mut scale = vec![0.0; m * k];
    for r in 0..m {
        for lo in (0..k).step_by(16) {
            let (a, b) = (r * k + lo, r * k + (lo + 16).min(k));
            let (s, _) = nvfp4_quantize_block(&x[a..b], gs);
            let s = fdecode(Format::UE4M3, s as u16) as f64 * gs as f64;
            scale[a..b].fill(s);
        }
    }
    vec![Want {
        out: "y",
        check: Check::Stored {
            real,
            scale,
            fmt: None,
        },
    }]
}

fn r_rmsnorm_quant(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let h = rmsnorm(&c.t("x"), &c.t("w"), m, n, c.s("eps"));
    let (_, scale) = mx_fake(Format::F8E4M3, &f32s(&h), m, n, 1);
    vec![Want {
        out: "y",
        check: Check::Stored {
            real: h,
            scale,
            fmt: Some(Format::F8E4M3),
        },
    }]
}

fn r_rmsnorm_fake_quant(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let h = rmsnorm(&c.t("x"), &c.t("w"), m, n, c.s("eps"));
    let (_, scale) = mx_fake(Format::F8E4M3, &f32s(&h), m, n, 1);
    vec![Want {
        out: "y",
        check: Check::QuantStep {
            real: h,
            scale,
            fmt: Format::F8E4M3,
        },
    }]
}

fn r_gemm_quant_act(c: &Ctx) -> Vec<Want> {
    let (m, n, k) = (c.d("M"), c.d("N"), c.d("K"));
    let (qa, _) = mx_fake(Format::F8E4M3, &f32s(&c.t("a")), m, k, 1);
    let want = matmul(&qa, &c.t("w"), m, n, k, false);
    vec![close("c", want, tol(DType::BF16, k, 0.0))]
}

fn r_dequant_w(out: &'static str, d: DType) -> impl Fn(&Ctx) -> Vec<Want> {
    move |c: &Ctx| vec![close(out, c.t("w"), tol(d, 1, 0.0))]
}

fn r_dequant_mxfp4_bf16(c: &Ctx) -> Vec<Want> {
    r_dequant_w("y", DType::BF16)(c)
}
fn r_dequant_nvfp4_f16(c: &Ctx) -> Vec<Want> {
    r_dequant_w("y", DType::F16)(c)
}

fn r_dequant_explicit(c: &Ctx) -> Vec<Want> {
    let (n, k) = (c.d("N"), c.d("K"));
    let (q, s) = (c.t("q"), c.t("s"));
    let kb = k.div_ceil(32);
    let y = (0..n * k)
        .map(|i| q[i] * s[(i / k) * kb + (i % k) / 32])
        .collect();
    vec![close("y", y, exact())]
}

fn r_transpose(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let x = c.t("x");
    let out = tensor_ty(c.k, pidx(c.k, "y")).dtype;
    let s = if out == DType::F32 { 1.0 } else { c.s("s") };
    let y = (0..n * m).map(|i| s * x[(i % m) * n + i / m]).collect();
    vec![close("y", y, tol(out, 1, 0.0))]
}

fn r_reduce_rows(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let x = c.t("x");
    let row = |r: usize| &x[r * n..][..n];
    vec![
        close(
            "rsum",
            (0..m).map(|r| row(r).iter().sum()).collect(),
            tol(DType::F32, n, 0.0),
        ),
        close(
            "rmax",
            (0..m)
                .map(|r| row(r).iter().cloned().fold(f64::NEG_INFINITY, f64::max))
                .collect(),
            exact(),
        ),
        close(
            "rmin",
            (0..m)
                .map(|r| row(r).iter().cloned().fold(f64::INFINITY, f64::min))
                .collect(),
            exact(),
        ),
    ]
}

fn r_reduce_cols(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let x = &c.t("x");
    let col = |j: usize| (0..m).map(move |r| x[r * n + j]);
    vec![
        close(
            "csum",
            (0..n).map(|j| col(j).sum()).collect(),
            tol(DType::F32, m, 0.0),
        ),
        close(
            "cmax",
            (0..n).map(|j| col(j).fold(f64::NEG_INFINITY, f64::max)).collect(),
            exact(),
        ),
        close(
            "cmin",
            (0..n).map(|j| col(j).fold(f64::INFINITY, f64::min)).collect(),
            exact(),
        ),
    ]
}

fn r_colsum_atomic(c: &Ctx) -> Vec<Want> {
    let (m, n) = (c.d("M"), c.d("N"));
    let x = c.t("x");
    let s = (0..n).map(|j| (0..m).map(|r| x[r * n + j]).sum()).collect();
    vec![close("y", s, tol(DType::F32, m, 0.0))]
}

/// A plain GEMM `a [M, K] x b [N, K]^T` (b named `bn`) with an epilogue `f(row, col, acc)`.
fn gemm_epi(
    c: &Ctx,
    an: &str,
    bn: &str,
    out: &'static str,
    f: impl Fn(usize, usize, f64) -> f64,
    extra: f64,
) -> Vec<Want> {
    let (m, k) = (c.d("M"), c.d("K"));
    let n = c.shape(bn)[0];
    let acc = matmul(&c.t(an), &c.t(bn), m, n, k, false);
    let want = (0..m * n).map(|i| f(i / n, i % n, acc[i])).collect();
    let d = tensor_ty(c.k, pidx(c.k, out)).dtype;
    vec![close(out, want, tol(d, k, extra))]
}

fn r_gemm_bias_gelu(c: &Ctx) -> Vec<Want> {
    let b = c.t("bias");
    gemm_epi(c, "a", "b", "c", |_, j, v| gelu_tanh(v + b[j]), F32X)
}

fn r_gemm_residual(c: &Ctx) -> Vec<Want> {
    let (r, n) = (c.t("r"), c.d("N"));
    gemm_epi(c, "a", "b", "c", |i, j, v| v + r[i * n + j], 0.0)
}

fn r_gemm_rowcol(c: &Ctx) -> Vec<Want> {
    let (sa, sb, b) = (c.t("scale_a"), c.t("scale_b"), c.t("bias"));
    gemm_epi(c, "a", "b", "c", |i, j, v| v * sa[i] * sb[j] + b[j], 0.0)
}

fn r_gemm_kn(c: &Ctx) -> Vec<Want> {
    let (m, n, k) = (c.d("M"), c.d("N"), c.d("K"));
    let acc = matmul(&c.t("a"), &c.t("b"), m, n, k, true);
    let c0 = c.t("c0");
    let (al, be) = (c.s("alpha"), c.s("beta"));
    let want = (0..m * n).map(|i| al * acc[i] + be * c0[i]).collect();
    vec![close("c", want, tol(DType::F32, k, 0.0))]
}

fn r_swiglu(c: &Ctx) -> Vec<Want> {
    let (m, i, k) = (c.d("M"), c.d("I"), c.d("K"));
    let x = c.t("x");
    let g = matmul(&x, &c.t("wg"), m, i, k, false);
    let u = matmul(&x, &c.t("wu"), m, i, k, false);
    let want = (0..m * i).map(|e| silu(g[e]) * u[e]).collect();
    vec![close("y", want, tol(DType::BF16, k, F32X))]
}

fn r_gemm_plain(out: &'static str) -> impl Fn(&Ctx) -> Vec<Want> {
    move |c: &Ctx| gemm_epi(c, "a", "b", out, |_, _, v| v, 0.0)
}

fn r_gemm_c(c: &Ctx) -> Vec<Want> {
    r_gemm_plain("c")(c)
}

fn r_gemm_w8a8(c: &Ctx) -> Vec<Want> {
    let (sa, sw) = (c.t("scale_a"), c.t("scale_w"));
    gemm_epi(c, "a", "w", "c", |i, j, v| v * sa[i] * sw[j], 0.0)
}

fn r_gemm_batched(c: &Ctx) -> Vec<Want> {
    let (z, m, n, k) = (c.d("Z"), c.d("M"), c.d("N"), c.d("K"));
    let (a, b) = (c.t("a"), c.t("b"));
    let mut want = Vec::new();
    for zz in 0..z {
        want.extend(matmul(
            &a[zz * m * k..][..m * k],
            &b[zz * n * k..][..n * k],
            m,
            n,
            k,
            false,
        ));
    }
    vec![close("c", want, tol(DType::BF16, k, 0.0))]
}

fn r_gemm_mxfp8_silu(c: &Ctx) -> Vec<Want> {
    let b = c.t("bias");
    gemm_epi(c, "a", "b", "c", |_, j, v| silu(v + b[j]), F32X)
}

fn r_embedding(c: &Ctx) -> Vec<Want> {
    let (v, d) = (c.d("V"), c.d("D"));
    let (tab, ids, s) = (&c.t("table"), c.ints("ids"), c.s("scale"));
    let out = ids
        .iter()
        .flat_map(|&r| {
            (0..d).map(move |j| {
                if r >= 0 && (r as usize) < v {
                    tab[r as usize * d + j] * s
                } else {
                    0.0
                }
            })
        })
        .collect();
    vec![close("y", out, tol(DType::BF16, 1, 0.0))]
}

fn r_rope(c: &Ctx) -> Vec<Want> {
    let (x, pos, ct, st) = (c.t("x"), c.ints("pos"), c.t("cos_t"), c.t("sin_t"));
    let t = c.d("T");
    let mut y = vec![0.0; t * 128];
    for r in 0..t {
        let p = pos[r] as usize;
        for j in 0..64 {
            let (x1, x2) = (x[r * 128 + j], x[r * 128 + 64 + j]);
            let (co, si) = (ct[p * 64 + j], st[p * 64 + j]);
            y[r * 128 + j] = x1 * co - x2 * si;
            y[r * 128 + 64 + j] = x2 * co + x1 * si;
        }
    }
    vec![close("y", y, tol(DType::F32, 2, 0.0))]
}

fn r_bias_act(c: &Ctx) -> Vec<Want> {
    let n = c.d("N");
    let (x, b, act) = (c.t("x"), c.t("bias"), c.s("act") as i64);
    let y = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v + b[i % n];
            match act {
                0 => v,
                1 => v.max(0.0),
                2 => silu(v),
                _ => gelu_tanh(v),
            }
        })
        .collect();
    vec![close("y", y, tol(DType::F32, 1, F32X))]
}

fn r_grid_stride(c: &Ctx) -> Vec<Want> {
    let (s, off) = (c.t("s")[0], c.s("off"));
    vec![close(
        "y",
        c.t("x").iter().map(|v| v * s + off).collect(),
        tol(DType::F32, 2, 0.0),
    )]
}

fn r_expert_count(c: &Ctx) -> Vec<Want> {
    let e = c.d("E");
    let mut cnt = vec![0.0; e];
    for id in c.ints("expert_ids") {
        if id >= 0 && (id as usize) < e {
            cnt[id as usize] += 1.0;
        }
    }
    vec![close("counts", cnt, exact())]
}

fn r_cross_entropy(c: &Ctx) -> Vec<Want> {
    let (m, v) = (c.d("M"), c.d("V"));
    let (x, tg) = (c.t("logits"), c.ints("target"));
    let loss = (0..m)
        .map(|r| {
            let row = &x[r * v..][..v];
            let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            mx + row.iter().map(|z| (z - mx).exp()).sum::<f64>().ln() - row[tg[r] as usize]
        })
        .collect();
    vec![close("loss", loss, tol(DType::F32, v, 1e-5))]
}

fn r_adam(c: &Ctx) -> Vec<Want> {
    let (p, g, m, v) = (c.t("p"), c.t("g"), c.t("m"), c.t("v"));
    let (lr, b1, b2, eps, bc1, bc2) = (
        c.s("lr"),
        c.s("b1"),
        c.s("b2"),
        c.s("eps"),
        c.s("bc1"),
        c.s("bc2"),
    );
    let m2: Vec<f64> = (0..p.len()).map(|i| b1 * m[i] + (1.0 - b1) * g[i]).collect();
    let v2: Vec<f64> = (0..p.len())
        .map(|i| b2 * v[i] + (1.0 - b2) * g[i] * g[i])
        .collect();
    let p2 = (0..p.len())
        .map(|i| p[i] - lr * (m2[i] / bc1) / ((v2[i] / bc2).sqrt() + eps))
        .collect();
    // about ten f32 ops; m' = b1 m + (1 - b1) g cancels, which the division then amplifies
    let t = tol(DType::F32, 4, 3e-5);
    vec![
        close("m_out", m2, t.clone()),
        close("v_out", v2, t.clone()),
        close("p_out", p2, t),
    ]
}

fn r_router(c: &Ctx) -> Vec<Want> {
    let (t, e) = (c.d("T"), c.d("E"));
    let x = c.t("logits");
    let mut ex = Vec::new();
    let mut pr = Vec::new();
    for r in 0..t {
        let row = &x[r * e..][..e];
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        ex.push(row.iter().position(|v| *v == mx).unwrap() as f64);
        pr.push(1.0 / row.iter().map(|v| (v - mx).exp()).sum::<f64>());
    }
    vec![
        close("expert", ex, exact()),
        close("prob", pr, tol(DType::F32, e, 1e-6)),
    ]
}

// ---------------------------------------------------------------------------------------------
// Input preparation for index and routing inputs
// ---------------------------------------------------------------------------------------------

fn rand_ints(k: &Kernel, b: &mut Bindings, r: &mut Rng, name: &str, lo: i64, hi: i64) {
    let n = numel(k, b, name);
    let v: Vec<i64> = (0..n).map(|_| r.range(lo, hi)).collect();
    set_ints(k, b, name, &v);
}

fn p_group_scale(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let (rows, g1) = (b.sym("R").unwrap(), b.sym("G1").unwrap());
    // sorted cut points covering every row once; empty groups allowed
    let mut cuts: Vec<i64> = (0..g1 - 2).map(|_| r.range(0, rows + 1)).collect();
    cuts.sort();
    let mut offs = vec![0];
    offs.extend(cuts);
    offs.push(rows);
    set_ints(k, b, "offs", &offs);
}

fn p_gather_scatter(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let t = b.sym("T").unwrap();
    rand_ints(k, b, r, "ids", -1, t);
}

fn p_compare_count(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let (m, n) = (b.sym("M").unwrap() as usize, b.sym("N").unwrap() as usize);
    let x = Ctx { k, b }.t("x");
    // even rows look for one of their own values, odd rows for exact zeros (the data has some)
    let rv: Vec<f64> = (0..m)
        .map(|i| {
            if i % 2 == 0 {
                x[i * n + r.range(0, n as i64) as usize]
            } else {
                0.0
            }
        })
        .collect();
    set_f32(k, b, "r", &rv);
}

fn p_zoo(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    // cdiv(k, 2) of numerators of both signs (r_zoo takes the ceiling)
    rand_ints(k, b, r, "n", -1000, 1000);
}

fn p_cdiv(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    rand_ints(k, b, r, "a", -50, 51);
    // divisors of both signs, and 0 (which the kernel counts as 1)
    let n = numel(k, b, "d");
    let d: Vec<i64> = (0..n)
        .map(|_| {
            let v = r.range(0, 6);
            if r.next().is_multiple_of(2) { v } else { -v }
        })
        .collect();
    set_ints(k, b, "d", &d);
}

fn p_casts(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    rand_ints(k, b, r, "ids", -100, 100);
}

fn p_softmax_len(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let m = b.sym("M").unwrap() as usize;
    let mut v: Vec<i64> = (0..m).map(|_| r.range(0, 101)).collect();
    v[0] = 0;
    v[1] = 100;
    v[2] = 1;
    set_ints(k, b, "lens", &v);
}

fn p_embedding(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let v = b.sym("V").unwrap();
    rand_ints(k, b, r, "ids", -1, v);
}

fn p_rope(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let p = b.sym("P").unwrap();
    rand_ints(k, b, r, "pos", 0, p);
}

fn p_expert_count(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let e = b.sym("E").unwrap();
    rand_ints(k, b, r, "expert_ids", -1, e + 2);
}

fn p_cross_entropy(k: &Kernel, b: &mut Bindings, r: &mut Rng) {
    let v = b.sym("V").unwrap();
    rand_ints(k, b, r, "target", 0, v);
}

fn p_quant_nvfp4(k: &Kernel, b: &mut Bindings, _r: &mut Rng) {
    // the caller's per-tensor scale from the tensor's amax (the common NVFP4 recipe)
    let x = f32s(&Ctx { k, b }.t("x"));
    let gs = nvfp4_global_scale(&x);
    let i = pidx(k, "gs");
    b.args[i] = ArgValue::Scalar(gs as f64);
}

fn p_adam(k: &Kernel, b: &mut Bindings, _r: &mut Rng) {
    // the second moment is a running mean of squares: non-negative
    let v: Vec<f64> = Ctx { k, b }.t("v").iter().map(|x| x * x).collect();
    set_f32(k, b, "v", &v);
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

type RefFn = fn(&Ctx) -> Vec<Want>;
type PrepFn = fn(&Kernel, &mut Bindings, &mut Rng);

struct Case {
    file: &'static str,
    /// Dims beyond (or overriding) [`DIMS`].
    dims: &'static [(&'static str, i64)],
    scalars: &'static [(&'static str, f64)],
    /// Each variant (scalar overrides) is one more run; none = one run.
    variants: &'static [&'static [(&'static str, f64)]],
    prep: Option<PrepFn>,
    reference: RefFn,
}

/// Small partial-tile shapes shared by every case (a case's own `dims` come first).
const DIMS: &[(&str, i64)] = &[("M", 70), ("N", 96), ("K", 160), ("S", 80), ("BH", 2)];

const CAUSAL: &[&[(&str, f64)]] = &[&[("causal", 0.0)], &[("causal", 1.0)]];

const fn case(file: &'static str, reference: RefFn) -> Case {
    Case {
        file,
        dims: &[],
        scalars: &[],
        variants: &[],
        prep: None,
        reference,
    }
}

impl Case {
    const fn dims(mut self, d: &'static [(&'static str, i64)]) -> Case {
        self.dims = d;
        self
    }
    const fn scalars(mut self, s: &'static [(&'static str, f64)]) -> Case {
        self.scalars = s;
        self
    }
    const fn variants(mut self, v: &'static [&'static [(&'static str, f64)]]) -> Case {
        self.variants = v;
        self
    }
    const fn prep(mut self, p: PrepFn) -> Case {
        self.prep = Some(p);
        self
    }
}

fn cases() -> Vec<Case> {
    vec![
        // dsl_examples/
        case("attention_fp8.tsr", r_attention_fp8).variants(CAUSAL),
        case("gemm_bf16.tsr", r_gemm),
        case("gemm_dequant_explicit.tsr", r_gemm),
        case("gemm_fp8.tsr", r_gemm),
        case("gemm_fp8_blockscale.tsr", r_gemm).dims(&[("K", 256), ("N", 160)]),
        case("gemm_mxfp4_bf16.tsr", r_gemm),
        case("gemm_mxfp4_fp8.tsr", r_gemm),
        case("gemm_mxfp8.tsr", r_gemm),
        case("gemm_nvfp4.tsr", r_gemm),
        case("moe_mxfp8.tsr", r_moe).dims(&[("T", 48), ("E", 4), ("I", 96), ("P", 96)]),
        // docs/LANGUAGE.md, copied
        case("lang_gemm_fp8.tsr", r_gemm),
        case("lang_outer_sum.tsr", r_outer_sum),
        case("lang_group_scale.tsr", r_group_scale)
            .dims(&[("R", 150), ("G1", 5)])
            .prep(p_group_scale),
        case("lang_gather_scatter.tsr", r_gather_scatter)
            .dims(&[("T", 40), ("P", 90)])
            .prep(p_gather_scatter),
        case("lang_zoo.tsr", r_zoo).dims(&[("N", 150)]).prep(p_zoo),
        case("lang_gemm_mxfp4_fp8.tsr", r_gemm),
        case("lang_attention_fp8.tsr", r_attention_fp8).variants(CAUSAL),
        case("lang_moe_mxfp8.tsr", r_moe).dims(&[("T", 48), ("E", 4), ("I", 96), ("P", 96)]),
        // elementwise
        case("vector_add.tsr", r_vector_add).dims(&[("N", 1000)]),
        case("cdiv_negative.tsr", r_cdiv).dims(&[("N", 150)]).prep(p_cdiv),
        case("axpy_bf16.tsr", r_axpy)
            .dims(&[("N", 1000)])
            .scalars(&[("alpha", -1.75)]),
        case("bias_gelu_bf16.tsr", r_bias_gelu),
        case("silu_mul_bf16.tsr", r_silu_mul).dims(&[("I", 80), ("I2", 160)]),
        case("leaky_relu_clamp.tsr", r_leaky)
            .dims(&[("N", 150)])
            .scalars(&[("lim", 2.0)]),
        case("compare_count.tsr", r_compare_count)
            .dims(&[("N", 150)])
            .prep(p_compare_count),
        case("casts.tsr", r_casts).dims(&[("N", 300)]).prep(p_casts),
        case("f16_to_bf16_scale.tsr", r_f16_bf16),
        // softmax and norms
        case("softmax_rows.tsr", r_softmax),
        case("softmax_online_bf16.tsr", r_softmax).dims(&[("N", 300)]),
        case("softmax_masked_len.tsr", r_softmax_len).prep(p_softmax_len),
        case("layernorm_bf16.tsr", r_layernorm_bf16).scalars(&[("eps", 1e-5)]),
        case("layernorm_looped.tsr", r_layernorm_looped)
            .dims(&[("N", 300)])
            .scalars(&[("eps", 1e-5)]),
        case("rmsnorm_bf16.tsr", r_rmsnorm)
            .dims(&[("N", 200)])
            .scalars(&[("eps", 1e-6)]),
        case("add_rmsnorm.tsr", r_add_rmsnorm)
            .dims(&[("N", 200)])
            .scalars(&[("eps", 1e-6)]),
        // quantization
        case("quant_fp8_rowwise.tsr", r_quant_fp8_rowwise).dims(&[("N", 300)]),
        case("fake_quant_mxfp8.tsr", r_fake_quant_mxfp8),
        case("fake_quant_mxfp4.tsr", r_fake_quant_mxfp4),
        case("fake_quant_mxfp8_cols.tsr", r_fake_quant_mxfp8_cols),
        case("fake_quant_nvfp4.tsr", r_fake_quant_nvfp4)
            .dims(&[("K", 112)])
            .prep(p_quant_nvfp4),
        case("rmsnorm_fake_quant_mxfp8.tsr", r_rmsnorm_fake_quant).scalars(&[("eps", 1e-6)]),
        // quantization into scaled outputs (codes + block scales)
        case("lang_quant_mx.tsr", r_quant_mx).dims(&[("K", 208)]),
        case("quant_mxfp8_bf16.tsr", r_quant_mx),
        case("quant_mxfp4.tsr", r_quant_mxfp4),
        case("quant_mxfp6.tsr", r_quant_mxfp6),
        case("cast_fp6_fp4_codes.tsr", r_cast_fp6_fp4),
        case("quant_mxfp8_cols.tsr", r_quant_mxfp8_cols).dims(&[("K", 80)]),
        case("quant_nvfp4.tsr", r_quant_nvfp4)
            .dims(&[("K", 112)])
            .prep(p_quant_nvfp4),
        case("rmsnorm_quant_mxfp8.tsr", r_rmsnorm_quant).scalars(&[("eps", 1e-6)]),
        case("gemm_quant_act_mxfp8.tsr", r_gemm_quant_act),
        case("dequant_mxfp4_bf16.tsr", r_dequant_mxfp4_bf16).dims(&[("K", 160)]),
        case("dequant_fp4_explicit.tsr", r_dequant_explicit).dims(&[("K", 160)]),
        case("dequant_nvfp4_f16.tsr", r_dequant_nvfp4_f16).dims(&[("K", 112)]),
        // transposes and reductions
        case("transpose_2d.tsr", r_transpose),
        case("transpose_bf16_odd.tsr", r_transpose).scalars(&[("s", 0.5)]),
        case("reduce_rows.tsr", r_reduce_rows).dims(&[("N", 150)]),
        case("reduce_cols.tsr", r_reduce_cols),
        case("colsum_atomic.tsr", r_colsum_atomic),
        // GEMMs
        case("gemm_bias_gelu_bf16.tsr", r_gemm_bias_gelu),
        case("gemm_residual_f16.tsr", r_gemm_residual),
        case("gemm_nvfp4_residual.tsr", r_gemm_residual).dims(&[("K", 192)]),
        case("gemm_mxfp8_prefetch.tsr", r_gemm),
        case("gemm_dequant_fp4_blocks.tsr", r_gemm).dims(&[("K", 200)]),
        case("gemm_fp8_blockscale_residual.tsr", r_gemm_residual).dims(&[("K", 256), ("N", 160)]),
        case("gemm_fp8_rowcol_scale.tsr", r_gemm_rowcol),
        case("gemm_kn_alpha_beta.tsr", r_gemm_kn).scalars(&[("alpha", 0.5), ("beta", -2.0)]),
        case("swiglu_gemm_bf16.tsr", r_swiglu).dims(&[("I", 80)]),
        case("gemm_splitk_atomic.tsr", r_gemm_c).dims(&[("K", 160)]),
        case("gemm_int8.tsr", r_gemm_c),
        case("gemm_w8a8_int8.tsr", r_gemm_w8a8),
        case("gemm_persistent_bf16.tsr", r_gemm_c),
        case("gemm_batched_bf16.tsr", r_gemm_batched).dims(&[("Z", 3), ("M", 40)]),
        case("gemm_mxfp8_silu.tsr", r_gemm_mxfp8_silu),
        // attention
        case("attention_bf16_d64.tsr", r_attention_bf16)
            .scalars(&[("sm_scale", 0.05)])
            .variants(CAUSAL),
        case("attention_bf16_d128_4d.tsr", r_attention_bf16)
            .dims(&[("B", 2), ("H", 2)])
            .scalars(&[("sm_scale", 0.03)])
            .variants(CAUSAL),
        case("attention_decode_f32.tsr", r_attention_decode)
            .dims(&[("BH", 3)])
            .scalars(&[("sm_scale", 0.05)]),
        // gathers, scalar loads, control flow, routing
        case("embedding_lookup.tsr", r_embedding)
            .dims(&[("V", 50), ("T", 70), ("D", 96)])
            .scalars(&[("scale", 2.0)])
            .prep(p_embedding),
        case("rope_gather.tsr", r_rope)
            .dims(&[("T", 70), ("P", 40)])
            .prep(p_rope),
        case("bias_act_select.tsr", r_bias_act).variants(&[
            &[("act", 0.0)],
            &[("act", 1.0)],
            &[("act", 2.0)],
            &[("act", 3.0)],
        ]),
        case("scale_grid_stride.tsr", r_grid_stride)
            .dims(&[("N", 1000)])
            .scalars(&[("off", 0.25)]),
        case("expert_count.tsr", r_expert_count)
            .dims(&[("P", 100), ("E", 6)])
            .prep(p_expert_count),
        case("cross_entropy.tsr", r_cross_entropy)
            .dims(&[("V", 200)])
            .prep(p_cross_entropy),
        case("adam_step.tsr", r_adam)
            .dims(&[("N", 1000)])
            .scalars(&[
                ("lr", 1e-3),
                ("b1", 0.9),
                ("b2", 0.999),
                ("eps", 1e-8),
                ("bc1", 0.271),
                ("bc2", 0.0297),
            ])
            .prep(p_adam),
        case("router_top1.tsr", r_router).dims(&[("T", 70), ("E", 10)]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Judging
// ---------------------------------------------------------------------------------------------

fn out_arg<'a>(k: &Kernel, b: &'a Bindings, name: &str) -> &'a TensorArg {
    match &b.args[pidx(k, name)] {
        ArgValue::Tensor(t) => t,
        _ => panic!("{name} is not a tensor"),
    }
}

/// Distance from code value `v`'s neighbours: the larger gap around the code of `v` in `f`.
fn code_step(f: Format, v: f64) -> f64 {
    let code = tessera_formats::encode_f64(f, v.abs());
    let here = fdecode(f, code) as f64;
    let up = if code < f.max_code() {
        fdecode(f, code + 1) as f64 - here
    } else {
        0.0
    };
    let down = if code > 0 {
        here - fdecode(f, code - 1) as f64
    } else {
        0.0
    };
    up.max(down)
}

fn judge(k: &Kernel, b: &Bindings, w: &Want) -> Result<String, String> {
    let t = out_arg(k, b, w.out);
    match &w.check {
        Check::Close(want, tol) => {
            let m = compare_buf(&t.data, want).map_err(|e| e.to_string())?;
            let v = tol.judge(&m);
            if v.pass { Ok(v.reason) } else { Err(v.reason) }
        }
        Check::QuantStep { real, scale, fmt } => {
            let got = decode_buf_f64(&t.data).map_err(|e| e.to_string())?;
            let max = fmt.max_finite() as f64;
            let mut worst = 0.0f64;
            for (i, g) in got.iter().enumerate() {
                let r = (real[i] / scale[i]).clamp(-max, max);
                let step = code_step(*fmt, r);
                let err = (g / scale[i] - r).abs();
                if err.is_nan() || err > step {
                    return Err(format!(
                        "element {i}: {g} for {} (scale {}, step {step})",
                        real[i], scale[i]
                    ));
                }
                worst = worst.max(err / step);
            }
            Ok(format!("{} codes within {worst:.3} code steps", got.len()))
        }
        Check::Stored { real, scale, fmt } => {
            let (codes, got_scale) = scaled_parts(k, t, pidx(k, w.out));
            if codes.len() != real.len() {
                return Err(format!("{} elements, expected {}", codes.len(), real.len()));
            }
            let mut worst = 0.0f64;
            for i in 0..codes.len() {
                // NaN scales or codes never compare equal, so they fail here
                #[allow(clippy::float_cmp)]
                if got_scale[i] != scale[i] {
                    return Err(format!(
                        "element {i}: block scale {} (expected {})",
                        got_scale[i], scale[i]
                    ));
                }
                let want = real[i] / scale[i];
                let ok = match fmt {
                    None => codes[i] == want,
                    Some(f) => {
                        let r = want.clamp(-(f.max_finite() as f64), f.max_finite() as f64);
                        let step = code_step(*f, r);
                        let err = (codes[i] - r).abs();
                        worst = worst.max(err / step);
                        err <= step
                    }
                };
                if !ok {
                    return Err(format!(
                        "element {i}: code value {} for {want} (scale {})",
                        codes[i], scale[i]
                    ));
                }
            }
            Ok(format!(
                "{} codes and their block scales, worst {worst:.3} code steps",
                codes.len()
            ))
        }
    }
}

/// Check, run and judge one file against its case; returns a line per run.
fn conform(p: &Path, case: &Case, seed: u64) -> Vec<String> {
    let m = compile(p);
    assert_eq!(m.kernels.len(), 1, "{}: one kernel per file", case.file);
    let k = &m.kernels[0];
    let none: &[(&str, f64)] = &[];
    let variants: Vec<&[(&str, f64)]> = if case.variants.is_empty() {
        vec![none]
    } else {
        case.variants.to_vec()
    };
    let mut lines = Vec::new();
    for v in variants {
        let mut b = bindings(k, case, v, seed);
        let wants = (case.reference)(&Ctx { k, b: &b });
        run(k, &mut b, ProgramSet::All).unwrap_or_else(|e| panic!("{} {v:?}: interpreter: {e}", case.file));
        for w in &wants {
            match judge(k, &b, w) {
                Ok(r) => lines.push(format!("{} {v:?} {}: {r}", case.file, w.out)),
                Err(r) => panic!(
                    "{} {v:?} output {} (seed {seed}, dims {:?}): {r}",
                    case.file, w.out, b.syms
                ),
            }
        }
    }
    lines
}

#[test]
fn the_table_and_the_files_agree() {
    let files: Vec<String> = all_files().iter().map(|p| file_name(p)).collect();
    let cs = cases();
    for f in &files {
        assert!(
            cs.iter().any(|c| c.file == f),
            "{f} has no reference in the table of tests/tests/conformance.rs"
        );
    }
    for c in &cs {
        assert!(
            files.iter().any(|f| f == c.file),
            "the table names {} but there is no such file",
            c.file
        );
    }
    assert!(
        tsr_files("conformance").len() >= 40,
        "the corpus has fewer than 40 kernels"
    );
}

#[test]
fn every_file_starts_with_a_comment_and_checks_clean() {
    for p in all_files() {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("//"),
            "{} does not start with a // comment",
            p.display()
        );
        compile(&p);
    }
}

#[test]
fn every_kernel_agrees_with_its_reference() {
    let cs = cases();
    // TESSERA_CONFORMANCE_SEED replays another seed (the default is fixed so CI is reproducible).
    let seed = std::env::var("TESSERA_CONFORMANCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let mut failures = Vec::new();
    for p in all_files() {
        let name = file_name(&p);
        let Some(case) = cs.iter().find(|c| c.file == name) else {
            continue;
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conform(&p, case, seed)));
        match r {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            ),
        }
    }
    assert!(
        failures.is_empty(),
        "{} kernels failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The language gaps found while writing the corpus (tests/conformance/README.md) are all closed
/// and their programs are in the corpus. A new gap goes into tests/conformance/gaps/ together with
/// a check here that it still fails as documented; a gap file without one fails this test.
#[test]
fn no_gap_is_left_unchecked() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/gaps");
    let left: Vec<PathBuf> = if dir.is_dir() {
        tsr_files("conformance/gaps")
    } else {
        Vec::new()
    };
    assert!(left.is_empty(), "gaps without a check: {left:?}");
}
