"""The blind corpora's own checks: every gold verbatim in its document, ids unique, translations aligned."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("corpus", ["news", "guides", "reports", "lessons", "techdocs"])
def test_a_blind_corpus_passes_its_own_check(corpus: str) -> None:
    command = [sys.executable, str(DATA / "check_corpus.py"), str(DATA / corpus)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK")
