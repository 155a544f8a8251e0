"""Real human-translated text from registry packages → parallel, retrieval-train and MLIR benchmarks."""
