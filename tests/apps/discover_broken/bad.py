"""Fails on import, as a module with a typo does."""

VALUE = undefined_name  # type: ignore[name-defined]  # noqa: F821
