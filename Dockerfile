# One image for every Sanlun process; docker-compose.yml picks the process by command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml ./
COPY sanlun ./sanlun
COPY services ./services
COPY gateway ./gateway
# A regular (not editable) install: migrations and templates ship as package data.
RUN pip install . && rm -rf /src \
    # uvicorn's --log-config (docker-compose.yml): its own lines as JSON, like the app's
    && mkdir -p /etc/sanlun \
    && python -c "import shutil, sanlun.kernel.logging as l; shutil.copy(l.UVICORN_LOG_CONFIG, '/etc/sanlun/')"

# Run from an empty folder so imports resolve to the installed package only.
RUN useradd --system --uid 10001 --home-dir /srv/sanlun --create-home sanlun
WORKDIR /srv/sanlun
USER sanlun

EXPOSE 8000 8001 8002 8003 8004
CMD ["sanlun", "--help"]
