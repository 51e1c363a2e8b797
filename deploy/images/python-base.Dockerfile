# A python:3.11-slim-bookworm stand-in made from Debian's own packages, for machines that
# cannot pull from an image registry. scripts/build-images.sh builds it FROM the Debian base it
# makes with debootstrap, then passes it to the root Dockerfile as PYTHON_IMAGE.
ARG DEBIAN_IMAGE=scoreboard.local/debian:bookworm
FROM ${DEBIAN_IMAGE}
# python3-venv gives `python3 -m venv` (the build stages install uv with it); ca-certificates
# is Debian's bundle, for outbound TLS (OIDC discovery, webhooks).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/* \
 && python3 --version
ENV LANG=C.UTF-8
CMD ["python3"]
