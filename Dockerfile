FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY sinks sinks
COPY streams streams
COPY collectors collectors
COPY sluice sluice
COPY rules rules
RUN pip install --no-cache-dir .
ENTRYPOINT []
