from django.apps import AppConfig


class RosterConfig(AppConfig):
    name = "closeloop.roster"
    label = "roster"
    verbose_name = "Roster"
