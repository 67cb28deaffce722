"""Helpers the tests share (plain modules): parity checks, finite differences, a local server."""
