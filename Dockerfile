# syntax=docker/dockerfile:1
# crossrank: multi-stage build.
#   docker build -t crossrank .
#   docker run -p 8080:8080 -v /srv/models/ms-marco-MiniLM-L-6-v2:/models/default:ro crossrank
# The image holds the binary (cgo), the ONNX Runtime library and the
# standard WASM plugins; the model is mounted (or pulled with
# CROSSRANK_MODEL_PULL). See examples/deploy/README.md.

ARG GO_VERSION=1.26

# --- build: Go with cgo, the ORT library (from the onnxruntime-node npm
# package, pinned by scripts/setup-ort.sh) and the plugins (GOOS=wasip1).
FROM golang:${GO_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN ./scripts/setup-ort.sh \
 && make plugins-std \
 && CGO_ENABLED=1 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/crossrank ./cmd/crossrank \
 && mkdir -p /out/lib /out/plugins /out/models \
 && cp .cache/ort/libonnxruntime.so.1 /out/lib/ \
 && cp plugins/wasm/*.wasm /out/plugins/
# The shape-twin model (random weights, for smoke tests only): docker build --build-arg TWIN=1
ARG TWIN=0
RUN if [ "$TWIN" = 1 ]; then /out/crossrank model twin --out /out/models/twin; fi

# --- runtime: Debian slim, non-root, no toolchain.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/crossrank --create-home crossrank
COPY --from=build /out/crossrank /usr/local/bin/crossrank
COPY --from=build /out/lib/ /usr/local/lib/crossrank/
COPY --from=build /out/plugins/ /usr/local/share/crossrank/plugins/
COPY --from=build --chown=crossrank /out/models/ /models/
ENV CROSSRANK_ADDR=0.0.0.0:8080 \
    CROSSRANK_ORT_LIB=/usr/local/lib/crossrank/libonnxruntime.so.1 \
    CROSSRANK_PLUGIN_DIR=/usr/local/share/crossrank/plugins \
    CROSSRANK_MODEL=/models/default
USER crossrank
WORKDIR /var/lib/crossrank
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/crossrank", "serve"]
