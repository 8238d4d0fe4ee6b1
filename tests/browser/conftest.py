"""The browser tests use the model fixtures of tests/conftest.py."""
