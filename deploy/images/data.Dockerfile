# The chart's bundled PostgreSQL and Redis (for trials and the in-repo test cluster), from
# Debian's packages, so no image registry is needed. They behave as the official images do for
# what the chart uses: POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD / PGDATA, pg_isready,
# redis-server and redis-cli on PATH, both running as uid 999.
#   docker build -f deploy/images/data.Dockerfile --target postgresql -t ... deploy/images
ARG DEBIAN_IMAGE=scoreboard.local/debian:bookworm

FROM ${DEBIAN_IMAGE} AS postgresql
# The user first, so that the package keeps uid/gid 999 (the chart's runAsUser).
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/* \
      /var/lib/postgresql/15/main /etc/postgresql/15/main \
 && mkdir -p /var/run/postgresql /var/lib/postgresql/data \
 && chown -R 999:999 /var/run/postgresql /var/lib/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER 999:999
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]

FROM ${DEBIAN_IMAGE} AS redis
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid 999 --home-dir /data --shell /usr/sbin/nologin redis \
 && apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/* \
 && mkdir -p /data && chown 999:999 /data
WORKDIR /data
USER 999:999
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
