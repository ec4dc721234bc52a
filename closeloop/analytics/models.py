"""Facts and rollups derived from the timeline (closeloop.analytics.facts). Nothing here is
the source of truth: `closeloop analytics_rebuild` recomputes every row from the timeline,
and the worker step `analytics.refresh` keeps them current event by event. The one exception is
DigestSent, the record of the weekly digests sent (analytics.digest)."""

from django.conf import settings
from django.db import models

#: A fact with an SLA target still running (sla_<milestone> = 1): the partial index an_fact_running
#: and refresh._breached_since name exactly this condition.
RUNNING = (models.Q(sla_response=1) | models.Q(sla_arrival=1) | models.Q(sla_resolution=1)
           | models.Q(sla_closure=1))


class WorkOrderFact(models.Model):
    """One work order's measures, as of its last timeline event (`last_event_id`)."""

    work_order = models.OneToOneField("workorders.WorkOrder", primary_key=True, on_delete=models.CASCADE,
                                      related_name="+")
    day = models.DateField()  # creation date in the business time zone: the cohort the figures belong to
    created_at = models.DateTimeField()
    team_id = models.IntegerField(default=0)  # 0: none
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    customer_id = models.IntegerField(default=0)  # 0: none
    site_id = models.IntegerField(default=0)
    asset_id = models.IntegerField(default=0)
    fault_code = models.CharField(max_length=40, blank=True)
    channel = models.CharField(max_length=12)
    status = models.CharField(max_length=20)
    assignee_id = models.IntegerField(default=0)  # 0: none
    #: First response by the SLA's own definition: business seconds of the met response target.
    response_s = models.FloatField(null=True)
    #: First update the customer could see (first public event after creation), wall seconds.
    first_update_s = models.FloatField(null=True)
    #: Per SLA target: 0 none, 1 running in time, 2 met in time, 3 breached.
    sla_response = models.SmallIntegerField(default=0)
    sla_arrival = models.SmallIntegerField(default=0)
    sla_resolution = models.SmallIntegerField(default=0)
    sla_closure = models.SmallIntegerField(default=0)
    handovers = models.SmallIntegerField(default=0)
    reopens = models.SmallIntegerField(default=0)
    resolved = models.BooleanField(default=False)  # reached "technically complete" at least once
    execution_s = models.FloatField(null=True)
    travel_s = models.FloatField(null=True)
    first_time_fix = models.BooleanField(null=True)
    repeat = models.BooleanField(default=False)
    rating = models.SmallIntegerField(null=True)
    completed_at = models.DateTimeField(null=True)  # last time it became technically complete
    invoice_s = models.FloatField(null=True)  # completion -> invoice, wall seconds
    approvals = models.SmallIntegerField(default=0)
    approvals_auto = models.SmallIntegerField(default=0)
    approvals_bypassed = models.SmallIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day", "team_id", "wo_type_id", "priority"], name="an_fact_key"),
            models.Index(fields=["customer_id", "day"], name="an_fact_customer"),
            models.Index(fields=["status"], name="an_fact_status"),
            # the repeat breakdowns: the period's repeats (few), then their keys' totals
            models.Index(fields=["repeat", "day"], name="an_fact_repeat"),
            models.Index(fields=["asset_id", "day"], name="an_fact_asset"),
            models.Index(fields=["fault_code", "day"], name="an_fact_fault"),
            # the worker step's look for SLA targets flagged as breached since (refresh._breached_since):
            # the facts with a running target, not every open one (~200,000 at 1M work orders)
            models.Index(fields=["work_order"], name="an_fact_running", condition=RUNNING),
        ]


class StateInterval(models.Model):
    """One stay of a work order in one state, with who had it then; `ended_at` null while open."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=20)
    team_id = models.IntegerField(default=0)  # 0: none
    assignee_id = models.IntegerField(default=0)  # 0: none
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    customer_id = models.IntegerField(default=0)  # 0: none
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    day = models.DateField()  # of started_at, business time zone

    class Meta:
        constraints = [models.UniqueConstraint(fields=["work_order", "seq"], name="an_interval_seq")]
        indexes = [
            models.Index(fields=["day", "state", "team_id"], name="an_interval_day"),
            # the heat map's open stays: only those still waiting (every closed or cancelled work
            # order keeps one open stay in its final state, most of the table), covering the query
            models.Index(fields=["state", "team_id", "assignee_id", "day", "started_at"], name="an_interval_waiting",
                         condition=models.Q(ended_at__isnull=True) & ~models.Q(state="closed")
                         & ~models.Q(state="cancelled")),
            models.Index(fields=["customer_id", "day"], name="an_interval_customer"),
        ]


class DailyRollup(models.Model):
    """Work orders created on `day` with this team, type and priority (their current ones):
    sums and counts of WorkOrderFact, so a period's figures read a few hundred rows."""

    #: "d": the rows of one day; "M": one month (`day` its first day) and "D": one day, each with
    #: type and priority folded together (wo_type_id 0, priority ""): what a period without those
    #: filters reads (measures.rolled).
    span = models.CharField(max_length=1, default="d", db_default="d")
    day = models.DateField()
    team_id = models.IntegerField(default=0)  # 0: none
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    created = models.IntegerField(default=0)
    open = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    responded = models.IntegerField(default=0)
    response_s = models.FloatField(default=0)
    updated = models.IntegerField(default=0)
    first_update_s = models.FloatField(default=0)
    sla_targets = models.IntegerField(default=0)
    sla_met = models.IntegerField(default=0)
    sla_breached = models.IntegerField(default=0)
    response_targets = models.IntegerField(default=0)
    response_met = models.IntegerField(default=0)
    handovers = models.IntegerField(default=0)
    handover3 = models.IntegerField(default=0)
    executed = models.IntegerField(default=0)
    execution_s = models.FloatField(default=0)
    travelled = models.IntegerField(default=0)
    travel_s = models.FloatField(default=0)
    ftf = models.IntegerField(default=0)
    ftf_base = models.IntegerField(default=0)
    repeats = models.IntegerField(default=0)
    rated = models.IntegerField(default=0)
    rating_sum = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    update15 = models.IntegerField(default=0)  # first update to the customer within 15 minutes
    update30 = models.IntegerField(default=0)  # ... within 30 minutes
    waiting_invoice = models.IntegerField(default=0)
    invoiced = models.IntegerField(default=0)
    invoice_s = models.FloatField(default=0)
    approvals = models.IntegerField(default=0)
    approvals_auto = models.IntegerField(default=0)
    approvals_bypassed = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["span", "day", "team_id", "wo_type_id", "priority"],
                                               name="an_daily_span_key")]


