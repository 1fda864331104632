"""``eco2`` command line: serve, db, keys (and, as domains grow, authz and data tools)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from eco2 import registry
from eco2.settings import Settings, get_settings

if TYPE_CHECKING:
    from granian.server.common import AbstractServer

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Eco² backend."""


# --- serve ----------------------------------------------------------------------------------


def _local_secret(settings: Settings, name: str) -> str:
    """A per-installation secret kept in the data dir (local mode only)."""
    path = settings.data_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


LOOPBACK_OR_ANY = ("127.0.0.1", "0.0.0.0", "localhost", "::1", "::")  # noqa: S104


def default_public_base_url(host: str, port: int) -> None:
    """Unless ECO2_PUBLIC_BASE_URL says otherwise, the API is reached where it listens: upload
    and OAuth callback URLs follow ``--port`` (a wildcard or loopback host is ``localhost``)."""
    shown = "localhost" if host in LOOPBACK_OR_ANY else f"[{host}]" if ":" in host else host
    os.environ.setdefault("ECO2_PUBLIC_BASE_URL", f"http://{shown}:{port}")
    get_settings.cache_clear()


@contextmanager
def resolved_environment() -> Iterator[Settings]:
    """Start embedded PostgreSQL/Valkey for what is not configured and export their URLs.

    Exported through the environment so server workers and child processes inherit them.
    """
    from eco2.platform.embedded import embedded_services

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded_db = not settings.database_url
    with embedded_services(
        settings.data_dir, postgres=embedded_db, valkey=not settings.redis_url
    ) as urls:
        for key, value in urls.items():
            os.environ[f"ECO2_{key.upper()}"] = value
        os.environ.setdefault("ECO2_ENV", settings.env)  # children must not re-derive it
        if settings.env == "local" and not settings.internal_token:
            os.environ["ECO2_INTERNAL_TOKEN"] = _local_secret(settings, "internal-token")
        get_settings.cache_clear()
        resolved = get_settings()
        if resolved.env == "local" and not resolved.auth_signing_keys:
            from eco2.keys import local_key_files

            # Here, not in each worker: two workers starting together would each mint a key.
            local_key_files(resolved, create=True)
        if embedded_db:
            from eco2.migrate import upgrade_unless_current
            from eco2.platform.embedded import applied_revisions

            upgrade_unless_current(resolved, lambda: applied_revisions(resolved.database_url or ""))
        yield resolved


@main.command()
@click.option(
    "--domain",
    "domains",
    multiple=True,
    type=click.Choice(registry.DOMAIN_NAMES),
    help="Serve only this domain (repeatable). Default: every domain.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(domains: tuple[str, ...], host: str, port: int, workers: int) -> None:
    """Run the API (all domains, or the chosen ones) on granian."""
    default_public_base_url(host, port)
    with resolved_environment() as settings:
        os.environ["ECO2_DOMAINS"] = ",".join(domains)
        console.print(
            f"[bold green]Eco²[/] serving {', '.join(domains) or 'all domains'} "
            f"({settings.env}) on {host}:{port}  ·  {settings.public_base_url}  ·  "
            f"API docs: {settings.public_base_url}/docs"
        )
        granian_server(host, port, workers).serve()


def granian_server(
    host: str, port: int, workers: int, target: str = "eco2.serving:asgi"
) -> AbstractServer[Any]:
    """The HTTP server of ``eco2 serve`` (a bench passes its own ASGI factory as ``target``)."""
    from granian.constants import Interfaces
    from granian.server import Server

    return Server(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
        backlog=2048,
    )


@main.command()
@click.option(
    "--domain",
    "domains",
    multiple=True,
    type=click.Choice(registry.JOB_DOMAINS),
    help="Work only this domain's job queue (repeatable). Default: every job domain.",
)
# Pods: kubelet probes and Prometheus reach the worker on the pod IP.
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104
@click.option("--port", default=9100, show_default=True, type=click.IntRange(1, 65535))
def worker(domains: tuple[str, ...], host: str, port: int) -> None:
    """Run job workers only (health, readiness and metrics on --port).

    On SIGTERM a worker stops taking jobs, gives running ones ECO2_JOBS_DRAIN_SECONDS to
    finish and hands back the rest. `eco2 serve` runs the same workers in-process.
    """
    from granian.constants import Interfaces
    from granian.server import Server

    settings = get_settings()
    if not settings.database_url or not settings.redis_url:
        console.print(
            "[red]eco2 worker needs ECO2_DATABASE_URL and ECO2_REDIS_URL[/] "
            "(on the embedded default, `eco2 serve` runs the workers in-process)"
        )
        sys.exit(2)
    os.environ["ECO2_DOMAINS"] = ",".join(domains)
    console.print(
        f"[bold green]Eco²[/] worker for {', '.join(domains) or 'every job domain'} "
        f"({settings.env}); health on http://{host}:{port}/health"
    )
    Server(
        "eco2.serving:worker_asgi",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        log_access=False,
    ).serve()


# --- authz ----------------------------------------------------------------------------------


@main.command()
# Pods: kubelet probes and the gateway reach the server on the pod IP.
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104
@click.option("--grpc-port", default=50051, show_default=True, type=click.IntRange(0, 65535))
@click.option("--http-port", default=9090, show_default=True, type=click.IntRange(0, 65535))
def authz(host: str, grpc_port: int, http_port: int) -> None:
    """Run the Envoy ext_authz gRPC server (health, ready and metrics on --http-port)."""
    import asyncio
    import logging

    from eco2.authz.server import run
    from eco2.platform.logging import configure_logging
    from eco2.platform.tracing import setup_tracing

    settings = get_settings()
    if not settings.redis_url:
        console.print("[red]eco2 authz needs ECO2_REDIS_URL (the revocation store)[/]")
        sys.exit(2)
    setup_tracing("eco2-authz")
    configure_logging(level=settings.log_level, json=settings.json_logs)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per JWKS refresh
    console.print(f"[bold green]Eco²[/] authz: gRPC {host}:{grpc_port}, HTTP {host}:{http_port}")
    asyncio.run(run(settings, host, grpc_port, http_port))


# --- dev ------------------------------------------------------------------------------------


@main.group()
def dev() -> None:
    """Local development topologies."""


@dev.command("split")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--domain",
    "domains",
    multiple=True,
    type=click.Choice(registry.DOMAIN_NAMES),
    help="Start only this domain (repeatable). Default: every domain.",
)
def dev_split(port: int, domains: tuple[str, ...]) -> None:
    """Every domain as its own process behind a real Envoy + ext_authz gateway on --port."""
    from eco2.devsplit import run_split, sigterm_as_interrupt

    with sigterm_as_interrupt(), resolved_environment() as settings:
        try:
            run_split(settings, port, domains)
        except RuntimeError as exc:
            console.print(f"[red]{exc}[/]")
            sys.exit(1)


