"""Shared test helpers: image factories and the browser harness."""
