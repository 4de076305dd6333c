# raftkv image, built FROM scratch from a statically linked binary:
#
#   CGO_ENABLED=0 go build -o raftkv ./cmd/raftkv
#   docker build -t raftkv .
#
# The binary is built outside the image because this keeps the image buildable
# where no base image can be pulled.
FROM scratch
COPY raftkv /raftkv
VOLUME /data
EXPOSE 6380 16380
# Healthy while the node answers PING on its RESP port (the port of the
# default command; give --addr to match another --resp-addr).
HEALTHCHECK --interval=2s --timeout=2s --retries=3 CMD ["/raftkv", "health", "--addr", "127.0.0.1:6380", "--timeout", "1s"]
ENTRYPOINT ["/raftkv"]
CMD ["server", "--data-dir", "/data", "--resp-addr", "0.0.0.0:6380", "--peer-addr", "0.0.0.0:16380"]
