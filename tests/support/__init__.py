"""Helpers that more than one test file uses, each stated once. Fixtures shared across files are
registered in tests/conftest.py."""
