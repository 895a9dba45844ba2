# Multi-stage build of the three DataAPI programs on Debian bookworm.
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake ninja-build pkg-config \
      librdkafka-dev libmongoc-dev libbson-dev libmicrohttpd-dev libjansson-dev libssl-dev \
      libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY common common
COPY ingest ingest
COPY query query
COPY bench bench
COPY tests tests
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
 && cmake --build /build

# Runtime: the shared libraries only, a non-root user, no compilers.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka1 libmongoc-1.0-0 libbson-1.0-0 \
      libmicrohttpd12 libjansson4 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home dataapi
COPY --from=build /build/ingest/dataapi-ingress /build/ingest/dataapi-ingestd \
     /build/query/dataapi-query /usr/local/bin/
USER 10001
# In a container the services listen on every interface of the container's own network.
ENV BIND_ADDR=0.0.0.0
CMD ["dataapi-ingress", "--help"]
