"""Output of `make bench` (run_bench.py): the console table, docs/benchmarks.md and the gnuplot
chart docs/benchmarks.png. Input: run_bench's summaries, one per (case, threads):
  {case, mode, batch, threads, flops, vqc_status, rows: {config: None | {ms, images_per_s, gflops,
   pct_peak, peak_rss_mb, cores_used, runs, all_ms, vs_vqc, disc}}}
and the per-op breakdowns of vqc programs (run_bench.breakdown_of):
  {case, model, batch, threads, disc, step_ms, train_step_ms, categories: {name: ms}, n_ops, top: [[op, fwd, bwd]]}
Nothing here measures anything.
"""
import os
import platform
import subprocess

from cases import load_cases

HERE_DIR = os.path.dirname(os.path.abspath(__file__))

CONFIG_LABEL = {"vqc": "vqc", "pytorch": "PyTorch", "pytorch+tuned": "PyTorch, tuned malloc"}
COLUMNS = ("case", "threads", "implementation", "ms", "images/s", "GFLOP/s", "% peak", "peak RSS MB",
           "time / vqc")


def _sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(python):
    info = {}
    with open("/proc/cpuinfo") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            if not ln.strip():
                break                          # the first CPU's block is enough
            info[k.strip()] = v.strip()
    cpu = "%s (family %s model %s%s)" % (info.get("model name", "unknown CPU"), info.get("cpu family", "?"),
                                         info.get("model", "?"),
                                         ", AVX-512" if "avx512f" in info.get("flags", "").split() else "")
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    pkgs = _sh(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "python3-torch", "libdnnl2",
                "libopenblas0-pthread", "gcc-12"])
    return dict(cpu=cpu, cpus=os.cpu_count(), mem_gib=round(mem_kb / 2 ** 20, 1), kernel=platform.release(),
                hypervisor="KVM guest" if "hypervisor" in open("/proc/cpuinfo").read() else "bare metal",
                torch=_sh([python, "-c", "import torch; print(torch.__version__)"]),
                packages=pkgs.replace("\n", "; "),
                env={k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "GLIBC", "MKL"))})


def _fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def table_rows(results):
    """Lists of cell strings, one per (case, threads, configuration), in COLUMNS order."""
    rows = []
    for s in results:
        for cfg in ("vqc", "pytorch", "pytorch+tuned"):
            if cfg not in s["raw"] and not (cfg == "vqc"):
                continue
            r = s["rows"].get(cfg)
            label = CONFIG_LABEL[cfg]
            if cfg == "vqc" and r is not None and s["mode"] == "train":
                label += " (AE+D)" if r.get("disc") else " (AE only)"
            head = [s["case"], str(s["threads"]), label]
            if r is None:
                status = s["vqc_status"] if cfg == "vqc" else "failed"
                rows.append(head + [status] + [""] * 5)
                continue
            rows.append(head + [_fmt(r["ms"], ".1f") + ("*" if r.get("disturbed") else ""), _fmt(r["images_per_s"], ".2f"), _fmt(r["gflops"], ".1f"),
                                _fmt(r["pct_peak"], ".1f"), _fmt(r["peak_rss_mb"], ".0f"),
                                "" if cfg == "vqc" else _fmt(r.get("vs_vqc"), ".2f")])
    return rows


def text_table(results):
    rows = [list(COLUMNS)] + table_rows(results)
    widths = [max(len(r[i]) for r in rows if len(r) > i and not r[i].startswith("n/a (")) for i in
              range(len(COLUMNS))]
    out = []
    for r in rows:
        out.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
                             ).rstrip())
    return "\n".join(out)


def _md_table(results):
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * 3 + "---:|" * (len(COLUMNS) - 3)]
    for r in table_rows(results):
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


CAT_ORDER = ("conv forward", "conv backward-data", "conv backward-weight", "norms", "attention", "quantizer",
             "elementwise/resample", "loss", "data (input copy)", "optimizer", "other")


