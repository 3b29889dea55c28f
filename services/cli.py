"""The `vigil` command line."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from collections.abc import Sequence

from pydantic import ValidationError

from services.core.errors import ConfigurationError, NotFound


def _cmd_up(args: argparse.Namespace) -> int:
    from services.core.logs import configure_logging
    from services.core.runtime import ensure_port_free, stop_on_signals
    from services.embedded import EmbeddedStack

    configure_logging("INFO")

    async def main() -> None:
        stack = EmbeddedStack.build(args.database_url)
        api_settings, ingest_settings = stack.api.settings, stack.ingest_settings
        ensure_port_free(api_settings.api_host, api_settings.api_port, "the API")
        ensure_port_free(ingest_settings.ingest_host, ingest_settings.ingest_port, "ingest")
        stop = asyncio.Event()
        stop_on_signals(stop)
        await stack.start()
        api = stack.api.settings
        ingest = stack.ingest_settings
        admin_key = stack.api.ensure_admin_key()
        print(
            f"Vigil is up: API http://{api.api_host}:{api.api_port} (OpenAPI at /docs), "
            f"ingest http://{ingest.ingest_host}:{ingest.ingest_port}; "
            f"database {api.database_url}. Ctrl-C stops.",
            flush=True,
        )
        if admin_key is not None:
            print(
                "First start: created an admin API key. It is shown only this once; send it "
                "as `Authorization: Bearer KEY` (more keys: vigil keys create).\n" + admin_key,
                flush=True,
            )
        try:
            await stack.serve(stop)
        finally:
            await stack.stop()

    asyncio.run(main())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from services.core.logs import configure_logging
    from services.demo.run import run_demo

    configure_logging("WARNING")
    if args.scenario == "microservices" and args.webhook:
        print(
            "vigil demo: --webhook is not available with --scenario microservices", file=sys.stderr
        )
        return 2
    if args.scenario == "microservices":
        from services.demo.microservices import run_microservices_demo

        return asyncio.run(run_microservices_demo(seed=args.seed, database_url=args.database_url))
    from services.demo.webhook import webhook_channels

    try:
        webhook_channels(args.webhook, args.webhook_secret or "")  # check before starting
    except ValueError as exc:
        print(f"vigil demo: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(
        run_demo(
            duration=args.duration,
            seed=args.seed,
            database_url=args.database_url,
            webhook=args.webhook,
            webhook_secret=args.webhook_secret or "",
        )
    )


def _cmd_run(args: argparse.Namespace) -> int:
    # A SIGTERM that arrives while the service is still importing and connecting (seconds
    # on a busy machine) must still mean "shut down cleanly, exit 0", not death by the
    # default handler: note it now, and hand it to the event loop once that owns signals.
    stop_requested = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: stop_requested.set())
    from services.production import run_service

    asyncio.run(run_service(args.service, stop_requested=stop_requested.is_set))
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    import migrations
    from services.core.settings import CommonSettings

    url = args.url or CommonSettings().database_url
    if args.action == "upgrade":
        migrations.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrations.downgrade(url, args.revision or "-1")
    else:
        migrations.current(url)
    return 0


def _cmd_topics(args: argparse.Namespace) -> int:
    from services.core.bus.kafka import ensure_topics
    from services.core.settings import CommonSettings

    created = ensure_topics(CommonSettings().kafka_servers)
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from services.api.auth import service as keys
    from services.api.auth.principal import CLI
    from services.api.auth.roles import Role
    from services.core.db import make_engine, make_session_factory, transaction
    from services.core.settings import CommonSettings

    engine = make_engine(args.database_url or CommonSettings().database_url)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) as session:
            if args.action == "create":
                if not args.name or not args.role:
                    print("vigil: keys create needs --role and --name", file=sys.stderr)
                    return 2
                row, token = keys.create_key(
                    session=session, name=args.name, role=Role(args.role), actor=CLI
                )
                print(
                    f"Created API key {row.id} named {row.name!r} with role {row.role}. "
                    "It is shown only this once; send it as `Authorization: Bearer KEY`."
                )
                print(token)
            elif args.action == "list":
                for key in keys.list_keys(session=session):
                    state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                    print(f"{key.id}  {key.role:<9}  {state:<18}  {key.name}")
            else:
                if not args.id:
                    print("vigil: keys revoke needs --id", file=sys.stderr)
                    return 2
                keys.revoke_key(session=session, key_id=args.id, actor=CLI)
                print(f"Revoked API key {args.id}.")
    except (OperationalError, ProgrammingError) as exc:
        raise ConfigurationError(
            f"cannot use the database ({type(exc.orig).__name__}); "
            "is it reachable and migrated (vigil db upgrade)?"
        ) from exc
    finally:
        engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Vigil: event-driven AIOps (ingest, detect, incidents, remediate).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run every service in one process (in-memory bus, SQLite)")
    up.add_argument("--database-url", help="default: VIGIL_DATABASE_URL or sqlite:///./vigil.db")
    up.set_defaults(func=_cmd_up)

    demo = sub.add_parser("demo", help="embedded stack + synthetic workload with injected faults")
    demo.add_argument("--duration", type=float, default=60.0, help="seconds of wall time")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--database-url", help="default: a fresh SQLite file in a temp directory")
    demo.add_argument(
        "--scenario",
        choices=["microservices"],
        help="microservices: a simulated shop's metrics, logs and traces with a slow database, "
        "incidents printed with their top root cause (runs as fast as it goes; no --duration)",
    )
    demo.add_argument(
        "--webhook",
        metavar="URL",
        help="also deliver every notification to URL, signed (see docs/notifications.md)",
    )
    demo.add_argument(
        "--webhook-secret", metavar="SECRET", help="the HMAC-SHA256 key for --webhook"
    )
    demo.set_defaults(func=_cmd_demo)

    run = sub.add_parser("run", help="run one service against Kafka and PostgreSQL")
    run.add_argument("service", choices=["ingest", "detect", "remediate", "api"])
    run.set_defaults(func=_cmd_run)

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("--url", help="default: VIGIL_DATABASE_URL")
    db.add_argument("--revision", help="target revision (upgrade: head, downgrade: -1)")
    db.set_defaults(func=_cmd_db)

    keys = sub.add_parser("keys", help="API keys: create (printed once), list, revoke")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("--role", choices=["viewer", "responder", "approver", "admin"])
    keys.add_argument("--name", help="who or what uses the key")
    keys.add_argument("--id", help="the key id to revoke (from `vigil keys list`)")
    keys.add_argument("--database-url", help="default: VIGIL_DATABASE_URL")
    keys.set_defaults(func=_cmd_keys)

    topics = sub.add_parser("topics", help="create the Kafka topics Vigil uses")
    topics.add_argument("action", choices=["create"])
    topics.set_defaults(func=_cmd_topics)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vigil` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "duration", 1) <= 0:
        print("vigil: --duration must be positive", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except (ConfigurationError, ValidationError) as exc:
        print(f"vigil: configuration error: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
