//! Shared by the oracle's interpreter-backed tests: compile a kernel from source, bind seeded
//! inputs the way `tessera validate` does (poisoned outputs, the conventions' default scalars), run
//! it on the interpreter and judge its outputs against the plain reference.

#![allow(dead_code)] // each test binary uses a different part

use tessera_interp::{ProgramSet, concrete_shape, run};
use tessera_ir::{DType, Kernel, ParamKind};
use tessera_numerics::{
    ArgValue, Bindings, InputGen, Metrics, TensorArg, Verdict, compare_buf, encode_buf, poison_buf,
};

/// The kernel of `src`, which must check with no diagnostics at all.
pub fn compile(src: &str) -> Kernel {
    let (m, d) = tessera_check::check_source("test.tsr", src.as_bytes());
    assert!(d.is_empty(), "{src}\n{d:?}");
    m.expect("module").kernels.remove(0)
}

/// A conformance kernel (tests/conformance/NAME) with `attr` put in front of it.
pub fn conformance(name: &str, attr: &str) -> Kernel {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance")
        .join(name);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    compile(&format!("{attr}\n{src}"))
}

/// Seeded inputs at `dims`, poisoned outputs; scalars from `scalars`, else the oracle's defaults,
/// else 1.
pub fn bind(k: &Kernel, dims: &[(&str, i64)], scalars: &[(&str, f64)], seed: u64) -> Bindings {
    let syms: Vec<(String, i64)> = k
        .syms
        .iter()
        .map(|s| {
            let v = dims
                .iter()
                .find(|(n, _)| n == s)
                .unwrap_or_else(|| panic!("no dim {s}"));
            (s.clone(), v.1)
        })
        .collect();
    let mut g = InputGen::new(seed);
    let args = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Tensor { ty, is_out } => {
                let shape =
                    concrete_shape(ty, &|s| syms.iter().find(|(n, _)| n == s).map(|d| d.1)).expect("shape");
                if *is_out {
                    ArgValue::Tensor(TensorArg {
                        data: poison_buf(ty.dtype, &shape, ty.packed_axis),
                        scale: None,
                        global_scale: None,
                    })
                } else {
                    ArgValue::Tensor(g.tensor_arg(ty, &shape).expect("input"))
                }
            }
            ParamKind::Scalar(_) => ArgValue::Scalar(
                scalars
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map(|(_, v)| *v)
                    .or_else(|| tessera_oracle::default_scalar(k, &p.name, &syms))
                    .unwrap_or(1.0),
            ),
        })
        .collect();
    Bindings { args, syms }
}

/// Set tensor `name` to `values` (its bound shape and dtype kept).
pub fn set(k: &Kernel, b: &mut Bindings, name: &str, values: &[f32]) {
    let i = k.params.iter().position(|p| p.name == name).expect("param");
    let ArgValue::Tensor(t) = &mut b.args[i] else {
        panic!("`{name}` is not a tensor")
    };
    t.data = encode_buf(t.data.dtype, &t.data.shape, t.data.packed_axis, values).expect("encode");
}

/// The index of the one `out` tensor.
pub fn out_index(k: &Kernel) -> usize {
    k.params
        .iter()
        .position(|p| matches!(p.kind, ParamKind::Tensor { is_out: true, .. }))
        .expect("an out tensor")
}

/// Run on the interpreter (in place: `b` then holds the outputs).
pub fn interp(k: &Kernel, b: &mut Bindings) {
    run(k, b, ProgramSet::All).unwrap_or_else(|e| panic!("{}: {e}", k.name));
}

/// The interpreter's output `param` of `b` against `want`, under the oracle's tolerance.
pub fn judge(k: &Kernel, b: &Bindings, param: usize, want: &[f64]) -> (Verdict, Metrics) {
    let ArgValue::Tensor(t) = &b.args[param] else {
        panic!("output is not a tensor")
    };
    let m = compare_buf(&t.data, want).expect("compare");
    (tessera_oracle::tolerance(k, b, param).judge(&m), m)
}

/// Run `k` on the interpreter and judge its one output against the oracle's expected values.
pub fn run_and_judge(k: &Kernel, b: &mut Bindings) -> (Verdict, Metrics) {
    let want = tessera_oracle::expected(k, b).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    interp(k, b);
    let [(i, want)] = <[_; 1]>::try_from(want).expect("one output");
    judge(k, b, i, &want)
}

pub fn f32_out(k: &Kernel) -> bool {
    matches!(&k.params[out_index(k)].kind, ParamKind::Tensor { ty, .. } if ty.dtype == DType::F32)
}
