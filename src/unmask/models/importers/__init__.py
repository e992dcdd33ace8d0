"""Importers: turn other projects' released detector weights into unmask checkpoints.

Each importer reads the foreign files, builds the matching unmask detector, checks every weight
name and shape, and returns a :class:`unmask.models.checkpoint.Checkpoint` with a model card.
"""

from unmask.models.importers.aasist_official import import_official_aasist

IMPORTERS = {"aasist-official": import_official_aasist}

__all__ = ["IMPORTERS", "import_official_aasist"]
