import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone


def validate_not_in_future(value: datetime.date) -> None:
    if value > timezone.localdate():
        raise ValidationError("This date cannot be in the future.", code="future_date")
