from inference.models import DiagnosisClass, RiskLevel
from skinml.classes import CLASS_NAMES, CLASSES
from skinml.risk import RISK_LEVELS


def test_the_database_choices_are_skinmls_classes_and_risk_levels():
    assert tuple(DiagnosisClass.values) == CLASSES
    assert dict(DiagnosisClass.choices) == CLASS_NAMES
    assert tuple(RiskLevel.values) == RISK_LEVELS
