//! The IR text form, printer side: a readable, MLIR-like rendering of a [`Module`] that
//! [`crate::parse_module`] reads back to an identical value (`parse(print(m)) == m`).
//!
//! Shape of the text (see `docs/IR.md` for the grammar):
//! ```text
//! module "gemm.tsr"
//! kernel @gemm(a: f8e4m3[M, K], c: out bf16[M, N] loc(30:48), ...) loc(0:400)
//!   attrs { reference = "gemm" }
//!   syms [M, K, N]
//!   tiles { BM = 128 in [64, 128] loc(60:70) }
//!   grid (cdiv(M, 128), cdiv(N, 128))
//! {
//! ^(%scale_a.0: f32):
//!   %m0.1 = program_id 0 : i32 loc(90:102)
//!   %acc.7 = for %2 to %3 step %4 iter(%5) : tile<[128, 128], f32> loc(120:300) {
//!   ^(%k0.8: i32, %acc.9: tile<[128, 128], f32>):
//!     ...
//!     yield %12 loc(..)
//!   }
//! }
//! ```
//! Values print as `%<id>` or `%<name>.<id>`: the id keeps the arena index exact, the name keeps
//! the source spelling visible. Arena values no op or block defines are listed in `dead { }` so the
//! arena round-trips too.

use crate::{
    Access, BinOp, Block, Bound, CmpPred, Dim, DimExpr, Index, Kernel, LinearLayout, Module, Op, OpKind,
    ParamKind, ReduceKind, ScaleSpec, TensorType, TileLayout, TileType, Type, UnOp, ValueId,
};
use std::fmt::Write;

/// Print a whole module.
pub fn print_module(m: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "module {}", quote(&m.source_name));
    for k in &m.kernels {
        out.push('\n');
        out.push_str(&print_kernel(k));
    }
    out
}

/// Print one kernel (as it appears inside [`print_module`]).
pub fn print_kernel(k: &Kernel) -> String {
    let mut p = Printer {
        k,
        out: String::new(),
    };
    p.kernel();
    p.out
}

/// The text of one type, e.g. `tile<[128, 64], f8e4m3, scale<e8m0, block = [1, 32], layout = linear>>`.
pub fn type_to_string(t: &Type) -> String {
    match t {
        Type::Scalar(d) => d.name().to_string(),
        Type::Tile(t) => tile_type(t),
    }
}

/// The text of a tensor parameter type, e.g. `f4e2m1[N, K] scale<...> packed = 1`.
pub fn tensor_type_to_string(t: &TensorType) -> String {
    let dims: Vec<String> = t.dims.iter().map(dim).collect();
    let mut s = format!("{}[{}]", t.dtype.name(), dims.join(", "));
    if let Some(sc) = &t.scale {
        s.push(' ');
        s.push_str(&scale_spec(sc));
    }
    if let Some(ax) = t.packed_axis {
        let _ = write!(s, " packed = {ax}");
    }
    s
}

fn tile_type(t: &TileType) -> String {
    let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
    let mut s = format!("tile<[{}], {}", shape.join(", "), t.dtype.name());
    if let Some(sc) = &t.scale {
        s.push_str(", ");
        s.push_str(&scale_spec(sc));
    }
    // `Logical` is the default and is omitted; physical layouts (added by target passes) print here.
    match &t.layout {
        TileLayout::Logical => {}
        TileLayout::Dist(l) => {
            s.push_str(", ");
            s.push_str(&linear_layout(l));
        }
        TileLayout::Shared(sh) => {
            let order: Vec<String> = sh.order.iter().map(|d| d.to_string()).collect();
            let _ = write!(
                s,
                ", #shared<order = [{}], vec = {}, per_phase = {}, max_phase = {}>",
                order.join(", "),
                sh.vec,
                sh.per_phase,
                sh.max_phase
            );
        }
    }
    s.push('>');
    s
}

/// `#dist<reg = [(0, 1), (0, 2)], lane = [...], warp = [...]>`: the basis vector of each index bit.
fn linear_layout(l: &LinearLayout) -> String {
    let bases = |bs: &[Vec<u32>]| {
        let v: Vec<String> = bs
            .iter()
            .map(|b| {
                let c: Vec<String> = b.iter().map(|x| x.to_string()).collect();
                format!("({})", c.join(", "))
            })
            .collect();
        format!("[{}]", v.join(", "))
    };
    format!(
        "#dist<reg = {}, lane = {}, warp = {}>",
        bases(&l.reg),
        bases(&l.lane),
        bases(&l.warp)
    )
}

