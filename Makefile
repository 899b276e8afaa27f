# The README's two commands, thin over CMake and deploy/dev/.
#   make run    build, start a throwaway PostgreSQL, migrate, seed, serve
#   make test   build, start a throwaway PostgreSQL, run every suite
#   make bench  intake throughput next to pgbench, same machine, same run
#   make soak   faults under load (tests/soak/): the table, and JSON in the build folder
#   make install    the binary, units, sysusers/tmpfiles, example env
#                   (PREFIX=/usr/local, DESTDIR= for a staging root)
#   make package    a .deb in the build folder (Depends from dpkg-shlibdeps)
#   make deploy-check   the image (podman), the units and the .deb (systemd-nspawn), really run
#   make settings-docs  config/effectd.env.example and the README's settings table
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (60) (clang, ASan, UBSan)
# SANITIZE=address (ASan + UBSan) or thread: a debug-info build of its own.
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build/release
BUILD_TYPE ?= Release
else
BUILD ?= build/$(SANITIZE)
BUILD_TYPE ?= RelWithDebInfo
endif
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

.PHONY: all run test bench soak deps build npm format tidy clean install package deploy-check settings-docs fuzz

all: build

deps:
	@deploy/dev/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DEFFECTD_SANITIZE=$(SANITIZE) \
	  -DEFFECTD_BUILD_TESTS=ON -DEFFECTD_BUILD_BENCH=$(if $(SANITIZE),OFF,ON) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

npm: deps
	@deploy/dev/npm-install.sh

run: build
	@deploy/dev/run.sh $(BUILD)

test: build npm
	@deploy/dev/test.sh $(BUILD)

bench: build
	@deploy/dev/bench.sh $(BUILD)

soak: build npm
	@deploy/dev/soak.sh $(BUILD)

PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)
	@echo "next: systemd-sysusers effectd.conf && systemd-tmpfiles --create effectd.conf"
	@[ "$(PREFIX)" = /usr ] || echo "the units run /usr/bin/effectd: with PREFIX=$(PREFIX), set ExecStart (systemctl edit effectd)"

package: build
	@cd $(BUILD) && cpack -G DEB

# Builds first (nothing to do after make test), then packages what $(BUILD) holds.
deploy-check: build
	@deploy/dev/deploy-check.sh $(BUILD) $(BUILD)/deploy-check

settings-docs: build
	@deploy/dev/settings-docs.sh $(BUILD)/effectd

fuzz: deps
	@deploy/dev/fuzz.sh

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

tidy: build
	@clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.cpp' | grep -v '^tests/\|^bench/')

clean:
	@rm -rf build
