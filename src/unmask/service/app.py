"""The FastAPI application: ``create_app(config)`` wires the store, the Detector, the workers and the page.

Every route but ``/healthz`` (and the page's static files and the OpenAPI schema, which hold no data)
needs an API key, as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; each key sees only the scans it
created unless it is an admin key. Handlers that touch the database are plain functions, which FastAPI
runs in its thread pool, so the event loop only streams bodies.
"""

import logging
import math
import re
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from unmask import __version__
from unmask.detect.pipeline import Detector
from unmask.detect.routing import RoutedDetector
from unmask.detect.spec import DetectorSpec
from unmask.io import MediaLimits
from unmask.service.config import ServiceConfig
from unmask.service.db import ApiKey, ServiceStore
from unmask.service.jobs import WorkerPool
from unmask.service.metrics import Metrics
from unmask.service.ratelimit import RateLimiter
from unmask.service.schemas import (
    ErrorModel,
    Health,
    ModelCard,
    ModelList,
    ScanModel,
    ScanPage,
    ScanStatus,
    SpectrogramModel,
    Verdict,
)
from unmask.service.uploads import UploadRefused, read_json, receive_multipart, resolve_server_path

log = logging.getLogger("unmask.service")
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
     b"connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
SCAN_ID = r"^[0-9a-f]{32}$"
_ID_SEGMENT = re.compile(r"/[0-9a-f]{32}(?=/|$)")

bearer = HTTPBearer(auto_error=False, description="An API key from `unmask serve keys create`.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, another header.")

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorModel, "description": "No API key, or an unknown or revoked one."},
    429: {"model": ErrorModel, "description": "Over this key's rate limit; see Retry-After."},
}


