"""Key-value reads that scan keys leave no consumer behind: the server refuses new consumers on a
stream past its limit, and the web UI lists workflow runs with one scan per run."""

from __future__ import annotations

import pytest

from jetjobs.errors import JetjobsError
from jetjobs.transport import KeyValueStore
from tests.helpers import AppFactory


async def test_a_burst_of_key_scans_leaves_no_consumers(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app:
        conn = app.connection
        store = KeyValueStore(conn, "JOBS_TEST_SCANS")
        await store.ensure(description="test")
        for i in range(3):
            await store.put(f"run{i}.meta", b"{}")
        for _ in range(1200):  # past the 1,000 consumers a stream takes
            assert len(await store.matching("*.meta")) == 3
        info = await conn.js.stream_info("KV_JOBS_TEST_SCANS")
        assert info.state.consumer_count == 0


async def test_a_scan_skips_deleted_keys_and_finds_nothing_when_nothing_matches(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app:
        store = KeyValueStore(app.connection, "JOBS_TEST_SCANS2")
        await store.ensure(description="test")
        assert await store.matching("*.meta") == []
        for key in ("a.meta", "a.st.x", "b.meta", "c.meta"):
            await store.put(key, key.encode())
        await store.delete("b.meta")
        await store.put("a.meta", b"a.meta v2")
        found = await store.matching("*.meta")
        assert sorted((e.key, e.value) for e in found) == [("a.meta", b"a.meta v2"), ("c.meta", b"c.meta")]
        assert sorted(e.key for e in await store.items("a.")) == ["a.meta", "a.st.x"]
        assert await store.items("zzz.") == []


async def test_scanning_a_bucket_that_does_not_exist_is_a_jetjobs_error(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app:
        with pytest.raises(JetjobsError, match="bucket JOBS_NOT_THERE does not exist yet"):
            await KeyValueStore(app.connection, "JOBS_NOT_THERE").items()


async def test_create_and_compare_and_set_stay_conditional_on_every_call(app_factory: AppFactory) -> None:
    # Through the app's connection (its own header codec), not only the first nats-py
    # create/update carries its condition: each one must refuse a key that moved on.
    app = app_factory()
    async with app:
        store = KeyValueStore(app.connection, "JOBS_TEST_CAS")
        await store.ensure(description="test")
        for key in ("a", "b", "c"):
            revision = await store.put(key, b"first")
            assert await store.create(key, b"second") is None
            assert await store.update(key, b"third", revision + 100) is None
            entry = await store.get(key)
            assert entry is not None
            assert entry.value == b"first"
            assert await store.update(key, b"fourth", entry.revision) is not None
