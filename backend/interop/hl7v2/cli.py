"""``patient360 hl7 listen | errors | retry`` and ``patient360 import hl7 PATH...``."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine, select

from backend.common.commands import (
    console,
    database_errors,
    err,
    require_current_schema,
    settings_or_exit,
)
from backend.db import make_engine, transaction, write_transaction
from backend.interop.hl7v2.applier import writer_lock_path
from backend.interop.hl7v2.listener import Listener
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.parse import split_messages
from backend.interop.hl7v2.store import (
    Receipt,
    RetryRefused,
    failed_ids,
    matching_together,
    receive,
    retry,
    together_or_one_at_a_time,
)

hl7_app = typer.Typer(help="HL7 v2: the MLLP listener and the error queue.", no_args_is_help=True)


@hl7_app.command("listen")
@database_errors
def listen(
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (MLLP).")] = 2575,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    ack_after: Annotated[
        str,
        typer.Option(
            "--ack-after",
            help=(
                "applied (default): answer once the message is in the record; every "
                "problem, including an A40's unknown prior patient, is an AE / AR to the "
                "sender. stored: answer AA once the raw message is stored and passed the "
                "checks that need no database, and apply it right after, in order, in a "
                "second process (a faster ACK and a higher sustained rate; a problem only "
                "the database finds lands in the error queue, "
                "'hl7 errors', instead of going back to the sender)."
            ),
        ),
    ] = "applied",
) -> None:
    """Receive HL7 v2 over MLLP until interrupted (Ctrl-C or SIGTERM)."""
    if ack_after not in ("applied", "stored"):
        err.print("[red]--ack-after must be applied or stored[/red]")
        raise typer.Exit(2)
    settings = settings_or_exit()
    if ack_after == "stored":
        try:
            writer_lock_path(settings.database_url)
        except ValueError as exc:  # an in-memory database: no second process can share it
            err.print(f"[red]--ack-after stored: {exc}[/red]")
            raise typer.Exit(2) from None
    require_current_schema(settings)
    engine = make_engine(settings.database_url)
    listener = Listener(
        engine=engine,
        secret_key=settings.secret(),
        host=host,
        port=port,
        ack_after="stored" if ack_after == "stored" else "applied",
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bound = await listener.start()
        console.print(f"listening for HL7 v2 (MLLP) on {host}:{bound}", highlight=False)
        await stop.wait()
        console.print("stopping: finishing messages in flight")
        await listener.stop()

    try:
        asyncio.run(run())
    except OSError as exc:
        err.print(f"[red]cannot listen on {host}:{port}:[/red] {exc.strerror or exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print("stopped")


@hl7_app.command("errors")
@database_errors
def errors(
    state: Annotated[
        str, typer.Option(help="failed (the error queue), rejected, processed or received.")
    ] = "failed",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """List messages in the error queue (ids, types and error codes; no patient data)."""
    try:
        wanted = MessageState(state)
    except ValueError:
        err.print(f"[red]--state must be one of {', '.join(s.value for s in MessageState)}[/red]")
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    require_current_schema(settings)
    engine = make_engine(settings.database_url)
    with transaction(engine) as session:
        rows = session.scalars(
            select(Hl7Message)
            .where(Hl7Message.state == wanted)
            .order_by(Hl7Message.received_at, Hl7Message.id)
            .limit(limit)
        ).all()
        table = Table(title=f"HL7 messages: {wanted.value} ({len(rows)})")
        for column in ("id", "received", "type", "source", "control id", "error", "tries"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row.id),
                f"{row.received_at:%Y-%m-%d %H:%M:%S}",
                row.message_type,
                row.source,
                row.control_id,
                f"{row.error_code or ''}: {row.error_detail or ''}".strip(": "),
                str(row.attempts),
            )
    engine.dispose()
    console.print(table)


@hl7_app.command("retry")
@database_errors
def retry_command(
    message_id: Annotated[str | None, typer.Argument(help="The message id to retry.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Retry every failed message.")] = False,
) -> None:
    """Process failed messages again after a fix; each in its own transaction."""
    if (message_id is None) == (not all_):
        err.print("[red]give a message ID or --all (not both)[/red]")
        raise typer.Exit(2)
    ids: list[uuid.UUID] = []
    if message_id is not None:
        try:
            ids = [uuid.UUID(message_id)]
        except ValueError:
            err.print("[red]ID must be a message id (a UUID)[/red]")
            raise typer.Exit(2) from None
    settings = settings_or_exit()
    require_current_schema(settings)
    engine = make_engine(settings.database_url)
    if all_:
        with transaction(engine) as session:
            ids = failed_ids(session)
    outcomes: Counter[str] = Counter()
    for one in ids:
        try:
            with transaction(engine) as session:
                receipt = retry(session=session, message_id=one, secret_key=settings.secret())
        except LookupError:
            err.print(f"[red]no HL7 message {one}[/red]")
            raise typer.Exit(1) from None
        except RetryRefused as exc:
            err.print(f"[red]{one}: {exc}[/red]")
            raise typer.Exit(1) from None
        outcomes[receipt.state.value] += 1
        console.print(
            f"{one}: {receipt.ack_code} {receipt.state.value} {receipt.error_detail or ''}"
        )
    engine.dispose()
    summary = ", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())) or "nothing to retry"
    console.print(summary)
    if outcomes.get(MessageState.FAILED.value):
        raise typer.Exit(1)


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            found.append(path)
        else:
            err.print(f"[red]no such file or folder: {path}[/red]")
            raise typer.Exit(2)
    return found


IMPORT_BATCH = 200
"""Messages of a file per transaction: a savepoint each, their patients matched together."""


def _import_batch(
    engine: Engine, messages: list[str], secret: str, *, together: bool
) -> list[Receipt]:
    """Receive messages in one transaction, a savepoint each (a message's failure stays
    its own); with ``together`` their patients are matched in one pass at the end."""
    receipts: list[Receipt] = []
    with (
        # write_transaction: on SQLite a plain one would commit each message's savepoint
        # on its RELEASE, and a failed matching pass could not roll the batch back.
        write_transaction(engine) as session,
        matching_together(session, together=together),
    ):
        for message in messages:
            with session.begin_nested():
                receipts.append(
                    receive(session=session, text=message, secret_key=secret, transport="file")
                )
    return receipts


def import_messages(engine: Engine, messages: list[str], secret: str) -> list[Receipt]:
    """Receive a file's messages in one transaction, their patients matched together
    (again one at a time if that pass fails: nothing is lost)."""
    return together_or_one_at_a_time(
        lambda together: _import_batch(engine, messages, secret, together=together)
    )


@database_errors
def import_hl7(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of HL7 v2 messages.")],
) -> None:
    """Import HL7 v2 messages from files (CR or LF separated; several per file)."""
    files = _files(paths)
    settings = settings_or_exit()
    require_current_schema(settings)
    engine = make_engine(settings.database_url)
    counts: Counter[str] = Counter()
    problems: list[tuple[str, Receipt]] = []
    secret = settings.secret()
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        messages = split_messages(text)
        for start in range(0, len(messages), IMPORT_BATCH):
            receipts = import_messages(engine, messages[start : start + IMPORT_BATCH], secret)
            for n, receipt in enumerate(receipts, start=start + 1):
                counts["duplicate" if receipt.duplicate else receipt.state.value] += 1
                if receipt.state != MessageState.PROCESSED and not receipt.duplicate:
                    problems.append((f"{path.name} #{n}", receipt))
    engine.dispose()
    table = Table(title=f"HL7 import: {len(files)} files")
    table.add_column("outcome")
    table.add_column("messages", justify="right")
    for outcome, n in sorted(counts.items()):
        table.add_row(outcome, str(n))
    console.print(table)
    for where, receipt in problems:
        console.print(
            f"{where}: {receipt.ack_code} {receipt.state.value} {receipt.error_code}: "
            f"{receipt.error_detail} (message {receipt.message_id})",
            highlight=False,
        )
    if counts.get(MessageState.FAILED.value):
        raise typer.Exit(1)
