"""The ASGI factories servers load (granian's targets for ``eco2 serve`` and ``eco2 worker``).

Light on purpose: importing the app takes about a second, and Kiwi, the knowledge library's
Korean analyzer (seconds of loading, in a process of its own), starts before that, so that it
is ready about when the app is. ``/ready`` waits for it through the ``knowledge`` warm-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eco2 import kiwi_process, registry

if TYPE_CHECKING:
    from litestar import Litestar


def asgi() -> Litestar:
    """The app of the domains in ``ECO2_DOMAINS`` (comma-separated; default: all)."""
    _start_analyzer(registry.domains_from_environment())
    from eco2 import app

    return app.asgi()


def worker_asgi() -> Litestar:
    """A job worker for the job domains of ``ECO2_DOMAINS`` (default: all of them)."""
    _start_analyzer(registry.domains_from_environment() or list(registry.JOB_DOMAINS))
    from eco2 import app

    return app.worker_asgi()


def _start_analyzer(names: list[str]) -> None:
    if any(domain.uses_knowledge for domain in registry.select(names)):
        kiwi_process.shared()
