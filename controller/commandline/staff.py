"""`user create|disable|enable|password`: staff accounts from the terminal (each audited)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from controller.commandline import trust
from controller.commandline.common import EXIT_OK, actor, sessions_of, settings_of
from controller.errors import ConfigError
from controller.trust import staff


def user(args: argparse.Namespace) -> int:
    """Run the `user` subcommand asked for."""
    return _USER_COMMANDS[args.user_command](args)


def read_password(args: argparse.Namespace) -> str:
    """The password from standard input (`--password-stdin`) or asked twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise ConfigError("the two passwords differ")
    return password


def set_disabled(args: argparse.Namespace) -> int:
    """Disable a member of staff (their tokens revoked, sign-in refused) or enable them again."""
    disabled = args.user_command == "disable"
    with sessions_of(settings_of(args))() as session:
        changed = staff.set_disabled(
            session,
            username=args.username,
            disabled=disabled,
            now=datetime.now(UTC),
            actor=actor(),
        )
    state = "disabled: their tokens are revoked" if changed.disabled else "enabled"
    sys.stdout.write(f"user {changed.username} ({changed.role}) {state}\n")
    return EXIT_OK


def reset_password(args: argparse.Namespace) -> int:
    """Set a member of staff's password; every token of theirs is revoked."""
    password = read_password(args)
    with sessions_of(settings_of(args))() as session:
        revoked = staff.reset_password(
            session, username=args.username, password=password, now=datetime.now(UTC), actor=actor()
        )
    sys.stdout.write(f"password of {args.username} set; {revoked} token(s) revoked\n")
    return EXIT_OK


_USER_COMMANDS = {
    "create": trust.user_create,
    "disable": set_disabled,
    "enable": set_disabled,
    "password": reset_password,
}
