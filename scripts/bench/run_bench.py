#!/usr/bin/python3
"""`make bench`: vqc against PyTorch on this machine, in one run, and docs/benchmarks.{md,png}.

    /usr/bin/python3 scripts/bench/run_bench.py [--quick] [--threads 2,1] [--cases tiny@32,f16@64]
        [--rounds 3] [--out docs] [--fma build/bench/fma_peak] [--keep-coretype]

First it generates and compiles each case's vqc program (BUILD/vqc VQC_ARGS -o BUILD/bench/gen/...,
make -C; files rewritten only when vqc's output changed, so an unchanged program is not recompiled;
--no-build uses what is there). Then, for every thread count (2 first: the headline) and case
(scripts/bench/cases.json), it runs --rounds rounds, each alternating three configurations in fresh
processes, so slow drifts of the (shared) machine hit all three alike:
  vqc             PROGRAM bench --batch B --threads T --steps N --warmup W --json (first round: with
                  its per-op breakdown; fwd cases --forward-only); n/a with the reason when not built
  pytorch         torch_bench.py --case C --threads T --steps N
  pytorch+tuned   the same with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
                  (no mmap/munmap churn for large blocks; it was 1.0-1.6x faster here before)
Each process warms up first and reports the median of its N timed steps; the table holds the
median over rounds (3 measured processes, so >= 3 measured runs after warm-up; --quick: 1 round,
2 threads only, fewer steps, and it writes to build/bench/ instead of docs/). Peak RSS is the
process's ru_maxrss from wait4 (the largest over rounds). GFLOP/s = the case's FLOPs as counted on
the PyTorch reference step (flops.py) / the configuration's time, so every row divides the same
work; % peak divides by build/bench/fma_peak's measured FMA peak at that thread count.
Every process gets OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T, and OPENBLAS_CORETYPE is removed
from its environment (a user's machine does not set it; --keep-coretype keeps it).
The machine may be shared: before each process it waits (up to --max-wait s) for >= 85% idle CPUs.
Raw results (every process's JSON, rusage, idle fraction, load average) go to OUT/benchmarks.json.
Last, the cases.json "breakdown" entries (vqc only, first thread count) add per-op breakdowns.
"""
import argparse
import filecmp
import json
import os
import shutil
import shlex
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from cases import load_breakdowns, load_cases  # noqa: E402
import report  # noqa: E402

PYTHON = os.environ.get("VQ_PYTHON", "/usr/bin/python3")
BUILD_DIR = os.path.join(REPO, os.environ.get("BUILD", "build"))
TUNED = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
CONFIGS = ("vqc", "pytorch", "pytorch+tuned")
NA_VQC = "not built"
DISTURBED = 0.25      # other processes' CPUs beyond the ones this run leaves free: measured again


def base_env(threads, keep_coretype):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    env.pop("GLIBC_TUNABLES", None)
    if not keep_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
    return env


def measure(argv, env):
    """Run argv in a fresh process; returns its last JSON line as a dict, with the OS's view added:
    _rss_mb (ru_maxrss from wait4, this process only), _cpu_s (user + system), _wall_s, _loadavg.
    Raises RuntimeError naming the command, with its stderr, when it fails or prints no JSON."""
    busy0 = _busy_jiffies()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    chunks = {"out": [], "err": []}
    readers = [threading.Thread(target=lambda k=k, f=f: chunks[k].append(f.read()))
               for k, f in (("out", p.stdout), ("err", p.stderr))]
    for r in readers:
        r.start()
    _, status, ru = os.wait4(p.pid, 0)       # wait4, not Popen.wait: we want this child's rusage
    wall = time.monotonic() - t0
    busy = (_busy_jiffies() - busy0) / os.sysconf("SC_CLK_TCK")
    for r in readers:
        r.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = "".join(chunks["out"]), "".join(chunks["err"])
    cmd = " ".join(shlex.quote(x) for x in argv)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s" % (cmd, p.returncode, err[-2000:]))
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError("%s: printed no JSON line\n%s%s" % (cmd, out[-1000:], err[-1000:]))
    res = json.loads(lines[-1])
    res["_rss_mb"] = round(ru.ru_maxrss / 1024.0, 1)          # Linux: KiB
    res["_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 3)
    res["_wall_s"] = round(wall, 3)
    # CPUs kept busy by anything else meanwhile (the machine may be shared): > ~0.25 means disturbed.
    res["_others_cores"] = round(max(0.0, busy - res["_cpu_s"]) / wall, 2)
    res["_loadavg"] = open("/proc/loadavg").read().split()[:3]
    return res


def _busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]          # all but idle and iowait (guest time is inside user)


