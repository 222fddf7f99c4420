//! Block-scaled values in the per-op lowering: loading scaled (and packed FP4) tensors, `dequant`,
//! `quantize` (OCP MX §6.3, the NVFP4 two-level recipe, f32 block scales) and the element/scale
//! codecs they need, written to give the interpreter's results (compiler/interp/src/quant.rs and
//! tessera-formats), not approximations of them.
//!
//! A scaled tile is its codes, one i8 register per element (FP4 codes 0..15 unpacked), plus, per
//! register, the f32 multiplier `s * g` of its block (`s` the decoded block scale, `g` the NV
//! per-tensor scale or 1) in `Gen::scales`: dequant is `decode(code) * (s * g)` rounded to the
//! target type, exactly the interpreter's order. Quantize finds each block's amax with a segmented
//! max over the layout's index bits that stay inside one block (in-thread registers, butterfly
//! shuffles over lanes, shared memory over warps), so it works for blocks along any axis.

use super::mlir::V;
use super::{Elem, Gen, Val, ice, unsupported};
use melior::ir::Block;
use tessera_ir::{Access, DType, LinearLayout, ParamId, ParamKind, ScaleSpec, Span, ValueId};

impl<'c> Gen<'c, '_> {
    /// The NV per-tensor scale of `tensor`: the scalar parameter the checker recorded as
    /// `global_scale.<tensor>`.
    pub(super) fn global_of(&self, tensor: ParamId) -> Result<Option<V>, LoweringError> {
        let name = &self.k.param(tensor).name;
        let Some(scalar) = self.k.attr(&format!("global_scale.{name}")) else {
            return Ok(None);
        };
        let pos = self
            .k
            .params
            .iter()
            .filter(|p| matches!(p.kind, ParamKind::Scalar(_)))
            .position(|p| p.name == scalar)
            .ok_or_else(|| {
                ice(format!(
                    "global scale `{scalar}` of `{name}` is not a scalar parameter"
                ))
            })?;
        let v = self
            .k
            .body
            .args
            .get(pos)
            .ok_or_else(|| ice("global scale argument"))?;
        self.scalar(*v).map(Some)
    }

    /// Decode one element code (i8 register) of narrow float `d` to f32, exactly.
    pub(super) fn decode_code(&self, b: &Block<'c>, x: V, d: DType, span: Span) -> Result<V, LoweringError> {
        let m = &self.m;
        match d {
            DType::F8E4M3 | DType::F8E5M2 => self.decode_fp8(b, x, d),
            DType::F4E2M1 => {
                // |v| = man * 0.5 for e = 0, else (1 + man/2) * 2^(e-1); the sign is bit 3.
                let c = |v: i64| m.const_int(b, v, 32);
                let u = m.conv(b, "arith.extui", x, m.i(32))?;
                let man = m.bin(b, "arith.andi", u, c(1)?)?;
                let e = m.bin(b, "arith.shrui", u, c(1)?)?;
                let e = m.bin(b, "arith.andi", e, c(3)?)?;
                let manf = m.conv(b, "arith.uitofp", man, m.f32())?;
                let half = m.const_float(b, 0.5, m.f32())?;
                let one = m.const_float(b, 1.0, m.f32())?;
                let frac = m.bin(b, "arith.mulf", manf, half)?;
                let sig = m.bin(b, "arith.addf", one, frac)?;
                let em1 = m.bin(b, "arith.subi", e, c(1)?)?;
                let pow = m.bin(b, "arith.shli", c(1)?, em1)?;
                let powf = m.conv(b, "arith.uitofp", pow, m.f32())?;
                let normal = m.bin(b, "arith.mulf", sig, powf)?;
                let is_sub = m.cmp(b, false, 0, e, c(0)?)?;
                let mag = m.select(b, is_sub, frac, normal)?;
                let sb = m.bin(b, "arith.andi", u, c(8)?)?;
                let neg = m.cmp(b, false, 1, sb, c(0)?)?;
                let n = m.op1(b, "arith.negf", &[mag], m.f32(), &[])?;
                m.select(b, neg, n, mag)
            }
            DType::F6E2M3 | DType::F6E3M2 => {
                // one code per byte (bits 6-7 zero): sign bit 5, then exponent and mantissa; no
                // infinities or NaN. |v| = sig * 2^(max(e, 1) - bias - mbits) with
                // sig = man (+ 2^mbits when e > 0).
                let (eb, mb, bias) = if d == DType::F6E2M3 { (2, 3, 1) } else { (3, 2, 3) };
                let c = |v: i64| m.const_int(b, v, 32);
                let u = m.conv(b, "arith.extui", x, m.i(32))?;
                let man = m.bin(b, "arith.andi", u, c((1 << mb) - 1)?)?;
                let e = m.bin(b, "arith.shrui", u, c(mb)?)?;
                let e = m.bin(b, "arith.andi", e, c((1 << eb) - 1)?)?;
                let is_sub = m.cmp(b, false, 0, e, c(0)?)?;
                let hidden = m.bin(b, "arith.addi", man, c(1 << mb)?)?;
                let sig = m.select(b, is_sub, man, hidden)?;
                let e1 = m.bin(b, "arith.maxui", e, c(1)?)?;
                // 2^(e1 - bias - mb) as an f32 bit pattern (a normal exponent for every code)
                let k = m.bin(b, "arith.addi", e1, c(127 - bias - mb)?)?;
                let bits = m.bin(b, "arith.shli", k, c(23)?)?;
                let pow = m.conv(b, "arith.bitcast", bits, m.f32())?;
                let sigf = m.conv(b, "arith.uitofp", sig, m.f32())?;
                let mag = m.bin(b, "arith.mulf", sigf, pow)?;
                let sb = m.bin(b, "arith.andi", u, c(32)?)?;
                let neg = m.cmp(b, false, 1, sb, c(0)?)?;
                let n = m.op1(b, "arith.negf", &[mag], m.f32(), &[])?;
                m.select(b, neg, n, mag)
            }
            other => Err(unsupported(
                format!("{other} codes are not decoded per op on sm_90a yet"),
                span,
            )),
        }
    }

    /// Encode `q` (an f32 or f64 register) to the code of a small float without infinities
    /// (`fmt`: FP4 or FP6), round-to-nearest-even and saturating, as `tessera-formats` does: the
    /// magnitude code counts the rounding boundaries below |q| (midpoints of neighbouring
    /// magnitudes; a tie goes to the even code), the sign bit follows q's sign (-0 included),
    /// and NaN gives the format's NaN code (+max: these formats have no NaN).
    pub(super) fn encode_small(
        &self,
        b: &Block<'c>,
        q: V,
        fmt: tessera_formats::Format,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let t = m.ty(q);
        let a = m.op1(b, "llvm.intr.fabs", &[q], t, &[])?;
        let mut code = m.const_int(b, 0, 32)?;
        let max = fmt.max_code() as i64;
        for c in 0..max {
            let lo = tessera_formats::decode(fmt, c as u16) as f64;
            let hi = tessera_formats::decode(fmt, (c + 1) as u16) as f64;
            let up = (c + 1) % 2 == 0;
            let bv = m.const_float(b, (lo + hi) / 2.0, t)?;
            let above = m.cmp(b, true, if up { 3 } else { 2 }, a, bv)?; // oge / ogt
            let ci = m.conv(b, "arith.extui", above, m.i(32))?;
            code = m.bin(b, "arith.addi", code, ci)?;
        }
        let zero = m.const_float(b, 0.0, t)?;
        let neg = m.cmp(b, true, 4, q, zero)?; // olt
        let bits_ty = if t == m.f32() { m.i(32) } else { m.i(64) };
        let qb = m.conv(b, "arith.bitcast", q, bits_ty)?;
        let zb = m.op1(
            b,
            "arith.constant",
            &[],
            bits_ty,
            &[m.attr(
                "value",
                melior::ir::attribute::IntegerAttribute::new(bits_ty, 0).into(),
            )],
        )?;
        let neg0 = m.cmp(b, false, 2, qb, zb)?; // slt: sign bit set
        let neg = m.bin(b, "arith.ori", neg, neg0)?;
        let sign = m.const_int(b, 1 << (fmt.bits() - 1), 32)?;
        let signed = m.bin(b, "arith.ori", code, sign)?;
        let code = m.select(b, neg, signed, code)?;
        let nan = m.cmp(b, true, 14, q, q)?; // uno: q is NaN
        let nan_code = m.const_int(b, fmt.nan_code() as i64, 32)?;
        let code = m.select(b, nan, nan_code, code)?;
        m.conv(b, "arith.trunci", code, m.i(8))
    }

    /// Decode a block-scale register of `sd` to its f32 value.
    pub(super) fn decode_scale(
        &self,
        b: &Block<'c>,
        x: V,
        sd: DType,
        span: Span,
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        match sd {
            DType::F32 => Ok(x),
            DType::UE4M3 => self.decode_fp8(b, x, DType::F8E4M3),
            DType::E8M0 => {
                // 2^(c - 127): the exponent field; code 0 is 2^-127 (subnormal), 255 is NaN.
                let c = |v: i64| m.const_int(b, v, 32);
                let u = m.conv(b, "arith.extui", x, m.i(32))?;
                let bits = m.bin(b, "arith.shli", u, c(23)?)?;
                let z = m.cmp(b, false, 0, u, c(0)?)?;
                let bits = m.select(b, z, c(0x0040_0000)?, bits)?;
                let f = m.conv(b, "arith.bitcast", bits, m.f32())?;
                let nan = m.const_float(b, f64::NAN, m.f32())?;
                let isn = m.cmp(b, false, 0, u, c(255)?)?;
                m.select(b, isn, nan, f)
            }
            other => Err(unsupported(format!("{other} block scales on sm_90a"), span)),
        }
    }

    /// Encode an f32 register to element code `elem` (saturating, RNE).
    fn encode_elem(&self, b: &Block<'c>, q: V, elem: DType, span: Span) -> Result<V, LoweringError> {
        match elem {
            DType::F8E4M3 | DType::F8E5M2 => self.cast(b, q, DType::F32, elem, span),
            DType::F4E2M1 => self.encode_small(b, q, tessera_formats::Format::F4E2M1),
            DType::F6E2M3 => self.encode_small(b, q, tessera_formats::Format::F6E2M3),
            DType::F6E3M2 => self.encode_small(b, q, tessera_formats::Format::F6E3M2),
            other => Err(unsupported(
                format!("quantize to {other} is not lowered per op on sm_90a yet"),
                span,
            )),
        }
    }

    /// A scaled (or packed FP4) tensor load: codes per register, and each register's block
    /// multiplier in `self.scales`.
    pub(super) fn load_scaled(
        &mut self,
        b: &Block<'c>,
        access: &Access,
        r: ValueId,
        span: Span,
    ) -> Result<Val, LoweringError> {
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("scaled load of a scalar"));
        };
        let ty = ty.clone();
        let l = self.layout_of(r)?.clone();
        let shape = self.shape_of(r);
        let elems: Vec<Elem> = self.indices(b, access, Some((&l, shape)), span)?;
        let base = *self
            .tensors
            .get(&access.tensor)
            .ok_or_else(|| ice("tensor pointer"))?;
        let m = &self.m;
        let i8t = m.i(8);
        let zero8 = m.const_int(b, 0, 8)?;
        let dims = self.dims(b, &ty.dims, span)?;
        let codes = match ty.packed_axis {
            // One byte per code: the plain load's vector path (16 codes per load where the run is
            // in bounds and aligned).
            None => {
                let pairs: Vec<(V, V)> = elems.iter().map(|e| (e.offset, e.mask)).collect();
                let w = self.vector_width(access, &l, ty.dtype);
                self.load_regs(b, base, &pairs, (i8t, ty.dtype), zero8, w)?
            }
            // Two FP4 codes per byte: element by element, each from its nibble.
            Some(ax) => {
                let mut codes = Vec::with_capacity(elems.len());
                for e in &elems {
                    let m = &self.m;
                    let off = self.packed_offset(b, e, &dims, ax)?;
                    let two = m.const_int(b, 2, 64)?;
                    let odd = m.bin(b, "arith.remui", e.idx[ax], two)?;
                    let odd8 = m.conv(b, "arith.trunci", odd, m.i(8))?;
                    let four = m.const_int(b, 4, 8)?;
                    let sh = m.bin(b, "arith.muli", odd8, four)?;
                    let v = m.load_or(b, e.mask, base, off, i8t, zero8)?;
                    let s = m.bin(b, "arith.shrui", v, sh)?;
                    let f = m.const_int(b, 15, 8)?;
                    codes.push(m.bin(b, "arith.andi", s, f)?);
                }
                codes
            }
        };
        if let Some(spec) = &ty.scale {
            let (mults, raw) = self.load_scales(b, access.tensor, spec, &dims, &elems, span)?;
            self.scales.insert(r, mults);
            self.scale_codes.insert(r, raw);
            if let Some(g) = self.global_of(access.tensor)? {
                self.globals.insert(r, g);
            }
        }
        Ok(Val::Tile(codes))
    }

    /// Byte offset of element `e` of a tensor packed two codes per byte along `ax` (element 2i in
    /// the low nibble of byte i; an odd extent rounds the byte extent up).
    fn packed_offset(&self, b: &Block<'c>, e: &Elem, dims: &[V], ax: usize) -> Result<V, LoweringError> {
        let m = &self.m;
        let mut off = m.const_int(b, 0, 64)?;
        let two = m.const_int(b, 2, 64)?;
        let one = m.const_int(b, 1, 64)?;
        for (d, (idx, dim)) in e.idx.iter().zip(dims).enumerate() {
            let (i, n) = if d == ax {
                let i = m.bin(b, "arith.divui", *idx, two)?;
                let n1 = m.bin(b, "arith.addi", *dim, one)?;
                (i, m.bin(b, "arith.divui", n1, two)?)
            } else {
                (*idx, *dim)
            };
            let s = m.bin(b, "arith.muli", off, n)?;
            off = m.bin(b, "arith.addi", s, i)?;
        }
        Ok(off)
    }

    /// The element type of `spec`'s scale buffer and the code of its neutral scale (1), which a
    /// masked scaled load reads out of bounds.
    pub(super) fn scale_elem(
        &self,
        b: &Block<'c>,
        spec: &ScaleSpec,
        span: Span,
    ) -> Result<(melior::ir::Type<'c>, V), LoweringError> {
        let m = &self.m;
        Ok(match spec.scale_dtype {
            DType::F32 => (m.f32(), m.const_float(b, 1.0, m.f32())?),
            DType::E8M0 => (m.i(8), m.const_int(b, 127, 8)?),
            DType::UE4M3 => (m.i(8), m.const_int(b, 0x38, 8)?),
            other => return Err(unsupported(format!("{other} block scales on sm_90a"), span)),
        })
    }

    /// The decoded block scale covering the element at coordinates `idx` (i64) of a tensor whose
    /// scale buffer is `sptr` (extents `sdims`), read where `ok` holds; the neutral scale elsewhere,
    /// as a masked scaled load reads.
    pub(super) fn block_scale_at(
        &self,
        b: &Block<'c>,
        (idx, ok): (&[V], V),
        spec: &ScaleSpec,
        (sdims, sptr): (&[V], V),
        span: Span,
    ) -> Result<V, LoweringError> {
        let soff = self.scale_offset(b, idx, spec, sdims)?;
        let (st, neutral) = self.scale_elem(b, spec, span)?;
        let raw = self.m.load_or(b, ok, sptr, soff, st, neutral)?;
        self.decode_scale(b, raw, spec.scale_dtype, span)
    }

    /// Extent of each dim of `tensor`'s scale buffer: `ceil(dim / block)`.
    pub(super) fn scale_dims(
        &self,
        b: &Block<'c>,
        spec: &ScaleSpec,
        dims: &[V],
    ) -> Result<Vec<V>, LoweringError> {
        let m = &self.m;
        dims.iter()
            .zip(&spec.block)
            .map(|(d, bl)| {
                let bv = m.const_int(b, *bl as i64, 64)?;
                m.bin(b, "arith.ceildivui", *d, bv)
            })
            .collect()
    }

    /// Offset (in scale elements) of the block scale covering the element at coordinates `idx`
    /// (i64).
    pub(super) fn scale_offset(
        &self,
        b: &Block<'c>,
        idx: &[V],
        spec: &ScaleSpec,
        sdims: &[V],
    ) -> Result<V, LoweringError> {
        let m = &self.m;
        let mut off = m.const_int(b, 0, 64)?;
        for ((idx, sd), bl) in idx.iter().zip(sdims).zip(&spec.block) {
            let bv = m.const_int(b, *bl as i64, 64)?;
            let i = m.bin(b, "arith.divui", *idx, bv)?;
            let s = m.bin(b, "arith.muli", off, *sd)?;
            off = m.bin(b, "arith.addi", s, i)?;
        }
        Ok(off)
    }

    /// Store a scaled (or packed FP4) tile: its codes into the tensor (FP4 codes two per byte,
    /// from register pairs that hold neighbours along the packed axis: `assign-layouts` gives a
    /// packed store such a layout) and each block's scale into the scale buffer, written once per
    /// block by the owner of the block's first element. The NV per-tensor scale is an input
    /// scalar: nothing to store (the interpreter checks the tile was quantized under it).
    pub(super) fn store_scaled(
        &mut self,
        b: &Block<'c>,
        access: &Access,
        value: ValueId,
        span: Span,
    ) -> Result<(), LoweringError> {
        let ParamKind::Tensor { ty, .. } = &self.k.param(access.tensor).kind else {
            return Err(ice("scaled store to a scalar"));
        };
        let ty = ty.clone();
        let Val::Tile(codes) = self.get(value)? else {
            return Err(unsupported("a scalar store into a scaled or packed tensor", span));
        };
        let l = self.layout_of(value)?.clone();
        let shape = self.shape_of(value);
        let elems: Vec<Elem> = self.indices(b, access, Some((&l, shape)), span)?;
        let base = *self
            .tensors
            .get(&access.tensor)
            .ok_or_else(|| ice("tensor pointer"))?;
        let dims = self.dims(b, &ty.dims, span)?;
        let owner = self.owner(b, &l)?;
        let i8t = self.m.i(8);
        let guard = |g: &Self, mask: V| -> Result<V, LoweringError> {
            match owner {
                Some(o) => g.m.bin(b, "arith.andi", mask, o),
                None => Ok(mask),
            }
        };
        // 1. codes
        match ty.packed_axis {
            None => {
                for (i, (e, c)) in elems.iter().zip(&codes).enumerate() {
                    if !l.reg_is_owner(i as u32) {
                        continue;
                    }
                    let cond = guard(self, e.mask)?;
                    let p = self.m.gep(b, base, e.offset, i8t)?;
                    self.m.store_if(b, Some(cond), *c, p)?;
                }
            }
            Some(ax) => {
                let Some(tax) = access.range_tile_dim(ax) else {
                    return Err(unsupported(
                        "a store into a packed FP4 tensor that indexes its packed axis by a point or a gather (a byte holds two codes; store a range along it)",
                        span,
                    ));
                };
                // register bit 0 steps +1 along the packed axis: registers 2j and 2j+1 fill a byte
                if l.contiguous_regs(tax) < 2 {
                    return Err(unsupported(
                        "a store into a packed FP4 tensor of a tile one element wide along the packed axis (a byte holds two codes; store at least two along it)",
                        span,
                    ));
                }
                let m = &self.m;
                let c15 = m.const_int(b, 15, 8)?;
                let c4 = m.const_int(b, 4, 8)?;
                let z8 = m.const_int(b, 0, 8)?;
                for j in (0..elems.len()).step_by(2) {
                    if !l.reg_is_owner(j as u32) {
                        continue;
                    }
                    let (lo, hi) = (&elems[j], &elems[j + 1]);
                    let m = &self.m;
                    let lo_c = m.bin(b, "arith.andi", codes[j], c15)?;
                    let hi_c = m.bin(b, "arith.andi", codes[j + 1], c15)?;
                    let hi_c = m.select(b, hi.mask, hi_c, z8)?;
                    let hi_c = m.bin(b, "arith.shli", hi_c, c4)?;
                    let byte = m.bin(b, "arith.ori", lo_c, hi_c)?;
                    let off = self.packed_offset(b, lo, &dims, ax)?;
                    // A slice starting at an odd element would split bytes between programs: it
                    // writes nothing (the interpreter refuses it with E0606).
                    let m = &self.m;
                    let one = m.const_int(b, 1, 64)?;
                    let odd = m.bin(b, "arith.andi", lo.idx[ax], one)?;
                    let z = m.const_int(b, 0, 64)?;
                    let even = m.cmp(b, false, 0, odd, z)?;
                    let ok = m.bin(b, "arith.andi", lo.mask, even)?;
                    let cond = guard(self, ok)?;
                    let p = self.m.gep(b, base, off, i8t)?;
                    self.m.store_if(b, Some(cond), byte, p)?;
                }
            }
        }
        // 2. block scales
        let Some(spec) = &ty.scale else {
            return Ok(());
        };
        let raw = self
            .scale_codes
            .get(&value)
            .cloned()
            .ok_or_else(|| ice("a scaled tile without its stored scales"))?;
        let sptr = *self
            .scale_ptrs
            .get(&access.tensor)
            .ok_or_else(|| ice("scale pointer of a scaled tensor"))?;
        let st = match spec.scale_dtype {
            DType::F32 => self.m.f32(),
            _ => i8t,
        };
        let sdims = self.scale_dims(b, spec, &dims)?;
        for (i, (e, s)) in elems.iter().zip(&raw).enumerate() {
            if !l.reg_is_owner(i as u32) {
                continue;
            }
            // the block's first element, in bounds, writes its scale
            let m = &self.m;
            let mut first = e.mask;
            for (idx, bl) in e.idx.iter().zip(&spec.block) {
                if *bl > 1 {
                    let bv = m.const_int(b, *bl as i64, 64)?;
                    let r = m.bin(b, "arith.remui", *idx, bv)?;
                    let z = m.const_int(b, 0, 64)?;
                    let at0 = m.cmp(b, false, 0, r, z)?;
                    first = m.bin(b, "arith.andi", first, at0)?;
                }
            }
            let cond = guard(self, first)?;
            let off = self.scale_offset(b, &e.idx, spec, &sdims)?;
            let p = self.m.gep(b, sptr, off, st)?;
            self.m.store_if(b, Some(cond), *s, p)?;
        }
        Ok(())
    }

    /// Per element: the block multiplier `decode(scale) * global` of a scaled tensor (masked-out
    /// elements get the neutral scale 1.0).
    fn load_scales(
        &self,
        b: &Block<'c>,
        tensor: ParamId,
        spec: &ScaleSpec,
        dims: &[V],
        elems: &[Elem],
        span: Span,
    ) -> Result<(Vec<V>, Vec<V>), LoweringError> {
        let sptr = *self
            .scale_ptrs
            .get(&tensor)
            .ok_or_else(|| ice("scale pointer of a scaled tensor"))?;
        let (st, neutral) = self.scale_elem(b, spec, span)?;
        let global = self.global_of(tensor)?;
        let sdims = self.scale_dims(b, spec, dims)?;
        let mut out = Vec::with_capacity(elems.len());
        let mut raws = Vec::with_capacity(elems.len());
        for e in elems {
            let off = self.scale_offset(b, &e.idx, spec, &sdims)?;
            let m = &self.m;
            let raw = m.load_or(b, e.mask, sptr, off, st, neutral)?;
            let s = self.decode_scale(b, raw, spec.scale_dtype, span)?;
            out.push(match global {
                Some(g) => m.bin(b, "arith.mulf", s, g)?,
                None => s,
            });
            raws.push(raw);
        }
        Ok((out, raws))
    }

    /// `dequant(x)` of a scaled tile, or `dequant(q, s)` with an explicit scale tile.
    pub(super) fn dequant(
        &mut self,
        b: &Block<'c>,
        x: ValueId,
        scale: Option<ValueId>,
        to: DType,
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        let mults = match scale {
            None => self
                .scales
                .get(&x)
                .cloned()
                .ok_or_else(|| ice("a scaled tile without its scales"))?,
            Some(s) => self.explicit_scales(b, x, s, span)?,
        };
        self.dequant_by(b, x, &mults, to, span)
    }

    /// Each code register of `x` times its multiplier in `mults`, rounded to `to`.
    fn dequant_by(
        &self,
        b: &Block<'c>,
        x: ValueId,
        mults: &[V],
        to: DType,
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        let d = self.k.ty(x).dtype();
        let codes = self.regs(x)?;
        let mut out = Vec::with_capacity(codes.len());
        for (c, s) in codes.iter().zip(mults) {
            let v = if d.is_narrow_float() {
                self.decode_code(b, *c, d, span)?
            } else {
                self.cast(b, *c, d, DType::F32, span)?
            };
            let y = self.m.bin(b, "arith.mulf", v, *s)?;
            out.push(self.cast(b, y, DType::F32, to, span)?);
        }
        Ok(out)
    }

    /// Per register of code tile `x`: the decoded element of the explicit scale tile `s` covering
    /// it (block = shape ratio), fetched through shared memory (the two tiles have their own
    /// layouts).
    fn explicit_scales(
        &mut self,
        b: &Block<'c>,
        x: ValueId,
        s: ValueId,
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        let sd = self.k.ty(s).dtype();
        let sregs = self.regs(s)?;
        let decoded: Vec<V> = sregs
            .iter()
            .map(|r| self.decode_scale(b, *r, sd, span))
            .collect::<Result<_, _>>()?;
        let (xs, ss) = (self.shape_of(x), self.shape_of(s));
        let block: Vec<u32> = xs.iter().zip(&ss).map(|(a, c)| (a / c.max(&1)).max(1)).collect();
        let sl = self.layout_of(s)?.clone();
        let xl = self.layout_of(x)?.clone();
        let f = self.m.f32();
        self.through_smem(b, (&sl, &ss, &decoded), &xl, &block, (f, 4))
    }

    /// `quantize<elem>(x)` under `spec`: codes per register and each register's block multiplier.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn quantize(
        &mut self,
        b: &Block<'c>,
        x: ValueId,
        elem: DType,
        spec: &ScaleSpec,
        global: Option<ValueId>,
        r: ValueId,
        span: Span,
    ) -> Result<Val, LoweringError> {
        let d = self.k.ty(x).dtype();
        let l = self.layout_of(x)?.clone();
        let shape = self.shape_of(x);
        let regs = self.regs(x)?;
        let f = self.m.f32();
        let mut vals = Vec::with_capacity(regs.len());
        for v in &regs {
            vals.push(self.cast(b, *v, d, DType::F32, span)?);
        }
        // |x|, with padded elements contributing 0
        let mut abs = Vec::with_capacity(vals.len());
        for (i, v) in vals.iter().enumerate() {
            let a = self.m.op1(b, "llvm.intr.fabs", &[*v], f, &[])?;
            abs.push(match self.in_shape(b, &l, &shape, i as u32)? {
                Some(c) => {
                    let z = self.m.const_float(b, 0.0, f)?;
                    self.m.select(b, c, a, z)?
                }
                None => a,
            });
        }
        let amax = self.segmented_max(b, &l, abs, &spec.block, span)?;
        let ef = match elem {
            DType::F8E4M3 => tessera_formats::Format::F8E4M3,
            DType::F8E5M2 => tessera_formats::Format::F8E5M2,
            DType::F4E2M1 => tessera_formats::Format::F4E2M1,
            DType::F6E2M3 => tessera_formats::Format::F6E2M3,
            DType::F6E3M2 => tessera_formats::Format::F6E3M2,
            other => {
                return Err(unsupported(
                    format!("quantize to {other} is not lowered per op on sm_90a yet"),
                    span,
                ));
            }
        };
        let inf = self.m.const_float(b, f64::INFINITY, f)?;
        let mut codes = Vec::with_capacity(vals.len());
        let mut mults = Vec::with_capacity(vals.len());
        let mut raws = Vec::with_capacity(vals.len());
        let c32 = |g: &Self, v: i64| g.m.const_int(b, v, 32);
        for (v, a) in vals.iter().zip(&amax) {
            let m = &self.m;
            // a block holding NaN or an infinity: uge is true for NaN and +inf
            let nonfinite = m.cmp(b, true, 10, *a, inf)?;
            let (code, mult, raw) = match (spec.scale_dtype, spec.global) {
                (DType::E8M0, false) => {
                    let bits = m.conv(b, "arith.bitcast", *a, m.i(32))?;
                    let e = m.bin(b, "arith.shrui", bits, c32(self, 23)?)?;
                    let e = m.bin(b, "arith.andi", e, c32(self, 0xff)?)?;
                    let x0 = m.bin(b, "arith.subi", e, c32(self, 127 + ef.emax() as i64)?)?;
                    let is_sub = m.cmp(b, false, 0, e, c32(self, 0)?)?;
                    let x0 = m.select(b, is_sub, c32(self, -127)?, x0)?;
                    let zf = m.const_float(b, 0.0, f)?;
                    let is_zero = m.cmp(b, true, 1, *a, zf)?;
                    let x0 = m.select(b, is_zero, c32(self, 0)?, x0)?;
                    let x0 = m.bin(b, "arith.maxsi", x0, c32(self, -127)?)?;
                    let xx = m.bin(b, "arith.minsi", x0, c32(self, 127)?)?;
                    let sc = m.bin(b, "arith.addi", xx, c32(self, 127)?)?;
                    let sc = m.select(b, nonfinite, c32(self, 255)?, sc)?;
                    let sc8 = m.conv(b, "arith.trunci", sc, m.i(8))?;
                    // 2^-X: exponent field 127 - X, or the subnormal 2^-127 when X = 127
                    let nx = m.bin(b, "arith.subi", c32(self, 127)?, xx)?;
                    let fb = m.bin(b, "arith.shli", nx, c32(self, 23)?)?;
                    let tiny = m.cmp(b, false, 0, nx, c32(self, 0)?)?;
                    let fb = m.select(b, tiny, c32(self, 0x0040_0000)?, fb)?;
                    let inv = m.conv(b, "arith.bitcast", fb, f)?;
                    let q = m.bin(b, "arith.mulf", *v, inv)?;
                    let code = self.encode_elem(b, q, elem, span)?;
                    let z8 = m.const_int(b, 0, 8)?;
                    let code = m.select(b, nonfinite, z8, code)?;
                    (code, self.decode_scale(b, sc8, DType::E8M0, span)?, sc8)
                }
                (DType::UE4M3, true) if elem == DType::F4E2M1 => {
                    let g = self.scalar(global.ok_or_else(|| ice("NV quantize without a global scale"))?)?;
                    let f64t = melior::ir::Type::float64(m.ctx);
                    let g64 = m.conv(b, "arith.extf", g, f64t)?;
                    let a64 = m.conv(b, "arith.extf", *a, f64t)?;
                    let six = m.const_float(b, 6.0, f64t)?;
                    let den = m.bin(b, "arith.mulf", six, g64)?;
                    let ratio = m.bin(b, "arith.divf", a64, den)?;
                    let r32 = m.conv(b, "arith.truncf", ratio, f)?;
                    let sc8 = self.cast(b, r32, DType::F32, DType::F8E4M3, span)?;
                    let s = self.decode_fp8(b, sc8, DType::F8E4M3)?;
                    let s64 = m.conv(b, "arith.extf", s, f64t)?;
                    let sg = m.bin(b, "arith.mulf", s64, g64)?;
                    let v64 = m.conv(b, "arith.extf", *v, f64t)?;
                    let q = m.bin(b, "arith.divf", v64, sg)?;
                    let z64 = m.const_float(b, 0.0, f64t)?;
                    let szero = m.cmp(b, true, 1, sg, z64)?;
                    let signed0 = m.op1(b, "llvm.intr.copysign", &[z64, v64], f64t, &[])?;
                    let q = m.select(b, szero, signed0, q)?;
                    let code = self.encode_small(b, q, tessera_formats::Format::F4E2M1)?;
                    // unusable block or global: NaN scale 0x7F, codes 0
                    let gpos = m.cmp(b, true, 2, g, m.const_float(b, 0.0, f)?)?;
                    let gfin = m.cmp(b, true, 4, g, inf)?;
                    let gok = m.bin(b, "arith.andi", gpos, gfin)?;
                    let bad = m.bin(b, "arith.xori", gok, m.const_int(b, 1, 1)?)?;
                    let bad = m.bin(b, "arith.ori", bad, nonfinite)?;
                    let nan8 = m.const_int(b, 0x7f, 8)?;
                    let sc8 = m.select(b, bad, nan8, sc8)?;
                    let z8 = m.const_int(b, 0, 8)?;
                    let code = m.select(b, bad, z8, code)?;
                    let s = self.decode_fp8(b, sc8, DType::F8E4M3)?;
                    (code, m.bin(b, "arith.mulf", s, g)?, sc8)
                }
                (DType::F32, false) => {
                    let zf = m.const_float(b, 0.0, f)?;
                    let pos = m.cmp(b, true, 2, *a, zf)?;
                    let fin = m.cmp(b, true, 4, *a, inf)?;
                    let ok = m.bin(b, "arith.andi", pos, fin)?;
                    let mx = m.const_float(b, ef.max_finite() as f64, f)?;
                    let s = m.bin(b, "arith.divf", *a, mx)?;
                    let one = m.const_float(b, 1.0, f)?;
                    let s = m.select(b, ok, s, one)?;
                    let q = m.bin(b, "arith.divf", *v, s)?;
                    (self.encode_elem(b, q, elem, span)?, s, s)
                }
                (sd, g) => {
                    return Err(unsupported(
                        format!("no quantization recipe for {sd} scales (global: {g}) with {elem} elements"),
                        span,
                    ));
                }
            };
            codes.push(code);
            mults.push(mult);
            raws.push(raw);
        }
        self.scales.insert(r, mults);
        self.scale_codes.insert(r, raws);
        Ok(Val::Tile(codes))
    }

    /// Each register's maximum over its block (`block` extent per dim): over the register, lane
    /// and warp bits whose basis stays inside one block.
    fn segmented_max(
        &mut self,
        b: &Block<'c>,
        l: &LinearLayout,
        vals: Vec<V>,
        block: &[u32],
        span: Span,
    ) -> Result<Vec<V>, LoweringError> {
        let inside = |basis: &Vec<u32>| -> Result<bool, LoweringError> {
            let nz: Vec<usize> = (0..basis.len()).filter(|d| basis[*d] != 0).collect();
            match nz.as_slice() {
                [] => Ok(false),
                [d] => Ok(basis[*d] < block[*d]),
                _ => Err(unsupported("quantize of a tile in a non-separable layout", span)),
            }
        };
        let f = self.m.f32();
        let max = |m: &super::mlir::Mlir<'c>, b: &Block<'c>, p: V, q: V| m.bin(b, "arith.maximumf", p, q);
        // 1. in-thread
        let reg_bits: Vec<usize> = (0..l.reg.len())
            .filter_map(|i| match inside(&l.reg[i]) {
                Ok(true) => Some(Ok(i)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        let mut out = vals.clone();
        for (r, o) in out.iter_mut().enumerate() {
            let mut acc = vals[r];
            for k in 1..1usize << reg_bits.len() {
                let mut p = r;
                for (j, bit) in reg_bits.iter().enumerate() {
                    if k >> j & 1 == 1 {
                        p ^= 1 << bit;
                    }
                }
                acc = max(&self.m, b, acc, vals[p])?;
            }
            *o = acc;
        }
        // 2. lanes, 3. warps
        let bits = |bases: &[Vec<u32>]| -> Result<Vec<u32>, LoweringError> {
            let mut out = Vec::new();
            for (i, bs) in bases.iter().enumerate() {
                if inside(bs)? {
                    out.push(i as u32);
                }
            }
            Ok(out)
        };
        let (lane_bits, warp_bits) = (bits(&l.lane)?, bits(&l.warp)?);
        let out = self.combine_across_lanes(b, out, f, &lane_bits, &max)?;
        let out = self.combine_across_warps(b, out, f, &warp_bits, &max)?;
        Ok(out)
    }

    /// A dot operand's registers, their type, and a factor its dot applies to the partial
    /// product: MX tiles (power-of-two scales) dequantized to bf16 exactly; NVFP4 tiles whose
    /// per-tensor scale is known (`Gen::globals`) and whose dot pairs them with bf16 (`pair_bf16`)
    /// dequantized without it, `code * s` (an e2m1 value times a ue4m3 scale has at most six
    /// significant bits and lies in [2^-10, 2688], so bf16 holds it exactly), with `g` returned as
    /// the factor; other scaled tiles dequantized to f32 (not powers of two: the FMA path).
    pub(super) fn mma_operand(
        &mut self,
        b: &Block<'c>,
        v: ValueId,
        pair_bf16: bool,
        span: Span,
    ) -> Result<(Vec<V>, DType, Option<V>), LoweringError> {
        let t = self
            .k
            .ty(v)
            .as_tile()
            .ok_or_else(|| ice("dot operand is a scalar"))?;
        match &t.scale {
            None => Ok((self.regs(v)?, t.dtype, None)),
            Some(spec) if spec.scale_dtype == DType::E8M0 && !spec.global => {
                self.dequant_dots = true;
                Ok((self.dequant(b, v, None, DType::BF16, span)?, DType::BF16, None))
            }
            Some(spec) if pair_bf16 && self.nv_on_bf16(v) => {
                self.dequant_dots = true;
                let g = *self.globals.get(&v).ok_or_else(|| ice("NV global scale"))?;
                // The block scales alone (the stored codes decoded), without `g`.
                let raws = self
                    .scale_codes
                    .get(&v)
                    .ok_or_else(|| ice("an NV tile without its scale codes"))?;
                let block_scales = raws
                    .iter()
                    .map(|r| self.decode_scale(b, *r, spec.scale_dtype, span))
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self.dequant_by(b, v, &block_scales, DType::BF16, span)?;
                Ok((out, DType::BF16, Some(g)))
            }
            Some(_) => {
                // NVFP4 (ue4m3 scale times an f32 global) and f32 block scales are not powers of
                // two: the dequantized values need f32, and the dot takes the exact-precision FMA
                // path (no wgmma takes f32 operands without rounding them to tf32).
                self.dequant_dots = true;
                Ok((self.dequant(b, v, None, DType::F32, span)?, DType::F32, None))
            }
        }
    }

    /// Whether `v` is an FP4 tile with ue4m3 block scales and a known per-tensor scale (NVFP4
    /// loaded from its tensor), which a dot can take on bf16 wgmma with `g` factored out (with
    /// on by default; `--no-nvfp4-wgmma` turns it off).
    pub(super) fn nv_on_bf16(&self, v: ValueId) -> bool {
        self.opts.nvfp4_wgmma
            && self.k.ty(v).as_tile().is_some_and(|t| {
                t.dtype == DType::F4E2M1
                    && t.scale
                        .as_ref()
                        .is_some_and(|s| s.scale_dtype == DType::UE4M3 && s.global)
            })
            && self.globals.contains_key(&v)
            && self.scale_codes.contains_key(&v)
    }

    /// Whether `op` reads a scaled or packed tensor.
    pub(super) fn scaled_param(&self, tensor: ParamId) -> bool {
        matches!(&self.k.param(tensor).kind, ParamKind::Tensor { ty, .. } if ty.scale.is_some() || ty.packed_axis.is_some())
    }
}

use crate::LoweringError;
