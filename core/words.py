"""Counting words for user-facing messages, shared by core and the pages."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """'1 image', '2 images'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
