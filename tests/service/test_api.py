"""The HTTP API through httpx (Starlette's TestClient): scans, history, keys, limits, headers, metrics."""

from __future__ import annotations

import json
import os
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from service_fixtures import tiny_detector, wav_bytes


def test_health_needs_no_key_and_everything_else_does(service) -> None:
    health = service.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["model"] == "tiny"
    for method, path in [("GET", "/v1/models"), ("GET", "/v1/scans"), ("POST", "/v1/scans"),
                         ("GET", "/metrics"), ("GET", "/v1/scans/" + "0" * 32),
                         ("DELETE", "/v1/scans/" + "0" * 32), ("GET", f"/v1/scans/{'0' * 32}/spectrogram")]:
        response = service.client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        bad = service.client.request(method, path, headers={"Authorization": "Bearer unm_00000000_nope"})
        assert bad.status_code == 401, (method, path)


def test_upload_is_scored_like_the_detector_scores_the_file(service, tmp_path: Path) -> None:
    data = wav_bytes(3.0, seed=1)
    created = service.upload(data, name="interview.wav")
    assert created.status_code == 202, created.text
    scan = created.json()
    assert scan["status"] == "queued" and scan["filename"] == "interview.wav"
    assert created.headers["location"] == f"/v1/scans/{scan['id']}"
    done = service.wait(scan["id"])
    assert done["status"] == "done" and done["error"] is None and done["attempts"] == 1
    # The same Detector on the same bytes gives the same ScanResult JSON the CLI writes.
    local = tmp_path / "interview.wav"
    local.write_bytes(data)
    expected = json.loads(json.dumps(service.app.state.detector.scan(local).to_dict()))
    expected["path"] = "interview.wav"
    assert done["result"] == expected
    assert done["verdict"] == expected["verdict"] and done["fake_probability"] == expected["fake_probability"]
    assert len(done["result"]["timeline"]) == 5  # 1 s windows every 0.5 s over 3 s
    picture = service.client.get(f"/v1/scans/{scan['id']}/spectrogram", headers=service.headers()).json()
    assert picture["bands"] == 64 and picture["frames"] > 100 and picture["duration_s"] == 3.0
    # Scored uploads are deleted (no retention configured).
    assert list(service.config.upload_dir.iterdir()) == []


def test_cli_and_service_agree(make_service, tmp_path: Path) -> None:
    """``unmask scan --format json`` on a checkpoint and the service on the same checkpoint agree.

    The service gets a store of its own: a second app on a shared store would race the first one's
    workers for the job, and they score with another detector."""
    from typer.testing import CliRunner

    from unmask.cli.main import app as cli
    from unmask.detect.pipeline import Detector
    from unmask.models.checkpoint import Checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "tiny.pt", Checkpoint(tiny_detector().model))
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(2.5, seed=4))
    out = CliRunner().invoke(cli, ["--quiet", "scan", str(clip), "--model", str(tmp_path / "tiny.pt"),
                                   "--format", "json", "--device", "cpu"])
    assert out.exit_code == 0, out.output
    cli_row = json.loads(out.stdout)[0]
    service = make_service(detector=Detector.load(tmp_path / "tiny.pt", device="cpu"))
    scan_id = service.upload(clip.read_bytes(), name="clip.wav").json()["id"]
    result = service.wait(scan_id)["result"]
    cli_row["path"] = "clip.wav"
    assert result == cli_row


def test_failed_jobs_are_recorded_with_their_reason(make_service) -> None:
    service = make_service()
    short = service.upload(wav_bytes(0.2), name="blip.wav").json()
    scan = service.wait(short["id"])
    assert scan["status"] == "failed" and "too short to judge" in scan["error"]
    assert scan["error"].startswith("blip.wav:")  # named as the user knows it ...
    assert str(service.config.upload_dir) not in json.dumps(scan)  # ... never by the server's path
    assert scan["result"]["verdict"] == "error" and scan["result"]["path"] == "blip.wav"

    def explode(path):
        raise RuntimeError("the model fell over")

    broken = make_service()
    broken.app.state.pool.detector.scan = explode
    scan = broken.wait(broken.upload(wav_bytes(1.0)).json()["id"])
    assert scan["status"] == "failed" and "unexpected error" in scan["error"] and "fell over" in scan["error"]
    assert list(broken.config.upload_dir.iterdir()) == []  # failed uploads are deleted too
    listed = broken.client.get("/v1/scans?status=failed", headers=broken.headers()).json()
    assert listed["total"] == 1


