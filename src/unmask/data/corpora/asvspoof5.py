"""ASVspoof 5 (Track 1, stand-alone countermeasures).

Layout (Zenodo record 14498691)::

    ASVspoof5_protocols/ASVspoof5.train.tsv          whitespace separated despite the name:
                       /ASVspoof5.dev.track_1.tsv    SPEAKER FLAC_FILE GENDER CODEC CODEC_Q CODEC_SEED
                       /ASVspoof5.eval.track_1.tsv   ATTACK_TAG ATTACK_LABEL KEY TMP
    flac_T/T_0000000000.flac   flac_D/...   flac_E_eval/...

KEY is ``bonafide``/``spoof``; ATTACK_LABEL (A01-A32, or ``bonafide``) becomes ``system``; CODEC,
CODEC_Q, GENDER and ATTACK_TAG are kept as ``codec``, ``codec_quality``, ``gender``, ``attack_tag``.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import (
    CorpusImporter,
    Records,
    find_all,
    find_first,
    index_audio,
    label_of,
    read_protocol,
)

SPLITS = ("train", "dev", "eval")
_PROTOCOL_PATTERNS = {
    "train": "ASVspoof5.train*.tsv",
    "dev": "ASVspoof5.dev.track_1*.tsv",
    "eval": "ASVspoof5.eval.track_1*.tsv",
}
_AUDIO_PREFIX = {"train": "flac_T", "dev": "flac_D", "eval": "flac_E"}


def collect(root: Path, split: str | None = None) -> tuple[Records, list[str]]:
    records: Records = []
    for part in [split] if split else SPLITS:
        pattern = _PROTOCOL_PATTERNS[part]
        protocol = find_first(
            root,
            [pattern, f"ASVspoof5_protocols/{pattern}", f"*/{pattern}"],
            f"ASVspoof 5 {part} protocol",
            hint="unpack ASVspoof5_protocols.tar.gz under ROOT, or pick a split with --split",
        )
        prefix = _AUDIO_PREFIX[part]
        folders = find_all(root, [f"{prefix}*", f"*/{prefix}*"])
        index = index_audio([f for f in folders if f.is_dir()])
        fallback = root / (folders[0].name if folders else prefix)
        for line, fields in read_protocol(protocol, min_fields=9):
            speaker, utt, gender, codec, codec_q, _seed, attack_tag, attack, key = fields[:9]
            records.append(
                {
                    "path": index.get(utt, fallback / f"{utt}.flac"),
                    "label": label_of(key, path=protocol, line=line),
                    "system": "" if attack in ("-", "bonafide") else attack,
                    "source": "asvspoof5",
                    "speaker": speaker,
                    "language": "en",
                    "domain": "speech",
                    "split": part,
                    "gender": gender,
                    "codec": codec,
                    "codec_quality": codec_q,
                    "attack_tag": attack_tag,
                }
            )
    return records, []


IMPORTER = CorpusImporter(
    name="asvspoof5",
    description="ASVspoof 5 track 1: ASVspoof5.{train,dev.track_1,eval.track_1}.tsv + flac_{T,D,E_eval}",
    collect=collect,
    options=("split",),
    choices={"split": SPLITS},
)
