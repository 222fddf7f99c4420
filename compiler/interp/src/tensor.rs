//! Reading and writing single elements of device-format buffers by coordinate: row-major storage,
//! FP4 packed two per byte along its packed axis (element 2i in the low nibble). Narrow codes are
//! decoded through 256-entry tables built once from `tessera_formats::decode` (exact, and fast
//! enough that a tile load costs little next to the dot that consumes it).

use std::sync::OnceLock;
use tessera_formats::{Format, decode, encode};
use tessera_ir::DType;
use tessera_numerics::format_of;

/// Where one element lives: storage unit (byte for codes, word for wider types) and, for FP4, the
/// nibble within the byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Addr {
    pub unit: usize,
    pub nib: u8,
}

/// Storage geometry of a buffer: per-dim strides over the storage shape.
#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub packed_axis: Option<usize>,
}

impl Geometry {
    pub fn new(dtype: DType, shape: &[usize], packed_axis: Option<usize>) -> Geometry {
        let mut storage = shape.to_vec();
        let packed_axis = if dtype == DType::F4E2M1 { packed_axis } else { None };
        if let Some(a) = packed_axis
            && a < storage.len()
        {
            storage[a] = storage[a].div_ceil(2);
        }
        let mut strides = vec![1usize; storage.len()];
        for d in (0..storage.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * storage[d + 1];
        }
        Geometry {
            dtype,
            shape: shape.to_vec(),
            strides,
            packed_axis,
        }
    }

    /// The address contribution of coordinate `c` (in range) along dim `d`.
    pub fn part(&self, d: usize, c: usize) -> Addr {
        if self.packed_axis == Some(d) {
            Addr {
                unit: (c / 2) * self.strides[d],
                nib: (c % 2) as u8,
            }
        } else {
            Addr {
                unit: c * self.strides[d],
                nib: 0,
            }
        }
    }
}

fn lut(f: Format) -> &'static [f32; 256] {
    static TABLES: [OnceLock<[f32; 256]>; 8] = [const { OnceLock::new() }; 8];
    let i = match f {
        Format::F4E2M1 => 0,
        Format::F6E2M3 => 1,
        Format::F6E3M2 => 2,
        Format::F8E4M3 => 3,
        Format::F8E4M3Fnuz => 4,
        Format::F8E5M2 => 5,
        Format::E8M0 => 6,
        _ => 7, // UE4M3 (16-bit formats never reach here)
    };
    TABLES[i].get_or_init(|| std::array::from_fn(|c| decode(f, c as u16)))
}

/// Read one element as f32 (exact for every float dtype; ints convert).
pub(crate) fn read_f32(dtype: DType, bytes: &[u8], a: Addr) -> f32 {
    match dtype {
        DType::F32 => f32::from_le_bytes(word4(bytes, a.unit)),
        DType::I32 => i32::from_le_bytes(word4(bytes, a.unit)) as f32,
        DType::I8 => bytes[a.unit] as i8 as f32,
        DType::I1 => (bytes[a.unit] & 1) as f32,
        DType::BF16 | DType::F16 => {
            let w = u16::from_le_bytes([bytes[2 * a.unit], bytes[2 * a.unit + 1]]);
            decode(
                if dtype == DType::BF16 {
                    Format::BF16
                } else {
                    Format::F16
                },
                w,
            )
        }
        DType::F4E2M1 => lut(Format::F4E2M1)[((bytes[a.unit] >> (4 * a.nib)) & 0xF) as usize],
        d => match format_of(d) {
            Some(f) => lut(f)[bytes[a.unit] as usize],
            None => f32::NAN,
        },
    }
}

/// Read one integer element (i32/i8/i1).
pub(crate) fn read_i64(dtype: DType, bytes: &[u8], a: Addr) -> i64 {
    match dtype {
        DType::I32 => i32::from_le_bytes(word4(bytes, a.unit)) as i64,
        DType::I8 => bytes[a.unit] as i8 as i64,
        _ => (bytes[a.unit] & 1) as i64,
    }
}

fn word4(b: &[u8], unit: usize) -> [u8; 4] {
    [b[4 * unit], b[4 * unit + 1], b[4 * unit + 2], b[4 * unit + 3]]
}

/// An element value to store, already in its final form (the encode happens here).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Elem {
    F(f32),
    I(i64),
}

/// Encode and write one element (floats: RNE + satfinite for narrow types via `tessera-formats`;
/// ints: two's-complement truncation to the stored width).
pub(crate) fn write(dtype: DType, bytes: &mut [u8], a: Addr, v: Elem) {
    let f = match v {
        Elem::F(f) => f,
        Elem::I(i) => i as f32,
    };
    match dtype {
        DType::F32 => bytes[4 * a.unit..4 * a.unit + 4].copy_from_slice(&f.to_le_bytes()),
        DType::I32 => {
            let i = match v {
                Elem::I(i) => i as i32,
                Elem::F(f) => f as i32,
            };
            bytes[4 * a.unit..4 * a.unit + 4].copy_from_slice(&i.to_le_bytes())
        }
        DType::I8 | DType::I1 => {
            bytes[a.unit] = match v {
                Elem::I(i) => i as u8,
                Elem::F(f) => f as i8 as u8,
            }
        }
        DType::BF16 | DType::F16 => {
            let w = encode(
                if dtype == DType::BF16 {
                    Format::BF16
                } else {
                    Format::F16
                },
                f,
            );
            bytes[2 * a.unit..2 * a.unit + 2].copy_from_slice(&w.to_le_bytes());
        }
        DType::F4E2M1 => {
            let c = (encode(Format::F4E2M1, f) & 0xF) as u8;
            let sh = 4 * a.nib;
            bytes[a.unit] = (bytes[a.unit] & !(0xF << sh)) | (c << sh);
        }
        d => {
            if let Some(fm) = format_of(d) {
                bytes[a.unit] = encode(fm, f) as u8;
            }
        }
    }
}

/// `x` rounded to `dtype` as a value: what storing it in that dtype keeps (f32 unchanged).
pub(crate) fn round_to(dtype: DType, x: f32) -> f32 {
    match dtype {
        DType::F32 => x,
        DType::BF16 => decode(Format::BF16, encode(Format::BF16, x)),
        DType::F16 => decode(Format::F16, encode(Format::F16, x)),
        d => match format_of(d) {
            Some(f) => lut(f)[(encode(f, x) & 0xFF) as usize],
            None => x,
        },
    }
}
