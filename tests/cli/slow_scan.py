"""Run the ``unmask`` CLI with every model load replaced by a slow, transparent probe (used in a subprocess).

The kill-and-resume test needs a scan that is reliably still running when it is killed; a model that sleeps
``SLOW_SCAN_DELAY_S`` per call (default 20 ms) makes that deterministic without a hook in the product code.
"""

from __future__ import annotations

import os
import sys
import time

from unmask.detect.calibration import Calibrator
from unmask.detect.pipeline import Detector, ScanSettings
from unmask.models.base import DetectorModel

DELAY_S = float(os.environ.get("SLOW_SCAN_DELAY_S", "0.02"))


class SlowProbe(DetectorModel):
    """logit = 40 * (window RMS - 0.1), after a pause."""

    name = "slow-probe"
    default_config = {"sample_rate": 16000, "window_s": 1.0}

    def forward(self, wave):
        time.sleep(DELAY_S)
        return 40 * (wave.pow(2).mean(dim=-1).sqrt() - 0.1)


def _load(cls, model="default", **settings):
    settings.pop("device", None)  # a device choice means nothing to a probe on the CPU
    settings.pop("runtime", None)  # nor a runtime (it is a torch module already)
    return cls(SlowProbe(), Calibrator(), name="slow-probe", settings=ScanSettings(**settings))


if __name__ == "__main__":
    Detector.load = classmethod(_load)
    from unmask.cli.main import app

    sys.exit(app(prog_name="unmask"))
