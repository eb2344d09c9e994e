"""The UI's options, validated once when the ASGI app is built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..errors import ConfigError

AuthHook = Callable[[Request], "bool | Awaitable[bool]"]
"""Given the request, True lets it through; False answers 403 (401 with basic auth)."""

RedactHook = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]
"""Given a task name and ``{"args": [...], "kwargs": {...}}``, what to show (None hides it)."""


@dataclass(frozen=True, slots=True)
class UIConfig:
    """Options of ``create_ui_app``; see its docstring."""

    read_only: bool = False
    auth: AuthHook | None = None
    basic_auth: tuple[str, str] | None = None
    redact: RedactHook | None = None
    hide_args: bool = False
    trace_url: str | None = None
    title: str = "jetjobs"
    page_size: int = 50
    scan_window: int = 1000
    scan_budget: int = 3000
    trusted_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.basic_auth is not None and (not self.basic_auth[0] or not self.basic_auth[1]):
            raise ConfigError("basic_auth needs a user name and a password, e.g. ('admin', 's3cret')")
        if not 1 <= self.page_size <= 500:
            raise ConfigError(f"page_size must be between 1 and 500 (got {self.page_size})")
        if self.scan_window < 10 or self.scan_budget < self.scan_window:
            raise ConfigError("scan_window must be >= 10 and scan_budget >= scan_window")
        if self.trace_url is not None and "{" not in self.trace_url:
            raise ConfigError(
                f"trace_url {self.trace_url!r} has no placeholder; use {{trace_id}} and/or {{job_id}}, e.g. "
                "'http://localhost:16686/trace/{trace_id}'"
            )

    def trace_link(self, job_id: str, trace_id: str | None) -> str | None:
        """The configured trace URL for a job, or None when it needs a trace id we do not know."""
        if self.trace_url is None or ("{trace_id}" in self.trace_url and not trace_id):
            return None
        return self.trace_url.replace("{job_id}", job_id).replace("{trace_id}", trace_id or "")

    def show_payload(self, task: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Arguments as the operator may see them: hidden, redacted by the hook, or as stored."""
        if self.hide_args:
            return None
        if self.redact is not None:
            return self.redact(task, payload)
        return payload
