"""Django's Redis cache, with one redis-py client per connection pool rather than one per call.

Django's client builds a `redis.Redis` for every get, set and delete (about 50 µs of a
worker's CPU each: a third of a cache read); a page reads the cache two to four times (the
session, the parts cached per snapshot). A `redis.Redis` is safe to share between threads (each
command takes a connection from the pool), so one is kept for each pool. Everything else is
Django's.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _Client(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)  # a read may go to any replica: pick once
        client = self._clients.get(pool)
        if client is None:
            # Two threads may both make one here: either is fine, the pool is shared.
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client
