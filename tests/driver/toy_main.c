/* toy_main.c: the whole main of a model program, as vqc will emit it. */
#include "driver.h"
#include "toy_model.h"

int main(int argc, char **argv) { return vq_driver_main(argc, argv, toy_desc()); }
