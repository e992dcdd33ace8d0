"""Output heads: embedding ``[B, D]`` -> fake logit ``[B]``, and the optional embedding contract.

A detector that can be trained with an embedding loss (OC-softmax) follows a small contract on top of
:class:`~unmask.models.base.DetectorModel`:

- ``embed(wave[B, T]) -> [B, embedding_dim]`` computes everything up to the head;
- ``self.head`` maps that embedding to the logit, so ``forward(wave) == head(embed(wave))``;
- a ``"head"`` config key picks the head: ``"linear"`` (default) or ``"ocsoftmax"``.

:func:`supports_embedding` checks it. The head is part of the model (its centre is a parameter saved in
the checkpoint), so a model trained with OC-softmax scores with the plain ``forward`` like any other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

HEADS = ("linear", "ocsoftmax")


class LinearHead(nn.Sequential):
    """Dropout then one linear unit: ``[B, D] -> [B]``.

    An ``nn.Sequential`` so its state-dict keys (``head.1.weight``, ``head.1.bias``) are those of the
    original LCNN head: checkpoints saved before the head was factored out still load.
    """

    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__(nn.Dropout(dropout), nn.Linear(dim, 1))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return super().forward(embedding).squeeze(-1)


class OCSoftmaxHead(nn.Module):
    """One-class softmax head (Zhang, Jiang & Duan, IEEE SPL 2021): a learned unit centre for real speech.

    ``score(embedding)`` is the cosine similarity to the centre, in [-1, 1], high = real. Training
    (:class:`unmask.train.losses.OCSoftmaxLoss`) pushes real scores above ``m_real`` and fake scores below
    ``m_fake``. ``forward`` turns the score into a logit in the project's convention (> 0 = fake):
    ``alpha * ((m_real + m_fake) / 2 - score)``, zero half-way between the two margins, with the same
    slope ``alpha`` the loss uses. Margins and ``alpha`` are persistent buffers, so the checkpoint keeps
    the mapping the model was trained with.
    """

    def __init__(self, dim: int, m_real: float = 0.9, m_fake: float = 0.2, alpha: float = 20.0) -> None:
        super().__init__()
        self.centre = nn.Parameter(F.normalize(torch.randn(dim), dim=0))
        self.register_buffer("margins", torch.tensor([m_real, m_fake], dtype=torch.float32))
        self.register_buffer("alpha", torch.tensor(float(alpha)))
        self.set_margins(m_real, m_fake, alpha)

    def set_margins(self, m_real: float, m_fake: float, alpha: float) -> None:
        """Set the loss settings the head maps scores with (the trainer calls this from its loss config)."""
        if not -1.0 <= m_fake < m_real <= 1.0:
            raise ValueError(
                f"OC-softmax needs -1 <= m_fake < m_real <= 1, got m_real={m_real}, m_fake={m_fake}"
            )
        if alpha <= 0:
            raise ValueError(f"OC-softmax alpha must be > 0, got {alpha}")
        with torch.no_grad():
            self.margins.copy_(torch.tensor([m_real, m_fake]))
            self.alpha.fill_(float(alpha))

    @property
    def m_real(self) -> float:
        return float(self.margins[0])

    @property
    def m_fake(self) -> float:
        return float(self.margins[1])

    def score(self, embedding: torch.Tensor) -> torch.Tensor:
        """Cosine similarity ``[B]`` between each embedding and the (unit) centre; high = real."""
        return F.normalize(embedding, dim=-1) @ F.normalize(self.centre, dim=0)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        threshold = self.margins.mean()
        return self.alpha * (threshold - self.score(embedding))


def build_head(kind: str, dim: int, dropout: float = 0.0) -> nn.Module:
    """The head named ``kind`` (one of :data:`HEADS`) on a ``dim``-wide embedding."""
    if kind == "linear":
        return LinearHead(dim, dropout)
    if kind == "ocsoftmax":
        return OCSoftmaxHead(dim)
    raise ValueError(f"unknown head {kind!r}; choose one of {', '.join(HEADS)}")


def supports_embedding(model: nn.Module) -> bool:
    """True when ``model`` follows the embedding contract described in this module's docstring."""
    config = getattr(model, "config", {})
    return callable(getattr(model, "embed", None)) and "head" in config and hasattr(model, "head")
