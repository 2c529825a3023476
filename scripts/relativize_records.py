"""Rewrite absolute machine paths inside the committed records (JSON, CSV, markdown under docs/) as paths
relative to the repository, or to the data root for DHSD files, so that no record names one machine's folders.

    python3 scripts/relativize_records.py [DIR_OR_FILE ...]      # default: docs/
    python3 scripts/relativize_records.py --check [DIR ...]      # list what would change, exit 1 if anything

`/work/any/outputs/cv/x/best.ckpt` -> `outputs/cv/x/best.ckpt` (from the first folder the repository has at
its top), `/work/shared/data/dhsd/images/1/1_0.png` -> `dhsd/images/1/1_0.png` (relative to the data root,
`HTR_DHSD_DIR`'s parent), anything else under a machine root (`/work/NAME/`, `/tmp/`, `/root/`,
`/home/USER/`) loses that root. Idempotent: a relative path is left as it is. Standard library only, so that
`scripts/keep_cv_records.sh` can run it with any Python 3.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Folders at the repository's top whose name, met inside an absolute path, starts the repo-relative part.
REPO_TOPS = ("outputs", "htr_lit", "docs", "tests", "scripts", "sweeps", "conf", "data")
# A machine root and the absolute path it starts (up to a quote, blank, comma, bracket or backtick).
ABSOLUTE = re.compile(r"(?<![\w.~$}/])/(?:work|tmp|root|home)/[^\s\"'`,;)\]}<>|]*")
MACHINE_ROOT = re.compile(r"^/(?:work/[^/]+|tmp|root|home/[^/]+)/?")
DATA_ROOT = re.compile(r"^/work/shared/data/(?=dhsd)")  # the data root beside the checkouts (HTR_DHSD_DIR's parent)
SUFFIXES = (".json", ".csv", ".md")


def relative(path: str) -> str:
    """The repo- or data-root-relative form of one absolute machine path."""
    if DATA_ROOT.match(path):
        return DATA_ROOT.sub("", path)  # a DHSD file of the shared data root: dhsd/...
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part in REPO_TOPS and i >= 2:
            return "/".join(parts[i:])
    return MACHINE_ROOT.sub("", path) or "."


def rewrite(text: str) -> str:
    """`text` with every absolute machine path made relative."""
    return ABSOLUTE.sub(lambda m: relative(m.group(0)), text)


def files(targets: list[Path]) -> list[Path]:
    out: list[Path] = []
    for target in targets:
        if target.is_file():
            out.append(target)
        else:
            out.extend(sorted(p for p in target.rglob("*") if p.is_file() and p.suffix in SUFFIXES))
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    targets = [Path(a) for a in argv if a != "--check"] or [ROOT / "docs"]
    changed = []
    for path in files(targets):
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    verb = "would rewrite" if check else "rewrote"
    print(f"{verb} {len(changed)} file(s)" + "".join(f"\n  {p}" for p in changed))
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
