"""WaveFake (Frank & Schönherr, 2021): vocoder copies of LJSpeech and JSUT.

Layout, one folder per vocoder (ljspeech_melgan, ljspeech_melgan_large, ljspeech_full_band_melgan,
ljspeech_multi_band_melgan, ljspeech_parallel_wavegan, ljspeech_waveglow, ljspeech_hifiGAN,
jsut_multi_band_melgan, jsut_parallel_wavegan,
common_voices_prompts_from_conformer_fastspeech2_pwg_ljspeech)::

    generated_audio/ljspeech_melgan/LJ001-0001_gen.wav
    generated_audio/ljspeech_hifiGAN/LJ001-0001_generated.wav
    generated_audio/ljspeech_waveglow/LJ001-0001.wav
    generated_audio/jsut_multi_band_melgan/BASIC5000_0001_gen.wav

Reals are the source corpora, downloaded separately: ``LJSpeech-1.1/wavs/*.wav`` and
``jsut_ver1.1/<subset>/wav/*.wav``; found under ROOT by those names, or given with ``--reals``.
``system`` is the vocoder folder; ``utterance`` is the LJSpeech/JSUT id a fake was made from, so
real/fake pairs can be kept in the same split.
"""

from __future__ import annotations

import re
from pathlib import Path

from unmask.data.corpora._base import CorpusImporter, Records, find_all, find_first, walk_audio
from unmask.errors import ManifestError

_UTTERANCE = re.compile(r"(LJ\d{3}-\d{4}|[A-Z0-9]+_\d{4})")
_REAL_PATTERNS = ("LJSpeech-1.1", "LJSpeech*", "*/LJSpeech-1.1", "jsut_ver1.1", "jsut*", "*/jsut_ver1.1")


def _utterance(path: Path) -> str:
    match = _UTTERANCE.search(path.stem)
    return match.group(1) if match else ""


def _is_japanese(path: Path) -> bool:
    return "jsut" in path.as_posix().lower()


def _real_records(folder: Path) -> Records:
    japanese = _is_japanese(folder)
    return [
        {
            "path": path,
            "label": "real",
            "system": "",
            "language": "ja" if japanese else "en",
            "speaker": "JSUT" if japanese else "LJ",
            "source": "jsut" if japanese else "ljspeech",
            "domain": "speech",
            "utterance": _utterance(path),
        }
        for path in walk_audio(folder)
    ]


def collect(root: Path, reals: tuple[Path, ...] | list[Path] | None = None) -> tuple[Records, list[str]]:
    generated = find_first(
        root,
        ["generated_audio", "*/generated_audio"],
        "WaveFake generated_audio folder",
        hint="ROOT is the folder holding generated_audio/ (unpacked generated_audio.zip)",
    )
    records: Records = []
    for vocoder_dir in sorted(p for p in generated.iterdir() if p.is_dir()):
        japanese = _is_japanese(vocoder_dir)
        for path in walk_audio(vocoder_dir):
            records.append(
                {
                    "path": path,
                    "label": "fake",
                    "system": vocoder_dir.name,
                    "language": "ja" if japanese else "en",
                    "speaker": "JSUT" if japanese else "LJ",
                    "source": "wavefake",
                    "domain": "speech",
                    "utterance": _utterance(path),
                }
            )
    warnings = []
    real_dirs = (
        [Path(r) for r in reals] if reals else [d for d in find_all(root, _REAL_PATTERNS) if d.is_dir()]
    )
    for folder in real_dirs:
        if not folder.is_dir():
            raise ManifestError(
                "reals folder not found", path=folder, hint="give the unpacked LJSpeech/JSUT folder"
            )
        records.extend(_real_records(folder))
    if not real_dirs:
        warnings.append(
            "no LJSpeech-1.1/ or jsut_ver1.1/ found under ROOT: the manifest holds fakes only; "
            "pass --reals PATH to add the bona fide sources"
        )
    return records, warnings


IMPORTER = CorpusImporter(
    name="wavefake",
    description="WaveFake: generated_audio/<vocoder>/ fakes + LJSpeech-1.1 / jsut_ver1.1 reals",
    collect=collect,
    options=("reals",),
)
