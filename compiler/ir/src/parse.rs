//! The IR text form, parser side: reads what [`crate::print_module`] writes back into an identical
//! [`Module`]. Hand-written recursive descent over characters; every error is an [`IrParseError`]
//! with a 1-based line:column, never a panic.

use crate::print::{binop_name, cmp_name, reduce_name, unop_name};
use crate::{
    Access, BinOp, Block, Bound, CmpPred, DType, Dim, DimExpr, Index, Kernel, Module, Op, OpKind, Param,
    ParamId, ParamKind, ReduceKind, ScaleLayout, ScaleSpec, Span, TensorType, TileLayout, TileParam,
    TileType, Type, UnOp, ValueId, ValueInfo,
};

/// A located error in IR text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("IR parse error at {line}:{col}: {message}")]
pub struct IrParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parse a module printed by [`crate::print_module`].
pub fn parse_module(text: &str) -> Result<Module, IrParseError> {
    let mut p = P {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    p.ws();
    p.keyword("module")?;
    let source_name = p.string()?;
    let mut kernels = Vec::new();
    loop {
        p.ws();
        if p.pos >= p.s.len() {
            break;
        }
        kernels.push(p.kernel()?);
    }
    Ok(Module { source_name, kernels })
}

const BINOPS: [BinOp; 9] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Rem,
    BinOp::Max,
    BinOp::Min,
    BinOp::And,
    BinOp::Or,
];
const UNOPS: [UnOp; 9] = [
    UnOp::Neg,
    UnOp::Abs,
    UnOp::Exp,
    UnOp::Exp2,
    UnOp::Log,
    UnOp::Log2,
    UnOp::Sqrt,
    UnOp::Rsqrt,
    UnOp::Not,
];
const CMPS: [CmpPred; 6] = [
    CmpPred::Lt,
    CmpPred::Le,
    CmpPred::Gt,
    CmpPred::Ge,
    CmpPred::Eq,
    CmpPred::Ne,
];
const REDUCES: [ReduceKind; 3] = [ReduceKind::Sum, ReduceKind::Max, ReduceKind::Min];

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

/// Per-kernel state: the value arena being rebuilt (slots filled as definitions are read).
struct KCtx {
    values: Vec<Option<ValueInfo>>,
    max_id: usize,
    params: Vec<Param>,
    syms: Vec<String>,
}

impl KCtx {
    fn define(&mut self, id: u32, name: Option<String>, ty: Type) -> Result<(), String> {
        let i = id as usize;
        // Every value is defined somewhere in the text, so ids beyond its length are bogus (and
        // would make the arena allocation explode).
        if i > self.max_id {
            return Err(format!("value id %{id} is larger than this text can define"));
        }
        if self.values.len() <= i {
            self.values.resize(i + 1, None);
        }
        if self.values[i].is_some() {
            return Err(format!("value %{id} is defined twice"));
        }
        self.values[i] = Some(ValueInfo { ty, name });
        Ok(())
    }
}

