"""CLI start-up and command timings: median of N runs, against kcat where kcat has the command.

    python bench/bench_cli.py                       # this checkout's chronik
    python bench/bench_cli.py --before OTHER/chronik  # and another build, side by side

Starts one broker (`chronik integrated --ephemeral`, this checkout) on a free
port, fills a topic with 100,000 lines of 56 bytes (by kcat when it is
installed, so both CLIs read the same batches), runs each command N times and
prints a Markdown table of medians in seconds. The broker is stopped by PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINES = 100_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], stdin: Path | None = None, env: dict | None = None) -> float:
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as inp:
        res = subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env or os.environ)
    took = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.decode()[-300:]}")
    return took


def median(n: int, cmd: list[str], **kw) -> float:
    return statistics.median(timed(cmd, **kw) for _ in range(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10, help="runs per command (median)")
    ap.add_argument("--chronik", default=str(Path(sys.executable).with_name("chronik")))
    ap.add_argument("--before", help="another chronik executable to compare with")
    args = ap.parse_args()
    kcat = shutil.which("kcat")
    clis = {"now": args.chronik}
    if args.before:
        clis = {"before": args.before, **clis}

    tmp = Path(tempfile.mkdtemp(prefix="chronik-bench-cli-"))
    lines = tmp / "lines.txt"
    lines.write_bytes(b"".join(b"line-%06d some payload text here to make it realistic\n" % i
                               for i in range(LINES)))
    port = free_port()
    b = f"127.0.0.1:{port}"
    log = open(tmp / "broker.log", "wb")
    broker = subprocess.Popen([args.chronik, "integrated", "-p", str(port), "-d", str(tmp / "data")],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while b"listening on" not in (tmp / "broker.log").read_bytes():
            if time.monotonic() > deadline or broker.poll() is not None:
                raise SystemExit("broker did not start")
            time.sleep(0.05)
        subprocess.run([args.chronik, "-b", b, "topics", "create", "bench", "sink"], check=True,
                       stdout=subprocess.DEVNULL)
        if kcat:
            timed([kcat, "-b", b, "-P", "-t", "bench"], stdin=lines)
        else:
            timed([args.chronik, "-b", b, "produce", "bench", str(lines)])
        env_complete = dict(os.environ, _CHRONIK_COMPLETE="complete_bash",
                            COMP_WORDS="chronik topics describe ", COMP_CWORD="3")

        rows: list[tuple[str, dict[str, float | None], float | None]] = []

        def row(name: str, sub: list[str], kcat_cmd: list[str] | None = None, **kw) -> None:
            got = {label: median(args.n, [cli, *sub], **kw) for label, cli in clis.items()}
            k = median(args.n, kcat_cmd, **{k: v for k, v in kw.items() if k == "stdin"}) \
                if kcat and kcat_cmd else None
            rows.append((name, got, k))
            print(f"  {name}: " + ", ".join(f"{lab} {v:.3f}s" for lab, v in got.items())
                  + (f", kcat {k:.3f}s" if k is not None else ""), file=sys.stderr)

        row("--version", ["--version"])
        row("topics list", ["-b", b, "topics", "list"], [kcat or "", "-b", b, "-L"])
        row("Tab completion (topic names)", [], env=env_complete)
        row(f"produce {LINES:,} lines", ["-b", b, "produce", "sink", str(lines)],
            [kcat or "", "-b", b, "-P", "-t", "sink"], stdin=lines)
        row(f"consume -e {LINES:,} records", ["-b", b, "consume", "bench", "-e"],
            [kcat or "", "-b", b, "-C", "-t", "bench", "-e", "-q"])
    finally:
        broker.terminate()
        broker.wait(20)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    labels = list(clis)
    print(f"\nmedian of {args.n} runs, seconds (kcat {'installed' if kcat else 'not installed'})\n")
    print("| command | " + " | ".join(f"chronik ({lab})" for lab in labels) + " | kcat |")
    print("|---|" + "---|" * (len(labels) + 1))
    for name, got, k in rows:
        cells = [f"{got[lab]:.3f}" for lab in labels]
        print(f"| {name} | " + " | ".join(cells) + f" | {'' if k is None else f'{k:.3f}'} |")


if __name__ == "__main__":
    main()
