"""One test per erratum of the seed report (docs/seed-errata.md)."""
