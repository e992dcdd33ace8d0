"""A throwaway PostgreSQL server on loopback for tests (the bench results store and the service database).

initdb + pg_ctl in a fresh temporary folder, listening on 127.0.0.1 at a free port, its socket in that
folder (never a shared /var/run), fsync off; stopped and deleted afterwards. initdb refuses to run as root,
so as root the server runs as the ``postgres`` system user (hence a folder outside pytest's tmp_path, which
lies under a root-only directory). Skips the test with the reason when the binaries are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_server(user: str, database: str, scheme: str = "postgresql") -> Iterator[str]:
    """Yield the URL ``{scheme}://{user}@127.0.0.1:{port}/{database}`` of a running server."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
                    "scripts/install-system-deps.sh installs them")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        as_user = ["runuser", "-u", "postgres", "--"]
    home = Path(tempfile.mkdtemp(prefix="unmask-pg-"))
    if as_user:
        os.chmod(home, 0o755)
        shutil.chown(home, user="postgres")
    port = free_port()

    def run(*args: str, check: bool = True) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=60)
        if check and done.returncode:
            detail = done.stderr or done.stdout
            raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {detail}")

    data = home / "data"
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {port} -k {home} -F"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
        try:
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, database)
            yield f"{scheme}://{user}@127.0.0.1:{port}/{database}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
    finally:
        shutil.rmtree(home, ignore_errors=True)
