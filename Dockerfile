# Build: a wheel from the source (setup.py compiles locales/*.po into it); the image installs that wheel, not the
# source tree. A leftover build/ or egg-info from the host would leak stale files into the wheel: dropped first.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN rm -rf build ./*.egg-info && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/closer-*.whl && rm -rf /wheels
# The working directory only holds what the defaults write there (the demo's SQLite file); the code is installed.
WORKDIR /app
EXPOSE 8080
CMD ["closer", "run"]
