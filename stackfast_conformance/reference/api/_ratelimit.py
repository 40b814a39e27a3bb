"""Fixed-window rate limiter on ``/api/v1/*`` with a Redis (Upstash-like) store.

Buckets: ``generation`` (POST blueprints + scaffolds, shared) and ``read``
(every other ``/api/v1/*`` route). Key ``{bucket}:{clientId}``. The window
starts at a key's first request (INCR + PEXPIRE in one Lua script), so counts
survive an API restart. If the store is unreachable, slow or erroring the
request is allowed (fail-open) and one warning line is logged per outage and
then at most once per window while it lasts; recovery is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.datastructures import Headers

from ._config import ApiConfig
from ._log import one_line

GENERATION_PATHS = frozenset({"/api/v1/blueprints", "/api/v1/scaffolds"})

# INCR; the first hit starts the window; return the count and the ms left.
_FIXED_WINDOW_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class StoreUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Verdict:
    """What the limiter decided. ``retry_after`` is set only when blocked."""

    allowed: bool
    retry_after: int | None = None
    store_failed: bool = False
    # the most constrained bucket's quota, for @upstash/ratelimit-style X-RateLimit-* headers
    limit: int | None = None
    remaining: int | None = None
    reset_at_ms: int | None = None


class MemoryStore:
    """The pre-Upstash in-process Map: counts die with the process."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        now = time.monotonic()
        count, reset_at = self._windows.get(key, (0, 0.0))
        if now >= reset_at:
            count, reset_at = 0, now + window_ms / 1000
        count += 1
        self._windows[key] = (count, reset_at)
        return count, max(0, int((reset_at - now) * 1000))

    async def close(self) -> None:
        self._windows.clear()


class RedisStore:
    def __init__(self, url: str, timeout_seconds: float | None) -> None:
        """``timeout_seconds`` None (fault ``limiter-no-timeout``): a hung store hangs every request."""
        self._timeout = timeout_seconds
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._script = self._client.register_script(_FIXED_WINDOW_LUA)

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        try:
            count, ttl = await asyncio.wait_for(self._script(keys=[key], args=[window_ms]), self._timeout)
        except TimeoutError as exc:
            raise StoreUnavailable(f"timed out after {self._timeout:g}s") from exc
        except Exception as exc:  # any store failure means fail-open
            raise StoreUnavailable(one_line(exc)) from exc
        return int(count), int(ttl)

    async def close(self) -> None:
        await self._client.aclose()


def client_id(headers: Headers, config: ApiConfig) -> str:
    """x-forwarded-for (whole value) > cf-connecting-ip > 'local'."""
    if config.has("bucket-key-ignores-forwarded-for"):
        return "local"
    order = ("x-forwarded-for", "cf-connecting-ip")
    if config.has("bucket-key-prefers-cf"):
        order = ("cf-connecting-ip", "x-forwarded-for")
    for name in order:
        value = headers.get(name, "").strip()
        if value and name == "x-forwarded-for" and config.has("xff-leftmost-hop"):
            value = value.split(",")[0].strip()  # upstream client-id.ts: the left-most hop is the client
        if value:
            return value
    return "local"


def buckets_for(method: str, path: str, config: ApiConfig) -> list[tuple[str, int]]:
    """(bucket name, limit) pairs a request draws on; empty outside /api/v1."""
    if path in GENERATION_PATHS and method == "POST":
        limit = config.generation_limit + (1 if config.has("generation-limit-off-by-one") else 0)
        limit -= 1 if config.has("generation-limit-short-by-one") else 0
        name = "generation"
        if config.has("generation-buckets-split"):
            name = "generation-" + path.rsplit("/", 1)[1]
        pairs = [(name, limit)]
        if config.has("generation-draws-read-bucket"):
            pairs.append(("read", _read_limit(config)))
        return pairs
    if path == "/api/v1" or path.startswith("/api/v1/"):
        return [("read", _read_limit(config))]
    return []


def _read_limit(config: ApiConfig) -> int:
    return config.read_limit + (1 if config.has("read-limit-off-by-one") else 0)


class RateLimiter:
    def __init__(self, config: ApiConfig, logger: logging.Logger) -> None:
        self._config = config
        self._logger = logger
        self._window_ms = max(1, int(config.window_seconds * 1000))
        in_memory = config.rate_limit_backend == "memory" or config.has("counts-lost-on-restart")
        self._store: MemoryStore | RedisStore = (
            MemoryStore() if in_memory else RedisStore(config.redis_url, None if config.has("limiter-no-timeout")
                                                       else config.redis_timeout_seconds)
        )
        self._unavailable = False
        self._last_warning = -math.inf

    async def close(self) -> None:
        await self._store.close()

    async def check(self, buckets: list[tuple[str, int]], client: str) -> Verdict:
        retry_after: int | None = None
        quota: tuple[int, int, int] | None = None  # (remaining, limit, reset_at_ms) of the tightest bucket
        for bucket, limit in buckets:
            try:
                count, ttl_ms = await self._store.hit(f"{bucket}:{client}", self._window_ms)
            except StoreUnavailable as exc:
                self._note_failure(str(exc))
                if self._config.has("limiter-fails-closed"):
                    return Verdict(allowed=False, store_failed=True)
                return Verdict(allowed=True, store_failed=True)
            self._note_success()
            left = (max(0, limit - count), limit, int(time.time() * 1000) + ttl_ms)
            quota = left if quota is None or left[0] < quota[0] else quota
            if count > limit and retry_after is None:
                retry_after = self._retry_after(ttl_ms)
        remaining, limit_, reset_at_ms = quota if quota else (None, None, None)
        if retry_after is not None:
            return Verdict(allowed=False, retry_after=retry_after, limit=limit_, remaining=remaining,
                           reset_at_ms=reset_at_ms)
        return Verdict(allowed=True, limit=limit_, remaining=remaining, reset_at_ms=reset_at_ms)

    def quota_headers(self, verdict: Verdict) -> dict[str, str]:
        """X-RateLimit-Limit/Remaining/Reset (variants ``ratelimit-headers``: Reset in epoch seconds as
        upstream's middleware; ``ratelimit-headers-ms``: in epoch milliseconds as @upstash/ratelimit's
        ``reset``). Empty unless a variant asks and the store answered."""
        if verdict.limit is None or verdict.reset_at_ms is None:
            return {}
        if self._config.has("ratelimit-headers"):
            reset = str(math.ceil(verdict.reset_at_ms / 1000))
        elif self._config.has("ratelimit-headers-ms"):
            reset = str(verdict.reset_at_ms)
        else:
            return {}
        return {"X-RateLimit-Limit": str(verdict.limit), "X-RateLimit-Remaining": str(verdict.remaining),
                "X-RateLimit-Reset": reset}

    def _retry_after(self, ttl_ms: int) -> int:
        if self._config.has("retry-after-wrong"):
            return max(1, ttl_ms)  # milliseconds where seconds are due
        return max(1, math.ceil(ttl_ms / 1000))

    def _note_failure(self, message: str) -> None:
        now = time.monotonic()
        every_time = self._config.has("fail-open-log-every-request")
        if every_time or now - self._last_warning >= self._config.window_seconds:
            self._logger.warning("[rate-limit] upstash unavailable: %s", message)
            self._last_warning = now
        self._unavailable = True

    def _note_success(self) -> None:
        if self._unavailable:
            self._unavailable = False
            self._last_warning = -math.inf  # a new outage after recovery is reported at once
            self._logger.warning("[rate-limit] upstash recovered")
