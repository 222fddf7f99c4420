//! The plain reference as a validation oracle: maps a kernel — by its `@reference(FAMILY, key =
//! value, ...)` attribute and the parameter conventions below (docs/NUMERICS.md, "Reference
//! conventions"; the options are in docs/LANGUAGE.md §3 and `tessera_ir::reference`) — and its
//! bindings to `tessera-reference` calls on dequantized f64 data. It shares no code with the
//! interpreter; the interpreter's and a GPU's outputs are both judged against it.
//!
//! - `gemm`: the non-`out` tensors no option names are A `[M, K]` and B (`[N, K]`, or `[K, N]`
//!   when its first dim is A's K), each optionally scaled (contract in its type, or an explicit
//!   e8m0/ue4m3 scale tensor right after it); every f32 scalar that is not an NV global multiplies
//!   C. Options add an epilogue: `C = act(C × row_scale[m] × col_scale[n] + bias) + residual`.
//! - `attention`: the first three tensors are Q, K, V (`[S, D]`, `[H, S, D]` or `[B, H, S, D]`; K/V
//!   may have fewer heads than Q: grouped-query attention); `sm_scale` (option, else a scalar of
//!   that name, else `1/sqrt(d)`) scales the scores, `scale_<q|k|v>` multiplies that tensor
//!   (default: one over the generated data's RMS, so operands are about unit size); the causal
//!   mask (top-left aligned) is `causal = true | false | PARAM`, else a scalar named `causal`
//!   (nonzero = causal; default 1), else off — and [`comparison`] says which.
//! - `moe_gated`: X `[T, K]`, gate and up weights `[E, I, K]` (in that order), i32 `[E + 1]` group
//!   offsets, i32 `[P]` token ids and f32 `[P]` routing weights; out `[T, I]`
//!   `+= w * silu(x·gᵀ) * (x·uᵀ)` per route.
//!
//! A kernel without `@reference`, or whose parameters do not fit its family, has no plain
//! reference: [`comparison`] says so ([`Comparison::InterpreterOnly`]) and [`tolerance`] gives
//! the interpreter-vs-backend bounds.

mod attention;
mod gemm;
mod moe;
mod options;
mod roles;

pub use attention::AttentionStats;
use tessera_ir::{DType, Kernel, OpKind, ParamKind, reference};
use tessera_numerics::{ArgValue, Bindings, Tolerance, compare::unit_roundoff};

/// Why the oracle cannot produce expected values. Codes (E08xx, the oracle range; E07xx belongs to
/// the targets, docs/TARGETS.md):
/// - E0801 the kernel has no `@reference` attribute, or names an unknown family
/// - E0802 the parameters do not fit the family's conventions
/// - E0803 the bindings do not fit (missing or undecodable argument)
/// - E0804 K is not a multiple of a scaled operand's block along K
/// - E0805 an option the family does not know, or a value of the wrong kind
/// - E0806 the bound shapes do not fit the family (attention heads that do not group, an epilogue
///   tensor of the wrong shape, operands that disagree)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OracleError {
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for OracleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for OracleError {}

pub const E_NO_REFERENCE: &str = "E0801";
pub const E_CONVENTION: &str = "E0802";
pub const E_BINDING: &str = "E0803";
pub const E_K_BLOCK: &str = "E0804";
pub const E_OPTION: &str = "E0805";
pub const E_SHAPE: &str = "E0806";

/// Default problem sizes for symbolic dims no input binds: the partial-tile shapes (M=100,
/// N=704, K=320: 704 = 5.5 x 128 tiles) and small attention/MoE problems. `tessera run/validate`
/// fall back to them, and the examples' tests run at them.
pub const DEFAULT_DIMS: &[(&str, i64)] = &[
    ("M", 100),
    ("N", 704),
    ("K", 320),
    ("BH", 2),
    // 4-D attention [B, H, S, D]; HKV (grouped-query K/V heads) divides H
    ("B", 2),
    ("H", 4),
    ("HKV", 2),
    ("S", 200),
    ("T", 48),
    ("E", 4),
    ("I", 320),
    ("P", 96),
];

