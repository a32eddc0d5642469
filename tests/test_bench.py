"""The benchmarks still start against the current API: each script's imports and constants load, and each one with
options prints its usage with the first line of its docstring. `make bench` runs them for their figures."""

import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))
OPTIONS = {
    "answer_latency.py": ["--index", "--limit"],
    "build.py": ["--docs", "--engines"],
    "build_memory.py": ["--sizes", "--dim"],
    "confidence.py": ["--baseline-src", "--rounds"],
    "ocr.py": ["--pages"],
    "load.py": ["--clients", "--questions", "--deadline", "--url", "--threads"],
    "milvus_query.py": ["--size", "--rounds", "--work"],
    "misplaced_quotes.py": ["--index", "--dump", "--examples"],
    "restated_quotes.py": ["--index", "--examples"],
    "retrieval.py": ["--rounds"],
    "retrieval_sensitivity.py": ["--questions"],
    "scale.py": ["--sizes", "--rounds", "--kinds", "--no-incremental"],
    "startup.py": ["--runs", "--rounds", "--src", "--baseline-src", "--no-build", "--only-build"],
}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_each_benchmark_loads_against_the_current_api(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # as when run as a script: a benchmark may import its neighbours
    module = runpy.run_path(str(script), run_name="bench_smoke")
    assert callable(module["main"]), f"{script.name} has no main()"


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_each_benchmark_with_options_prints_its_usage(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = BENCH / name
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage:")
    first_line = " ".join(script.read_text(encoding="utf-8").split('"""')[1].splitlines()[0].split())
    assert first_line[:40] in " ".join(out.split())
    for option in OPTIONS[name]:
        assert option in out
    assert sorted(OPTIONS) == sorted(s.name for s in SCRIPTS if "argparse" in s.read_text(encoding="utf-8"))
