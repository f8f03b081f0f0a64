"""The technician's side of a run: prompts at a terminal (:class:`TerminalPrompter`), answers given beforehand
for automation (:class:`ScriptedPrompter`, the CLI's options and ``--yes``), and where progress goes: plain lines
(:class:`TextReporter`) or JSON lines (:class:`JsonLinesReporter`, ``--json``).

A terminal prompt waits in a thread of its own, so the event loop keeps the gun's link alive (heartbeats, its
status) while the technician reads, and Ctrl-C still reaches the run.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import date
from enum import Enum
from typing import Any, TextIO, TypeVar

import click

from mesogun.calibration.seams import CalibrationRun, NumberCheck
from mesogun.errors import ParameterError

T = TypeVar("T")

PromptHook = Callable[[str], Awaitable[None] | None]
"""Called with a prompt's key before a scripted answer is given (a test places the check weight there)."""


class ScriptedPrompter:
    """Answers from ``answers`` (by prompt key), confirmations from ``yes``; a question without an answer is a
    :class:`ParameterError` naming the option that gives it (``options``: prompt key → the CLI's option)."""

    def __init__(
        self,
        answers: Mapping[str, object] | None = None,
        *,
        yes: bool = False,
        options: Mapping[str, str] | None = None,
        on_prompt: PromptHook | None = None,
    ) -> None:
        self.answers = dict(answers or {})
        self.yes = yes
        self.options = dict(options or {})
        self.on_prompt = on_prompt
        self.asked: list[str] = []
        """Every prompt's key, in order (what a test checks the procedure asked)."""
        self.shown: list[str] = []

    async def _hook(self, key: str) -> None:
        self.asked.append(key)
        if self.on_prompt is not None:
            result = self.on_prompt(key)
            if result is not None:
                await result

    def _missing(self, key: str, question: str) -> ParameterError:
        option = self.options.get(key)
        how = f"give {option}" if option else "run it at a terminal"
        return ParameterError(f"{question}: no answer in a scripted run ({how})", field=key, value=None)

    async def ask(self, key: str, question: str, *, default: str | None = None) -> str:
        await self._hook(key)
        value = self.answers.get(key, default)
        if value is None or str(value) == "":
            raise self._missing(key, question)
        return str(value)

    async def ask_number(
        self, key: str, question: str, *, unit: str, default: float | None = None, check: NumberCheck | None = None
    ) -> float:
        await self._hook(key)
        value = self.answers.get(key, default)
        if value is None:
            raise self._missing(key, question)
        number = _number(key, value, unit)
        if check is not None:
            check(number)  # refused in one line naming the field, the value, the limit and the unit
        return number

    async def confirm(self, key: str, question: str) -> bool:
        await self._hook(key)
        if key in self.answers:
            return bool(self.answers[key])
        if self.yes:
            return True
        raise ParameterError(f"{question}: no answer in a scripted run (give --yes)", field=key, value=None)

    async def choose(self, key: str, question: str, choices: Sequence[str], *, default: str | None = None) -> str:
        answer = await self.ask(key, question, default=default)
        if answer not in choices:
            raise ParameterError(
                f"{key}={answer!r} is not one of {', '.join(choices)}", field=self.options.get(key, key), value=answer
            )
        return answer

    def show(self, message: str) -> None:
        self.shown.append(message)


def _number(key: str, value: object, unit: str) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise ParameterError(f"{key}={value!r} is not a number ({unit})", field=key, value=value) from None
    if not math.isfinite(number):
        raise ParameterError(f"{key}={value!r} is not a finite number ({unit})", field=key, value=value)
    return number


