"""``unmask serve``: the HTTP API, the web page and the scoring workers in one command; ``serve keys``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from unmask.cli.common import DEVICE_HELP, EXIT_USAGE, console, error, info, print_json, scoring_threads
from unmask.errors import UnmaskError

serve_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)
keys_app = typer.Typer(no_args_is_help=True)
serve_app.add_typer(keys_app, name="keys", help="Create, list and revoke API keys.")

DB_HELP = "Database URL (sqlite:///FILE, postgresql://USER@HOST/DB); default: SQLite in --data-dir."
DATA_HELP = (
    "Folder for the SQLite store and queued uploads "
    "(default $UNMASK_SERVE_HOME or ~/.local/share/unmask/serve)."
)


def _config(db: str | None, data_dir: Path | None, **options):
    from unmask.service.config import ServiceConfig, default_data_dir

    return ServiceConfig(data_dir=data_dir or default_data_dir(), db_url=db, **options)


def _store(db: str | None, data_dir: Path | None):
    from unmask.service.db import ServiceStore

    config = _config(db, data_dir)
    if config.db_url is None:
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return ServiceStore(config.url)
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to bind; the default serves this machine only."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port (0: any free port)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    workers: int = typer.Option(1, "--workers", "-j", min=1, max=64, help="Scoring worker threads."),
    model: str = typer.Option(
        "auto", "--model", "-m",
        help="auto (the default): speech parts to default, music parts to --music-model (docs/music.md); "
             "or one model for every upload: a bundled name or a checkpoint path."),
    music_model: str | None = typer.Option(
        None, "--music-model", help="With --model auto: the music detector for music parts (default: "
        "the bundled music model; none: not judged)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    threads: int = typer.Option(0, min=0, help="Torch threads in all; 0 = one fewer than the CPU cores."),
    max_upload_mb: float = typer.Option(1024.0, min=0.001, help="Largest upload accepted, in MiB."),
    max_duration: float = typer.Option(3 * 3600.0, min=0.1, help="Longest audio accepted, in seconds."),
    rate_limit: int = typer.Option(300, min=0, help="Requests a minute per API key (0: no limit)."),
    retention_hours: float = typer.Option(0.0, min=0, help="Keep uploads N hours after scoring."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help="Allow scans of server files under DIR."),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help="Allow ORIGIN by CORS (default: off)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json), the web page (/) and the scoring workers."""
    if ctx.invoked_subcommand is not None:
        return
    import torch
    import uvicorn

    from unmask.service.app import create_app

    try:
        if music_model is not None and model != "auto":
            raise UnmaskError("--music-model applies to --model auto")
        config = _config(
            db, data_dir, model=model, music_model=music_model, device=device, workers=workers,
            max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_duration_s=max_duration,
            rate_limit_per_minute=rate_limit, retention_hours=retention_hours,
            path_roots=tuple(allow_path), cors_origins=tuple(cors_origin),
        )
        for root in config.path_roots:
            if not root.is_dir():
                raise UnmaskError(f"--allow-path {root}: not a folder")
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Each worker scores one file at a time; share the cores among them.
        torch.set_num_threads(max(1, scoring_threads(threads) // workers))
        app = create_app(config)
    except (UnmaskError, ValueError) as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    store = app.state.store
    if not any(k.revoked_at is None for k in store.list_keys()):
        info("no API keys yet: create one with [bold]unmask serve keys create --name NAME[/]"
             + ("" if db is None else f" --db {store.safe_url}"))
    if host not in ("127.0.0.1", "localhost", "::1"):
        info(f"serving on {host}: anyone who can reach it can try keys; put TLS in front of it")
    detector = app.state.detector
    info(f"unmask serve: model {detector.name} on {detector.device}, {workers} worker(s), "
         f"store {store.safe_url}; page at http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, proxy_headers=False)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name", help="Who or what the key is for."),
    admin: bool = typer.Option(False, "--admin", help="An admin key sees every key's scans."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Create an API key. It is printed once; only its hash is stored."""
    store = _store(db, data_dir)
    key, record = store.create_key(name, admin=admin)
    store.close()
    if as_json:
        print_json({"key": key, **record.to_dict()})
        return
    typer.echo(key)
    info(f"key {record.key_id} for {name!r}{' (admin)' if admin else ''}: keep it now, it is not shown again")


@keys_app.command("list")
def keys_list(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List API keys (ids and names; the keys themselves are not stored)."""
    store = _store(db, data_dir)
    keys = store.list_keys()
    store.close()
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    table = Table(title="API keys")
    for column in ("id", "name", "admin", "created", "last used", "revoked"):
        table.add_column(column)
    for k in keys:
        table.add_row(
            k.key_id, k.name, "yes" if k.admin else "", f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (from `keys list`), or the key itself."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_HELP),
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    store = _store(db, data_dir)
    done = store.revoke_key(key_id)
    store.close()
    if not done:
        error(f"no live key with id {key_id!r}")
        raise typer.Exit(EXIT_USAGE)
    info(f"revoked key {key_id}")
