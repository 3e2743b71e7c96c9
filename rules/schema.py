"""The shape of a rule file, as pydantic models.

Models forbid unknown keys (a typo must be an error, not a silently ignored rule) and are strict
about types (the YAML reader already produced real booleans and numbers, so `"yes"` for a boolean
is a mistake to report). `steward schema` exports these models as JSON Schema for editors.

Version policy: `version: 1` is the only version so far. A later version may add keys freely; a
key is removed or changes meaning only in a new version, and `steward check` keeps reading the
older version for at least one release, warning about each deprecated key with its replacement.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from bot.actions import Permission
from bot.durations import format_duration, parse_duration
from bot.events import EventKind, MediaKind

RULE_FILE_VERSION = 1
ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # let the type check say what was expected
    raise ValueError(
        f"duration {value!r} has no unit; write {value}s, {value}m, {value}h or {value}d"
    )


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(\d+\s*[smhdw]\s*)+$",
            "description": "A duration such as 30s, 10m, 2h, 7d, 2w or 1h30m.",
        }
    ),
]


Number = StrictInt | StrictFloat
Flag = StrictBool
Count = StrictInt


class Strict(BaseModel):
    """Base for every rule-file model: unknown keys are errors.

    Booleans and numbers use pydantic's strict types (no `"yes"` → True, no `"3"` → 3); enums stay
    lax so that their YAML spelling (`mute`) is accepted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Compare(Strict):
    """A numeric test; all given bounds must hold (`{gte: 3, lt: 10}` is 3 ≤ x < 10)."""

    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    eq: Number | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Compare:
        if all(v is None for v in (self.gt, self.gte, self.lt, self.lte, self.eq)):
            raise ValueError("give at least one of gt, gte, lt, lte, eq")
        return self

    def test(self, value: float) -> bool:
        return (
            (self.gt is None or value > self.gt)
            and (self.gte is None or value >= self.gte)
            and (self.lt is None or value < self.lt)
            and (self.lte is None or value <= self.lte)
            and (self.eq is None or value == self.eq)
        )

    def describe(self) -> str:
        parts = []
        for symbol, bound in (
            (">", self.gt),
            ("≥", self.gte),
            ("<", self.lt),
            ("≤", self.lte),
            ("=", self.eq),
        ):
            if bound is not None:
                parts.append(f"{symbol} {bound:g}")
        return " and ".join(parts)


class Terms(Strict):
    """Keywords or domains: inline `terms`, and/or named lists from `lists:`."""

    terms: list[str] = Field(default_factory=list)
    list_: str | None = Field(default=None, alias="list")
    lists: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Terms:
        if not self.terms and not self.list_ and not self.lists:
            raise ValueError("give `terms`, `list` or `lists`")
        return self

    def list_names(self) -> list[str]:
        return ([self.list_] if self.list_ else []) + list(self.lists)


TermsInput = list[str] | Terms


class Regex(Strict):
    pattern: str
    # Normalised text is lowercased NFKC without invisible characters; `raw` is the text as sent.
    text: Literal["normalized", "raw"] = "normalized"


class Links(Strict):
    """Tests on the links of a message; all given keys must hold for the same message."""

    count: Compare | None = None
    domains: TermsInput | None = Field(
        default=None, description="Any link on one of these domains or their subdomains."
    )
    outside: TermsInput | None = Field(
        default=None, description="Any link on a domain that is NOT in these (an allow-list)."
    )
    invite: Flag | None = Field(
        default=None, description="Any invite link (t.me/+…, discord.gg/…, chat.whatsapp.com/…)."
    )


class Caps(Strict):
    ratio: Compare
    min_letters: Count = Field(default=8, ge=1)


class Flood(Strict):
    """This member sent at least `messages` messages (this one included) within `within`."""

    messages: Count = Field(ge=2)
    within: Duration


class Repeated(Strict):
    """The same text (after normalisation) sent `count` times within `within`."""

    count: Count = Field(ge=2)
    within: Duration


class Raid(Strict):
    """At least `joins` members joined the chat within `within` (this join included)."""

    joins: Count = Field(ge=2)
    within: Duration


ScriptName = Literal[
    "latin",
    "cyrillic",
    "greek",
    "armenian",
    "hebrew",
    "arabic",
    "devanagari",
    "bengali",
    "thai",
    "georgian",
    "hangul",
    "han",
    "kana",
    "ethiopic",
]


class Script(Strict):
    """Share of letters in any of the scripts `any` (`{any: [cyrillic], share: {gte: 0.5}}`)."""

    any_: list[ScriptName] = Field(alias="any", min_length=1)
    share: Compare = Field(default_factory=lambda: Compare(gte=0.5))
    min_letters: Count = Field(default=4, ge=1)


class Member(Strict):
    """Facts about the member; a fact Steward does not know never matches."""

    level: Compare | None = None
    days_since_join: Compare | None = None
    messages: Compare | None = None
    strikes: Compare | None = None
    admin: Flag | None = None


