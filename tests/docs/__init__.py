"""The documentation kept true: docs/equations.md points at code and tests that exist."""
