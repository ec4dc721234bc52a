"""The console list's rows: selectors.ROW_FIELDS tuples (the API list's one compiled query) as light
objects with the attributes the row template reads from a work order (`code`, `title`,
`wo_type.name`, `customer.name`, `assignee`, `status_label`, `get_priority_display()`, ...), so
the page builds no model instances (a page of 25 built ~200 of them, with their joins compiled per
request). `workorders_rows.list_row` renders a ListRow and a WorkOrder alike (the console's live
updates still pass work orders); a list slot's row template sees a ListRow as `wo` (listing)."""

from closeloop.accounts.models import person_label
from closeloop.workorders.lifecycle import STATE_LABELS
from closeloop.workorders.models import Priority

from .selectors import ROW_FIELDS

_AT = {name: i for i, name in enumerate(ROW_FIELDS)}


class Ref:
    """A referenced row (type, customer, site, asset, team): its id, key and name."""

    __slots__ = ("id", "code", "name")

    def __init__(self, id, code, name):
        self.id, self.code, self.name = id, code, name

    @property
    def pk(self):
        return self.id

    @property
    def key(self):
        return self.code

    def __str__(self):
        return self.name or ""


class Person:
    """The assignee: username and the label User.__str__ gives (display name, full name, username)."""

    __slots__ = ("id", "username", "label")

    def __init__(self, id, username, label):
        self.id, self.username, self.label = id, username, label

    @property
    def pk(self):
        return self.id

    def __str__(self):
        return self.label


class Row:
    """What every light work order row answers as a WorkOrder does: `pk`, `get_priority_display()`."""

    __slots__ = ()

    @property
    def pk(self):
        return self.id

    def get_priority_display(self):
        return dict(Priority.choices).get(self.priority, self.priority)


class ListRow(Row):
    __slots__ = ("id", "code", "title", "status", "priority", "fault_code", "created_at", "updated_at", "version",
                 "wo_type", "customer", "site", "asset", "team", "assignee", "sla_due")

    def __init__(self, row):
        a = _AT
        self.id, self.code, self.title = row[a["id"]], row[a["code"]], row[a["title"]]
        self.status, self.priority, self.fault_code = row[a["status"]], row[a["priority"]], row[a["fault_code"]]
        self.created_at, self.updated_at, self.version = row[a["created_at"]], row[a["updated_at"]], row[a["version"]]
        self.wo_type = Ref(None, row[a["wo_type__key"]], row[a["wo_type__name"]])
        self.customer = (Ref(row[a["customer_id"]], row[a["customer__code"]], row[a["customer__name"]])
                         if row[a["customer_id"]] else None)
        self.site = Ref(row[a["site_id"]], row[a["site__code"]], row[a["site__name"]]) if row[a["site_id"]] else None
        self.asset = (Ref(row[a["asset_id"]], row[a["asset__serial_number"]], row[a["asset__name"]])
                      if row[a["asset_id"]] else None)
        self.team = Ref(row[a["team_id"]], row[a["team__code"]], row[a["team__name"]]) if row[a["team_id"]] else None
        if row[a["assignee_id"]]:
            username = row[a["assignee__username"]]
            self.assignee = Person(row[a["assignee_id"]], username, person_label(
                row[a["assignee__display_name"]], row[a["assignee__first_name"]], row[a["assignee__last_name"]],
                username))
        else:
            self.assignee = None
        self.sla_due = None

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)


def list_rows(rows) -> list[ListRow]:
    return [ListRow(r) for r in rows]
