"""Receiving media: a streaming multipart reader with limits, content sniffing and safe storage.

Nothing about an upload is trusted. The body is parsed as it arrives (python-multipart's streaming parser)
and written straight to a file with a random name in the service's upload folder, so memory stays a few
chunks whatever is sent: a body declared larger than the limit is refused from its ``Content-Length``
before a byte is read, and one sent without a length is cut off as soon as it passes the limit. The type is
sniffed from the first bytes (the client's file name and extension are only a label), the container header
is probed for its duration as soon as enough of it has arrived, and again once the upload is complete.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from unmask.errors import UnmaskError
from unmask.io import probe_audio

SNIFF_BYTES = 64
# The partial file is probed for its duration at 256 KiB, then each time 4x as much has arrived: a file over
# the duration limit is refused after at most ~4x the bytes that hold the limit, for a handful of probes.
EARLY_PROBE_BYTES = 256 * 1024
FIELD_BYTES = 64 * 1024  # form fields other than the file, and JSON bodies, in total
MULTIPART_OVERHEAD = FIELD_BYTES + 16 * 1024  # what a body may carry besides the file's bytes


class UploadRefused(Exception):
    """An upload the service will not take; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    suffix: str


def sniff(head: bytes) -> Sniffed | None:
    """The media type of a file from its first bytes, or None when it is not a container unmask reads."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return Sniffed("audio/wav", ".wav")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video/x-msvideo", ".avi")
    if head[:4] == b"fLaC":
        return Sniffed("audio/flac", ".flac")
    if head[:3] == b"ID3":
        return Sniffed("audio/mpeg", ".mp3")
    if head[:4] == b"OggS":
        return Sniffed("audio/ogg", ".ogg")
    if head[:4] == b"\x1aE\xdf\xa3":
        return Sniffed("video/x-matroska", ".mkv")  # WebM is Matroska
    if head[4:8] == b"ftyp":
        return Sniffed("audio/mp4", ".m4a")  # MP4, M4A, 3GP, MOV with an ftyp box
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return Sniffed("video/quicktime", ".mov")
    if head[:5] == b"#!AMR":
        return Sniffed("audio/amr", ".amr")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("audio/aiff", ".aiff")
    if head[:4] == b"caff":
        return Sniffed("audio/x-caf", ".caf")
    if head[:4] == b".snd":
        return Sniffed("audio/basic", ".au")
    if head[:4] == b"wvpk":
        return Sniffed("audio/x-wavpack", ".wv")
    if head[:8] == b"0&\xb2u\x8ef\xcf\x11":
        return Sniffed("audio/x-ms-wma", ".wma")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame sync
        if head[1] & 0x06 == 0:  # layer bits 00: ADTS AAC
            return Sniffed("audio/aac", ".aac")
        return Sniffed("audio/mpeg", ".mp3")
    return None


def display_name(name: str | None) -> str:
    """A client-supplied file name made safe to show: last path component, printable, at most 200 chars.
    It is only ever a label; stored files get random names."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".")
    return name[:200] or "upload"


@dataclass
class StoredUpload:
    path: Path
    filename: str
    media_type: str
    size_bytes: int


def _check_duration(path: Path, max_duration_s: float, *, partial: bool) -> None:
    try:
        info = probe_audio(path)
    except UnmaskError as exc:
        if partial:
            return  # not enough of the header yet; the complete file is probed at the end
        raise UploadRefused(422, f"not usable media: {exc.reason}") from exc
    if math.isfinite(info.duration_s) and info.duration_s > max_duration_s:
        raise UploadRefused(
            413,
            f"the file's header says {info.duration_s:.0f} s of audio; the limit is {max_duration_s:.0f} s",
        )


