"""The service on PostgreSQL (a server started on loopback by the fixture): migrations, the API flow,
the keys CLI, and concurrent workers that never claim a job twice."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

from service_fixtures import wav_bytes


def test_migrations_on_postgres(postgres_url) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from unmask.service.db import ServiceStore, metadata

    store = ServiceStore(postgres_url)
    assert store.engine.dialect.name == "postgresql"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    ServiceStore(postgres_url).close()
    store.close()


def test_api_on_postgres(make_service, postgres_url) -> None:
    service = make_service(db_url=postgres_url)
    assert service.store.engine.dialect.name == "postgresql"
    ids = [service.upload(wav_bytes(1.5, seed=i), name=f"pg{i}.wav").json()["id"] for i in range(3)]
    short = service.upload(wav_bytes(0.1), name="short.wav").json()["id"]
    scans = [service.wait(i) for i in ids]
    assert all(s["status"] == "done" and len(s["result"]["timeline"]) == 2 for s in scans)
    assert "too short" in service.wait(short)["error"]
    get = service.client.get
    assert get("/v1/scans?verdict=error", headers=service.headers()).json()["total"] == 1
    now = datetime.now(timezone.utc)
    later = (now + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-7)))  # another offset
    window = {"created_after": (now - timedelta(minutes=5)).isoformat(), "created_before": later.isoformat()}
    assert get("/v1/scans", params=window, headers=service.headers()).json()["total"] == 4
    assert get("/v1/scans", params={"created_after": (now + timedelta(minutes=5)).isoformat()},
               headers=service.headers()).json()["total"] == 0
    page = get("/v1/scans?limit=3&offset=1", headers=service.headers()).json()
    assert [s["filename"] for s in page["items"]] == ["pg2.wav", "pg1.wav", "pg0.wav"]
    assert service.client.delete(f"/v1/scans/{ids[0]}", headers=service.headers()).status_code == 204
    assert get("/v1/scans", headers=service.headers()).json()["total"] == 3
    assert "unmask_scan_jobs" in get("/metrics", headers=service.headers()).text


def test_keys_cli_on_postgres(postgres_url) -> None:
    from typer.testing import CliRunner

    from unmask.cli.main import app as cli

    runner = CliRunner()
    made = runner.invoke(cli, ["serve", "keys", "create", "--name", "desk", "--db", postgres_url, "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    listed = json.loads(runner.invoke(cli, ["serve", "keys", "list", "--db", postgres_url, "--json"]).stdout)
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert runner.invoke(cli, ["serve", "keys", "revoke", key["key_id"], "--db", postgres_url]).exit_code == 0


def test_concurrent_claims_take_each_job_once(postgres_url) -> None:
    from unmask.service.db import ServiceStore

    stores = [ServiceStore(postgres_url) for _ in range(2)]  # as if two server processes shared the database
    _, owner = stores[0].create_key("claims")
    queued = {
        stores[0].add_scan(owner=owner.id, source="upload", filename=f"{i}.wav", media_type="audio/wav",
                           size_bytes=1, stored_path=f"/nowhere/{i}", model="m")["id"]
        for i in range(40)
    }
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(store) -> None:
        while (job := store.claim_next()) is not None:
            with lock:
                claimed.append(job["id"])

    threads = [threading.Thread(target=worker, args=(stores[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted(queued)  # every job once, none twice
    assert stores[1].recover(max_attempts=3) == (40, 0)  # a restart queues the running ones again
    for store in stores:
        store.close()
