//! HIP runtime loaded at run time: hipModuleLoadData / hipModuleLaunchKernel
