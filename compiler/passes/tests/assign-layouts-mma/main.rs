//! Tests of the `assign-layouts-mma` pass (MMA-first propagation): a flash-attention loop with a
//! causal mask converts nothing and carries its accumulator in the wgmma fragment, the text form
//! round-trips, the interpreter's results are unchanged (diff-interp), and a dot-free softmax is
//! laid out as `assign-layouts` lays it out.

use tessera_ir::{Kernel, LinearLayout, Module, OpKind, Type, parse_module, print_module, verify_module};

#[path = "../common/mod.rs"]
mod common;

/// Operand-first layouts (`assign-layouts`; the sm_90a pipeline's default is MMA-first).
fn distributed(src: &str) -> Module {
    common::sm90a_distributed(
        src,
        Some("canonicalize,fuse-dequant,assign-scale-layout,assign-layouts"),
    )
}

fn distributed_mma(src: &str) -> Module {
    common::sm90a_distributed(
        src,
        Some("canonicalize,fuse-dequant,assign-scale-layout,assign-layouts-mma"),
    )
}

use common::SOFTMAX_ROWS as SOFTMAX;

/// Flash attention with a causal mask built from `arange`: scores, softmax statistics and the
/// output accumulator all descend from the two dots.
const FLASH: &str = r#"
kernel flash(q: bf16[S, D], k: bf16[S, D], v: bf16[S, D], o: out f32[S, D])
    tiles(BM = 64, BN = 64, D = 64)
    grid(cdiv(S, BM))
{
    let m0 = program_id(0) * BM;
    let tq = load(q[m0 .. +BM, 0 .. +D]);
    let rows = m0 + arange(BM);
    var m_i = full<f32>[BM](-inf);
    var l_i = zeros<f32>[BM];
    var acc = zeros<f32>[BM, D];
    for n0 in 0..S step BN {
        let tk = load(k[n0 .. +BN, 0 .. +D]);
        let cols = n0 + arange(BN);
        let keep = cols[None, :] < S && cols[None, :] <= rows[:, None];
        let s = where(keep, dot(tq, transpose(tk)) * 0.125, -inf);
        let m_new = max(m_i, reduce_max(s, axis = 1));
        let p = exp2(s - m_new[:, None]);
        let alpha = exp2(m_i - m_new);
        l_i = l_i * alpha + reduce_sum(p, axis = 1);
        acc = acc * alpha[:, None] + dot(cast<bf16>(p), load(v[n0 .. +BN, 0 .. +D]));
        m_i = m_new;
    }
    store(o[m0 .. +BM, 0 .. +D], acc / l_i[:, None]);
}
"#;

/// `convert_layout` ops inside `for` bodies.
fn loop_conversions(k: &Kernel) -> usize {
    let mut n = 0;
    tessera_passes::walk_mut(&mut k.body.clone(), &mut |op| {
        if let OpKind::For { body, .. } = &op.kind {
            for o in &body.ops {
                n += usize::from(matches!(o.kind, OpKind::ConvertLayout { .. }));
            }
        }
    });
    n
}

#[test]
fn mma_first_propagation_keeps_flash_attention_in_the_wgmma_fragment() {
    let plain = distributed(FLASH);
    let mma = distributed_mma(FLASH);
    // The greedy pass converts the scores and the PV product every iteration; MMA-first
    // propagation converts nothing in the loop (the mask is recomputed in the fragment).
    assert!(
        loop_conversions(&plain.kernels[0]) >= 2,
        "{}",
        print_module(&plain)
    );
    assert_eq!(loop_conversions(&mma.kernels[0]), 0, "{}", print_module(&mma));
    // The output accumulator is carried in the wgmma fragment.
    let k = &mma.kernels[0];
    let cta = k.cta.unwrap();
    let want = LinearLayout::wgmma_acc(64, 64, cta.lane_bits as usize, cta.warp_bits as usize).unwrap();
    let mut carried = Vec::new();
    tessera_passes::walk_mut(&mut k.body.clone(), &mut |op| {
        if let OpKind::For { body, .. } = &op.kind {
            carried.extend(body.args[1..].iter().map(|a| k.ty(*a).clone()));
        }
    });
    assert!(
        carried
            .iter()
            .any(|t| matches!(t, Type::Tile(t) if t.shape == [64, 64] && t.layout.as_dist() == Some(&want))),
        "{carried:?}"
    );
    // The text form round-trips and verifies.
    let text = print_module(&mma);
    let back = parse_module(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    verify_module(&back).unwrap_or_else(|e| panic!("{e:?}"));
}

#[test]
fn mma_first_propagation_changes_nothing_without_a_dot() {
    // No dot: nothing descends from an MMA, so the layouts are the greedy pass's.
    let a = print_module(&distributed(SOFTMAX));
    let b = print_module(&distributed_mma(SOFTMAX));
    assert_eq!(without_pass_names(&a), without_pass_names(&b));
}

/// The module text without the pass-name comment lines.
fn without_pass_names(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("assign-layouts"))
        .collect::<Vec<_>>()
        .join("\n")
}
