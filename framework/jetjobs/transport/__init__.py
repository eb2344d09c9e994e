"""The only package that talks to NATS. Everything else uses these names."""

from ._admin import ConsumerState, ConsumerStats, QueueStats, consumer_state, list_queues, queue_stats
from ._browse import PauseState, ScanWindow, pause_queue, queue_pause_state, resume_queue, scan_newest, watch_new
from ._cancels import CancelStore
from ._connection import MIN_SERVER, Connection, check_server_version, connect, parse_version
from ._counter import ensure_rate_stream, increment
from ._delayed import cancel_delayed, ensure_delayed_stream, schedule_headers
from ._delivery import Delivery
from ._dlq import DeadLetterStore, StoredMessage, delete_message, read_message
from ._kv import StatusStore
from ._kvstore import BucketMissing, Entry, KeyValueStore
from ._locks import LockStore
from ._provision import (
    check_queue,
    ensure_dlq,
    ensure_queue,
    ensure_status_bucket,
    ensure_stream_exists,
    ensure_workers_bucket,
)
from ._publish import Outbound, Published, StreamMissing, publish, publish_many
from ._puller import Hint, Mode, Puller
from ._workflow import WorkflowTransport

__all__ = [
    "MIN_SERVER",
    "BucketMissing",
    "CancelStore",
    "Connection",
    "ConsumerState",
    "ConsumerStats",
    "DeadLetterStore",
    "Delivery",
    "Entry",
    "Hint",
    "KeyValueStore",
    "LockStore",
    "Mode",
    "Outbound",
    "PauseState",
    "Published",
    "Puller",
    "QueueStats",
    "ScanWindow",
    "StatusStore",
    "StoredMessage",
    "StreamMissing",
    "WorkflowTransport",
    "cancel_delayed",
    "check_queue",
    "check_server_version",
    "connect",
    "consumer_state",
    "delete_message",
    "ensure_delayed_stream",
    "ensure_dlq",
    "ensure_queue",
    "ensure_rate_stream",
    "ensure_status_bucket",
    "ensure_stream_exists",
    "ensure_workers_bucket",
    "increment",
    "list_queues",
    "parse_version",
    "pause_queue",
    "publish",
    "publish_many",
    "queue_pause_state",
    "queue_stats",
    "read_message",
    "resume_queue",
    "scan_newest",
    "schedule_headers",
    "watch_new",
]
