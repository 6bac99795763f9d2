# The kpitree dashboard server. Build from a checkout of the repository:
#   docker build -t kpitree .
# The steps are the ones README.md documents under "Installing": a wheel with the
# front-end assets inside, installed with the locked versions of its dependencies.

FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir "uv>=0.13,<0.14"
WORKDIR /src
COPY . .
RUN uv build --wheel --out-dir dist \
 && uv export --frozen --no-dev --no-emit-project --output-file dist/requirements.txt

FROM python:3.11-slim-bookworm
# Japanese text in PDF reports and charts; pango for the PDF renderer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/dist /tmp/dist
RUN pip install --no-cache-dir -r /tmp/dist/requirements.txt \
 && pip install --no-cache-dir --no-deps /tmp/dist/kpitree-*.whl \
 && rm -rf /tmp/dist
RUN useradd --create-home --uid 10001 kpitree && mkdir /project && chown kpitree /project
USER kpitree
WORKDIR /project
VOLUME ["/project"]
EXPOSE 8000
ENTRYPOINT ["kpitree"]
CMD ["serve", "/project", "--host", "0.0.0.0", "--port", "8000", "--no-open"]
