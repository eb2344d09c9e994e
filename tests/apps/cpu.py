"""cpu_bound tasks live in an importable module: process-pool children import them by name."""

from __future__ import annotations

from jetjobs import App, current_job


def register(app: App) -> None:
    app.task(queue="cpu", cpu_bound=True, timeout_s=20)(crunch)
    app.task(queue="cpu", cpu_bound=True, timeout_s=1, max_retries=1, retry_delay_s=0.1)(spin)


def crunch(n: int) -> dict[str, object]:
    return {"sum": sum(range(n)), "job": current_job().id}


def spin() -> None:
    while True:
        pass
