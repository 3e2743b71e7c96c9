"""Outbound rate limiting that throttles what Telegram throttles, and nothing else.

PTB's `AIORateLimiter` applies Telegram's message limits (30 per second overall, 20 per minute
per group) to every request that names a chat, so deleting a spam wave or muting a raid would
crawl at 20 calls a minute per group. Telegram documents those limits for *sending* messages;
moderation calls (delete, restrict, ban, approve) are limited by Telegram answering 429 with
`retry_after`, which both limiters here honour by waiting and retrying. So sending methods go
through a limiter with Telegram's documented rates, everything else through one that only
retries.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter

JSONDict = dict[str, Any]
Result = bool | JSONDict | list[JSONDict]

# Methods that post something to a chat: these count against Telegram's messaging limits.
SENDING = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendDocument",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendPoll",
        "sendDice",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "forwardMessage",
        "forwardMessages",
        "copyMessage",
        "copyMessages",
    }
)


class TelegramRateLimiter(BaseRateLimiter[int]):
    """Telegram's message limits on sending methods; 429 retries on every method.

    `limit_sends=False` drops the up-front limits on sending too (a fake server or a self-hosted
    Bot API server in front of a test account has none); 429 answers are still honoured.
    """

    def __init__(self, *, max_retries: int, limit_sends: bool = True) -> None:
        self._sends = (
            AIORateLimiter(max_retries=max_retries)
            if limit_sends
            else AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
        )
        self._others = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)

    async def initialize(self) -> None:
        await self._sends.initialize()
        await self._others.initialize()

    async def shutdown(self) -> None:
        await self._sends.shutdown()
        await self._others.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        limiter = self._sends if endpoint in SENDING else self._others
        return await limiter.process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
