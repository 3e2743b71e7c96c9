"""Steward's configuration: storage, time zone, adapters and groups.

The file is read with the same strict YAML reader as rule files, so its mistakes get the same
`FILE:LINE:COL` diagnostics. Secrets never live in it: a token is written as `${ENV_VAR}` and read
from the environment at start-up (a literal token is an error, so one cannot be committed by
accident). An adapter whose token variable is unset is simply not started; any other unset
variable is an error unless it has a default (`${VAR:-default}`).

Without a config file Steward runs on embedded defaults: an SQLite file in the current
directory, the stock rules for every chat, and every adapter whose token is in the environment
(the console chat when there is none).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from rules import LIBRARY
from rules.diagnostics import Diagnostic, RuleFileError, Severity
from rules.validation import translate
from rules.yamlsource import Document, KeyPath, SourceText, load_yaml_file, parse_yaml

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_KEYS = frozenset({"token", "secret_token"})
DEFAULT_GROUP = "default"
LIBRARY_PREFIX = "library:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Strict):
    path: str = Field(default="steward.sqlite3", description="SQLite database file.")


class WebhookConfig(_Strict):
    listen: str = "0.0.0.0"
    port: StrictInt = Field(default=8443, ge=1, le=65535)
    url: str = Field(description="Public HTTPS URL Telegram posts updates to.")
    secret_token: str | None = None


class TelegramConfig(_Strict):
    token: str | None = None
    api_url: str | None = Field(
        default=None, description="Self-hosted Bot API server, e.g. http://127.0.0.1:8081/bot"
    )
    file_url: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookConfig | None = None


class DiscordConfig(_Strict):
    token: str | None = None
    api_url: str | None = Field(default=None, description="REST base URL, e.g. a rate-limit proxy.")
    gateway_url: str | None = None
    shards: StrictInt | Literal["auto"] | None = None
    moderator_roles: list[str] = Field(default_factory=list)
    mute_role: str | None = None
    restrict_role: str | None = None


class ConsoleConfig(_Strict):
    enabled: StrictBool | Literal["auto"] = Field(
        default="auto", description="auto: the console runs when no other adapter is configured."
    )
    chat: str = "console"


class AdaptersConfig(_Strict):
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)


class GroupConfig(_Strict):
    chats: list[str] = Field(
        default_factory=list,
        description="Chats of this group as PLATFORM:ID (telegram:-1001234567890, discord:GUILD).",
    )
    rules: list[str] = Field(
        default_factory=lambda: [
            f"{LIBRARY_PREFIX}{n}" for n in ("basic.yaml", "anti-spam.yaml", "ladder.yaml")
        ],
        description="Rule files, relative to this config file; library:NAME is a stock file.",
    )
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    log_chat: str | None = Field(
        default=None, description="Where the moderation log is posted, as PLATFORM:ID."
    )
    timezone: str | None = None
    admins: list[str] = Field(default_factory=list, description="Extra admins as PLATFORM:USER_ID.")
    join_requests: Literal["manual", "screen"] = Field(
        default="manual",
        description="manual: admins answer join requests; screen: Steward approves requests that "
        "break no rule and declines the others.",
    )

    @field_validator("chats", "admins")
    @classmethod
    def _platform_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            _split_ref(value)
        return values

    @field_validator("log_chat")
    @classmethod
    def _log_chat(cls, value: str | None) -> str | None:
        if value is not None:
            _split_ref(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_zone(value)
        return value


class Config(_Strict):
    storage: StorageConfig = Field(default_factory=StorageConfig)
    timezone: str = "UTC"
    locale: Literal["en"] = Field(default="en", description="Only English messages exist so far.")
    adapters: AdaptersConfig = Field(default_factory=AdaptersConfig)
    groups: dict[str, GroupConfig] = Field(default_factory=lambda: {DEFAULT_GROUP: GroupConfig()})

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_zone(value)
        return value


def check_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{name}'; use an IANA name such as Europe/Berlin"
        ) from None


def _split_ref(value: str) -> tuple[str, str]:
    platform, sep, ident = value.partition(":")
    if not sep or not platform or not ident:
        raise ValueError(f"'{value}' should be PLATFORM:ID, e.g. telegram:-1001234567890")
    return platform, ident


@dataclass
class LoadedConfig:
    """A validated config, where it came from, and the resolved rule file paths per group."""

    config: Config
    path: Path | None
    group_rules: dict[str, list[Path]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def base(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def group_for(self, platform: str, chat: str, scope: str = "") -> str:
        """The group a chat belongs to; unknown chats get the default group.

        A chat inside a larger space (a Discord channel in its guild) is also found under the
        space: `discord:GUILD_ID` puts every channel of the guild in the group, and an entry
        for the channel itself wins over it.
        """
        keys = [f"{platform}:{chat}"]
        if scope and scope != chat:
            keys.append(f"{platform}:{scope}")
        for key in keys:
            for name, group in self.config.groups.items():
                if key in group.chats:
                    return name
        return DEFAULT_GROUP

    def group(self, name: str) -> GroupConfig:
        return self.config.groups.get(name) or GroupConfig()

    def database_path(self) -> Path:
        path = Path(self.config.storage.path).expanduser()
        return path if path.is_absolute() else self.base / path


def embedded_default() -> LoadedConfig:
    """The config used without a file: stock rules, SQLite in the working directory."""
    config = Config(
        adapters=AdaptersConfig(
            telegram=TelegramConfig(token=os.environ.get("TELEGRAM_BOT_TOKEN") or None),
            discord=DiscordConfig(token=os.environ.get("DISCORD_BOT_TOKEN") or None),
        )
    )
    loaded = LoadedConfig(config, None)
    loaded.group_rules = {DEFAULT_GROUP: resolve_rule_paths(GroupConfig().rules, Path.cwd())}
    return loaded


def resolve_rule_paths(entries: list[str], base: Path) -> list[Path]:
    paths = []
    for entry in entries:
        if entry.startswith(LIBRARY_PREFIX):
            paths.append(LIBRARY / entry[len(LIBRARY_PREFIX) :])
        else:
            path = Path(entry).expanduser()
            paths.append(path if path.is_absolute() else base / path)
    return paths


def load_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Read, interpolate and validate a config file; raises `RuleFileError` with diagnostics."""
    doc = load_yaml_file(path, display=str(path))
    return config_from_document(doc, Path(path), environ if environ is not None else os.environ)


