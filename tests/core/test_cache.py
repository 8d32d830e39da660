"""core.cache.RedisCache: Django's Redis cache, one redis-py client per pool; against the real
Redis of CI (database 11, emptied)."""

import threading

import pytest
from django.core.cache import caches
from django.test import override_settings

REDIS = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/11"}}


@pytest.fixture
def redis_cache():
    with override_settings(CACHES=REDIS):
        cache = caches.create_connection("default")
        cache.clear()
        yield cache
        cache.clear()


def test_it_reads_writes_and_forgets_as_djangos(redis_cache):
    redis_cache.set("a", {"html": "<p>é</p>", "n": 3}, 60)
    assert redis_cache.get("a") == {"html": "<p>é</p>", "n": 3}
    assert redis_cache.get_many(["a", "b"]) == {"a": {"html": "<p>é</p>", "n": 3}}
    assert redis_cache.add("a", 1) is False
    redis_cache.set("c", 1)
    assert redis_cache.incr("c") == 2
    redis_cache.delete("a")
    assert redis_cache.get("a") is None
    assert redis_cache.get("a", "gone") == "gone"


def test_one_client_serves_every_call_and_thread(redis_cache):
    redis_cache.set("k", 1)
    client = redis_cache._cache.get_client("k")
    assert redis_cache._cache.get_client("other", write=True) is client
    seen, errors = [], []

    def read():
        try:
            for _ in range(50):
                assert redis_cache.get("k") == 1
            seen.append(redis_cache._cache.get_client("k"))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all(c is client for c in seen)


def test_settings_use_it_for_a_redis_cache_url():
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
            "django.setup(); from django.conf import settings; "
            "print(settings.CACHES['default']['BACKEND'])",
        ],
        env={**__import__("os").environ, "CACHE_URL": "redis://127.0.0.1:6379/1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "core.cache.RedisCache"
