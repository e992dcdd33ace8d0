"""Write seed corpora for the fuzz harnesses: ``python fuzz/make_seeds.py OUT_DIR`` makes OUT_DIR/decode and
OUT_DIR/manifest.

Decode seeds are a quarter-second chirp+tone encoded in every container/codec the io tests know (through
PyAV; the ffmpeg CLI where PyAV lacks the encoder) plus the hand-built WAV/AIFF headers of the corrupted-media
corpus, each prefixed with the byte that makes the harness use its own extension. Manifest seeds are the
CSV shapes of the manifest tests. Seeds are made, not committed: they are binary and cheap to rebuild.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "io"), str(Path(__file__).resolve().parent)]

MANIFESTS = {
    "minimal.csv": "path,label\na.wav,real\nb.flac,fake\n",
    "columns.csv": "path,label,system,source,speaker,language,domain,split,start,end,notes\n"
                   "clips/a.wav,real,,lj,s1,en,speech,train,0.5,2.25,\"quoted, comma\"\n"
                   "/abs/b.mp3,fake,tts-1,lj,s2,pt,speech,test,,,\n",
    "bom-crlf.csv": "\ufeffpath,label\r\nx.wav,real\r\n\r\ny.wav,fake\r\n",
    "multiline.csv": "path,label,note\n\"a\nb.wav\",real,\"line one\nline two\"\nc.wav,fake,\n",
    "bad-label.csv": "path,label\na.wav,spoof\n",
    "no-header.csv": "a.wav,real\n",
}  # fmt: skip


def main(out: Path) -> None:
    import pytest
    from corrupt_corpus import aiff_bytes, wav_bytes
    from fuzz_decode import SUFFIXES
    from media_fixtures import FORMATS, chirp_tone, encode_format

    decode, manifest = out / "decode", out / "manifest"
    decode.mkdir(parents=True, exist_ok=True)
    manifest.mkdir(parents=True, exist_ok=True)
    for name, text in MANIFESTS.items():
        (manifest / name).write_text(text, encoding="utf-8", newline="")
    wave = chirp_tone(0.25, 16000)
    scratch = out / "encoded"
    scratch.mkdir(exist_ok=True)
    files = {}
    for spec in FORMATS:
        try:
            files[spec.name] = encode_format(spec, scratch / f"{spec.name}{spec.suffix}", wave, 16000)
        except pytest.skip.Exception:
            continue
    built = {"pcm.wav": wav_bytes(frames=400), "pcm.aiff": aiff_bytes(16000, frames_claimed=400, frames=400)}
    for name, data in built.items():
        (scratch / name).write_bytes(data)
        files[name] = scratch / name
    for name, path in files.items():
        suffix = path.suffix if path.suffix in SUFFIXES else ""
        (decode / f"{name}.seed").write_bytes(bytes([SUFFIXES.index(suffix)]) + path.read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