def _categories(b):
    names = [c for c in CAT_ORDER if c in b["categories"]] + \
            [c for c in b["categories"] if c not in CAT_ORDER]
    return [(c, b["categories"][c]) for c in names]


def breakdown_text(b):
    """A breakdown as console text."""
    out = ["%s (%s, batch %s, %s threads%s): profiled step %.1f ms" %
           (b["case"], b["model"], b["batch"], b["threads"],
            ", AE+D" if b.get("disc") else ", AE only", b["step_ms"])]
    for c, ms in _categories(b):
        out.append("  %-24s %9.1f ms %6.1f%%" % (c, ms, 100.0 * ms / b["step_ms"]))
    return "\n".join(out)


def _md_breakdowns(breakdowns):
    L = ["## Where the time goes (vqc, per op)", "",
         "`PROGRAM bench` with the per-op profiler on (compiler/emit_profile.c): every unit of the "
         "generated forward and backward is timed from the calling thread (OpenMP loops inside whole); "
         "a convolution's backward is split into its backward-data and backward-weight calls (gradient "
         "zeroing and the fused epilogue's backward count as backward-data; its forward epilogue, "
         "residual add and activation, as conv forward). The optimizers are timed apart; `other` is "
         "what remains of the profiled step (gradient norms and finiteness checks, after_step, gaps). "
         "Discriminator ops are in the same categories. Means of the profiled steps, which run after "
         "the timed ones.", ""]
    for b in breakdowns:
        L.append("### %s: %s, batch %s, %s threads, %s" %
                 (b["case"], b["model"], b["batch"], b["threads"],
                  "autoencoder + discriminator step" if b.get("disc") else "autoencoder only"))
        L.append("")
        L.append("Profiled step %.1f ms (unprofiled median %s)%s; %d op rows." %
                 (b["step_ms"], "%.1f ms" % b["train_step_ms"] if b.get("train_step_ms") else "n/a",
                  " (disturbed by other processes)" if b.get("disturbed") else "", b["n_ops"]))
        L.append("")
        L.append("| category | ms | % of step |")
        L.append("|---|---:|---:|")
        for c, ms in _categories(b):
            L.append("| %s | %.1f | %.1f |" % (c, ms, 100.0 * ms / b["step_ms"]))
        L.append("")
        L.append("| top ops | forward ms | backward ms | % of step |")
        L.append("|---|---:|---:|---:|")
        for name, f, bw in b["top"]:
            L.append("| `%s` | %.2f | %.2f | %.1f |" % (name, f, bw, 100.0 * (f + bw) / b["step_ms"]))
        L.append("")
    return L


