"""The config file (bot/config.py): FILE:LINE:COL diagnostics, secrets from the environment,
`steward check -c` and the embedded defaults behind `steward run` without a file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.app import configured_platforms
from bot.config import DEFAULT_GROUP, LoadedConfig, embedded_default, load_config
from rules import LIBRARY
from rules.diagnostics import RuleFileError
from tests.cli_helpers import run_cli

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
STOCK = [LIBRARY / "basic.yaml", LIBRARY / "anti-spam.yaml", LIBRARY / "ladder.yaml"]


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own tokens must not leak into these tests."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)


def write(directory: Path, text: str, name: str = "steward.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    """The formatted diagnostics of an invalid config (first line of each)."""
    with pytest.raises(RuleFileError) as caught:
        load_config(path, environ=environ or {})
    return [d.format().splitlines()[0] for d in caught.value.diagnostics]


def report(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(RuleFileError) as caught:
        load_config(path, environ=environ or {})
    return "\n".join(d.format() for d in caught.value.diagnostics)


# -- diagnostics with file:line:col -------------------------------------------------------------


def test_an_unknown_key_names_its_place_and_the_nearest_key(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  pth: data.sqlite3\n")

    assert report(path) == (
        f"{path}:2:3: error: unknown key 'pth' (at storage.pth); did you mean 'path'?\n"
        "      pth: data.sqlite3\n"
        "      ^"
    )


def test_an_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "groupz: {}\n")

    assert problems(path) == [
        f"{path}:1:1: error: unknown key 'groupz' (at groupz); did you mean 'groups'?"
    ]


@pytest.mark.parametrize(
    ("text", "where", "name"),
    [
        ("timezone: Mars/Olympus\n", "1:11", "timezone"),
        ("groups:\n  default:\n    timezone: Europe/Berln\n", "3:15", "groups.default.timezone"),
    ],
)
def test_a_bad_time_zone(tmp_path: Path, text: str, where: str, name: str) -> None:
    path = write(tmp_path, text)
    zone = text.rsplit(": ", 1)[1].strip()

    assert problems(path) == [
        f"{path}:{where}: error: unknown time zone '{zone}'; "
        f"use an IANA name such as Europe/Berlin (at {name})"
    ]


def test_a_literal_token_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f'adapters:\n  telegram:\n    token: "{TOKEN}"\n')

    assert problems(path) == [
        f"{path}:3:12: error: secrets must come from the environment, not from this file "
        "(at adapters.telegram.token); write token: ${TELEGRAM_BOT_TOKEN} and set that variable"
    ]


def test_a_literal_token_is_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, f'adapters:\n  discord:\n    token: "{TOKEN}"\n')

    output = report(path)

    assert "secrets must come from the environment" in output
    assert TOKEN not in output
    assert TOKEN[:12] not in output


def test_steward_check_never_echoes_a_literal_token(tmp_path: Path) -> None:
    path = write(tmp_path, f"adapters:\n  telegram:\n    token: {TOKEN}\n")

    result = run_cli("check", "-c", str(path))

    assert result.code == 1
    assert TOKEN not in result.output


def test_steward_check_json_never_echoes_a_literal_token(tmp_path: Path) -> None:
    path = write(tmp_path, f"adapters:\n  telegram:\n    token: {TOKEN}\n")

    result = run_cli("check", "--json", "-c", str(path))

    assert result.code == 1
    assert TOKEN not in result.output


def test_an_unset_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, 'storage:\n  path: "${DATA_DIR}/steward.sqlite3"\n')

    assert problems(path) == [
        f"{path}:2:9: error: environment variable DATA_DIR is not set (at storage.path); "
        "set it, or give a default: ${DATA_DIR:-VALUE}"
    ]


def test_an_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    path = write(tmp_path, 'storage:\n  path: "${DATA_DIR}/steward.sqlite3"\n')

    assert len(problems(path, {"DATA_DIR": ""})) == 1


def test_a_variable_with_a_default(tmp_path: Path) -> None:
    path = write(tmp_path, 'storage:\n  path: "${DATA_DIR:-/var/lib/steward}/db.sqlite3"\n')

    unset = load_config(path, environ={})
    given = load_config(path, environ={"DATA_DIR": "/srv/data"})

    assert unset.config.storage.path == "/var/lib/steward/db.sqlite3"
    assert given.config.storage.path == "/srv/data/db.sqlite3"
    assert given.database_path() == Path("/srv/data/db.sqlite3")


def test_a_relative_database_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  path: data/steward.sqlite3\n")

    assert load_config(path, environ={}).database_path() == tmp_path / "data" / "steward.sqlite3"


def test_a_chat_in_two_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        groups:
          a:
            chats: ["telegram:-1"]
          b:
            chats: ["discord:5", "telegram:-1"]
        """,
    )

    assert problems(path) == [
        f"{path}:5:26: error: chat telegram:-1 is already in group 'a' (at groups.b.chats[1])"
    ]


