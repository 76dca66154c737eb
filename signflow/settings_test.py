"""Settings for the test suite: the real settings with a test secret and fast hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("SIGNFLOW_VAR_DIR", os.path.join(tempfile.gettempdir(), "signflow-test-var"))

from signflow.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SIGNFLOW_DEV_OUTBOX = True
# Tests run tasks in-process unless a test starts a real worker (tests/signing/test_worker.py),
# or a process of that test plays a web process facing a broker outage.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("SIGNFLOW_FORCE_BROKER")
# Assertions read English; tests that check French ask for it explicitly.
LANGUAGE_CODE = "en"
