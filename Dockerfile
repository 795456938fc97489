# The Citybrain image: the CLI, the stream workers and the simulator.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY citybrain ./citybrain
COPY schemas ./schemas
COPY streams ./streams
COPY alerts ./alerts
COPY dashboards ./dashboards
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["citybrain"]
CMD ["worker"]
