# mk/driver.mk: the hand-written toy model program used to test the generic
# driver (runtime/driver*.c), built as vqc-generated models will be:
# tests/driver/*.c + libvqrt.a -> build/tests/toy_vq. A second build with
# -DTOY_D=4 (another "-D value": other shapes, other hash) is the model whose
# checkpoints toy_vq must reject. tests/scripts/driver.sh runs them.

DRIVER_TOY_SRC := tests/driver/toy_model.c tests/driver/toy_main.c
DRIVER_TOY_HDR := tests/driver/toy_model.h runtime/model_desc.h runtime/driver.h

$(BUILD)/tests/toy_vq: $(DRIVER_TOY_SRC) $(DRIVER_TOY_HDR) $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/driver $(LDFLAGS) -o $@ $(DRIVER_TOY_SRC) $(BUILD)/libvqrt.a $(LDLIBS)

$(BUILD)/tests/toy_vq_d4: $(DRIVER_TOY_SRC) $(DRIVER_TOY_HDR) $(BUILD)/libvqrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DTOY_D=4 -Itests/driver $(LDFLAGS) -o $@ $(DRIVER_TOY_SRC) $(BUILD)/libvqrt.a $(LDLIBS)

CHECK_DEPS += $(BUILD)/tests/toy_vq $(BUILD)/tests/toy_vq_d4
