# vqc: the compiler (build/vqc), its runtime (build/libvqrt.a) and their tests.
#
#   make            build vqc and the runtime
#   make test       install what is missing (apt-get), build, run every test
#   make demo       install what is missing, then the main job (see README.md)
#   make test-asan  the whole suite under AddressSanitizer + UBSan
#   make install PREFIX=/usr/local
#
# Sources are found by wildcard, so adding a file to compiler/, runtime/ or
# tests/unit/test_*.c needs no edit here. Special rules live in mk/*.mk.
# Nothing generated (flex/bison output included) is written outside $(BUILD).

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
VERSION := 0.1.0

OPT     ?= -O2
SAN     ?=
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
WARN    := -Wall -Wextra -Werror
CFLAGS  := -std=c11 $(OPT) -g $(WARN) -D_GNU_SOURCE -fopenmp -MMD -MP $(SANFLAGS) \
           -DVQC_VERSION='"$(VERSION)"' -Iruntime -Iruntime/kernels -Icompiler -I$(BUILD)/compiler $(EXTRA_CFLAGS)
LDFLAGS := -fopenmp $(SANFLAGS)
LDLIBS  := -lopenblas -lpng -lz -lpthread -lm

# --- runtime: build/libvqrt.a -------------------------------------------------
RT_SRC := $(wildcard runtime/*.c runtime/kernels/*.c)
RT_OBJ := $(RT_SRC:%.c=$(BUILD)/%.o)

# --- compiler: build/libvqc.a + build/vqc --------------------------------------
FC_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c))
FC_GEN :=
ifneq ($(wildcard compiler/parser.y),)
FC_GEN += $(BUILD)/compiler/parser.c
endif
ifneq ($(wildcard compiler/lexer.l),)
FC_GEN += $(BUILD)/compiler/lexer.c
endif
FC_OBJ := $(FC_SRC:%.c=$(BUILD)/%.o) $(FC_GEN:%.c=%.o)

# --- tests: one cmocka binary per tests/unit/test_*.c --------------------------
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_LIBS := -lcmocka

.DEFAULT_GOAL := all
# Part-specific rules (before the rules below, so their CHECK_DEPS/CHECK_EXTRA count).
include $(wildcard mk/*.mk)

.PHONY: all test check demo deps install test-asan clean generated bench fuzz
all: $(BUILD)/vqc $(BUILD)/libvqrt.a

$(BUILD)/libvqrt.a: $(RT_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libvqc.a: $(FC_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/vqc: $(BUILD)/compiler/main.o $(BUILD)/libvqc.a $(BUILD)/libvqrt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The scanner and parser are generated into the build directory.
$(BUILD)/compiler/parser.c $(BUILD)/compiler/parser.h &: compiler/parser.y
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(BUILD)/compiler/parser.h -o $(BUILD)/compiler/parser.c $<

$(BUILD)/compiler/lexer.c $(BUILD)/compiler/lexer.h &: compiler/lexer.l $(BUILD)/compiler/parser.h
	@mkdir -p $(@D)
	flex --header-file=$(BUILD)/compiler/lexer.h -o $(BUILD)/compiler/lexer.c $<

# Generated C is held to warnings-as-errors too, except flex's own unused helpers.
$(BUILD)/compiler/lexer.o: $(BUILD)/compiler/lexer.c
	$(CC) $(CFLAGS) -Wno-unused-function -Wno-sign-compare -c -o $@ $<
$(BUILD)/compiler/parser.o: $(BUILD)/compiler/parser.c $(BUILD)/compiler/lexer.h
	$(CC) $(CFLAGS) -c -o $@ $<
$(FC_SRC:%.c=$(BUILD)/%.o): $(FC_GEN:.c=.h)

# Tests of the compiler (those that include one of its headers) link libvqc.a;
# runtime tests need only libvqrt.a, so they build while the compiler is in flux.
FC_HEADERS := $(notdir $(wildcard compiler/*.h)) parser.h lexer.h
FC_TEST_SRC := $(shell grep -l -E '^\#include "($(subst .,\.,$(subst $(eval) ,|,$(strip $(FC_HEADERS)))))"' $(TEST_SRC) /dev/null 2>/dev/null)
FC_TEST_BIN := $(FC_TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
RT_TEST_BIN := $(filter-out $(FC_TEST_BIN),$(TEST_BIN))

$(FC_TEST_BIN): $(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvqc.a $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libvqc.a $(BUILD)/libvqrt.a $(TEST_LIBS) $(LDLIBS)

$(RT_TEST_BIN): $(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libvqrt.a $(TEST_LIBS) $(LDLIBS)

# --- tests ----------------------------------------------------------------------
# `make test` is the README's test command: it installs what is missing first.
test: deps
	$(MAKE) --no-print-directory check

# Every test binary, then every tests/scripts/*.sh (golden and end-to-end
# tests that drive build/vqc or a generated program). CHECK_EXTRA is filled by mk/*.mk.
check: all $(TEST_BIN) $(CHECK_DEPS)
	@BUILD=$(BUILD) scripts/run-tests.sh $(TEST_BIN) $(wildcard tests/scripts/*.sh) $(CHECK_EXTRA)

test-asan: deps
	$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 check

deps:
	@scripts/setup.sh

# --- install --------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/vqrt
	install -m 755 $(BUILD)/vqc $(DESTDIR)$(PREFIX)/bin/vqc
	install -m 644 $(BUILD)/libvqrt.a $(DESTDIR)$(PREFIX)/lib/libvqrt.a
	install -d $(DESTDIR)$(PREFIX)/include/vqrt/kernels
	install -m 644 $(wildcard runtime/*.h) $(DESTDIR)$(PREFIX)/include/vqrt/
	install -m 644 $(wildcard runtime/kernels/*.h) $(DESTDIR)$(PREFIX)/include/vqrt/kernels/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' scripts/vqrt.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vqrt.pc

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The README's main job (see scripts/demo.sh).
demo: deps
	$(MAKE) --no-print-directory all
	BUILD=$(BUILD) scripts/demo.sh
