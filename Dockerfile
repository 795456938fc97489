# The Citybrain image: the CLI, the stream workers and the simulator.
FROM python:3.11-slim
WORKDIR /app
# The PDF report embeds a TrueType CJK font (CITYBRAIN_REPORT_FONT; WenQuanYi Micro Hei is
# found without it); CFF fonts such as Noto CJK cannot be embedded.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
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
