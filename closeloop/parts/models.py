"""Parts and stock: the catalogue, stock locations (warehouses and each engineer's van),
stock levels per part × location, the append-only movement ledger, reservations for work
orders and reorder points.

Stock is never negative: every decrease is one conditional UPDATE
(`quantity = quantity - x WHERE quantity >= x`, services._take) and a check constraint
backs it up. Movements are never edited or deleted; a correction is an adjustment.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

QTY = {"max_digits": 12, "decimal_places": 2}


class Part(models.Model):
    number = models.CharField(_("part number"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    unit = models.CharField(_("unit"), max_length=20, default="pcs", blank=True)
    vendor = models.CharField(_("vendor"), max_length=200, blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, default=0)
    #: Asset models this part fits (customers.Asset.model values), e.g. ["OTIS-GEN2", "V60"].
    asset_models = models.JSONField(_("compatible models"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class LocationKind(models.TextChoices):
    CENTRAL = "central", _("Central warehouse")
    REGIONAL = "regional", _("Regional warehouse")
    VAN = "van", _("Engineer's van")


class Location(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=LocationKind.choices)
    #: A van's engineer (one van per engineer).
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="van", verbose_name=_("engineer"))
    #: The regional warehouse a van restocks from ("nearby" for the missing-part warning).
    region = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="vans",
                               verbose_name=_("regional warehouse"), limit_choices_to={"kind": "regional"})
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


class Stock(models.Model):
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="stock")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock")
    quantity = models.DecimalField(_("quantity"), default=0, **QTY)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["part__number"]
        constraints = [
            models.UniqueConstraint(fields=["part", "location"], name="parts_stock_uniq"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="parts_stock_not_negative"),
        ]


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    TRANSFER = "transfer", _("Transfer")
    ISSUE = "issue", _("Issue to a work order")
    RETURN = "return", _("Return")
    ADJUSTMENT = "adjustment", _("Adjustment")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("stock movements are append-only")

    def delete(self):
        raise TypeError("stock movements are append-only")


class Movement(models.Model):
    """One line of the ledger. `source` loses `quantity`, `target` gains it (a receipt has
    no source, an issue no target; an adjustment has one of them)."""

    kind = models.CharField(_("kind"), max_length=12, choices=MovementKind.choices)
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="movements")
    quantity = models.DecimalField(_("quantity"), **QTY)
    source = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("from"))
    target = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("to"))
    work_order = models.ForeignKey("workorders.WorkOrder", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="part_movements")
    #: The idempotency key (the phone's operation id for an issue): one movement per key.
    key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["part", "at"], name="parts_mv_part_at")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("stock movements are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("stock movements are append-only")


class ReservationStatus(models.TextChoices):
    OPEN = "open", _("Reserved")
    USED = "used", _("Used")
    RELEASED = "released", _("Released")


class Reservation(models.Model):
    """Parts a planned or dispatched work order needs (one row per part)."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="part_reservations")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.DecimalField(_("quantity"), **QTY)
    #: Where it is held, when chosen (else: the assignee's van or nearby when dispatched).
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.OPEN)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["work_order", "part"], name="parts_reservation_uniq")]


class ReorderPoint(models.Model):
    """Below `minimum` at `location`, order up to `target` (purchasing consolidates these)."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="reorder_points")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="reorder_points")
    minimum = models.DecimalField(_("minimum"), **QTY)
    target = models.DecimalField(_("order up to"), **QTY)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["part__number"]
        constraints = [models.UniqueConstraint(fields=["part", "location"], name="parts_reorder_uniq")]
