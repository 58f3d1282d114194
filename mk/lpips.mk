# mk/lpips.mk: the LPIPS timing (not part of `make test`; tests/scripts/lpips_parity.sh is).
#   make lpips-bench        build and run build/bench/lpips_bench (256x256, batch 1, best of 3)
$(BUILD)/bench/lpips_bench: tests/bench/lpips_bench.c $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvqrt.a $(LDLIBS)

.PHONY: lpips-bench
lpips-bench: $(BUILD)/bench/lpips_bench
	$(BUILD)/bench/lpips_bench

bench: $(BUILD)/bench/lpips_bench
