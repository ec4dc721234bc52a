"""People: users and their roles, teams, skills, API tokens."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Manager")
    DISPATCHER = "dispatcher", _("Dispatcher")
    ENGINEER = "engineer", _("Engineer")
    FINANCE = "finance", _("Finance")
    CUSTOMER = "customer", _("Customer contact")


STAFF_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.FINANCE}
#: Roles that see every work order (the rest see their own slice; see workorders.selectors).
ALL_SEEING_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.FINANCE}


class Team(models.Model):
    """A team or department. Escalations go to its supervisor, then its backup team."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent department"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    supervisor = models.ForeignKey(
        "accounts.User", verbose_name=_("supervisor"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="supervised_teams",
    )
    backup_team = models.ForeignKey(
        "self", verbose_name=_("backup team"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="backing_up",
    )
    region = models.CharField(_("region"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def person_label(display_name, first_name, last_name, username) -> str:
    """How a user is named everywhere (User.__str__, and rows read without a model instance): the
    display name, else the full name, else the username."""
    return display_name or f"{first_name} {last_name}".strip() or username


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.ENGINEER)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    #: For customer contacts: the organisation whose work orders they see. Nothing else.
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="users",
    )
    home_base = models.CharField(_("home base"), max_length=200, blank=True)
    home_latitude = models.DecimalField(_("home latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    home_longitude = models.DecimalField(_("home longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    #: The username after NFKC and case folding (accounts.usernames.key): "Admin" and "ＡＤＭＩＮ"
    #: are one name to the database. Null only for a look-alike that existed before this rule.
    username_key = models.CharField(max_length=150, unique=True, null=True, editable=False)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return person_label(self.display_name, self.first_name, self.last_name, self.username)

    def save(self, *args, **kwargs):
        from .usernames import key

        new_key = key(self.username)
        if self.username_key != new_key:
            self.username_key = new_key
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "username_key"}
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return str(self)

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def sees_all_work_orders(self) -> bool:
        return self.role in ALL_SEEING_ROLES or self.is_superuser


class SkillTag(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    category = models.CharField(_("category"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EngineerSkill(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="skills")
    tag = models.ForeignKey(SkillTag, on_delete=models.PROTECT, related_name="holders")
    level = models.PositiveSmallIntegerField(_("level"), default=1)  # 1 (basic) .. 5 (expert)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tag"], name="uniq_engineer_skill")]


class Scope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Write")
    ADMIN = "admin", _("Administer")


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the clear text is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
