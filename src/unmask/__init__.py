"""unmask: tell real media from deepfakes.

Score convention everywhere: ``fake_probability`` in [0, 1], higher = more likely fake.

    from unmask import Detector
    result = Detector.load("default").scan("clip.mp3")
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("unmask")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["Detector", "ScanResult", "Thresholds", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `import unmask` stays cheap (no torch) for the CLI's light commands.
    if name == "Detector":
        from unmask.detect.pipeline import Detector

        return Detector
    if name in ("ScanResult", "Thresholds"):
        from unmask.detect import result

        return getattr(result, name)
    raise AttributeError(f"module 'unmask' has no attribute {name!r}")