/// The default value of symbolic dim `sym` of kernel `k`: its [`DEFAULT_DIMS`] entry (else
/// `fallback`), rounded up to a multiple of every scale block extent along a dim named `sym` in
/// the kernel's tensor types (and to an even extent along an FP4 packed axis), so that the default
/// problem satisfies the kernel's block constraints (`gemm_fp8_blockscale`: K = 320 is not a
/// multiple of its 128-wide f32 scale blocks; the default becomes 384). Dims without such a
/// constraint keep their partial-tile defaults (M = 100, N = 704).
pub fn default_dim(k: &Kernel, sym: &str, fallback: i64) -> i64 {
    let base = DEFAULT_DIMS
        .iter()
        .find(|(n, _)| *n == sym)
        .map_or(fallback, |(_, v)| *v);
    let mut multiple: i64 = 1;
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    for p in &k.params {
        let ParamKind::Tensor { ty, .. } = &p.kind else {
            continue;
        };
        for (axis, d) in ty.dims.iter().enumerate() {
            if !matches!(d, tessera_ir::Dim::Sym(n) if n == sym) {
                continue;
            }
            let block = ty
                .scale
                .as_ref()
                .and_then(|s| s.block.get(axis))
                .map_or(1, |b| i64::from(*b));
            let pack = if ty.dtype == DType::F4E2M1 && ty.packed_axis == Some(axis) {
                2
            } else {
                1
            };
            for e in [block, pack] {
                if e > 1 && multiple <= i64::MAX / e {
                    multiple = multiple / gcd(multiple, e) * e;
                }
            }
        }
    }
    let base = base.max(1);
    base.saturating_add(multiple - 1) / multiple * multiple
}

pub(crate) fn err(code: &'static str, message: impl Into<String>) -> OracleError {
    OracleError {
        code,
        message: message.into(),
    }
}

/// The reference family a kernel declares (E0801 when it declares none, or one the oracle does not
/// implement).
pub fn family(k: &Kernel) -> Result<&str, OracleError> {
    match k.attr(reference::ATTR) {
        Some(f) if reference::family(f).is_some() => Ok(f),
        Some(f) => Err(err(
            E_NO_REFERENCE,
            format!(
                "kernel `{}`: unknown reference `{f}` ({})",
                k.name,
                reference::family_names()
            ),
        )),
        None => Err(err(
            E_NO_REFERENCE,
            format!("kernel `{}` has no @reference(...) attribute", k.name),
        )),
    }
}

/// Expected f64 values of every output, as `(param index, row-major values)`. `b.syms` must be
/// bound (the interpreter's `bind_syms`, or the caller's dims).
pub fn expected(k: &Kernel, b: &Bindings) -> Result<Vec<(usize, Vec<f64>)>, OracleError> {
    match family(k)? {
        "gemm" => gemm::expected(k, b),
        "attention" => attention::expected(k, b),
        _ => moe::expected(k, b),
    }
}

/// What validate's report says it compares with (see [`comparison`]).
pub const INTERPRETER_ONLY: &str = "compares with the interpreter only";

/// What `tessera validate` compares a kernel's outputs with.
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    /// The plain reference applies. `summary` is one line naming the family, the roles and how
    /// each setting was decided, e.g. `attention: Q `q`, ... ; causal (declared `causal = true`);
    /// sm_scale 0.125000 (default 1/sqrt(64))`. Print it with the verdict.
    Reference { summary: String },
    /// No plain reference applies: the kernel has no `@reference` (E0801), or its parameters do
    /// not fit its family's conventions and no option fixes that (E0802). Outputs can only be
    /// compared with the interpreter ([`INTERPRETER_ONLY`]), under [`tolerance`]'s bounds for
    /// kernels without a convention; `reason` is the coded explanation to print with it.
    InterpreterOnly { reason: OracleError },
}

