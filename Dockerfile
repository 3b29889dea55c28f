# One image for every Vigil service: `vigil run ingest|detect|remediate|api`, `vigil db upgrade`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 vigil
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER vigil
WORKDIR /home/vigil
ENV PYTHONUNBUFFERED=1 VIGIL_LOG_FORMAT=json
ENTRYPOINT ["vigil"]
CMD ["up"]
