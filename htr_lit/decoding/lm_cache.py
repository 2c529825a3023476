"""On-disk cache of fitted character LMs, so that a big-corpus LM is built once, not at every eval.

The file name is a hash of everything the LM depends on: its settings, the contents of the input files
(word lists, the name lists and code of the place-name generator) and any texts passed in. A changed
input gives a new file; a stale or unreadable file is rebuilt. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from htr_lit.config import project_root
from htr_lit.decoding.lm import CharNgramLM

log = logging.getLogger(__name__)

FORMAT = 1  # bump when CharNgramLM's pickled state changes


def default_cache_dir() -> Path:
    """`<paths.data_dir>/lm_cache`: $HTR_DATA_DIR, else data/ of the checkout (as conf/paths/default.yaml)."""
    return Path(os.environ.get("HTR_DATA_DIR") or project_root() / "data") / "lm_cache"


def fingerprint(files: Iterable[str | Path] = (), texts: Sequence[str] = ()) -> str:
    """sha256 over the contents of `files` (a missing one counts by name) and of `texts`."""
    h = hashlib.sha256()
    for f in files:
        p = Path(f)
        h.update(str(p).encode() + (p.read_bytes() if p.is_file() else b"<missing>"))
    for t in texts:
        h.update(t.encode("utf-8") + b"\n")
    return h.hexdigest()


def cache_key(settings: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-serialisable `settings`."""
    blob = json.dumps({"format": FORMAT, **settings}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def cached_lm(
    settings: Mapping[str, Any],
    build: Callable[[], CharNgramLM],
    cache_dir: str | Path | None,
) -> CharNgramLM:
    """The LM of `settings` from `cache_dir` (None: `default_cache_dir()`), else `build()` it and store it."""
    path = Path(cache_dir or default_cache_dir()).expanduser() / f"charlm-{cache_key(settings)}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as f:
                lm = pickle.load(f)
            if isinstance(lm, CharNgramLM):
                log.info("character LM loaded from %s", path)
                return lm
        except Exception as e:  # noqa: BLE001 - a broken cache file is rebuilt, never fatal
            log.warning("ignoring unreadable LM cache %s (%s)", path, e)
    start = time.perf_counter()  # the first use waits (about a minute for decoder=beam_names): say why
    print(f"building the character LM once (cached in {path.parent}) ...", file=sys.stderr, flush=True)
    lm = build()
    log.info("character LM built in %.1f s", time.perf_counter() - start)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as f:
            pickle.dump(lm, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        log.info("character LM cached in %s", path)
    except OSError as e:
        log.warning("could not cache the character LM in %s (%s); it is rebuilt next time", path, e)
    return lm
