"""A made-up evidence model for answering tests: what the answerer does with scores, apart
from what the shipped model learned.

logit = 10 * (0.6 * cosine + 0.4 * lexical coverage) - 4.5, confidence = sigmoid(logit):
a sentence scoring 0.45 on that blend has confidence 0.5.
"""

from __future__ import annotations

import math

from qa.answering.evidence import EvidenceModel


def simple_model(threshold: float = 0.5) -> EvidenceModel:
    return EvidenceModel.from_dict(
        {
            "features": ["cos", "lexical"],
            "mean": [0.0, 0.0],
            "scale": [1.0, 1.0],
            "coef": [6.0, 4.0],
            "intercept": -4.5,
            "calibration": [1.0, 0.0],
            "threshold": threshold,
        }
    )


def confidence_of(blend: float) -> float:
    """The confidence the simple model gives a sentence scoring ``blend``."""
    return 1 / (1 + math.exp(-(10 * blend - 4.5)))
