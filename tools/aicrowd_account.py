"""The AIcrowd account that aicrowd-cli stored at ``aicrowd login``: the API key (datasets) and the GitLab user and
token (submissions). Read from aicrowd-cli's own config file; nothing here talks to the network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GITLAB_HOST = "gitlab.aicrowd.com"
LOGIN_HINT = "run `aicrowd login` (aicrowd-cli is installed by scripts/setup.sh)"
INSTALL_HINT = "aicrowd-cli is not installed: run scripts/setup.sh (or pip install -r requirements-dev.txt)"


class NotLoggedInError(RuntimeError):
    """aicrowd-cli has no (complete) login; the message says what is missing and what to run."""


@dataclass(frozen=True)
class Account:
    api_key: str
    username: str
    oauth_token: str
    userid: str

    def remote_url(self, project: str) -> str:
        """HTTPS URL of ``<username>/<project>`` on AIcrowd's GitLab, authenticated with the stored token."""
        return f"https://oauth2:{self.oauth_token}@{GITLAB_HOST}/{self.username}/{project}.git"

    @property
    def noreply_email(self) -> str:
        return f"{self.userid}-{self.username}@users.noreply.{GITLAB_HOST}"


def default_config_path() -> Path:
    """Where aicrowd-cli keeps its settings (``click``'s application folder for ``aicrowd-cli``)."""
    try:
        import click  # installed with aicrowd-cli
    except ImportError as e:
        raise NotLoggedInError(INSTALL_HINT) from e
    return Path(click.get_app_dir("aicrowd-cli")) / "config.toml"


def read_account(config_path: Path | None = None, need_gitlab: bool = True) -> Account:
    """The stored login, or ``NotLoggedInError`` naming what is missing (the GitLab fields only when
    ``need_gitlab``: downloading datasets needs just the API key)."""
    path = Path(config_path) if config_path is not None else default_config_path()
    if not path.is_file():
        raise NotLoggedInError(f"not logged in to AIcrowd (no {path}): {LOGIN_HINT}")
    try:
        import toml  # aicrowd-cli's own reader (tomllib is Python 3.11+)
    except ImportError as e:
        raise NotLoggedInError(INSTALL_HINT) from e
    try:
        settings = toml.loads(path.read_text())
    except (toml.TomlDecodeError, UnicodeDecodeError) as e:
        raise NotLoggedInError(f"{path} is not a valid aicrowd-cli config ({e}): {LOGIN_HINT} again") from e
    gitlab = settings.get("gitlab") if isinstance(settings.get("gitlab"), dict) else {}
    values = {"api_key": settings.get("aicrowd_api_key"), "username": gitlab.get("username"),
              "oauth_token": gitlab.get("oauth_token"), "userid": gitlab.get("userid")}
    needed = values if need_gitlab else {"api_key": values["api_key"]}
    missing = [name for name, value in needed.items() if not str(value or "").strip()]
    if missing:
        raise NotLoggedInError(f"the AIcrowd login in {path} lacks {', '.join(missing)}: {LOGIN_HINT}")
    return Account(**{name: str(value or "").strip() for name, value in values.items()})


def mask_token(text: str, account: Account | None = None) -> str:
    """``text`` with the password of any ``user:password@`` URL credential (``oauth2:<token>@``, or one in a remote
    added by hand) and the account's token anywhere replaced by ``***``."""
    text = re.sub(r"(://[^:@/\s]*:)[^@/\s]+@", r"\1***@", text)
    text = re.sub(r"oauth2:[^@/\s]+@", "oauth2:***@", text)
    return text.replace(account.oauth_token, "***") if account else text
