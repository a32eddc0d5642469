"""Load benchmark: concurrent users of the running app through gradio_client, measured in one run.

Starts `app.py` on 127.0.0.1 (a free port) over a temporary copy of the index, with extractive answers (no LLM),
waits until it serves, then CLIENTS threads each open their own `gradio_client.Client` and ask QUESTIONS dev-set
questions (in rotation) through the app's `/ask` API, all at once. Prints how many were answered, the errors,
latency p50/p95/max, throughput, the app's peak RSS and CPU, and its queue settings. Every request has a timeout
and the run a deadline, so it stops by itself; the app is stopped at the end.

    .venv/bin/python bench/load.py [--clients 20] [--questions 10] [--threads N] [--url http://127.0.0.1:PORT/]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
DEV_SET = ROOT / "tests" / "data" / "dev.jsonl"
REQUEST_TIMEOUT = 300.0
STARTUP_TIMEOUT = 300.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, app: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"the app exited with {app.returncode} before serving")
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not serve {url} within {timeout:.0f} s")


def queue_settings() -> str:
    """The queue settings the app launches with, as written in kzru_rag.faces.ui.launch_app."""
    from kzru_rag.faces import ui

    match = re.search(r"\.queue\(([^)]*)\)", inspect.getsource(ui.launch_app))
    return f"demo.queue({match.group(1)})" if match else "Gradio's default queue"


class Sampler(threading.Thread):
    """Samples the app process's RSS and CPU time until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self.cpu_start = sum(self.process.cpu_times()[:2])
        self.cpu_end = self.cpu_start
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            try:
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
                self.cpu_end = sum(self.process.cpu_times()[:2])
            except psutil.Error:
                return


def run_clients(url: str, questions: list[str], clients: int, per_client: int, deadline: float) -> dict[str, list]:
    results: dict[str, list] = {"latencies": [], "errors": [], "unanswered": []}
    lock = threading.Lock()
    start_together = threading.Barrier(clients)

    def user(number: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # counted and printed: a client that cannot connect is an error
            with lock:
                results["errors"].append(f"client {number}: cannot connect: {exc}")
            start_together.abort()
            return
        try:
            start_together.wait(timeout=REQUEST_TIMEOUT)
        except threading.BrokenBarrierError:
            pass
        for i in range(per_client):
            question = questions[(number * per_client + i) % len(questions)]
            if time.monotonic() > deadline:
                with lock:
                    results["unanswered"].append(question)
                continue
            began = time.perf_counter()
            try:
                answer = client.submit(question, api_name="/ask").result(timeout=REQUEST_TIMEOUT)
            except Exception as exc:  # counted and printed below
                with lock:
                    results["errors"].append(f"client {number}, {question!r}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - began
            with lock:
                if isinstance(answer, dict) and answer.get("text") and answer.get("citations") is not None:
                    results["latencies"].append(elapsed)
                else:
                    results["errors"].append(f"client {number}, {question!r}: no answer text: {answer!r:.200}")
        client.close()

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--questions", type=int, default=10, help="questions per client (default 10)")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds after which no new question is asked")
    parser.add_argument("--url", help="an app already running (default: start one)")
    parser.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for the app (torch and FAISS threads; default: all cores)"
    )
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]

    app = None
    work = Path(tempfile.mkdtemp(prefix="kzru-load-"))
    try:
        if args.url:
            url = args.url.rstrip("/") + "/"
        else:
            shutil.copytree(ROOT / "index", work / "index")
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            env = {k: v for k, v in os.environ.items() if not k.startswith("KZRU_RAG_LLM_")}
            if args.threads:
                env["OMP_NUM_THREADS"] = str(args.threads)
            command = [
                sys.executable,
                str(ROOT / "app.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--index",
                str(work / "index"),
            ]
            app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "app.log", "wb"))
            started = time.perf_counter()
            wait_until_serving(url, app, STARTUP_TIMEOUT)
            print(f"app started in {time.perf_counter() - started:.1f} s (model and index loaded)")
        Client(url, verbose=False).predict(questions[0], api_name="/ask")  # warm-up
        sampler = Sampler(app.pid) if app else None
        if sampler:
            sampler.start()
        began = time.perf_counter()
        results = run_clients(url, questions, args.clients, args.questions, time.monotonic() + args.deadline)
        wall = time.perf_counter() - began
        if sampler:
            sampler.stopping.set()
            sampler.join()
    finally:
        if app:
            app.terminate()
            try:
                app.wait(30)
            except subprocess.TimeoutExpired:
                app.kill()
        shutil.rmtree(work, ignore_errors=True)

    latencies = results["latencies"]
    asked = args.clients * args.questions
    print(f"clients {args.clients} x {args.questions} questions = {asked}, all at once, through gradio_client /ask")
    threads = f"OMP_NUM_THREADS={args.threads}" if args.threads else f"default threads ({os.cpu_count()} per pool)"
    print(
        f"app queue: {queue_settings()} (requests beyond that wait in Gradio's queue); "
        f"extractive answers, no LLM; {threads}"
    )
    print(
        f"answered {len(latencies)} / {asked}, errors {len(results['errors'])}, "
        f"not asked (deadline) {len(results['unanswered'])}"
    )
    if latencies:
        print(
            f"latency   p50 {percentile(latencies, 0.5):6.2f} s   p95 {percentile(latencies, 0.95):6.2f} s   "
            f"max {max(latencies):6.2f} s   (request to answer, queueing included)"
        )
        print(f"throughput {len(latencies) / wall:5.2f} answers/s over {wall:.1f} s on {os.cpu_count()} cores")
    if sampler:
        print(
            f"app process: peak RSS {sampler.peak_rss / 2**20:.0f} MiB, "
            f"CPU {sampler.cpu_end - sampler.cpu_start:.1f} s "
            f"({(sampler.cpu_end - sampler.cpu_start) / wall:.2f} cores busy on average)"
        )
    for error in results["errors"][:10]:
        print(f"error: {error}")
    if results["errors"] or len(latencies) != asked:
        sys.exit(1)


if __name__ == "__main__":
    main()
