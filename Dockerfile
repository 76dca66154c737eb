# SignFlow web, worker and beat image (one image, three commands: see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
      libharfbuzz-subset0 fonts-dejavu-core fonts-dancingscript gettext poppler-utils qpdf \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
RUN pip install . && useradd --create-home signflow && mkdir -p /app/var && chown signflow /app/var
USER signflow
RUN DEBUG=1 python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["gunicorn", "signflow.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