def test_two_workers_score_as_one_does(make_service, tmp_path: Path) -> None:
    service = make_service(workers=2)
    clips = {f"w{i}.wav": wav_bytes(2.0 + i, seed=10 + i, fake=bool(i % 2)) for i in range(4)}
    ids = {name: service.upload(data, name=name).json()["id"] for name, data in clips.items()}
    detector = service.app.state.detector
    for name, scan_id in ids.items():
        local = tmp_path / name
        local.write_bytes(clips[name])
        expected = json.loads(json.dumps(detector.scan(local).to_dict()))
        expected["path"] = name
        assert service.wait(scan_id)["result"] == expected


def test_deleting_a_scan_while_it_is_scored(make_service) -> None:
    service = make_service(retention_hours=1.0)
    pool = service.app.state.pool
    pool.stop()  # score by hand, to delete in between
    scan_id = service.upload(wav_bytes(1.0)).json()["id"]
    job = service.store.claim_next()
    assert service.client.delete(f"/v1/scans/{scan_id}", headers=service.headers()).status_code == 204
    pool.run_job(job)  # finishes, finds the scan gone, and deletes the upload despite retention
    assert list(service.config.upload_dir.iterdir()) == []


def test_content_is_sniffed_and_names_are_only_labels(service) -> None:
    text = service.upload(b"this is plain text, not audio at all" * 10, name="evil.wav")
    assert text.status_code == 415 and "bytes, not its name" in text.json()["detail"]
    script = service.upload(b"<script>alert(1)</script>" * 10, name="x.mp3")
    assert script.status_code == 415
    renamed = service.upload(wav_bytes(1.0), name="../../../etc/passwd.txt")
    assert renamed.status_code == 202
    body = renamed.json()
    assert body["filename"] == "passwd.txt" and body["media_type"] == "audio/wav"
    flac = service.upload(wav_bytes(1.0, fmt="FLAC"), name="no-extension")
    assert flac.json()["media_type"] == "audio/flac"
    assert service.upload(b"", name="empty.wav").status_code == 422
    no_file = service.client.post("/v1/scans", data={"other": "x"}, files={"x": ("a", b"b")},
                                  headers=service.headers())
    assert no_file.status_code == 422
    not_form = service.client.post("/v1/scans", content=b"RIFF", headers={**service.headers(),
                                                                           "Content-Type": "audio/wav"})
    assert not_form.status_code == 415
    for scan_id in (body["id"], flac.json()["id"]):
        assert service.wait(scan_id)["status"] == "done"
    stored = [p.name for p in service.config.upload_dir.iterdir()]
    assert stored == []


def test_size_and_duration_limits(make_service) -> None:
    service = make_service(max_upload_bytes=100_000, max_duration_s=5.0)
    big = service.upload(wav_bytes(4.0))  # 128 kB of PCM
    assert big.status_code == 413
    declared = service.client.post(
        "/v1/scans", content=b"x", headers={**service.headers(), "Content-Length": str(10 * 1024**3),
                                            "Content-Type": "multipart/form-data; boundary=abc"})
    assert declared.status_code == 413
    long_header = make_service(max_duration_s=5.0)
    # A WAV header that claims 10 hours of 16 kHz PCM, then 9 s of it: refused once the part that arrived is
    # longer than the limit.
    claimed = 10 * 3600 * 16000 * 2
    header = b"RIFF" + struct.pack("<I", claimed + 36) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header += b"data" + struct.pack("<I", claimed)
    refused = long_header.upload(header + bytes(300_000), name="long.wav")
    assert refused.status_code == 413 and "limit is 5 s" in refused.json()["detail"]
    assert list(long_header.config.upload_dir.iterdir()) == []
    assert list(service.config.upload_dir.iterdir()) == []


