//! The AST of a .tsr file. Every node carries the byte span it came from; error nodes stand where a
//! statement or item could not be parsed (its diagnostic is already reported).

pub use tessera_diag::Span;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Ast {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Kernel(KernelDef),
    Error(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// An integer literal; `value` is `None` when it does not fit in u64 (the checker reports E0007).
#[derive(Clone, Debug, PartialEq)]
pub struct IntLit {
    pub value: Option<u64>,
    pub span: Span,
}

/// `@name(arg, key = value, ...)` before a kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub name: Ident,
    pub args: Vec<AttrArg>,
    pub span: Span,
}

/// One argument of an attribute. The parser accepts both kinds in any order; which order and which
/// keys are valid is the checker's business, so it can report them with codes.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrArg {
    /// A bare name: `gemm` in `@reference(gemm)`.
    Name(Ident),
    /// `key = value`: an option, e.g. `causal = true`.
    Option {
        key: Ident,
        value: AttrValue,
        span: Span,
    },
}

impl AttrArg {
    pub fn span(&self) -> Span {
        match self {
            AttrArg::Name(i) => i.span,
            AttrArg::Option { span, .. } => *span,
        }
    }
}

/// The value of an attribute option: a name (a parameter, or a word such as `relu`), an integer
/// literal, or `true` / `false` (keywords, so they cannot be names). A float literal parses too,
/// so that the checker can say why it is refused (E0109) instead of a bare parse error.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Name(Ident),
    Int(IntLit),
    Bool(bool, Span),
    Float(String, Span),
}

impl AttrValue {
    pub fn span(&self) -> Span {
        match self {
            AttrValue::Name(i) => i.span,
            AttrValue::Int(i) => i.span,
            AttrValue::Bool(_, s) | AttrValue::Float(_, s) => *s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct KernelDef {
    pub attrs: Vec<Attr>,
    pub name: Ident,
    pub params: Vec<ParamDef>,
    pub tiles: Vec<TileDef>,
    /// `grid(e0, e1, e2)` and the span of the whole clause.
    pub grid: Option<(Vec<Expr>, Span)>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamDef {
    pub name: Ident,
    /// Span of the `out` keyword when present.
    pub out: Option<Span>,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `name<args>[dims]`: `f32`, `bf16[M, K]`, `mx<f4e2m1, axis = 0>[N, K]`, `f32` inside `zeros<f32>`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub name: Ident,
    pub args: Vec<TypeArg>,
    pub dims: Option<Vec<DimDef>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeArg {
    Type(TypeExpr),
    Named(Ident, ArgValue),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    Int(IntLit),
    Ident(Ident),
    List(Vec<IntLit>, Span),
}

impl ArgValue {
    pub fn span(&self) -> Span {
        match self {
            ArgValue::Int(i) => i.span,
            ArgValue::Ident(i) => i.span,
            ArgValue::List(_, s) => *s,
        }
    }
}

/// One dimension of a tensor parameter type.
#[derive(Clone, Debug, PartialEq)]
pub enum DimDef {
    Sym(Ident),
    Const(IntLit),
    /// `K / 32`: ceil(K / 32).
    Div(Ident, IntLit, Span),
}

impl DimDef {
    pub fn span(&self) -> Span {
        match self {
            DimDef::Sym(i) => i.span,
            DimDef::Const(i) => i.span,
            DimDef::Div(_, _, s) => *s,
        }
    }
}

/// `NAME = default [in [candidates]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TileDef {
    pub name: Ident,
    pub value: IntLit,
    pub candidates: Option<Vec<IntLit>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

// Statements are built once per parse and walked once by the checker; boxing the large variants
// would only add noise to every pattern match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
    Var {
        name: Ident,
        value: Option<Expr>,
        span: Span,
    },
    Assign {
        name: Ident,
        value: Expr,
        span: Span,
    },
    For {
        var: Ident,
        lo: Expr,
        hi: Expr,
        step: Option<Expr>,
        body: Block,
        span: Span,
    },
    If {
        cond: Expr,
        then_block: Block,
        else_block: Option<Block>,
        span: Span,
    },
    Expr {
        expr: Expr,
        span: Span,
    },
    Error(Span),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { span, .. }
            | Stmt::Var { span, .. }
            | Stmt::Assign { span, .. }
            | Stmt::For { span, .. }
            | Stmt::If { span, .. }
            | Stmt::Expr { span, .. } => *span,
            Stmt::Error(s) => *s,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(Option<u64>),
    Float(f64),
    Bool(bool),
    Name(String),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `name<targs>[shape](args)`: builtin calls; `targs`/`shape` only for the generic builtins
    /// (zeros, full, cast, dequant, quantize).
    Call {
        name: Ident,
        targs: Vec<TypeExpr>,
        shape: Option<Vec<Expr>>,
        args: Vec<Arg>,
    },
    /// `base[i, ...]`: a tensor view, or `x[:, None]` on a tile.
    Index {
        base: Box<Expr>,
        items: Vec<IndexItem>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum IndexItem {
    /// A scalar coordinate or an index tile.
    Expr(Expr),
    /// `start .. +size`.
    Sized { start: Expr, size: Expr, span: Span },
    /// `lo .. hi` (bounded sub-views only).
    Range { lo: Expr, hi: Expr, span: Span },
    /// `:`.
    Full(Span),
    /// `None`.
    NewAxis(Span),
}

impl IndexItem {
    pub fn span(&self) -> Span {
        match self {
            IndexItem::Expr(e) => e.span,
            IndexItem::Sized { span, .. } | IndexItem::Range { span, .. } => *span,
            IndexItem::Full(s) | IndexItem::NewAxis(s) => *s,
        }
    }
}

/// A binary expression node spanning `[l, r)` (used by the grammar).
pub fn bin(op: BinaryOp, a: Expr, b: Expr, l: usize, r: usize) -> Expr {
    Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        span: Span::new(l as u32, r as u32),
    }
}
