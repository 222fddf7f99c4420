//! A prepacked scale buffer tagged with what it is (layout, dtype, logical extents), and its
//! on-disk form: a 16-byte header followed by the physical bytes. The tag is what makes a layout
//! mismatch between a weight file and a kernel a clear error instead of silently wrong scales.
//!
//! Header (little-endian): `b"TSPK"`, version `1u8`, layout tag `u8`, dtype tag `u8`, `0u8`,
//! `mn: u32`, `ks: u32`.

use crate::{PrepackError, physical_bytes, prepack, unpack};
use tessera_ir::{DType, ScaleLayout};

const MAGIC: &[u8; 4] = b"TSPK";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 16;

/// Stable on-disk tags; never renumber (files outlive builds).
const LAYOUT_TAGS: [(ScaleLayout, u8); 5] = [
    (ScaleLayout::Linear, 0),
    (ScaleLayout::Nv128x4, 1),
    (ScaleLayout::AmdLane16x16x128, 2),
    (ScaleLayout::AmdLane32x32x64, 3),
    (ScaleLayout::HopperRegister, 4),
];
const DTYPE_TAGS: [(DType, u8); 3] = [(DType::E8M0, 0), (DType::UE4M3, 1), (DType::F32, 2)];

/// Physical scale bytes plus the facts needed to check them against a kernel's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepacked {
    pub layout: ScaleLayout,
    pub dtype: DType,
    /// Logical extents (before padding).
    pub mn: usize,
    pub ks: usize,
    pub bytes: Vec<u8>,
}

impl Prepacked {
    /// Prepack logical row-major `[mn, ks]` scales.
    pub fn new(
        layout: ScaleLayout,
        dtype: DType,
        logical: &[u8],
        mn: usize,
        ks: usize,
    ) -> Result<Self, PrepackError> {
        Ok(Prepacked {
            layout,
            dtype,
            mn,
            ks,
            bytes: prepack(layout, dtype, logical, mn, ks)?,
        })
    }

    /// The logical scales back.
    pub fn unpack(&self) -> Result<Vec<u8>, PrepackError> {
        unpack(self.layout, self.dtype, &self.bytes, self.mn, self.ks)
    }

    /// The physical bytes, if this buffer is exactly what a kernel whose type says `layout`/`dtype`
    /// over `[mn, ks]` logical scales expects; a coded error naming both sides otherwise.
    pub fn expect(
        &self,
        layout: ScaleLayout,
        dtype: DType,
        mn: usize,
        ks: usize,
    ) -> Result<&[u8], PrepackError> {
        if (self.layout, self.dtype, self.mn, self.ks) != (layout, dtype, mn, ks) {
            return Err(PrepackError::Mismatch {
                found_layout: self.layout.name(),
                found_dtype: self.dtype,
                found_mn: self.mn,
                found_ks: self.ks,
                want_layout: layout.name(),
                want_dtype: dtype,
                want_mn: mn,
                want_ks: ks,
            });
        }
        Ok(&self.bytes)
    }

    /// Header + physical bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PrepackError> {
        let bad = |why: String| PrepackError::BadHeader { why };
        let lt = tag_of(&LAYOUT_TAGS, self.layout).ok_or_else(|| bad(format!("layout {:?}", self.layout)))?;
        let dt = tag_of(&DTYPE_TAGS, self.dtype).ok_or(PrepackError::NotAScaleType { dtype: self.dtype })?;
        let mn = u32::try_from(self.mn).map_err(|_| bad(format!("mn {} exceeds u32", self.mn)))?;
        let ks = u32::try_from(self.ks).map_err(|_| bad(format!("ks {} exceeds u32", self.ks)))?;
        let mut out = Vec::with_capacity(HEADER_LEN + self.bytes.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, lt, dt, 0]);
        out.extend_from_slice(&mn.to_le_bytes());
        out.extend_from_slice(&ks.to_le_bytes());
        out.extend_from_slice(&self.bytes);
        Ok(out)
    }

    /// Parse [`Prepacked::to_bytes`] output, checking the magic, version, tags and payload size.
    pub fn from_bytes(file: &[u8]) -> Result<Self, PrepackError> {
        let bad = |why: String| PrepackError::BadHeader { why };
        if file.len() < HEADER_LEN || &file[..4] != MAGIC {
            return Err(bad(
                "missing the TSPK magic (was it written by Prepacked::to_bytes?)".into(),
            ));
        }
        if file[4] != VERSION {
            return Err(bad(format!("version {} (this build reads {VERSION})", file[4])));
        }
        let layout =
            from_tag(&LAYOUT_TAGS, file[5]).ok_or_else(|| bad(format!("unknown layout tag {}", file[5])))?;
        let dtype =
            from_tag(&DTYPE_TAGS, file[6]).ok_or_else(|| bad(format!("unknown dtype tag {}", file[6])))?;
        let word = |i: usize| u32::from_le_bytes([file[i], file[i + 1], file[i + 2], file[i + 3]]) as usize;
        let (mn, ks) = (word(8), word(12));
        let bytes = file[HEADER_LEN..].to_vec();
        let expected = physical_bytes(layout, dtype, mn, ks)?;
        if bytes.len() != expected {
            return Err(PrepackError::SizeMismatch {
                what: "prepacked file",
                layout: layout.name(),
                dtype,
                mn,
                ks,
                expected,
                found: bytes.len(),
            });
        }
        Ok(Prepacked {
            layout,
            dtype,
            mn,
            ks,
            bytes,
        })
    }
}

fn tag_of<T: PartialEq + Copy>(table: &[(T, u8)], x: T) -> Option<u8> {
    table.iter().find(|(t, _)| *t == x).map(|(_, v)| *v)
}

fn from_tag<T: Copy>(table: &[(T, u8)], tag: u8) -> Option<T> {
    table.iter().find(|(_, v)| *v == tag).map(|(t, _)| *t)
}
