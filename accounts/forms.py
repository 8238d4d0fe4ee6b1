"""Forms only parse and validate input; accounts.services does the writing."""

from __future__ import annotations

from django import forms
from django.conf import settings

from . import selectors
from .models import ApiToken
from .services import DEFAULT_TOKEN_LIFETIME_DAYS, TOKEN_LIFETIMES_DAYS


def lifetime_choices() -> list[tuple[int, str]]:
    """The offered token lifetimes, without those longer than SKINPORTAL_API_TOKEN_MAX_DAYS."""
    return [(days, f"{days} days") for days in TOKEN_LIFETIMES_DAYS if days <= settings.SKINPORTAL_API_TOKEN_MAX_DAYS]


class LifetimeField(forms.TypedChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(
            coerce=int,
            initial=DEFAULT_TOKEN_LIFETIME_DAYS,
            label="Lifetime",
            help_text="The token stops working after this; revoke it earlier if you no longer need it.",
            **kwargs,
        )


class ApiTokenForm(forms.Form):
    """A user creates a token for themselves on the API tokens page."""

    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text='What the token is for, e.g. "EHR integration".',
    )
    lifetime_days = LifetimeField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lifetime_days"].choices = lifetime_choices()


class ApiTokenAdminAddForm(forms.ModelForm):
    """An admin creates a token for any active user (the admin calls api_token_create)."""

    lifetime_days = LifetimeField()

    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = selectors.active_clinicians()
        self.fields["lifetime_days"].choices = lifetime_choices()
