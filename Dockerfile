# The frontdoor image: API + UI (`frontdoor serve`) or projection worker (`frontdoor project`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events ./events
COPY projections ./projections
COPY frontdoor ./frontdoor
RUN pip install --no-cache-dir .
# Builds FRONTDOOR_NATS_URL from the generated NATS credentials (docker-compose.yml, docs/OPERATIONS.md).
COPY deploy/entrypoint.sh /usr/local/bin/frontdoor-entrypoint
ENTRYPOINT ["/usr/local/bin/frontdoor-entrypoint"]
ENV FRONTDOOR_DATA_DIR=/data
EXPOSE 8000
CMD ["frontdoor", "serve", "--host", "0.0.0.0", "--port", "8000"]
