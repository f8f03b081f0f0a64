"""``mesogun firmware info|sign|verify|upload|test|confirm|rollback``: a gun's firmware over SMP (issue 17).

The device commands go through the gun service when one runs (as every device command: :mod:`mesogun.cli.remote`;
the service then checks the image against its own pinned keys, and keeps the audit log), else open the gun given
by ``--device`` (the firmware_update family of our protocol) or a standard SMP endpoint (``--endpoint
smp-serial:///dev/ttyACM0?baud=115200``), and enter every attempt and result in the record's audit log (``--db``).
``upload`` shows a progress bar on a terminal (bytes, rate, ETA), ``--json`` progress lines otherwise asked.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mesogun.cli.output import emit_fields, emit_json
from mesogun.cli.progress import Style, choose_style
from mesogun.cli.session import device_url, run_on_gun
from mesogun.errors import MesogunError
from mesogun.firmware.keys import load_trusted_keys

if TYPE_CHECKING:  # smpclient (pydantic, the SMP models) costs ~0.4 s to import: loaded only by a firmware command
    from mesogun.firmware.smp_link import SMPTarget
    from mesogun.firmware.transfer import FirmwareInfo, FirmwareUpdater, UploadProgress, UploadResult

T = TypeVar("T")

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON lines for upload).")
ENDPOINT_OPTION = click.option(
    "--endpoint",
    metavar="URL",
    help="A device's standard SMP serial endpoint instead of --device: smp-serial:///dev/ttyACM0?baud=115200.",
)
KEY_OPTION = click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A pinned public key (PEM), repeatable; default: $MESOGUN_FIRMWARE_KEYS. Not with a gun service (it pins "
    "its own).",
)
REASON_OPTION = click.option("--reason", default="", metavar="TEXT", help="Why (entered in the audit log).")


@click.group("firmware")
def firmware_group() -> None:
    """A gun's firmware: signed MCUboot images uploaded over SMP, tested, confirmed or rolled back."""


def register(cli: click.Group) -> None:
    """Add ``mesogun firmware`` to ``cli``: device commands take the global and service options after their name."""
    from mesogun.cli.options import global_options, service_options

    for name, command in firmware_group.commands.items():
        if name in ("sign", "verify"):
            global_options(command, only=("verbose",))
        else:
            service_options(global_options(command))
    cli.add_command(firmware_group)


# ---------------------------------------------------------------------------------------------- where it goes


def _image_module() -> Any:
    from mesogun.firmware import image

    return image


def _transfer() -> Any:
    from mesogun.firmware import transfer

    return transfer


def _smp_link() -> Any:
    from mesogun.firmware import smp_link

    return smp_link


def _keys(paths: tuple[Path, ...]) -> tuple[bytes, ...]:
    """The pinned keys: ``--trusted-key`` paths, else ``$MESOGUN_FIRMWARE_KEYS``."""
    return load_trusted_keys(list(paths))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _reauthenticate(service: Any, scripted: bool) -> None:
    """``POST /auth/reauth`` with the technician's PIN (``$MESOGUN_PIN`` when scripted, else asked): the service
    lets a device's firmware change only for a technician who re-authenticated within the last minutes."""
    from mesogun.cli.calibrate_service import ask_pin

    try:
        service.client.reauth(ask_pin(scripted=scripted, work="a firmware update", writes="the firmware update"))
    except BaseException:
        service.client.close()
        raise


def _service(ctx: click.Context, endpoint: str | None) -> Any:
    """The service target (client, serial) when the command goes through one, else ``None``."""
    if endpoint:
        return None
    from mesogun.cli.remote import service_target

    return service_target(ctx)


def _audit(ctx: click.Context, serial: str, operation: str, new: dict[str, Any], reason: str = "") -> None:
    """Enter a direct command's attempt or result in the record's audit log (``--db``)."""
    from mesogun.record import TreatmentRecord
    from mesogun.record.firmware import audit_firmware

    with TreatmentRecord(ctx.obj.db) as record:
        audit_firmware(record, serial, operation, actor=_actor(), new=new, reason=reason)


