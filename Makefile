# A thin wrapper over CMake: the README's quick start is `make demo` and `make test`.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job on the embedded default.
demo: build
	./$(BUILD)/kdtune run

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@KDTUNE_BENCH_DEPS=1 bash scripts/install-deps.sh
	@$(MAKE) --no-print-directory -C . bench-run

bench-run:
	cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	bash bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