fn scale_spec(s: &ScaleSpec) -> String {
    let block: Vec<String> = s.block.iter().map(|b| b.to_string()).collect();
    format!(
        "scale<{}, block = [{}]{}, layout = {}>",
        s.scale_dtype.name(),
        block.join(", "),
        if s.global { ", global" } else { "" },
        s.layout.name()
    )
}

fn dim(d: &Dim) -> String {
    match d {
        Dim::Const(c) => c.to_string(),
        Dim::Sym(s) => s.clone(),
        Dim::CeilDiv(s, by) => format!("cdiv({s}, {by})"),
    }
}

fn dim_expr(e: &DimExpr) -> String {
    let bin = |name: &str, a: &DimExpr, b: &DimExpr| format!("{name}({}, {})", dim_expr(a), dim_expr(b));
    match e {
        DimExpr::Const(c) => c.to_string(),
        DimExpr::Sym(s) => s.clone(),
        DimExpr::Add(a, b) => bin("add", a, b),
        DimExpr::Sub(a, b) => bin("sub", a, b),
        DimExpr::Mul(a, b) => bin("mul", a, b),
        DimExpr::FloorDiv(a, b) => bin("floordiv", a, b),
        DimExpr::CeilDiv(a, b) => bin("cdiv", a, b),
        DimExpr::Max(a, b) => bin("max", a, b),
        DimExpr::Min(a, b) => bin("min", a, b),
    }
}

/// A string literal with `\\`, `\"`, `\n`, `\t`, `\r` and `\u{..}` escapes (what the parser reads).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Names that print bare; anything else is quoted so the parser can read it back.
pub(crate) fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn name_text(s: &str) -> String {
    if is_ident(s) { s.to_string() } else { quote(s) }
}

/// A float literal that reads back bit-exactly (`{:?}` is Rust's shortest round-trip form).
fn float(v: f64) -> String {
    format!("{v:?}")
}

pub(crate) fn binop_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::Div => "div",
        BinOp::Rem => "rem",
        BinOp::Max => "max",
        BinOp::Min => "min",
        BinOp::And => "and",
        BinOp::Or => "or",
    }
}

pub(crate) fn unop_name(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "neg",
        UnOp::Abs => "abs",
        UnOp::Exp => "exp",
        UnOp::Exp2 => "exp2",
        UnOp::Log => "log",
        UnOp::Log2 => "log2",
        UnOp::Sqrt => "sqrt",
        UnOp::Rsqrt => "rsqrt",
        UnOp::Not => "not",
    }
}

pub(crate) fn cmp_name(p: CmpPred) -> &'static str {
    match p {
        CmpPred::Lt => "lt",
        CmpPred::Le => "le",
        CmpPred::Gt => "gt",
        CmpPred::Ge => "ge",
        CmpPred::Eq => "eq",
        CmpPred::Ne => "ne",
    }
}

pub(crate) fn reduce_name(r: ReduceKind) -> &'static str {
    match r {
        ReduceKind::Sum => "sum",
        ReduceKind::Max => "max",
        ReduceKind::Min => "min",
    }
}

struct Printer<'a> {
    k: &'a Kernel,
    out: String,
}