def test_history_filters_paging_ownership_and_delete(service) -> None:
    ids = [service.upload(wav_bytes(1.0 + i * 0.5, seed=i), name=f"c{i}.wav").json()["id"] for i in range(3)]
    short = service.upload(wav_bytes(0.1), name="short.wav").json()["id"]
    for scan_id in [*ids, short]:
        service.wait(scan_id)
    get = service.client.get
    page = get("/v1/scans?limit=2", headers=service.headers()).json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["next_offset"] == 2
    assert [s["filename"] for s in page["items"]] == ["short.wav", "c2.wav"]  # newest first
    rest = get("/v1/scans?limit=2&offset=2", headers=service.headers()).json()
    assert rest["next_offset"] is None and [s["filename"] for s in rest["items"]] == ["c1.wav", "c0.wav"]
    errors = get("/v1/scans?verdict=error", headers=service.headers()).json()
    assert [s["id"] for s in errors["items"]] == [short]
    verdicts = {s["verdict"] for s in get("/v1/scans", headers=service.headers()).json()["items"]}
    for verdict in verdicts - {"error"}:
        hits = get(f"/v1/scans?verdict={verdict}", headers=service.headers()).json()["items"]
        assert hits and all(s["verdict"] == verdict for s in hits)
    assert get("/v1/scans?model=tiny", headers=service.headers()).json()["total"] == 4
    assert get("/v1/scans?model=other", headers=service.headers()).json()["total"] == 0
    now = datetime.now(timezone.utc)
    after = (now - timedelta(hours=1)).isoformat()
    before = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")  # naive: UTC
    assert get("/v1/scans", params={"created_after": after}, headers=service.headers()).json()["total"] == 4
    assert get("/v1/scans", params={"created_before": before}, headers=service.headers()).json()["total"] == 0
    shifted = (now + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5))).isoformat()
    later = get("/v1/scans", params={"created_before": shifted}, headers=service.headers()).json()
    assert later["total"] == 4
    assert get("/v1/scans?verdict=maybe", headers=service.headers()).status_code == 422
    assert get("/v1/scans?limit=1000", headers=service.headers()).status_code == 422
    # Another key sees none of these; an admin key sees them all.
    other, _ = service.store.create_key("someone else")
    assert get("/v1/scans", headers=service.headers(other)).json()["total"] == 0
    assert get(f"/v1/scans/{ids[0]}", headers=service.headers(other)).status_code == 404
    assert service.client.delete(f"/v1/scans/{ids[0]}", headers=service.headers(other)).status_code == 404
    assert get("/v1/scans", headers=service.headers(service.admin_key)).json()["total"] == 4
    # Delete.
    assert service.client.delete(f"/v1/scans/{ids[0]}", headers=service.headers()).status_code == 204
    assert get(f"/v1/scans/{ids[0]}", headers=service.headers()).status_code == 404
    assert service.client.delete(f"/v1/scans/{ids[0]}", headers=service.headers()).status_code == 404
    assert get("/v1/scans/not-an-id", headers=service.headers()).status_code == 422


def test_revoked_keys_and_rate_limits(make_service) -> None:
    service = make_service(rate_limit_per_minute=3)
    for _ in range(3):
        assert service.client.get("/v1/models", headers=service.headers()).status_code == 200
    limited = service.client.get("/v1/models", headers=service.headers())
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # The limit is per key.
    assert service.client.get("/v1/models", headers=service.headers(service.admin_key)).status_code == 200
    key_id = service.admin_key.split("_")[1]
    assert service.store.revoke_key(key_id)
    assert service.client.get("/v1/models", headers=service.headers(service.admin_key)).status_code == 401
    assert not service.store.revoke_key(key_id)  # already revoked
    assert service.client.get("/v1/models", headers={"X-API-Key": service.key}).status_code == 429


def test_guessing_keys_is_rate_limited_per_address(make_service) -> None:
    service = make_service(failed_auth_per_minute=3)
    for _ in range(3):
        assert service.client.get("/v1/models", headers=service.headers("unm_0_guess")).status_code == 401
    refused = service.client.get("/v1/models", headers=service.headers("unm_0_guess"))
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert service.client.get("/v1/models", headers=service.headers()).status_code == 200  # keys still work


def test_keys_are_stored_hashed(service) -> None:
    import sqlalchemy as sa

    with service.store.engine.connect() as conn:
        dump = json.dumps([list(map(str, row)) for row in conn.execute(sa.text("select * from api_keys"))])
    assert service.key not in dump and service.key.split("_", 2)[2] not in dump
    assert service.key.split("_")[1] in dump  # the public id is


