//! The checking context of one kernel: the IR under construction (value arena, op block stack), the
//! scopes of names, the kernel-level tables (params, tile params, syms) and the diagnostics sink.

use std::collections::HashMap;
use tessera_diag::{Diagnostic, Span};
use tessera_ir::{Bound, DType, Kernel, Op, OpKind, ParamId, TensorType, Type, ValueId};

/// Convert a source span to an IR span.
pub fn sp(s: Span) -> tessera_ir::Span {
    tessera_ir::Span::new(s.lo, s.hi)
}

/// A compile-time literal that has not been given a dtype yet (it adapts to the other operand).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lit {
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A tensor (parameter or bounded sub-view of one) named in an expression.
#[derive(Clone, Debug)]
pub struct ViewRef {
    pub t: TensorParam,
    pub bounds: Vec<Bound>,
}

/// The result of checking an expression.
#[derive(Clone, Debug)]
pub enum Ev {
    Val(ValueId),
    Lit(Lit),
    Tensor(ViewRef),
    /// Already reported; suppresses follow-on errors.
    Err,
}

/// What a name in a block scope stands for.
#[derive(Clone, Debug)]
pub enum Binding {
    /// `let`, loop variables.
    Let { ev: Ev, decl: Span },
    /// `var`: current SSA value (None = declared without value and not yet assigned) and its type.
    Var {
        value: Option<ValueId>,
        ty: Option<Type>,
        decl: Span,
    },
}

/// A tensor parameter as the checker sees it.
#[derive(Clone, Debug)]
pub struct TensorParam {
    pub id: ParamId,
    pub name: String,
    pub ty: TensorType,
    pub is_out: bool,
    /// Span of the parameter declaration.
    pub decl: Span,
    /// Span of its type (where a scale block is declared).
    pub ty_span: Span,
}

#[derive(Clone, Debug)]
pub enum ParamRef {
    Tensor(TensorParam),
    Scalar {
        value: ValueId,
        dtype: DType,
        decl: Span,
    },
}

#[derive(Clone, Debug)]
pub struct TileConst {
    pub value: i64,
    pub span: Span,
}

pub struct Cx {
    pub diags: Vec<Diagnostic>,
    pub k: Kernel,
    pub blocks: Vec<Vec<Op>>,
    pub scopes: Vec<HashMap<String, Binding>>,
    pub params: HashMap<String, ParamRef>,
    pub tiles: HashMap<String, TileConst>,
    pub syms: HashMap<String, u32>,
    /// E0143 was reported in this kernel.
    pub tile_limit_reported: bool,
}

impl Cx {
    pub fn new(k: Kernel) -> Cx {
        Cx {
            diags: Vec::new(),
            k,
            blocks: vec![Vec::new()],
            scopes: vec![HashMap::new()],
            params: HashMap::new(),
            tiles: HashMap::new(),
            syms: HashMap::new(),
            tile_limit_reported: false,
        }
    }

    pub fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Emit an op with one result per type into the innermost open block.
    pub fn emit(&mut self, kind: OpKind, tys: Vec<Type>, span: Span) -> Vec<ValueId> {
        self.tile_limit(&tys, span);
        let results: Vec<ValueId> = tys.into_iter().map(|t| self.k.new_value(t, None)).collect();
        let op = Op {
            kind,
            results: results.clone(),
            span: sp(span),
        };
        if let Some(b) = self.blocks.last_mut() {
            b.push(op);
        }
        results
    }

    /// A tile over `MAX_TILE_ELEMENTS` is E0143, reported once per kernel (every op downstream of
    /// the first one would repeat it).
    fn tile_limit(&mut self, tys: &[Type], span: Span) {
        if self.tile_limit_reported {
            return;
        }
        let Some(t) = tys
            .iter()
            .filter_map(Type::as_tile)
            .find(|t| t.elements() > tessera_ir::MAX_TILE_ELEMENTS)
        else {
            return;
        };
        self.tile_limit_reported = true;
        let shape: Vec<String> = t.shape.iter().map(u32::to_string).collect();
        let elements = match t.elements() {
            u64::MAX => "more than 2^64".to_string(),
            n => n.to_string(),
        };
        self.err(
            Diagnostic::error(
                tessera_diag::codes::TILE_TOO_LARGE,
                format!(
                    "tile [{}] has {elements} elements, more than the limit of {}",
                    shape.join(", "),
                    tessera_ir::MAX_TILE_ELEMENTS
                ),
                span,
                "this tile is too large",
            )
            .with_help(
                "use smaller tile parameters; a tile is what one program holds at once, and the grid \
                 covers the rest of the tensor",
            ),
        );
    }

    pub fn emit1(&mut self, kind: OpKind, ty: Type, span: Span) -> ValueId {
        let results: Vec<ValueId> = self.emit(kind, vec![ty.clone()], span);
        match results.first() {
            Some(v) => *v,
            // `emit` returns exactly one result per type given; this arm only satisfies the type checker.
            None => self.k.new_value(ty, None),
        }
    }

    /// Emit an op without results (store, atomic_add, yield).
    pub fn emit0(&mut self, kind: OpKind, span: Span) {
        self.emit(kind, Vec::new(), span);
    }

    pub fn ty(&self, v: ValueId) -> Type {
        self.k.ty(v).clone()
    }

    /// Give a value its source name (for the IR printer) unless it already has one.
    pub fn name_value(&mut self, v: ValueId, name: &str) {
        if let Some(info) = self.k.values.get_mut(v.0 as usize)
            && info.name.is_none()
        {
            info.name = Some(name.to_string());
        }
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(HashMap::new());
    }

    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    pub fn bind(&mut self, name: &str, b: Binding) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(name.to_string(), b);
        }
    }

    /// The index of the scope where `name` resolves to a binding.
    pub fn scope_of(&self, name: &str) -> Option<usize> {
        (0..self.scopes.len())
            .rev()
            .find(|i| self.scopes[*i].contains_key(name))
    }

    pub fn binding(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    pub fn binding_at_mut(&mut self, scope: usize, name: &str) -> Option<&mut Binding> {
        self.scopes.get_mut(scope).and_then(|s| s.get_mut(name))
    }

    /// Every name visible now (for "did you mean" suggestions).
    pub fn visible_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        v.extend(self.params.keys().cloned());
        v.extend(self.tiles.keys().cloned());
        v.extend(self.syms.keys().cloned());
        v.sort();
        v.dedup();
        v
    }
}
