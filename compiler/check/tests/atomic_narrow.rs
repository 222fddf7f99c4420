//! `atomic_add` into bf16 and f16 tensors is accepted (issue 12: a bf16 MoE output needs it), and
//! into other narrow types still refused with E0114.

fn check(src: &str) -> Vec<&'static str> {
    let (_, diags) = tessera_check::check_source("x.tsr", src.as_bytes());
    diags.iter().map(|d| d.code).collect()
}

fn kernel(dtype: &str) -> String {
    format!(
        "kernel k(x: {dtype}[N], y: out {dtype}[N]) tiles(B = 64) grid(cdiv(N, B)) {{\n    let i = program_id(0) * B;\n    atomic_add(y[0 .. +B], load(x[i .. +B]));\n}}\n"
    )
}

#[test]
fn atomic_add_of_bf16_and_f16_checks_and_verifies() {
    for d in ["bf16", "f16", "f32", "i32"] {
        let src = kernel(d);
        let (module, diags) = tessera_check::check_source("x.tsr", src.as_bytes());
        assert!(diags.is_empty(), "{d}: {diags:?}");
        let m = module.expect("checks");
        for k in &m.kernels {
            tessera_ir::verify_kernel(k).unwrap_or_else(|e| panic!("{d}: {e}"));
        }
    }
}

#[test]
fn atomic_add_of_codes_is_still_refused() {
    for d in ["f8e4m3", "i8"] {
        assert!(check(&kernel(d)).contains(&"E0114"), "{d}");
    }
}