impl Printer<'_> {
    fn kernel(&mut self) {
        let k = self.k;
        let params: Vec<String> = k
            .params
            .iter()
            .map(|p| {
                let ty = match &p.kind {
                    ParamKind::Tensor { ty, is_out } => {
                        format!(
                            "{}{}",
                            if *is_out { "out " } else { "" },
                            tensor_type_to_string(ty)
                        )
                    }
                    ParamKind::Scalar(d) => d.name().to_string(),
                };
                format!("{}: {} loc({}:{})", name_text(&p.name), ty, p.span.lo, p.span.hi)
            })
            .collect();
        let _ = writeln!(
            self.out,
            "kernel @{}({}) loc({}:{})",
            name_text(&k.name),
            params.join(", "),
            k.span.lo,
            k.span.hi
        );
        if !k.attrs.is_empty() {
            let attrs: Vec<String> = k
                .attrs
                .iter()
                .map(|(a, v)| format!("{} = {}", name_text(a), quote(v)))
                .collect();
            let _ = writeln!(self.out, "  attrs {{ {} }}", attrs.join(", "));
        }
        let syms: Vec<String> = k.syms.iter().map(|s| name_text(s)).collect();
        let _ = writeln!(self.out, "  syms [{}]", syms.join(", "));
        let tiles: Vec<String> = k
            .tiles
            .iter()
            .map(|t| {
                let c: Vec<String> = t.candidates.iter().map(|c| c.to_string()).collect();
                format!(
                    "{} = {} in [{}] loc({}:{})",
                    name_text(&t.name),
                    t.value,
                    c.join(", "),
                    t.span.lo,
                    t.span.hi
                )
            })
            .collect();
        let _ = writeln!(self.out, "  tiles {{ {} }}", tiles.join(", "));
        let grid: Vec<String> = k.grid.iter().map(dim_expr).collect();
        let _ = writeln!(self.out, "  grid ({})", grid.join(", "));
        if let Some(cta) = &k.cta {
            let _ = writeln!(
                self.out,
                "  cta {{ warps = {}, warp_size = {} }}",
                1u32 << cta.warp_bits,
                1u32 << cta.lane_bits
            );
        }
        let dead = self.dead_values();
        if !dead.is_empty() {
            let d: Vec<String> = dead.iter().map(|v| self.def(*v)).collect();
            let _ = writeln!(self.out, "  dead {{ {} }}", d.join(", "));
        }
        self.out.push_str("{\n");
        self.block(&k.body, 0, true);
        self.out.push_str("}\n");
    }

    /// Values of the arena that no op result or block argument defines.
    fn dead_values(&self) -> Vec<ValueId> {
        let mut defined = vec![false; self.k.values.len()];
        fn mark(b: &Block, d: &mut [bool]) {
            for a in &b.args {
                if let Some(x) = d.get_mut(a.0 as usize) {
                    *x = true;
                }
            }
            for op in &b.ops {
                for r in &op.results {
                    if let Some(x) = d.get_mut(r.0 as usize) {
                        *x = true;
                    }
                }
                for blk in op.kind.blocks() {
                    mark(blk, d);
                }
            }
        }
        mark(&self.k.body, &mut defined);
        defined
            .iter()
            .enumerate()
            .filter(|(_, d)| !**d)
            .map(|(i, _)| ValueId(i as u32))
            .collect()
    }

    /// A value reference: `%name.id` or `%id`.
    fn v(&self, v: ValueId) -> String {
        match self.k.values.get(v.0 as usize).and_then(|i| i.name.as_deref()) {
            Some(n) => format!("%{}.{}", name_text(n), v.0),
            None => format!("%{}", v.0),
        }
    }

    /// A value definition with its type: `%name.id: type`.
    fn def(&self, v: ValueId) -> String {
        format!("{}: {}", self.v(v), self.ty(v))
    }

    fn ty(&self, v: ValueId) -> String {
        match self.k.values.get(v.0 as usize) {
            Some(i) => type_to_string(&i.ty),
            // Dangling ids are a verifier error; print something the parser rejects clearly.
            None => "<undefined>".to_string(),
        }
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth + 1 {
            self.out.push_str("  ");
        }
    }

    fn block(&mut self, b: &Block, depth: usize, always_header: bool) {
        if always_header || !b.args.is_empty() {
            for _ in 0..depth {
                self.out.push_str("  ");
            }
            let args: Vec<String> = b.args.iter().map(|a| self.def(*a)).collect();
            let _ = writeln!(self.out, "^({}):", args.join(", "));
        }
        for op in &b.ops {
            self.op(op, depth);
        }
    }

    fn access(&self, a: &Access) -> String {
        let idx: Vec<String> = a
            .index
            .iter()
            .map(|i| match i {
                Index::Range { start, size } => format!("{} .. +{}", self.v(*start), size),
                Index::Point(v) => self.v(*v),
                Index::Gather(v) => format!("gather {}", self.v(*v)),
            })
            .collect();
        let pname = &self.k.params.get(a.tensor.0 as usize).map(|p| p.name.as_str());
        let unique = pname.is_some_and(|n| self.k.params.iter().filter(|p| p.name == n).count() == 1);
        let tensor = match pname {
            Some(n) if unique => format!("@{}", name_text(n)),
            _ => format!("@#{}", a.tensor.0),
        };
        let mut s = format!("{}[{}]", tensor, idx.join(", "));
        let trivial = a.bounds.len() == a.index.len() && a.bounds.iter().all(|b| *b == Bound::default());
        if !trivial {
            let opt = |v: Option<ValueId>| v.map(|v| self.v(v)).unwrap_or_else(|| "_".to_string());
            let b: Vec<String> = a
                .bounds
                .iter()
                .map(|b| format!("{} .. {}", opt(b.lo), opt(b.hi)))
                .collect();
            let _ = write!(s, " bounds [{}]", b.join(", "));
        }
        s
    }

    fn op(&mut self, op: &Op, depth: usize) {
        self.indent(depth);
        if !op.results.is_empty() {
            let r: Vec<String> = op.results.iter().map(|r| self.v(*r)).collect();
            let _ = write!(self.out, "{} = ", r.join(", "));
        }
        let body = match &op.kind {
            OpKind::ConstInt { value } => format!("const_int {value}"),
            OpKind::ConstFloat { value } => format!("const_float {}", float(*value)),
            OpKind::Full { value } => format!("full {}", float(*value)),
            OpKind::ProgramId { axis } => format!("program_id {axis}"),
            OpKind::NumPrograms { axis } => format!("num_programs {axis}"),
            OpKind::SymDim { sym } => match self.k.syms.get(*sym as usize) {
                Some(s) if self.k.syms.iter().filter(|x| *x == s).count() == 1 => {
                    format!("sym_dim {}", name_text(s))
                }
                _ => format!("sym_dim #{sym}"),
            },
            OpKind::Arange { n } => format!("arange {n}"),
            OpKind::Binary { op, lhs, rhs } => {
                format!("binary {} {}, {}", binop_name(*op), self.v(*lhs), self.v(*rhs))
            }
            OpKind::Unary { op, x } => format!("unary {} {}", unop_name(*op), self.v(*x)),
            OpKind::Cmp { pred, lhs, rhs } => {
                format!("cmp {} {}, {}", cmp_name(*pred), self.v(*lhs), self.v(*rhs))
            }
            OpKind::Select { cond, a, b } => {
                format!("select {}, {}, {}", self.v(*cond), self.v(*a), self.v(*b))
            }
            OpKind::Cast { x, to } => format!("cast {} to {}", self.v(*x), to.name()),
            OpKind::Broadcast { x } => format!("broadcast {}", self.v(*x)),
            OpKind::ExpandDims { x, axis } => format!("expand_dims {}, axis = {}", self.v(*x), axis),
            OpKind::Transpose { x } => format!("transpose {}", self.v(*x)),
            OpKind::ConvertLayout { x } => format!("convert_layout {}", self.v(*x)),
            OpKind::Reduce { kind, x, axis } => {
                format!("reduce {} {}, axis = {}", reduce_name(*kind), self.v(*x), axis)
            }
            OpKind::Load { access, other } => {
                format!("load {} other = {}", self.access(access), float(*other))
            }
            OpKind::Store { access, value } => format!("store {}, {}", self.access(access), self.v(*value)),
            OpKind::AtomicAdd { access, value } => {
                format!("atomic_add {}, {}", self.access(access), self.v(*value))
            }
            OpKind::Dot { a, b, acc } => format!("dot {}, {}, {}", self.v(*a), self.v(*b), self.v(*acc)),
            OpKind::Dequant { x, scale, to } => match scale {
                Some(s) => format!("dequant {}, scale {} to {}", self.v(*x), self.v(*s), to.name()),
                None => format!("dequant {} to {}", self.v(*x), to.name()),
            },
            OpKind::Quantize {
                x,
                elem,
                spec,
                global,
            } => {
                let mut s = format!("quantize {} to {} {}", self.v(*x), elem.name(), scale_spec(spec));
                if let Some(g) = global {
                    let _ = write!(s, " global {}", self.v(*g));
                }
                s
            }
            OpKind::For {
                lo, hi, step, inits, ..
            } => {
                let i: Vec<String> = inits.iter().map(|v| self.v(*v)).collect();
                format!(
                    "for {} to {} step {} iter({})",
                    self.v(*lo),
                    self.v(*hi),
                    self.v(*step),
                    i.join(", ")
                )
            }
            OpKind::If { cond, .. } => format!("if {}", self.v(*cond)),
            OpKind::Yield { values } => {
                let v: Vec<String> = values.iter().map(|v| self.v(*v)).collect();
                if v.is_empty() {
                    "yield".to_string()
                } else {
                    format!("yield {}", v.join(", "))
                }
            }
        };
        self.out.push_str(&body);
        if !op.results.is_empty() {
            let t: Vec<String> = op.results.iter().map(|r| self.ty(*r)).collect();
            let _ = write!(self.out, " : {}", t.join(", "));
        }
        let _ = write!(self.out, " loc({}:{})", op.span.lo, op.span.hi);
        match &op.kind {
            OpKind::For { body, .. } => {
                self.out.push_str(" {\n");
                self.block(body, depth + 1, true);
                self.indent(depth);
                self.out.push_str("}\n");
            }
            OpKind::If {
                then_block,
                else_block,
                ..
            } => {
                self.out.push_str(" {\n");
                self.block(then_block, depth + 1, false);
                self.indent(depth);
                self.out.push_str("} else {\n");
                self.block(else_block, depth + 1, false);
                self.indent(depth);
                self.out.push_str("}\n");
            }
            _ => self.out.push('\n'),
        }
    }
}
