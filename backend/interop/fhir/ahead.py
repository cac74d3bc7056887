"""Read and validate the next files in a worker process while the current one is written.

Reading, parsing and validating a file needs nothing from the database, so ``patient360
import fhir`` hands them to one worker process, a file or two ahead of the importer: on
two cores the two run side by side. (Validation used to be half the CPU of an import;
since :mod:`.quick_check` it is a few per cent, so the worker mostly saves the parsing.)
The importer still decides (all or nothing per file) with the problems the worker found;
nothing is written by the worker.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from backend.interop.fhir.reader import Batch, ReadError, read_file
from backend.interop.fhir.validation import Validated, validate_batch

AHEAD = 2
"""Files read and validated ahead of the one being written."""


@dataclass(frozen=True, slots=True)
class Prepared:
    path: Path
    batch: Batch | None
    validated: Validated | None  # None: validate while importing
    error: ReadError | None = None


def _read_and_validate(path: Path) -> tuple[Batch, Validated] | tuple[str, str]:
    """In the worker. A ReadError comes back as (where, message): it does not pickle."""
    try:
        batch = read_file(path)
    except ReadError as exc:
        return exc.where, exc.message
    return batch, validate_batch(batch)


def _prepared(path: Path, result: tuple[Batch, Validated] | tuple[str, str]) -> Prepared:
    if isinstance(result[0], Batch):
        return Prepared(path, result[0], result[1])
    where, message = result
    return Prepared(path, None, None, ReadError(str(where), str(message)))


def prepared_files(paths: list[Path], *, ahead: int = AHEAD) -> Iterator[Prepared]:
    """The files in order, each read and validated by a worker (one file: no worker)."""
    if len(paths) < 2:
        for path in paths:
            try:
                yield Prepared(path, read_file(path), None)
            except ReadError as exc:
                yield Prepared(path, None, None, exc)
        return
    # forkserver, not fork: the progress bar runs a thread, and forking a process with
    # threads can copy a held lock into the child.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        queued: deque[tuple[Path, Future[tuple[Batch, Validated] | tuple[str, str]]]] = deque()
        remaining = iter(paths)
        for path in remaining:
            queued.append((path, pool.submit(_read_and_validate, path)))
            if len(queued) > ahead:
                break
        while queued:
            path, future = queued.popleft()
            following = next(remaining, None)
            if following is not None:
                queued.append((following, pool.submit(_read_and_validate, following)))
            yield _prepared(path, future.result())
