# mk/optim.mk: the OpenBLAS core-type benchmark (not part of `make check`).
#   make bench-coretype      builds it and runs scripts/bench-coretype.sh
.PHONY: bench-coretype
$(BUILD)/bench/bench_gemm_coretype: tests/bench/bench_gemm_coretype.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

bench-coretype: $(BUILD)/bench/bench_gemm_coretype
	BUILD=$(BUILD) scripts/bench-coretype.sh 1 7
	BUILD=$(BUILD) scripts/bench-coretype.sh 2 7

bench: bench-coretype

# Adam's sqrtf vectorizes only without errno (the argument is a sum of squares,
# never negative, so errno could never be set anyway).
$(BUILD)/runtime/optim.o: CFLAGS += -fno-math-errno
