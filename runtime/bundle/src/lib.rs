//! Artifact bundle: binary + metadata + checked tile IR, readable without the compiler
