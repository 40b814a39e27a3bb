"""inputs: see docs/ARCHITECTURE.md."""
