"""Which matcher parameters are in force: the trained file named by the settings, else the
shipped ones. Read again only when the file changes, so each import pays one ``stat``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from backend.mpi.model import MatchModel, default_model
from backend.settings import get_settings

_lock = threading.Lock()
_cached: dict[Path, tuple[tuple[int, int], MatchModel]] = {}


def load_model(path: Path) -> MatchModel:
    """The model saved at ``path`` (a clear error naming the file if it is not one)."""
    try:
        return MatchModel.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a patient matcher model: {exc}") from None


def current_model(path: Path | None = None) -> MatchModel:
    path = path or get_settings().mpi_model_file
    try:
        stat = path.stat()
    except FileNotFoundError:
        return default_model()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        hit = _cached.get(path)
        if hit is None or hit[0] != stamp:
            hit = _cached[path] = (stamp, load_model(path))
        return hit[1]
