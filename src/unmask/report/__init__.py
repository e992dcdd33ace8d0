"""Presenting scan results: machine formats (JSON, JSON Lines, CSV) and a self-contained HTML report."""

from unmask.report.scan_html import Envelope, render_scan_report, waveform_envelope, write_scan_report
from unmask.report.writers import (
    CSV_COLUMNS,
    MACHINE_FORMATS,
    ResultWriter,
    atomic_text_file,
    results_to_json,
    write_results,
)

__all__ = [
    "CSV_COLUMNS",
    "MACHINE_FORMATS",
    "Envelope",
    "ResultWriter",
    "atomic_text_file",
    "render_scan_report",
    "results_to_json",
    "waveform_envelope",
    "write_results",
    "write_scan_report",
]