impl<'a> P<'a> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, IrParseError> {
        Err(self.err_at(self.pos, message))
    }

    fn err_at(&self, pos: usize, message: impl Into<String>) -> IrParseError {
        let before = &self.text[..pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        IrParseError {
            line,
            col,
            message: message.into(),
        }
    }

    /// Skip whitespace and `//` comments.
    fn ws(&mut self) {
        loop {
            while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if self.s[self.pos..].starts_with(b"//") {
                while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                return;
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.s[self.pos..].starts_with(tok.as_bytes()) {
            // A word token must not run into more word characters (`for` vs `format`).
            let word = tok.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let next = self.s.get(self.pos + tok.len()).copied();
            if word && next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return false;
            }
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &str) -> Result<(), IrParseError> {
        if self.eat(tok) {
            Ok(())
        } else {
            let found = self.found();
            self.err(format!("expected `{tok}`, found {found}"))
        }
    }

    fn keyword(&mut self, kw: &str) -> Result<(), IrParseError> {
        self.expect(kw)
    }

    fn found(&mut self) -> String {
        self.ws();
        match self.text[self.pos..].chars().next() {
            None => "end of input".to_string(),
            Some(_) => {
                let w: String = self.text[self.pos..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .take(16)
                    .collect();
                format!("`{w}`")
            }
        }
    }

    fn ident(&mut self) -> Result<String, IrParseError> {
        self.ws();
        let start = self.pos;
        match self.s.get(self.pos) {
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
            Some(b'"') => return self.string(),
            _ => {
                let f = self.found();
                return self.err(format!("expected a name, found {f}"));
            }
        }
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
        {
            self.pos += 1;
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn string(&mut self) -> Result<String, IrParseError> {
        self.ws();
        if self.s.get(self.pos) != Some(&b'"') {
            let f = self.found();
            return self.err(format!("expected a string literal, found {f}"));
        }
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.text[self.pos..].chars().next() else {
                return Err(self.err_at(start, "unterminated string literal"));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        return Err(self.err_at(start, "unterminated string literal"));
                    };
                    self.pos += e.len_utf8();
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'u' => {
                            self.expect("{")?;
                            let hs = self.pos;
                            while self.pos < self.s.len() && self.s[self.pos].is_ascii_hexdigit() {
                                self.pos += 1;
                            }
                            let ch = u32::from_str_radix(&self.text[hs..self.pos], 16)
                                .ok()
                                .and_then(char::from_u32);
                            let Some(ch) = ch else {
                                return self.err("invalid \\u{..} escape");
                            };
                            out.push(ch);
                            self.expect("}")?;
                        }
                        _ => return self.err(format!("unknown escape `\\{e}`")),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn int(&mut self) -> Result<i64, IrParseError> {
        self.ws();
        let start = self.pos;
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        match self.text[start..self.pos].parse::<i64>() {
            Ok(v) => Ok(v),
            Err(_) => {
                self.pos = start;
                let f = self.found();
                self.err(format!("expected an integer, found {f}"))
            }
        }
    }

    fn uint<T: TryFrom<i64>>(&mut self, what: &str) -> Result<T, IrParseError> {
        let start = self.pos;
        let v = self.int()?;
        T::try_from(v).map_err(|_| self.err_at(start, format!("{what} {v} is out of range")))
    }

    fn float(&mut self) -> Result<f64, IrParseError> {
        self.ws();
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || matches!(self.s[self.pos], b'.' | b'-' | b'+'))
        {
            self.pos += 1;
        }
        let w = &self.text[start..self.pos];
        match w.parse::<f64>() {
            Ok(v) => Ok(v),
            Err(_) => Err(self.err_at(start, format!("expected a float literal, found `{w}`"))),
        }
    }

    fn span(&mut self) -> Result<Span, IrParseError> {
        self.expect("loc")?;
        self.expect("(")?;
        let lo = self.uint("span start")?;
        self.expect(":")?;
        let hi = self.uint("span end")?;
        self.expect(")")?;
        Ok(Span { lo, hi })
    }

    fn dtype(&mut self) -> Result<DType, IrParseError> {
        let start = self.pos;
        let n = self.ident()?;
        DType::from_name(&n).ok_or_else(|| self.err_at(start, format!("unknown dtype `{n}`")))
    }

    fn list<T>(
        &mut self,
        open: &str,
        close: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, IrParseError>,
    ) -> Result<Vec<T>, IrParseError> {
        self.expect(open)?;
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(",")?;
        }
    }

    fn scale_spec(&mut self) -> Result<ScaleSpec, IrParseError> {
        self.expect("scale")?;
        self.expect("<")?;
        let scale_dtype = self.dtype()?;
        self.expect(",")?;
        self.expect("block")?;
        self.expect("=")?;
        let block = self.list("[", "]", |p| p.uint("block extent"))?;
        self.expect(",")?;
        let global = self.eat("global");
        if global {
            self.expect(",")?;
        }
        self.expect("layout")?;
        self.expect("=")?;
        let start = self.pos;
        let l = self.ident()?;
        let layout = ScaleLayout::from_name(&l)
            .ok_or_else(|| self.err_at(start, format!("unknown scale layout `{l}`")))?;
        self.expect(">")?;
        Ok(ScaleSpec {
            scale_dtype,
            block,
            global,
            layout,
        })
    }

    /// `<reg = [(..), ..], lane = [..], warp = [..]>` after `#dist`.
    fn linear_layout(&mut self) -> Result<crate::LinearLayout, IrParseError> {
        self.expect("<")?;
        let mut parts = Vec::new();
        for (i, key) in ["reg", "lane", "warp"].iter().enumerate() {
            if i > 0 {
                self.expect(",")?;
            }
            self.expect(key)?;
            self.expect("=")?;
            parts.push(self.list("[", "]", |p| p.list("(", ")", |p| p.uint("basis coordinate")))?);
        }
        self.expect(">")?;
        let warp = parts.pop().unwrap_or_default();
        let lane = parts.pop().unwrap_or_default();
        let reg = parts.pop().unwrap_or_default();
        Ok(crate::LinearLayout { reg, lane, warp })
    }

    /// `<order = [..], vec = V, per_phase = P, max_phase = M>` after `#shared`.
    fn shared_layout(&mut self) -> Result<crate::SharedLayout, IrParseError> {
        self.expect("<")?;
        self.expect("order")?;
        self.expect("=")?;
        let order = self.list("[", "]", |p| p.uint("dim"))?;
        let field = |p: &mut Self, key: &str| -> Result<u32, IrParseError> {
            p.expect(",")?;
            p.expect(key)?;
            p.expect("=")?;
            p.uint(key)
        };
        let vec = field(self, "vec")?;
        let per_phase = field(self, "per_phase")?;
        let max_phase = field(self, "max_phase")?;
        self.expect(">")?;
        Ok(crate::SharedLayout {
            order,
            vec,
            per_phase,
            max_phase,
        })
    }

    fn ty(&mut self) -> Result<Type, IrParseError> {
        if self.eat("tile") {
            self.expect("<")?;
            let shape = self.list("[", "]", |p| p.uint("tile extent"))?;
            self.expect(",")?;
            let dtype = self.dtype()?;
            let mut scale = None;
            let mut layout = TileLayout::Logical;
            while self.eat(",") {
                if self.eat("#dist") {
                    layout = TileLayout::Dist(self.linear_layout()?);
                } else if self.eat("#shared") {
                    layout = TileLayout::Shared(self.shared_layout()?);
                } else {
                    scale = Some(self.scale_spec()?);
                }
            }
            self.expect(">")?;
            Ok(Type::Tile(TileType {
                dtype,
                shape,
                scale,
                layout,
            }))
        } else {
            Ok(Type::Scalar(self.dtype()?))
        }
    }

    fn dim(&mut self) -> Result<Dim, IrParseError> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => Ok(Dim::Const(self.uint("dim")?)),
            _ => {
                let n = self.ident()?;
                if n == "cdiv" && self.peek() == Some(b'(') {
                    self.expect("(")?;
                    let s = self.ident()?;
                    self.expect(",")?;
                    let by = self.uint("block")?;
                    self.expect(")")?;
                    Ok(Dim::CeilDiv(s, by))
                } else {
                    Ok(Dim::Sym(n))
                }
            }
        }
    }

    fn dim_expr(&mut self) -> Result<DimExpr, IrParseError> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == b'-' => Ok(DimExpr::Const(self.int()?)),
            _ => {
                let n = self.ident()?;
                if self.peek() != Some(b'(') {
                    return Ok(DimExpr::Sym(n));
                }
                let ctor: fn(Box<DimExpr>, Box<DimExpr>) -> DimExpr = match n.as_str() {
                    "add" => DimExpr::Add,
                    "sub" => DimExpr::Sub,
                    "mul" => DimExpr::Mul,
                    "floordiv" => DimExpr::FloorDiv,
                    "cdiv" => DimExpr::CeilDiv,
                    "max" => DimExpr::Max,
                    "min" => DimExpr::Min,
                    _ => return self.err(format!("unknown grid function `{n}`")),
                };
                self.expect("(")?;
                let a = self.dim_expr()?;
                self.expect(",")?;
                let b = self.dim_expr()?;
                self.expect(")")?;
                Ok(ctor(Box::new(a), Box::new(b)))
            }
        }
    }

    fn kernel(&mut self) -> Result<Kernel, IrParseError> {
        self.keyword("kernel")?;
        self.expect("@")?;
        let name = self.ident()?;
        let params = self.list("(", ")", |p| {
            let name = p.ident()?;
            p.expect(":")?;
            let is_out = p.eat("out");
            let dtype = p.dtype()?;
            let kind = if p.peek() == Some(b'[') {
                let dims = p.list("[", "]", |p| p.dim())?;
                let scale = if p.peek() == Some(b's') {
                    Some(p.scale_spec()?)
                } else {
                    None
                };
                let packed_axis = if p.eat("packed") {
                    p.expect("=")?;
                    Some(p.uint("packed axis")?)
                } else {
                    None
                };
                ParamKind::Tensor {
                    ty: TensorType {
                        dtype,
                        dims,
                        scale,
                        packed_axis,
                    },
                    is_out,
                }
            } else if is_out {
                return p.err("`out` applies to tensor parameters only");
            } else {
                ParamKind::Scalar(dtype)
            };
            let span = p.span()?;
            Ok(Param { name, kind, span })
        })?;
        let span = self.span()?;
        let attrs = if self.eat("attrs") {
            self.list("{", "}", |p| {
                let k = p.ident()?;
                p.expect("=")?;
                Ok((k, p.string()?))
            })?
        } else {
            Vec::new()
        };
        self.keyword("syms")?;
        let syms = self.list("[", "]", |p| p.ident())?;
        self.keyword("tiles")?;
        let tiles = self.list("{", "}", |p| {
            let name = p.ident()?;
            p.expect("=")?;
            let value = p.int()?;
            p.expect("in")?;
            let candidates = p.list("[", "]", |p| p.int())?;
            let span = p.span()?;
            Ok(TileParam {
                name,
                value,
                candidates,
                span,
            })
        })?;
        self.keyword("grid")?;
        let grid = self.list("(", ")", |p| p.dim_expr())?;
        let cta = if self.eat("cta") {
            self.expect("{")?;
            self.expect("warps")?;
            self.expect("=")?;
            let warps: u32 = self.uint("warps")?;
            self.expect(",")?;
            self.expect("warp_size")?;
            self.expect("=")?;
            let size: u32 = self.uint("warp size")?;
            self.expect("}")?;
            if !warps.is_power_of_two() || !size.is_power_of_two() {
                return self.err("cta warps and warp_size must be powers of two");
            }
            Some(crate::Cta {
                lane_bits: size.trailing_zeros(),
                warp_bits: warps.trailing_zeros(),
            })
        } else {
            None
        };
        let mut cx = KCtx {
            values: Vec::new(),
            max_id: self.s.len(),
            params,
            syms,
        };
        if self.eat("dead") {
            self.list("{", "}", |p| p.def(&mut cx))?;
        }
        self.expect("{")?;
        let body = self.block(&mut cx, "}")?;
        self.expect("}")?;
        let mut values = Vec::with_capacity(cx.values.len());
        for (i, v) in cx.values.into_iter().enumerate() {
            match v {
                Some(v) => values.push(v),
                None => return self.err(format!("kernel `{name}`: value %{i} is used but never defined")),
            }
        }
        Ok(Kernel {
            name,
            span,
            params: cx.params,
            syms: cx.syms,
            tiles,
            grid,
            body,
            values,
            attrs,
            cta,
        })
    }

    /// `%name.id` or `%id` → (name, id).
    fn value_ref(&mut self) -> Result<(Option<String>, u32), IrParseError> {
        self.ws();
        let start = self.pos;
        if !self.eat("%") {
            let f = self.found();
            return self.err(format!("expected a value (`%...`), found {f}"));
        }
        let name = match self.s.get(self.pos) {
            Some(c) if c.is_ascii_digit() => None,
            _ => {
                let n = self.ident()?;
                if !self.eat(".") {
                    return Err(self.err_at(start, format!("value `%{n}` lacks its `.id` suffix")));
                }
                Some(n)
            }
        };
        if !self.s.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            return self.err("expected the value id digits");
        }
        let id = self.uint("value id")?;
        Ok((name, id))
    }

    fn use_value(&mut self, cx: &KCtx) -> Result<ValueId, IrParseError> {
        let start = self.pos;
        let (_, id) = self.value_ref()?;
        // Uses may come before definitions only for values listed in `dead`; the verifier judges
        // dominance. Here we only require the id to be defined somewhere by the end of the kernel.
        let _ = (cx, start);
        Ok(ValueId(id))
    }

    fn def(&mut self, cx: &mut KCtx) -> Result<ValueId, IrParseError> {
        let start = self.pos;
        let (name, id) = self.value_ref()?;
        self.expect(":")?;
        let ty = self.ty()?;
        cx.define(id, name, ty).map_err(|m| self.err_at(start, m))?;
        Ok(ValueId(id))
    }

    /// Ops until `close` (not consumed). An optional `^(args):` header comes first.
    fn block(&mut self, cx: &mut KCtx, close: &str) -> Result<Block, IrParseError> {
        let args = if self.peek() == Some(b'^') {
            self.expect("^")?;
            let a = self.list("(", ")", |p| p.def(cx))?;
            self.expect(":")?;
            a
        } else {
            Vec::new()
        };
        let mut ops = Vec::new();
        loop {
            self.ws();
            if self.s[self.pos..].starts_with(close.as_bytes()) {
                return Ok(Block { args, ops });
            }
            if self.pos >= self.s.len() {
                return self.err(format!("unterminated block: expected `{close}`"));
            }
            ops.push(self.op(cx)?);
        }
    }

    fn param_ref(&mut self, cx: &KCtx) -> Result<ParamId, IrParseError> {
        self.expect("@")?;
        if self.eat("#") {
            let i: u32 = self.uint("parameter index")?;
            return Ok(ParamId(i));
        }
        let start = self.pos;
        let n = self.ident()?;
        match cx.params.iter().position(|p| p.name == n) {
            Some(i) => Ok(ParamId(i as u32)),
            None => Err(self.err_at(start, format!("unknown parameter `@{n}`"))),
        }
    }

    fn access(&mut self, cx: &KCtx) -> Result<Access, IrParseError> {
        let tensor = self.param_ref(cx)?;
        let index = self.list("[", "]", |p| {
            if p.eat("gather") {
                return Ok(Index::Gather(p.use_value(cx)?));
            }
            let v = p.use_value(cx)?;
            if p.eat("..") {
                p.expect("+")?;
                let size = p.uint("range size")?;
                Ok(Index::Range { start: v, size })
            } else {
                Ok(Index::Point(v))
            }
        })?;
        let bounds = if self.eat("bounds") {
            self.list("[", "]", |p| {
                let opt = |p: &mut Self| -> Result<Option<ValueId>, IrParseError> {
                    if p.eat("_") {
                        Ok(None)
                    } else {
                        Ok(Some(p.use_value(cx)?))
                    }
                };
                let lo = opt(p)?;
                p.expect("..")?;
                let hi = opt(p)?;
                Ok(Bound { lo, hi })
            })?
        } else {
            vec![Bound::default(); index.len()]
        };
        Ok(Access {
            tensor,
            index,
            bounds,
        })
    }

    fn named<T: Copy>(
        &mut self,
        all: &[T],
        name: fn(T) -> &'static str,
        what: &str,
    ) -> Result<T, IrParseError> {
        let start = self.pos;
        let n = self.ident()?;
        all.iter()
            .copied()
            .find(|x| name(*x) == n)
            .ok_or_else(|| self.err_at(start, format!("unknown {what} `{n}`")))
    }

    fn op(&mut self, cx: &mut KCtx) -> Result<Op, IrParseError> {
        // Results: `%a.1, %2 = ` (types come after the op's operands).
        let mut results = Vec::new();
        if self.peek() == Some(b'%') {
            loop {
                let start = self.pos;
                let (name, id) = self.value_ref()?;
                results.push((start, name, id));
                if !self.eat(",") {
                    break;
                }
            }
            self.expect("=")?;
        }
        let op_start = self.pos;
        let mn = self.ident()?;
        let kind = match mn.as_str() {
            "const_int" => OpKind::ConstInt { value: self.int()? },
            "const_float" => OpKind::ConstFloat { value: self.float()? },
            "full" => OpKind::Full { value: self.float()? },
            "program_id" => OpKind::ProgramId {
                axis: self.uint("axis")?,
            },
            "num_programs" => OpKind::NumPrograms {
                axis: self.uint("axis")?,
            },
            "sym_dim" => {
                if self.eat("#") {
                    OpKind::SymDim {
                        sym: self.uint("sym index")?,
                    }
                } else {
                    let start = self.pos;
                    let n = self.ident()?;
                    match cx.syms.iter().position(|s| *s == n) {
                        Some(i) => OpKind::SymDim { sym: i as u32 },
                        None => return Err(self.err_at(start, format!("unknown symbolic dim `{n}`"))),
                    }
                }
            }
            "arange" => OpKind::Arange {
                n: self.uint("arange length")?,
            },
            "binary" => {
                let op = self.named(&BINOPS, binop_name, "binary op")?;
                let lhs = self.use_value(cx)?;
                self.expect(",")?;
                OpKind::Binary {
                    op,
                    lhs,
                    rhs: self.use_value(cx)?,
                }
            }
            "unary" => {
                let op = self.named(&UNOPS, unop_name, "unary op")?;
                OpKind::Unary {
                    op,
                    x: self.use_value(cx)?,
                }
            }
            "cmp" => {
                let pred = self.named(&CMPS, cmp_name, "comparison")?;
                let lhs = self.use_value(cx)?;
                self.expect(",")?;
                OpKind::Cmp {
                    pred,
                    lhs,
                    rhs: self.use_value(cx)?,
                }
            }
            "select" => {
                let cond = self.use_value(cx)?;
                self.expect(",")?;
                let a = self.use_value(cx)?;
                self.expect(",")?;
                OpKind::Select {
                    cond,
                    a,
                    b: self.use_value(cx)?,
                }
            }
            "cast" => {
                let x = self.use_value(cx)?;
                self.expect("to")?;
                OpKind::Cast { x, to: self.dtype()? }
            }
            "broadcast" => OpKind::Broadcast {
                x: self.use_value(cx)?,
            },
            "expand_dims" => {
                let x = self.use_value(cx)?;
                self.expect(",")?;
                self.expect("axis")?;
                self.expect("=")?;
                OpKind::ExpandDims {
                    x,
                    axis: self.uint("axis")?,
                }
            }
            "convert_layout" => OpKind::ConvertLayout {
                x: self.use_value(cx)?,
            },
            "transpose" => OpKind::Transpose {
                x: self.use_value(cx)?,
            },
            "reduce" => {
                let kind = self.named(&REDUCES, reduce_name, "reduction")?;
                let x = self.use_value(cx)?;
                self.expect(",")?;
                self.expect("axis")?;
                self.expect("=")?;
                OpKind::Reduce {
                    kind,
                    x,
                    axis: self.uint("axis")?,
                }
            }
            "load" => {
                let access = self.access(cx)?;
                self.expect("other")?;
                self.expect("=")?;
                OpKind::Load {
                    access,
                    other: self.float()?,
                }
            }
            "store" | "atomic_add" => {
                let access = self.access(cx)?;
                self.expect(",")?;
                let value = self.use_value(cx)?;
                if mn == "store" {
                    OpKind::Store { access, value }
                } else {
                    OpKind::AtomicAdd { access, value }
                }
            }
            "dot" => {
                let a = self.use_value(cx)?;
                self.expect(",")?;
                let b = self.use_value(cx)?;
                self.expect(",")?;
                OpKind::Dot {
                    a,
                    b,
                    acc: self.use_value(cx)?,
                }
            }
            "dequant" => {
                let x = self.use_value(cx)?;
                let scale = if self.eat(",") {
                    self.expect("scale")?;
                    Some(self.use_value(cx)?)
                } else {
                    None
                };
                self.expect("to")?;
                OpKind::Dequant {
                    x,
                    scale,
                    to: self.dtype()?,
                }
            }
            "quantize" => {
                let x = self.use_value(cx)?;
                self.expect("to")?;
                let elem = self.dtype()?;
                let spec = self.scale_spec()?;
                let global = if self.eat("global") {
                    Some(self.use_value(cx)?)
                } else {
                    None
                };
                OpKind::Quantize {
                    x,
                    elem,
                    spec,
                    global,
                }
            }
            "for" => {
                let lo = self.use_value(cx)?;
                self.expect("to")?;
                let hi = self.use_value(cx)?;
                self.expect("step")?;
                let step = self.use_value(cx)?;
                self.expect("iter")?;
                let inits = self.list("(", ")", |p| p.use_value(cx))?;
                OpKind::For {
                    lo,
                    hi,
                    step,
                    inits,
                    body: Block::default(),
                }
            }
            "if" => OpKind::If {
                cond: self.use_value(cx)?,
                then_block: Block::default(),
                else_block: Block::default(),
            },
            "yield" => {
                let mut values = Vec::new();
                if self.peek() == Some(b'%') {
                    loop {
                        values.push(self.use_value(cx)?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                }
                OpKind::Yield { values }
            }
            _ => return Err(self.err_at(op_start, format!("unknown op `{mn}`"))),
        };
        if !results.is_empty() {
            self.expect(":")?;
            for (i, (start, name, id)) in results.iter().enumerate() {
                if i > 0 {
                    self.expect(",")?;
                }
                let ty = self.ty()?;
                cx.define(*id, name.clone(), ty)
                    .map_err(|m| self.err_at(*start, m))?;
            }
        }
        let span = self.span()?;
        let mut kind = kind;
        match &mut kind {
            OpKind::For { body, .. } => {
                self.expect("{")?;
                *body = self.block(cx, "}")?;
                self.expect("}")?;
            }
            OpKind::If {
                then_block,
                else_block,
                ..
            } => {
                self.expect("{")?;
                *then_block = self.block(cx, "}")?;
                self.expect("}")?;
                self.expect("else")?;
                self.expect("{")?;
                *else_block = self.block(cx, "}")?;
                self.expect("}")?;
            }
            _ => {}
        }
        Ok(Op {
            kind,
            results: results.into_iter().map(|(_, _, id)| ValueId(id)).collect(),
            span,
        })
    }
}
