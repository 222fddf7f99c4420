//! Integration tests: snapshots per stage, examples end to end, boundaries
