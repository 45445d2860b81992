"""The channels governance notices go out on, through apprise: a generic JSON webhook, a Slack-compatible
incoming webhook and SMTP e-mail to each team's ``domain.yaml`` address.

Each send is tried ``1 + RETRIES`` times with a doubling backoff, then reported per notice with its reason,
which :mod:`meshwork.governance.notify` keeps in the outbox for redelivery. apprise connects only to the URL
it is handed (no update check, no usage statistics) and keeps no state on disk (no persistent storage
path is given to it), which tests/unit/governance/test_channels.py watches at the socket level.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from meshwork.core import settings
from meshwork.governance.notice import Notice

if TYPE_CHECKING:
    from apprise.plugins.custom_json import NotifyJSON
    from apprise.plugins.email.base import NotifyEmail

RETRIES = 2
BACKOFF = 0.5  # seconds before the first retry; doubled for each next one

# Settings names, for errors that say which one is wrong.
_SETTING = {"webhook": "MESH_NOTIFY_WEBHOOK", "slack": "MESH_NOTIFY_SLACK", "smtp": "MESH_NOTIFY_SMTP"}
_SMTP_MODES = {"smtp": "insecure", "smtp+starttls": "starttls", "smtps": "ssl"}


@dataclass(frozen=True)
class Outcome:
    """What happened to one notice on one channel."""

    target: str | None  # where it went: the webhook's host, the e-mail address
    error: str | None = None  # why it did not arrive (None: it did)
    attempts: int = 1
    skipped: str | None = None  # why this channel does not apply to the notice (nothing to retry)


def _attempt(make: Callable[[], Any], title: str, body: str) -> tuple[str | None, int]:
    """Send with retries; (the last failure's reason or None, attempts made). A fresh plugin per attempt:
    apprise throttles repeated sends of one plugin object by seconds, which would hold up a sensor."""
    # Deferred: apprise costs ~0.1 s to import, which every domain location would pay (its governance
    # checks import Notice through this package) without ever sending anything.
    import apprise

    reason = None
    for attempt in range(1 + RETRIES):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        with apprise.LogCapture(level=logging.DEBUG, fmt="%(levelname)s %(message)s") as log:
            ok = make().notify(title=title, body=body)
        if ok:
            return None, attempt + 1
        lines = log.getvalue().splitlines()
        # apprise reports a failure in its log, not in an exception: keep its warning and the cause under it.
        said = [ln.split(" ", 1)[1] for ln in lines if ln.startswith(("WARNING", "ERROR"))]
        cause = [ln.split(" ", 1)[1] for ln in lines if "Exception:" in ln or "Response Details" in ln]
        reason = "; ".join(said[-1:] + cause[-1:]) or "the channel refused the notification"
    return reason, 1 + RETRIES


def _json_plugin(url: str, setting: str, payload: dict[str, Any]) -> Callable[[], NotifyJSON]:
    from apprise.plugins.custom_json import NotifyJSON  # deferred, as in _attempt

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{setting}={url!r}: write an http:// or https:// URL")
    schema = "jsons" if parts.scheme == "https" else "json"
    results = NotifyJSON.parse_url(f"{schema}://{parts.netloc}{parts.path or '/'}")
    if not results:
        raise ValueError(f"{setting}={url!r}: not a URL a webhook can be posted to")
    timeout = settings.notify_timeout()
    # The receiver's own query string (a token, say) is sent as is; apprise would read it as its options.
    results.update(payload=payload, params=dict(parse_qsl(parts.query)), cto=timeout, rto=timeout)
    return lambda: NotifyJSON(**results)


def _redacted(url: str) -> str:
    """Where a webhook is, without its path: a Slack webhook's path is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True)
class Channel:
    name: str  # webhook | slack | email
    url: str

    def send(self, notices: list[Notice]) -> list[Outcome]:
        if self.name == "email":
            return self._mail(notices)
        title = f"Meshwork governance: {len(notices)} notice(s)"
        body = "\n".join(slack_line(n) if self.name == "slack" else plain_line(n) for n in notices)
        if self.name == "slack":
            # Slack's incoming-webhook message: apprise's JSON keys removed, its message renamed to `text`.
            payload: dict[str, Any] = {"version": "", "title": "", "attachments": "", "type": "", "message": "text"}
        else:
            payload = {"source": "meshwork", "notices": [asdict(n) for n in notices], "attachments": ""}
        make = _json_plugin(self.url, _SETTING[self.name], payload)
        error, attempts = _attempt(make, title, body)
        return [Outcome(_redacted(self.url), error, attempts) for _ in notices]

    def _mail(self, notices: list[Notice]) -> list[Outcome]:
        out: list[Outcome] = []
        down: str | None = None
        for n in notices:
            if not n.contact or "@" not in n.contact:
                out.append(Outcome(None, skipped=f"team '{n.team}' has no e-mail address in its domain.yaml"))
            elif down:  # the server failed every retry for an earlier notice: do not wait on it again
                out.append(Outcome(n.contact, f"not tried, the SMTP server failed just before: {down}", 0))
            else:
                make = functools.partial(_email, self.url, n.contact)
                error, attempts = _attempt(make, subject(n), mail_body(n))
                out.append(Outcome(n.contact, error, attempts))
                down = error
        return out


def _email(url: str, to: str) -> NotifyEmail:
    from apprise.plugins.email.base import NotifyEmail  # deferred, as in _attempt

    parts = urlsplit(url)
    mode = _SMTP_MODES.get(parts.scheme)
    if mode is None or not parts.hostname:
        raise ValueError(f"MESH_NOTIFY_SMTP={url!r}: write smtp://, smtp+starttls:// or smtps:// and a host")
    query = dict(parse_qsl(parts.query))
    login = f"{quote(unquote(parts.username or ''), safe='')}:{quote(unquote(parts.password or ''), safe='')}@"
    mailto = (
        f"{'mailtos' if mode != 'insecure' else 'mailto'}://{login if parts.username else ''}{parts.hostname}"
        + (f":{parts.port}" if parts.port else "")
        + f"?smtp={parts.hostname}&mode={mode}&name=Meshwork&from={quote(query.get('from', 'meshwork@localhost'))}"
        + f"&to={quote(to)}"
    )
    results = NotifyEmail.parse_url(mailto)
    if not results:
        raise ValueError(f"MESH_NOTIFY_SMTP={url!r}: not an SMTP server URL")
    results.update(cto=settings.notify_timeout(), rto=settings.notify_timeout())
    return NotifyEmail(**results)


def configured() -> list[Channel]:
    """The channels the settings name, in a fixed order; a malformed URL fails here, with its setting."""
    found = settings.notify_channels()
    chans = [Channel("email" if name == "smtp" else name, url) for name, url in found.items()]
    for ch in chans:  # check every URL now, not at the first notice
        if ch.name == "email":
            _email(ch.url, "check@example.org")
        else:
            _json_plugin(ch.url, _SETTING[ch.name], {})
    return chans


# -- what a notice says ------------------------------------------------------------------------------

_ICONS = {"resolved": ":white_check_mark:", "escalated": ":rotating_light:"}


def plain_line(n: Notice) -> str:
    who = f"{n.team} <{n.contact}>" if n.contact else n.team
    return f"[{n.state}] {n.severity} {n.kind} {n.subject}: {n.message} (team {who})"


def slack_line(n: Notice) -> str:
    icon = _ICONS.get(n.state) or (":red_circle:" if n.severity == "error" else ":warning:")
    who = f"{n.team} <mailto:{n.contact}|{n.contact}>" if n.contact else n.team
    text = n.message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # Slack's mrkdwn escapes
    return f"{icon} *{n.state}* {n.kind} `{n.subject}`: {text} (team {who})"


def subject(n: Notice) -> str:
    return f"[meshwork] {n.state}: {n.kind} {n.subject}"


def mail_body(n: Notice) -> str:
    return (
        f"{n.message}\n\nProduct or domain: {n.subject}\nKind: {n.kind} ({n.severity})\nState: {n.state}\n"
        f"Team: {n.team}\nSince: {n.at}\n\n`mesh notices list --team {n.team}` shows every notice sent to the team."
    )
