# fieldgw: `make demo` and `make test` each install what they need on a fresh
# Debian machine (apt packages, then Python peers in .build/venv), then run.

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
VENV := .build/venv
PYTHON := $(abspath $(VENV))/bin/python
# libudev-dev and pkg-config build Discovery; umockdev, python3-gi, gir1.2-umockdev-1.0
# and udev (udevadm) fake and test USB adapters that are not there; libmodbus-dev
# builds the benchmark's libmodbus server; prometheus (and its promtool)
# scrapes and checks the gateway's /metrics; mosquitto is the broker the MQTT tests
# publish through (mosquitto-clients: mosquitto_pub, the benchmark's C peer);
# tzdata, zlib1g-dev, libbz2-dev and liblzma-dev build and run the historian
# (xz-utils and bzip2 compress the cpppo files its tests read). dpkg-dev, binutils,
# lintian, man-db, systemd and adduser build, check and install the Debian
# package; iproute2 and util-linux give each docs example a network of its own;
# cmake and g++ build EIPScanner, the I/O tests' originator.
APT_PACKAGES := dpkg-dev binutils lintian man-db systemd adduser iproute2 util-linux cmake g++ python3 tzdata zlib1g-dev libbz2-dev liblzma-dev xz-utils bzip2 python3-venv graphviz libudev-dev pkg-config umockdev python3-gi gir1.2-umockdev-1.0 udev socat mbpoll tshark libmodbus-dev prometheus chromium chromium-driver curl wget ser2net mosquitto mosquitto-clients
PY_PACKAGES := greenery==4.2.3 eds-pie==1.2.0 pymodbus==3.16.1 pyserial==3.5 minimalmodbus==2.1.1 paho-mqtt==2.1.0 pycomm3==1.2.16 pylogix==1.1.6 prometheus-client==0.21.1 selenium==4.27.1
# cpppo pins greenery 2.x, which our regex tests cannot share: a venv of its own
# (web.py: the framework of cpppo's --web, which the web API tests compare with).
CPPPO_VENV := .build/venv-cpppo
CPPPO_PACKAGES := cpppo==5.2.5 web.py==0.76
# cpppo's modbus_sim and its plc_modbus poller need pymodbus 3.8 (which our
# Modbus tests' pymodbus cannot share): cpppo again, in a venv of its own.
CPPPO_MODBUS_VENV := .build/venv-cpppo-modbus
CPPPO_MODBUS_PACKAGES := cpppo==5.2.5 pymodbus==3.8.1 pyserial==3.5
# pysparkplug (the Sparkplug host of the tests) pins paho-mqtt 1.x: a venv of its own.
SPARKPLUG_VENV := .build/venv-sparkplug
SPARKPLUG_PACKAGES := pysparkplug==0.6.1
DEMO_DIR := .build/demo

.PHONY: demo test cpppo-readme deb deb-test doc-examples docs bench bench-memory soak fuzz fuzz-build apt-deps py-deps sparkplug-proto

apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

py-deps: apt-deps $(VENV)/.installed

$(VENV)/.installed: Makefile
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check $(PY_PACKAGES)
	python3 -m venv $(CPPPO_VENV)
	$(CPPPO_VENV)/bin/python -m pip install -q --disable-pip-version-check $(CPPPO_PACKAGES)
	python3 -m venv $(CPPPO_MODBUS_VENV)
	$(CPPPO_MODBUS_VENV)/bin/python -m pip install -q --disable-pip-version-check $(CPPPO_MODBUS_PACKAGES)
	python3 -m venv $(SPARKPLUG_VENV)
	$(SPARKPLUG_VENV)/bin/python -m pip install -q --disable-pip-version-check $(SPARKPLUG_PACKAGES)
	touch $@

