//! The explanations of every code, with a WRONG and a RIGHT example each. Examples are complete
//! programs so the registry test can check them.

use super::CodeInfo;

/// Every registered code, in code order.
pub const CODES: &[CodeInfo] = &[
    CodeInfo {
        code: "E0001",
        title: "source file is not valid UTF-8",
        explanation: "Tessera sources are UTF-8 text. The file contains a byte sequence that is not UTF-8, \
often a Latin-1 character in a comment or a binary file passed by mistake. The label points at the first \
invalid byte. Re-save the file as UTF-8.",
        wrong: b"kernel noop() {}\n// caf\xe9 (Latin-1)\n",
        right: "kernel noop() {}\n// caf\u{e9} (UTF-8)\n",
    },
    CodeInfo {
        code: "E0002",
        title: "source file contains no kernel",
        explanation: "A .tsr file must define at least one `kernel`. An empty file (or one holding only \
comments) is almost always the wrong path or an unsaved editor buffer.",
        wrong: b"// nothing here yet\n",
        right: "kernel noop() {}\n",
    },
    CodeInfo {
        code: "E0003",
        title: "invalid character",
        explanation: "The lexer found a character that starts no Tessera token (for example `$`, `#` or \
`'`). Operators are + - * / % < <= > >= == != && || ! and the punctuation ( ) [ ] { } , ; : = .. @.",
        wrong: b"kernel k() {\n    let x = 1 $ 2;\n}\n",
        right: "kernel k() {\n    let x = 1 + 2;\n}\n",
    },
    CodeInfo {
        code: "E0004",
        title: "unexpected token",
        explanation: "The parser found a token where the grammar does not allow it (a missing operand, a \
missing `;`, a stray word). Parsing recovers at the next statement or kernel, so several of these can be \
reported in one run; fix the first one first.",
        wrong: b"kernel k() {\n    let x = 1 +;\n}\n",
        right: "kernel k() {\n    let x = 1 + 2;\n}\n",
    },
    CodeInfo {
        code: "E0005",
        title: "unclosed delimiter",
        explanation: "A `{`, `(` or `[` is never closed before the end of the file (or before a closer of a \
different kind). The label points at the opening delimiter; add its closer.",
        wrong: b"kernel k() {\n    let x = 1;\n",
        right: "kernel k() {\n    let x = 1;\n}\n",
    },
    CodeInfo {
        code: "E0006",
        title: "unmatched closing delimiter",
        explanation: "A `}`, `)` or `]` has no matching opener. It is ignored so that checking can go on; \
remove it or add the missing opener.",
        wrong: b"kernel k() {\n    let x = (1 + 2));\n}\n",
        right: "kernel k() {\n    let x = (1 + 2);\n}\n",
    },
    CodeInfo {
        code: "E0007",
        title: "integer constant out of range",
        explanation: "Integer values in kernel bodies are i32, so a literal (or a constant folded from \
literals and tile parameters) must lie in [-2^31, 2^31). Tensor dims and tile parameters are i64. A value \
that does not fit would silently wrap on the GPU, so it is rejected.",
        wrong: b"kernel k() {\n    let x = 3000000000;\n}\n",
        right: "kernel k() {\n    let x = 2000000000;\n}\n",
    },
    CodeInfo {
        code: "E0008",
        title: "program nested too deep",
        explanation: "Expressions and blocks may nest at most 256 levels deep (docs/LANGUAGE.md, \
\"Limits\"). The depth at a token counts one for each enclosing `(`, `[` or `{`, plus one for each \
operator, unary `-` or `!`, indexing `[..]` and `if` seen so far in the same expression or statement of each enclosing \
level (a `,` or `;` starts a new one): `f(g(x))` is 3 deep, `a + b + c` is 3 deep, `- - x` is 3 deep, a nested `if c { .. }` adds two, and \
every `else if` of a chain adds one. The limit is checked on the tokens before parsing, so a machine-generated \
program thousands of levels deep gets this error instead of overflowing the stack of the checker. The file \
is not parsed further. Split a long expression with `let` bindings and flatten deep nests of blocks.",
        wrong: concat!(
            "kernel k() {\n    let x = ",
            "----------------------------------------------------------------------------------------------------",
            "----------------------------------------------------------------------------------------------------",
            "----------------------------------------------------------------------------------------------------",
            "1;\n}\n"
        )
        .as_bytes(),
        right: "kernel k() {\n    let y = -1;\n    let x = - - y;\n}\n",
    },
    CodeInfo {
        code: "E0100",
        title: "unknown name",
        explanation: "A name is used that is not a parameter, a symbolic dim, a tile parameter or a \
`let`/`var`/loop variable in scope. Names are scoped to the block that declares them.",
        wrong: b"kernel add_one(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[j .. +B]) + 1.0);\n}\n",
        right: "kernel add_one(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) + 1.0);\n}\n",
    },
    CodeInfo {
        code: "E0101",
        title: "duplicate name",
        explanation: "Two kernels, parameters or tile parameters share one name. Parameters, symbolic \
dims and tile parameters live in one namespace per kernel.",
        wrong: b"kernel copy(x: f32[N], x: out f32[N]) {\n}\n",
        right: "kernel copy(x: f32[N], y: out f32[N]) {\n}\n",
    },
    CodeInfo {
        code: "E0102",
        title: "unknown function",
        explanation: "Only the builtins listed in docs/LANGUAGE.md can be called (program_id, load, store, \
dot, exp2, reduce_max, ...). There are no user-defined functions.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], exp3(load(x[i .. +B])));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], exp2(load(x[i .. +B])));\n}\n",
    },
    CodeInfo {
        code: "E0103",
        title: "wrong number of arguments",
        explanation: "A builtin was called with too few or too many arguments, or `@reference` was not given \
exactly one family name before its options (`@reference(gemm, relu)` has a second name: options are written \
`key = value`). The message gives the accepted forms.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    let t = load(x[i .. +B]);\n    store(y[i .. +B], max(t));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    let t = load(x[i .. +B]);\n    store(y[i .. +B], max(t, 0.0));\n}\n",
    },
    CodeInfo {
        code: "E0104",
        title: "unknown or misplaced named argument",
        explanation: "Named arguments exist only where documented: `load(view, other = v)` and \
`reduce_*(x, axis = n)`; scaled types take `axis`, `global`, `block`, `packed`.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B], default = 0.0));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B], other = 0.0));\n}\n",
    },
    CodeInfo {
        code: "E0105",
        title: "unknown type",
        explanation: "Element types are bf16 f16 f32 i8 i32 f8e4m3 f8e4m3fnuz f8e5m2 f6e2m3 f6e3m2 f4e2m1 \
e8m0 ue4m3; scaled tensor types are mx<...>, nv<...> and scaled<...>.",
        wrong: b"kernel k(x: f33[N]) {\n}\n",
        right: "kernel k(x: f32[N]) {\n}\n",
    },
    CodeInfo {
        code: "E0106",
        title: "assignment to something that is not a `var`",
        explanation: "Only names declared with `var` can be assigned. `let` bindings, parameters, loop \
variables and tile parameters are immutable; write into tensors with `store`.",
        wrong: b"kernel k(y: out f32[N]) {\n    let s = 0.0;\n    s = 1.0;\n    store(y[0], s);\n}\n",
        right: "kernel k(y: out f32[N]) {\n    var s = 0.0;\n    s = 1.0;\n    store(y[0], s);\n}\n",
    },
    CodeInfo {
        code: "E0107",
        title: "`var` used before it is assigned",
        explanation: "A `var` declared without a value must be assigned on every path before it is read. \
An `if` without `else`, or a loop (which may run zero times), does not assign it for the code after it.",
        wrong: b"kernel k(x: f32[N], y: out f32[N], flag: i32) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    var t;\n    if flag > 0 {\n        t = load(x[i .. +B]);\n    }\n    store(y[i .. +B], t);\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N], flag: i32) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    var t;\n    if flag > 0 {\n        t = load(x[i .. +B]);\n    } else {\n        t = zeros<f32>[B];\n    }\n    store(y[i .. +B], t);\n}\n",
    },
    CodeInfo {
        code: "E0108",
        title: "unknown attribute",
        explanation: "The only attribute is `@reference(NAME)` (with optional `key = value` options, E0109), \
which names the plain-reference family a kernel computes (gemm, attention, moe_gated, ...). Options belong to \
`@reference`; no other attribute takes them.",
        wrong: b"@refrence(gemm)\nkernel k() {\n}\n",
        right: "@reference(gemm)\nkernel k() {\n}\n",
    },
    CodeInfo {
        code: "E0109",
        title: "invalid `@reference` option",
        explanation: "`@reference(FAMILY, key = value, ...)` tells `tessera validate` how the kernel's plain \
reference is set up (docs/LANGUAGE.md section 3): gemm takes `bias`, `row_scale`, `col_scale`, `residual` \
(input tensor parameters) and `activation` (relu, gelu, gelu_tanh, silu, sigmoid); attention takes `causal` \
(`true`, `false` or a scalar parameter whose runtime value decides) and `sm_scale` (a scalar parameter); \
moe_gated takes none. An option the family does not have, a value of the wrong kind (a name that is not a \
parameter, a scalar where a tensor is needed, an `out` tensor), an option given twice, or a second \
`@reference` is refused: a reference that silently ignored an option would validate the wrong computation.",
        wrong: b"@reference(attention, causl = true)\nkernel k() {\n}\n",
        right: "@reference(attention, causal = true)\nkernel k() {\n}\n",
    },
    CodeInfo {
        code: "E0110",
        title: "dtype mismatch",
        explanation: "Elementwise operands, `where` branches, `dot` accumulators and stored values must \
have the same element type; Tessera never converts implicitly (except that integer literals adapt to a \
float operand). Convert one side with `cast<T>(x)`.",
        wrong: b"kernel k(x: bf16[N], w: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    let a = load(x[i .. +B]);\n    let b = load(w[i .. +B]);\n    store(y[i .. +B], a * b);\n}\n",
        right: "kernel k(x: bf16[N], w: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    let a = load(x[i .. +B]);\n    let b = load(w[i .. +B]);\n    store(y[i .. +B], cast<f32>(a) * b);\n}\n",
    },
    CodeInfo {
        code: "E0111",
        title: "shapes do not broadcast",
        explanation: "Elementwise operands must have equal shapes, or equal rank with size-1 dims (which \
are broadcast), or one of them must be a scalar. Add a size-1 axis with `x[:, None]` / `x[None, :]`.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    let a = load(x[i .. +B]);\n    let b = load(x[i .. +32]);\n    store(y[i .. +B], a + b);\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    let a = load(x[i .. +B]);\n    let b = load(x[i .. +B]);\n    store(y[i .. +B], a + b);\n}\n",
    },
    CodeInfo {
        code: "E0112",
        title: "dot operands have mismatched inner dims",
        explanation: "`dot(a, b, acc)` computes acc + a @ b with a: [M, K], b: [K, N], acc: [M, N]. Weights \
stored [N, K] are transposed with `transpose(tb)`.",
        wrong: b"kernel mm(a: bf16[M, K], b: bf16[K, N], c: out f32[M, N]) tiles(BM = 64, BN = 64, BK = 32) grid(cdiv(M, BM), cdiv(N, BN)) {\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        let ta = load(a[m0 .. +BM, k0 .. +BK]);\n        let tb = load(b[k0 .. +BK, n0 .. +BN]);\n        acc = dot(ta, transpose(tb), acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], acc);\n}\n",
        right: "kernel mm(a: bf16[M, K], b: bf16[K, N], c: out f32[M, N]) tiles(BM = 64, BN = 64, BK = 32) grid(cdiv(M, BM), cdiv(N, BN)) {\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        let ta = load(a[m0 .. +BM, k0 .. +BK]);\n        let tb = load(b[k0 .. +BK, n0 .. +BN]);\n        acc = dot(ta, tb, acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], acc);\n}\n",
    },
    CodeInfo {
        code: "E0113",
        title: "wrong kind of value",
        explanation: "An operation got a value of the wrong kind: a tensor where a tile is needed (tensors \
are read with `load(t[...])`), a scalar where a tile is needed, a tile where a scalar is needed (loop \
bounds, indices, conditions), or a tile indexed like a tensor.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], x + 1.0);\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]) + 1.0);\n}\n",
    },
    CodeInfo {
        code: "E0114",
        title: "operation not supported for this dtype",
        explanation: "Math functions need float operands (f32/bf16/f16); arithmetic is not defined on \
narrow codes (fp8 f8e4m3/f8e5m2/f8e4m3fnuz, fp6 f6e2m3/f6e3m2, fp4 f4e2m1, and the scale types \
e8m0/ue4m3), which must be `dequant`ed or `cast` first. `dot` takes bf16/f16/f32 or i8 operands, and \
fp8, fp6 or fp4 codes (plain or scaled: `mx<..>`, `nv<f4e2m1>`, `scaled<..>` tensors); e8m0/ue4m3 are \
scales, never operands. `atomic_add` takes f32, bf16, f16 or i32 values (bf16/f16 round after each add). \
A scaled tile cannot be `cast`: `dequant` it.",
        wrong: b"kernel k(x: i32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], exp2(load(x[i .. +B])));\n}\n",
        right: "kernel k(x: i32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], exp2(cast<f32>(load(x[i .. +B]))));\n}\n",
    },
    CodeInfo {
        code: "E0115",
        title: "assignment changes the type of a `var`",
        explanation: "A `var` keeps the type (dtype and shape) of its first value, because loop-carried \
values must have one type across iterations. Cast or broadcast the new value.",
        wrong: b"kernel k(x: bf16[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    var acc = zeros<f32>[B];\n    acc = load(x[i .. +B]);\n    store(y[i .. +B], acc);\n}\n",
        right: "kernel k(x: bf16[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    var acc = zeros<f32>[B];\n    acc = cast<f32>(load(x[i .. +B]));\n    store(y[i .. +B], acc);\n}\n",
    },
    CodeInfo {
        code: "E0116",
        title: "compile-time constant required",
        explanation: "Tile extents (`start .. +SIZE`, shapes of zeros/full, arange(N)), axes and \
program ids must be known at compile time: integer literals, tile parameters, and + - * / of those. \
Runtime values such as scalar parameters or loaded values cannot size a tile.",
        wrong: b"kernel k(x: f32[N], y: out f32[N], n: i32) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +n]));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N], n: i32) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
    },
    CodeInfo {
        code: "E0117",
        title: "axis out of range",
        explanation: "program_id/num_programs take an axis below the number of grid dims (at most 3: \
0, 1, 2); reductions take an axis below the tile's rank; `axis = n` in a scaled type must name a tensor \
dimension.",
        wrong: b"kernel k(y: out i32[N]) grid(N) {\n    store(y[program_id(3)], 1);\n}\n",
        right: "kernel k(y: out i32[N]) grid(N) {\n    store(y[program_id(0)], 1);\n}\n",
    },
    CodeInfo {
        code: "E0118",
        title: "loop step is not positive",
        explanation: "`for i in lo..hi step s` runs i = lo, lo+s, lo+2s, ... while i < hi, so the step must \
be positive: a zero step never ends, and a negative one would count away from `hi` (there are no \
down-counting loops; write `hi - 1 - i` in the body instead). A step that is a compile-time constant \
(literals, tile parameters, `let` names bound to constants) is checked here; a step known only at run time \
(a scalar parameter) is checked by the interpreter before the loop starts (E0608).",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(1) {\n    for i in 0..N step -B {\n        store(y[i .. +B], load(x[i .. +B]));\n    }\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(1) {\n    for i in 0..N step B {\n        store(y[i .. +B], load(x[i .. +B]));\n    }\n}\n",
    },
    CodeInfo {
        code: "E0120",
        title: "store into a parameter that is not `out`",
        explanation: "Only parameters declared `out` can be written by `store` or `atomic_add`; inputs are \
read-only so the runtime can share and cache them. Declare the parameter as `name: out dtype[dims]`.",
        wrong: b"kernel k(x: f32[N], y: f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
    },
    CodeInfo {
        code: "E0121",
        title: "wrong number of indices for a tensor",
        explanation: "A tensor view needs one index per declared dimension: `start .. +SIZE`, a scalar \
coordinate, an i32 index tile, or `:` (whole constant dim).",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B, 0]));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
    },
    CodeInfo {
        code: "E0122",
        title: "slice wider than the declared dimension",
        explanation: "A slice `start .. +SIZE` (or a tile stored through it) is wider than the tensor \
dimension it indexes, which is a compile-time constant here; the access could never be fully in bounds.",
        wrong: b"kernel k(w: f32[64], y: out f32[64]) {\n    store(y[0 .. +64], load(w[0 .. +128]));\n}\n",
        right: "kernel k(w: f32[64], y: out f32[64]) {\n    store(y[0 .. +64], load(w[0 .. +64]));\n}\n",
    },
    CodeInfo {
        code: "E0123",
        title: "index form not allowed here",
        explanation: "Inside load/store/atomic_add a dimension is indexed by `start .. +SIZE` (SIZE a \
compile-time constant), a scalar, an i32 index tile, or `:` on a constant dim. A bounded range `lo .. hi` \
makes a sub-view and is only allowed in `let v = t[lo .. hi, :];`. `None` adds an axis to a tile, not \
to a tensor.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. i + B]));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
    },
    CodeInfo {
        code: "E0124",
        title: "stored tile does not match the view",
        explanation: "The value given to store/atomic_add must have exactly the shape of the view (a scalar \
is broadcast). Broadcasting into a bigger view or truncating into a smaller one is never implicit.",
        wrong: b"kernel k(y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], zeros<f32>[128]);\n}\n",
        right: "kernel k(y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], zeros<f32>[B]);\n}\n",
    },
    CodeInfo {
        code: "E0130",
        title: "scale block does not divide the tile",
        explanation: "A tile loaded from a scaled tensor carries its scales, so along each scaled axis the \
tile extent must be a multiple of the scale block (MX: 32, NV: 16, or the declared block). Otherwise a \
block would straddle two tiles and its scale would be applied to a partial block.",
        wrong: b"kernel q(a: mx<f8e4m3>[M, K], c: out f32[M, K]) tiles(BM = 64, BK = 16) grid(cdiv(M, BM), cdiv(K, BK)) {\n    let m0 = program_id(0) * BM;\n    let k0 = program_id(1) * BK;\n    store(c[m0 .. +BM, k0 .. +BK], dequant(load(a[m0 .. +BM, k0 .. +BK])));\n}\n",
        right: "kernel q(a: mx<f8e4m3>[M, K], c: out f32[M, K]) tiles(BM = 64, BK = 32) grid(cdiv(M, BM), cdiv(K, BK)) {\n    let m0 = program_id(0) * BM;\n    let k0 = program_id(1) * BK;\n    store(c[m0 .. +BM, k0 .. +BK], dequant(load(a[m0 .. +BM, k0 .. +BK])));\n}\n",
    },
    CodeInfo {
        code: "E0131",
        title: "NVFP4 tensor without its per-tensor scale",
        explanation: "The NVFP4 contract has two levels: a ue4m3 scale per 16 elements and a per-tensor f32 \
scale. `nv<f4e2m1, global = gs>` names the f32 scalar parameter that carries the second level; without \
it the values would be off by that factor.",
        wrong: b"kernel q(b: nv<f4e2m1>[N, K], c: out f32[N, K]) tiles(BN = 64, BK = 64) grid(cdiv(N, BN), cdiv(K, BK)) {\n    let n0 = program_id(0) * BN;\n    let k0 = program_id(1) * BK;\n    store(c[n0 .. +BN, k0 .. +BK], dequant(load(b[n0 .. +BN, k0 .. +BK])));\n}\n",
        right: "kernel q(b: nv<f4e2m1, global = gb>[N, K], gb: f32, c: out f32[N, K]) tiles(BN = 64, BK = 64) grid(cdiv(N, BN), cdiv(K, BK)) {\n    let n0 = program_id(0) * BN;\n    let k0 = program_id(1) * BK;\n    store(c[n0 .. +BN, k0 .. +BK], dequant(load(b[n0 .. +BN, k0 .. +BK])));\n}\n",
    },
    CodeInfo {
        code: "E0132",
        title: "invalid scaled tensor type",
        explanation: "Scaled types are `mx<ELEM[, axis = n][, packed = n]>` (e8m0 per 32), `nv<f4e2m1, \
global = gs>` (ue4m3 per 16 + f32) and `scaled<ELEM, SCALE, block = [..]>`. The block must suit the scale \
dtype: e8m0 blocks are 32, ue4m3 blocks are 16, f32 blocks are any power of two; the element must be a \
narrow float (fp8/fp6/fp4) and the block list needs one entry per dim.",
        wrong: b"kernel q(a: scaled<f8e4m3, e8m0, block = [1, 16]>[M, K]) {\n}\n",
        right: "kernel q(a: scaled<f8e4m3, e8m0, block = [1, 32]>[M, K]) {\n}\n",
    },
    CodeInfo {
        code: "E0133",
        title: "dimension is not a multiple of the scale block",
        explanation: "When a scaled dimension is a compile-time constant it must be a multiple of the scale \
block, so no partial block exists.",
        wrong: b"kernel q(a: mx<f8e4m3>[M, 48]) {\n}\n",
        right: "kernel q(a: mx<f8e4m3>[M, 64]) {\n}\n",
    },
    CodeInfo {
        code: "E0134",
        title: "scaled dot: scale contracts do not fit",
        explanation: "In `dot(a, b, acc)` a scaled operand must be blocked along K (axis 1 of a, axis 0 of b); \
a block along M or N must cover the whole tile extent (one scale per tile, as DeepSeek 128x128 weights). \
When both operands are scaled they need the same scale dtype and K block. Declare MX weights [N, K] \
scaled along K (the last axis, the default) and transpose the tile.",
        wrong: b"kernel mm(a: mx<f8e4m3, axis = 0>[M, K], b: mx<f8e4m3>[N, K], c: out f32[M, N]) tiles(BM = 64, BN = 64, BK = 64) grid(cdiv(M, BM), cdiv(N, BN)) {\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], acc);\n}\n",
        right: "kernel mm(a: mx<f8e4m3>[M, K], b: mx<f8e4m3>[N, K], c: out f32[M, N]) tiles(BM = 64, BN = 64, BK = 64) grid(cdiv(M, BM), cdiv(N, BN)) {\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], acc);\n}\n",
    },
    CodeInfo {
        code: "E0135",
        title: "per-tensor scale must be an f32 scalar parameter",
        explanation: "`global = gs` in an nv<...> type must name a scalar parameter of type f32 of the same \
kernel.",
        wrong: b"kernel q(b: nv<f4e2m1, global = gb>[N, K], gb: i32) {\n}\n",
        right: "kernel q(b: nv<f4e2m1, global = gb>[N, K], gb: f32) {\n}\n",
    },
    CodeInfo {
        code: "E0140",
        title: "tile size must be a power of two",
        explanation: "Tile dims that feed `dot` map onto MMA instruction shapes and shared-memory swizzles, \
which need powers of two. Use 16, 32, 64, 128 or 256; ragged problem edges are masked automatically.",
        wrong: b"kernel mm(a: bf16[M, K], b: bf16[K, N], c: out f32[M, N]) tiles(BM = 96, BN = 64, BK = 32) grid(cdiv(M, BM), cdiv(N, BN)) {\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), load(b[k0 .. +BK, n0 .. +BN]), acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], acc);\n}\n",
        right: "kernel mm(a: bf16[M, K], b: bf16[K, N], c: out f32[M, N]) tiles(BM = 64, BN = 64, BK = 32) grid(cdiv(M, BM), cdiv(N, BN)) {\n    let m0 = program_id(0) * BM;\n    let n0 = program_id(1) * BN;\n    var acc = zeros<f32>[BM, BN];\n    for k0 in 0..K step BK {\n        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), load(b[k0 .. +BK, n0 .. +BN]), acc);\n    }\n    store(c[m0 .. +BM, n0 .. +BN], acc);\n}\n",
    },
    CodeInfo {
        code: "E0141",
        title: "invalid tile parameter",
        explanation: "A tile parameter's default and candidates must be positive, and the default must be \
one of the candidates when a list is given (the tuner only tries listed values).",
        wrong: b"kernel k(y: out f32[N]) tiles(B = 64 in [32, 128]) grid(cdiv(N, B)) {\n    store(y[program_id(0) * B .. +B], zeros<f32>[B]);\n}\n",
        right: "kernel k(y: out f32[N]) tiles(B = 64 in [32, 64, 128]) grid(cdiv(N, B)) {\n    store(y[program_id(0) * B .. +B], zeros<f32>[B]);\n}\n",
    },
    CodeInfo {
        code: "E0142",
        title: "invalid launch grid",
        explanation: "`grid(e0[, e1[, e2]])` has one to three dims, each an integer expression over \
symbolic dims, tile parameters and literals with + - * / cdiv max min.",
        wrong: b"kernel k(y: out f32[N]) grid(N, 1, 1, 1) {\n}\n",
        right: "kernel k(y: out f32[N]) grid(N, 1, 1) {\n}\n",
    },
    CodeInfo {
        code: "E0143",
        title: "tile too large",
        explanation: "A tile may have at most 1048576 (2^20) elements (docs/LANGUAGE.md, \"Limits\"). A tile \
is what one program holds at once; GPU tiles are far smaller (256 x 256 = 65536 elements already fills \
registers and shared memory), and the reference interpreter allocates every tile, so a tile parameter \
such as `B = 2147483647` or a `zeros<f32>[B, B]` with B = 2^20 would exhaust memory instead of running. \
The error points at the first op that makes such a tile; reduce the tile parameters and let the grid \
cover the tensor.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 2097152) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 1024) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], load(x[i .. +B]));\n}\n",
    },
    CodeInfo {
        code: "W0001",
        title: "expression value is not used (warning)",
        explanation: "An expression statement computes a value that is then dropped. Only `store(...)` and \
`atomic_add(...)` have effects; any other expression statement is dead code, often a forgotten `let` or \
`store`.",
        wrong: b"kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    exp2(load(x[i .. +B]));\n}\n",
        right: "kernel k(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let i = program_id(0) * B;\n    store(y[i .. +B], exp2(load(x[i .. +B])));\n}\n",
    },
];
