//! Validation metrics, per-dtype tolerances, seeded input generators and .npy I/O
