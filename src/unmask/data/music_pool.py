"""The offline music pool: human-made and AI-made music, cut into song excerpts, one encoding chain for all.

Sources, all installable without a model or dataset hub:
- **Real:** Debian's free game-music packages (:data:`DEBIAN_MUSIC`; ``apt-get install`` them, see
  ``scripts/build_music_pool.py``), about 6-8 h in orchestral, electronic, rock, chiptune and acoustic
  styles, each track a song of its own.
- **AI:** the ACE-Step tracks of the ``immich-memories-music`` wheel (28 songs from 6 moods x 2 styles).
- **Either:** rows of existing manifests with ``domain == music`` (realworld-dev's Deezer auto-encoder
  reconstructions and their originals, the pool's real singing), re-encoded like the rest.

Why one chain. The Debian tracks arrive as Ogg Vorbis (a few as MP3 or tracker modules), the ACE-Step
tracks as Opus, the Deezer clips as MP3-sourced FLAC. A detector trained on them as they are could learn
the container instead of the music. So every excerpt of every source, real or fake, goes through the same
:class:`EncodingChain`: decode, mono, one sample rate, one lossy round trip (MP3 at 96 kbit/s by
default), FLAC. The codec each file arrived in is kept in ``original_format``, for audits only.

Songs. Every row carries ``song``, the unit that must never be split between training and test (the
SONICS leakage check). A track is one song. All its excerpts share the id, and a reconstruction shares the
id of its original. For the Deezer clips, whose file names do not say which original a reconstruction
came from, the whole source is one song.
"""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unmask._fs import atomic_path, file_blake2b, path_slug
from unmask.errors import UnmaskError
from unmask.io import load_audio, probe_audio, save_audio

# package -> its main style
DEBIAN_MUSIC: dict[str, str] = {
    "wesnoth-1.16-music": "orchestral",
    "nexuiz-music": "electronic",
    "planetblupi-music-ogg": "acoustic",
    "hyperrogue-music": "ambient",
    "singularity-music": "electronic",
    "drascula-music": "orchestral",
    "asc-music": "rock",
    "fb-music-high": "chiptune",
    # session 9: beyond the list, towards its 6-8 h of real music and more styles
    "warzone2100-music": "ambient",
    "supertux-data": "pop",
    "hedgewars-data": "mixed",
    "extremetuxracer-data": "pop",
    "xmoto-data": "electronic",
    # session 13: more reals, most of all electronic and ambient, the styles held-out folds called fake
    "widelands-data": "orchestral",
    "supertuxkart-data": "pop",
    "freedroidrpg-data": "electronic",
    "openclonk-data": "ambient",
    "megaglest-data": "orchestral",
    "fillets-ng-data": "ambient",
}
# package -> the folder its music sits in (a name, or the last few of its path), for a game's data
# package that also holds sound effects and voices (hedgewars-data's Sounds/voices hold spoken lines of
# 10 s and more: not music)
DEBIAN_MUSIC_FOLDERS: dict[str, str] = {
    "supertux-data": "music",
    "hedgewars-data": "Music",
    "extremetuxracer-data": "music",
    "xmoto-data": "Musics",
    "widelands-data": "music",
    "supertuxkart-data": "music",
    "freedroidrpg-data": "music",
    "openclonk-data": "Music.ocg",
    "megaglest-data": "music",
    "fillets-ng-data": "fillets-ng/music",  # not sound/music/<language>: a level's spoken lines
}
AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".wav", ".xm", ".it", ".mod", ".s3m"})
COLUMNS = ("path", "label", "domain", "system", "family", "source", "song", "start_s", "duration_s",
           "original_format", "licence")


@dataclass(frozen=True)
class Track:
    """One input file and what its rows will say."""

    path: Path
    label: str  # real | fake
    system: str  # "human", or the generator
    family: str  # generator family (the leave-one-family-out unit); "human" for reals
    source: str  # where it comes from: a Debian package, a wheel, a demo page
    song: str  # leakage unit
    licence: str
    twin: Path | None = None  # for a copy-synthesis fake: the real excerpt it copies (checked to follow it)


