"""Settings of bench_signer.py's server: SignFlow's own, plus the floor view's URL (bench only,
never in the product's URLs)."""

from signflow.settings import *  # noqa: F403

ROOT_URLCONF = "_floor_urls"
