# mk/kernels.mk: the op-kernel micro-benchmarks (not part of `make test`).
#   make kernels-bench          build and run build/bench/kernels_bench (batch 1, best of 2)
#   make kernels-model-bench    every kernel at vqgan_fmnist / vqgan_f16@256 shapes (docs/runtime-kernels.md)
$(BUILD)/bench/kernels_bench: tests/bench/kernels_bench.c $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvqrt.a $(LDLIBS)

.PHONY: kernels-bench
kernels-bench: $(BUILD)/bench/kernels_bench
	$(BUILD)/bench/kernels_bench

bench: $(BUILD)/bench/kernels_bench

# make kernels-model-bench: every kernel at the vqgan_fmnist (batch 32) and
# vqgan_f16 @256 (batch 1) shapes, ms per call and per training step.
$(BUILD)/bench/kernels_model_bench: tests/bench/kernels_model_bench.c $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvqrt.a $(LDLIBS)

.PHONY: kernels-model-bench
kernels-model-bench: $(BUILD)/bench/kernels_model_bench
	$(BUILD)/bench/kernels_model_bench

bench: $(BUILD)/bench/kernels_model_bench
