# meshq: a thin wrapper over CMake. The build lives in build/.
#
#   make demo   install missing Debian packages, build, run the demo
#   make test   install missing Debian packages, build, run every test
#
# Variables: BUILD (build directory), CMAKE_FLAGS (extra -D options),
# JOBS (parallel jobs).

BUILD       ?= build
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# Debian packages the build, the tests and the demo need. Installing
# them starts no service (rabbitmq-server's would take port 5672,
# nats-server's 4222): the
# benches start their own servers on private ports.
PACKAGES = cmake pkg-config gcc make libzmq3-dev libczmq-dev libmsgpack-dev \
           libsodium-dev libcriterion-dev iproute2 nftables clang \
           clang-format python3 librabbitmq-dev python3-zmq python3-msgpack \
           scdoc groff-base man-db dpkg-dev file python3-yaml rabbitmq-server \
           libmicrohttpd-dev libunistring-dev python3-pika \
           nats-server libnats-dev amqp-tools python3-amqp python3-kombu \
           ruby-bunny \
           chromium chromium-driver python3-selenium

.PHONY: all deps build test demo clean

all: build

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "meshq: installing Debian packages:$$missing"; \
	    if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	    policy=/usr/sbin/policy-rc.d; own=""; \
	    if [ ! -e $$policy ]; then \
	        printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$policy >/dev/null && \
	        $$SUDO chmod 755 $$policy && own=1; \
	    fi; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	    rc=$$?; \
	    if [ -n "$$own" ]; then $$SUDO rm -f $$policy; fi; \
	    exit $$rc; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	$(BUILD)/examples/demo $(BUILD)/agents/meshq-agent

clean:
	rm -rf $(BUILD)