def _direct(
    ctx: click.Context,
    endpoint: str | None,
    operation: str | None,
    work: Callable[[FirmwareUpdater, Any], Awaitable[T]],
    reason: str = "",
) -> T:
    """Run ``work(updater, info)`` on the gun opened directly (``--device``) or a standard endpoint; ``info`` is the
    gun's identity (``None`` for an endpoint). ``operation``: audited (attempt, then result or error)."""

    async def on(target: SMPTarget, info: Any) -> T:
        async with _transfer().FirmwareUpdater(target) as updater:
            serial = info.serial_number if info is not None else target.describe
            if operation is not None:
                _audit(ctx, serial, operation, {"outcome": "started"} | _started.pop(operation, {}), reason)
            try:
                result = await work(updater, info)
            except MesogunError as error:
                if operation is not None:
                    _audit(ctx, serial, operation, _failure(error), reason)
                raise
            if operation is not None:
                _audit(ctx, serial, operation, {"outcome": "done"} | _done(result), reason)
            return result

    if endpoint:
        target = _smp_link().open_smp_target(endpoint)
        return asyncio.run(on(target, None))

    async def body(gun: Any) -> T:
        return await on(_smp_link().gun_target(gun), gun.info)

    return run_on_gun(device_url(ctx), ctx.obj.db, body)


_started: dict[str, dict[str, Any]] = {}
"""What an attempt's audit entry says beyond ``started`` (the upload's image and flags), set by the command."""


def _failure(error: MesogunError) -> dict[str, Any]:
    return {"outcome": "refused" if error.exit_code in (2, 3) else "failed", "error": error.code, "message": str(error)}


def _done(result: object) -> dict[str, Any]:
    if isinstance(result, _transfer().UploadResult):
        fields: dict[str, Any] = _transfer().result_fields(result)
        return fields
    if isinstance(result, _transfer().FirmwareInfo):
        return {"running_version": result.running_version}
    return {}


# ---------------------------------------------------------------------------------------------- output


def _fields(info: FirmwareInfo | dict[str, Any]) -> dict[str, Any]:
    return info if isinstance(info, dict) else _transfer().info_fields(info)


def _show_info(info: FirmwareInfo | dict[str, Any], as_json: bool) -> None:
    fields = _fields(info)
    if as_json:
        emit_json(fields)
        return
    shown: dict[str, Any] = {"device": fields["target"], "running": fields["running_version"] or "unknown"}
    for slot in fields["slots"]:
        flags = [name for name in ("active", "confirmed", "pending", "bootable", "permanent") if slot.get(name)]
        shown[f"slot {slot['slot']}"] = f"{slot['version']} ({', '.join(flags) or 'no flags'}) {slot['hash'][:16]}…"
    if fields.get("buf_size"):
        shown["SMP buffer"] = f"{fields['buf_size']} bytes × {fields['buf_count']}"
    emit_fields(shown)


class UploadView:
    """An upload's progress as the command shows it: a rich bar (bytes, rate, ETA), JSON lines, or plain lines."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self._bar: Any = None
        self._task: Any = None
        self._shown_tenth = -1

    def __enter__(self) -> UploadView:
        if self.style is Style.BAR:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("upload"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("upload", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def __call__(self, p: UploadProgress) -> None:
        if self.style is Style.JSON:
            emit_json({"event": "progress", **asdict(p)})
        elif self.style is Style.BAR:
            self._bar.update(self._task, completed=p.done, total=p.total)
        else:
            tenth = p.done * 10 // max(p.total, 1)
            if tenth != self._shown_tenth:
                self._shown_tenth = tenth
                eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
                click.echo(f"uploaded {p.done}/{p.total} bytes ({p.rate_bps / 1000:.1f} kB/s{eta})")


def _emit_result(result: dict[str, Any], style: Style) -> None:
    if style is Style.JSON:
        emit_json({"event": "summary", **result})
        return
    image = result.get("image", {})
    resumed = f", resumed at byte {result['resumed_from']}" if result.get("resumed_from") else ""
    click.echo(
        f"uploaded firmware {image.get('version')} ({result['size']} bytes{resumed}); "
        f"'mesogun firmware test --reset' swaps it in"
    )


# ---------------------------------------------------------------------------------------------- commands


@firmware_group.command("info")
@ENDPOINT_OPTION
@JSON_OPTION
@click.pass_context
def info_command(ctx: click.Context, endpoint: str | None, as_json: bool) -> None:
    """Show the gun's image slots: versions, hashes, flags (active, confirmed, pending), its SMP buffer."""
    service = _service(ctx, endpoint)
    if service is not None:
        try:
            _show_info(service.client.firmware(service.serial), as_json)
        finally:
            service.client.close()
        return

    async def work(updater: FirmwareUpdater, info: Any) -> FirmwareInfo:
        return await updater.info()

    _show_info(_direct(ctx, endpoint, None, work), as_json)


