"""The music pool builder on tiny generated tracks: excerpts, songs, one encoding chain for both classes."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from unmask.data.music_pool import (
    COLUMNS,
    EncodingChain,
    Track,
    ace_step_tracks,
    assign_families,
    broken_systems,
    build_music_pool,
    copy_follows_original,
    debian_tracks,
    excerpt_starts,
    family_of,
    manifest_tracks,
)
from unmask.io import load_audio

RATE = 22050


def _tune(path: Path, seconds: float, seed: int) -> Path:
    """A few notes with harmonics and an envelope: enough to survive a codec, different per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    notes = rng.choice([220.0, 247.0, 262.0, 294.0, 330.0], size=int(seconds * 2) + 1)
    f0 = notes[(t * 2).astype(int)]
    wave = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (wave * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32), RATE)
    return path


def test_excerpts_are_spread_evenly_without_overlap():
    assert excerpt_starts(100.0, 30.0, 4, 10.0) == [(2.5, 30.0), (35.0, 30.0), (67.5, 30.0)]
    assert excerpt_starts(200.0, 30.0, 2, 10.0) == [(46.667, 30.0), (123.333, 30.0)]
    assert excerpt_starts(20.0, 30.0, 4, 10.0) == [(0.0, 20.0)]  # shorter than an excerpt: itself
    assert excerpt_starts(5.0, 30.0, 4, 10.0) == []  # a sound effect, not a song
    assert excerpt_starts(float("nan"), 30.0, 4, 10.0) == []


@pytest.mark.parametrize(("system", "family"), [
    ("EnCodec 24kbps", "encodec"), ("LAC 2kbps", "lac"), ("Griffin-Mel (256)", "griffin-mel"),
    ("Musika autoencoder", "musika-autoencoder"), ("ACE-Step", "ace-step"),
])
def test_generator_families_drop_bit_rates_and_sizes(system, family):
    assert family_of(system) == family


def test_the_same_audio_comes_out_the_same_whatever_its_label(tmp_path):
    source = _tune(tmp_path / "in" / "tune.wav", 12.0, seed=1)
    chain = EncodingChain(16000, "mp3", 96000)
    pools = {}
    for track in (Track(source, "real", "human", "human", "debian/pkg", "pkg/tune", "x"),
                  Track(source, "fake", "ACE-Step", "ace-step", "wheel", "ace/tune", "y")):
        manifest, problems = build_music_pool([track], tmp_path / track.label, chain, length_s=5.0, count=2,
                                              log=lambda _: None)
        assert problems == []
        pools[track.label] = pd.read_csv(manifest)
    frame = pools["real"]
    assert tuple(frame.columns) == COLUMNS and len(frame) == len(pools["fake"]) == 2
    real = [sf.read(tmp_path / "real" / p)[0] for p in frame.path]
    fake = [sf.read(tmp_path / "fake" / p)[0] for p in pools["fake"].path]
    for a, b in zip(real, fake, strict=True):  # no property of the format differs between the classes
        np.testing.assert_array_equal(a, b)
    info = sf.info(tmp_path / "real" / frame.path[0])
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
    clean = load_audio(source, 16000, start_s=frame.start_s[0], duration_s=5.0)
    assert not np.array_equal(real[0][: len(clean)], clean)  # the codec round trip did happen
    assert np.corrcoef(real[0][: len(clean)], clean)[0, 1] > 0.95  # and kept the music in place


