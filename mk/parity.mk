# mk/parity.mk: `make parity` runs only the PyTorch parity test (tests/scripts/parity.sh, also part
# of `make test`); PARITY_F16=0 leaves out vqgan_f16, PARITY_VERBOSE=1 prints every row.
.PHONY: parity
parity: all
	BUILD=$(BUILD) tests/scripts/parity.sh
