"""Only ``pkg.**`` reaches this module."""

from tests.apps.discover_pkg import app


@app.task(queue="deep")
async def deep_task() -> str:
    return "deep"
