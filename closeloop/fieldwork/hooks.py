"""Lifecycle hooks of field work: the close guard, auto-close after the invoice, repeats."""

from django.utils.translation import gettext as _

from closeloop.workorders.lifecycle import S

from . import gates


def auto_close_after_invoice(ctx) -> None:
    """The last step the type needs was taken (the invoice posted; or, for a type without the
    invoice gate, the customer's confirmation; without confirmation either, the technical
    completion): when the type says so and every gate passes, the work order closes in the
    same transaction (the timeline says it was automatic)."""
    from closeloop.workorders.lifecycle import may_close_now
    from closeloop.workorders.services import apply_transition

    wo = ctx.wo
    if wo.status not in (S.RESOLVED, S.CONFIRMED, S.INVOICED):
        return
    policy = gates.policy_for(wo)
    if policy is None or not policy.auto_close or not may_close_now(wo):
        return
    if any(g.required and not g.passed for g in gates.evaluate(wo, policy)):
        return
    apply_transition(actor=ctx.actor, wo=wo, action="close", at=ctx.at,
                     data={"note": _("Closed automatically: every closure gate passed.")})


def register() -> None:
    from closeloop.workorders.lifecycle import register_close_steps, register_effect, register_guard

    from . import repeats

    register_guard(None, gates.close_guard)  # any action whose target is closed
    register_guard("confirm", gates.technical_before_guard)
    register_guard("invoice", gates.technical_before_guard)
    register_close_steps(gates.close_steps)
    from django.db.models.signals import post_delete, post_save

    from .models import ClosurePolicy

    post_save.connect(gates.forget_close_steps, sender=ClosurePolicy, dispatch_uid="fieldwork.close_steps.save")
    post_delete.connect(gates.forget_close_steps, sender=ClosurePolicy, dispatch_uid="fieldwork.close_steps.delete")
    from closeloop.workorders.models import (
        CustomField,  # a required signature field asks for the confirmation
    )

    post_save.connect(gates.forget_close_steps, sender=CustomField, dispatch_uid="fieldwork.close_steps.field_save")
    post_delete.connect(gates.forget_close_steps, sender=CustomField, dispatch_uid="fieldwork.close_steps.field_del")
    for action in ("complete", "confirm", "invoice"):
        register_effect(action, auto_close_after_invoice, phase="follow_up")
    register_effect("create", repeats.link_repeats, phase="record")
