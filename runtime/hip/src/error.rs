//! HIP failures as typed errors. "No HIP runtime" and "no AMD GPU" both start with "no HIP runtime /
//! no AMD GPU" so scripts can tell a machine without ROCm from a real failure.

#[derive(Debug, thiserror::Error)]
pub enum HipError {
    #[error("no HIP runtime / no AMD GPU: libamdhip64.so not found (ROCm not installed?); tried {tried}")]
    NoRuntime { tried: String },
    #[error("no HIP runtime / no AMD GPU: {why}")]
    NoDevice { why: String },
    #[error("the HIP runtime {lib} lacks the symbol {symbol} (ROCm too old, or not the HIP runtime)")]
    MissingSymbol { lib: String, symbol: &'static str },
    #[error("HIP call {call} failed: {name} ({text}; code {code})")]
    Call {
        call: &'static str,
        code: i32,
        name: String,
        text: String,
    },
    #[error(transparent)]
    Bundle(#[from] tessera_bundle::BundleError),
    #[error("{0}")]
    Invalid(String),
}
