# Minimal image of the engine; the portal's image (gunicorn, non-root user, health check) comes with
# the deployment issue.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CANCER_ALPHA_MODELS_DIR=/app/models CANCER_ALPHA_DATA_DIR=/app/var/data
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY engine/ engine/
RUN useradd --create-home --uid 10001 cancer-alpha && mkdir -p models var/data && chown -R cancer-alpha /app
USER cancer-alpha
CMD ["python", "-m", "engine", "bootstrap"]