PEER_DIR := .build/peers
# How many tests run at once in a test process. The suites run on threads of
# their own (Tests/TestSupport/OwnThreads.swift), so this, not the cooperative
# pool's one thread per core, is the bound; more starts more peers at once
# than two cores serve within the tests' timeouts.
# The gateway suites time lines, slaves and faults inside the test process:
# at 8, one run in six here missed a timing; at 4, none in five.
TEST_WIDTH ?= 8
GATEWAY_TEST_WIDTH ?= 4
TEST_ENV := FIELDGW_PYTHON=$(PYTHON) SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH)
GATEWAY_TEST_ENV := FIELDGW_PYTHON=$(PYTHON) SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(GATEWAY_TEST_WIDTH)

test: py-deps $(PEER_DIR)/libmodbus_server $(PEER_DIR)/ab_server $(PEER_DIR)/eip_originator
	@# One build; the runs skip theirs (swift test builds some packages with
	@# other flags than swift build --build-tests and rebuilt them: 51 s in CI).
	$(SWIFT) build --build-tests
	@# Three runs, one after the other: the suites that run gateways in the
	@# test process (and time what they serve or publish) are starved of
	@# threads for seconds when every suite runs at once on a small machine.
	$(TEST_ENV) $(SWIFT) test --disable-xctest --skip-build --skip '^(GatewayTests|WebTests|SparkplugTests)\.'
	$(GATEWAY_TEST_ENV) $(SWIFT) test --disable-xctest --skip-build --filter '^(GatewayTests|WebTests)\.'
	$(TEST_ENV) $(SWIFT) test --disable-xctest --skip-build --filter '^SparkplugTests\.'
	$(PYTHON) Tests/DocExamples/run_examples.py
	$(PYTHON) Tests/Cpppo/readme_examples.py
	Fuzz/replay
	$(MAKE) docs
	$(MAKE) deb-test DEB_BUILD=debug

# The docs' runnable examples ("```sh run" blocks), each in a network of its own.
doc-examples: py-deps
	$(SWIFT) build
	$(PYTHON) Tests/DocExamples/run_examples.py

# Every command line of cpppo's README, run against cpppo 5.2.5 and fieldgw in
# every pairing (Tests/Cpppo/readme_examples.py says how they are compared).
cpppo-readme: py-deps
	$(SWIFT) build
	$(PYTHON) Tests/Cpppo/readme_examples.py

# The Debian package, .build/deb/fieldgw_VERSION_ARCH.deb: the release binary
# with the Swift runtime linked in, unit, udev rules, conffile, man page and
# completions (packaging/build-deb). FIELDGW_VERSION=1.2.3 names the version;
# DEB_BUILD=debug packages the debug build instead (make test does: the
# release build alone takes 13 minutes on a two-core machine).
DEB_BUILD ?= release

deb: apt-deps
	SWIFT=$(SWIFT) FIELDGW_DEB_BUILD=$(DEB_BUILD) packaging/build-deb

# The package as a user gets it: lintian, dpkg -i on this machine, its files,
# user and unit, --version and --check, then dpkg -r and -P (packaging/test-deb).
deb-test: deb
	packaging/test-deb .build/deb/fieldgw_*.deb

# DocC for the library modules, in .build/docs/MODULE.doccarchive; a symbol
# link that does not resolve fails the build.
DOCC_MODULES := Automata Serial Discovery Modbus EtherNetIP Gateway

docs:
	@mkdir -p .build/docs
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation \
		$(addprefix --target ,$(DOCC_MODULES)) --warnings-as-errors --output-path .build/docs

# The libmodbus server of the benchmarks, also a remote device in the tcp line tests.
$(PEER_DIR)/libmodbus_server: Benchmarks/ModbusPeers/libmodbus_server.c | apt-deps
	@mkdir -p $(PEER_DIR)
	cc -O2 -Wall $$(pkg-config --cflags libmodbus) -o $@ $< $$(pkg-config --libs libmodbus)

# libplctag's Logix simulator, from the source beside the repository (../shared/peers,
# where CI has it; /work/shared/peers for a clone made elsewhere on this machine):
# a peer of the EtherNet/IP client's tests and the tag server's benchmark.
AB_SERVER_SRC := $(firstword $(wildcard ../shared/peers/ab_server/src /work/shared/peers/ab_server/src))