async def _in_thread(ask: Callable[[], T]) -> T:
    """``ask()`` in a daemon thread: the loop runs meanwhile, and a cancelled run does not wait for the answer."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = ask()
        except BaseException as error:  # click.Abort at end of input, EOFError…: the run's to handle
            loop.call_soon_threadsafe(settle, None, error)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="calibration-prompt", daemon=True).start()
    return await future


class TerminalPrompter:
    """Prompts on the terminal (click), each waiting in its own thread; answers already given as options
    (``answers``) are taken without asking."""

    def __init__(self, answers: Mapping[str, object] | None = None, *, yes: bool = False) -> None:
        self.answers = {k: v for k, v in (answers or {}).items() if v is not None}
        self.yes = yes

    async def ask(self, key: str, question: str, *, default: str | None = None) -> str:
        if key in self.answers:
            return str(self.answers[key])
        return await _in_thread(lambda: str(click.prompt(question, default=default, err=True)))

    async def ask_number(
        self, key: str, question: str, *, unit: str, default: float | None = None, check: NumberCheck | None = None
    ) -> float:
        if key in self.answers:  # given as an option: checked, not asked again
            number = _number(key, self.answers[key], unit)
            if check is not None:
                check(number)
            return number

        def ask() -> float:
            while True:
                number = float(click.prompt(f"{question} ({unit})", default=default, type=float, err=True))
                try:
                    if not math.isfinite(number):
                        raise ParameterError(f"{key}={number} is not a finite number ({unit})", field=key)
                    if check is not None:
                        check(number)
                except ParameterError as refused:  # a typo: say why and ask again
                    click.echo(f"Error: {refused}", err=True)
                    continue
                return number

        return await _in_thread(ask)

    async def confirm(self, key: str, question: str) -> bool:
        if key in self.answers:
            return bool(self.answers[key])
        if self.yes:
            click.echo(f"{question} yes (--yes)", err=True)
            return True
        return await _in_thread(lambda: click.confirm(question, default=True, err=True))

    async def choose(self, key: str, question: str, choices: Sequence[str], *, default: str | None = None) -> str:
        if key in self.answers:
            return str(self.answers[key])
        kind = click.Choice(list(choices))
        return await _in_thread(lambda: str(click.prompt(question, type=kind, default=default, err=True)))

    def show(self, message: str) -> None:
        click.echo(message, err=True)


# ---------------------------------------------------------------------------------------------- reporters


def plain(value: Any) -> Any:
    """A JSON-ready form of a run's values (dataclasses, enums, datetimes, mappings, tuples)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}  # not asdict: it copies mappings
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonLinesReporter:
    """``--json``: one JSON object per line on ``out``: ``{"event": "step", …}``, ``{"event": "reading", …}``,
    then ``{"event": "run", …}`` (the whole run)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def _emit(self, event: dict[str, Any]) -> None:
        click.echo(json.dumps(plain(event), ensure_ascii=False), file=self.out)

    def step(self, step: str, status: str, **fields: object) -> None:
        self._emit({"event": "step", "step": step, "status": status, **fields})

    def reading(self, series: str, **fields: object) -> None:
        self._emit({"event": "reading", "series": series, **fields})

    def finished(self, run: CalibrationRun) -> None:
        self._emit({"event": "run", **plain(run)})


class TextReporter:
    """Plain lines for a person (stderr by default, so stdout keeps the closing summary only)."""

    def __init__(self, *, err: bool = True) -> None:
        self.err = err

    def step(self, step: str, status: str, **fields: object) -> None:
        said = _said(fields)
        click.echo(f"{step}: {status}" + (f" ({said})" if said else ""), err=self.err)

    def reading(self, series: str, **fields: object) -> None:
        click.echo(f"  {series}: {_said(fields)}", err=self.err)

    def finished(self, run: CalibrationRun) -> None:
        """The closing summary is the CLI's to print (it knows the record and the certificate)."""


def _said(fields: Mapping[str, object]) -> str:
    """``name value`` pairs for a person: empty values left out, nested results in words, never a Python repr."""
    return ", ".join(f"{k.replace('_', ' ')} {_short(v)}" for k, v in fields.items() if not _empty(v))


def _short(value: object) -> str:
    value = plain(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "; ".join(_short(item) for item in value)
    if isinstance(value, Mapping):
        if {"nominal", "unit", "systematic_pct", "random_pct"} <= value.keys():  # one test point's result
            verdict = "pass" if value.get("passed") else "FAIL"
            return f"{point_words(value)}, {verdict}"
        return ", ".join(f"{str(k).replace('_', ' ')} {_short(v)}" for k, v in value.items() if not _empty(v))
    return str(value)


def _empty(value: object) -> bool:
    """Nothing worth a word: "", None, or an empty mapping or list (a gun with no brand's volume gain yet)."""
    return value in ("", None) or (isinstance(value, Mapping | list | tuple) and not value)


def point_words(point: Mapping[str, Any]) -> str:
    """One test point's result as a technician reads it: ``20 µL: +0.02 %, random 0.08 %``; a depth's systematic
    error in µm, the unit of its ±50 µm limit (``1000 µm: +80.3 µm, random 0.05 %``)."""
    systematic = point.get("systematic_error")
    if point["unit"] == "µm" and systematic is not None:
        error = f"{systematic:+.1f} µm"
    else:
        error = f"{point['systematic_pct']:+.2f} %"
    return f"{point['nominal']:g} {point['unit']}: {error}, random {point['random_pct']:.2f} %"
