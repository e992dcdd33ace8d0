"""Engines that run the one scoring path (:class:`unmask.detect.pipeline.Detector`) at scale.

The local engine is the Detector itself, in this process. :mod:`unmask.engine.ray_engine` runs the same
Detector in Ray Data actors on a Ray cluster (``--engine ray``; docs/scale.md). This package sits beside
``unmask.detect`` in the one-way flow: it imports the Detector, and only the CLI and the bench runner
import it.
"""