@firmware_group.command("sign")
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="major.minor.revision[+build]")
@click.option("--model", required=True)
@click.option("--hardware-revision", required=True)
@click.option("--slot-size", required=True, type=int, help="The device's image slot, bytes.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def sign_command(
    payload: Path, key_path: Path, version: str, model: str, hardware_revision: str, slot_size: int, output: Path
) -> None:
    """Sign PAYLOAD into an MCUboot image (ed25519, through imgtool) for MODEL and HARDWARE_REVISION."""
    image = _image_module().sign_image(
        payload.read_bytes(),
        key_path=key_path,
        version=version,
        model=model,
        hardware_revision=hardware_revision,
        slot_size=slot_size,
    )
    output.write_bytes(image)
    click.echo(f"signed {output} ({len(image)} bytes, version {version})")


@firmware_group.command("verify")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_OPTION
@click.option("--model", required=True)
@click.option("--hardware-revision", required=True)
@click.option("--current-version", help="The running version: an older image is a downgrade.")
@click.option("--allow-downgrade", is_flag=True)
@click.option("--slot-size", type=int)
@JSON_OPTION
def verify_command(
    image: Path,
    trusted_keys: tuple[Path, ...],
    model: str,
    hardware_revision: str,
    current_version: str | None,
    allow_downgrade: bool,
    slot_size: int | None,
    as_json: bool,
) -> None:
    """Check IMAGE as an upload would (signature against the pinned keys, hash, model, hardware revision, version)."""
    info = _image_module().verify_image(
        image.read_bytes(),
        trusted_keys=_keys(trusted_keys),
        model=model,
        hardware_revision=hardware_revision,
        current_version=current_version,
        allow_downgrade=allow_downgrade,
        slot_size=slot_size,
    )
    fields = _transfer().image_fields(info)
    emit_json(fields) if as_json else emit_fields({k: str(v) for k, v in fields.items()})


@firmware_group.command("upload")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@KEY_OPTION
@click.option("--allow-downgrade", is_flag=True, help="Let an older image through (recorded in the audit log).")
@REASON_OPTION
@ENDPOINT_OPTION
@click.option("--model", help="With --endpoint: the device's model (a gun reports its own).")
@click.option("--hardware-revision", help="With --endpoint: the device's hardware revision.")
@JSON_OPTION
@click.pass_context
def upload_command(
    ctx: click.Context,
    image: Path,
    trusted_keys: tuple[Path, ...],
    allow_downgrade: bool,
    reason: str,
    endpoint: str | None,
    model: str | None,
    hardware_revision: str | None,
    as_json: bool,
) -> None:
    """Upload IMAGE to the gun's secondary slot: verified first (nothing sent if it is not for this gun, not
    signed by a pinned key, or older without --allow-downgrade), resumed from the gun's offset if the connection
    goes. Then 'mesogun firmware test --reset' swaps it in, 'confirm' keeps it."""
    data = image.read_bytes()
    style = choose_style(as_json)
    service = _service(ctx, endpoint)
    if service is not None:
        if trusted_keys:
            service.client.close()
            raise click.UsageError("--trusted-key: the gun service checks images against its own pinned keys")
        _reauthenticate(service, scripted=as_json or not sys.stdin.isatty())
        _emit_result(_upload_through(service, data, allow_downgrade, reason, style), style)
        return
    keys = _keys(trusted_keys)
    if endpoint and not (model and hardware_revision):
        raise click.UsageError("--endpoint needs --model and --hardware-revision (the device does not say them)")
    _started["upload"] = {"size": len(data), "allow_downgrade": allow_downgrade}

    async def work(updater: FirmwareUpdater, info: Any) -> UploadResult:
        policy = _transfer().UploadPolicy(
            keys,
            info.model if info is not None else str(model),
            info.hardware_revision if info is not None else str(hardware_revision),
            allow_downgrade,
        )
        with UploadView(style) as view:
            return await updater.upload(data, policy, progress=view)

    result = _direct(ctx, endpoint, "upload", work, reason)
    _emit_result(_transfer().result_fields(result), style)