def test_debian_packages_archives_wheel_and_manifest_rows_become_songs(tmp_path):
    package_dir = tmp_path / "usr" / "share" / "games"
    tracks_a = [_tune(package_dir / "a" / f"t{i}.wav", 25.0, seed=i) for i in range(2)]
    short = _tune(package_dir / "a" / "click.wav", 2.0, seed=9)
    bundle = package_dir / "b" / "music.pk3"
    inner = _tune(tmp_path / "build" / "song.wav", 12.0, seed=5)
    bundle.parent.mkdir(parents=True)
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(inner, "sound/cdtracks/song.wav")
        archive.writestr("readme.txt", "not audio")
    copy = package_dir / "a" / "de" / "t0.wav"  # a package linking one track into a second folder
    copy.parent.mkdir()
    copy.symlink_to(tracks_a[0])
    listing = {"pkg-a": [*tracks_a, short, copy], "pkg-b": [bundle], "pkg-c": []}
    reals, missing = debian_tracks(listing, files_of=listing.__getitem__, extract_to=tmp_path / "unpacked")
    assert missing == ["pkg-c"]
    assert sorted(t.song for t in reals) == ["pkg-a/click", "pkg-a/t0", "pkg-a/t0", "pkg-a/t1", "pkg-b/song"]
    # a game's data package: only its music folder counts, not its sound effects and voices
    voice = _tune(package_dir / "hw" / "Data" / "Sounds" / "voices" / "taunt.wav", 12.0, seed=11)
    tune = _tune(package_dir / "hw" / "Data" / "Music" / "theme.wav", 12.0, seed=12)
    game = {"hedgewars-data": [voice, tune]}
    game_tracks, _ = debian_tracks(game, files_of=game.__getitem__)
    assert [t.song for t in game_tracks] == ["hedgewars-data/theme"]
    # a folder given by its last names: a level called "music" holds voices, the game's music folder tunes
    line = _tune(package_dir / "fillets-ng" / "sound" / "music" / "en" / "line.wav", 12.0, seed=13)
    song = _tune(package_dir / "fillets-ng" / "music" / "rybky.wav", 12.0, seed=14)
    fish = {"fillets-ng-data": [line, song]}
    assert [t.song for t in debian_tracks(fish, files_of=fish.__getitem__)[0]] == ["fillets-ng-data/rybky"]

    wheel = tmp_path / "wheel" / "tracks"
    fakes = ace_step_tracks(_tune(wheel / "calm" / "calm_acoustic_s411.wav", 12.0, seed=7).parents[1])
    assert [(t.label, t.family, t.song) for t in fakes] == [
        ("fake", "ace-step", "ace-step/calm_acoustic_s411")]

    demo = tmp_path / "demo"
    _tune(demo / "orig.wav", 12.0, seed=3)
    _tune(demo / "recon.wav", 12.0, seed=4)
    (demo / "manifest.csv").write_text(
        "path,label,domain,system,source\norig.wav,real,music,recording,deezer\n"
        "recon.wav,fake,music,EnCodec 6kbps,deezer\nother.wav,fake,speech,tts,deezer\n")
    rows = manifest_tracks(demo / "manifest.csv")
    assert [(t.label, t.family, t.song) for t in rows] == [("real", "human", "deezer"),
                                                           ("fake", "encodec", "deezer")]

    manifest, problems = build_music_pool(reals + fakes + rows, tmp_path / "pool", length_s=10.0, count=3,
                                          log=lambda _: None)
    frame = pd.read_csv(manifest)
    assert any("click.wav" in p and "shorter than" in p for p in problems)  # reported, not dropped silently
    assert any(p.startswith(str(copy)) and "same bytes" in p for p in problems)  # one song, counted once
    assert frame["path"].is_unique
    assert frame.groupby("song").size().to_dict() == {
        "ace-step/calm_acoustic_s411": 1, "deezer": 2, "pkg-a/t0": 2, "pkg-a/t1": 2, "pkg-b/song": 1}
    assert set(frame.domain) == {"music"} and (frame.duration_s <= 10.0).all()
    again, _ = build_music_pool(reals + fakes + rows, tmp_path / "pool", length_s=10.0, count=3,
                                log=lambda _: None)  # a rerun keeps what is written and says the same
    assert pd.read_csv(again).equals(frame)


def test_every_song_goes_to_one_family_and_the_families_share_each_source_evenly():
    families = ["melgan", "hifigan", "istft"]
    songs = {f"a/song-{k}": "a" for k in range(10)} | {f"b/song-{k}": "b" for k in range(4)}
    given = assign_families(songs, families)
    assert set(given) == set(songs)
    for source in ("a", "b"):
        counts = pd.Series([given[s] for s in songs if songs[s] == source]).value_counts()
        assert counts.max() - counts.min() <= 1 and len(counts) == 3  # b: 4 songs, so 2-1-1
    assert assign_families(dict(reversed(list(songs.items()))), families) == given  # order-free
    # a source added later leaves the others' songs where they were, so their copies stay valid
    grown = assign_families(songs | {f"0/song-{k}": "0" for k in range(5)}, families)
    assert {s: grown[s] for s in songs} == given
    with pytest.raises(ValueError, match="at least one family"):
        assign_families(songs, [])


def test_a_silent_excerpt_is_reported_and_left_out_also_on_a_rerun(tmp_path):
    tune = load_audio(_tune(tmp_path / "in" / "tune.wav", 6.0, seed=3), RATE)
    wave = np.concatenate([tune, np.zeros(6 * RATE, dtype=np.float32)])  # music, then digital silence
    sf.write(tmp_path / "in" / "then-silence.wav", wave, RATE)
    track = Track(tmp_path / "in" / "then-silence.wav", "real", "human", "human", "debian/pkg", "pkg/t", "x")
    for _ in range(2):  # the second run finds the written excerpt and checks it again
        manifest, problems = build_music_pool([track], tmp_path / "out", EncodingChain(16000, None),
                                              length_s=5.0, count=2, min_s=1.0, log=lambda _: None)
        frame = pd.read_csv(manifest)
        assert len(frame) == 1 and frame.start_s[0] < 6.0
        assert len(problems) == 1 and "is silent" in problems[0] and "left out" in problems[0]
    assert len(list((tmp_path / "out").rglob("*.flac"))) == 1