def cpu_idle(seconds=0.5):
    """Fraction of all CPUs idle over `seconds` (from /proc/stat)."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)             # idle + iowait, total
    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return (i1 - i0) / max(1, t1 - t0)


def wait_idle(need=0.85, max_wait=120.0):
    """The machine is shared: wait (at most max_wait s) until two consecutive half-second samples
    show >= need of the CPUs idle, so a measurement does not start on top of someone's build.
    Returns the last idle fraction seen (recorded with each run)."""
    if max_wait <= 0:
        return round(cpu_idle(), 2)
    t_end, ok, idle = time.monotonic() + max_wait, 0, 0.0
    while time.monotonic() < t_end:
        idle = cpu_idle()
        ok = ok + 1 if idle >= need else 0
        if ok >= 2:
            break
    return round(idle, 2)


def program_path(case):
    return os.path.join(BUILD_DIR, "bench", case["program"])


def build_vqc(case, built, log=sys.stderr):
    """Generates and compiles case's program once per program (built: {program: status}). Returns
    "built" or "failed: <why>". vqc writes into a scratch directory; files whose content did not
    change are kept (with their times), so make recompiles only what vqc changed."""
    prog = program_path(case)
    if prog in built:
        return built[prog]
    gen = os.path.dirname(prog)
    scratch = gen + ".new"
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(os.path.dirname(gen), exist_ok=True)
    vqc = os.path.join(BUILD_DIR, "vqc")
    argv = [vqc] + shlex.split(case["vqc_args"]) + ["-o", scratch]
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        built[prog] = "failed: vqc: %s" % (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        print("run_bench: %s: %s" % (case["name"], built[prog]), file=log)
        return built[prog]
    os.makedirs(gen, exist_ok=True)
    for f in os.listdir(scratch):
        src, dst = os.path.join(scratch, f), os.path.join(gen, f)
        if not (os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False)):
            os.replace(src, dst)
    shutil.rmtree(scratch, ignore_errors=True)
    p = subprocess.run(["make", "-s", "-C", gen], cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        built[prog] = "failed: make: %s" % ((p.stderr or p.stdout).strip().splitlines() or ["?"])[-1][:200]
    else:
        built[prog] = "built"
    print("run_bench: %s: vqc %s -> %s: %s (%.1f s)" % (case["name"], case["vqc_args"],
          os.path.relpath(prog, REPO), built[prog], time.monotonic() - t0), file=log)
    return built[prog]


def vqc_argv(case, threads, steps, profile=False):
    prog = program_path(case)
    if not (os.path.isfile(prog) and os.access(prog, os.X_OK)):
        return None
    argv = [prog, "bench", "--batch", str(case["batch"]), "--threads", str(threads), "--steps", str(steps),
            "--warmup", str(case.get("warmup", 1)), "--json"]
    if case["mode"] == "fwd":
        argv += ["--forward-only", "--no-profile"]
    elif not profile:
        argv += ["--no-profile"]
    return argv


def breakdown_of(res, top=12):
    """The per-op part of a vqc bench JSON: categories (ms), the profiled step, the top ops."""
    if not res or "categories" not in res:
        return None
    ops = sorted(res.get("ops", {}).items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    return dict(model=res.get("model"), batch=res.get("batch"), threads=res.get("threads"),
                disc=res.get("disc"), step_ms=res["profiled_step_ms"], categories=res["categories"],
                n_ops=len(res.get("ops", {})), top=[[k, v[0], v[1]] for k, v in ops[:top]])


def torch_argv(case, threads, steps):
    return [PYTHON, os.path.join(HERE, "torch_bench.py"), "--case", case["name"], "--threads", str(threads),
            "--steps", str(steps), "--warmup", str(case.get("warmup", 1))]


def step_ms(res, mode):
    return res.get("forward_ms" if mode == "fwd" else "train_step_ms")


def fma_peaks(fma, threads):
    if not (fma and os.path.isfile(fma)):
        print("run_bench: %s not built; %% of peak will be n/a (make %s)" % (fma, fma), file=sys.stderr)
        return {}
    peaks = {}
    out = subprocess.run([fma] + [str(t) for t in threads], capture_output=True, text=True, check=True).stdout
    for ln in out.splitlines():
        r = json.loads(ln)
        peaks[r["threads"]] = r["gflops"]
    return peaks


def disturbed(res, threads):
    """Other processes used more CPUs than the (cpus - threads) this run leaves free, plus slack."""
    return res["_others_cores"] > max(0, (os.cpu_count() or 1) - threads) + DISTURBED


def summarize(case, threads, runs, peak):
    """runs: {config: [result dicts]} -> {config: row dict} for the table."""
    flops = None
    for r in runs.get("pytorch", []) + runs.get("pytorch+tuned", []):
        flops = r.get("flops") or flops
    rows = {}
    for cfg in CONFIGS:
        rs = [r for r in runs.get(cfg, []) if step_ms(r, case["mode"])]
        if not rs:
            rows[cfg] = None
            continue
        ms = statistics.median(step_ms(r, case["mode"]) for r in rs)
        gflops = flops / (ms / 1e3) / 1e9 if flops else statistics.median(r.get("gflops") or 0 for r in rs)
        rows[cfg] = dict(ms=ms, images_per_s=case["batch"] / (ms / 1e3), gflops=gflops,
                         disc=(all(r.get("disc") for r in rs) if cfg == "vqc" else case["mode"] == "train"),
                         pct_peak=100.0 * gflops / peak if peak else None,
                         peak_rss_mb=max(r["_rss_mb"] for r in rs),
                         cores_used=statistics.median(r["_cpu_s"] / r["_wall_s"] for r in rs),
                         runs=len(rs), disturbed=sum(disturbed(r, threads) for r in rs),
                         all_ms=[round(step_ms(r, case["mode"]), 1) for r in rs])
    vqc = rows.get("vqc")
    for cfg in ("pytorch", "pytorch+tuned"):
        if rows.get(cfg):
            rows[cfg]["vs_vqc"] = rows[cfg]["ms"] / vqc["ms"] if vqc else None
    return dict(case=case["name"], mode=case["mode"], batch=case["batch"], threads=threads, flops=flops,
                rows=rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                    help="1 round, 2 threads, fewer steps, output to build/bench (also BENCH_QUICK=1)")
    ap.add_argument("--threads", help="comma-separated thread counts (default 2,1; quick 2)")
    ap.add_argument("--cases", help="comma-separated case names (default all)")
    ap.add_argument("--rounds", type=int, help="measured processes per configuration (default 3; quick 1)")
    ap.add_argument("--steps", type=int, help="timed steps per process for every case (default: cases.json)")
    ap.add_argument("--warmup", type=int, help="warm-up steps per process for every case (default: cases.json)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="subset of %s" % ",".join(CONFIGS))
    ap.add_argument("--out", help="where benchmarks.{md,png,json} go (default docs; quick build/bench)")
    ap.add_argument("--fma", default=os.path.join(os.environ.get("BUILD", "build"), "bench", "fma_peak"))
    ap.add_argument("--retries", type=int, default=1, help="re-runs of a disturbed measurement (default 1)")
    ap.add_argument("--max-wait", type=float, default=30.0,
                    help="seconds to wait for an idle machine before each run (0: do not wait)")
    ap.add_argument("--keep-coretype", action="store_true", help="leave OPENBLAS_CORETYPE as it is set")
    ap.add_argument("--no-build", action="store_true", help="run the vqc programs already built, do not regenerate")
    ap.add_argument("--no-breakdown", action="store_true", help="skip cases.json's vqc-only breakdown runs")
    ap.add_argument("--render", metavar="JSON", help="only re-write OUT/benchmarks.{md,png} from a "
                    "benchmarks.json (e.g. after changing report.py), re-judging disturbed runs")
    a = ap.parse_args(argv)
    if a.render:
        with open(a.render) as f:
            saved = json.load(f)
        out_dir = os.path.join(REPO, a.out) if a.out else os.path.dirname(os.path.abspath(a.render))
        for s in saved["results"]:
            for cfg, row in s["rows"].items():
                if row:
                    row["disturbed"] = sum(disturbed(r, s["threads"]) for r in s["raw"][cfg])
        report.write_markdown(os.path.join(out_dir, "benchmarks.md"), saved["results"], saved["meta"],
                              saved.get("breakdowns", []))
        err = report.write_png(os.path.join(out_dir, "benchmarks.png"), saved["results"])
        print(report.text_table(saved["results"]))
        if err:
            print("run_bench: no chart: %s" % err, file=sys.stderr)
        return

    threads = [int(t) for t in (a.threads or ("2" if a.quick else "2,1")).split(",")]
    rounds = a.rounds or (1 if a.quick else 3)
    cases = load_cases()
    extra = [] if a.no_breakdown else load_breakdowns()
    if a.warmup is not None:
        for c in cases + extra:
            c["warmup"] = a.warmup
    if a.cases:
        want = a.cases.split(",")
        unknown = [w for w in want if w not in [c["name"] for c in cases + extra]]
        if unknown:
            ap.error("unknown case(s) %s (known: %s)" % (unknown, ", ".join(c["name"] for c in cases)))
        cases = [c for c in cases if c["name"] in want]
        extra = [c for c in extra if c["name"] in want]
    configs = a.configs.split(",")
    if any(c not in CONFIGS for c in configs):
        ap.error("--configs: expected a subset of %s" % ",".join(CONFIGS))
    out_dir = os.path.join(REPO, a.out or (os.path.join(os.environ.get("BUILD", "build"), "bench") if a.quick
                                           else "docs"))
    os.makedirs(out_dir, exist_ok=True)

    started = time.time()
    machine = report.machine_info(PYTHON)
    wait_idle(max_wait=a.max_wait)
    peaks = fma_peaks(os.path.join(REPO, a.fma), threads)       # again at the end; the max counts
    print("run_bench: %s; FMA peak %s GFLOP/s; %d round(s); threads %s" %
          (machine["cpu"], peaks or "n/a", rounds, threads), file=sys.stderr)

    built = {}
    if "vqc" in configs or extra:
        for case in cases + extra:
            if a.no_build:
                built[program_path(case)] = "built" if vqc_argv(case, 1, 1) else NA_VQC
            else:
                build_vqc(case, built)

    results, failed = [], []
    for t in threads:
        for case in cases:
            steps = a.steps or case["steps"]["quick" if a.quick else "full"]
            runs = {cfg: [] for cfg in configs}
            for rnd in range(rounds):
                for cfg in configs:
                    env = base_env(t, a.keep_coretype)
                    if cfg == "vqc":
                        argv_ = vqc_argv(case, t, steps, profile=rnd == 0)
                        if argv_ is None:
                            continue
                    else:
                        argv_ = torch_argv(case, t, steps)
                        if cfg == "pytorch+tuned":
                            env["GLIBC_TUNABLES"] = TUNED
                    r = None
                    for attempt in range(1 + a.retries):
                        idle = wait_idle(max_wait=a.max_wait)
                        try:
                            r = measure(argv_, env)
                        except RuntimeError as e:
                            print("run_bench: %s T=%d %s FAILED: %s" % (case["name"], t, cfg, e), file=sys.stderr)
                            failed.append("%s T=%d %s" % (case["name"], t, cfg))
                            r = None
                            break
                        r["_attempt"] = attempt + 1
                        if not disturbed(r, t):
                            break
                        print("run_bench: %s T=%d %s: other processes used %.2f CPUs meanwhile; %s" %
                              (case["name"], t, cfg, r["_others_cores"],
                               "again" if attempt < a.retries else "kept, marked disturbed"), file=sys.stderr)
                    if r is None:
                        continue
                    r["_config"], r["_idle_before"] = cfg, idle
                    runs[cfg].append(r)
                    print("run_bench: %-12s T=%d round %d %-14s %9.1f ms  rss %7.1f MB  cores %.2f  others %.2f"
                          % (case["name"], t, rnd + 1, cfg, step_ms(r, case["mode"]) or float("nan"),
                             r["_rss_mb"], r["_cpu_s"] / r["_wall_s"], r["_others_cores"]),
                          file=sys.stderr, flush=True)
            s = summarize(case, t, runs, peaks.get(t))
            s["raw"] = runs
            bstat = built.get(program_path(case), NA_VQC)
            s["vqc_status"] = ("measured" if runs.get("vqc") else
                               "not run" if "vqc" not in configs else
                               "n/a (%s)" % bstat if bstat != "built" else "failed")
            s["breakdown"] = next((breakdown_of(r) for r in runs.get("vqc", []) if breakdown_of(r)), None)
            results.append(s)

    breakdowns = [dict(s["breakdown"], case=s["case"], train_step_ms=s["rows"]["vqc"]["ms"])
                  for s in results if s.get("breakdown") and s["threads"] == threads[0]]
    for case in extra:
        argv_ = vqc_argv(case, threads[0], a.steps or case["steps"]["quick" if a.quick else "full"], profile=True)
        if argv_ is None:
            print("run_bench: breakdown %s: %s" % (case["name"], built.get(program_path(case), NA_VQC)),
                  file=sys.stderr)
            continue
        wait_idle(max_wait=a.max_wait)
        try:
            r = measure(argv_, base_env(threads[0], a.keep_coretype))
        except RuntimeError as e:
            print("run_bench: breakdown %s FAILED: %s" % (case["name"], e), file=sys.stderr)
            failed.append("breakdown %s" % case["name"])
            continue
        b = breakdown_of(r)
        if b:
            b.update(case=case["name"], train_step_ms=r.get("train_step_ms"), disturbed=disturbed(r, threads[0]))
            breakdowns.append(b)
        print("run_bench: breakdown %-12s T=%d %9.1f ms  others %.2f" % (case["name"], threads[0],
              r.get("train_step_ms") or float("nan"), r["_others_cores"]), file=sys.stderr, flush=True)

    if peaks:
        wait_idle(max_wait=a.max_wait)
        end = fma_peaks(os.path.join(REPO, a.fma), threads)
        peaks = {t: max(peaks[t], end.get(t, 0)) for t in peaks}
        for s in results:
            pk = peaks.get(s["threads"])
            for row in s["rows"].values():
                if row and pk:
                    row["pct_peak"] = 100.0 * row["gflops"] / pk
    meta = dict(machine, date=time.strftime("%Y-%m-%d %H:%M %Z"), quick=a.quick, rounds=rounds,
                threads=threads, fma_peak_gflops=peaks, seconds=round(time.time() - started),
                keep_coretype=a.keep_coretype, tuned=TUNED, failed=failed,
                command="BENCH_QUICK=1 make bench" if a.quick else "make bench",
                argv=" ".join(shlex.quote(x) for x in sys.argv))
    table = report.text_table(results)
    print(table)
    for b in breakdowns:
        print(report.breakdown_text(b))
    with open(os.path.join(out_dir, "benchmarks.json"), "w") as f:
        json.dump(dict(meta=meta, results=results, breakdowns=breakdowns), f, indent=1)
    report.write_markdown(os.path.join(out_dir, "benchmarks.md"), results, meta, breakdowns)
    png = os.path.join(out_dir, "benchmarks.png")
    err = report.write_png(png, results)
    if err:
        print("run_bench: no chart: %s" % err, file=sys.stderr)
    print("run_bench: wrote %s/benchmarks.{md,json%s} in %d s" % (out_dir, "" if err else ",png", meta["seconds"]),
          file=sys.stderr)
    if failed:
        print("run_bench: FAILED runs: %s" % "; ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
