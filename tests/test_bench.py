"""The retrieval benchmarks still run against the current API and print their figures (one short round each)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_the_retrieval_benchmark_prints_its_ratios():
    out = run("retrieval.py", "--rounds", "1")
    for line in (
        "ratio search/encode",
        "ru questions",
        "en questions",
        "kk questions",
        "ratio build/encode",
        "peak RSS",
    ):
        assert line in out


@pytest.mark.slow
def test_the_sensitivity_benchmark_prints_the_grid_and_the_abstention_reasons():
    out = run("retrieval_sensitivity.py", "--questions", str(Path(__file__).parent / "data" / "holdout.jsonl"))
    assert "leave-one-out over the grid" in out
    assert "it asks for a quantity" in out, "the holdout's quantity questions without an answer are abstained on"


@pytest.mark.slow
def test_the_readers_benchmark_prints_both_comparisons():
    out = run("readers.py")
    for line in (
        "1 column, hyphenated   pypdfium2",
        "2 columns              pypdf ",
        "pavlodar-old-cms.html    trafilatura",
    ):
        assert line in out


@pytest.mark.slow
def test_the_ocr_benchmark_prints_accuracy_and_pages_per_second():
    out = run("ocr.py", "--pages", "2")
    for line in ("character accuracy ru", "character accuracy kk", "pages/s", "ratio OCR/text-layer"):
        assert line in out


@pytest.mark.slow
def test_the_startup_benchmark_prints_both_engines_side_by_side_with_their_ratios():
    out = run("startup.py", "--runs", "1", "--rounds", "1", "--no-build")
    rows = {line[:34].strip(): line[34:].split() for line in out.splitlines()[2:]}
    for label in (
        "CLI start to first search result",
        "CLI peak RSS",
        "app start to first answer",
        "app peak RSS",
        "query p50 (Retriever.search)",
    ):
        nano, _, st, _, ratio, *_ = rows[label]
        assert float(nano) > 0 and float(st) > 0 and float(ratio) == pytest.approx(float(nano) / float(st), abs=0.002)
