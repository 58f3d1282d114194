# mk/checkpoint.mk: the checkpoint tests again under AddressSanitizer + UBSan.
#
# `make check` builds tests/unit/test_checkpoint.c and test_safetensors_hostile.c
# normally (Makefile) and, from this file, a second time with
# -fsanitize=address,undefined into $(BUILD)/asan-tests/, compiled together with
# the runtime sources they exercise (also sanitized), and runs both. Under
# `make test-asan` (SAN=1) every test is sanitized already, so nothing is added.
# gcc's libasan/libubsan come with the gcc package.

CKPT_ASAN_DIR   := $(BUILD)/asan-tests
CKPT_ASAN_SRC   := runtime/safetensors.c runtime/safetensors_write.c runtime/json.c runtime/checkpoint.c
CKPT_ASAN_FLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer \
                   -fsanitize=address,undefined -fno-sanitize-recover=undefined -Iruntime -Itests/unit
# The _asan suffix keeps their names (and logs in scripts/run-tests.sh) apart from the plain builds.
CKPT_ASAN_TESTS := $(CKPT_ASAN_DIR)/test_checkpoint_asan $(CKPT_ASAN_DIR)/test_safetensors_hostile_asan

$(CKPT_ASAN_DIR)/vq_common.o: runtime/vq_common.c runtime/vq_common.h
	@mkdir -p $(@D)
	$(CC) $(CKPT_ASAN_FLAGS) -c -o $@ $<

$(CKPT_ASAN_DIR)/%_asan: tests/unit/%.c tests/unit/ckpt_test_util.h $(CKPT_ASAN_SRC) $(CKPT_ASAN_DIR)/vq_common.o \
                    runtime/safetensors.h runtime/checkpoint.h runtime/json.h
	@mkdir -p $(@D)
	$(CC) $(CKPT_ASAN_FLAGS) -o $@ $< $(CKPT_ASAN_SRC) $(CKPT_ASAN_DIR)/vq_common.o -lcmocka -lm

.PHONY: checkpoint-asan
checkpoint-asan: $(CKPT_ASAN_TESTS)
	@for t in $(CKPT_ASAN_TESTS); do $$t || exit 1; done

ifneq ($(SAN),1)
CHECK_DEPS  += $(CKPT_ASAN_TESTS)
CHECK_EXTRA += $(CKPT_ASAN_TESTS)
endif
