# raftkv image: a static binary (CGO_ENABLED=0) in an otherwise empty image,
# run as an unprivileged user.
#
# From source (needs the golang image):
#
#   docker build --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t raftkv .
#
# From a binary built outside (no image is pulled; the way the tests build it):
#
#   CGO_ENABLED=0 go build -o raftkv ./cmd/raftkv
#   docker build --target prebuilt -t raftkv .
#
# Stages are ordered so that the legacy builder, which builds every stage
# before its target, reaches "prebuilt" without the golang image.

FROM scratch AS empty

# runtime is everything but the binary.
FROM scratch AS runtime
# The data volume starts empty and owned by the user the node runs as, so a
# named volume mounted there is writable without root.
COPY --chown=65532:65532 --from=empty / /data/
USER 65532:65532
VOLUME /data
EXPOSE 6380 16380
# Healthy while the node answers PING on its RESP port (the port of the
# default command; give --addr to match another --resp-addr). With TLS on the
# RESP port, override it in exec form, as the image has no shell: in compose,
# healthcheck: {test: ["CMD", "/raftkv", "health", "--cacert", "/certs/ca.crt", ...]}
HEALTHCHECK --interval=2s --timeout=2s --retries=3 CMD ["/raftkv", "health", "--addr", "127.0.0.1:6380", "--timeout", "1s"]
ENTRYPOINT ["/raftkv"]
CMD ["server", "--data-dir", "/data", "--resp-addr", "0.0.0.0:6380", "--peer-addr", "0.0.0.0:16380"]

FROM runtime AS prebuilt
COPY raftkv /raftkv

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/raftkv ./cmd/raftkv

FROM runtime
COPY --from=build /out/raftkv /raftkv
