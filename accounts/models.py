from django.contrib.auth.models import AbstractUser

REVIEWER_GROUP = "Reviewers"


class User(AbstractUser):
    """A SkinPortal user.

    Roles: every user is a clinician; members of the "Reviewers" group are also reviewers;
    staff users (``is_staff``) are admins and see every patient.
    """

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.is_staff or self.is_superuser)

    @property
    def is_reviewer(self) -> bool:
        return self.is_admin or self.groups.filter(name=REVIEWER_GROUP).exists()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def __str__(self) -> str:
        return self.display_name
