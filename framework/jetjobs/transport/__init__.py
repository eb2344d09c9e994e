"""The only package that talks to NATS. Everything else uses these names."""

from ._admin import ConsumerStats, QueueStats, list_queues, queue_stats
from ._cancels import CancelStore
from ._connection import MIN_SERVER, Connection, check_server_version, connect, parse_version
from ._delayed import cancel_delayed, ensure_delayed_stream, schedule_headers
from ._delivery import Delivery
from ._dlq import DeadLetterStore, StoredMessage, delete_message, read_message
from ._kv import StatusStore
from ._kvstore import Entry, KeyValueStore
from ._locks import LockStore
from ._provision import ensure_dlq, ensure_queue, ensure_status_bucket, ensure_stream_exists
from ._publish import Outbound, Published, StreamMissing, publish, publish_many
from ._puller import Hint, Mode, Puller
from ._workflow import WorkflowTransport

__all__ = [
    "MIN_SERVER",
    "CancelStore",
    "Connection",
    "ConsumerStats",
    "DeadLetterStore",
    "Delivery",
    "Entry",
    "Hint",
    "KeyValueStore",
    "LockStore",
    "Mode",
    "Outbound",
    "Published",
    "Puller",
    "QueueStats",
    "StatusStore",
    "StoredMessage",
    "StreamMissing",
    "WorkflowTransport",
    "cancel_delayed",
    "check_server_version",
    "connect",
    "delete_message",
    "ensure_delayed_stream",
    "ensure_dlq",
    "ensure_queue",
    "ensure_status_bucket",
    "ensure_stream_exists",
    "list_queues",
    "parse_version",
    "publish",
    "publish_many",
    "queue_stats",
    "read_message",
    "schedule_headers",
]
