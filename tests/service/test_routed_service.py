"""`unmask serve --model auto`: the service routes speech and music parts as `unmask scan --model auto` does,
and its results say which detector judged which part."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from routing_fixtures import RATE, fit_classifier, music, tiny_routed
from speech_clips import real_speech


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    return tiny_routed(fit_classifier(tmp_path_factory.mktemp("speech")))


def _wav(wave: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, RATE, format="WAV", subtype="FLOAT")  # the same samples the direct scan gets
    return buffer.getvalue()


def test_a_podcast_with_a_music_bed_gets_both_parts_judged_by_their_own_models(make_service, routed,
                                                                                   tmp_path):
    service = make_service(detector=routed)
    wave = np.concatenate([real_speech(10.0, tmp_path), music(12, 7)])
    scan = service.wait(service.upload(_wav(wave), name="episode.wav").json()["id"])
    assert scan["status"] == "done"
    result = scan["result"]
    judged_by = [(p["content"], p["model"]) for p in result["parts"]]
    assert judged_by == [("speech", "lcnn"), ("music", "spectttra")]
    expected = routed.scan_waveform(wave, RATE, name="episode.wav")  # the CLI's routed scan of this audio
    assert result["fake_probability"] == pytest.approx(expected.fake_probability, abs=1e-6)
    assert [p["fake_probability"] for p in result["parts"]] == pytest.approx(
        [p.fake_probability for p in expected.parts], abs=1e-6)

    card = service.client.get("/v1/models", headers=service.headers()).json()["models"][0]
    assert card["name"] == "auto" and card["architecture"] == "auto: speech=lcnn, music=spectttra"
    assert set(card["card"]) == {"speech", "music"} and card["sample_rate"] == RATE


def test_the_services_own_load_of_auto_routes_with_the_bundled_classifier(tmp_path):
    """No injected detector: `--model auto` is built by DetectorSpec, as `unmask scan` builds it, and the
    service's upload limits reach the routed detectors."""
    from unmask.detect.routing import RoutedDetector
    from unmask.service.app import create_app
    from unmask.service.config import ServiceConfig
    from unmask.service.db import ServiceStore

    config = ServiceConfig(data_dir=tmp_path, model="auto", device="cpu", max_duration_s=90.0)
    app = create_app(config, store=ServiceStore(config.url), start_workers=False)
    detector = app.state.detector
    assert isinstance(detector, RoutedDetector) and set(detector.detectors) == {"speech", "music"}
    assert detector.detectors["music"].architecture == "artifact-spectrum"  # the bundled music model
    for routed in detector.detectors.values():
        assert routed.settings.limits.max_duration_s == 90.0


def test_music_model_none_leaves_music_unjudged(tmp_path):
    from unmask.detect.spec import DetectorSpec

    detector = DetectorSpec(model="auto", device="cpu", music_model="none").build()
    assert set(detector.detectors) == {"speech"}


def test_music_model_without_auto_is_a_usage_error(tmp_path):
    from typer.testing import CliRunner

    from unmask.cli.main import app as cli

    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--model", "default",
                                   "--music-model", "x.pt"])
    assert result.exit_code == 2 and "--music-model applies to --model auto" in result.output
