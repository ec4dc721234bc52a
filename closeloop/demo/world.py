"""The demo company's plan in memory: hospitals, and each work order as steps (built by
company.py and stories.py, timed and saved by saving.py)."""

from dataclasses import dataclass, field

from closeloop.accounts.models import User
from closeloop.customers.models import Customer
from closeloop.workorders.models import WorkOrder


@dataclass
class Hospital:
    index: int  # position in the full list (stable across scales)
    rank: int  # position within its province
    name: str
    grade: str
    province: tuple
    city: tuple
    customer: Customer | None = None
    sites: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    assets: list = field(default_factory=list)
    user: User | None = None  # the contact with a portal login

    @property
    def team_code(self) -> str:
        return self.province[2]


@dataclass
class Step:
    gap: float  # minutes after the previous step (natural duration, squeezed if needed)
    kind: str
    action: str = ""
    actor: User | None = None
    inp: dict = field(default_factory=dict)  # transition input (as services._clean_action_input returns it)
    body: str = ""  # comment text
    public: bool = False
    ref: tuple | None = None  # (system, id) for an external-ref step


@dataclass
class Plan:
    index: int
    d: int  # days before today (business time zone)
    tod: int  # seconds after midnight
    wo: WorkOrder
    steps: list
    created_refs: list  # [(system, id)]
    created_by: User | None
    #: Share of the time left until now that a squeezed (too recent) timeline may use.
    slack: float = 0.9