$(PEER_DIR)/ab_server: | apt-deps
	@test -n "$(AB_SERVER_SRC)" || { echo "ab_server's source is not in ../shared/peers/ab_server/src"; exit 1; }
	@mkdir -p $(PEER_DIR)
	cc -O2 -w -o $@ $(AB_SERVER_SRC)/*.c -lpthread

# EIPScanner (C++, from ../shared/peers as ab_server is), and on it the Class 1
# originator the I/O tests drive (Tests/Peers/eip_originator.cpp).
EIPSCANNER_SRC := $(firstword $(wildcard ../shared/peers/EIPScanner /work/shared/peers/EIPScanner))

$(PEER_DIR)/eip_originator: Tests/Peers/eip_originator.cpp | apt-deps
	@test -n "$(EIPSCANNER_SRC)" || { echo "EIPScanner's source is not in ../shared/peers/EIPScanner"; exit 1; }
	@mkdir -p $(PEER_DIR)
	cmake -S $(EIPSCANNER_SRC) -B $(PEER_DIR)/eipscanner >/dev/null
	cmake --build $(PEER_DIR)/eipscanner -j2 --target EIPScannerS >/dev/null
	g++ -std=c++20 -O1 -w -I $(EIPSCANNER_SRC)/src -o $@ $< $(PEER_DIR)/eipscanner/src/libEIPScannerS.a -lpthread

# libFuzzer with AddressSanitizer, in a build of its own. The combined
# -sanitize=fuzzer,address is given to swiftc because SwiftPM hands the Swift
# frontend only one of several --sanitize values (which one varies from run
# to run); --sanitize fuzzer is kept so that SwiftPM links libFuzzer's main.
FUZZ_BUILD := .build/fuzz
FUZZ_SECONDS ?= 120

fuzz-build: apt-deps
	$(SWIFT) build --build-path $(FUZZ_BUILD) --product fieldgw-fuzz --sanitize fuzzer \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address

# Every target for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=600 TARGETS="mbap-server enip-server").
fuzz: fuzz-build
	Fuzz/run $(FUZZ_SECONDS) $(TARGETS)

demo: apt-deps
	$(SWIFT) build -c release --product fieldgw
	@mkdir -p $(DEMO_DIR)
	@echo "== cpppo README, section 4: 'abbb,ab' through ab+ (greedy, then first accept)"
	.build/release/fieldgw regex 'ab+' 'abbb,ab'
	@echo "== cpppo README, section 4.3: the CSV-like machine"
	.build/release/fieldgw regex '(ab+)((, *)(ab+))*' 'abbb,ab' 'ab, abbb,  ab' 'ab,' 'x ab,ab'
	@echo "== a Modbus/RTU reply (unit 1, read holding registers, 2 registers) in noise, as bytes"
	.build/release/fieldgw regex --bytes '\x01\x03\x04.{4}..' '\xff\x00\x01\x03\x04\x00\x2a\x00\x07\x9b\x1d\x55'
	.build/release/fieldgw regex --dot '(ab+)((, *)(ab+))*' > $(DEMO_DIR)/csv.dot
	dot -Tsvg $(DEMO_DIR)/csv.dot -o $(DEMO_DIR)/csv.svg
	dot -Tpng $(DEMO_DIR)/csv.dot -o $(DEMO_DIR)/csv.png
	@echo "== the machine above, drawn: $(DEMO_DIR)/csv.svg and $(DEMO_DIR)/csv.png"
	@echo "== serial adapters on this machine"
	.build/release/fieldgw discover
	@echo "== serial adapters as umockdev fakes them (the discovery tests' devices)"
	umockdev-run -d Tests/DiscoveryTests/Fixtures/adapters.umockdev -- .build/release/fieldgw discover
	@echo "== the gateway on a simulated RS485 line with three slaves (Ctrl-C stops it)"
	.build/release/fieldgw demo

BENCH_DIR := .build/bench

bench: py-deps $(PEER_DIR)/ab_server
	$(SWIFT) build -c release --product automata-bench
	$(SWIFT) build -c release --product modbus-bench
	$(SWIFT) build -c release --product mqtt-bench
	$(SWIFT) build -c release --product history-bench
	$(SWIFT) build -c release --product fieldgw
	@mkdir -p $(BENCH_DIR)
	cc -O2 -Wall -o $(BENCH_DIR)/modbus_load Benchmarks/ModbusPeers/modbus_load.c
	cc -O2 -Wall -o $(BENCH_DIR)/enip_load Benchmarks/ENIPPeers/enip_load.c
	cc -O2 -Wall $$(pkg-config --cflags libmodbus) -o $(BENCH_DIR)/libmodbus_server \
		Benchmarks/ModbusPeers/libmodbus_server.c $$(pkg-config --libs libmodbus)
	@# Every benchmark runs, whatever the one before it found; the missed floors are listed at the end, and fail the target.
	$(PYTHON) Benchmarks/run_all.py \
		"automata: $(PYTHON) Benchmarks/automata_bench.py .build/release/automata-bench" \
		"modbus: $(PYTHON) Benchmarks/modbus_bench.py .build/release $(BENCH_DIR)" \
		"capacity: $(PYTHON) Benchmarks/capacity_bench.py .build/release $(BENCH_DIR)" \
		"enip: $(PYTHON) Benchmarks/enip_bench.py .build/release $(abspath $(CPPPO_VENV))/bin/python $(BENCH_DIR) $(PEER_DIR)/ab_server" \
		"dashboard: $(PYTHON) Benchmarks/dashboard_bench.py .build/release" \
		"mqtt: $(PYTHON) Benchmarks/mqtt_bench.py .build/release" \
		"sparkplug: $(PYTHON) Benchmarks/sparkplug_latency.py .build/release" \
		"history: $(PYTHON) Benchmarks/history_bench.py" \
		"webapi: $(PYTHON) Benchmarks/webapi_bench.py .build/release" \
		"io: $(PYTHON) Benchmarks/io_bench.py .build/release $(if $(OPENER),--opener $(OPENER))"

# The capacity benchmark's 8 lines for BENCH_MEMORY_SECONDS (ten minutes): the
# gateway's resident memory at the start and the end, and its growth.
BENCH_MEMORY_SECONDS ?= 600

bench-memory: py-deps
	$(SWIFT) build -c release --product modbus-bench
	$(SWIFT) build -c release --product fieldgw
	@mkdir -p $(BENCH_DIR)
	cc -O2 -Wall -o $(BENCH_DIR)/modbus_load Benchmarks/ModbusPeers/modbus_load.c
	$(PYTHON) Benchmarks/capacity_bench.py .build/release $(BENCH_DIR) --soak $(BENCH_MEMORY_SECONDS)

# Sources/Sparkplug/sparkplug_b.pb.swift is generated from Eclipse Tahu's
# sparkplug_b.proto beside it, and committed (the plugin's first build takes
# about ten minutes): `make sparkplug-proto` makes it again, with Debian's
# protoc and swift-protobuf's plugin at the version Package.swift uses.
PROTOC_GEN_SWIFT := .build/swift-protobuf/.build/release/protoc-gen-swift

$(PROTOC_GEN_SWIFT):
	rm -rf .build/swift-protobuf
	git clone -q --depth 1 --branch 1.39.0 https://github.com/apple/swift-protobuf .build/swift-protobuf
	cd .build/swift-protobuf && $(SWIFT) build -c release --product protoc-gen-swift

sparkplug-proto: $(PROTOC_GEN_SWIFT)
	$(MAKE) apt-deps APT_PACKAGES=protobuf-compiler
	protoc --plugin=protoc-gen-swift=$(PROTOC_GEN_SWIFT) --swift_opt=Visibility=Public \
		--proto_path=Sources/Sparkplug --swift_out=Sources/Sparkplug Sources/Sparkplug/sparkplug_b.proto

# The gateway under mixed load for SOAK_SECONDS: memory, descriptors and
# latency at the start and the end. Not part of `make test`.
SOAK_SECONDS ?= 600

soak: py-deps
	$(SWIFT) build -c release --product fieldgw
	$(PYTHON) Benchmarks/soak.py .build/release $(SOAK_SECONDS)
