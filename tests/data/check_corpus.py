"""Consistency check of a blind corpus (no product code): python3 tests/data/check_corpus.py tests/data/news

Every gold occurs verbatim in its document (a dialogue's in some document), ids are unique, translations match their
Russian original, documents are 2–6.5 KB (reports: 10–18 KB, lessons and techdocs: 4–9 KB, see DOC_BYTES) with a
title line and paragraphs."""

import json
import pathlib
import sys

HERE = pathlib.Path(sys.argv[1]).resolve()
DOCS = {p.name: p.read_text(encoding="utf-8") for p in sorted((HERE / "docs").glob("*.txt"))}
errors = []
# Document size limits in bytes per corpus folder name; reports holds fewer, long structured documents, lessons
# longer study texts, techdocs technical documentation.
DOC_BYTES = {"reports": (10000, 18000), "lessons": (4000, 9000), "techdocs": (4000, 9000)}
LOW, HIGH = DOC_BYTES.get(HERE.name, (2000, 6500))


def load(name):
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


for name, text in DOCS.items():
    size = len(text.encode("utf-8"))
    if not LOW <= size <= HIGH:
        errors.append(f"{name}: {size} bytes")
    if "\n\n" not in text or not text.splitlines()[0].strip():
        errors.append(f"{name}: title line / paragraphs")

seen = set()
sets = {n: load(n) for n in ("questions.jsonl", "questions_en.jsonl", "questions_kk.jsonl")}
lang = {"questions.jsonl": "ru", "questions_en.jsonl": "en", "questions_kk.jsonl": "kk"}
for name, rows in sets.items():
    for q in rows:
        if set(q) != {"id", "question", "lang", "gold", "doc"}:
            errors.append(f"{q['id']}: keys {sorted(q)}")
        if q["id"] in seen:
            errors.append(f"duplicate id {q['id']}")
        seen.add(q["id"])
        if q["lang"] != lang[name]:
            errors.append(f"{q['id']}: lang {q['lang']}")
        if q["doc"] not in DOCS:
            errors.append(f"{q['id']}: no doc {q['doc']}")
            continue
        for g in q["gold"]:
            if g not in DOCS[q["doc"]]:
                errors.append(f"{q['id']}: gold {g!r} not in {q['doc']}")

ru = {q["id"]: q for q in sets["questions.jsonl"]}
for name, suffix in (("questions_en.jsonl", "-en"), ("questions_kk.jsonl", "-kk")):
    for q in sets[name]:
        base = ru.get(q["id"].removesuffix(suffix))
        if base is None or base["gold"] != q["gold"] or base["doc"] != q["doc"]:
            errors.append(f"{q['id']}: does not match its Russian original")

dialogues = load("dialogues.jsonl")
alltext = "\n".join(DOCS.values())
for d in dialogues:
    if d["id"] in seen:
        errors.append(f"duplicate id {d['id']}")
    seen.add(d["id"])
    for t in d["turns"]:
        for g in t["gold"]:
            if g not in alltext:
                errors.append(f"{d['id']}: gold {g!r} in no document")

answerable = sum(1 for q in sets["questions.jsonl"] if q["gold"])
turns = [t for d in dialogues for t in d["turns"]]
print(
    f"docs {len(DOCS)}; ru {len(ru)} ({answerable} answerable, {len(ru) - answerable} not); "
    f"en {len(sets['questions_en.jsonl'])}; kk {len(sets['questions_kk.jsonl'])} "
    f"({sum(1 for q in sets['questions_kk.jsonl'] if q['gold'])} answerable); dialogues {len(dialogues)}, "
    f"turns {len(turns)} ({sum(1 for t in turns if not t['gold'])} unanswerable)"
)
print("\n".join(errors) or "OK")
sys.exit(1 if errors else 0)