class Condition(Strict):
    """One condition. Several keys in one mapping must all hold; nest `all`/`any`/`not` freely."""

    all_: list[Condition] | None = Field(default=None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(default=None, alias="any", min_length=1)
    not_: Condition | None = Field(default=None, alias="not")
    keywords: TermsInput | None = Field(
        default=None, description="Any of these appears anywhere in the text (normalised)."
    )
    words: TermsInput | None = Field(
        default=None, description="Any of these appears as a whole word (normalised)."
    )
    regex: str | Regex | None = Field(
        default=None, description="An RE2 regular expression (no look-around, no backreferences)."
    )
    links: Links | None = None
    mentions: Compare | None = Field(default=None, description="Number of distinct mentions.")
    caps: Caps | None = None
    length: Compare | None = Field(default=None, description="Length of the text in characters.")
    emoji: Compare | None = Field(default=None, description="Number of emoji.")
    media: list[MediaKind] | None = Field(default=None, description="Any of these media kinds.")
    forwarded: Flag | None = None
    edited: Flag | None = None
    blocked: Flag | None = Field(
        default=None,
        description="The platform's own filter blocked the message (Discord AutoMod).",
    )
    flood: Flood | None = None
    repeated: Repeated | None = None
    raid: Raid | None = None
    script: Script | None = None
    member: Member | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("empty condition; give at least one test such as `keywords:`")
        return self


Conditions = Condition | list[Condition]


class Mode(StrEnum):
    ENFORCE = "enforce"
    SHADOW = "shadow"
    OFF = "off"


class DirectKind(StrEnum):
    WARN = "warn"
    MUTE = "mute"
    RESTRICT = "restrict"
    KICK = "kick"
    BAN = "ban"


class ActionSpec(Strict):
    """A punishment with its duration. Without `duration`, a mute or ban lasts until undone."""

    type: DirectKind
    duration: Duration | None = None
    permissions: list[Permission] = Field(
        default_factory=list, description="For `restrict`: what the member may no longer do."
    )
    message: str | None = Field(
        default=None, description="Told to the member; placeholders allowed."
    )

    @model_validator(mode="after")
    def _fits_type(self) -> ActionSpec:
        if self.type is DirectKind.RESTRICT and not self.permissions:
            raise ValueError("`restrict` needs `permissions`, e.g. [send_media, send_links]")
        if self.permissions and self.type is not DirectKind.RESTRICT:
            raise ValueError(f"`permissions` only apply to `restrict`, not `{self.type.value}`")
        if self.duration is not None and self.type in (DirectKind.WARN, DirectKind.KICK):
            raise ValueError(f"`{self.type.value}` takes no duration")
        return self


class MemberExample(Strict):
    level: Count = 0
    days_since_join: Number | None = None
    messages: Count = 100
    strikes: Count = 0
    admin: Flag = False


class Example(Strict):
    """An event to try a rule on; a plain string stands for `{text: …}`."""

    text: str = ""
    event: EventKind = EventKind.MESSAGE
    member: MemberExample = Field(default_factory=MemberExample)
    media: list[MediaKind] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
    forwarded: Flag = False
    edited: Flag = False
    blocked: Flag = False
    before: list[str] = Field(
        default_factory=list, description="Messages the same member sent just before this one."
    )
    joins_before: Count = Field(
        default=0, ge=0, description="Other members who joined just before."
    )
    every: Duration = Field(
        default=timedelta(seconds=1), description="Time between the earlier messages or joins."
    )


ExampleInput = str | Example


class Examples(Strict):
    match: list[ExampleInput] = Field(default_factory=list)
    no_match: list[ExampleInput] = Field(default_factory=list)


class Rule(Strict):
    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    on: EventKind | list[EventKind] = EventKind.MESSAGE
    when: Conditions | None = None
    unless: Conditions | None = None
    strike: Count | None = Field(default=None, ge=1, le=100)
    delete: Flag = False
    reply: str | None = None
    action: DirectKind | ActionSpec | None = None
    notify_admins: Flag = False
    reason: str = ""
    mode: Mode | None = None
    exempt_admins: Flag | None = Field(
        default=None,
        description="Default true. When false, the rule still deletes and replies for admins; "
        "admins are never struck or punished.",
    )
    examples: Examples | None = None


class LadderAction(StrEnum):
    WARN = "warn"
    MUTE = "mute"
    RESTRICT = "restrict"
    KICK = "kick"
    BAN = "ban"


class Step(Strict):
    at: Count = Field(ge=1, le=1000, description="Strike total at which this step applies.")
    action: LadderAction
    duration: Duration | None = None
    permissions: list[Permission] = Field(default_factory=list)
    message: str | None = None

    @model_validator(mode="after")
    def _fits_action(self) -> Step:
        if self.action is LadderAction.RESTRICT and not self.permissions:
            raise ValueError("`restrict` needs `permissions`, e.g. [send_media, send_links]")
        if self.duration is not None and self.action in (LadderAction.WARN, LadderAction.KICK):
            raise ValueError(f"`{self.action.value}` takes no duration")
        return self


class Decay(Strict):
    points: Count = Field(default=1, ge=1)
    every: Duration


class LadderSpec(Strict):
    decay: Decay | None = None
    steps: list[Step] = Field(min_length=1)


class Defaults(Strict):
    mode: Mode = Mode.ENFORCE
    exempt_admins: Flag = True


class ListFile(Strict):
    file: str


class RuleFile(Strict):
    """A rule file: header (`version`, `extends`, `lists`, `ladder`, `defaults`) and `rules`."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, title="Steward rule file"
    )

    version: Literal[1] = 1
    extends: list[str] = Field(default_factory=list)
    lists: dict[Annotated[str, Field(pattern=NAME_PATTERN)], list[str] | ListFile] = Field(
        default_factory=dict
    )
    ladder: LadderSpec | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    rules: list[Rule] = Field(default_factory=list)


PLACEHOLDERS = frozenset({"user", "mention", "rule", "reason", "strikes", "chat", "step", "until"})


def rule_file_json_schema() -> dict[str, Any]:
    """JSON Schema of rule files, for editors (`# yaml-language-server: $schema=…`)."""
    schema = RuleFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://steward.invalid/schema/rules-v1.json"
    return schema