def test_a_copy_that_does_not_follow_its_original_is_reported_and_left_out(tmp_path):
    """A vocoder that has not learnt music puts out a steady hum: that is a broken system, not a fake."""
    original = _tune(tmp_path / "real" / "tune.wav", 12.0, seed=4)
    wave = load_audio(original, RATE)
    rng = np.random.default_rng(0)
    (tmp_path / "copies").mkdir()
    faithful = tmp_path / "copies" / "faithful.wav"
    sf.write(faithful, (0.9 * wave + 0.01 * rng.standard_normal(len(wave))).astype(np.float32), RATE)
    hum = tmp_path / "copies" / "hum.wav"
    sf.write(hum, (0.1 * np.sin(2 * np.pi * 100.0 * np.arange(len(wave)) / RATE)
                   + 0.02 * rng.standard_normal(len(wave))).astype(np.float32), RATE)
    copies = pd.DataFrame({"path": ["faithful.wav", "hum.wav"], "label": "fake", "domain": "music",
                           "system": ["melgan", "codec-rvq-8"], "source": "debian/pkg", "song": "pkg/tune",
                           "real_twin": [str(original), "../real/tune.wav"]})
    copies.to_csv(tmp_path / "copies" / "manifest.csv", index=False)
    tracks = manifest_tracks(tmp_path / "copies" / "manifest.csv")
    assert [t.twin.resolve() for t in tracks] == [original.resolve()] * 2  # absolute and relative twins
    manifest, problems = build_music_pool(tracks, tmp_path / "out", EncodingChain(16000, None), length_s=30.0,
                                          log=lambda _: None)
    frame = pd.read_csv(manifest)
    assert frame.system.tolist() == ["melgan"]
    assert len(problems) == 1 and "hum.wav: does not follow its original" in problems[0]
    assert "codec-rvq-8" in problems[0] and "left out" in problems[0]
    # every copy by codec-rvq-8 failed: the whole system is named, so a missing family is not silent
    assert broken_systems(tracks, frame.system) == {"codec-rvq-8": 1}
    assert broken_systems(tracks, ["melgan", "codec-rvq-8"]) == {}


def test_how_closely_a_copy_follows_its_original():
    rate = 1000
    t = np.arange(20 * rate) / rate
    original = np.sin(2 * np.pi * 50 * t) * (0.1 + np.abs(np.sin(2 * np.pi * 0.1 * t)))  # swells and fades
    assert copy_follows_original(0.5 * original, original, rate) == pytest.approx(1.0)
    assert copy_follows_original(np.full_like(original, 0.1), original, rate) == 0.0  # constant level
    inverted = np.sin(2 * np.pi * 50 * t) * (1.2 - np.abs(np.sin(2 * np.pi * 0.1 * t)))
    assert copy_follows_original(inverted, original, rate) < -0.5  # loud where the original is quiet
    carrier = np.sin(2 * np.pi * 50 * t)
    squashed = carrier * (0.1 + np.abs(np.sin(2 * np.pi * 0.1 * t))) ** 0.1  # in step, a tenth of the swing
    assert copy_follows_original(squashed, original, rate) == 0.0
    steady = np.sin(2 * np.pi * 50 * t)
    assert copy_follows_original(original, steady, rate) is None  # a steady original cannot tell
    assert copy_follows_original(original[:rate], original[:rate], rate) is None  # too short to tell


def test_the_pool_script_fails_when_a_system_made_no_faithful_copy(tmp_path):
    """All of a vocoder's copies left out means a missing family: the build says so and exits 1."""
    original = _tune(tmp_path / "real" / "tune.wav", 12.0, seed=4)
    n = len(load_audio(original, RATE))
    (tmp_path / "copies").mkdir()
    sf.write(tmp_path / "copies" / "hum.wav",
             (0.1 * np.sin(2 * np.pi * 100.0 * np.arange(n) / RATE)).astype(np.float32), RATE)
    pd.DataFrame({"path": ["hum.wav"], "label": "fake", "domain": "music", "system": ["codec-rvq-8"],
                  "source": "debian/pkg", "song": "pkg/tune", "real_twin": [str(original)]}).to_csv(
        tmp_path / "copies" / "manifest.csv", index=False)
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_music_pool.py"
    done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "out"), "--codec", "none",
                           "--only", str(tmp_path / "copies" / "manifest.csv")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "none of the 1 copies by codec-rvq-8 follows its original" in done.stderr
    assert (tmp_path / "out" / "manifest.csv").is_file()  # what was built is kept
