"""Shared helpers for the runtime tests (pipeline, executor, commands, storage, e2e).

The `steward` and `steward_factory` fixtures come from Steward's own pytest plugin
(`bot.testing.plugin`, registered through the `pytest11` entry point), exactly as a plugin author
would use them. The rule set below keeps the scenarios short: one strike per bad word, a ladder
whose steps are easy to reach, a shadow rule and a rule that is not exempt for admins.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.actions import Action, ActionKind
from bot.clock import VirtualClock
from bot.config import LoadedConfig, load_config_text
from bot.local import LocalAdapter
from bot.runtime import Runtime
from bot.storage.base import MemberKey
from bot.storage.sqlite import SqliteStore
from bot.testing import StewardHarness

# A ladder that reaches every kind of step in a few offences: warn → mute 1h → mute 1d →
# ban 7d → ban for good, with one strike forgiven per full week without a new one.
LADDER_RULES = textwrap.dedent(
    """\
    version: 1
    ladder:
      decay: {points: 1, every: 7d}
      steps:
        - {at: 1, action: warn}
        - {at: 2, action: mute, duration: 1h}
        - {at: 3, action: mute, duration: 1d}
        - {at: 4, action: ban, duration: 7d}
        - {at: 6, action: ban}
    rules:
      - id: bad-word
        description: No bad words
        when: {words: [badword]}
        strike: 1
        delete: true
        reply: "{user}, mind your language ({strikes} strikes)."
      - id: scam
        description: No scams
        when: {keywords: [free crypto]}
        strike: 2
        delete: true
      - id: trial
        description: An experiment under review
        when: {words: [shadowword]}
        strike: 1
        mode: shadow
      - id: phishing
        description: Phishing links are removed whoever posts them
        when: {words: [phishword]}
        exempt_admins: false
        strike: 3
        delete: true
        action: ban
    """
)

PUNISHMENTS = frozenset(
    {ActionKind.WARN, ActionKind.MUTE, ActionKind.RESTRICT, ActionKind.KICK, ActionKind.BAN}
)


def kinds(actions: Iterable[Action]) -> list[str]:
    """The kinds of some actions, in order, e.g. ["delete", "send", "warn"]."""
    return [a.kind.value for a in actions]


def of_kind(actions: Iterable[Action], kind: ActionKind) -> list[Any]:
    return [a for a in actions if a.kind is kind]


def punishments(actions: Iterable[Action]) -> list[Action]:
    """Actions that take something away from a member."""
    return [a for a in actions if a.kind in PUNISHMENTS]


def member_key(steward: StewardHarness, who: str) -> MemberKey:
    return MemberKey(steward.platform, steward.chat.scope, who)


def notices(steward: StewardHarness) -> list[str]:
    """Texts of the notices the platform delivered to the admins."""
    return [n.text for n in steward.adapter.state.notices]


@pytest.fixture
async def ladder(steward_factory: Any) -> StewardHarness:
    """A started harness on `LADDER_RULES`."""
    harness: StewardHarness = await steward_factory(rules_text=LADDER_RULES)
    return harness


def write_rules(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_from_text(text: str, base: Path, environ: dict[str, str] | None = None) -> LoadedConfig:
    """A config as `steward run -c` would read it, with relative paths resolved under `base`."""
    return load_config_text(textwrap.dedent(text), base=base, environ=environ or {})


class RuntimeRig:
    """A real `Runtime` on a config of several groups (the harness has only `default`)."""

    def __init__(
        self,
        config: LoadedConfig,
        database: Path,
        *,
        platform: str = "fake",
        start: datetime | None = None,
    ) -> None:
        self.config = config
        self.database = database
        self.platform = platform
        self.clock = VirtualClock(start)
        self.adapter = LocalAdapter(self.clock, platform=platform)
        self.runtime: Runtime | None = None

    async def start(self) -> Runtime:
        self.runtime = Runtime(
            self.config,
            {self.platform: self.adapter},
            clock=self.clock,
            store=SqliteStore(self.database),
            real_time=False,
        )
        await self.runtime.start()
        return self.runtime

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None


def lines(*rows: str) -> str:
    """A script or file body from lines."""
    return "".join(f"{row}\n" for row in rows)