class _MultipartSink:
    """Callbacks for python-multipart: the part named ``file`` goes to disk, other fields are counted."""

    def __init__(self, upload_dir: Path, max_bytes: int, max_duration_s: float) -> None:
        self.upload_dir = upload_dir
        self.max_bytes = max_bytes
        self.max_duration_s = max_duration_s
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.in_file = False
        self.head = b""
        self.handle = None
        self.path: Path | None = None
        self.size = 0
        self.field_bytes = 0
        self.filename: str | None = None
        self.sniffed: Sniffed | None = None
        self.next_probe = EARLY_PROBE_BYTES
        self.files_seen = 0
        self.error: UploadRefused | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.headers = {}
        self.in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        self.headers[self.header_field.strip().lower()] = self.header_value.strip()
        self.header_field = self.header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            self.files_seen += 1
            if self.files_seen > 1:
                raise UploadRefused(422, "one file per scan: the form has more than one 'file' part")
            self.in_file = True
            raw = options.get(b"filename", b"")
            self.filename = display_name(raw.decode("utf-8", "replace"))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self.in_file:
            self.field_bytes += len(chunk)
            if self.field_bytes > FIELD_BYTES:
                raise UploadRefused(413, f"form fields besides the file are limited to {FIELD_BYTES} bytes")
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadRefused(413, f"the file is larger than the {self.max_bytes}-byte upload limit")
        if self.handle is None:
            self.head += chunk
            if len(self.head) < SNIFF_BYTES:
                return
            self._open()
            chunk, self.head = self.head, b""
        self.handle.write(chunk)
        if self.size >= self.next_probe:
            self.next_probe *= 4
            self.handle.flush()
            _check_duration(self.path, self.max_duration_s, partial=True)

    def _open(self) -> None:
        self.sniffed = sniff(self.head)
        if self.sniffed is None:
            raise UploadRefused(
                415, "the content is not an audio or video format unmask reads (the type is read from the "
                "file's bytes, not its name): wav, flac, mp3, m4a/mp4, ogg/opus, webm/mkv, amr, aiff, ..."
            )
        self.upload_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.upload_dir / f"{secrets.token_hex(16)}{self.sniffed.suffix}"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        self.handle = os.fdopen(fd, "wb")

    def _part_end(self) -> None:
        if self.in_file and self.handle is None:
            if not self.head:
                raise UploadRefused(422, "the uploaded file is empty")
            self._open()
            self.handle.write(self.head)
            self.head = b""
        self.in_file = False

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_multipart(request, upload_dir: Path, max_bytes: int, max_duration_s: float) -> StoredUpload:
    """Stream a ``multipart/form-data`` request's ``file`` part to a new random file in ``upload_dir``."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRefused(415, "send the file as multipart/form-data (a 'file' field)")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise UploadRefused(400, "bad Content-Length")
        if int(declared) > max_bytes + MULTIPART_OVERHEAD:
            raise UploadRefused(413, f"the request is larger than the {max_bytes}-byte upload limit")
    sink = _MultipartSink(upload_dir, max_bytes, max_duration_s)
    try:
        try:
            parser = MultipartParser(boundary, sink.callbacks(), max_size=max_bytes + MULTIPART_OVERHEAD)
        except ValueError as exc:
            raise UploadRefused(400, f"bad multipart boundary ({exc})") from exc
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + MULTIPART_OVERHEAD:
                raise UploadRefused(413, f"the request is larger than the {max_bytes}-byte upload limit")
            try:
                parser.write(chunk)
            except UploadRefused:
                raise
            except Exception as exc:  # python-multipart's parse errors
                raise UploadRefused(400, f"malformed multipart body ({type(exc).__name__})") from exc
        try:
            parser.finalize()
        except UploadRefused:
            raise
        except Exception as exc:
            raise UploadRefused(400, f"malformed multipart body ({type(exc).__name__})") from exc
        if sink.files_seen == 0:
            raise UploadRefused(422, "no 'file' part in the form")
        if sink.handle is None:
            raise UploadRefused(400, "the multipart body ends inside the file part")
        sink.handle.close()
        _check_duration(sink.path, max_duration_s, partial=False)
        return StoredUpload(sink.path, sink.filename or "upload", sink.sniffed.media_type, sink.size)
    except BaseException:
        sink.discard()
        raise


async def read_json(request, limit: int = FIELD_BYTES) -> object:
    """A small JSON body (refused over ``limit`` bytes, while it streams)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise UploadRefused(413, f"JSON bodies are limited to {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UploadRefused(400, f"the body is not valid JSON ({exc})") from exc


def resolve_server_path(value: object, roots: tuple[Path, ...], max_bytes: int,
                        max_duration_s: float) -> tuple[Path, Sniffed, int]:
    """A server-side path an admin allowed: inside one of ``roots`` after resolving every link and ``..``,
    a regular file, sniffed as media and within the limits."""
    if not roots:
        raise UploadRefused(403, "scanning server-side paths is off (enable it with --allow-path DIR)")
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 4096:
        raise UploadRefused(422, "'path' must be a non-empty string")
    candidate = Path(value)
    found: Path | None = None
    for root in roots:
        try:
            resolved = (candidate if candidate.is_absolute() else root / candidate).resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if resolved.is_relative_to(root):
            found = resolved
            break
    if found is None:
        raise UploadRefused(404, "no such file under the allowed folders")
    if not found.is_file():
        raise UploadRefused(422, "not a regular file")
    size = found.stat().st_size
    if size > max_bytes:
        raise UploadRefused(413, f"the file is larger than the {max_bytes}-byte limit")
    try:
        with found.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise UploadRefused(422, f"cannot be read ({exc.strerror})") from exc
    sniffed = sniff(head)
    if sniffed is None:
        raise UploadRefused(415, "the content is not an audio or video format unmask reads")
    _check_duration(found, max_duration_s, partial=False)
    return found, sniffed, size