def write_markdown(path, results, meta, breakdowns=()):
    cases = load_cases()
    peaks = ", ".join("%s thread%s %.0f" % (t, "" if int(t) == 1 else "s", g)
                      for t, g in sorted(meta["fma_peak_gflops"].items())) or "n/a"
    env = ", ".join("%s=%s" % kv for kv in sorted(meta["env"].items())) or "none"
    flops = {}
    for s in results:
        if s["flops"]:
            flops[s["case"]] = s["flops"]
    L = []
    L.append("# Benchmarks: vqc against PyTorch")
    L.append("")
    argv = meta.get("argv", "").replace(os.path.dirname(os.path.dirname(HERE_DIR)) + "/", "")
    L.append("Generated on %s by `%s` (what `%s` runs with its defaults); regenerate it rather than editing it."
             % (meta["date"], argv, meta["command"]))
    if meta["quick"]:
        L.append("**Quick run** (`BENCH_QUICK=1`: one round, few steps): indicative only.")
    L.append("")
    L.append("**Machine:** %s, %d CPUs, %.1f GiB, Linux %s (%s). Measured FMA peak (fp32, "
             "`scripts/bench/fma_peak.c`): %s GFLOP/s. %s. Environment as found: %s; every run gets "
             "`OMP_NUM_THREADS` = `OPENBLAS_NUM_THREADS` = threads%s. The whole run took %d s."
             % (meta["cpu"], meta["cpus"], meta["mem_gib"], meta["kernel"], meta["hypervisor"], peaks,
                meta["packages"] or "packages unknown", env,
                "" if meta["keep_coretype"] else " and no `OPENBLAS_CORETYPE`", meta["seconds"]))
    L.append("")
    L.append(_md_table(results))
    L.append("")
    L.append("Median over %d process%s per row (each: warm-up, then the median of its timed steps); "
             "`time / vqc` is the PyTorch time over vqc's (above 1: vqc is faster). "
             "`*`: at least one of the row's runs was disturbed (other processes kept busy more than "
             "the CPUs the run left free, + 0.25, even after one retry). Per-run times, CPU use and other processes' CPU use are in "
             "`benchmarks.json` beside this file."
             % (meta["rounds"], "" if meta["rounds"] == 1 else "es"))
    over = [s["case"] for s in results for r in s["rows"].values() if r and (r.get("pct_peak") or 0) > 100]
    if over:
        L.append("")
        L.append("**%% peak above 100 (%s)**: the FMA probe itself ran while other processes used the CPUs, so "
                 "the peak it measured is too low and %% peak is not meaningful in this run." %
                 ", ".join(sorted(set(over))))
    if meta.get("failed"):
        L.append("")
        L.append("Failed runs: %s." % "; ".join(meta["failed"]))
    L.append("")
    L.append("![time per step, log scale](benchmarks.png)")
    L.append("")
    if breakdowns:
        L.extend(_md_breakdowns(breakdowns))
    L.append("## Cases")
    L.append("")
    L.append("| case | what | batch | FLOPs per step | vqc invocation |")
    L.append("|---|---|---:|---:|---|")
    for c in cases:
        what = ("training step" if c["mode"] == "train" else "forward (encode + quantize + decode)")
        tc = c["torch"]
        dd = ", ".join("%s=%s" % kv for kv in tc.get("ddconfig", {}).items())
        L.append("| %s | %s; vqref `%s`%s | %d | %s | `vqc %s` -> `%s` |"
                 % (c["name"], what, tc["config"], " with " + dd if dd else "", c["batch"],
                    "%.2f G" % (flops[c["name"]] / 1e9) if c["name"] in flops else "n/a", c["vqc_args"],
                    "build/bench/" + c["program"]))
    L.append("")
    L.append(METHOD)
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


METHOD = """## What is measured

- **Training step**: taming's two-optimizer step with the autoencoder forward run once: autoencoder
  forward, loss = L1 + codebook loss + adaptive-weight x hinge generator loss (disc factor 1, no
  LPIPS), backward, Adam; then discriminator on x and sg(x^), hinge loss, backward, Adam. The
  discriminator is frozen during the generator's backward (as Lightning's `toggle_optimizer` does).
  **Forward**: encode + quantize + decode without gradients. Random weights, one fixed batch.
- **PyTorch**: Debian's python3-torch (oneDNN convolutions, OpenBLAS matrix products), the project's
  reference model `tests/reference/vqref`, run by `scripts/bench/torch_bench.py`. **Tuned malloc**:
  `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736`, which stops
  glibc from mmap-ing and returning every large activation buffer each step.
- **vqc**: `PROGRAM bench --batch B --threads T --steps N --warmup W --json` of the program that
  run_bench generates (`build/vqc VQC_ARGS -o build/bench/gen/...`) and compiles (`make -C`, -O2) from
  the case's `vqc` invocation; "n/a" with the reason when that fails. Its training step is
  `vq_train_step`, what `train` runs, at step index `disc_start` so that both halves run: the table
  says "AE+D" (autoencoder with the generator's adversarial term, then the discriminator's step) or
  "AE only" (a program whose step did not run the discriminator). No LPIPS on either side. vqc's
  own GFLOP/s in its JSON count the autoencoder only; the table divides PyTorch's count instead.
- **FLOPs** (`scripts/bench/flops.py`): 2 x multiply-adds of the convolutions and matrix products the
  PyTorch reference step executes (forward, input gradients where needed, weight gradients where
  needed, the adaptive weight's two extra gradient passes), counted once per process by a
  `TorchDispatchMode`; norms, activations, softmax and Adam are not counted. Every row divides this
  same count by its own time, so GFLOP/s compares like with like. % peak divides by the FMA peak above.
- **Peak RSS**: `ru_maxrss` of the measured process (wait4), largest over its runs; for PyTorch it
  includes the Python interpreter and torch itself (~0.2 GB after `import torch`).
- **Timing**: each configuration runs in fresh processes, alternating vqc, PyTorch, PyTorch tuned
  per round so drifts of the machine hit all three; each process does one warm-up step (the counted
  one) plus `warmup` more (cases.json: 0 for f16@256 training), then N timed steps. The machine may be
  shared: before each run the harness waits (up to 30 s) for idle CPUs, measures how much CPU other
  processes used during the run (`/proc/stat` minus the run's own rusage) and repeats a run once when
  that exceeds the CPUs the run leaves free by 0.25 (`*` in the table when it still does).

## Reproduce

    make bench                 # everything (estimated ~15 min on the idle 2-core machine), writes docs/benchmarks.{md,png,json}
    BENCH_QUICK=1 make bench   # one round, 2 threads, few steps: build/bench/benchmarks.*
    /usr/bin/python3 scripts/bench/run_bench.py --cases tiny@32 --threads 2 --rounds 3 --out /tmp/b
    /usr/bin/python3 scripts/bench/torch_bench.py --case f16@64 --threads 2 --steps 3   # one JSON line
    make build/bench/fma_peak && build/bench/fma_peak 1 2

Cases live in `scripts/bench/cases.json` (shared with the vqc side). Run it on an otherwise idle
machine and without `make -j` (other bench targets would run at the same time).
"""


