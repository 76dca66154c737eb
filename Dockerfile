# SignFlow web, worker and beat image (one image, several commands: see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
      libharfbuzz-subset0 fonts-dejavu-core fonts-dancingscript gettext poppler-utils qpdf \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The pinned, hashed versions of requirements.lock (`make lock`), in their own layer so that a
# code change does not reinstall them; then SignFlow itself without resolving anything again.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY . .
# Every folder a volume is mounted on exists in the image, owned by the runtime user: Docker
# copies that owner into a new named volume (otherwise root would own it and uploads, the
# sealing keys, the metrics files and beat's schedule could not be written).
RUN pip install --no-deps -e . && useradd --create-home signflow \
 && mkdir -p /app/var /data/media /data/keys /data/metrics /data/beat \
 && chown signflow:signflow /app/var /data /data/media /data/keys /data/metrics /data/beat \
 && chmod 0700 /data/keys \
 && chmod 0755 /app/scripts/docker-entrypoint.sh
USER signflow
RUN DEBUG=1 python manage.py collectstatic --noinput

EXPOSE 8000
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["gunicorn", "signflow.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
