//! Pass manager, target pass pipelines, diff-interp checking; fuse-dequant and assign-scale-layout
