"""Steward's commands as Discord slash commands (and a "Report message" context menu).

They are only another way to type the platform-neutral commands of `bot.commands`: each callback
turns its typed options back into the verb, arguments and target of a canonical `Command` and
hands it to the adapter, which submits it to the same pipeline as a typed `/warn`. So there is
one implementation of every command, and the slash form adds what Discord users expect: a member
picker instead of `@name`, a number field for `/pardon`, and admin commands that Discord shows
only to members with Timeout Members by default (`default_permissions`; server admins can change
that in Server Settings → Integrations, and Steward still checks admin status itself).

Commands are registered per guild (see `DiscordAdapter._sync_guild`): guild commands appear
at once, global ones can take an hour to reach every client. What concerns the member alone
(`/report`, `/appeal`, `/strikes`, `/help`, "Report to admins") is answered privately
(ephemeral; see `DiscordAdapter._slash`).

Typed text commands (`/warn` replying to a message) work too, for Steward's own verbs only (see
`translate.parse_command`); `!` is left to other bots.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

# (interaction, verb, arguments, target, replied-to message id)
SlashSink = Callable[
    [discord.Interaction, str, tuple[str, ...], discord.abc.User | None, str], Awaitable[None]
]
AnyAppCommand = app_commands.Command[Any, ..., None] | app_commands.ContextMenu


def _words(text: str | None) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def build(sink: SlashSink) -> list[AnyAppCommand]:
    """The command objects, each calling `sink`; the tree they are added to owns nothing else."""

    # -- everyone ---------------------------------------------------------------------------

    @app_commands.command(name="rules", description="Show this server's rules")
    @app_commands.guild_only()
    async def rules(interaction: discord.Interaction) -> None:
        await sink(interaction, "rules", (), None, "")

    @app_commands.command(name="help", description="What Steward does here")
    @app_commands.guild_only()
    async def help_(interaction: discord.Interaction) -> None:
        await sink(interaction, "help", (), None, "")

    @app_commands.command(name="appeal", description="Ask the admins to review your last case")
    @app_commands.describe(case="The case number (default: your latest)", why="Your reason")
    @app_commands.guild_only()
    async def appeal(
        interaction: discord.Interaction,
        case: app_commands.Range[int, 1] | None = None,
        why: str | None = None,
    ) -> None:
        args = ((str(case),) if case is not None else ()) + _words(why)
        await sink(interaction, "appeal", args, None, "")

    @app_commands.context_menu(name="Report to admins")
    @app_commands.guild_only()
    async def report(interaction: discord.Interaction, message: discord.Message) -> None:
        await sink(interaction, "report", (), message.author, str(message.id))

    # -- admins -----------------------------------------------------------------------------

    @app_commands.command(name="warn", description="Warn a member (one strike on the ladder)")
    @app_commands.describe(member="Who to warn", reason="Why (shown to the member)")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def warn(
        interaction: discord.Interaction, member: discord.Member, reason: str | None = None
    ) -> None:
        await sink(interaction, "warn", _words(reason), member, "")

    @app_commands.command(name="mute", description="Time a member out")
    @app_commands.describe(member="Who to mute", duration="How long: 30m, 1h, 2d …", reason="Why")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def mute(
        interaction: discord.Interaction,
        member: discord.Member,
        duration: str,
        reason: str | None = None,
    ) -> None:
        await sink(interaction, "mute", (duration, *_words(reason)), member, "")

    @app_commands.command(name="unmute", description="Lift a member's mute")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def unmute(interaction: discord.Interaction, member: discord.Member) -> None:
        await sink(interaction, "unmute", (), member, "")

    @app_commands.command(name="ban", description="Ban a member, for a while or for good")
    @app_commands.describe(
        user="Who to ban", duration="How long (leave empty: for good)", reason="Why"
    )
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def ban(
        interaction: discord.Interaction,
        user: discord.User,
        duration: str | None = None,
        reason: str | None = None,
    ) -> None:
        args = ((duration,) if duration else ()) + _words(reason)
        await sink(interaction, "ban", args, user, "")

    @app_commands.command(name="unban", description="Lift a ban")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def unban(interaction: discord.Interaction, user: discord.User) -> None:
        await sink(interaction, "unban", (), user, "")

    @app_commands.command(name="kick", description="Remove a member (they may rejoin)")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def kick(
        interaction: discord.Interaction, member: discord.Member, reason: str | None = None
    ) -> None:
        await sink(interaction, "kick", _words(reason), member, "")

    @app_commands.command(name="strikes", description="A member's strikes and recent cases")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def strikes(
        interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        await sink(interaction, "strikes", (), member, "")

    @app_commands.command(name="pardon", description="Forgive strikes (all, or N)")
    @app_commands.describe(member="Whose strikes", strikes="How many (default: all)")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def pardon(
        interaction: discord.Interaction,
        member: discord.Member,
        strikes: app_commands.Range[int, 1] | None = None,
    ) -> None:
        args = (str(strikes),) if strikes is not None else ()
        await sink(interaction, "pardon", args, member, "")

    @app_commands.command(name="case", description="Show a moderation case")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    async def case(interaction: discord.Interaction, number: app_commands.Range[int, 1]) -> None:
        await sink(interaction, "case", (str(number),), None, "")

    @app_commands.command(name="reload", description="Reload this server's rule files")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def reload(interaction: discord.Interaction) -> None:
        await sink(interaction, "reload", (), None, "")

    return [
        rules,
        help_,
        appeal,
        report,
        warn,
        mute,
        unmute,
        ban,
        unban,
        kick,
        strikes,
        pardon,
        case,
        reload,
    ]
