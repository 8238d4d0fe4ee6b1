"""Stand-ins for ``skinml.quality``, ``skinml.ood`` and ``skinml.gate`` (issue 14, being written
on the skinml side) with their fixed interface, installed by ``tests/conftest.py`` ONLY while the
real modules are missing from this branch. The gate passes every image ("ok"); tests that need
another verdict replace ``skinml.gate.assess`` with monkeypatch, which works on the real module
as well. Delete this file (and its hook in conftest) once skinml's modules are merged."""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    advice: str


@dataclass(frozen=True)
class QualityVerdict:
    status: str
    findings: tuple[Finding, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "reasons": [
                {"code": f.code, "severity": f.severity, "message": f.message, "advice": f.advice}
                for f in self.findings
            ],
            "scores": dict(self.scores),
        }


class OODStatistics:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def load(cls, path) -> OODStatistics:
        return cls(Path(path))


def assess(*, rgb, logits=None, features=None, statistics=None, temperature: float = 1.0) -> QualityVerdict:
    return QualityVerdict(status="ok", findings=(), scores={"fake": 1.0})


def install_if_missing() -> bool:
    """Put the stand-ins in ``sys.modules`` when skinml has no gate yet; True if it did."""
    if importlib.util.find_spec("skinml.gate") is not None:
        return False
    import skinml

    quality = types.ModuleType("skinml.quality")
    quality.Finding, quality.QualityVerdict = Finding, QualityVerdict
    ood = types.ModuleType("skinml.ood")
    ood.OODStatistics = OODStatistics
    gate = types.ModuleType("skinml.gate")
    gate.assess = assess
    for name, module in (("quality", quality), ("ood", ood), ("gate", gate)):
        sys.modules[f"skinml.{name}"] = module
        setattr(skinml, name, module)
    return True
