"""A task of an App of its own, and a plain function registered by dotted path."""

from jetjobs import App

other = App("sms-service")


@other.task(queue="sms", priority="high")
def send_sms(number: str) -> str:
    return f"texted {number}"


def plain_ping(n: int) -> int:
    """Not a task until registered."""
    return n + 1


def plain_pong(n: int) -> int:
    return n - 1
