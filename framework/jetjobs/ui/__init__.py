"""The operator web UI (``pip install 'jetjobs[ui]'``): queues, jobs, dead letters, schedules, workers.

Run it standalone with ``jetjobs ui module:app --port 8080`` or mount the ASGI app::

    from jetjobs.ui import create_ui_app

    host.mount("/jobs-ui", create_ui_app(app, read_only=True))

This package reads and acts through the App and ``jetjobs.transport``; it never imports ``nats``.
"""

from ._asgi import create_ui_app
from ._config import AuthHook, RedactHook, UIConfig

__all__ = ["AuthHook", "RedactHook", "UIConfig", "create_ui_app"]
