# The README's two commands, thin over CMake and deploy/dev/.
#   make run    build, start a throwaway PostgreSQL, migrate, seed, serve
#   make test   build, start a throwaway PostgreSQL, run every suite
#   make bench  intake throughput next to pgbench, same machine, same run
#   make install    the binary, units, sysusers/tmpfiles, example env
#                   (PREFIX=/usr/local, DESTDIR= for a staging root)
#   make package    a .deb in the build folder (Depends from dpkg-shlibdeps)
#   make docker-check   deploy/Dockerfile's steps in Debian 12 roots (mmdebstrap)
#   make settings-docs  config/effectd.env.example and the README's settings table
BUILD ?= build/release
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

.PHONY: all run test bench deps build npm format tidy clean install package docker-check settings-docs

all: build

deps:
	@deploy/dev/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DEFFECTD_BUILD_TESTS=ON -DEFFECTD_BUILD_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

npm: deps
	@deploy/dev/npm-install.sh

run: build
	@deploy/dev/run.sh $(BUILD)

test: build npm
	@deploy/dev/test.sh $(BUILD)

bench: build
	@deploy/dev/bench.sh $(BUILD)

PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)
	@echo "next: systemd-sysusers effectd.conf && systemd-tmpfiles --create effectd.conf"
	@[ "$(PREFIX)" = /usr ] || echo "the units run /usr/bin/effectd: with PREFIX=$(PREFIX), set ExecStart (systemctl edit effectd)"

package: build
	@cd $(BUILD) && cpack -G DEB

docker-check: deps
	@deploy/dev/check-docker.sh $(BUILD)/docker-check

settings-docs: build
	@deploy/dev/settings-docs.sh $(BUILD)/effectd

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

tidy: build
	@clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.cpp' | grep -v '^tests/\|^bench/')

clean:
	@rm -rf build
