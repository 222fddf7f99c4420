//! A small programmatic builder for kernels: used by tests of the IR, the interpreter and passes to
//! write IR by hand without a front end. It only assembles data; it checks nothing (run
//! [`crate::verify_kernel`] on the result).

use crate::{
    BinOp, Block, DType, DimExpr, Kernel, Op, OpKind, Param, ParamId, ParamKind, Span, TensorType, TileParam,
    TileType, Type, ValueId,
};

/// Builds a [`Kernel`]; ops go into the innermost open block.
#[derive(Debug)]
pub struct KernelBuilder {
    k: Kernel,
    /// Open blocks; `[0]` is the body.
    stack: Vec<Block>,
    /// The span given to ops built next (tests set distinct spans to check error locations).
    pub span: Span,
}

impl KernelBuilder {
    pub fn new(name: &str) -> KernelBuilder {
        KernelBuilder {
            k: Kernel {
                name: name.to_string(),
                span: Span::default(),
                params: Vec::new(),
                syms: Vec::new(),
                tiles: Vec::new(),
                grid: Vec::new(),
                body: Block::default(),
                values: Vec::new(),
                attrs: Vec::new(),
                cta: None,
            },
            stack: vec![Block::default()],
            span: Span::default(),
        }
    }

    /// A tensor parameter; symbolic dims it names are added to `syms` in first-appearance order.
    pub fn tensor(&mut self, name: &str, ty: TensorType, is_out: bool) -> ParamId {
        for d in &ty.dims {
            let s = match d {
                crate::Dim::Sym(s) | crate::Dim::CeilDiv(s, _) => s,
                crate::Dim::Const(_) => continue,
            };
            if !self.k.syms.contains(s) {
                self.k.syms.push(s.clone());
            }
        }
        self.k.params.push(Param {
            name: name.to_string(),
            kind: ParamKind::Tensor { ty, is_out },
            span: self.span,
        });
        ParamId(self.k.params.len() as u32 - 1)
    }

    /// A scalar parameter; returns the body argument that holds it.
    pub fn scalar(&mut self, name: &str, dtype: DType) -> ValueId {
        self.k.params.push(Param {
            name: name.to_string(),
            kind: ParamKind::Scalar(dtype),
            span: self.span,
        });
        let v = self.k.new_value(Type::Scalar(dtype), Some(name.to_string()));
        self.stack[0].args.push(v);
        v
    }

    pub fn tile_param(&mut self, name: &str, value: i64, candidates: Vec<i64>) {
        self.k.tiles.push(TileParam {
            name: name.to_string(),
            value,
            candidates,
            span: self.span,
        });
    }

    pub fn grid(&mut self, grid: Vec<DimExpr>) {
        self.k.grid = grid;
    }

    pub fn attr(&mut self, key: &str, value: &str) {
        self.k.attrs.push((key.to_string(), value.to_string()));
    }

    /// Index of symbolic dim `name` in `syms` (added if new).
    pub fn sym_index(&mut self, name: &str) -> u32 {
        match self.k.syms.iter().position(|s| s == name) {
            Some(i) => i as u32,
            None => {
                self.k.syms.push(name.to_string());
                self.k.syms.len() as u32 - 1
            }
        }
    }

    /// Append an op with results of the given types.
    pub fn op(&mut self, kind: OpKind, result_types: Vec<Type>) -> Vec<ValueId> {
        let results: Vec<ValueId> = result_types
            .into_iter()
            .map(|t| self.k.new_value(t, None))
            .collect();
        let op = Op {
            kind,
            results: results.clone(),
            span: self.span,
        };
        if let Some(b) = self.stack.last_mut() {
            b.ops.push(op);
        }
        results
    }

    /// Append an op with exactly one result.
    pub fn op1(&mut self, kind: OpKind, ty: Type) -> ValueId {
        let r = self.op(kind, vec![ty]);
        r[0]
    }

    /// Name a value (as a `let` would).
    pub fn name(&mut self, v: ValueId, name: &str) -> ValueId {
        if let Some(i) = self.k.values.get_mut(v.0 as usize) {
            i.name = Some(name.to_string());
        }
        v
    }

    pub fn i32(&mut self, v: i64) -> ValueId {
        self.op1(OpKind::ConstInt { value: v }, Type::Scalar(DType::I32))
    }

    pub fn f32(&mut self, v: f64) -> ValueId {
        self.op1(OpKind::ConstFloat { value: v }, Type::Scalar(DType::F32))
    }

    /// A binary op whose result has the type of `lhs` (elementwise rule).
    pub fn bin(&mut self, op: BinOp, lhs: ValueId, rhs: ValueId) -> ValueId {
        let ty = self.k.ty(lhs).clone();
        self.op1(OpKind::Binary { op, lhs, rhs }, ty)
    }

    pub fn full(&mut self, value: f64, dtype: DType, shape: Vec<u32>) -> ValueId {
        self.op1(OpKind::Full { value }, Type::Tile(TileType::plain(dtype, shape)))
    }

    pub fn ty(&self, v: ValueId) -> Type {
        self.k.ty(v).clone()
    }

    /// Open a nested block with arguments of the given types; returns the argument values.
    pub fn begin_block(&mut self, arg_types: Vec<Type>) -> Vec<ValueId> {
        let args: Vec<ValueId> = arg_types.into_iter().map(|t| self.k.new_value(t, None)).collect();
        self.stack.push(Block {
            args: args.clone(),
            ops: Vec::new(),
        });
        args
    }

    /// Close the innermost nested block (the body itself is never closed by this).
    pub fn end_block(&mut self) -> Block {
        if self.stack.len() > 1 {
            self.stack.pop().unwrap_or_default()
        } else {
            Block::default()
        }
    }

    /// A `for lo..hi step step` loop: `body(builder, iv, carried) -> next carried`.
    pub fn for_loop(
        &mut self,
        lo: ValueId,
        hi: ValueId,
        step: ValueId,
        inits: Vec<ValueId>,
        body: impl FnOnce(&mut KernelBuilder, ValueId, &[ValueId]) -> Vec<ValueId>,
    ) -> Vec<ValueId> {
        let tys: Vec<Type> = inits.iter().map(|v| self.ty(*v)).collect();
        let mut arg_tys = vec![Type::Scalar(DType::I32)];
        arg_tys.extend(tys.iter().cloned());
        let args = self.begin_block(arg_tys);
        let next = body(self, args[0], &args[1..]);
        self.op(OpKind::Yield { values: next }, vec![]);
        let blk = self.end_block();
        self.op(
            OpKind::For {
                lo,
                hi,
                step,
                inits,
                body: blk,
            },
            tys,
        )
    }

    pub fn finish(mut self) -> Kernel {
        self.k.body = std::mem::take(&mut self.stack[0]);
        self.k
    }
}
