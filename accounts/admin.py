from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import services
from .forms import ApiTokenAdminAddForm
from .models import ApiToken, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_active", "groups")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created through api_token_create (the token is shown once, in a message) and
    revoked through api_token_revoke; an existing token cannot be edited."""

    list_display = ("name", "user", "token_key", "created", "expiry", "expired")
    list_filter = ("user__is_staff",)
    search_fields = ("name", "user__username", "user__first_name", "user__last_name", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "created"
    fields = ("name", "user", "token_key", "created", "expiry")
    add_form = ApiTokenAdminAddForm
    add_fieldsets = ((None, {"fields": ("user", "name", "lifetime_days")}),)

    @admin.display(boolean=True, ordering="expiry", description="expired")
    def expired(self, obj: ApiToken) -> bool:
        return obj.expiry is not None and obj.expiry <= timezone.now()

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        try:
            token, key = services.api_token_create(
                user=form.cleaned_data["user"],
                name=form.cleaned_data["name"],
                lifetime_days=form.cleaned_data["lifetime_days"],
            )
        except ValidationError as error:  # pragma: no cover - the form validated the same rules
            raise ValidationError(error.messages) from error
        # The admin goes on with obj (its log entry and messages): make it the created row.
        obj.digest, obj.token_key, obj.created, obj.expiry = token.digest, token.token_key, token.created, token.expiry
        obj._state.adding = False
        messages.success(
            request,
            f"The new token for {token.user.username} is {key} — copy it now, it will not be shown again. "
            "Send it as the header “Authorization: Token <token>”.",
        )

    def delete_model(self, request, obj: ApiToken) -> None:
        services.api_token_revoke(token=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for token in queryset:
            services.api_token_revoke(token=token, actor=request.user)
