"""Redis failing under a job's event writes, at the one call each write makes."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from eco2.platform.job_events import EventLog

TERMINAL_FLAGS = slice(5, None, 4)  # the emit script's args: 4 fixed, then 4 per event


def failing_writes(log: EventLog, failures: list[str], *, only_ends: bool = False) -> None:
    """Each write (each one ending a job, with ``only_ends``) first takes the next of
    ``failures``: "before" (Redis never saw it), "after" (it ran, the reply was lost) or ""
    (it goes through)."""
    script = log._emit

    async def write(*, keys: list[str], args: list[object]) -> object:
        ends = "1" in args[TERMINAL_FLAGS]
        failure = failures.pop(0) if failures and (ends or not only_ends) else ""
        if failure == "before":
            raise RedisConnectionError("connection refused")
        result = await script(keys=keys, args=args)  # type: ignore[arg-type]
        if failure == "after":
            raise RedisConnectionError("connection reset by peer")
        return result

    log._emit = write  # type: ignore[method-assign,assignment]