@dataclass(frozen=True)
class EncodingChain:
    """What every excerpt goes through, real or fake."""

    sample_rate: int = 16000
    codec: str | None = "mp3"  # None: no lossy round trip
    bitrate: int = 96000
    peak: float = 0.98  # excerpts are peak-limited to this after the codec (a codec can overshoot)

    def apply(self, wave: np.ndarray) -> np.ndarray:
        from unmask.signal.codecs import codec_round_trip

        out = np.asarray(wave, dtype=np.float64)
        if self.codec:
            out = codec_round_trip(out, self.sample_rate, self.codec, self.bitrate)
        top = float(np.max(np.abs(out))) if out.size else 0.0
        if top > self.peak:
            out = out * (self.peak / top)
        return out.astype(np.float32)

    def describe(self) -> str:
        codec = f", {self.codec} {self.bitrate // 1000} kbit/s round trip" if self.codec else ""
        return f"mono {self.sample_rate} Hz{codec}, FLAC"


# ------------------------------------------------------------------------------------------ finding tracks
ARCHIVE_SUFFIXES = frozenset({".pk3", ".zip"})  # nexuiz-music keeps its Ogg tracks in a Quake-style .pk3


def debian_package_files(package: str) -> list[Path]:
    """The audio files and archives an installed Debian package holds (``dpkg -L``); [] when it is not
    installed."""
    try:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    except FileNotFoundError:  # not a Debian system
        return []
    if listing.returncode != 0:
        return []
    files = (Path(line) for line in listing.stdout.splitlines())
    wanted = AUDIO_SUFFIXES | ARCHIVE_SUFFIXES
    return sorted(p for p in files if p.suffix.lower() in wanted and p.is_file())


def extract_audio(archive: Path, into: Path) -> list[Path]:
    """The audio members of a zip archive (a .pk3 is one), extracted once into ``into``."""
    import zipfile

    out = []
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            name = Path(member.filename)
            if member.is_dir() or name.suffix.lower() not in AUDIO_SUFFIXES or ".." in name.parts:
                continue
            target = into / archive.stem / name
            if not target.is_file() or target.stat().st_size != member.file_size:
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, atomic_path(target) as tmp, open(tmp, "wb") as sink:
                    sink.write(source.read())
            out.append(target)
    return sorted(out)


def _is_under(path: Path, folder: str) -> bool:
    """True when ``folder`` (one name, or a few: "fillets-ng/music") is a run of ``path``'s folders."""
    want, parts = tuple(Path(folder).parts), path.parent.parts
    return any(parts[k : k + len(want)] == want for k in range(len(parts) - len(want) + 1))


def debian_tracks(
    packages: Iterable[str] = DEBIAN_MUSIC, files_of: Callable[[str], list[Path]] = debian_package_files,
    extract_to: Path | None = None,
) -> tuple[list[Track], list[str]]:
    """Real tracks of the installed packages, and the packages that are missing. Archives (.pk3) are
    unpacked into ``extract_to`` (left out without it). A package in :data:`DEBIAN_MUSIC_FOLDERS`
    gives only the files under its music folder."""
    tracks, missing = [], []
    for package in packages:
        files = files_of(package)
        if not files:
            missing.append(package)
        archives = [p for p in files if p.suffix.lower() in ARCHIVE_SUFFIXES]
        files = [p for p in files if p not in archives]
        if package in DEBIAN_MUSIC_FOLDERS:
            files = [p for p in files if _is_under(p, DEBIAN_MUSIC_FOLDERS[package])]
        if extract_to is not None:
            for archive in archives:
                files += extract_audio(archive, extract_to / package)
        licence = f"see /usr/share/doc/{package}/copyright"
        tracks += [Track(p, "real", "human", "human", f"debian/{package}", f"{package}/{p.stem}", licence)
                   for p in files]
    return tracks, missing


