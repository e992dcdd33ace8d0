"""unmask: tell real media from deepfakes.

Score convention everywhere: ``fake_probability`` in [0, 1], higher = more likely fake.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unmask")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
