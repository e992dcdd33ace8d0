"""A real browser on the page: Playwright drives Debian's chromium (/usr/bin/chromium; Playwright's own
browser download is never used). It enters a key, drops a clip on the page, sees the verdict, the timeline,
the spectrogram, the model card and the history, and saves a screenshot as a test artefact
(``$UNMASK_TEST_ARTIFACTS``, default ``test-artifacts/``)."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
CHROMIUM = os.environ.get("UNMASK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("UNMASK_TEST_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/install-system-deps.sh)"
)

DROP = """([name, data]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: "audio/wav" }));
    const zone = document.getElementById("drop-zone");
    const options = { dataTransfer: transfer, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent("dragover", options));
    zone.dispatchEvent(new DragEvent("drop", options));
}"""


def _spliced(real_s: float, fake_s: float) -> bytes:
    """A recording whose first part is "real" and whose second part is "synthetic": a spliced fake."""
    import io

    import numpy as np
    import soundfile as sf

    from audio_fixtures import RATE, buzzy, voiced

    rng = np.random.default_rng(3)
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([voiced(real_s, rng), buzzy(fake_s, rng)]), RATE, format="WAV")
    return buffer.getvalue()


def _wait_for_text(page, selector: str, text: str) -> None:
    # A function, not an expression string: the page's CSP forbids eval, and Playwright would eval a string.
    script = "([s, t]) => document.querySelector(s).textContent.includes(t)"
    page.wait_for_function(script, arg=[selector, text])


def test_page_in_a_real_browser(live_service) -> None:
    from unmask.detect.pipeline import Detector

    server, key = live_service(detector=Detector.load("default", device="cpu"))
    clip = _spliced(4.0, 4.0)
    problems: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(server.url + "/")
            assert page.title().startswith("unmask")
            # Every control has a label; the key is entered with the keyboard alone.
            unlabelled = page.evaluate(
                "[...document.querySelectorAll('input, select')].filter((e) => !e.labels.length)"
                ".map((e) => e.id)"
            )
            assert unlabelled == []
            page.get_by_label("Your API key").focus()
            page.keyboard.type(key)
            page.keyboard.press("Enter")
            _wait_for_text(page, "#model-card", "version")
            card = page.inner_text("#model-card")
            assert "default" in card and "Verdicts" in card
            # Drag and drop a clip.
            page.evaluate(DROP, ["suspect.wav", base64.b64encode(clip).decode()])
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            verdict = page.inner_text("#verdict")
            assert verdict.startswith(("Likely fake", "Likely real", "Uncertain"))
            assert "suspect.wav" in verdict
            assert "Probability that this is synthetic speech:" in page.inner_text("#probability")
            assert page.get_attribute("#upload-progress", "value") == "100"
            bars = page.locator("#timeline .bar").count()
            assert bars >= 3
            assert page.inner_text("#timeline-axis").split() == ["0", "s", "8.0", "s"]
            assert page.locator("#timeline-table tbody tr").count() == bars
            assert "most suspicious" in page.get_attribute("#timeline", "aria-label")
            _wait_for_text(page, "#spectrogram-note", "kHz")
            assert page.evaluate("document.getElementById('spectrogram').width") > 100
            page.wait_for_function("() => document.querySelectorAll('#history tbody tr').length === 1")
            assert "suspect.wav" in page.inner_text("#history tbody")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.locator("#result").screenshot(path=str(ARTIFACTS / "serve-result.png"))
            # A file that is not media is refused with a reason, in words.
            page.set_input_files("#file-input", files=[{"name": "notes.wav", "mimeType": "audio/wav",
                                                        "buffer": b"just some text, honestly" * 8}])
            _wait_for_text(page, "#status", "refused")
            assert "415" in page.inner_text("#status")
            page.screenshot(path=str(ARTIFACTS / "serve-page.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "serve-page.png").stat().st_size > 10_000
    assert not [p for p in problems if "415" not in p], problems  # no CSP violation, no script error


def test_page_says_which_model_judged_which_part(live_service, tmp_path) -> None:
    """A routed service (--model auto): the page lists the parts, the detector of each and its score."""
    import io

    import numpy as np
    import soundfile as sf

    from routing_fixtures import RATE, fit_classifier, music, tiny_routed
    from speech_clips import real_speech

    server, key = live_service(detector=tiny_routed(fit_classifier(tmp_path / "fit")))
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([real_speech(10.0, tmp_path), music(12, 7)]), RATE, format="WAV")
    problems: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(server.url + "/")
            page.get_by_label("Your API key").fill(key)
            page.keyboard.press("Enter")
            _wait_for_text(page, "#model-card", "version")
            page.evaluate(DROP, ["episode.wav", base64.b64encode(buffer.getvalue()).decode()])
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            parts = page.locator("#parts li").all_inner_texts()
            assert len(parts) == 2, parts
            assert "speech: judged by lcnn" in parts[0] and "likely synthetic" in parts[0]
            assert "music: judged by spectttra" in parts[1]
            assert "Probability that this is synthetic content:" in page.inner_text("#probability")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.locator("#result").screenshot(path=str(ARTIFACTS / "serve-routed-result.png"))
        finally:
            browser.close()
    assert not problems, problems
