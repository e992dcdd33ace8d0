"""Response shapes of the HTTP API (they make up the OpenAPI schema in docs/openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ScanStatus = Literal["queued", "running", "done", "failed"]
Verdict = Literal["real", "uncertain", "fake", "error"]


class WindowScoreModel(BaseModel):
    start_s: float
    end_s: float
    fake_probability: float = Field(ge=0, le=1)


class PartScoreModel(BaseModel):
    start_s: float
    end_s: float
    content: str
    model: str | None = None
    fake_probability: float | None = Field(None, ge=0, le=1)
    note: str | None = None


class ScanResultModel(BaseModel):
    """Exactly what ``unmask scan --format json`` writes for one file (``ScanResult.to_dict()``); ``path``
    is the uploaded file's name, or the server-side path that was scanned."""

    path: str
    fake_probability: float | None = Field(None, ge=0, le=1)
    verdict: Verdict
    model: str | None = None
    model_version: str | None = None
    duration_s: float | None = None
    timeline: list[WindowScoreModel] = []
    error: str | None = None
    attribution: dict[str, float] | None = None
    explanation: dict[str, Any] | None = None
    parts: list[PartScoreModel] = []


class ScanModel(BaseModel):
    id: str
    status: ScanStatus
    source: Literal["upload", "path"]
    filename: str = Field(description="The uploaded file's name (a label only) or the scanned path.")
    media_type: str | None = Field(None, description="Sniffed from the content, not the file name.")
    size_bytes: int | None = None
    model: str
    verdict: Verdict | None = None
    fake_probability: float | None = Field(None, ge=0, le=1)
    duration_s: float | None = None
    error: str | None = Field(None, description="Why a failed scan failed.")
    attempts: int
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: ScanResultModel | None = None


class ScanPage(BaseModel):
    items: list[ScanModel]
    total: int
    offset: int
    limit: int
    next_offset: int | None = None


class SpectrogramModel(BaseModel):
    frames: int
    bands: int
    max_hz: int
    seconds_per_frame: float
    duration_s: float
    db_ceiling: float
    db_range: float
    data: str = Field(description="base64 of frames x bands bytes (time-major, low bands first), 0-255.")


class ModelCard(BaseModel):
    name: str
    version: str
    architecture: str
    sample_rate: int
    window_s: float
    hop_s: float
    thresholds: dict[str, float]
    card: dict[str, Any]


class ModelList(BaseModel):
    models: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    model: str
    workers: int
    queued: int | None = None


class ErrorModel(BaseModel):
    detail: Any
