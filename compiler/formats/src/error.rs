//! Errors of the fallible (`try_*`) entry points: misuse that can come from data (a shape that does
//! not match a buffer, an element format a quantizer does not take).

use crate::Format;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The packed axis is not an axis of the shape.
    AxisOutOfRange { axis: usize, rank: usize },
    /// A buffer's length does not match its shape.
    LengthMismatch { expected: usize, found: usize },
    /// A code does not fit the format's bit width.
    CodeOutOfRange { index: usize, code: u16, format: Format },
    /// The element format cannot be block-quantized by this recipe.
    NotAnElementFormat { format: Format, recipe: &'static str },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::AxisOutOfRange { axis, rank } => {
                write!(f, "packed axis {axis} is out of range for a rank-{rank} shape")
            }
            FormatError::LengthMismatch { expected, found } => {
                write!(f, "buffer holds {found} entries but its shape needs {expected}")
            }
            FormatError::CodeOutOfRange { index, code, format } => {
                write!(
                    f,
                    "code {code:#x} at index {index} does not fit {format} ({} bits)",
                    format.bits()
                )
            }
            FormatError::NotAnElementFormat { format, recipe } => {
                write!(f, "{format} is not an element format of the {recipe} recipe")
            }
        }
    }
}

impl std::error::Error for FormatError {}
