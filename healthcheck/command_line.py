"""Settings from argv and the environment (flag > env > default): the parser and `load`, derived from OPTIONS."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from healthcheck import __version__
from healthcheck.setting_types import boolean
from healthcheck.settings import OPTIONS, Option, Settings, SettingsError

PROG = "kafka-connect-healthcheck"
_DEFAULTS = {f.name: f.default for f in fields(Settings)}


def _default_text(option: Option) -> str:
    if option.shown_default is not None:
        return option.shown_default
    value = _DEFAULTS[option.field]
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve the health of a Kafka Connect cluster as one HTTP answer: 200 healthy, 503 not.",
        epilog="Every flag can also be set by its environment variable; a flag wins over the environment.",
    )
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar="VALUE",
            default=None,
            # a boolean flag alone means true: `--connect-insecure` is `--connect-insecure true`
            **({"nargs": "?", "const": "true"} if option.convert is boolean else {}),
            help=f"{option.help} [env {option.env}; default {_default_text(option)}]".replace("%", "%%"),
        )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


_URL_CREDENTIALS = re.compile(r"//[^/@]*@")


def _describe(option: Option, raw: str, from_env: bool) -> str:
    where = f"{option.env} (flag {option.flag})" if from_env else option.where.replace("(", "(env ", 1)
    if option.secret:
        return f"invalid {where}"
    # A URL may carry user:password@ (which we refuse): the error must not repeat it.
    return f"invalid {where} value {_URL_CREDENTIALS.sub('//***@', raw)!r}"


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from argv (None: no flags) and environ (None: os.environ); raise SettingsError.

    argparse's own usage errors (an unknown flag, a flag without a value) exit 2 inside parse_args.
    """
    environ = os.environ if environ is None else environ
    flags = vars(build_parser().parse_args(list(argv or [])))
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = flags[option.field]
        from_env = raw is None
        if from_env:
            raw = environ.get(option.env)
        if raw is None:
            continue
        try:
            values[option.field] = option.convert(raw)
        except ValueError as error:
            raise SettingsError(f"{_describe(option, raw, from_env)}: {error}") from None
    return Settings(**values)
