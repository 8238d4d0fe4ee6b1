from django import template

from inference.models import DiagnosisClass

register = template.Library()


@register.filter
def class_name(label: str) -> str:
    """'MEL' → 'Melanoma (MEL)'."""
    try:
        return f"{DiagnosisClass(label).label} ({label})"
    except ValueError:
        return label


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
