//! What the Hopper attention kernel implements, exactly: the program of
//! `dsl_examples/attention_fp8.tsr` (at the kernel's own BM/BN), and nothing that merely resembles
//! it. A kernel takes the attention path only when it is structurally identical to that program:
//! the same signature types, the same ops in the same order with the same operands (value
//! numbering aside), the same constants and the same result types. Names, spans and attributes
//! (`@reference` included) play no part, so no attribute selects code and a kernel that drops a
//! scale or adds a term is never compiled to this kernel: the first op that differs is refused with
//! its span until the general lowering covers `dot`.

use std::collections::HashMap;
use tessera_ir::{Block, Kernel, Op, OpKind, ParamKind, Span, ValueId};

const SOURCE: &str = include_str!("../../../../dsl_examples/attention_fp8.tsr");

/// How a kernel compares with the canonical attention program.
pub(crate) enum Match {
    /// Structurally identical: the attention kernel computes exactly this program.
    Same,
    /// Same signature, different body: the first op that differs.
    DiffersAt(Span),
    /// A different signature (not an attention of this form at all).
    Unrelated,
}

/// The canonical program at tile sizes `bm`, `bn` (the kernel's own choice among 64 and 128).
fn canonical(bm: i64, bn: i64) -> Option<Kernel> {
    let src = SOURCE
        .replacen("BM = 128 in [64, 128]", &format!("BM = {bm} in [64, 128]"), 1)
        .replacen("BN = 64 in [64, 128]", &format!("BN = {bn} in [64, 128]"), 1);
    let (m, _) = tessera_check::check_source("attention_fp8.tsr", src.as_bytes());
    let mut m = m?;
    // The kernel being lowered went through the sm_90a pipeline (its layouts then erased): put
    // the canonical program through the same steps so the two are compared at the same level.
    let caps = tessera_passes::TargetCaps::lookup("sm_90a")?;
    tessera_passes::run_pipeline(&mut m, caps, &Default::default(), &mut std::io::sink()).ok()?;
    m.kernels.pop().map(|k| tessera_ir::erase_layouts(&k))
}

pub(crate) fn compare(k: &Kernel) -> Match {
    let tile = |n: &str| k.tiles.iter().find(|t| t.name == n).map(|t| t.value);
    let (Some(bm), Some(bn)) = (tile("BM"), tile("BN")) else {
        return Match::Unrelated;
    };
    if !matches!(bm, 64 | 128) || !matches!(bn, 64 | 128) {
        return Match::Unrelated;
    }
    let Some(c) = canonical(bm, bn) else {
        return Match::Unrelated;
    };
    let sig = |k: &Kernel| {
        k.params
            .iter()
            .map(|p| match &p.kind {
                ParamKind::Tensor { ty, is_out } => {
                    format!("{}{:?}", tessera_ir::tensor_type_to_string(ty), is_out)
                }
                ParamKind::Scalar(d) => d.to_string(),
            })
            .collect::<Vec<_>>()
    };
    let tiles = |k: &Kernel| k.tiles.iter().map(|t| t.value).collect::<Vec<_>>();
    if sig(k) != sig(&c) || tiles(k) != tiles(&c) || k.grid != c.grid || k.syms.len() != c.syms.len() {
        return Match::Unrelated;
    }
    let mut na = Numbering::default();
    let mut nb = Numbering::default();
    match same_block(k, &k.body, &mut na, &c, &c.body, &mut nb) {
        None => Match::Same,
        Some(span) => Match::DiffersAt(span),
    }
}

/// Value ids renumbered in order of first definition, so two programs that differ only in
/// numbering compare equal.
#[derive(Default)]
struct Numbering {
    ids: HashMap<ValueId, u32>,
}

impl Numbering {
    fn def(&mut self, v: ValueId) {
        let n = self.ids.len() as u32;
        self.ids.entry(v).or_insert(n);
    }

    fn of(&self, v: ValueId) -> Option<u32> {
        self.ids.get(&v).copied()
    }
}

/// The op with its operands renumbered and its blocks emptied (they are compared separately).
fn shape(op: &Op, n: &Numbering) -> Option<OpKind> {
    let mut kind = op.kind.clone();
    for b in kind.blocks_mut() {
        *b = Block::default();
    }
    let mut ok = true;
    kind.for_each_operand_mut(|v| match n.of(*v) {
        Some(i) => *v = ValueId(i),
        None => ok = false,
    });
    ok.then_some(kind)
}

/// `None` when the blocks are identical, else the span of the first differing op of `a`.
fn same_block(
    ka: &Kernel,
    a: &Block,
    na: &mut Numbering,
    kb: &Kernel,
    b: &Block,
    nb: &mut Numbering,
) -> Option<Span> {
    for (x, y) in a.args.iter().zip(&b.args) {
        na.def(*x);
        nb.def(*y);
    }
    let fallback = a.ops.last().map(|o| o.span).unwrap_or(ka.span);
    if a.args.len() != b.args.len() {
        return Some(fallback);
    }
    for (i, x) in a.ops.iter().enumerate() {
        let Some(y) = b.ops.get(i) else {
            return Some(x.span);
        };
        let types_equal = x.results.len() == y.results.len()
            && x.results
                .iter()
                .zip(&y.results)
                .all(|(p, q)| ka.ty(*p) == kb.ty(*q));
        if shape(x, na).is_none() || shape(x, na) != shape(y, nb) || !types_equal {
            return Some(x.span);
        }
        let (xb, yb) = (x.kind.blocks(), y.kind.blocks());
        for (p, q) in xb.iter().zip(&yb) {
            if let Some(s) = same_block(ka, p, na, kb, q, nb) {
                return Some(s);
            }
        }
        for (p, q) in x.results.iter().zip(&y.results) {
            na.def(*p);
            nb.def(*q);
        }
    }
    if b.ops.len() > a.ops.len() {
        return Some(fallback);
    }
    None
}
