"""Map raw detector logits to calibrated ``fake_probability``.

Platt scaling (a logistic regression on the logit) is the default: two parameters, fitted on held-out
*sources* so that 0.5 means "as likely fake as real" on data the model was not trained on. Isotonic
regression is offered for large calibration sets; it is monotone but can overfit small ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit


@dataclass
class Calibrator:
    """``fake_probability = sigmoid(scale * logit + bias)`` (Platt) or an isotonic step map."""

    method: str = "platt"
    scale: float = 1.0
    bias: float = 0.0
    isotonic_x: list[float] = field(default_factory=list)
    isotonic_y: list[float] = field(default_factory=list)

    def fit(self, logits: np.ndarray, labels: np.ndarray) -> Calibrator:
        """Fit on logits and 0/1 labels (1 = fake). Returns self."""
        logits = np.asarray(logits, dtype=np.float64).reshape(-1)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(np.unique(labels)) != 2:
            raise ValueError("calibration needs both real and fake examples")
        if self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            # Large C: plain maximum likelihood; the two parameters need no regularisation.
            lr = LogisticRegression(C=1e6).fit(logits[:, None], labels)
            self.scale, self.bias = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(logits, labels)
            self.isotonic_x = [float(v) for v in iso.X_thresholds_]
            self.isotonic_y = [float(v) for v in iso.y_thresholds_]
        else:
            raise ValueError(f"unknown calibration method {self.method!r} (use 'platt' or 'isotonic')")
        return self

    def __call__(self, logits: np.ndarray | float) -> np.ndarray:
        logits = np.asarray(logits, dtype=np.float64)
        if self.method == "isotonic" and self.isotonic_x:
            return np.interp(logits, self.isotonic_x, self.isotonic_y)
        return expit(self.scale * logits + self.bias)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "scale": self.scale,
            "bias": self.bias,
            "isotonic_x": self.isotonic_x,
            "isotonic_y": self.isotonic_y,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(**data)
