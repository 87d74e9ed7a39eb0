# Image of the hub for docker-compose.yml: the same code serves web (daphne) and workers (qcluster).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HUB_VAR_DIR=/var/lib/hub
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home /var/lib/hub hub && mkdir -p /var/lib/hub /srv/output \
    && chown -R hub /var/lib/hub /srv/output
USER hub
EXPOSE 8080
CMD ["python", "manage.py", "runhub", "--host", "0.0.0.0", "--port", "8080"]
