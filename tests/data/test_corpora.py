"""Corpus importers on tiny fixture trees that mimic each corpus's official layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmask.data.corpora import CORPORA, MissingAudioError, get_importer, import_corpus
from unmask.data.manifest import read_manifest
from unmask.errors import ManifestError


def lines(path: Path, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def asvspoof2019_tree(root: Path, audio) -> Path:
    la = root / "LA"
    protocols = la / "ASVspoof2019_LA_cm_protocols"
    lines(
        protocols / "ASVspoof2019.LA.cm.train.trn.txt",
        "LA_0079 LA_T_1138215 - - bonafide",
        "LA_0079 LA_T_1271820 - A01 spoof",
    )
    lines(protocols / "ASVspoof2019.LA.cm.dev.trl.txt", "LA_0069 LA_D_1047731 - A05 spoof")
    lines(
        protocols / "ASVspoof2019.LA.cm.eval.trl.txt",
        "LA_0039 LA_E_2834763 - A11 spoof",
        "LA_0014 LA_E_8877452 - - bonafide",
    )
    for part, utt in [
        ("train", "LA_T_1138215"),
        ("train", "LA_T_1271820"),
        ("dev", "LA_D_1047731"),
        ("eval", "LA_E_2834763"),
        ("eval", "LA_E_8877452"),
    ]:
        audio(la / f"ASVspoof2019_LA_{part}" / "flac" / f"{utt}.flac")
    return root


def test_registry_lists_every_format_with_a_description():
    assert set(CORPORA) == {
        "asvspoof2019-la",
        "asvspoof2021-la",
        "asvspoof2021-df",
        "asvspoof5",
        "in-the-wild",
        "mlaad",
        "wavefake",
        "fakeorreal",
        "codecfake",
        "sonics",
    }
    assert all(importer.description and "\n" not in importer.description for importer in CORPORA.values())
    with pytest.raises(KeyError, match="unknown corpus format"):
        get_importer("asvspoof2099")


def test_asvspoof2019_la(tmp_path, audio):
    root = asvspoof2019_tree(tmp_path, audio)
    manifest = import_corpus("asvspoof2019-la", root).manifest
    assert len(manifest) == 5
    rows = {row.path.stem: row for row in manifest}
    assert rows["LA_T_1138215"].label == "real" and rows["LA_T_1138215"].system is None
    assert rows["LA_T_1271820"].label == "fake" and rows["LA_T_1271820"].system == "A01"
    assert rows["LA_E_2834763"].split == "eval" and rows["LA_E_2834763"].speaker == "LA_0039"
    assert rows["LA_D_1047731"].path == root / "LA" / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1047731.flac"
    # ROOT may also be the LA folder itself; --split keeps one protocol.
    dev = import_corpus("asvspoof2019-la", root / "LA", split="dev").manifest
    assert [row.split for row in dev] == ["dev"]


def test_asvspoof2019_la_missing_audio_is_reported_then_skipped_on_request(tmp_path, audio):
    root = asvspoof2019_tree(tmp_path, audio)
    (root / "LA" / "ASVspoof2019_LA_eval" / "flac" / "LA_E_2834763.flac").unlink()
    with pytest.raises(MissingAudioError, match="1 of 5 audio files") as caught:
        import_corpus("asvspoof2019-la", root)
    assert "--skip-missing" in caught.value.hint
    result = import_corpus("asvspoof2019-la", root, skip_missing=True)
    assert len(result.manifest) == 4
    assert [p.name for p in result.missing] == ["LA_E_2834763.flac"]
    assert any("left out 1 of 5" in w for w in result.warnings)


def test_asvspoof2019_la_layout_errors(tmp_path, audio):
    with pytest.raises(ManifestError, match="ASVspoof2019_LA_cm_protocols folder not found"):
        import_corpus("asvspoof2019-la", tmp_path)
    root = asvspoof2019_tree(tmp_path, audio)
    (root / "LA" / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt").unlink()
    with pytest.raises(ManifestError, match="protocol for the dev split not found"):
        import_corpus("asvspoof2019-la", root)
    lines(
        root / "LA" / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt",
        "LA_0069 LA_D_1047731 - A05 maybe",
    )
    with pytest.raises(ManifestError, match="line 1: unknown class 'maybe'"):
        import_corpus("asvspoof2019-la", root, split="dev")
    with pytest.raises(ValueError, match="--split must be one of"):
        import_corpus("asvspoof2019-la", root, split="test")
    with pytest.raises(ValueError, match="does not take option"):
        import_corpus("asvspoof2019-la", root, subset="x")


def test_asvspoof2021_la(tmp_path, audio):
    lines(
        tmp_path / "LA-keys-full" / "keys" / "LA" / "CM" / "trial_metadata.txt",
        "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval",
        "LA_0041 LA_E_5085671 pstn loc_tx bonafide bonafide notrim progress",
    )
    for utt in ("LA_E_9332881", "LA_E_5085671"):
        audio(tmp_path / "ASVspoof2021_LA_eval" / "flac" / f"{utt}.flac")
    manifest = import_corpus("asvspoof2021-la", tmp_path).manifest
    fake, real = list(manifest)
    assert (fake.label, fake.system, fake.meta["codec"], fake.meta["channel"]) == (
        "fake",
        "A07",
        "alaw",
        "ita_tx",
    )
    assert (real.label, real.system, real.meta["phase"]) == ("real", None, "progress")
    assert len(import_corpus("asvspoof2021-la", tmp_path, subset="eval").manifest) == 1


def test_asvspoof2021_df_audio_spread_over_parts(tmp_path, audio):
    lines(
        tmp_path / "keys" / "DF" / "CM" / "trial_metadata.txt",
        "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -",
        "TEF2 DF_E_2000013 low_m4a vcc2020 Task1-team20 spoof notrim eval neural_vocoder_nonautoregressive "
        "Task1 team20 FF E",
        "LA_0031 DF_E_2000026 mp3m4a asvspoof bonafide bonafide notrim eval bonafide - - - -",
    )
    audio(tmp_path / "ASVspoof2021_DF_eval_part00" / "ASVspoof2021_DF_eval" / "flac" / "DF_E_2000011.flac")
    audio(tmp_path / "ASVspoof2021_DF_eval_part01" / "ASVspoof2021_DF_eval" / "flac" / "DF_E_2000013.flac")
    audio(tmp_path / "ASVspoof2021_DF_eval_part01" / "ASVspoof2021_DF_eval" / "flac" / "DF_E_2000026.flac")
    manifest = import_corpus("asvspoof2021-df", tmp_path).manifest
    assert manifest.column("source") == [
        "asvspoof2021-df/asvspoof",
        "asvspoof2021-df/vcc2020",
        "asvspoof2021-df/asvspoof",
    ]
    assert manifest.column("system") == ["A14", "Task1-team20", ""]
    assert manifest.labels == ["fake", "fake", "real"]
    assert manifest.column("vocoder")[1] == "neural_vocoder_nonautoregressive"
    assert all(manifest.exists())


def test_asvspoof2021_missing_keys(tmp_path):
    with pytest.raises(ManifestError, match=r"keys/DF/CM/trial_metadata.txt"):
        import_corpus("asvspoof2021-df", tmp_path)


def test_asvspoof5(tmp_path, audio):
    protocols = tmp_path / "ASVspoof5_protocols"
    lines(
        protocols / "ASVspoof5.train.tsv",
        "T_4850 T_0000000000 F - - - AC3 A05 spoof -",
        "T_1111 T_0000000001 M - - - bonafide bonafide bonafide -",
    )
    lines(protocols / "ASVspoof5.dev.track_1.tsv", "D_0062 D_0000000001 F - - - AC1 A11 spoof -")
    lines(protocols / "ASVspoof5.eval.track_1.tsv", "E_0001 E_0000000001 M C05 3 1 - A19 spoof -")
    for folder, utt in [
        ("flac_T", "T_0000000000"),
        ("flac_T", "T_0000000001"),
        ("flac_D", "D_0000000001"),
        ("flac_E_eval", "E_0000000001"),
    ]:
        audio(tmp_path / folder / f"{utt}.flac")
    manifest = import_corpus("asvspoof5", tmp_path).manifest
    assert manifest.column("split") == ["train", "train", "dev", "eval"]
    assert manifest.labels == ["fake", "real", "fake", "fake"]
    assert manifest.column("system") == ["A05", "", "A11", "A19"]
    assert manifest.column("codec")[3] == "C05" and manifest.column("gender")[0] == "F"
    assert manifest.resolve(3) == tmp_path / "flac_E_eval" / "E_0000000001.flac"
    with pytest.raises(ManifestError, match="ASVspoof 5 train protocol not found"):
        import_corpus("asvspoof5", tmp_path / "flac_T")


def test_in_the_wild(tmp_path, audio):
    release = tmp_path / "release_in_the_wild"
    lines(
        release / "meta.csv",
        "file,speaker,label",
        "0.wav,Alec Guinness,spoof",
        "1.wav,Alec Guinness,bona-fide",
    )
    audio(release / "0.wav")
    audio(release / "1.wav", seed=1)
    manifest = import_corpus("in-the-wild", tmp_path).manifest
    assert manifest.labels == ["fake", "real"]
    assert manifest.column("speaker") == ["Alec Guinness"] * 2
    assert manifest.resolve(1) == release / "1.wav"


def test_mlaad_with_meta_and_mailabs_reals(tmp_path, audio):
    model = tmp_path / "MLAAD" / "fake" / "de" / "tts_models_de_thorsten_vits"
    audio(model / "clip_0.wav")
    lines(
        model / "meta.csv",
        "path|original_file|language|is_original_language|duration|training_data|model_name|architecture|"
        "transcript",
        "./fake/de/tts_models_de_thorsten_vits/clip_0.wav|de_DE/by_book/male/karlsson/kleinzaches/wavs/"
        "kleinzaches_01_f000001.wav|de|True|4.2|thorsten|tts_models/de/thorsten/vits|vits|Hallo",
    )
    audio(tmp_path / "MLAAD" / "fake" / "en" / "griffin_lim" / "a.wav")  # a model folder without meta.csv
    mailabs = tmp_path / "M-AILABS"
    audio(mailabs / "de_DE" / "by_book" / "male" / "karlsson" / "kleinzaches" / "wavs" / "k_01.wav")
    audio(mailabs / "en_US" / "by_book" / "mix" / "some_book" / "wavs" / "m_01.wav")
    result = import_corpus("mlaad", tmp_path / "MLAAD", reals=[mailabs])
    manifest = result.manifest
    fake_vits, fake_gl, real_de, real_mix = list(manifest)
    assert (fake_vits.system, fake_vits.language, fake_vits.meta["architecture"]) == (
        "tts_models/de/thorsten/vits",
        "de",
        "vits",
    )
    assert fake_vits.meta["duration_s"] == "4.2"
    assert (fake_gl.system, fake_gl.language) == ("griffin_lim", "en")
    assert (real_de.label, real_de.speaker, real_de.language, real_de.source) == (
        "real",
        "karlsson",
        "de",
        "m-ailabs",
    )
    assert (real_mix.speaker, real_mix.language) == (None, "en")
    assert not result.warnings
    fakes_only = import_corpus("mlaad", tmp_path / "MLAAD")
    assert set(fakes_only.manifest.labels) == {"fake"}
    assert any("fakes only" in w for w in fakes_only.warnings)


def test_wavefake(tmp_path, audio):
    generated = tmp_path / "generated_audio"
    audio(generated / "ljspeech_melgan" / "LJ001-0001_gen.wav")
    audio(generated / "ljspeech_hifiGAN" / "LJ001-0001_generated.wav", seed=1)
    audio(generated / "jsut_multi_band_melgan" / "BASIC5000_0001_gen.wav", seed=2)
    audio(tmp_path / "LJSpeech-1.1" / "wavs" / "LJ001-0001.wav", seed=3)
    audio(tmp_path / "jsut_ver1.1" / "basic5000" / "wav" / "BASIC5000_0001.wav", seed=4)
    manifest = import_corpus("wavefake", tmp_path).manifest
    rows = {(row.label, row.system or "", row.language): row for row in manifest}
    assert set(rows) == {
        ("fake", "jsut_multi_band_melgan", "ja"),
        ("fake", "ljspeech_hifiGAN", "en"),
        ("fake", "ljspeech_melgan", "en"),
        ("real", "", "en"),
        ("real", "", "ja"),
    }
    assert {row.meta["utterance"] for row in manifest} == {"LJ001-0001", "BASIC5000_0001"}


def test_fakeorreal_nested_versions(tmp_path, audio):
    for version, split in [
        ("for-norm/for-norm", "training"),
        ("for-norm/for-norm", "testing"),
        ("for-2sec/for-2seconds", "validation"),
    ]:
        for label in ("real", "fake"):
            audio(
                tmp_path / version / split / label / f"{label}_0.wav",
                seed=hash(version + split + label) % 100,
            )
    manifest = import_corpus("fakeorreal", tmp_path).manifest
    assert len(manifest) == 6
    assert sorted(set(zip(manifest.column("subset"), manifest.column("split"), strict=True))) == [
        ("for-2sec", "dev"),
        ("for-norm", "test"),
        ("for-norm", "train"),
    ]
    only = import_corpus("fakeorreal", tmp_path, subset="for-norm", split="test").manifest
    assert sorted(only.labels) == ["fake", "real"]
    with pytest.raises(ManifestError, match="no training/validation/testing"):
        import_corpus("fakeorreal", tmp_path / "for-norm" / "for-norm" / "training")


def test_codecfake(tmp_path, audio):
    lines(tmp_path / "label" / "train.txt", "p225_001.wav real 0", "p225_001_codec1.wav fake 1")
    lines(tmp_path / "label" / "C1.txt", "SSB00050001.wav fake C1", "SSB00050002.wav real 0")
    audio(tmp_path / "train" / "p225_001.wav")
    audio(tmp_path / "train" / "p225_001_codec1.wav", seed=1)
    audio(tmp_path / "test" / "C1" / "SSB00050001.wav", seed=2)
    audio(tmp_path / "test" / "C1" / "SSB00050002.wav", seed=3)
    manifest = import_corpus("codecfake", tmp_path).manifest
    assert manifest.column("split") == ["train", "train", "test", "test"]
    assert manifest.labels == ["real", "fake", "fake", "real"]
    assert manifest.column("system") == ["", "1", "C1", ""]
    assert manifest.column("language") == ["en", "en", "zh", "zh"]
    assert len(import_corpus("codecfake", tmp_path, subset="C1").manifest) == 2
    with pytest.raises(ManifestError, match="label file for dev not found"):
        import_corpus("codecfake", tmp_path, split="dev")


def test_sonics_csv_and_folder_layouts(tmp_path, audio):
    lines(
        tmp_path / "fake_songs.csv",
        "id,filename,title,lyrics,algorithm,source,duration,split,no_vocal",
        'f1,fake_00001_suno_0,Song,"la, la",chirp-v3.5,suno,0.1,train,False',
        "f2,fake_00002_udio_0,Other,la,udio-120s,udio,0.1,test,False",
    )
    lines(
        tmp_path / "real_songs.csv",
        "id,filename,title,artist,duration,split",
        "r1,real_00001,Tune,Someone,0.1,valid",
    )
    # Real bytes under the .mp3 names the CSVs imply (the importer only needs the files to exist).
    for name in ("fake_songs/fake_00001_suno_0", "fake_songs/fake_00002_udio_0", "real_songs/real_00001"):
        audio(tmp_path / f"{name}.wav").rename(tmp_path / f"{name}.mp3")
    manifest = import_corpus("sonics", tmp_path).manifest
    assert manifest.labels == ["fake", "fake", "real"]
    assert manifest.column("system") == ["chirp-v3.5", "udio-120s", ""]
    assert manifest.column("platform") == ["suno", "udio", ""]
    assert manifest.column("split") == ["train", "test", "dev"]
    assert manifest.column("domain") == ["music"] * 3
    assert "lyrics" not in manifest.columns
    assert len(import_corpus("sonics", tmp_path, split="dev").manifest) == 1
    for csv_file in ("fake_songs.csv", "real_songs.csv"):
        (tmp_path / csv_file).unlink()
    folders = import_corpus("sonics", tmp_path).manifest
    assert sorted(folders.labels) == ["fake", "fake", "real"]


def test_imported_manifest_writes_and_reads_back(tmp_path, audio):
    root = asvspoof2019_tree(tmp_path / "corpus", audio)
    manifest = import_corpus("asvspoof2019-la", root).manifest
    out = manifest.write(tmp_path / "manifests" / "asv19.csv")
    again = read_manifest(out)
    assert again.abs_paths() == manifest.abs_paths()
    assert again.column("system") == manifest.column("system")
