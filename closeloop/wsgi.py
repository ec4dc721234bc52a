import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, our apps, URL and template caches) lives as long as
# the process: move it out of the collector's view, and collect young objects less
# often, so a request does not pay for a full collection over the whole app (bench/).
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 20)
