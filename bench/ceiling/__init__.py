"""The ceiling: a bare Django + django-ninja app serving the same kind of work order rows as
closeloop's API (bench/ceiling/run.py measures it with bench/workorders.py's client)."""
