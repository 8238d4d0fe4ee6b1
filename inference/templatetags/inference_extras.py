from django import template

from inference import selectors
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


@register.filter
def figures_shown_to(prediction, user) -> bool:
    """``{% if prediction|figures_shown_to:user %}``: the prediction's figures may be shown
    (``inference.selectors.result_figures_shown``: succeeded, and not withheld unless the user
    may see withheld results)."""
    return selectors.result_figures_shown(prediction=prediction, user=user)


@register.filter
def reason_messages(prediction) -> str:
    """The quality gate's reasons in plain words, joined: "out of focus; over-exposed"."""
    messages = (reason.get("message", "") for reason in prediction.quality_reasons)
    return "; ".join(messages) or "the image could not be judged"
