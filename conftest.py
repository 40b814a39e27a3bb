# Thin on purpose: the machinery is the `stackfast_conformance` pytest plugin (pytest11 entry point).
