"""`broker-config`, `enroll-token create`, `kit mark` and `user create`: who and what is trusted."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.commandline.common import EXIT_OK, actor, sessions_of, settings_of
from controller.errors import ConfigError
from controller.trust import broker, pki
from controller.trust import enrolment as trust
from controller.trust.staff import create_user

MAX_TOKEN_HOURS = 8760
"""An enrolment token lives at most a year."""


def broker_config(args: argparse.Namespace) -> int:
    """Write the Mosquitto configuration and ACL (the revoked kits read from the database)."""
    settings = settings_of(args)
    revoked: list[str] = []
    if "db" in settings.model_fields_set or Path("var/kitkeeper.db").exists():
        with sessions_of(settings)() as session:
            revoked = trust.revoked_kits(session)
    config = broker.BrokerConfig(
        port=args.port,
        data_dir=args.data_dir or args.out / "data",
        pki=pki.PkiPaths(settings.pki_dir),
        bind_address=args.bind,
    )
    path = broker.write(config, args.out, revoked_kits=revoked)
    sys.stdout.write(
        f"wrote {path} and {args.out / broker.ACL_FILE}\n"
        f"start the broker with: mosquitto -c {path}\n"
    )
    return EXIT_OK


def enroll_token(args: argparse.Namespace) -> int:
    """Print a one-time enrolment token for one kit (audited); say what enrolling replaces."""
    settings = settings_of(args)
    hours = args.hours if args.hours is not None else settings.token_hours
    if not 0 < hours <= MAX_TOKEN_HOURS:
        raise ConfigError(f"--hours must be more than 0 and at most {MAX_TOKEN_HOURS} (a year)")
    sessions = sessions_of(settings)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        token = trust.create_token(
            session,
            kit_id=args.kit_id,
            paths=pki.PkiPaths(settings.pki_dir),
            now=now,
            ttl=timedelta(hours=hours),
            actor=actor(),
        )
        previous = trust.latest_certificate(session, args.kit_id)
    sys.stdout.write(token.text + "\n")
    sys.stderr.write(
        f"one-time token for kit {args.kit_id}, valid until {trust.instant(token.expires_at)}; "
        "on the kit run:\n"
        "  kitkeeper-agent enroll --controller https://CONTROLLER:PORT --token <the token>\n"
    )
    if previous is not None:
        state = "expired" if previous.not_after < now else "is valid until"  # valid at it
        sys.stderr.write(
            f"kit {args.kit_id}'s certificate {state} {trust.instant(previous.not_after)}: "
            "enrolling replaces it and keeps the kit's outbox and schedule; a running agent "
            "reconnects with the new certificate by itself\n"
        )
    return EXIT_OK


def kit_mark(args: argparse.Namespace) -> int:
    """Mark a kit (audited); the CRL and ACL are written again and the broker told to reload."""
    settings = settings_of(args)
    now = datetime.now(UTC)
    with sessions_of(settings).begin() as session:
        serials = trust.set_lifecycle(
            session, kit_id=args.kit_id, lifecycle=args.state, now=now, actor=actor()
        )
        # Every change rewrites the CRL and the ACL: marking a kit active again lifts its deny.
        reloaded = trust.publish_revocations(
            session,
            paths=pki.PkiPaths(settings.pki_dir),
            broker_dir=settings.broker_dir,
            now=now,
        )
    sys.stdout.write(f"kit {args.kit_id} marked {args.state}\n")
    if serials:
        sys.stdout.write(f"  revoked certificates: {', '.join(serials)}\n")
    if args.state != "active":
        sys.stdout.write(
            "  broker reloaded its CRL and ACL (a revoked kit still connected is disconnected)\n"
            if reloaded
            else f"  the broker was not running (no pid in {settings.broker_dir}); it will "
            "read the new CRL and ACL when it starts\n"
        )
    return EXIT_OK


def user_create(args: argparse.Namespace) -> int:
    """Add a member of staff (audited), the password from standard input or asked twice."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    sessions = sessions_of(settings_of(args))
    with sessions.begin() as session:
        create_user(
            session,
            username=args.username,
            password=password,
            role=args.role,
            now=datetime.now(UTC),
            actor=actor(),
        )
    sys.stdout.write(f"user {args.username} ({args.role}) created\n")
    return EXIT_OK