def load_config_text(
    text: str,
    name: str = "<config>",
    *,
    base: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    doc = parse_yaml(SourceText(name, text))
    return config_from_document(
        doc, (base or Path.cwd()) / "config.yaml", environ if environ is not None else os.environ
    )


def config_from_document(doc: Document, path: Path, environ: Mapping[str, str]) -> LoadedConfig:
    if not isinstance(doc.data, dict):
        raise RuleFileError(
            [
                doc.diagnostic(
                    (), "a config file is a mapping with keys such as `groups:` and `adapters:`"
                )
            ]
        )
    problems: list[Diagnostic] = []
    data = _interpolate(doc, doc.data, (), environ, problems)
    if problems:
        raise RuleFileError(problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(
            translate(exc, Document(doc.source, data, doc.value_marks, doc.key_marks), Config)
        ) from None
    loaded = LoadedConfig(config, path)
    seen_chats: dict[str, str] = {}
    for name, group in config.groups.items():
        loaded.group_rules[name] = resolve_rule_paths(group.rules, path.parent)
        for i, chat in enumerate(group.chats):
            if chat in seen_chats:
                problems.append(
                    doc.diagnostic(
                        ("groups", name, "chats", i),
                        f"chat {chat} is already in group '{seen_chats[chat]}'",
                    )
                )
            seen_chats[chat] = name
        for i, entry in enumerate(group.rules):
            resolved = loaded.group_rules[name][i]
            if not resolved.exists():
                hint = (
                    "stock files: " + ", ".join(sorted(p.name for p in LIBRARY.glob("*.yaml")))
                    if entry.startswith(LIBRARY_PREFIX)
                    else ""
                )
                problems.append(
                    doc.diagnostic(
                        ("groups", name, "rules", i), f"rule file '{entry}' not found", hint=hint
                    )
                )
    if DEFAULT_GROUP not in config.groups:
        loaded.warnings.append(
            doc.diagnostic(
                ("groups",),
                "no `default` group: chats not listed in any group get the stock rules",
                severity=Severity.WARNING,
                key=True,
            )
        )
        loaded.group_rules[DEFAULT_GROUP] = resolve_rule_paths(GroupConfig().rules, path.parent)
    if problems:
        raise RuleFileError(problems)
    return loaded


def _interpolate(
    doc: Document, value: Any, path: KeyPath, environ: Mapping[str, str], problems: list[Diagnostic]
) -> Any:
    """Replace `${VAR}` references; tokens must be references, never literal text."""
    if isinstance(value, dict):
        return {k: _interpolate(doc, v, (*path, k), environ, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(doc, v, (*path, i), environ, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    secret = bool(path) and path[-1] in _SECRET_KEYS
    if secret and not _REFERENCE.fullmatch(value.strip()):
        found = doc.diagnostic(
            path,
            "secrets must come from the environment, not from this file",
            hint=f"write {path[-1]}: ${{{_suggest_var(path)}}} and set that variable",
        )
        # The quoted source line would print the secret itself: mask it.
        masked = found.source_line.replace(value, "*" * 8) if value else found.source_line
        problems.append(replace(found, source_line=masked))
        return None
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ and environ[name] != "":
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    result = _REFERENCE.sub(substitute, value)
    if missing:
        if secret:
            return None  # an adapter without its token is not started
        problems.append(
            doc.diagnostic(
                path,
                f"environment variable {missing[0]} is not set",
                hint=f"set it, or give a default: ${{{missing[0]}:-VALUE}}",
            )
        )
    if secret and result == "":
        return None
    return result


def _suggest_var(path: KeyPath) -> str:
    parts = [str(p).upper() for p in path if isinstance(p, str) and p not in ("adapters",)]
    if parts and parts[0] in ("TELEGRAM", "DISCORD") and parts[-1] == "TOKEN":
        return f"{parts[0]}_BOT_TOKEN"
    return "_".join(parts) or "SECRET"
