# mk/codegen.mk: the code generator's sources in subfolders of compiler/
# (the top-level wildcard sees only compiler/*.c) and `make generated`.
#
#   make generated    regenerate generated/<model>/ for every models/*.vq (their
#                     Makefiles find the runtime at ../.. instead of this checkout's
#                     absolute path, so they stay valid in any clone), with
#                     exactly the command tests/scripts/codegen_generated.sh
#                     repeats to check that generated/ is up to date

CG_SRC := $(wildcard compiler/passes/*.c compiler/ops/*.c)
CG_OBJ := $(CG_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/libvqc.a: $(CG_OBJ)
$(CG_OBJ): $(FC_GEN:.c=.h)

generated: $(BUILD)/vqc $(BUILD)/libvqrt.a
	@set -e; for vq in $(wildcard models/*.vq); do \
	  name=$$(basename $$vq .vq); \
	  echo "vqc $$vq -o generated/$$name"; \
	  rm -rf generated/$$name; \
	  $(BUILD)/vqc $$vq -o generated/$$name; \
	  sed -i 's|^VQC_ROOT ?= .*|VQC_ROOT ?= $$(HERE)../..|' generated/$$name/Makefile; \
	done
