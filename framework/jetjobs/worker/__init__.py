"""The worker: fetch (``_fetcher``) → execute (``_executor``) → settle (``_settler``)."""

from ._worker import Worker

__all__ = ["Worker"]
