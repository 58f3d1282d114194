# mk/fuzz.mk: fuzzing (tests/fuzz/, docs/robustness.md) and the environment of `make test-asan`.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="safetensors png"]
#       builds each target with clang's libFuzzer + ASan + UBSan into $(BUILD)/fuzz/,
#       runs it FUZZ_SECONDS from tests/fuzz/corpus/<t>/ into the scratch corpus
#       $(BUILD)/fuzz/corpus/<t>/ and prints execs, coverage and findings per target;
#       crashes land in $(BUILD)/fuzz/artifacts/<t>/.
#   make fuzz-build     only build them
#
# Each target is also built as a plain program ($(CC), the build's own flags, so
# sanitized under test-asan) with tests/fuzz/replay_main.c, which replays the
# seed corpus and tests/fuzz/regressions/<t>/ in `make check`
# (tests/scripts/fuzz_regressions.sh). That build needs no clang.
#
# libFuzzer comes with Debian's clang (package libclang-rt-14-dev).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_RT_TARGETS := safetensors json idx png codes
FUZZ_FE_TARGETS := vq
FUZZ_TARGETS ?= $(FUZZ_RT_TARGETS) $(FUZZ_FE_TARGETS)

# The library code is instrumented for coverage (fuzzer-no-link) and sanitized;
# only the harnesses are held to -Werror here (clang warns differently from gcc).
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -O1 -g -D_GNU_SOURCE -MMD -MP $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
               -Iruntime -Icompiler -I$(BUILD)/compiler -Itests/fuzz -Wall -Wextra
# Only the loaders a target reaches, so that work in progress elsewhere in runtime/ cannot break this.
FUZZ_RT_SRC := runtime/vq_common.c runtime/json.c runtime/safetensors.c runtime/safetensors_write.c \
               runtime/checkpoint.c runtime/idx.c runtime/image.c runtime/image_png.c runtime/codes.c
FUZZ_RT_OBJ := $(FUZZ_RT_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_FE_OBJ := $(FC_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FC_GEN:$(BUILD)/%.c=$(FUZZ_DIR)/obj/%.o)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FC_GEN:$(BUILD)/%.c=$(FUZZ_DIR)/obj/%.o): $(FUZZ_DIR)/obj/%.o: $(BUILD)/%.c $(FC_GEN:.c=.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-unused-function -Wno-sign-compare -c -o $@ $<
$(FC_SRC:%.c=$(FUZZ_DIR)/obj/%.o): $(FC_GEN:.c=.h)

$(FUZZ_DIR)/libvqrt.a: $(FUZZ_RT_OBJ)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_DIR)/libvqc.a: $(FUZZ_FE_OBJ)
	rm -f $@ && ar rcs $@ $^

FUZZ_LDLIBS := -lpng -lz -lm
$(FUZZ_RT_TARGETS:%=$(FUZZ_DIR)/fuzz_%): $(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_DIR)/libvqrt.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libvqrt.a $(FUZZ_LDLIBS)
$(FUZZ_FE_TARGETS:%=$(FUZZ_DIR)/fuzz_%): $(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_DIR)/libvqc.a $(FUZZ_DIR)/libvqrt.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libvqc.a $(FUZZ_DIR)/libvqrt.a $(FUZZ_LDLIBS)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# clang and its libFuzzer runtime are only needed here, so `make test` does not install them.
fuzz:
	@scripts/setup.sh fuzz
	$(MAKE) --no-print-directory fuzz-build
	tests/fuzz/run_fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# --- replay builds for `make check` ----------------------------------------------
REPLAY_DIR := $(BUILD)/fuzz-replay
REPLAY_RT  := $(FUZZ_RT_TARGETS:%=$(REPLAY_DIR)/fuzz_%)
REPLAY_FE  := $(FUZZ_FE_TARGETS:%=$(REPLAY_DIR)/fuzz_%)

$(REPLAY_DIR)/%.o: tests/fuzz/%.c tests/fuzz/fuzz_util.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/fuzz -c -o $@ $<
$(REPLAY_RT): $(REPLAY_DIR)/fuzz_%: $(REPLAY_DIR)/fuzz_%.o $(REPLAY_DIR)/replay_main.o $(BUILD)/libvqrt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(REPLAY_FE): $(REPLAY_DIR)/fuzz_%: $(REPLAY_DIR)/fuzz_%.o $(REPLAY_DIR)/replay_main.o $(BUILD)/libvqc.a $(BUILD)/libvqrt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: fuzz-replay
fuzz-replay: $(REPLAY_RT) $(REPLAY_FE)
	BUILD=$(BUILD) bash tests/scripts/fuzz_regressions.sh

CHECK_DEPS += $(REPLAY_RT) $(REPLAY_FE)

# --- make test-asan ------------------------------------------------------------------
# Script tests that compile their own program against $(BUILD)/libvqrt.a must
# link it with the same sanitizers when the library is sanitized: they read
# VQ_SANFLAGS (empty in a normal build), e.g. `cc ... ${VQ_SANFLAGS:-}`.
check: export VQ_SANFLAGS = $(SANFLAGS)
