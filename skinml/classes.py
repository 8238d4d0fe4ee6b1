"""The classifier's classes, in the model's output order. The Django choices are made from these."""

from __future__ import annotations

CLASSES = ("BCC", "MEL", "NV")
MALIGNANT_CLASSES = ("BCC", "MEL")
CLASS_NAMES = {"BCC": "Basal cell carcinoma", "MEL": "Melanoma", "NV": "Nevus"}
