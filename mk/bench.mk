# mk/bench.mk: `make bench`'s comparison of vqc with PyTorch (scripts/bench/, docs/benchmarks.md).
#   make bench-compare               all cases, 2 and 1 threads, 3 rounds -> docs/benchmarks.{md,png,json}
#   BENCH_QUICK=1 make bench-compare 1 round, 2 threads, few steps    -> $(BUILD)/bench/benchmarks.*
#   make build/bench/fma_peak        the FMA-peak probe alone
# run_bench.py generates and compiles each case's vqc program itself (into $(BUILD)/bench/gen/), so
# this needs vqc and the runtime library built first.
# `bench` (PHONY in the Makefile) depends on bench-compare; other mk/*.mk add their own benchmarks.
# Not part of `make check` (tests/scripts/bench_smoke.sh checks the harness there).
# The peak probe is built -O3 -march=native on purpose: it measures this machine's vector units.
.PHONY: bench-compare bench-torch

$(BUILD)/bench/fma_peak: scripts/bench/fma_peak.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O3 -march=native -fopenmp -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

bench-compare: $(BUILD)/bench/fma_peak $(BUILD)/vqc $(BUILD)/libvqrt.a
	BUILD=$(BUILD) /usr/bin/python3 scripts/bench/run_bench.py --fma $(BUILD)/bench/fma_peak \
	  $(if $(filter 1,$(BENCH_QUICK)),--quick)

bench-torch: bench-compare   # the harness's earlier name

bench: bench-compare
