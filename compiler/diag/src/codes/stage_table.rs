//! The explanations of every later-stage code (numerics E05xx, interpreter E0601-E0612 and
//! prepack E0651-E0657, targets E07xx, oracle E08xx, tools E09xx, lowering L0001), in code order. The constants stay in
//! the crates that emit them; the registry test in tessera-cli greps the sources so that a new
//! code without an entry here fails.

use super::stage::{Check, Example, NpyFile, StageCodeInfo};

/// A GEMM `c = a @ b^T` over the given parameter list (a [M, K], b [N, K], then `c`).
macro_rules! gemm {
    ($params:literal) => {
        concat!(
            "@reference(gemm)\nkernel g(",
            $params,
            ", c: out bf16[M, N])\n    tiles(BM = 128, BN = 128, BK = 128) grid(cdiv(M, BM), cdiv(N, BN))\n{\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        let ta = load(a[m0 .. +BM, k0 .. +BK]);\n        let tb = load(b[n0 .. +BN, k0 .. +BK]);\n        acc = dot(ta, transpose(tb), acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], cast<bf16>(acc));\n}\n"
        )
    };
}

/// An elementwise kernel: checks clean, runs on the interpreter, is not GEMM-shaped.
const ADD_ONE: &str = "kernel add_one(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) + 1.0);\n}\n";
/// A [N, 64] copy: the second dim is a constant of the type.
const STRIP64: &str = "kernel k(x: f32[N, 64], y: out f32[N, 64]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B, 0 .. +64], load(x[i .. +B, 0 .. +64]));\n}\n";
/// Quantize rows to MXFP8 and store codes + scales into a scaled output (docs/LANGUAGE.md §8).
/// An FP4 store one element wide along the packed axis (two programs would share each byte): a
/// store the sm_90a per-op lowering refuses (L0001).
const FP4_COLUMN_STORE: &str = "kernel pack_col(x: f32[N, K], y: out f4e2m1[N, K]) tiles(B = 64) grid(cdiv(N, B), K) {\n    let n0 = program_id(0) * B;\n    let k = program_id(1);\n    store(y[n0 .. +B, k], cast<f4e2m1>(load(x[n0 .. +B, k])));\n}\n";
/// Grouped-query attention on [B, H, S, 32] (f32): query head h reads K/V head h / (H / HKV).
const GQA: &str = "@reference(attention, causal = false)\nkernel attn_gqa(q: f32[B, H, S, HD], k: f32[B, HKV, S, HD], v: f32[B, HKV, S, HD], o: out f32[B, H, S, HD])\n    tiles(BM = 16, BN = 16, HD = 32)\n    grid(cdiv(S, BM), H, B)\n{\n    let z = program_id(2);\n    let h = program_id(1);\n    let hk = h / (H / HKV);\n    let m0 = program_id(0) * BM;\n    let tq = load(q[z, h, m0 .. +BM, 0 .. +HD]);\n    var m_i = full<f32>[BM](-inf);\n    var l_i = zeros<f32>[BM];\n    var acc = zeros<f32>[BM, HD];\n    for n0 in 0..S step BN {\n        let cols = n0 + arange(BN);\n        let raw = dot(tq, transpose(load(k[z, hk, n0 .. +BN, 0 .. +HD]))) * 0.17677669529663687;\n        let s = where(cols[None, :] < S, raw, -inf);\n        let m_new = max(m_i, reduce_max(s, axis = 1));\n        let p = exp(s - m_new[:, None]);\n        let alpha = exp(m_i - m_new);\n        l_i = l_i * alpha + reduce_sum(p, axis = 1);\n        acc = acc * alpha[:, None] + dot(p, load(v[z, hk, n0 .. +BN, 0 .. +HD]));\n        m_i = m_new;\n    }\n    store(o[z, h, m0 .. +BM, 0 .. +HD], acc / l_i[:, None]);\n}\n";
const GEMM_MXFP8: &str = gemm!("a: mx<f8e4m3>[M, K], b: mx<f8e4m3>[N, K]");
const GEMM_MXFP4: &str = gemm!("a: mx<f4e2m1>[M, K], b: mx<f4e2m1>[N, K]");
const GEMM_NVFP4: &str =
    gemm!("a: nv<f4e2m1, global = ga>[M, K], b: nv<f4e2m1, global = gb>[N, K], ga: f32, gb: f32");
const GEMM_BF16: &str = gemm!("a: bf16[M, K], b: bf16[N, K]");
const GEMM_FP8: &str = gemm!("a: f8e4m3[M, K], b: f8e4m3[N, K]");
const GEMM_FP6: &str = gemm!("a: f6e2m3[M, K], b: f6e2m3[N, K]");
const GEMM_FNUZ: &str = gemm!("a: f8e4m3fnuz[M, K], b: f8e4m3fnuz[N, K]");
/// An FP8 GEMM whose `a` has a constant first dim of 2^31 (2^31 * K elements).
const GEMM_FP8_HUGE: &str = gemm!("a: f8e4m3[2147483648, K], b: f8e4m3[N, K]");
/// Two kernels in one file.
const TWO_KERNELS: &str = "kernel a(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) + 1.0);\n}\nkernel b(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) * 2.0);\n}\n";

const fn ex(source: &'static str, command: &'static str, note: &'static str) -> Example {
    exf(source, &[], command, note)
}

/// An example that also reads `.npy` files.
const fn exf(
    source: &'static str,
    files: &'static [NpyFile],
    command: &'static str,
    note: &'static str,
) -> Example {
    Example {
        source,
        files,
        command,
        note,
    }
}

/// A C-ordered `.npy` input.
const fn npy(name: &'static str, descr: &'static str, shape: &'static [usize]) -> NpyFile {
    NpyFile {
        name,
        descr,
        shape,
        fortran: false,
    }
}