def test_missing_rule_files(tmp_path: Path) -> None:
    path = write(tmp_path, 'groups:\n  default:\n    rules: [nope.yaml, "library:nope.yaml"]\n')

    assert problems(path) == [
        f"{path}:3:13: error: rule file 'nope.yaml' not found (at groups.default.rules[0])",
        f"{path}:3:24: error: rule file 'library:nope.yaml' not found "
        "(at groups.default.rules[1]); stock files: anti-spam.yaml, basic.yaml, ladder.yaml",
    ]


def test_a_chat_reference_must_name_its_platform(tmp_path: Path) -> None:
    path = write(tmp_path, "groups:\n  default:\n    log_chat: modlog\n")

    assert problems(path) == [
        f"{path}:3:15: error: 'modlog' should be PLATFORM:ID, e.g. telegram:-1001234567890 "
        "(at groups.default.log_chat)"
    ]


def test_yes_is_not_a_boolean(tmp_path: Path) -> None:
    path = write(tmp_path, "adapters:\n  console:\n    enabled: yes\n")

    [problem] = problems(path)
    assert problem.startswith(f"{path}:3:14: error: expected true or false, got 'yes'")


def test_a_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")

    [problem] = problems(path)
    assert problem.startswith(f"{path}:1:1: error: a config file is a mapping")


# -- what a valid config gives ------------------------------------------------------------------


def test_a_valid_config_resolves_groups_and_rule_files(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\nrules: []\n", name="mine.yaml")
    path = write(
        tmp_path,
        """
        timezone: Europe/Berlin
        groups:
          friends:
            chats: ["telegram:-100123", "discord:987"]
            rules: [mine.yaml, "library:ladder.yaml"]
            log_chat: "telegram:-100999"
          default: {}
        """,
    )

    loaded = load_config(path, environ={})

    assert loaded.group_rules == {
        "friends": [tmp_path / "mine.yaml", LIBRARY / "ladder.yaml"],
        DEFAULT_GROUP: STOCK,
    }
    assert loaded.group_for("telegram", "-100123") == "friends"
    assert loaded.group_for("discord", "987") == "friends"
    assert loaded.group_for("telegram", "-100555") == DEFAULT_GROUP
    assert loaded.group_for("discord", "-100123") == DEFAULT_GROUP
    assert loaded.group("friends").log_chat == "telegram:-100999"
    assert loaded.warnings == []


def test_without_a_default_group_there_is_a_warning_and_stock_rules(tmp_path: Path) -> None:
    path = write(tmp_path, 'groups:\n  friends:\n    chats: ["telegram:-1"]\n')

    loaded = load_config(path, environ={})

    assert [w.format().splitlines()[0] for w in loaded.warnings] == [
        f"{path}:1:1: warning: no `default` group: chats not listed in any group get the stock "
        "rules (at groups)"
    ]
    assert loaded.group_rules[DEFAULT_GROUP] == STOCK


# -- tokens decide which adapters start ---------------------------------------------------------

TOKENS = """
adapters:
  telegram:
    token: ${TELEGRAM_BOT_TOKEN}
  discord:
    token: ${DISCORD_BOT_TOKEN}
"""


@pytest.mark.parametrize(
    ("environ", "platforms"),
    [
        ({}, []),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["telegram"]),
        ({"DISCORD_BOT_TOKEN": "discord-token"}, ["discord"]),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "DISCORD_BOT_TOKEN": "d"}, ["telegram", "discord"]),
        ({"TELEGRAM_BOT_TOKEN": ""}, []),
    ],
)
def test_token_variables_decide_which_adapters_start(
    tmp_path: Path, environ: dict[str, str], platforms: list[str]
) -> None:
    loaded = load_config(write(tmp_path, TOKENS), environ=environ)

    assert configured_platforms(loaded) == platforms