/// What the outputs of `k` are compared with on bindings `b` (its dims bound), for validate's
/// report. A declared reference that cannot be used is an error, not a fallback: an unknown family
/// (E0801), an invalid option (E0805), bindings or shapes that do not fit (E0803, E0806).
pub fn comparison(k: &Kernel, b: &Bindings) -> Result<Comparison, OracleError> {
    let fam = match family(k) {
        Ok(f) => f,
        // No attribute at all: nothing was claimed, so the interpreter is the only oracle.
        Err(reason) if k.attr(reference::ATTR).is_none() => {
            return Ok(Comparison::InterpreterOnly { reason });
        }
        Err(e) => return Err(e),
    };
    options::options(k)?;
    match fits(k, fam) {
        Err(e) if e.code == E_CONVENTION => return Ok(Comparison::InterpreterOnly { reason: e }),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let summary = match fam {
        "gemm" => gemm::summary(k)?,
        "attention" => attention::summary(k, b)?.0,
        _ => moe::summary(k)?,
    };
    Ok(Comparison::Reference { summary })
}

fn fits(k: &Kernel, fam: &str) -> Result<(), OracleError> {
    match fam {
        "gemm" => gemm::fits(k),
        "attention" => attention::fits(k),
        _ => moe::fits(k),
    }
}

/// Whether the plain reference applies to `k` at all (a known family whose conventions fit, with
/// valid options): the kernels [`tolerance`] judges against the reference rather than the
/// interpreter.
pub fn has_reference(k: &Kernel) -> bool {
    family(k).is_ok_and(|f| fits(k, f).is_ok())
}

/// A hint for a failed comparison of output `param`, for validate to print under the verdict;
/// `b` holds the outputs as the backend wrote them. Today: an attention kernel compared with a
/// non-causal reference that nobody declared (no `causal` option, no `causal` parameter) — the
/// most likely cause of a mismatch is a mask written in the body (`where(cols > rows, -inf, s)`).
/// The hint says to declare `causal = ...`, and whether the output does match the causal
/// reference. `None` when there is nothing to suggest.
pub fn failure_hint(k: &Kernel, b: &Bindings, param: usize) -> Option<String> {
    if family(k).ok()? != "attention" {
        return None;
    }
    let (_, c) = attention::summary(k, b).ok()?;
    if !c.defaulted {
        return None;
    }
    let mut hint =
        "the reference is non-causal because the kernel declares no `causal = ...` option and has no \
`causal` parameter; if it masks keys after the query, say so: `@reference(attention, causal = true)` \
(or `causal = PARAM` for a runtime flag)"
            .to_string();
    let matches_causal = (|| {
        let want = attention::expected_with(k, b, Some(true))
            .ok()?
            .into_iter()
            .find(|(i, _)| *i == param)?
            .1;
        let Some(ArgValue::Tensor(t)) = b.args.get(param) else {
            return None;
        };
        let m = tessera_numerics::compare_buf(&t.data, &want).ok()?;
        Some((tolerance(k, b, param).judge(&m).pass, m.rel_l2))
    })();
    if let Some((true, rel_l2)) = matches_causal {
        hint.push_str(&format!(
            "; the output does match the causal reference (rel_l2 {rel_l2:.2e})"
        ));
    }
    Some(hint)
}

/// Outputs a kernel accumulates into with `atomic_add`: they must start zeroed, not poisoned.
pub fn accumulates_into(k: &Kernel, param: usize) -> bool {
    fn go(b: &tessera_ir::Block, p: usize) -> bool {
        b.ops.iter().any(|op| {
            matches!(&op.kind, OpKind::AtomicAdd { access, .. } if access.tensor.0 as usize == p)
                || op.kind.blocks().into_iter().any(|blk| go(blk, p))
        })
    }
    go(&k.body, param)
}

/// Rewrite index/routing inputs so they mean something (MoE: sorted group offsets, token ids in
/// range, positive weights), deterministically from `seed`. Other families are left as generated.
pub fn prepare_inputs(k: &Kernel, b: &mut Bindings, seed: u64) -> Result<(), OracleError> {
    // Only the MoE convention gives inputs a meaning (offsets, token ids); a kernel without a
    // reference family runs on the generator's inputs and is validated against the interpreter.
    if family(k).ok() == Some("moe_gated") {
        moe::prepare(k, b, seed)
    } else {
        Ok(())
    }
}

/// Default values for scalars the conventions give a meaning to (attention's softmax scale — the
/// parameter `sm_scale = PARAM` names, else `sm_scale` —, its causal flag — the one `causal =
/// PARAM` names, else `causal`; default 1 — and the per-tensor dequant scales `scale_<q|k|v>`).
/// Callers use it only for scalars the user did not give.
pub fn default_scalar(k: &Kernel, name: &str, syms: &[(String, i64)]) -> Option<f64> {
    if family(k).ok()? != "attention" {
        return None;
    }
    let opts = options::options(k).ok()?;
    if attention::sm_scale_param(&opts) == name {
        attention::default_sm_scale(k, syms)
    } else if attention::causal_param(&opts) == Some(name) {
        Some(1.0)
    } else if name.starts_with("scale_") {
        attention::default_operand_scale(k, name)
    } else {
        None
    }
}

/// The operand statistics attention's tolerance is built from (for callers that widen it, e.g.
/// for a target's accumulator).
pub fn attention_stats(k: &Kernel, b: &Bindings) -> Result<AttentionStats, OracleError> {
    attention::stats(k, b)
}

/// Symbolic dims whose values follow from others under the family's conventions (MoE: `E1 = E + 1`),
/// filled into `syms` when absent.
pub fn derive_dims(k: &Kernel, syms: &mut Vec<(String, i64)>) {
    if family(k).ok() == Some("moe_gated") {
        moe::derive_dims(k, syms);
    }
}

/// The acceptance tolerance for output `param`: the numerics tolerance of its dtype for the
/// family's accumulation length, widened by `2u` for every narrower-than-f32 float type the kernel
/// rounds an intermediate to, since the plain reference keeps those values exact.
///
/// Attention also gets an absolute element bound ([`Tolerance::atol`], see [`attention_atol`]):
/// its output is a convex combination of V rows, so errors in the weights are errors relative to
/// `max|v|`, not to `|o|` — a small `o` is the result of cancellation between V rows. The relative
/// `rel_l2` and cosine bounds stay as they are; whole-tensor errors average out, and they still
/// catch a systematic error that moves every element by less than `atol`.
pub fn tolerance(k: &Kernel, b: &Bindings, param: usize) -> Tolerance {
    let out = match k.params.get(param).map(|p| &p.kind) {
        Some(ParamKind::Tensor { ty, .. }) => ty.dtype,
        _ => DType::F32,
    };
    // A kernel the plain reference does not apply to (no family, or one whose conventions do not
    // fit: `Comparison::InterpreterOnly`) is judged like one without a family.
    let fam = if has_reference(k) {
        family(k).unwrap_or("gemm")
    } else {
        ""
    };
    let len = match fam {
        // No reference convention: the compared values may sum as many terms as the longest
        // dim bound at launch (a row reduction over N, a dot over K, a loop over a sequence).
        "" => b
            .syms
            .iter()
            .map(|(_, v)| (*v).max(1) as usize)
            .max()
            .unwrap_or(1),
        "attention" => attention::accum_len(k, b),
        "moe_gated" => moe::accum_len(k, b),
        _ => gemm::accum_len(k, b),
    };
    let mut base = Tolerance::for_output(out, len);
    if matches!(fam, "" | "gemm") && out.is_float() {
        // Backends compute exp/exp2/log/log2 with the hardware approximations (PTX ex2.approx /
        // lg2.approx: about 2^-22 relative, times the argument's magnitude for exp) and sqrt/rsqrt
        // with rounding the interpreter does not copy: allow APPROX_RTOL per such op of the kernel.
        // A GEMM has such ops only in an epilogue activation (GELU, SiLU, sigmoid), where the
        // plain reference computes the exact function.
        let n = approximate_ops(k).min(8) as f64;
        base.rtol += n * APPROX_RTOL;
        base.max_rel_l2 += n * APPROX_RTOL;
    }
    let roundings = intermediate_roundings(k, out);
    let extra: f64 = roundings.iter().map(|d| 2.0 * unit_roundoff(*d)).sum();
    // Operands dequantized into a narrow type: see [`inexact_dequants`].
    let dequants = inexact_dequants(k);
    let dq_elem: f64 = dequants.iter().map(|d| 4.0 * unit_roundoff(*d)).sum();
    let dq_l2: f64 = dequants.iter().map(|d| unit_roundoff(*d)).sum();
    let rtol = base.rtol + extra + dq_elem;
    let max_rel_l2 = base.max_rel_l2 + extra + dq_l2;
    let atol = match (fam, attention::stats(k, b)) {
        ("attention", Ok(s)) => attention_atol(&s, out, &roundings),
        _ => 0.0,
    };
    Tolerance {
        rtol,
        max_rel_l2,
        min_cosine: 1.0 - 2.0 * max_rel_l2 * max_rel_l2 - 1e-12,
        atol,
    }
}

/// The target dtype of every `dequant<T>` whose result `T` (narrower than f32) cannot hold the
/// dequantized values exactly, one entry per such op: the plain reference keeps those values
/// exact, so each rounds every product of the dot it feeds.
///
/// A dequant is exact when the element's significand times the scale's fits in `T`: MX (e8m0,
/// a power of two) scales of any element format, and ue4m3 scales of FP4 (2 + 4 significant bits),
/// in bf16 (8 bits). It is inexact with an f32/bf16/f16 block scale, with an NV per-tensor global
/// f32 scale (NVFP4: F13), or into f16 from e8m0 scales (range).
///
/// The bound: each product carries a relative error up to `u` per rounded operand, independent
/// across the `K` terms, so the sum errs by a random walk of about `u / sqrt(3)` of the result's
/// RMS per operand; the worst of a million elements sits near 5 sigma (~3u), and block scales make
/// some rows larger than the tensor's RMS, so the elementwise bound adds `4u` per rounded operand.
/// The whole-tensor `rel_l2` averages: `u` per operand (observed: 0.6u for two bf16 operands), so
/// a 2% gain error still fails.
pub fn inexact_dequants(k: &Kernel) -> Vec<DType> {
    fn sig_bits(d: DType) -> Option<u32> {
        Some(match d {
            DType::F4E2M1 => 2,
            DType::F6E3M2 | DType::F8E5M2 => 3,
            DType::F6E2M3 | DType::F8E4M3 | DType::F8E4M3Fnuz | DType::UE4M3 => 4,
            DType::BF16 => 8,
            DType::F16 => 11,
            DType::F32 => 24,
            DType::E8M0 => 0, // a power of two adds no significant bits
            _ => return None,
        })
    }
    fn exact(k: &Kernel, x: tessera_ir::ValueId, scale: Option<tessera_ir::ValueId>, to: DType) -> bool {
        let tessera_ir::Type::Tile(t) = k.ty(x) else {
            return false;
        };
        let (scale_dtype, global) = match (&t.scale, scale) {
            (Some(spec), _) => (spec.scale_dtype, spec.global),
            (None, Some(s)) => (k.ty(s).dtype(), false),
            (None, None) => return sig_bits(t.dtype).zip(sig_bits(to)).is_some_and(|(e, o)| e <= o),
        };
        if global || (to == DType::F16 && scale_dtype == DType::E8M0) {
            return false;
        }
        match (sig_bits(t.dtype), sig_bits(scale_dtype), sig_bits(to)) {
            (Some(e), Some(s), Some(o)) => e + s <= o,
            _ => false,
        }
    }
    fn go(k: &Kernel, b: &tessera_ir::Block, acc: &mut Vec<DType>) {
        for op in &b.ops {
            if let OpKind::Dequant { x, scale, to } = op.kind
                && to.is_float()
                && to != DType::F32
                && !exact(k, x, scale, to)
            {
                acc.push(to);
            }
            for blk in op.kind.blocks() {
                go(k, blk, acc);
            }
        }
    }
    let mut acc = Vec::new();
    go(k, &k.body, &mut acc);
    acc
}

/// The absolute element bound of attention, `o_i = sum_j P_ij v_j` with `sum_j P_ij = 1`:
///
/// - Weights rounded to a narrow type `r` (the kernel's `cast<f8e4m3>(p)` before the P·V dot; the
///   denominator `l = sum_j p_j` sums the unrounded `p`, the largest of which is exactly 1):
///   normal weights round with `|dp_j| <= u_r p_j`, so they move `o` by at most
///   `sum_j |dp_j| |v_j| / l <= u_r max|v|`.
/// - Weights below `r`'s smallest normal round with an absolute error up to half the subnormal
///   spacing `h` instead (2^-10 for e4m3), and `|dp_j| <= min(p_j, h)`. Those errors are
///   independent in sign, a random walk with variance `sum_j dp_j^2 / 3 <= h (l - 1) / 3`, which
///   divided by `l^2` peaks at `h / 12` (at `l = 2`); and with at most `S` terms it is also at
///   most `S h^2 / 3`. At 4 sigma: `4 min(h sqrt(S/3), sqrt(h/3) / 2) max|v|`.
/// - f32 accumulation of the `S` terms of P·V (and of `l`): `8 sqrt(S) eps` of `max|v|`, the
///   numerics crate's accumulation bound.
/// - The output rounding: `|o| <= max|v|`, so one ulp of the output type is `2 u_out max|v|`.
///
/// For e4m3 weights and a bf16 output that is about `0.106 max|v|` at S = 1000 (`2^-4` from the
/// normal weights, 0.036 from the subnormal ones, `2^-7` from the output).
pub fn attention_atol(s: &AttentionStats, out: DType, roundings: &[DType]) -> f64 {
    let n = s.seq_k.max(1) as f64;
    let weights: f64 = roundings
        .iter()
        .map(|d| {
            let h = half_subnormal_spacing(*d);
            unit_roundoff(*d) + 4.0 * (h * (n / 3.0).sqrt()).min((h / 3.0).sqrt() / 2.0)
        })
        .sum();
    let accum = 8.0 * n.sqrt() * tessera_numerics::compare::F32_ACCUM_EPS;
    s.max_v * (weights + accum + 2.0 * unit_roundoff(out))
}

/// Half the distance between subnormals of float type `d` (half its smallest positive value): the
/// largest absolute rounding error of a value below the smallest normal. 0 for types not stored as
/// one-byte codes (bf16/f16 subnormals sit far below any attention weight that matters).
fn half_subnormal_spacing(d: DType) -> f64 {
    let packed = (d == DType::F4E2M1).then_some(0);
    tessera_numerics::buf_from_codes(d, &[2], packed, &[1, 0])
        .and_then(|b| tessera_numerics::decode_buf_f64(&b))
        .map_or(0.0, |v| v.first().map_or(0.0, |x| x.abs() / 2.0))
}

/// Float dtypes narrower than f32 that the kernel casts intermediates to (the output dtype's own
/// final cast excluded; dequants are counted by [`inexact_dequants`]).
/// Relative error allowed per approximate transcendental of a kernel without a reference
/// convention (see [`tolerance`]): 2^-22 for the approximation, times 16 for the argument range
/// of an exp after max subtraction.
pub const APPROX_RTOL: f64 = 16.0 / (1u64 << 22) as f64;

/// The number of exp/exp2/log/log2/sqrt/rsqrt ops in `k`.
fn approximate_ops(k: &Kernel) -> usize {
    fn go(b: &tessera_ir::Block) -> usize {
        b.ops
            .iter()
            .map(|op| {
                let own = usize::from(matches!(
                    op.kind,
                    OpKind::Unary {
                        op: tessera_ir::UnOp::Exp
                            | tessera_ir::UnOp::Exp2
                            | tessera_ir::UnOp::Log
                            | tessera_ir::UnOp::Log2
                            | tessera_ir::UnOp::Sqrt
                            | tessera_ir::UnOp::Rsqrt,
                        ..
                    }
                ));
                own + op.kind.blocks().into_iter().map(go).sum::<usize>()
            })
            .sum()
    }
    go(&k.body)
}

fn intermediate_roundings(k: &Kernel, out: DType) -> Vec<DType> {
    fn go(b: &tessera_ir::Block, out: DType, acc: &mut Vec<DType>) {
        for op in &b.ops {
            if let OpKind::Cast { to, .. } = op.kind
                && to.is_float()
                && to != DType::F32
                && to != out
                && !acc.contains(&to)
            {
                acc.push(to);
            }
            for blk in op.kind.blocks() {
                go(blk, out, acc);
            }
        }
    }
    let mut acc = Vec::new();
    go(&k.body, out, &mut acc);
    acc
}
