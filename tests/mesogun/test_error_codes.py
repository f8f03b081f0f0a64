"""Every error class that sets its own code has a code no other class has (two classes with one code make a
service reply, an exit line or a log read as the wrong error: it happened with MG850), and every host error is
the class a reply with its code is read back as (:func:`mesogun.errors.error_class_for_code`)."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Iterator

from mesogun.errors import MesogunError, error_class_for_code

HOST_PACKAGES = (
    "mesogun",
    "mesogun.balance",
    "mesogun.calibration",
    "mesogun.firmware",
    "mesogun.clinic",
    "mesogun.record",
)
SERVICE_PACKAGES = ("mesogun_service",)

MIRRORS = {
    "MG100": "mesogun_service.accounts.errors.UserError",
    "MG900": "mesogun_service.errors.ServiceError",
    "MG910": "mesogun_service.accounts.errors.AuthError",
}
"""Codes the service raises under its own class and the host reads as its own (``UserError`` is a
``ParameterError``, ``ServiceError`` a ``ServiceRequestError``, ``AuthError`` an ``AccessDenied`` on the host): one
error, one code, a class on each side of the wire."""


def _import_all(packages: tuple[str, ...]) -> None:
    for name in packages:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if module.name.endswith(("__main__", ".migrations.env")):  # a CLI entry point; alembic's script
                continue
            importlib.import_module(module.name)


def _subclasses(cls: type[MesogunError]) -> Iterator[type[MesogunError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _coded(top: str) -> dict[str, list[type[MesogunError]]]:
    """Code → the classes of the ``top`` package that set it in their own ``__dict__``."""
    _import_all(HOST_PACKAGES + SERVICE_PACKAGES)
    by_code: dict[str, list[type[MesogunError]]] = defaultdict(list)
    classes: set[type[MesogunError]] = {MesogunError, *_subclasses(MesogunError)}
    for cls in classes:
        if "code" in cls.__dict__ and cls.__module__.split(".")[0] == top:
            by_code[cls.__dict__["code"]].append(cls)
    return by_code


def _distinct(classes: list[type[MesogunError]]) -> list[type[MesogunError]]:
    """The classes less those restating a base's code (``Unauthenticated`` is an ``AuthError``: one error)."""
    return [c for c in classes if not any(other is not c and issubclass(c, other) for other in classes)]


def _names(classes: list[type[MesogunError]]) -> list[str]:
    return sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)


def test_no_two_host_errors_share_a_code() -> None:
    shared = {code: _names(_distinct(classes)) for code, classes in _coded("mesogun").items()}
    assert {code: names for code, names in shared.items() if len(names) > 1} == {}


def test_no_two_service_errors_share_a_code_nor_one_with_a_host_error_but_its_mirror() -> None:
    service, host = _coded("mesogun_service"), _coded("mesogun")
    shared = {code: _names(_distinct(classes)) for code, classes in service.items()}
    assert {code: names for code, names in shared.items() if len(names) > 1} == {}
    clashes = {code: names for code, names in shared.items() if code in host and MIRRORS.get(code) not in names}
    assert clashes == {}


def test_every_host_error_is_read_back_from_its_code() -> None:
    unregistered = {
        code: _names(_distinct(classes))
        for code, classes in _coded("mesogun").items()
        if code != MesogunError.code and error_class_for_code(code) is not _distinct(classes)[0]
    }
    assert unregistered == {}, "add these classes to mesogun.errors._known()"
