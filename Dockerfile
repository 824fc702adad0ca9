# The portal's image: one image for the web pods (gunicorn), the Celery worker and beat (another command).
# Multi-stage: wheels are built with compilers in the first stage; the runtime holds only the installed
# wheels and the code. No secrets, models or data are baked in: settings come from the environment,
# models from a volume (CANCER_ALPHA_MODELS_DIR), the portal's files from another (CANCER_ALPHA_VAR_DIR).
FROM python:3.11.7-slim-bookworm AS wheels
WORKDIR /build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM python:3.11.7-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CANCER_ALPHA_ENV=production \
    CANCER_ALPHA_BIND=0.0.0.0:8050 \
    CANCER_ALPHA_MODELS_DIR=/app/models \
    CANCER_ALPHA_VAR_DIR=/app/var \
    CANCER_ALPHA_DATA_DIR=/app/var/data \
    CANCER_ALPHA_LOG_FORMAT=json
WORKDIR /app
COPY --from=wheels /wheels /wheels
COPY requirements.txt .
# The PDF reports' Debian packages: weasyprint's pango, harfbuzz subsetter, fontconfig and DejaVu fonts, and the
# chromium kaleido drives to export figures (as the Makefile's pdf-libraries target installs them).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
       fontconfig fonts-dejavu-core chromium \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir --no-index --find-links=/wheels -r requirements.txt \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home cancer-alpha \
    && mkdir -p /app/models /app/var/data \
    && chown cancer-alpha:cancer-alpha /app/models /app/var /app/var/data
COPY engine/ engine/
COPY portal/ portal/
COPY pages/ pages/
COPY components/ components/
COPY notebooks/ notebooks/
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py
USER 10001:10001
EXPOSE 8050
VOLUME ["/app/models", "/app/var"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/api/v1/health', timeout=4)"]
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi:server"]