/// Every documented later-stage code, in code order (E before L).
pub const STAGE_CODES: &[StageCodeInfo] = &[
    // ---- numerics: host buffers and .npy files (compiler/numerics/src/error.rs) ----
    StageCodeInfo {
        code: "E0501",
        title: ".npy dtype does not match the tensor's dtype",
        stage: "tessera-numerics (.npy reader; `tessera run --arg NAME=FILE.npy`)",
        explanation: "An input `.npy` file's descr must be the one the parameter's dtype maps to: `<f4` for f32, \
`<f2` for f16, `<u2` holding the raw bits for bf16, `<i4`/`|i1`/`|u1` for i32/i8/i1, and `|u1` codes for every \
narrow float and scale type (FP4: two codes per byte, low nibble first). numpy has no bf16 or FP8, so a float32 \
array saved for a bf16 or FP8 parameter is refused instead of being reinterpreted.",
        wrong: exf(
            GEMM_BF16,
            &[npy("a.npy", "<f4", &[128, 256]), npy("b.npy", "<u2", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy --out c=c.npy",
            "a.npy was written by `np.save(\"a.npy\", a)` from a float32 array: descr `<f4`, but `a` is bf16, \
which is read as `<u2`.",
        ),
        right: exf(
            GEMM_BF16,
            &[npy("a.npy", "<u2", &[128, 256]), npy("b.npy", "<u2", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy --out c=c.npy",
            "Save the bf16 bits: `np.save(\"a.npy\", a_bf16.view(np.uint16))` (ml_dtypes), or torch's \
`t.to(torch.bfloat16).view(torch.uint16).numpy()`.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0502",
        title: "buffer or .npy shape does not match the expected shape",
        stage: "tessera-numerics (.npy reader, scale grids, element counts; `tessera run --dim`)",
        explanation: "The shape stored in a `.npy` header (or given with a host buffer) must equal the shape the \
kernel expects for that argument: the data shape for a tensor, and `ceil(dim / block)` per dim for a block-scale \
buffer (tessera_numerics::dequantize refuses a [128, 256] scale buffer for mx<f8e4m3>[128, 256], whose grid is \
[128, 8]). `tessera run` reports it when a `--dim` contradicts the dim the input files bind, and it is also \
reported for a shape whose element count overflows what a host buffer can address.",
        wrong: exf(
            GEMM_BF16,
            &[npy("a.npy", "<u2", &[128, 256]), npy("b.npy", "<u2", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy --dim K=512",
            "The files bind K = 256, but --dim asks for K = 512.",
        ),
        right: exf(
            GEMM_BF16,
            &[npy("a.npy", "<u2", &[128, 256]), npy("b.npy", "<u2", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy --dim K=256",
            "Let the files bind the dims (drop --dim), or give the value they have; --dim is for dims no \
input binds.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0503",
        title: ".npy file unreadable, malformed or in an unsupported layout",
        stage: "tessera-numerics (.npy reader)",
        explanation: "The file could not be opened, is not a version 1-3 `.npy` (bad magic or header), its header \
shape is too large, it is Fortran-ordered, or it holds FP4 data without saying which axis is packed. Tessera reads \
C-ordered arrays only, so that the bytes are the device layout.",
        wrong: exf(
            GEMM_FP8,
            &[
                NpyFile {
                    name: "a.npy",
                    descr: "|u1",
                    shape: &[128, 256],
                    fortran: true,
                },
                npy("b.npy", "|u1", &[128, 256]),
            ],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy --out c=c.npy",
            "a.npy was saved from `np.asfortranarray(a)`.",
        ),
        right: exf(
            GEMM_FP8,
            &[npy("a.npy", "|u1", &[128, 256]), npy("b.npy", "|u1", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy --out c=c.npy",
            "Save a C-ordered copy: `np.save(\"a.npy\", np.ascontiguousarray(a))` (and check the path exists).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0504",
        title: "buffer byte length does not match its dtype, shape and packing",
        stage: "tessera-numerics (`TensorBuf`)",
        explanation: "A host buffer must hold exactly the bytes its dtype and shape need: 4 per f32/i32 element, \
2 per bf16/f16, 1 per narrow-float code, and for FP4 two codes per byte along the packed axis (that axis halved, \
rounded up). A length that does not match means the data was produced for another dtype or shape.",
        wrong: ex(
            "",
            "TensorBuf::new(DType::F4E2M1, vec![128, 64], Some(1), bytes) with bytes.len() == 128 * 64",
            "One byte per FP4 code: f4e2m1 packs two codes per byte along axis 1, so [128, 64] needs \
128 * 32 bytes.",
        ),
        right: ex(
            "",
            "TensorBuf::new(DType::F4E2M1, vec![128, 64], Some(1), bytes) with bytes.len() == 128 * 32",
            "Pack pairs of codes, low nibble first (`encode_buf` does it).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0505",
        title: "dtype not supported by this operation",
        stage: "tessera-numerics (encode/decode, comparisons)",
        explanation: "A numerics operation was asked for a dtype it does not handle, for example decoding a scale \
type as data, comparing outputs of an integer type with float tolerances, or an `.npy` descr with no Tessera dtype \
(`<f8`, `<V2`). The message names the operation and the dtype.",
        wrong: ex(
            "",
            "tessera_numerics::quantize(&values, &[128, 256], DType::BF16, None, &spec)",
            "bf16 is not a block-scaled element type, so there is no recipe to quantize it with.",
        ),
        right: ex(
            "",
            "tessera_numerics::quantize(&values, &[128, 256], DType::F8E4M3, None, &spec)",
            "Quantize to the scaled tensor's element type (fp8/fp6/fp4); encode bf16 data with `encode_buf`.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0506",
        title: "cannot generate inputs for this tensor type",
        stage: "tessera-numerics (`InputGen`, `tessera run --random`)",
        explanation: "The seeded generator makes data and scales for the linear scale layouts only (`linear`, \
`hopper_reg`) and needs FP4 tensors to name their packed axis. Swizzled layouts (nv128x4, the AMD lane layouts) \
are storage formats of one target: generate the logical scales and re-lay them out with that target's layout code \
(tessera_prepack).",
        wrong: ex(
            "",
            "InputGen::new(seed).tensor_arg(&ty, &shape) where ty's scale layout is nv128x4",
            "The type was taken from a kernel after the target's assign-scale-layout pass.",
        ),
        right: ex(
            "",
            "InputGen::new(seed).tensor_arg(&ty_linear, &shape), then tessera_prepack::prepack_tensor(..)",
            "Generate for the source type (linear scales) and prepack for the target's layout; \
`tessera run x.tsr --random` does this for you.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0507",
        title: "concrete shape does not fit the tensor type",
        stage: "tessera-numerics (`tensor_arg`, binding shapes to types)",
        explanation: "A concrete shape for a parameter must have the type's rank, equal its constant dims and have \
an even extent along an FP4 packed axis. Symbolic dims (`M`, `K`) may take any value, but the same value \
everywhere.",
        wrong: ex(
            STRIP64,
            "InputGen::new(seed).tensor_arg(&ty, &[100, 32]) for the type f32[N, 64] of `x`",
            "The type fixes the second dim at 64.",
        ),
        right: ex(
            STRIP64,
            "InputGen::new(seed).tensor_arg(&ty, &[100, 64])",
            "N = 100 is free; the constant dim is kept. (`tessera run x.tsr --random` builds shapes from the dims.)",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0508",
        title: "block or global scale missing, or given without a contract",
        stage: "tessera-numerics (quantize/dequantize, scale bindings; `tessera run --arg`)",
        explanation: "A scaled tensor (`mx<...>`, `nv<...>`, a blockscaled f32 contract) needs its block scales, and \
NVFP4 also its per-tensor f32 global; dequantizing without them would silently compute with scale 1. `tessera run` \
reports an input file given without `--arg NAME.scale=FILE.npy`, and an NVFP4 input file without `--arg \
GLOBAL=VALUE` for the scalar named by `global = ...`; tessera_numerics::dequantize reports an argument whose \
scale is None. Conversely a scale given to a tensor whose type has no scale contract is a mistake in the bindings.",
        wrong: exf(
            GEMM_MXFP8,
            &[npy("a.npy", "|u1", &[128, 256]), npy("b.npy", "|u1", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy",
            "`a` and `b` are `mx<f8e4m3>`: their e8m0 scales are not given.",
        ),
        right: exf(
            GEMM_MXFP8,
            &[
                npy("a.npy", "|u1", &[128, 256]),
                npy("b.npy", "|u1", &[128, 256]),
                npy("a_scale.npy", "|u1", &[128, 8]),
                npy("b_scale.npy", "|u1", &[128, 8]),
            ],
            "tessera run x.tsr --arg a=a.npy --arg a.scale=a_scale.npy --arg b=b.npy --arg b.scale=b_scale.npy",
            "Give each scaled input its scale grid (`ceil(dim / block)` per dim, e8m0 codes as `|u1`); for \
NVFP4 also `--arg ga=VALUE` for its per-tensor f32 scale.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0509",
        title: "`.npy` input is not a regular file or is larger than the limit",
        stage: "tessera-numerics (`read_npy`: `tessera run --arg`, the runner)",
        explanation: "A `.npy` input is read by its header first, then exactly the bytes the header declares. A path that is not a \
regular file (a device such as /dev/zero, a FIFO, a directory) is refused before anything is read, because a stream \
has no end to read to; so is a file whose header declares more data than `tessera_numerics::npy::MAX_NPY_BYTES` \
(16 GiB) or than the file holds.",
        wrong: ex(
            "",
            "tessera run x.tsr --backend interp --arg x=/dev/zero",
            "/dev/zero is a character device: it would be read forever.",
        ),
        right: ex(
            "",
            "tessera run x.tsr --backend interp --arg x=x.npy",
            "A regular .npy file written by numpy.save.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0510",
        title: "a byte that is not a code of the tensor's dtype",
        stage: "tessera-numerics (`.npy` reading, tessera_numerics::check_codes; `tessera run --arg`)",
        explanation: "fp6 tensors (f6e2m3, f6e3m2) are stored one code per byte in `|u1` files, and a code has 6 bits: \
a byte with bit 6 or 7 set (0x40..=0xff) is not an fp6 value. Masking it to 6 bits would silently compute with \
a different number, so reading such a file fails, naming the file and the first bad element. The same holds \
for i1 (bool) tensors, whose bytes must be 0 or 1. Write the codes with the high bits clear (an fp8 file passed \
for an fp6 parameter is the usual cause).",
        wrong: exf(
            GEMM_FP6,
            &[npy("a.npy", "|u1", &[128, 256]), npy("b.npy", "|u1", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy (a.npy holding the byte 0xc8)",
            "0xc8 has bits 6 and 7 set: it is not an f6e2m3 code; it used to be read as 0x08.",
        ),
        right: exf(
            GEMM_FP6,
            &[npy("a.npy", "|u1", &[128, 256]), npy("b.npy", "|u1", &[128, 256])],
            "tessera run x.tsr --arg a=a.npy --arg b=b.npy (every byte in 0x00..=0x3f)",
            "Encode the values as f6e2m3 codes (ml_dtypes' float6_e2m3fn `.view(np.uint8)`).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0511",
        title: "argument does not fit the kernel's signature",
        stage: "tessera-numerics (`tessera run/validate --arg`, `tessera-runner --arg`, the `tessera` library's launch)",
        explanation: "Every argument given by name is checked against the kernel's parameters before anything is read \
or launched, so nothing given is silently ignored: a name that is not a parameter, an `out` parameter given as an \
input (the kernel writes it; write it out with `--out NAME=FILE.npy`), the same name given twice, and a scalar \
with no value (scalars are never defaulted when the inputs are your data) are refused. The `tessera` library \
reports a wrong argument count, a tensor passed for a scalar (or the reverse), and a device buffer whose dtype, \
rank or length does not match the parameter with the same code.",
        wrong: ex(
            ADD_ONE,
            "tessera run x.tsr --arg x=x.npy --arg y=y.npy",
            "`y` is `out`: the kernel overwrites it, so the file would be ignored.",
        ),
        right: ex(
            ADD_ONE,
            "tessera run x.tsr --arg x=x.npy --out y=y.npy",
            "Give the inputs with --arg and name the outputs to write with --out.",
        ),
        check: Check::Describe,
    },
    // ---- interpreter (compiler/interp/src/error.rs) ----
    StageCodeInfo {
        code: "E0601",
        title: "op or type combination the interpreter does not implement",
        stage: "tessera-interp (`tessera run --backend interp`, `tessera validate`)",
        explanation: "The reference interpreter refuses an op or type combination it does not implement exactly \
rather than approximating it; the message names the op, its span and why. Rewrite the kernel with supported ops \
(for example an explicit `cast<f32>` before elementwise math) or report the gap.",
        wrong: ex(
            "",
            "tessera validate x.tsr --backend interp",
            "x.tsr uses an op/type pair the interpreter has no exact rule for.",
        ),
        right: ex(
            "",
            "tessera validate x.tsr --backend interp",
            "Express the computation with implemented ops (docs/NUMERICS.md lists them).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0602",
        title: "bindings do not fit the kernel",
        stage: "tessera-interp (bindings)",
        explanation: "Every parameter needs exactly one binding of the right kind: a tensor buffer for a tensor, a \
scalar for a scalar; extra or unknown names are refused before any program runs.",
        wrong: ex(
            "",
            "tessera_interp::run(&kernel, &mut bindings, ProgramSet::All) with 2 arguments for a 3-parameter kernel",
            "Bindings are positional: one per parameter, tensors as buffers, scalars as values.",
        ),
        right: ex(
            "",
            "tessera_interp::run(&kernel, &mut bindings, ProgramSet::All) with one argument per parameter",
            "Bind every parameter, outputs included (`tessera run` does this from --arg/--out).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0603",
        title: "buffer dtype or packing differs from the parameter",
        stage: "tessera-interp (bindings)",
        explanation: "A bound buffer must have the parameter's element dtype and, for FP4, the same packed axis; \
a scale buffer must have the scale dtype of the parameter's contract (e8m0 for MX, ue4m3 for NVFP4). Bytes \
encoded for another dtype would be decoded as garbage, so they are refused before any program runs.",
        wrong: ex(
            "",
            "run(&kernel, &mut bindings, ProgramSet::All) with `a` bound to an f8e5m2 buffer for `a: f8e4m3[M, K]`",
            "The buffer was encoded for the other FP8 format.",
        ),
        right: ex(
            "",
            "run(&kernel, &mut bindings, ProgramSet::All) with `a` encoded as f8e4m3",
            "Encode with the parameter's dtype (`encode_buf(DType::F8E4M3, ..)`).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0604",
        title: "buffer shape differs from the parameter, or symbolic dims disagree",
        stage: "tessera-interp (bindings)",
        explanation: "Each buffer's shape must match its parameter's type, and one symbolic dim must take one value \
across all parameters (`K` of `a[M, K]` and `b[N, K]`). Logical scales given for a swizzled layout are refused \
here too (the prepack check's E0657 is in the message). `tessera run --arg` and the runner check `.npy` files \
against each other before the interpreter sees them and report a disagreement as E0502.",
        wrong: ex(
            GEMM_BF16,
            "tessera_interp::run(&kernel, &mut bindings, ProgramSet::All) with `a` bound as [128, 256] and `b` as [64, 512]",
            "K would be 256 for `a` and 512 for `b`.",
        ),
        right: ex(
            GEMM_BF16,
            "tessera_interp::run(&kernel, &mut bindings, ProgramSet::All) with `b` bound as [64, 256]",
            "K = 256 everywhere.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0605",
        title: "scaled parameter without its scale buffer or global",
        stage: "tessera-interp (bindings)",
        explanation: "A scaled parameter is run with its block scales and, for NVFP4, the f32 scalar named by \
`global = ...`; a run without them would be a different computation. Inputs take their scales with `--arg \
x.scale=FILE.npy`. A scaled `out` tensor needs nothing: `tessera run` allocates its scale buffer, the kernel writes \
codes and scales, and `--out y=FILE.npy --out y.scale=FILE.npy` saves both; an NVFP4 output's per-tensor scale is \
the value of its `global = ...` scalar. The same code reports a stored NVFP4 tile quantized under another per-tensor \
scale than its tensor declares (its codes would decode to other values).",
        wrong: ex(
            GEMM_MXFP8,
            "tessera_interp::run(&kernel, &mut bindings, ProgramSet::All) with `a` bound as a TensorArg whose scale is None",
            "`a` is `mx<f8e4m3>`: its e8m0 scales must come with it.",
        ),
        right: ex(
            GEMM_MXFP8,
            "tessera_interp::run(&kernel, &mut bindings, ProgramSet::All) with `a`'s scale buffer attached",
            "Attach the scales (and, for NVFP4, bind the scalar named by `global = ...`); `tessera run` \
takes them as `--arg a.scale=FILE.npy`.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0606",
        title: "scaled slice does not start on a scale-block boundary",
        stage: "tessera-interp (loads and stores of scaled or packed tensors)",
        explanation: "A load of a block-scaled tensor must start each scaled axis on a multiple of its block (32 \
for MX, 16 for NVFP4), otherwise a tile would straddle two scales with no way to express it on hardware (a tile \
inside one block is fine). A store writes each block's one scale, so it must also cover every in-bounds element of \
the blocks it touches, and a store into a packed FP4 tensor starts at an even element along the packed axis (two \
codes share a byte). The checker cannot see run-time offsets, so the interpreter reports it with the program id.",
        wrong: ex(
            "kernel k(x: mx<f8e4m3>[M, K], y: out f32[M, 32]) tiles(B = 32) grid(cdiv(M, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B, 0 .. +32], dequant(load(x[i .. +B, 8 .. +32])));\n}\n",
            "tessera run x.tsr --random --dim M=64 --dim K=64",
            "The K slice starts at 8, inside the first 32-element scale block.",
        ),
        right: ex(
            "kernel k(x: mx<f8e4m3>[M, K], y: out f32[M, 32]) tiles(B = 32) grid(cdiv(M, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B, 0 .. +32], dequant(load(x[i .. +B, 32 .. +32])));\n}\n",
            "tessera run x.tsr --random --dim M=64 --dim K=64",
            "Start the slice on a block boundary (0, 32, ...).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0607",
        title: "dot over K where K is not a multiple of the scale block",
        stage: "tessera-interp (scaled `dot`)",
        explanation: "A scaled dot sums whole scale blocks along K, so the run's K must be a multiple of each \
scaled operand's K block (32 for MX, 16 for NVFP4). The checker accepts symbolic K; the value comes with the \
inputs.",
        wrong: ex(
            GEMM_MXFP8,
            "tessera run x.tsr --random --dim M=128 --dim N=128 --dim K=200",
            "K = 200 is not a multiple of 32.",
        ),
        right: ex(
            GEMM_MXFP8,
            "tessera run x.tsr --random --dim M=128 --dim N=128 --dim K=192",
            "Pad K to a multiple of the block (zero data, any scale).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0608",
        title: "run-time arithmetic fault",
        stage: "tessera-interp",
        explanation: "An integer division or remainder by zero, a `for` loop whose step is not positive, or an index \
computation that overflows i32 at run time. The GPU would produce garbage or hang; the interpreter stops and \
names the program and the span.",
        wrong: ex(
            "kernel k(x: f32[N], y: out f32[N], s: i32) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B / s;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
            "tessera run x.tsr --random --arg s=0",
            "`s` is 0, so `program_id(0) * B / s` divides by zero.",
        ),
        right: ex(
            "kernel k(x: f32[N], y: out f32[N], s: i32) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B / s;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
            "tessera run x.tsr --random --arg s=1",
            "Pass a non-zero divisor (or guard it in the kernel).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0609",
        title: "grid cannot be evaluated, or a program id lies outside it",
        stage: "tessera-interp",
        explanation: "The launch grid is evaluated from the bound dims; it fails when a dim it uses is unbound or an \
extent overflows, and a request to run particular program ids fails when an id is outside the grid.",
        wrong: ex(
            "",
            "run(&kernel, &mut bindings, ProgramSet::Ids(vec![[8, 0, 0]])) for grid(cdiv(M, 128)) with M = 512",
            "The grid has 4 programs along axis 0 (ids 0..=3).",
        ),
        right: ex(
            "",
            "run(&kernel, &mut bindings, ProgramSet::Ids(vec![[3, 0, 0]]))",
            "Ask only for ids inside the grid (or ProgramSet::All).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0610",
        title: "kernel fails IR verification before interpretation",
        stage: "tessera-interp",
        explanation: "The interpreter verifies the tile IR it is given. The checker only produces verified IR, so \
this means a pass or a hand-built kernel broke an IR invariant: a compiler bug, not a user error. Re-run the \
build with `--verify-each` to find the pass, and report it.",
        wrong: ex(
            "",
            "tessera validate x.tsr --backend interp (after a pass produced malformed IR)",
            "A pass left a value used before its definition.",
        ),
        right: ex(
            "",
            "tessera build x.tsr -o out --verify-each --print-after-all",
            "Find the pass that breaks verification and fix it; the source needs no change.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0611",
        title: "tile over the interpreter's size limit",
        stage: "tessera-interp",
        explanation: "The interpreter allocates every tile, so before running it refuses IR with a tile of more \
than 2^20 elements (tessera_ir::MAX_TILE_ELEMENTS, the same limit the checker enforces as E0143). It can \
only meet such IR in a hand-written or edited `.tir` file; sources with such tiles never check. Reduce the \
tile shape.",
        wrong: ex(
            "",
            "tessera opt big.tir --target sm_90a --diff-interp (a .tir whose zeros tile is [1048576, 1048576])",
            "The [1048576, 1048576] tile would need 4 TiB; the run is refused before any allocation.",
        ),
        right: ex(
            "",
            "tessera opt small.tir --target sm_90a --diff-interp (the same kernel with a [1024, 1024] tile)",
            "Tiles of at most 2^20 elements run.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0612",
        title: "interpreter run exceeded its work budget",
        stage: "tessera-interp",
        explanation: "`tessera_interp::run_with` takes `RunOptions { max_work, progress }`. Work is counted in \
units of about one element operation (an op costs the elements of its result tile, a dot M*N*K, a loop \
iteration one more), and once a run has done more than `max_work` units it stops with this error, naming \
the op and program where it stopped. A kernel whose loops run 2^31 times, or whose grid holds 2^31 x 2^31 \
programs, is work the program asks for: the budget turns it into an error instead of a run that never ends.",
        wrong: ex(
            "",
            "tessera_interp::run_with(&kernel, &mut b, ProgramSet::All, &RunOptions { max_work: Some(10_000_000), progress: None }) on a kernel with a 2^31-iteration loop",
            "The loop needs ~2^36 units; the run stops after 10^7 with E0612.",
        ),
        right: ex(
            "",
            "tessera_interp::run_with(&kernel, &mut b, ProgramSet::All, &RunOptions { max_work: None, progress: Some(&report) })",
            "Run without a budget (or a larger one), watching progress through the callback, or shorten the loop.",
        ),
        check: Check::Describe,
    },
    // ---- prepack: scale layouts (runtime/prepack/src/error.rs) ----
    StageCodeInfo {
        code: "E0651",
        title: "prepack: dtype is not a block-scale type",
        stage: "tessera-prepack (scale-layout prepack/unpack, `Prepacked`)",
        explanation: "The scale layouts lay out scale elements, so prepack, unpack and the size helpers take the \
scale tensor's dtype: e8m0 (MX), ue4m3 (NVFP4) or f32 (blockscaled f32 contracts). Any other dtype, typically the \
data dtype passed by mistake, has no neutral scale or element size here and is refused.",
        wrong: ex(
            "",
            "tessera_prepack::prepack_tensor(ScaleLayout::Nv128x4, DType::F8E4M3, &scales, &[128, 8], 1)",
            "The data dtype (f8e4m3) was passed instead of the scale dtype.",
        ),
        right: ex(
            "",
            "tessera_prepack::prepack_tensor(ScaleLayout::Nv128x4, DType::E8M0, &scales, &[128, 8], 1)",
            "Pass the dtype of the scale contract (`spec.scale_dtype`): e8m0 for `mx<...>`, ue4m3 for `nv<...>`.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0652",
        title: "prepack: scale buffer size does not match its layout and grid",
        stage: "tessera-prepack (prepack/unpack, `Prepacked::from_bytes`)",
        explanation: "A logical scale buffer holds `mn * ks` elements of its dtype; a physical one holds the \
layout's padded size (nv128x4 pads MN to 128 and K-blocks to 4). A byte count that matches neither means the \
buffer was made for another grid, dtype or layout, and reading it would pick up wrong scales, so the sizes are \
checked before any element is moved.",
        wrong: ex(
            "",
            "tessera_prepack::prepack(ScaleLayout::Nv128x4, DType::E8M0, &logical, 128, 8) with logical.len() == 128 * 4",
            "The scales were computed for K = 128 (4 blocks of 32), but the grid says 8 K-blocks (K = 256).",
        ),
        right: ex(
            "",
            "tessera_prepack::prepack(ScaleLayout::Nv128x4, DType::E8M0, &logical, 128, 8) with logical.len() == 128 * 8",
            "Give one scale per [row, K-block]: `mn * ceil(K / block)` elements of the scale dtype.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0653",
        title: "prepack: prepacked scales were made for another layout, dtype or grid",
        stage: "tessera-prepack (`Prepacked::expect`)",
        explanation: "A prepacked buffer cannot be told from a linear one by its size, so it carries a tag (layout, \
dtype, logical extents) and binding it compares the tag with what the kernel's type wants. Scales prepacked for \
one target (sm_100a's nv128x4) bound to a build for another (gfx950's lane layout), or for another shape, are \
refused with both sides in the message.",
        wrong: ex(
            "",
            "Prepacked::new(ScaleLayout::Nv128x4, DType::E8M0, &s, 128, 8)?.expect(ScaleLayout::AmdLane16x16x128, DType::E8M0, 128, 8)",
            "The scales were prepacked for an sm_100a build and bound to a gfx950 one.",
        ),
        right: ex(
            "",
            "Prepacked::new(layout, DType::E8M0, &s, 128, 8)?.expect(layout, DType::E8M0, 128, 8) with the built kernel's layout",
            "Prepack for the layout the built kernel's type reports (`spec.layout`), or keep the logical \
scales and prepack at load.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0654",
        title: "prepack: not a prepacked scale file",
        stage: "tessera-prepack (`Prepacked::from_bytes`)",
        explanation: "A prepacked scale file starts with a 16-byte header (the `TSPK` magic, a version, layout and \
dtype tags, the logical extents) written by `Prepacked::to_bytes`. A file without the magic, of another version, \
with an unknown tag or with extents that do not fit is refused rather than read as raw scales.",
        wrong: ex(
            "",
            "Prepacked::from_bytes(&std::fs::read(\"a_scales.bin\")?) where the file holds raw e8m0 bytes",
            "The file was written with `scales.tofile(..)`, not by `Prepacked::to_bytes`.",
        ),
        right: ex(
            "",
            "Prepacked::from_bytes(&std::fs::read(\"a_scales.tspk\")?) of bytes from Prepacked::to_bytes()",
            "Write prepacked scales with `Prepacked::to_bytes`, or keep raw logical scales and prepack them \
with `Prepacked::new` at load.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0655",
        title: "prepack: scale tensor geometry cannot be laid out",
        stage: "tessera-prepack (`prepack_tensor`, `unpack_tensor`, `physical_tensor_bytes`)",
        explanation: "A scale tensor is laid out as `[MN, K-blocks]` matrices: it must have rank 2 or more, and \
its scale-K axis must be one of the last two (leading axes are a batch, e.g. MoE experts `[E, N, K/32]`). A rank-1 \
tensor or a K axis among the batch axes has no such matrix, so it is refused.",
        wrong: ex(
            "",
            "tessera_prepack::prepack_tensor(ScaleLayout::Nv128x4, DType::E8M0, &scales, &[1024], 0)",
            "The scales were flattened before prepacking, so there is no MN axis.",
        ),
        right: ex(
            "",
            "tessera_prepack::prepack_tensor(ScaleLayout::Nv128x4, DType::E8M0, &scales, &[128, 8], 1)",
            "Pass the logical shape and the axis that counts K-blocks (1 for `[M, K/32]`, 0 for `[K/32, N]`).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0656",
        title: "prepack: swizzled layout for a type that does not block exactly one axis",
        stage: "tessera-prepack (binding: `prepack_arg`, `unpack_bindings`)",
        explanation: "The swizzled layouts (nv128x4, the AMD lane layouts) tile `[MN, K-blocks]`, so the scale \
contract must block exactly one axis (K). A contract with 2D blocks (DeepSeek-style 128x128 weight scales) or with \
no blocked axis has no such tiling; such a type keeps the `linear` layout.",
        wrong: ex(
            "",
            "tessera_prepack::prepack_arg(&param, &mut arg) where param's spec blocks axes [0, 1] with layout nv128x4",
            "A 128x128 blockscaled weight was given a swizzled layout.",
        ),
        right: ex(
            "",
            "tessera_prepack::prepack_arg(&param, &mut arg) where param's spec blocks axis 1 only (or keeps layout linear)",
            "Swizzle only 1D-blocked scales (MX, NVFP4); leave 2D block scales linear.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0657",
        title: "prepack: swizzled layout bound with logical scales instead of the prepacked buffer",
        stage: "tessera-prepack (binding: `unpack_bindings`, the interpreter's swizzled reads)",
        explanation: "A parameter whose scale layout is swizzled takes the flat physical buffer that \
`tessera_prepack::prepack_tensor` makes from the logical scales. Logical `[MN, K-blocks]` scales can have the \
same byte count (MN a multiple of 128 and K-blocks of 4), so the binding's shape tells them apart: anything but \
the flat buffer of the expected length is refused. The interpreter reports it as E0604 with this message.",
        wrong: ex(
            "",
            "tessera_prepack::unpack_bindings(&kernel, &mut bindings) where `a`'s nv128x4 scales are bound as [128, 8]",
            "The logical scales were bound directly to a kernel built for sm_100a.",
        ),
        right: ex(
            "",
            "tessera_prepack::prepack_bindings(&kernel, &mut bindings), then unpack_bindings(&kernel, &mut bindings)",
            "Bind logical scales and prepack them once at load (`prepack_bindings`; `tessera run` does this), \
or bind the flat buffer `prepack_tensor` returns.",
        ),
        check: Check::Describe,
    },
    // ---- targets (targets/amd/src/error.rs, targets/nvidia/src/native.rs) ----
    StageCodeInfo {
        code: "E0701",
        title: "NVFP4 cannot be lowered for gfx950",
        stage: "tessera-target-amd (`tessera build --target gfx950`)",
        explanation: "NVFP4 is FP4 data with a ue4m3 scale per 16 elements plus an f32 global. gfx950's scaled MFMA \
takes only e8m0 scales on 32-element blocks, and Tessera does not emulate the NVFP4 scales there. Use MXFP4 \
(`mx<f4e2m1>`) for AMD, or build the NVFP4 kernel for an NVIDIA target.",
        wrong: ex(
            GEMM_NVFP4,
            "tessera build x.tsr -o out --target gfx950",
            "`nv<f4e2m1, ...>` operands on gfx950.",
        ),
        right: ex(
            GEMM_MXFP4,
            "tessera build x.tsr -o out --target gfx950",
            "The same GEMM with MXFP4 operands (`mx<f4e2m1>`, e8m0 scales per 32).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0702",
        title: "f8e4m3fnuz on gfx950",
        stage: "tessera-target-amd (`tessera build --target gfx950`)",
        explanation: "`f8e4m3fnuz` is the FP8 of gfx942 (MI300): no negative zero, one NaN, exponent bias 8. \
gfx950's MFMAs use the OCP formats (`f8e4m3`, `f8e5m2`), whose values differ, so a fnuz kernel is refused rather \
than silently reinterpreted. Convert the data to OCP FP8 and use `f8e4m3`.",
        wrong: ex(
            GEMM_FNUZ,
            "tessera build x.tsr -o out --target gfx950",
            "fnuz operands on gfx950.",
        ),
        right: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --target gfx950",
            "OCP `f8e4m3` operands.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0703",
        title: "operand format or scale contract not taken by gfx950's scaled MFMA",
        stage: "tessera-target-amd (`tessera build --target gfx950`)",
        explanation: "The native gfx950 lowering maps a GEMM onto the scaled MFMA, which takes FP8/FP6/FP4 operands \
unscaled or with MX (e8m0 per 32) scales. Other combinations (bf16 operands, f32 block scales of DeepSeek-style \
FP8, FP4 x bf16) are not lowered there; the message names the operands. Run them on an NVIDIA target or the \
interpreter, or change the operand formats.",
        wrong: ex(
            GEMM_BF16,
            "tessera build x.tsr -o out --target gfx950",
            "bf16 x bf16 operands.",
        ),
        right: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --target gfx950",
            "FP8 operands (or MX-scaled ones), which the scaled MFMA takes.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0704",
        title: "kernel is not GEMM-shaped (gfx950)",
        stage: "tessera-target-amd (`tessera build --target gfx950`)",
        explanation: "The native gfx950 lowering compiles one shape: a program per output tile, a K loop \
accumulating `dot(load(a), transpose(load(b)), acc)` and a store of the (cast) accumulator. Other kernels \
(elementwise, attention, MoE, an explicit dequant before the dot) are checked and run on the interpreter but are \
not lowered for gfx950; the label points at what broke the pattern.",
        wrong: ex(
            ADD_ONE,
            "tessera build x.tsr -o out --target gfx950",
            "An elementwise kernel.",
        ),
        right: ex(
            ADD_ONE,
            "tessera run x.tsr --random",
            "Run it on the interpreter (or write the computation as a GEMM to build it for gfx950).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0710",
        title: "internal error in a native NVIDIA backend",
        stage: "tessera-target-nvidia (native sm_100a / sm_120a / sm_121a builds)",
        explanation: "The kernel was recognised and its MMA selected, but building the MLIR, LLVM IR or PTX for it \
failed. That is a compiler bug, not a problem with the source; the message carries the underlying error. \
Report it with the kernel and the command.",
        wrong: ex(
            "",
            "tessera build x.tsr -o out --target sm_100a",
            "The backend failed after accepting the kernel (the message starts with `internal:`).",
        ),
        right: ex(
            "",
            "tessera build x.tsr -o out --target sm_90a",
            "While the bug is open, build for another target, or run with `--backend interp`.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0711",
        title: "kernel is not GEMM-shaped (native NVIDIA targets)",
        stage: "tessera-target-nvidia (`tessera build --target sm_100a|sm_120a|sm_121a`)",
        explanation: "The native block-scaled lowering of sm_100a and the sm_120 class compiles GEMM-shaped kernels \
only (a K loop accumulating `dot(load(a), transpose(load(b)), acc)` and a store). Other kernels are not lowered \
for these targets; sm_90a has its own lowering, and the interpreter runs everything.",
        wrong: ex(
            ADD_ONE,
            "tessera build x.tsr -o out --target sm_120a --no-ptxas",
            "An elementwise kernel on sm_120a.",
        ),
        right: ex(
            ADD_ONE,
            "tessera run x.tsr --random",
            "Run it on the interpreter, or express it as a GEMM.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0712",
        title: "operand contract not covered by the target's block-scaled MMA",
        stage: "tessera-target-nvidia (`tessera build --target sm_100a|sm_120a|sm_121a`)",
        explanation: "sm_100a and sm_120a/sm_121a lower FP8 x FP8 with MX scales (kind::mxf8f6f4) and MXFP4 or NVFP4 \
x the same (kind::mxf4nvf4). Mixed FP4 x FP8, bf16 operands and f32 block scales are not lowered natively yet; \
build them for sm_90a or change the operand formats.",
        wrong: ex(
            GEMM_BF16,
            "tessera build x.tsr -o out --target sm_120a --no-ptxas",
            "bf16 x bf16 on sm_120a.",
        ),
        right: ex(
            GEMM_MXFP8,
            "tessera build x.tsr -o out --target sm_120a --no-ptxas",
            "MXFP8 x MXFP8, lowered to mma.sync kind::mxf8f6f4.",
        ),
        check: Check::Run,
    },
    // ---- validation oracle (compiler/oracle/src/lib.rs) ----
    StageCodeInfo {
        code: "E0713",
        title: "ptxas rejected the generated PTX",
        stage: "tessera-cli (`tessera build` for sm_90a, sm_100a, sm_120a, sm_121a) with the pinned ptxas",
        explanation: "The kernel was lowered to PTX, but the pinned ptxas refused to assemble it for the target. The \
message names the kernel, the target and ptxas's -arch, and keeps ptxas's own log. No bundle is written. The \
lowerings size tiles, rings and registers so that ptxas accepts what they emit (register pressure gives spills, which \
the report shows, not a rejection), so this is a compiler defect or a ptxas limit the compiler does not know yet: \
report it with the kernel. `--no-ptxas --emit=ptx` writes the PTX that was refused; a smaller BM/BN tile or fewer \
`--stages` is the usual way around it meanwhile.",
        wrong: ex(
            "",
            "tessera build x.tsr -o out --target sm_90a",
            "ptxas said, for example, that the entry function uses too much shared data or too many resources.",
        ),
        right: ex(
            "",
            "tessera build x.tsr -o out --target sm_90a --no-ptxas --emit=ptx",
            "The PTX ptxas refused, for the bug report; a smaller tile builds meanwhile.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0714",
        title: "tensor too large for 32-bit element offsets",
        stage: "tessera-lowering-mlir (`LoweringError::TooLarge`, `tessera build --target sm_90a`)",
        explanation: "A lowering that computes element offsets and extents in 32 bits refuses a tensor parameter whose \
constant dims alone make more than 2^31 - 1 elements (for example `f8e4m3[2147483648, K]`) instead of letting the \
offsets wrap. No sm_90a build reports it today: the per-op lowering, which lowers every sm_90a kernel, computes \
64-bit offsets (meta.json `index_bits = 64`). The code keeps its meaning for lowerings with 32-bit offsets. Symbolic dims in a bundle with \
`index_bits = 32` are checked at launch instead (E0866).",
        wrong: ex(
            GEMM_FP8_HUGE,
            "tessera build x.tsr -o out --target sm_90a --no-ptxas",
            "`a` has 2^31 rows as a constant dim: 2^31 * K elements; lowered per op with 64-bit offsets, it builds.",
        ),
        right: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --target sm_90a --no-ptxas",
            "The rows are the symbolic dim M, given at launch.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0715",
        title: "internal error in the sm_90a backend",
        stage: "tessera-cli (`tessera build --target sm_90a`: tessera_target_nvidia::compile)",
        explanation: "The sm_90a backend accepted the kernel, but a later step failed: MLIR rejected the generated \
module (parse or verify), LLVM's PTX code generation failed, or the planned wgmma is missing from the PTX. The \
source is fine (it checked, and the lowering took it), so this is a compiler bug; the message carries what the \
tool said. Report it with the .tsr and the command.",
        wrong: ex(
            "",
            "tessera build x.tsr -o out --target sm_90a",
            "The generated MLIR did not parse (the message starts with `internal error in the sm_90a backend`).",
        ),
        right: ex(
            "",
            "tessera run x.tsr --random",
            "While the bug is open, run the kernel on the interpreter, or build it for another target.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0801",
        title: "no reference for this kernel",
        stage: "tessera-oracle (`tessera validate`)",
        explanation: "`tessera validate` compares a backend against the interpreter and a plain f64 reference chosen \
by the kernel's `@reference(NAME)` attribute. A kernel without the attribute, or with a family the oracle does \
not know (known: gemm, attention, moe_gated), has nothing to compare against. Without the attribute a GPU \
backend is compared with the interpreter only (`tessera_oracle::comparison` says so); an unknown family is an \
error, since the kernel claims a reference that does not exist.",
        wrong: ex(
            ADD_ONE,
            "tessera validate x.tsr --backend interp",
            "`add_one` has no `@reference(...)`.",
        ),
        right: ex(
            GEMM_BF16,
            "tessera validate x.tsr --backend interp",
            "A kernel with `@reference(gemm)` (or use `tessera run` for kernels without a reference).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0802",
        title: "parameters do not fit the reference family's conventions",
        stage: "tessera-oracle (`tessera validate`)",
        explanation: "Each reference family reads the kernel's parameters by role (docs/NUMERICS.md, \"Reference \
conventions\"): `gemm` wants tensors A [M, K] and B [N, K] or [K, N] and one output; f32 scalars multiply C. A \
kernel whose parameters cannot be mapped is refused rather than compared with the wrong operands.",
        wrong: ex(
            "@reference(gemm)\nkernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
            "tessera validate x.tsr --backend interp",
            "A copy kernel claims to be a GEMM: there is no B operand.",
        ),
        right: ex(
            GEMM_BF16,
            "tessera validate x.tsr --backend interp",
            "Claim `@reference(gemm)` only for a GEMM with A and B operands.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0803",
        title: "bindings do not fit the reference",
        stage: "tessera-oracle (`tessera validate`)",
        explanation: "The reference is computed from the same bindings the backend got; an argument it needs is \
missing or cannot be decoded (for example MoE routing arrays that are not i32). With `--random` the oracle makes \
valid inputs itself; this appears when bindings come from elsewhere.",
        wrong: ex(
            "",
            "tessera_oracle::expected(&kernel, &bindings) with the `offsets` argument of a moe_gated kernel unbound",
            "The reference cannot route tokens without the expert offsets.",
        ),
        right: ex(
            "",
            "tessera_oracle::prepare_inputs(&kernel, &mut bindings, seed), then tessera_oracle::expected(&kernel, &bindings)",
            "Bind every argument the family names (prepare_inputs makes valid routing).",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0804",
        title: "reference: K is not a multiple of a scaled operand's K block",
        stage: "tessera-oracle (`tessera validate`)",
        explanation: "The plain reference dequantizes whole scale blocks along K, like the interpreter (which \
reports the same situation as E0607). Choose K as a multiple of 32 for MX operands and of 16 for NVFP4.",
        wrong: ex(
            GEMM_MXFP8,
            "tessera validate x.tsr --backend interp --dim M=64 --dim N=64 --dim K=200",
            "K = 200 is not a multiple of 32.",
        ),
        right: ex(
            GEMM_MXFP8,
            "tessera validate x.tsr --backend interp --dim M=64 --dim N=64 --dim K=256",
            "K = 256.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0805",
        title: "reference: an option the family does not know, or a value of the wrong kind",
        stage: "tessera-oracle (`tessera validate`, the runner)",
        explanation: "The oracle checks the `@reference(FAMILY, key = value, ...)` options it finds in the IR against \
the family's table (docs/LANGUAGE.md section 3): an unknown key, a key given twice, or a value of the wrong kind \
(a scalar where a tensor is needed, an `out` tensor, a word that is not an activation) is refused, never ignored, \
since an ignored option validates a different computation. From source the checker reports the same problems \
first, located (E0109); this code is for IR from the text form (`.tir`, bundles) or built by hand.",
        wrong: ex(
            "",
            "tessera_oracle::expected(&kernel, &bindings) with the IR attribute (\"reference.causl\", \"true\") on an attention kernel",
            "`causl` is not an option of `attention` (causal, sm_scale).",
        ),
        right: ex(
            "",
            "tessera_oracle::expected(&kernel, &bindings) with (\"reference.causal\", \"true\")",
            "Spell the option as the table does; `tessera check` on the source names it with a did-you-mean.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0806",
        title: "reference: the bound shapes do not fit the family",
        stage: "tessera-oracle (`tessera validate`, the runner)",
        explanation: "The reference reads operands by role and needs their bound shapes to agree: attention's K and V \
may have fewer heads than Q only by a whole factor (grouped-query attention: query head h reads K/V head \
h / (Hq / Hkv)), with one batch, head dim and key length; a GEMM epilogue's bias is [N] or [M, N], row_scale [M], \
col_scale [N], residual [M, N]; A and B share K. Shapes that do not fit are refused instead of indexed out of \
range.",
        wrong: ex(
            GQA,
            "tessera validate x.tsr --backend interp --seed 1 --dim B=2 --dim H=3 --dim HKV=2 --dim S=24",
            "3 query heads cannot share 2 K/V heads.",
        ),
        right: ex(
            GQA,
            "tessera validate x.tsr --backend interp --seed 1 --dim B=2 --dim H=4 --dim HKV=2 --dim S=24",
            "4 query heads, 2 per K/V head.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0860",
        title: "bundle: directory or a named file is missing",
        stage: "tessera-bundle (`Bundle::read`: tessera-runner, `tessera bench`)",
        explanation: "A bundle is a directory written by `tessera build -o DIR`: meta.json plus the files it names (kernel.tir, kernel.ptx, \
kernel.cubin or kernel.hsaco). The path is not a directory, or meta.json or a file it names is absent (an interrupted \
build writes meta.json last, so it has none).",
        wrong: ex(
            "",
            "tessera-runner plan /no/such/bundle --dim M=64",
            "The directory does not exist.",
        ),
        right: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "`out` was written by `tessera build x.tsr -o out`.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0861",
        title: "bundle: a file cannot be read or written",
        stage: "tessera-bundle (`Bundle::read`, `Bundle::write`: tessera build, tessera-runner)",
        explanation: "Reading or writing a bundle file failed in the operating system: permissions, a full disk, or an output path that \
is an existing file rather than a directory (`-o /dev/null`). The message names the file and the system's error.",
        wrong: ex(
            "",
            "tessera build x.tsr -o /dev/null",
            "/dev/null is a file, not a directory to write the bundle into.",
        ),
        right: ex(
            "",
            "tessera build x.tsr -o out",
            "A directory that can be created and written.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0862",
        title: "bundle: meta.json is not valid JSON or does not fit the schema",
        stage: "tessera-bundle (`Bundle::read`)",
        explanation: "meta.json is the launch contract; it is read with a strict schema so that a damaged or hand-edited file is refused \
rather than guessed at. The message gives serde's line, column and the field.",
        wrong: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "out/meta.json was truncated by a failed copy.",
        ),
        right: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "Copy the bundle again, or rebuild it with `tessera build`.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0863",
        title: "bundle: format version is not the one this runtime reads",
        stage: "tessera-bundle (`Bundle::read`)",
        explanation: "meta.json carries `format_version`; a runtime reads exactly its own version, because the launch ABI changes between \
versions. The version is checked before the schema so an old bundle gets this message, not a field error.",
        wrong: ex(
            "",
            "tessera-runner plan old --dim M=64 --dim N=64 --dim K=64",
            "`old` was written by an older tessera build.",
        ),
        right: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "Rebuild the bundle with the tessera build that matches the runner.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0864",
        title: "bundle: contents are inconsistent",
        stage: "tessera-bundle (`Bundle::check`)",
        explanation: "The bundle has no device code, an empty entry symbol, a launch grid of no or more than 3 dims, a block with no \
threads, more than 1024 threads or a dim beyond the device limits (1024 x 1024 x 64), an empty tile IR, or names a file \
outside its directory.",
        wrong: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "out/meta.json was edited to `block: [2048, 1, 1]`.",
        ),
        right: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "Keep the block `tessera build` chose, or rebuild.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0865",
        title: "bundle: meta.json does not match the device code or the kernel",
        stage: "tessera-bundle (`Bundle::check_device_code`, `Bundle::check_kernel`: tessera-runner)",
        explanation: "Before a launch, meta.json is checked against what it describes: the entry symbol must be in the cubin/HSACO and an \
`.entry` of the PTX; the PTX `.target` must be the bundle's target; the entry must take exactly one parameter per ABI slot, \
each of the slot's kind (64-bit for buffers and tensor maps, f32 or 32-bit integer for scalars); every slot must name a \
parameter or dim of the kernel in kernel.tir, none twice, and every output tensor must be passed. Otherwise the launch \
would pass arguments in the wrong places, which the device does not detect.",
        wrong: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "out/meta.json lists 2 ABI slots for an entry with 8 parameters.",
        ),
        right: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "Use the meta.json `tessera build` wrote with the PTX, or rebuild.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0866",
        title: "launch: cannot be planned",
        stage: "tessera-bundle (`grid`, `resolve_abi`: tessera-runner, tessera run/validate --backend cuda|hip)",
        explanation: "The launch grid is evaluated over the bound dims and each ABI slot is resolved against the bindings. A grid dim \
outside the device limits (x: 1 to 2^31-1; y, z: 1 to 65535), a dim that is not bound, or a slot whose parameter is \
missing or of the wrong kind stops the launch here, on the host. So does a tensor with more elements than the kernel's \
offsets reach: meta.json's `index_bits` is 32 for the native block-scaled targets, \
so a tensor of more than 2^31 - 1 elements (a large embedding table or KV cache) would make them wrap; split it across \
launches (the per-op sm_90a lowering uses 64-bit offsets).",
        wrong: ex(
            "",
            "tessera-runner plan out --dim M=0 --dim N=64 --dim K=64",
            "M = 0 gives a grid of zero programs.",
        ),
        right: ex(
            "",
            "tessera-runner plan out --dim M=64 --dim N=64 --dim K=64",
            "Bind every dim to a size that gives 1 to 2^31-1 programs along x.",
        ),
        check: Check::Describe,
    },
    // ---- tools: pass pipeline and driver ----
    StageCodeInfo {
        code: "E0901",
        title: "unknown pass",
        stage: "tessera-passes (pipeline flags of `tessera build` / `tessera opt`)",
        explanation: "A pipeline flag (`--print-after=`, `--passes=` of `tessera build` and `tessera opt`) named a pass that is not registered. The \
message lists the known passes (`--print-pipeline` prints the pipeline of a target).",
        wrong: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --no-ptxas --print-after=nope",
            "`nope` is not a pass.",
        ),
        right: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --no-ptxas --print-after=fuse-dequant",
            "A registered pass name (canonicalize, fuse-dequant, assign-scale-layout).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0902",
        title: "unknown target",
        stage: "tessera-passes and tessera-cli (`--target`)",
        explanation: "`--target` must name a target Tessera builds for: sm_90a, sm_100a, sm_120a, sm_121a or gfx950 \
(`tessera build --list-targets` describes them). Architectures without a backend (sm_80, gfx942) are refused \
with the list.",
        wrong: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --target sm_80",
            "sm_80 (Ampere) has no Tessera backend.",
        ),
        right: ex(
            GEMM_FP8,
            "tessera build x.tsr -o out --target sm_90a --no-ptxas",
            "A listed target.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0903",
        title: "command-line usage error",
        stage: "tessera-cli (every subcommand's flags and arguments)",
        explanation: "The command line does not fit the subcommand: an unknown flag, a missing value, a value that \
does not parse, or a combination the subcommand refuses (no file to build, nothing to do). The message says \
which; `tessera help SUBCOMMAND` lists the flags. The exit status is 2.",
        wrong: ex(
            ADD_ONE,
            "tessera build x.tsr --targt sm_90a -o out",
            "`--targt` is not a flag of `tessera build`.",
        ),
        right: ex(
            ADD_ONE,
            "tessera build x.tsr --target sm_90a -o out --no-ptxas",
            "The flag spelled as `tessera build --help` lists it.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0904",
        title: "no single kernel chosen",
        stage: "tessera-cli (`tessera build --kernel`)",
        explanation: "`tessera build` compiles one kernel. When the file defines several, `--kernel NAME` must choose \
one, and the name must be one of the file's kernels; the message lists them. The exit status is 2.",
        wrong: ex(
            TWO_KERNELS,
            "tessera build x.tsr -o out --no-ptxas",
            "x.tsr defines kernels `a` and `b`.",
        ),
        right: ex(
            TWO_KERNELS,
            "tessera build x.tsr --kernel b -o out --no-ptxas",
            "`--kernel b` chooses one.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0910",
        title: "source file cannot be read",
        stage: "tessera-cli (check, build, opt, run, validate)",
        explanation: "The path given to a subcommand does not exist, is a directory, or cannot be read. It is not a \
checker diagnostic because there is no source to point into; the exit status is 2 (usage), not 1.",
        wrong: ex(
            "",
            "tessera check missing.tsr",
            "There is no missing.tsr in the current directory.",
        ),
        right: ex(
            ADD_ONE,
            "tessera check x.tsr",
            "Pass the path of an existing .tsr file.",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0911",
        title: "build output path is not a bundle directory",
        stage: "tessera-cli (`tessera build -o DIR`)",
        explanation: "`tessera build -o DIR` writes the bundle into a new directory, an empty one, or one that an \
earlier `tessera build` wrote (it holds the marker file `.tessera-bundle`); such a directory is replaced whole \
(the bundle is written into a temporary sibling and renamed into place, so no stale file of another target \
stays). A directory holding other files, a file or a symbolic link is refused, so that nothing of yours is \
overwritten; `--force` replaces it (a symbolic link itself is replaced, not what it points to). Devices, FIFOs \
and sockets are never replaced. The exit status is 2, and nothing is built.",
        wrong: ex(
            ADD_ONE,
            "tessera build x.tsr -o . --no-ptxas",
            "The current directory holds x.tsr: it is not a bundle directory.",
        ),
        right: ex(
            ADD_ONE,
            "tessera build x.tsr -o out --no-ptxas",
            "A new directory (building again into `out` replaces it).",
        ),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0912",
        title: "an output file cannot be written",
        stage: "tessera-cli (`tessera opt -o`, reproducers)",
        explanation: "A file the command writes (the IR of `tessera opt -o FILE`, a reproducer, the pipeline log) \
could not be created or written: its directory does not exist or is not writable, or the disk is full. The \
message names the path and the system's reason.",
        wrong: ex(
            ADD_ONE,
            "tessera opt x.tsr -o no/such/dir/y.tir",
            "The directory no/such/dir does not exist.",
        ),
        right: ex(ADD_ONE, "tessera opt x.tsr -o y.tir", "A writable path."),
        check: Check::Run,
    },
    StageCodeInfo {
        code: "E0920",
        title: "internal compiler error in the pass pipeline",
        stage: "tessera-cli (build pipeline)",
        explanation: "A pass failed or produced IR that does not verify, or the pass results disagree with the \
interpreter under `--diff-interp`. The source checked clean, so this is a compiler bug: report it with the file \
and the command, and the reproducer written to the current directory (`--repro-dir` moves it). `--print-after-all` \
and `--verify-each` narrow it down to one pass.",
        wrong: ex(
            "",
            "tessera build x.tsr -o out --target sm_120a",
            "A pass broke the IR of a kernel the checker accepted.",
        ),
        right: ex(
            "",
            "tessera build x.tsr -o out --target sm_120a --verify-each --print-after-all",
            "Find the failing pass from the output and report it; the source needs no change.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0930",
        title: "tile-IR text does not parse",
        stage: "tessera-cli (`tessera opt FILE.tir`: tessera_ir::parse_module)",
        explanation: "`tessera opt` reads tile IR in the text form that `--print-after` and reproducers print. The \
file is not UTF-8 or does not follow that grammar at the line:column given. Tile IR is a compiler format, not a \
language: regenerate it (`tessera opt x.tsr --passes= -o x.tir` prints a kernel's IR) rather than editing it by \
hand. The exit status is 2.",
        wrong: ex(
            "",
            "tessera opt x.tir",
            "x.tir was edited by hand and a `,` is missing (`IR parse error at 9:25`).",
        ),
        right: ex(
            "",
            "tessera opt x.tir",
            "The IR as printed by `tessera opt x.tsr -o x.tir` or a reproducer.",
        ),
        check: Check::Describe,
    },
    StageCodeInfo {
        code: "E0931",
        title: "input tile IR does not verify",
        stage: "tessera-cli (`tessera opt FILE.tir`: tessera_ir::verify)",
        explanation: "The tile IR given to `tessera opt` parses but breaks an invariant of the IR (a value used \
before it is defined, mismatched types, an op at the wrong level); the verifier's message says which, before \
any pass runs. A reproducer written by the compiler always verifies; an edited one may not. The exit status \
is 1.",
        wrong: ex(
            "",
            "tessera opt x.tir",
            "x.tir uses a value `%9` that no op defines.",
        ),
        right: ex("", "tessera opt x.tir", "IR as the compiler printed it."),
        check: Check::Describe,
    },
    // ---- lowering (compiler/driver/src/cmd/build/hopper.rs, tessera_target_nvidia::LoweringError) ----
    StageCodeInfo {
        code: "L0001",
        title: "construct not supported by the sm_90a lowering",
        stage: "tessera-target-nvidia Hopper lowering (`tessera build --target sm_90a`)",
        explanation: "The checker accepts the program, but one of its ops is not lowered on sm_90a yet; the label \
points at that op and the message says why. sm_90a lowers every op from the distributed level (elementwise \
math, casts, reductions, broadcasts, loads, stores, atomics, loops, ifs, quantize/dequant of MX, NVFP4 and f32 \
block scales, and dot on wgmma, or f32 FMAs for pairs no wgmma takes); no program is recognised as a known \
kernel. Not lowered: stores into packed FP4 tensors \
that index the packed axis by a point or a gather (two codes share a byte, so neighbouring programs would race \
on it), and AMD's f8e4m3fnuz in registers. The interpreter runs every checked kernel.",
        wrong: ex(
            FP4_COLUMN_STORE,
            "tessera build x.tsr -o out --target sm_90a --no-ptxas",
            "Each program stores one FP4 column: half a byte per row.",
        ),
        right: ex(
            ADD_ONE,
            "tessera build x.tsr -o out --target sm_90a --no-ptxas",
            "Any kernel whose ops are all lowered (here elementwise).",
        ),
        check: Check::Run,
    },
];
