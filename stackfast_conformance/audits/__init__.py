"""audits: see docs/ARCHITECTURE.md."""
