"""TokenBucket with an injected clock: burst, refill and waits (no sleeps)."""

from __future__ import annotations

import pytest

from jetjobs.worker._ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("rate", "burst", "capacity"),
    [(10.0, None, 10), (2.0, 5, 5), (0.5, None, 1), (100.0, 1, 1), (3.7, None, 3)],
)
def test_full_bucket_allows_a_burst_then_refuses(rate: float, burst: int | None, capacity: int) -> None:
    bucket = TokenBucket(rate, burst, clock=FakeClock())
    assert bucket.available() == capacity
    assert [bucket.take() for _ in range(capacity + 1)] == [True] * capacity + [False]
    assert bucket.available() == 0


@pytest.mark.parametrize(
    ("rate", "elapsed", "available"),
    [(2.0, 0.0, 0), (2.0, 0.49, 0), (2.0, 0.5, 1), (2.0, 1.0, 2), (2.0, 100.0, 4), (0.1, 10.0, 1)],
)
def test_tokens_refill_at_rate_up_to_burst(rate: float, elapsed: float, available: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, 4 if rate > 1 else 1, clock=clock)
    while bucket.take():
        pass
    clock.now += elapsed
    assert bucket.available() == available


@pytest.mark.parametrize(
    ("rate", "elapsed", "wait_s"),
    [(2.0, 0.0, 0.5), (2.0, 0.2, 0.3), (2.0, 0.5, 0.0), (4.0, 0.0, 0.25), (0.5, 1.0, 1.0)],
)
def test_wait_s_is_time_to_the_next_token(rate: float, elapsed: float, wait_s: float) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, 1, clock=clock)
    assert bucket.wait_s() == 0.0
    assert bucket.take()
    clock.now += elapsed
    assert bucket.wait_s() == pytest.approx(wait_s)


def test_waiting_wait_s_yields_exactly_one_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, 2, clock=clock)
    assert bucket.take()
    assert bucket.take()
    clock.now += bucket.wait_s()
    assert bucket.take()
    assert not bucket.take()


def test_a_long_idle_period_does_not_exceed_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000.0, 3, clock=clock)
    clock.now += 3_600
    assert bucket.available() == 3


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(rate, clock=FakeClock())
