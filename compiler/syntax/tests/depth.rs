//! The nesting-depth limit (E0008): programs nested far past it (the shapes of finding F06: deep
//! calls, long operator chains, unary chains, nested `if`s) get E0008 instead of overflowing the
//! stack, and programs at the limit parse and check on a default 2 MiB test-thread stack.

use tessera_syntax::{MAX_BLOCK_DEPTH, MAX_NESTING_DEPTH, parse};

const HEAD: &str = "kernel deep(x: f32[N], y: out f32[N]) tiles(B = 64) grid(cdiv(N, B)) {\n    let t = load(x[program_id(0) * B .. +B]);\n";

/// The four shapes of F06, `n` deep.
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

/// Run `f` on a thread with the default test-thread stack (2 MiB), as the test harness does.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

#[test]
fn far_too_deep_programs_get_e0008_at_the_first_token_past_the_limit() {
    for (name, src) in [
        ("call_3000", calls(3000)),
        ("add_30000", sum(30000)),
        ("neg_30000", neg(30000)),
        ("block_10000", ifs(10000)),
        ("else_if_10000", else_ifs(10000)),
    ] {
        let diags = on_small_stack(move || parse(&src).1);
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["E0008"], "{name}");
        let limit = if name.contains("block") || name.contains("if") {
            MAX_BLOCK_DEPTH
        } else {
            MAX_NESTING_DEPTH
        };
        assert!(
            diags[0].message.contains(&format!("more than {limit} deep")),
            "{name}: {}",
            diags[0].message
        );
    }
}

#[test]
fn the_findings_inputs_get_e0008() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/findings/reliability-2026-12/F06_stack_overflow_deep_nesting");
    for name in ["call_3000", "neg_30000", "add_30000", "block_10000"] {
        let Ok(bytes) = std::fs::read(dir.join(format!("{name}.tsr"))) else {
            // The findings folder is not part of the repository; the generated shapes above cover it.
            continue;
        };
        let codes: Vec<&str> = on_small_stack(move || {
            tessera_syntax::parse_bytes(&bytes)
                .1
                .iter()
                .map(|d| d.code)
                .collect()
        });
        assert_eq!(codes, ["E0008"], "{name}");
    }
}

#[test]
fn the_limit_is_sharp_and_generous() {
    // The store's own parentheses are part of the depth; find the largest n of each shape that
    // passes and check that n + 1 is refused. A nested `if` costs two levels (the `if` and its
    // block), every other shape one.
    for (shape, limit) in [
        (calls as fn(usize) -> String, MAX_NESTING_DEPTH),
        (sum, MAX_NESTING_DEPTH),
        (neg, MAX_NESTING_DEPTH),
        (ifs, MAX_BLOCK_DEPTH),
        (else_ifs, MAX_BLOCK_DEPTH),
    ] {
        let ok = (1..limit)
            .rev()
            .find(|&n| parse(&shape(n)).1.is_empty())
            .expect("some depth passes");
        assert!(ok >= limit - 10, "{}: only {ok} deep passes", shape(1));
        assert_eq!(
            parse(&shape(ok + 1)).1.iter().map(|d| d.code).collect::<Vec<_>>(),
            ["E0008"]
        );
    }
}

#[test]
fn many_statements_in_a_row_do_not_add_up() {
    // Sequential `if`/`for` statements (which end without `;`) and long argument lists start a new
    // expression each time: only nesting counts.
    let body = "    if true { store(y[program_id(0) * B .. +B], t); } else if false { }\n".repeat(2000)
        + &"    for i in 0..4 { store(y[program_id(0) * B .. +B], t + t); }\n".repeat(2000);
    assert!(parse(&format!("{HEAD}{body}}}\n")).1.is_empty());
    let args = format!("{HEAD}    let z = max(t{});\n}}\n", ", t + t".repeat(3000));
    assert!(parse(&args).1.is_empty());
}
