"""Docs and docstrings point at files that exist: a path named in README.md, docs/, or any
source or SQL file of the repository must be there (a glob must match something)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from service.config import PROJECT_ROOT

TOP_LEVEL = ("service", "tests", "bench", "docs", "supabase", "sql_tests", "scripts")
# A path: a top-level folder, then segments; stops at what cannot be part of one.
PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w.*/-]*[\w*/])" % "|".join(TOP_LEVEL))
# Placeholders and elisions name no one file: `NN_<concern>.sql`, `<name>/`, `2026…`.
TEMPLATE = re.compile(r"NN_|<|…|\.\.\.")
SUFFIXES = {".md", ".py", ".sql", ".toml", ".sh", ""}


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [PROJECT_ROOT / name for name in listed
            if Path(name).suffix in SUFFIXES and (PROJECT_ROOT / name).is_file()]


def named_paths(text: str) -> set[str]:
    found = set()
    for match in PATH.finditer(text):
        path = match.group(1).rstrip(".")
        end = match.end(1)
        if TEMPLATE.search(text[match.start(1):end + 1]):
            continue
        # A name without a suffix or a trailing slash is a word, not a path ("supabase/splinter").
        if path.endswith("/") or "*" in path or Path(path).suffix:
            found.add(path)
    return found


def exists(path: str) -> bool:
    if "*" in path:
        return any(PROJECT_ROOT.glob(path))
    return (PROJECT_ROOT / path).exists()


def test_every_named_path_exists() -> None:
    missing = sorted(f"{file.relative_to(PROJECT_ROOT)}: {path}" for file in tracked_files()
                     for path in named_paths(file.read_text(encoding="utf-8", errors="replace"))
                     if not exists(path))
    assert missing == []


def test_the_check_sees_paths_and_skips_templates() -> None:
    assert named_paths("see `service/integrations/records.py`, docs/queue.md.") == {
        "service/integrations/records.py", "docs/queue.md"}
    assert named_paths("supabase/schemas/NN_<concern>.sql, supabase/splinter, 2026…") == set()
    assert not exists("service/" + "webhooks/inbox.py")  # split: this file names no path itself