def _upload_through(service: Any, data: bytes, allow_downgrade: bool, reason: str, style: Style) -> dict[str, Any]:
    """The upload through the service, its progress read back every half second while it runs."""
    client, serial = service.client, service.serial
    outcome: dict[str, Any] = {}
    try:
        handed = client.hand_over_image(data)

        def run() -> None:
            try:
                outcome["result"] = client.upload_firmware(
                    serial, handed["image"], allow_downgrade=allow_downgrade, reason=reason
                )
            except MesogunError as error:
                outcome["error"] = error

        worker = threading.Thread(target=run, name="mesogun firmware upload", daemon=True)
        worker.start()
        with UploadView(style) as view:
            while worker.is_alive():
                worker.join(0.5)
                progress = client.firmware_progress(serial) if worker.is_alive() else {}
                if progress:
                    view(_transfer().UploadProgress(**progress))
    finally:
        client.close()
    if "error" in outcome:
        raise outcome["error"]
    result: dict[str, Any] = outcome["result"]
    return result


def _state_command(
    ctx: click.Context, operation: str, endpoint: str | None, reason: str, as_json: bool, **options: Any
) -> None:
    service = _service(ctx, endpoint)
    if service is not None:
        _reauthenticate(service, scripted=as_json or not sys.stdin.isatty())
        try:
            info: Any = service.client.firmware_operation(service.serial, operation, reason=reason, **options)
        finally:
            service.client.close()
        _show_info(info, as_json)
        return

    async def work(updater: FirmwareUpdater, _: Any) -> FirmwareInfo:
        if operation == "test":
            tested = await updater.test(options.get("image_hash"))
            return await updater.reset() if options.get("reset") else tested
        done: FirmwareInfo = await getattr(updater, operation)()
        return done

    _show_info(_direct(ctx, endpoint, operation, work, reason), as_json)


@firmware_group.command("test")
@click.argument("image_hash", required=False, metavar="[HASH]")
@click.option("--reset", is_flag=True, help="Reset the gun afterwards: MCUboot swaps the image in.")
@REASON_OPTION
@ENDPOINT_OPTION
@JSON_OPTION
@click.pass_context
def test_command(
    ctx: click.Context, image_hash: str | None, reset: bool, reason: str, endpoint: str | None, as_json: bool
) -> None:
    """Mark an image for test (default: the secondary slot's): swapped in at the next reset, reverted at the one
    after unless confirmed."""
    _state_command(ctx, "test", endpoint, reason, as_json, image_hash=image_hash, reset=reset)


@firmware_group.command("confirm")
@REASON_OPTION
@ENDPOINT_OPTION
@JSON_OPTION
@click.pass_context
def confirm_command(ctx: click.Context, reason: str, endpoint: str | None, as_json: bool) -> None:
    """Confirm the running image: MCUboot keeps it."""
    _state_command(ctx, "confirm", endpoint, reason, as_json)


@firmware_group.command("rollback")
@REASON_OPTION
@ENDPOINT_OPTION
@JSON_OPTION
@click.pass_context
def rollback_command(ctx: click.Context, reason: str, endpoint: str | None, as_json: bool) -> None:
    """Go back to the previous image (the gun resets)."""
    _state_command(ctx, "rollback", endpoint, reason, as_json)
