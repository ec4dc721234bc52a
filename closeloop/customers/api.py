"""Customers, sites, contacts and assets: the CRUD an integrator needs."""

from ninja import Router

router = Router(tags=["customers"])
