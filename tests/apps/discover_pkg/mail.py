"""Tasks declared with the package's app."""

from tests.apps.discover_pkg import app


@app.task(queue="mail", max_retries=4)
async def send_mail(to: str) -> str:
    """Send a mail."""
    return f"mailed {to}"
