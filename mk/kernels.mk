# mk/kernels.mk: the op-kernel micro-benchmark (not part of `make test`).
#   make kernels-bench          build and run build/bench/kernels_bench (batch 1, best of 2)
$(BUILD)/bench/kernels_bench: tests/bench/kernels_bench.c $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvqrt.a $(LDLIBS)

.PHONY: kernels-bench
kernels-bench: $(BUILD)/bench/kernels_bench
	$(BUILD)/bench/kernels_bench

bench: $(BUILD)/bench/kernels_bench
