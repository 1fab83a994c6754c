# The two commands a newcomer needs: `make demo` and `make test`. `make bench` runs the benchmarks.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all demo test bench install clean deps-bench compat-test

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

demo: all
	$(BUILD)/demo/shade_demo

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Shade's libgc.so.1 on bdwgc's own tests (fetched with apt-get source), w3m and Guile 3.0
# (docs/bdwgc.md); installs what it needs with apt-get.
compat-test: all
	sh tests/compat/run_compat_test.sh $(BUILD)

deps-bench:
	@sh bench/install-deps.sh

bench: deps-bench
	cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release -DSHADE_BUILD_BENCH=ON -DSHADE_BUILD_TESTS=OFF
	cmake --build $(BUILD)-bench -j $(JOBS)
	sh bench/run.sh $(BUILD)-bench

install: all
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(BUILD)-asan $(BUILD)-tsan