def write_png(path, results):
    """Grouped bars of ms per step (log scale), one panel per thread count. Returns None, or a
    message saying why no chart was written (gnuplot missing or failing)."""
    threads = sorted({s["threads"] for s in results}, reverse=True)
    datadir = os.path.dirname(path)
    files = []
    for t in threads:
        dat = os.path.join(datadir, ".benchmarks-%d.dat" % t)
        with open(dat, "w") as f:
            f.write("case vqc pytorch tuned\n")
            for s in (s for s in results if s["threads"] == t):
                vals = [s["rows"].get(c) for c in ("vqc", "pytorch", "pytorch+tuned")]
                f.write('"%s" %s\n' % (s["case"], " ".join("%.2f" % v["ms"] if v else "?" for v in vals)))
        files.append((t, dat))
    g = ['set terminal pngcairo noenhanced size %d,480 font "DejaVu Sans,10"' % (520 * len(files)),
         'set output "%s"' % path, 'set datafile missing "?"', "set style data histograms",
         "set style histogram clustered gap 1", "set style fill solid 0.85 border -1", "set logscale y",
         "set ylabel 'ms per step (log scale; lower is better)'", "set grid ytics", "set key top left",
         "set yrange [10:*]", "set xtics rotate by -20"]
    if len(files) > 1:
        g.append("set multiplot layout 1,%d" % len(files))
    for t, dat in files:
        no_vqc = all(s["rows"].get("vqc") is None for s in results if s["threads"] == t)
        g.append("set title '%d thread%s%s'" % (t, "" if t == 1 else "s", " (vqc: n/a, not built yet)" if no_vqc else ""))
        g.append("plot '%s' using 2:xtic(1) title 'vqc' lc rgb '#1b9e77', '' using 3 title 'PyTorch' "
                 "lc rgb '#d95f02', '' using 4 title 'PyTorch, tuned malloc' lc rgb '#7570b3'" % dat)
    if len(files) > 1:
        g.append("unset multiplot")
    try:
        p = subprocess.run(["gnuplot"], input="\n".join(g) + "\n", capture_output=True, text=True, timeout=60)
    except OSError as e:
        return "gnuplot not runnable (%s); apt-get install gnuplot-nox" % e
    finally:
        for _, dat in files:
            os.unlink(dat)
    if p.returncode != 0:
        return "gnuplot failed: %s" % p.stderr.strip()[-500:]
    return None