def test_security_headers_and_cors_off_by_default(make_service) -> None:
    service = make_service()
    for path in ("/", "/healthz", "/static/app.js", "/v1/models"):
        response = service.client.get(path, headers={**service.headers(), "Origin": "https://evil.example"})
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "access-control-allow-origin" not in response.headers
        assert "server" not in response.headers or "uvicorn" not in response.headers["server"]
    assert service.client.get("/v1/models", headers=service.headers()).headers["cache-control"] == "no-store"
    preflight = service.client.options("/v1/scans", headers={"Origin": "https://evil.example",
                                                             "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    assert service.client.get("/static/../db.py").status_code == 404
    assert service.client.get("/static/%2e%2e/db.py").status_code == 404
    allowed = make_service(cors_origins=("https://newsroom.example",))
    response = allowed.client.get("/healthz", headers={"Origin": "https://newsroom.example"})
    assert response.headers["access-control-allow-origin"] == "https://newsroom.example"
    other = allowed.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_models_and_metrics(service) -> None:
    models = service.client.get("/v1/models", headers=service.headers()).json()["models"]
    assert models[0]["name"] == "tiny" and models[0]["architecture"] == "lcnn"
    assert models[0]["window_s"] == 1.0
    assert models[0]["thresholds"] == {"real_below": 0.3, "fake_at_or_above": 0.7}
    service.wait(service.upload(wav_bytes(1.0)).json()["id"])
    service.upload(b"nope" * 20)
    text = service.client.get("/metrics", headers=service.headers())
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    body = text.text
    for family in ("unmask_http_requests_total", "unmask_scan_jobs", "unmask_scans_finished_total",
                   "unmask_scan_duration_seconds", "process_resident_memory_bytes", "unmask_workers"):
        assert f"# TYPE {family} " in body
    assert 'unmask_scan_jobs{status="done"} 1' in body
    assert 'unmask_uploads_refused_total{status="415"} 1' in body
    assert 'route="/v1/scans/{scan_id}"' in body  # ids never become label values
    for line in body.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2 and float(line.rsplit(" ", 1)[1]) >= 0


def test_server_side_paths_only_when_enabled_and_only_inside(make_service, tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    (root / "talk.wav").write_bytes(wav_bytes(1.5))
    (tmp_path / "secret.wav").write_bytes(wav_bytes(1.0))
    (root / "link.wav").symlink_to(tmp_path / "secret.wav")
    (root / "notes.txt").write_text("hello " * 20)
    off = make_service()
    assert off.client.post("/v1/scans", json={"path": str(root / "talk.wav")},
                           headers=off.headers()).status_code == 403
    on = make_service(path_roots=(root,))

    def post(value):
        return on.client.post("/v1/scans", json={"path": value}, headers=on.headers())

    accepted = post("talk.wav")
    assert accepted.status_code == 202 and accepted.json()["source"] == "path"
    assert on.wait(accepted.json()["id"])["status"] == "done"
    assert (root / "talk.wav").exists()  # the admin's files are never deleted
    assert post(str(root / "talk.wav")).status_code == 202
    outside = ("../secret.wav", str(tmp_path / "secret.wav"), "link.wav", "/etc/passwd", "x/../../secret.wav")
    for escape in outside:
        assert post(escape).status_code == 404, escape
    assert post("notes.txt").status_code == 415
    assert post(".").status_code == 422
    assert post("a\x00b").status_code == 422
    assert post(5).status_code == 422
    assert on.client.post("/v1/scans", content=b"{not json", headers={**on.headers(),
                          "Content-Type": "application/json"}).status_code == 400


def test_retention_keeps_uploads_until_purged(make_service) -> None:
    service = make_service(retention_hours=1.0)
    scan_id = service.upload(wav_bytes(1.0)).json()["id"]
    service.wait(scan_id)
    assert len(list(service.config.upload_dir.iterdir())) == 1
    pool = service.app.state.pool
    assert pool.purge_expired() == 0
    import sqlalchemy as sa

    from unmask.service.db import scans

    with service.store.engine.begin() as conn:
        conn.execute(sa.update(scans).values(purge_after=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert pool.purge_expired() == 1
    assert list(service.config.upload_dir.iterdir()) == []
    assert service.client.get(f"/v1/scans/{scan_id}", headers=service.headers()).json()["status"] == "done"


def test_queue_limit(make_service) -> None:
    service = make_service(max_queued=1)
    service.app.state.pool.stop()  # nothing is scored: the queue fills
    assert service.upload(wav_bytes(1.0)).status_code == 202
    full = service.upload(wav_bytes(1.0))
    assert full.status_code == 503 and full.headers["retry-after"]


def test_page_is_served_without_a_build_step(service) -> None:
    page = service.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for needle in ('<label for="api-key"', '<label for="file-input"', 'id="drop-zone"', "<progress",
                   'id="timeline"', 'id="spectrogram"', 'id="history"', 'id="model-card"', 'role="status"'):
        assert needle in html
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP forbids it
    script = service.client.get("/static/app.js").text
    assert ".innerHTML" not in script


def test_openapi_schema_is_committed_and_up_to_date(service) -> None:
    committed = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
    current = service.client.get("/openapi.json").json()
    if os.environ.get("UNMASK_UPDATE_OPENAPI"):
        committed.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert committed.exists(), "docs/openapi.json is missing: run with UNMASK_UPDATE_OPENAPI=1"
    assert json.loads(committed.read_text()) == current, (
        "docs/openapi.json is out of date: UNMASK_UPDATE_OPENAPI=1 pytest tests/service -k openapi"
    )
    assert set(current["paths"]) >= {"/v1/scans", "/v1/scans/{scan_id}", "/v1/models", "/healthz", "/metrics"}


@pytest.mark.parametrize("admin", [False, True])
def test_keys_cli(tmp_path: Path, admin: bool) -> None:
    from typer.testing import CliRunner

    from unmask.cli.main import app as cli
    from unmask.service.db import ServiceStore

    runner = CliRunner()
    where = ["--data-dir", str(tmp_path)]
    created = runner.invoke(cli, ["serve", "keys", "create", "--name", "desk", *where, "--json"]
                            + (["--admin"] if admin else []))
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["key"].startswith("unm_") and record["admin"] is admin
    store = ServiceStore(f"sqlite:///{tmp_path / 'unmask-serve.sqlite'}")
    assert store.authenticate(record["key"]) is not None
    listed = json.loads(runner.invoke(cli, ["serve", "keys", "list", *where, "--json"]).stdout)
    assert [k["name"] for k in listed] == ["desk"] and "key" not in listed[0]
    table = runner.invoke(cli, ["serve", "keys", "list", *where])
    assert table.exit_code == 0 and record["key_id"] in table.stdout and record["key"] not in table.stdout
    assert runner.invoke(cli, ["serve", "keys", "revoke", record["key_id"], *where]).exit_code == 0
    assert store.authenticate(record["key"]) is None
    assert runner.invoke(cli, ["serve", "keys", "revoke", record["key_id"], *where]).exit_code == 2
    store.close()


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from unmask.service.db import ServiceStore, metadata

    store = ServiceStore(f"sqlite:///{tmp_path / 'm.sqlite'}")
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == "0001"
    ServiceStore(f"sqlite:///{tmp_path / 'm.sqlite'}").close()  # re-opening migrates nothing
    config = Config()
    config.set_main_option("script_location", str(Path(__import__("unmask.service.db").service.db.__file__)
                                                  .parent / "migrations"))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    import sqlalchemy as sa

    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.close()


def test_serve_refuses_unusable_options(tmp_path: Path) -> None:
    import torch
    from typer.testing import CliRunner

    from unmask.cli.main import app as cli

    runner = CliRunner()
    where = ["--data-dir", str(tmp_path)]
    missing = runner.invoke(cli, ["serve", *where, "--allow-path", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a folder" in " ".join(missing.output.split())  # any width
    assert runner.invoke(cli, ["serve", *where, "--db", "nosuchdb://x"]).exit_code == 2
    assert runner.invoke(cli, ["serve", *where, "--model", str(tmp_path / "none.pt")]).exit_code == 2
    if not torch.cuda.is_available():  # with a GPU this would start serving
        cuda = runner.invoke(cli, ["serve", *where, "--device", "cuda"])
        assert cuda.exit_code == 2 and "CUDA was requested" in " ".join(cuda.output.split())
