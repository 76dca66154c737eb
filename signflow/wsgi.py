import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")
application = get_wsgi_application()

from signflow import pdfguard  # noqa: E402  (needs the settings above)

# Each web process starts its PDF parsing fork server now, in the background, so the first
# upload does not wait for it to import Django and pdfium (signflow.pdfguard).
pdfguard.prestart()
