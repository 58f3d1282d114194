/* driver_main.c: vq_driver_main: start-up (signals, OpenBLAS kernel, model
 * check) and dispatch to the subcommands (driver_*.c). */
#include "driver_internal.h"

#include <signal.h>
#include <string.h>

#include "threads.h"

volatile sig_atomic_t drv_stop_signal = 0;

static void on_stop(int sig) { drv_stop_signal = sig; }

typedef struct drv_entry {
    const char *name;
    int (*fn)(drv *, int, char **);
    const char *what;
} drv_entry;

static const drv_entry commands[] = {
    {"init", drv_cmd_init, "initialize weights, write a checkpoint"},
    {"train", drv_cmd_train, "train (resumable; SIGINT/SIGTERM checkpoint and stop)"},
    {"eval", drv_cmd_eval, "PSNR, SSIM, L1, codebook usage on a dataset (one JSON line)"},
    {"reconstruct", drv_cmd_reconstruct, "encode and decode PNG images"},
    {"encode", drv_cmd_encode, "PNG image to a text file of code indices"},
    {"decode", drv_cmd_decode, "code indices to a PNG image"},
    {"info", drv_cmd_info, "parameters per module, FLOPs, memory"},
    {"bench", drv_cmd_bench, "time forward and training steps"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f, const drv *dv)
{
    fprintf(f, "usage: %s COMMAND [options]   (%s COMMAND --help for its options)\n\n", dv->prog, dv->prog);
    fprintf(f, "%s: %s, compiled by vqc %s\n\ncommands:\n", dv->d->name, dv->d->source ? dv->d->source : "?",
            dv->d->vqc_version ? dv->d->vqc_version : "?");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].what);
}

int vq_driver_main(int argc, char **argv, const vq_model_desc *desc)
{
    const char *prog = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    drv dv = {prog ? prog + 1 : argc > 0 && argv[0] ? argv[0] : "vq", desc};

    /* A write past RLIMIT_FSIZE must fail with EFBIG and be reported, not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
        vq_maybe_reexec_with_coretype(argv, vq_threads_recommended_coretype()); /* returns only if not needed */

    if (vq_model_desc_check(desc)) {
        fprintf(stderr, "%s: error: invalid model description: %s\n", dv.prog, vq_last_error());
        return VQ_EXIT_ERROR;
    }
    if (argc < 2) {
        usage(stderr, &dv);
        return VQ_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout, &dv);
        return VQ_EXIT_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(&dv, argc - 1, argv + 1);
    fprintf(stderr, "%s: error: unknown command '%s'\n", dv.prog, argv[1]);
    usage(stderr, &dv);
    return VQ_EXIT_USAGE;
}
