# syntax=docker/dockerfile:1.7
# One image for every process: `eco2 serve --domain X`, `eco2 authz`, `eco2 db upgrade`.

ARG PYTHON_VERSION=3.11

# --- build: resolve and install into a relocatable virtualenv ---------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, so code changes reuse the cached layer.
COPY pyproject.toml README.md* ./
RUN mkdir -p src/eco2 && touch src/eco2/__init__.py \
 && pip install . && pip uninstall -y eco2
COPY src ./src
RUN pip install --no-deps . && python -m compileall -q /opt/venv
# Embed the knowledge base once at build time (~20 s) instead of at every pod start.
ENV ECO2_WASTE_INDEX_DIR=/opt/venv/share/eco2/waste-index
RUN python -c "from eco2.knowledge import default_retriever; default_retriever()"

# --- runtime: no compilers, no pip cache, non-root ---------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="eco2" \
      org.opencontainers.image.description="Eco² backend (Litestar modular monolith)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 eco2 \
 && useradd --system --uid 10001 --gid eco2 --home-dir /app --no-create-home --shell /usr/sbin/nologin eco2
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ECO2_MIGRATIONS_DIR=/app/migrations \
    ECO2_WASTE_INDEX_DIR=/opt/venv/share/eco2/waste-index \
    ECO2_DATA_DIR=/tmp/eco2
USER 10001:10001
EXPOSE 8000 9090 50051
# Kubernetes uses its own probes; this serves `docker run` and compose.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('ECO2_HEALTHCHECK_URL', 'http://127.0.0.1:8000/health'), timeout=2)"]
ENTRYPOINT ["eco2"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
