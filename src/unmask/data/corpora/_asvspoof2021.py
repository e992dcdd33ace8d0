"""Shared reader for the ASVspoof 2021 LA and DF evaluation sets and their released keys.

Keys (``LA-keys-full.tar.gz`` / ``DF-keys-full.tar.gz``) unpack to ``keys/{LA,DF}/CM/trial_metadata.txt``;
audio to ``ASVspoof2021_{LA,DF}_eval/flac/UTT.flac`` (DF comes in parts ``ASVspoof2021_DF_eval_part0N``,
each holding an ``ASVspoof2021_DF_eval/flac`` folder). Key columns, whitespace separated:

    LA: SPEAKER UTT CODEC TRANSMISSION ATTACK KEY TRIM PHASE
    DF: SPEAKER UTT COMPRESSION SOURCE ATTACK KEY TRIM PHASE VOCODER ...

PHASE is ``progress``/``eval``/``hidden_track`` (which part of the evaluation the trial belonged to).
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import Records, find_all, find_first, index_audio, label_of, read_protocol

PHASES = ("progress", "eval", "hidden_track")


def key_file(root: Path, track: str) -> Path:
    patterns = [f"{p}keys/{track}/CM/trial_metadata.txt" for p in ("", "*/", "*/*/")]
    patterns += ["trial_metadata.txt", f"ASVspoof2021_{track}_eval/trial_metadata.txt"]
    return find_first(
        root,
        patterns,
        f"ASVspoof 2021 {track} key file (keys/{track}/CM/trial_metadata.txt)",
        hint=f"unpack {track}-keys-full.tar.gz from asvspoof.org under ROOT",
    )


def audio_index(root: Path, track: str) -> dict[str, Path]:
    name = f"ASVspoof2021_{track}_eval"
    folders = find_all(root, [f"{name}/flac", f"*/{name}/flac", f"{name}*/flac", "flac"])
    return index_audio(folders)


def collect(root: Path, track: str, subset: str | None) -> Records:
    keys = key_file(root, track)
    index = audio_index(root, track)
    eval_folder = root / f"ASVspoof2021_{track}_eval" / "flac"
    records: Records = []
    for line, fields in read_protocol(keys, min_fields=8):
        speaker, utt, codec, origin, attack, key, trim, phase = fields[:8]
        if subset and phase != subset:
            continue
        record = {
            # A trial whose flac is nowhere gets the canonical location, so the missing report names it.
            "path": index.get(utt, eval_folder / f"{utt}.flac"),
            "label": label_of(key, path=keys, line=line),
            "system": "" if attack in ("-", "bonafide") else attack,
            "speaker": speaker,
            "language": "en",
            "domain": "speech",
            "split": "eval",
            "codec": codec,
            "trim": trim,
            "phase": phase,
        }
        if track == "LA":
            record.update(source="asvspoof2021-la", channel=origin)
        else:
            record.update(source=f"asvspoof2021-df/{origin}", vocoder=fields[8] if len(fields) > 8 else "")
        records.append(record)
    return records
