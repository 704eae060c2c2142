# syntax=docker/dockerfile:1
# kbpub as a container image, for CI whose jobs run in containers: the static musl binary (the
# `dist` profile) on Alpine with git, which approvals are verified with.
#
#   docker build -t kbpub .
#   docker run --rm -v "$PWD:/kb" kbpub check       # in a knowledge base's folder
#
# The image's working directory is /kb; its entry point is kbpub, so arguments are the command.

FROM rust:1-alpine AS build
# musl-dev: the C parts (mimalloc, ring) link against musl's static libc.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --profile dist \
    && cp target/dist/kbpub /usr/local/bin/kbpub

FROM alpine:3
# git: approvals and page dates come from the knowledge base's history. A mounted repository
# belongs to another user than the container's: git is told to trust it.
# hadolint ignore=DL3018
RUN apk add --no-cache git ca-certificates \
    && git config --system --add safe.directory '*'
COPY --from=build /usr/local/bin/kbpub /usr/local/bin/kbpub
WORKDIR /kb
ENTRYPOINT ["kbpub"]
CMD ["--help"]
