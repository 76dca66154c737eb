"""Settings for the test suite: the real settings with a test secret and fast hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("SIGNFLOW_VAR_DIR", os.path.join(tempfile.gettempdir(), "signflow-test-var"))


def _isolate_xdist_worker() -> None:
    """Under `pytest -n N` each worker process (gw0, gw1...) gets its own var folder (media,
    keys, mail) and its own Redis database, as pytest-django gives it its own test database.
    Celery workers a test starts inherit the adjusted environment; the marker variable keeps
    them from shifting it twice."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker or os.environ.get("SIGNFLOW_TEST_ISOLATED") == worker:
        return
    index = int(worker.removeprefix("gw") or 0)
    os.environ["SIGNFLOW_VAR_DIR"] = f"{os.environ['SIGNFLOW_VAR_DIR']}-{worker}"
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        base, _, db = redis_url.rpartition("/")
        if not db.isdigit():
            base, db = redis_url.rstrip("/"), "0"
        os.environ["REDIS_URL"] = f"{base}/{(int(db) + 1 + index) % 16}"
    os.environ["SIGNFLOW_TEST_ISOLATED"] = worker


_isolate_xdist_worker()

from signflow.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SIGNFLOW_DEV_OUTBOX = True
# Tests run tasks in-process unless a test starts a real worker (tests/signing/test_worker.py),
# or a process of that test plays a web process facing a broker outage.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("SIGNFLOW_FORCE_BROKER")
# Assertions read English; tests that check French ask for it explicitly.
LANGUAGE_CODE = "en"
