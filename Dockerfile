# syntax=docker/dockerfile:1
#
# One image for every s3thumb command: serve (the default), work, analyze,
# setup. Build and run:
#
#   docker build -t s3thumb .
#   docker run -p 8080:8080 -e AWS_REGION=eu-west-1 -e S3THUMB_STORE=s3://images.example.com s3thumb
#   docker run --rm s3thumb setup --help
#
# Settings come from S3THUMB_<FLAG> environment variables (or flags after the
# command); AWS credentials from the standard chain (task or instance role,
# AWS_* variables).

FROM golang:1.26-bookworm AS build
# libvips' headers, for cgo (bimg).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/s3thumb ./cmd/s3thumb

FROM debian:bookworm-slim
# The libvips runtime (it brings the image format libraries it links) and CA
# certificates for HTTPS to AWS; nothing else: no shell tools, no curl (the
# health check is s3thumb's own probe).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips42 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/s3thumb --create-home --shell /usr/sbin/nologin s3thumb
COPY --from=build /out/s3thumb /usr/local/bin/s3thumb
# glibc's malloc arenas fragment under libvips' threads; two keep RSS flat.
ENV MALLOC_ARENA_MAX=2 \
    S3THUMB_LISTEN=:8080 \
    S3THUMB_LOG_FORMAT=json
WORKDIR /var/lib/s3thumb
# A numeric user, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8080
# Meaningful for serve; other commands serve no HTTP: turn it off for them
# (docker-compose.yml does, for the worker and one-shot services).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["s3thumb", "probe", "--timeout", "4s", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["s3thumb"]
CMD ["serve"]