class BreakdownRollup(models.Model):
    """Work orders created on `day` per value of one dimension (channel, type, customer, site,
    assignee; `key` is the value or the id as text), with team, type and priority for the filters."""

    #: "d": the rows of one day; "M": one month (`day` its first day) and "D": one day, each with
    #: type and priority folded together (wo_type_id 0, priority ""): what a period without those
    #: filters reads (measures.rolled).
    span = models.CharField(max_length=1, default="d", db_default="d")
    day = models.DateField()
    dim = models.CharField(max_length=10)
    key = models.CharField(max_length=64)
    team_id = models.IntegerField(default=0)
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    created = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["span", "day", "dim", "key", "team_id", "wo_type_id",
                                                       "priority"], name="an_breakdown_span_key")]
        indexes = [models.Index(fields=["dim", "span", "day"], name="an_breakdown_dim_span_day")]


class StateRollup(models.Model):
    """Closed state intervals started on `day`, per state, team, person, type and priority."""

    #: "d": the rows of one day; "M": one month (`day` its first day) and "D": one day, each with
    #: type and priority folded together (wo_type_id 0, priority ""): what a period without those
    #: filters reads (measures.rolled).
    span = models.CharField(max_length=1, default="d", db_default="d")
    day = models.DateField()
    state = models.CharField(max_length=20)
    team_id = models.IntegerField(default=0)  # 0: none
    assignee_id = models.IntegerField(default=0)  # 0: none
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    count = models.IntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["span", "day", "state", "team_id", "assignee_id", "wo_type_id", "priority"],
            name="an_state_span_key")]


class OpenStayRollup(models.Model):
    """Stays still open (not in a closed or cancelled state) started on `day`, per state, team,
    person, type and priority: how many, and the sum of their start times as epoch seconds, so
    that their age so far summed is `count × now − started_s` (the heat map reads this instead
    of every waiting stay; a year of them is hundreds of thousands at 1M work orders)."""

    #: "d": the rows of one day; "M": one month (`day` its first day) and "D": one day, each with
    #: type and priority folded together (wo_type_id 0, priority ""): what a period without those
    #: filters reads (measures.rolled).
    span = models.CharField(max_length=1, default="d", db_default="d")
    day = models.DateField()
    state = models.CharField(max_length=20)
    team_id = models.IntegerField(default=0)  # 0: none
    assignee_id = models.IntegerField(default=0)  # 0: none
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    count = models.IntegerField(default=0)
    started_s = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["span", "day", "state", "team_id", "assignee_id", "wo_type_id", "priority"],
            name="an_open_span_key")]


class Cursor(models.Model):
    """The worker's place in the timeline (one row, name "timeline") and when it last caught up."""

    name = models.CharField(max_length=20, primary_key=True)
    last_event_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)


class Episode(models.Model):
    """One approval request, one approver step of it, one cross-department handoff or one
    acknowledge-or-escalate chain of a work order, read from its timeline (facts.compute).
    The work order's cohort columns (`day` of creation, current team, type, priority,
    customer) make the same scope as WorkOrderFact."""

    class Kind(models.TextChoices):
        APPROVAL = "approval"
        STEP = "step"
        HANDOFF = "handoff"
        ACK = "ack"

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    #: approval / step: the flow's name; handoff: the receiving team's code; ack: "".
    label = models.CharField(max_length=100, blank=True)
    #: approval / step: the flow version; step: also `level` (1 = first approver step of the request);
    #: ack: escalation steps reached (0 = acknowledged on the first message).
    version = models.IntegerField(default=0)
    level = models.IntegerField(default=0)
    name = models.CharField(max_length=100, blank=True)  # step: its name
    from_team_id = models.IntegerField(default=0)  # handoff: the handing-over team (0: none)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)  # decided / rated / acknowledged; null while open
    #: approval: approved | rejected | cancelled | bypassed | "" (waiting); auto approvals: "auto";
    #: step: approve | reject | bypassed | timer | ""; handoff: rated | ""; ack: acked | "".
    outcome = models.CharField(max_length=12, blank=True)
    score = models.SmallIntegerField(null=True)  # handoff rating 1-5
    day = models.DateField()  # the work order's creation day (the cohort)
    team_id = models.IntegerField(default=0)
    wo_type_id = models.IntegerField()
    priority = models.CharField(max_length=10)
    customer_id = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["work_order", "seq"], name="an_episode_seq")]
        indexes = [models.Index(fields=["kind", "day"], name="an_episode_kind_day")]


class DigestSent(models.Model):
    """The weekly digest went to `user` for ISO week `week` ("2026-W49"). Written in the same
    transaction as the notification request (analytics.digest.send_one); the unique pair is what
    makes two workers, a restarted one or `closeloop send_digest` never send a week twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.CharField(max_length=8)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "week"], name="an_digest_once")]