# --- db -------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from eco2.migrate import upgrade

    with _database_settings() as settings:
        upgrade(settings, revision)


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from eco2.migrate import downgrade

    with _database_settings() as settings:
        downgrade(settings, revision)


@db.command("current")
def db_current() -> None:
    from eco2.migrate import current

    with _database_settings() as settings:
        current(settings)


@db.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True, show_default=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Create a migration (review autogenerated ones by hand)."""
    from eco2.migrate import revision

    with _database_settings() as settings:
        revision(settings, message, autogenerate=autogenerate)


@contextmanager
def _database_settings() -> Iterator[Settings]:
    settings = get_settings()
    if settings.database_url:
        yield settings
        return
    from eco2.platform.embedded import embedded_services

    with embedded_services(settings.data_dir, postgres=True, valkey=False) as urls:
        yield settings.model_copy(update=urls)


# --- data -----------------------------------------------------------------------------------


@main.group()
def data() -> None:
    """Reference data imports."""


@data.command("import-locations")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def data_import_locations(files: tuple[Path, ...]) -> None:
    """Import KECO / zero-waste map CSVs (default: the bundled datasets). Idempotent."""
    from eco2.domains.location.cli import run_import

    with resolved_environment() as settings:
        run_import(settings, list(files), console)


@data.command("import-news")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--category",
    type=click.Choice(["environment", "energy", "ai"]),
    default=None,
    help="The category of every article (required for RSS/Atom; JSON articles carry theirs).",
)
def data_import_news(file: Path, category: str | None) -> None:
    """Load saved news into the Info feed: an RSS/Atom file or JSON articles. Idempotent."""
    from eco2.domains.info.cli import run_import
    from eco2.domains.info.feeds import CATEGORIES, FeedError

    chosen = next((c for c in CATEGORIES if c == category), None)
    with resolved_environment() as settings:
        try:
            run_import(settings, file, chosen, console)
        except FeedError as exc:
            console.print(f"[red]{file}: {exc}[/]")
            sys.exit(1)


@data.command("collect-news")
def data_collect_news() -> None:
    """Collect the news now from the configured feeds (and Naver, with credentials)."""
    from eco2.domains.info.cli import run_collect

    with resolved_environment() as settings:
        run_collect(settings, console)


@data.command("embed-knowledge")
def data_embed_knowledge() -> None:
    """Embed the waste items and tokenize their names into the package's bundled index (after
    editing items.yaml or upgrading kiwipiepy): without it a first start computes them."""
    from eco2.knowledge import write_bundled_index

    for path in write_bundled_index():
        console.print(f"wrote {path}")


# --- keys -----------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """JWT signing keys."""


@keys.command("generate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the PEM (default: <data dir>/keys).",
)
def keys_generate(directory: Path | None) -> None:
    """Create a new RSA signing key; the newest key signs, all keys verify."""
    from eco2.keys import keys_dir, write_new_key

    path = write_new_key(directory or keys_dir(get_settings()))
    click.echo(str(path))


if __name__ == "__main__":
    sys.exit(main())