def ace_step_tracks(folder: Path | None = None) -> list[Track]:
    """The ACE-Step songs of the ``immich-memories-music`` wheel (or of ``folder``, laid out alike)."""
    if folder is None:
        try:
            import immich_memories_music
        except ImportError as exc:
            raise UnmaskError("the AI tracks need the immich-memories-music wheel",
                              hint="pip install immich-memories-music") from exc
        folder = Path(immich_memories_music.__file__).parent / "tracks"
    licence = "see the immich-memories-music wheel's LICENSE-MUSIC"
    return [Track(p, "fake", "ACE-Step", "ace-step", "immich-memories-music", f"ace-step/{p.stem}", licence)
            for p in sorted(folder.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES]


def manifest_tracks(manifest_path: Path) -> list[Track]:
    """The ``domain == music`` rows of a manifest; each source is one song unless a ``song`` column says
    otherwise (see the module docstring)."""
    from unmask.data.manifest import read_manifest

    manifest = read_manifest(manifest_path)
    frame = manifest.to_frame()
    paths = manifest.abs_paths()
    tracks = []
    for i, row in frame.iterrows():
        if str(row.get("domain", "")) != "music":
            continue
        source = str(row.get("source") or manifest_path.parent.name)
        system = str(row.get("system") or ("human" if row["label"] == "real" else "unknown"))
        song = str(row["song"]) if "song" in frame.columns and row.get("song") else source
        family = "human" if row["label"] == "real" else family_of(system)
        tracks.append(Track(paths[i], str(row["label"]), system, family, source, song,
                            str(row.get("licence") or ""), _twin_of(row, manifest_path)))
    return tracks


def _twin_of(row, manifest_path: Path) -> Path | None:
    """The ``real_twin`` that ``unmask data synthesize copy`` writes beside each copy, if any."""
    value = row.get("real_twin")
    if not isinstance(value, str) or not value:
        return None
    twin = Path(value)
    return twin if twin.is_absolute() else manifest_path.parent / twin


def family_of(system: str) -> str:
    """A generator family from a system name: the name without bit rates and sizes ("EnCodec 24kbps" ->
    "encodec", "Griffin-Mel (256)" -> "griffin-mel")."""
    name = re.sub(r"\(.*?\)|\d+(\.\d+)?\s*k?bps", "", system, flags=re.IGNORECASE)
    return re.sub(r"\s+", "-", name.strip().lower()) or "unknown"


# The vocoder zoo's systems that copy music (unmask data train-vocoders): one per upsampling family, and
# the RVQ codec at its highest rate (its lower rates are the same decoder), and the Snake VAE.
ZOO_FAMILIES = ("melgan", "hifigan", "upsample-conv", "subpixel", "istft", "codec-rvq-8", "snake-vae")


def assign_families(songs: Mapping[str, str], families: Sequence[str]) -> dict[str, str]:
    """Each song (``songs``: song -> its source) to one family: round robin over each source's sorted
    songs, from a start set by the source's name, so every family gets nearly as many songs of every source.

    A song copied by one system only: holding that system out then removes just its songs from
    training, where twins by every system would remove every twinned song from every fold. Per source,
    so a source added to the pool leaves every other source's songs with the families they had (their
    copies stay valid), and no family is made mostly of one source's music."""
    if not families:
        raise ValueError("assign_families needs at least one family")
    by_source: dict[str, list[str]] = {}
    for song, source in songs.items():
        by_source.setdefault(source, []).append(song)
    given = {}
    for source, members in by_source.items():
        start = zlib.crc32(source.encode()) % len(families)  # not hash(): Python salts it per process
        for k, song in enumerate(sorted(members)):
            given[song] = families[(start + k) % len(families)]
    return given


# ------------------------------------------------------------------------------------------- copies
# A copy-synthesis fake must follow its original's loudness: the Pearson correlation of the two level
# envelopes (dB per half second) at least MIN_FOLLOWS, and the copy's level must move at least MIN_MOVES
# as much as the original's. A vocoder that has not learnt to reconstruct music puts out a steady hum
# whatever goes in: the RVQ codec after 6 minutes of training did (its level moved 0.01-0.1 times as much
# as the original's, r = -0.77 at the median, and the content classifier heard noise). That is a broken
# system, not a fake song, and it must not teach the detector what "fake" sounds like. On the music
# pool, faithful copies score r >= 0.43 (LPC) up to 1.0 (Griffin-Lim), and move 0.19-1 times as much.
MIN_FOLLOWS = 0.3
MIN_MOVES = 0.15
ENVELOPE_FRAME_S = 0.5
STEADY_DB = 0.5  # an original whose level moves less than this (std, dB) cannot tell a copy from a hum


def level_envelope(wave: np.ndarray, sample_rate: int, frame_s: float = ENVELOPE_FRAME_S) -> np.ndarray:
    """Mean power per ``frame_s`` frame, in dB (a last partial frame is dropped)."""
    hop = max(1, int(frame_s * sample_rate))
    frames = np.asarray(wave, dtype=np.float64)[: len(wave) // hop * hop].reshape(-1, hop)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)


def copy_follows_original(copy: np.ndarray, original: np.ndarray, sample_rate: int) -> float | None:
    """How closely a copy's loudness follows its original's: the Pearson r of the level envelopes, or 0
    for a copy whose level hardly moves (less than :data:`MIN_MOVES` of the original's swing); None when
    the original is too steady, or too short, to tell."""
    a, b = level_envelope(copy, sample_rate), level_envelope(original, sample_rate)
    n = min(len(a), len(b))
    if n < 3 or float(np.std(b[:n])) < STEADY_DB:
        return None
    if float(np.std(a[:n])) < MIN_MOVES * float(np.std(b[:n])):
        return 0.0  # a copy of (nearly) constant level follows nothing
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def unfaithful_copy(track: Track, sample_rate: int) -> str | None:
    """Why ``track`` is left out as a failed copy of its ``twin``, or None when it is kept."""
    if track.twin is None:
        return None
    r = copy_follows_original(load_audio(track.path, sample_rate), load_audio(track.twin, sample_rate),
                              sample_rate)
    if r is None or r >= MIN_FOLLOWS:
        return None
    return (f"{track.path}: does not follow its original {track.twin} (level envelope r = {r:.2f}, below "
            f"{MIN_FOLLOWS:g}; 0 when its level hardly moves): a failed copy by {track.system}, not a fake "
            "song; left out")


def broken_systems(tracks: Sequence[Track], kept_systems: Iterable[str]) -> dict[str, int]:
    """``{system: copies made}`` for each copying system none of whose copies was kept.

    One failed copy is a bad clip, reported and left out. When every copy of a system fails, the
    vocoder itself is broken (too few training steps, say), and the pool silently lacks a whole family
    unless someone says so."""
    made = Counter(track.system for track in tracks if track.twin is not None)
    kept = set(kept_systems)
    return {system: n for system, n in sorted(made.items()) if system not in kept}


# ------------------------------------------------------------------------------------------ excerpts
SILENT_PEAK = 1e-4  # -80 dBFS: an excerpt whose loudest sample is below this holds no music


def excerpt_starts(duration_s: float, length_s: float, count: int, min_s: float) -> list[tuple[float, float]]:
    """``(start, length)`` of up to ``count`` non-overlapping excerpts spread evenly over a track; a track
    shorter than ``length_s`` is one excerpt of itself, and one shorter than ``min_s`` none."""
    if not np.isfinite(duration_s) or duration_s < min_s:
        return []
    if duration_s <= length_s:
        return [(0.0, duration_s)]
    n = max(1, min(count, int(duration_s // length_s)))
    gap = (duration_s - n * length_s) / (n + 1)  # equal spaces before, between and after
    return [(round(gap + k * (length_s + gap), 3), length_s) for k in range(n)]


def build_music_pool(tracks: Sequence[Track], out_dir: Path, chain: EncodingChain = EncodingChain(), *,
                     length_s: float = 30.0, count: int = 4, min_s: float = 10.0,
                     log: Callable[[str], None] = print) -> tuple[Path, list[str]]:
    """Write every track's excerpts through ``chain`` into ``out_dir`` and ``out_dir/manifest.csv``.

    Excerpts already written are kept (a rerun resumes). Returns the manifest and the problems met
    (a track that cannot be read is reported and left out, never silently dropped)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tracks, problems = unique_tracks(tracks)
    rows = []
    for number, track in enumerate(tracks):
        try:
            written, notes = _track_excerpts(track, chain, out_dir, length_s, count, min_s)
            rows += written
            problems += notes
        except UnmaskError as exc:
            problems.append(f"{track.path}: {exc}")
        if (number + 1) % 25 == 0:
            log(f"music pool: {number + 1} of {len(tracks)} tracks, {len(rows)} excerpts")
    manifest = out_dir / "manifest.csv"
    with atomic_path(manifest) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return manifest, problems


def _track_excerpts(track: Track, chain: EncodingChain, out_dir: Path, length_s: float, count: int,
                    min_s: float) -> tuple[list[dict[str, object]], list[str]]:
    """The rows of one track's excerpts, and why any of them (or the whole track) is left out."""
    failed_copy = unfaithful_copy(track, chain.sample_rate)
    if failed_copy:
        return [], [failed_copy]
    info = probe_audio(track.path)
    spans = excerpt_starts(info.duration_s, length_s, count, min_s)
    if not spans:
        return [], [f"{track.path}: {info.duration_s:.1f} s, shorter than {min_s:g} s; left out"]
    rows, notes = [], []
    for k, (start, length) in enumerate(spans):
        row = _write_excerpt(track, k, start, length, info, chain, out_dir)
        if row is None:
            notes.append(f"{track.path}: the excerpt at {start:.1f} s is silent "
                         f"(peak below {SILENT_PEAK:g}); left out")
        else:
            rows.append(row)
    return rows, notes


def unique_tracks(tracks: Sequence[Track]) -> tuple[list[Track], list[str]]:
    """``tracks`` without copies: a package that links one file into several folders (drascula-music
    has each track in 6 language folders) would otherwise count as 6 songs, or leak one song across a
    split. Copies are found by their resolved path, then by content hash; each one is reported."""
    kept, notes, seen = [], [], {}
    for track in tracks:
        try:
            key = file_blake2b(track.path.resolve())
        except OSError as exc:
            notes.append(f"{track.path}: unreadable ({exc.strerror or exc}); left out")
            continue
        if key in seen:
            notes.append(f"{track.path}: the same bytes as {seen[key]}; left out")
            continue
        seen[key] = track.path
        kept.append(track)
    return kept, notes


def _write_excerpt(track: Track, k: int, start: float, length: float, info, chain: EncodingChain,
                   out_dir: Path) -> dict[str, object] | None:
    """The manifest row of one excerpt, written through ``chain`` unless already there; None (and no file)
    for a silent excerpt: a stretch of digital silence is neither real nor fake music."""
    # Two files of one song (same name in two folders) must not share excerpt names: a short hash of the
    # track's path tells them apart, and stays the same from run to run.
    tag = hashlib.sha1(str(track.path).encode()).hexdigest()[:6]
    relative = Path(track.label) / _slug(track.source) / f"{_slug(track.song)}-{tag}-{k:02d}.flac"
    target = out_dir / relative
    written = target.is_file()  # a rerun checks the excerpt it wrote before (an older builder kept silence)
    wave = (load_audio(target, chain.sample_rate) if written else
            load_audio(track.path, chain.sample_rate, start_s=start, duration_s=length))
    if float(np.max(np.abs(wave), initial=0.0)) < SILENT_PEAK:
        return None
    if not written:
        target.parent.mkdir(parents=True, exist_ok=True)
        save_audio(target, chain.apply(wave), chain.sample_rate)
    return {"path": relative.as_posix(), "label": track.label, "domain": "music", "system": track.system,
            "family": track.family, "source": track.source, "song": track.song, "start_s": start,
            "duration_s": round(length, 3), "original_format": f"{info.container}/{info.codec}",
            "licence": track.licence}


def _slug(text: str) -> str:
    return path_slug(text.replace("/", "+"))