def test_the_token_is_read_from_the_environment(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, TOKENS), environ={"TELEGRAM_BOT_TOKEN": TOKEN})

    assert loaded.config.adapters.telegram.token == TOKEN
    assert loaded.config.adapters.discord.token is None


def test_embedded_defaults_run_the_stock_rules_on_a_local_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    loaded = embedded_default()

    assert isinstance(loaded, LoadedConfig)
    assert loaded.path is None
    assert configured_platforms(loaded) == []
    assert loaded.group_rules == {DEFAULT_GROUP: STOCK}
    assert loaded.database_path() == tmp_path / "steward.sqlite3"
    assert loaded.config.timezone == "UTC"
    assert loaded.config.adapters.console.enabled == "auto"
    assert loaded.group_for("telegram", "-1") == DEFAULT_GROUP


@pytest.mark.parametrize(
    ("variable", "platforms"),
    [("TELEGRAM_BOT_TOKEN", ["telegram"]), ("DISCORD_BOT_TOKEN", ["discord"])],
)
def test_embedded_defaults_start_the_adapter_whose_token_is_set(
    monkeypatch: pytest.MonkeyPatch, variable: str, platforms: list[str]
) -> None:
    monkeypatch.setenv(variable, "secret")

    assert configured_platforms(embedded_default()) == platforms


# -- steward check -c ---------------------------------------------------------------------------


def test_check_accepts_a_valid_config(tmp_path: Path) -> None:
    path = write(tmp_path, TOKENS + "groups:\n  default: {}\n")

    result = run_cli("check", "-c", str(path))

    assert result.code == 0
    assert result.output == f"{path}: group 'default': ok ({_stock_rule_count()} rules)\n"


def test_check_rejects_an_invalid_config(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  pth: x\n")

    result = run_cli("check", "-c", str(path))

    assert result.code == 1
    assert result.output.startswith(f"{path}:2:3: error: unknown key 'pth'")


def test_check_rejects_a_config_whose_rule_file_is_broken(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\nrules:\n  - id: x\n    strik: 1\n", name="broken.yaml")
    path = write(tmp_path, "groups:\n  default:\n    rules: [broken.yaml]\n")

    result = run_cli("check", "-c", str(path))

    assert result.code == 1
    assert f"{tmp_path / 'broken.yaml'}:4:5: error: unknown key 'strik'" in result.output


def test_check_json_reports_config_problems(tmp_path: Path) -> None:
    import json

    path = write(tmp_path, "timezone: Nowhere/City\n")

    result = run_cli("check", "--json", "-c", str(path))

    assert result.code == 1
    payload = json.loads(result.output)
    assert payload["ok"] is False
    [problem] = payload["problems"]
    assert (problem["file"], problem["line"], problem["col"]) == (str(path), 1, 11)
    assert (problem["severity"], problem["key_path"]) == ("error", "timezone")


def _stock_rule_count() -> int:
    from rules.loader import load_rules

    return len(load_rules(STOCK).ruleset.rules)
