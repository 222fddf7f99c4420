//! Finding F06: programs nested as deep as the limit (E0008) allows check without overflowing a
//! default 2 MiB test-thread stack (the checker and the AST's drop recurse), and programs nested
//! far deeper get E0008 instead of a crash.

use tessera_syntax::{MAX_BLOCK_DEPTH, MAX_NESTING_DEPTH};

const HEAD: &str = "kernel deep(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let t = load(x[program_id(0) * B .. +B]);\n";

fn calls(n: usize) -> String {
    format!(
        "{HEAD}    store(y[program_id(0) * B .. +B], {}t{});\n}}\n",
        "abs(".repeat(n),
        ")".repeat(n)
    )
}
fn sum(n: usize) -> String {
    format!(
        "{HEAD}    store(y[program_id(0) * B .. +B], t{});\n}}\n",
        " + t".repeat(n - 1)
    )
}
fn neg(n: usize) -> String {
    format!(
        "{HEAD}    store(y[program_id(0) * B .. +B], {}t);\n}}\n",
        "-".repeat(n)
    )
}
fn ifs(n: usize) -> String {
    format!(
        "{HEAD}    {}store(y[program_id(0) * B .. +B], t);{}\n}}\n",
        "if true { ".repeat(n),
        " }".repeat(n)
    )
}
fn else_ifs(n: usize) -> String {
    format!(
        "{HEAD}    if false {{ }}{} else {{ store(y[program_id(0) * B .. +B], t); }}\n}}\n",
        " else if false { }".repeat(n)
    )
}

fn codes_on_small_stack(src: String) -> Vec<&'static str> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let (module, diags) = tessera_check::check_source("deep.tsr", src.as_bytes());
            if let Some(m) = &module {
                tessera_ir::verify_module(m).expect("verifies");
            }
            diags.iter().map(|d| d.code).collect::<Vec<_>>()
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

#[test]
fn programs_at_the_limit_check_and_deeper_ones_get_e0008() {
    for (shape, limit) in [
        (calls as fn(usize) -> String, MAX_NESTING_DEPTH),
        (sum, MAX_NESTING_DEPTH),
        (neg, MAX_NESTING_DEPTH),
        (ifs, MAX_BLOCK_DEPTH),
        (else_ifs, MAX_BLOCK_DEPTH),
    ] {
        let parses = |n: usize| tessera_syntax::parse(&shape(n)).1.is_empty();
        let at_limit = (1..limit).rev().find(|&n| parses(n)).expect("some depth parses");
        assert_eq!(
            codes_on_small_stack(shape(at_limit)),
            Vec::<&str>::new(),
            "{}",
            shape(1)
        );
        assert_eq!(codes_on_small_stack(shape(at_limit + 1)), ["E0008"]);
        assert_eq!(codes_on_small_stack(shape(30_000)), ["E0008"]);
    }
}