class _Middleware:
    """Security headers on every response, and request counts/latency for /metrics (pure ASGI: bodies
    stream through untouched)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if scope["path"].startswith("/v1/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or _ID_SEGMENT.sub("/{id}", scope["path"])
            known = template in ("/", "/healthz", "/metrics") or template.startswith("/v1")
            if route is None and not known:
                template = "/static" if template.startswith("/static/") else "(other)"
            self.metrics.request(scope["method"], template, status, time.perf_counter() - started)


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:
        raise HTTPException(422, f"{name} is out of range") from exc


def create_app(
    config: ServiceConfig | None = None,
    *,
    detector: Detector | RoutedDetector | None = None,
    store: ServiceStore | None = None,
    start_workers: bool = True,
) -> FastAPI:
    """The service. ``detector`` and ``store`` default to ``Detector.load(config.model)`` and the store
    at ``config.url``; tests inject small ones. Workers start and stop with the app's lifespan."""
    config = config or ServiceConfig()
    limits = MediaLimits(max_duration_s=config.max_duration_s, max_bytes=config.max_upload_bytes)
    if detector is None:  # built as `unmask scan` builds it, `--model auto` routing included
        spec = DetectorSpec(model=config.model, device=config.device, music_model=config.music_model)
        detector = spec.build()
    detector = detector.with_settings(limits=limits)
    own_store = store is None
    store = store or ServiceStore(config.url)
    metrics = Metrics()
    pool = WorkerPool(store, detector, config, metrics)
    limiter = RateLimiter(config.rate_limit_per_minute)
    failures = RateLimiter(config.failed_auth_per_minute)
    touched: dict[int, float] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        config.upload_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if start_workers:
            await run_in_threadpool(pool.start)
        try:
            yield
        finally:
            await run_in_threadpool(pool.stop)
            if own_store:
                store.close()

    app = FastAPI(
        title="unmask",
        version=__version__,
        summary="Score speech recordings for synthetic speech (deepfakes).",
        description=(
            "Upload a recording; a worker scores it with the same Detector as `unmask scan`, and "
            "`GET /v1/scans/{id}` returns the same ScanResult JSON. `fake_probability` is calibrated: higher "
            "= more likely fake. Every route except /healthz needs an API key (`unmask serve keys create`)."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.store = store
    app.state.pool = pool
    app.state.detector = detector
    app.state.metrics = metrics
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(_Middleware, metrics=metrics)

    @app.exception_handler(UploadRefused)
    async def _refused(_request: Request, exc: UploadRefused) -> JSONResponse:
        metrics.upload_refused(exc.status)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    def require_key(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        header_key: Annotated[str | None, Depends(api_key_header)],
    ) -> ApiKey:
        presented = credentials.credentials if credentials else header_key
        key = store.authenticate(presented) if presented else None
        if key is None:
            address = request.client.host if request.client else "unknown"
            wait = failures.take(address)
            if wait:
                raise HTTPException(429, "too many requests without a valid API key from this address",
                                    headers={"Retry-After": str(max(1, math.ceil(wait)))})
            if not presented:
                raise HTTPException(401, "an API key is needed: Authorization: Bearer KEY or X-API-Key: KEY",
                                    headers={"WWW-Authenticate": "Bearer"})
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        wait = limiter.take(key.key_id)
        if wait:
            raise HTTPException(429, f"over the limit of {config.rate_limit_per_minute} requests a minute",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})
        now = time.monotonic()
        if now - touched.get(key.id, -1e9) > 60:  # last_used_at to the minute: one write a minute per key
            touched[key.id] = now
            store.touch_key(key)
        request.state.key = key
        return key

    Key = Annotated[ApiKey, Depends(require_key)]
    ScanId = Annotated[str, PathParam(pattern=SCAN_ID, description="A scan id (32 hex digits).")]

    # -- page ---------------------------------------------------------------------------------------
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- health and metrics -------------------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["service"], summary="Liveness and readiness")
    def healthz(response: Response) -> Health:
        try:
            queued = store.count_queued()
        except Exception:
            response.status_code = 503
            return Health(status="degraded", model=detector.name, workers=config.workers)
        return Health(status="ok", model=detector.name, workers=config.workers, queued=queued)

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"], responses=ERRORS,
             summary="Prometheus metrics (text format 0.0.4)")
    def prometheus(_key: Key) -> PlainTextResponse:
        text = metrics.render(store.status_counts(), config.workers, pool.busy)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- models -------------------------------------------------------------------------------------
    @app.get("/v1/models", response_model=ModelList, tags=["models"], responses=ERRORS,
             summary="The model this server scores with, and its card")
    def models(_key: Key) -> ModelList:
        thresholds = detector.settings.thresholds
        return ModelList(models=[ModelCard(
            name=detector.name,
            version=str(detector.version),
            architecture=detector.architecture,
            sample_rate=detector.sample_rate,
            window_s=detector.window_s,
            hop_s=detector.hop_s,
            thresholds={"real_below": thresholds.real_below, "fake_at_or_above": thresholds.fake_at_or_above},
            card=_jsonable(detector.card),
        )])

    # -- scans --------------------------------------------------------------------------------------
    upload_body = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary",
                                                "description": "The recording (any audio/video container)."}},
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["path"],
                        "properties": {"path": {"type": "string", "description": (
                            "A file on the server, inside a folder the admin allowed with --allow-path.")}},
                    }
                },
            },
        }
    }

    @app.post(
        "/v1/scans", status_code=202, response_model=ScanModel, tags=["scans"], openapi_extra=upload_body,
        summary="Queue a recording for scoring",
        responses={
            **ERRORS,
            400: {"model": ErrorModel, "description": "Malformed body."},
            403: {"model": ErrorModel, "description": "Path scans are off."},
            404: {"model": ErrorModel, "description": "No such server-side file."},
            413: {"model": ErrorModel, "description": "Over the size or duration limit."},
            415: {"model": ErrorModel, "description": "Not a media format unmask reads (sniffed)."},
            422: {"model": ErrorModel, "description": "No file, an empty or unreadable one."},
            503: {"model": ErrorModel, "description": "The queue is full; see Retry-After."},
        },
    )
    async def create_scan(request: Request, response: Response, key: Key) -> dict:
        if await run_in_threadpool(store.count_queued) >= config.max_queued:
            raise HTTPException(503, "the scan queue is full; try again later", headers={"Retry-After": "30"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            body = await read_json(request)
            value = body.get("path") if isinstance(body, dict) else None
            found, sniffed, size = await run_in_threadpool(
                resolve_server_path, value, config.path_roots, config.max_upload_bytes, config.max_duration_s
            )
            fields = {"source": "path", "filename": str(found), "media_type": sniffed.media_type,
                      "size_bytes": size, "stored_path": str(found)}
        else:
            upload = await receive_multipart(
                request, config.upload_dir, config.max_upload_bytes, config.max_duration_s
            )
            fields = {"source": "upload", "filename": upload.filename, "media_type": upload.media_type,
                      "size_bytes": upload.size_bytes, "stored_path": str(upload.path)}
        try:
            scan = await run_in_threadpool(
                lambda: store.add_scan(owner=key.id, model=detector.name, **fields)
            )
        except BaseException:
            if fields["source"] == "upload":
                Path(fields["stored_path"]).unlink(missing_ok=True)
            raise
        pool.notify()
        response.headers["Location"] = f"/v1/scans/{scan['id']}"
        return scan

    @app.get("/v1/scans", response_model=ScanPage, tags=["scans"], responses=ERRORS,
             summary="History of scans, newest first, with filters")
    def list_scans(
        key: Key,
        verdict: Annotated[Verdict | None, Query()] = None,
        status: Annotated[ScanStatus | None, Query()] = None,
        model: Annotated[str | None, Query(max_length=200)] = None,
        created_after: Annotated[datetime | None, Query(description="ISO 8601; UTC when no offset.")] = None,
        created_before: Annotated[datetime | None, Query(description="ISO 8601; UTC when no offset.")] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> ScanPage:
        items, total = store.list_scans(
            owner=key, verdict=verdict, status=status, model=model,
            created_after=_utc(created_after, "created_after"),
            created_before=_utc(created_before, "created_before"), offset=offset, limit=limit,
        )
        following = offset + len(items)
        return ScanPage(items=items, total=total, offset=offset, limit=limit,
                        next_offset=following if following < total else None)

    @app.get("/v1/scans/{scan_id}", response_model=ScanModel, tags=["scans"],
             responses={**ERRORS, 404: {"model": ErrorModel, "description": "No such scan (for this key)."}},
             summary="A scan's status, and its ScanResult once scored")
    def get_scan(scan_id: ScanId, key: Key) -> dict:
        scan = store.get_scan(scan_id, owner=key)
        if scan is None:
            raise HTTPException(404, "no such scan")
        return scan

    @app.get("/v1/scans/{scan_id}/spectrogram", response_model=SpectrogramModel, tags=["scans"],
             responses={**ERRORS, 404: {"model": ErrorModel, "description": "No such scan, or not scored."}},
             summary="A small log-mel spectrogram of the scanned recording")
    def get_spectrogram(scan_id: ScanId, key: Key) -> dict:
        found, picture = store.get_spectrogram(scan_id, owner=key)
        if not found:
            raise HTTPException(404, "no such scan")
        if picture is None:
            raise HTTPException(404, "this scan has no spectrogram (not scored yet, or it failed)")
        return picture

    @app.delete("/v1/scans/{scan_id}", status_code=204, tags=["scans"],
                responses={**ERRORS, 404: {"model": ErrorModel, "description": "No such scan (this key's)."}},
                summary="Delete a scan, its result and any stored upload")
    def delete_scan(scan_id: ScanId, key: Key) -> Response:
        row = store.delete_scan(scan_id, owner=key)
        if row is None:
            raise HTTPException(404, "no such scan")
        if row["source"] == "upload" and row["stored_path"]:
            Path(row["stored_path"]).unlink(missing_ok=True)
        return Response(status_code=204)

    return app


def _jsonable(value: Any) -> Any:
    """A model card as plain JSON (non-finite floats become None, odd types strings)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)
