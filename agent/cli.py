"""`kitkeeper-agent`: run the agent, or print one snapshot.

Exit codes: 0 success, 1 runtime failure (for `doctor`: not ready), 2 bad usage or
configuration, 3 enrolment refused.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from pydantic import ValidationError

from agent.collectors import SystemCollector
from agent.config import AgentSettings
from agent.content import cli as content_cli
from agent.errors import AgentError, EnrollError
from protocol.base import Unavailable

if TYPE_CHECKING:
    from agent.kit import KitView
    from agent.service import Agent
    from agent.web.server import PupilPage

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kitkeeper-agent", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING or ERROR (default: INFO for run, WARNING for the others: "
        "a parent reading the doctor's report sees no log lines)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="report this kit's health to the controller until stopped")
    run.add_argument("--kit-id", help="this kit's id (default: from the host name)")
    run.add_argument("--mqtt-host", help="broker host (default 127.0.0.1)")
    run.add_argument("--mqtt-port", type=int, help="broker port (default 1883)")
    run.add_argument("--interval", type=float, help="seconds between snapshots (default 30)")
    run.add_argument("--state-dir", type=Path, help="durable state directory (default var/agent)")
    run.add_argument(
        "--plain-mqtt",
        action="store_true",
        default=None,
        help="development only: connect without TLS or a kit certificate",
    )
    run.add_argument(
        "--web-port",
        type=int,
        help="port of the pupil's page on 127.0.0.1 (default 8765; its materials on the next "
        "port; 0: no page)",
    )

    enroll = sub.add_parser("enroll", help="get this kit's certificate with a one-time token")
    enroll.add_argument("--controller", required=True, help="the controller, https://HOST:PORT")
    enroll.add_argument("--token", required=True, help="from `kitkeeper-controller enroll-token`")
    enroll.add_argument(
        "--state-dir", type=Path, help="durable state directory (default var/agent)"
    )

    doctor = sub.add_parser(
        "doctor", help="check that the kit is ready for a lesson (exit 0 ready, 1 not ready)"
    )
    doctor.add_argument("--lang", choices=["kk", "ru", "en"], help="default: from the locale")
    doctor.add_argument(
        "--state-dir", type=Path, help="durable state directory (default var/agent)"
    )
    doctor.add_argument("--profile", help="the kit's profile (default base)")
    doctor.add_argument("--webinar", help="host:port of the lesson's webinar server")
    doctor.add_argument("--json", action="store_true", help="the checks as JSON, for machines")

    hook = sub.add_parser("firmware-hook", help="used by firmware-hooks/: may an update run?")
    hook.add_argument("stage", choices=["pre", "post"])
    hook.add_argument("--state-dir", type=Path, help="durable state directory (default var/agent)")
    hook.add_argument("--profile", help="the kit's profile (default base)")

    help_ = sub.add_parser("help", help="ask the school's technician for help (sent by the agent)")
    help_.add_argument("message", nargs="?", default="", help="what is wrong, in a few words")
    help_.add_argument("--lang", choices=["kk", "ru", "en"], help="default: from the locale")
    help_.add_argument("--state-dir", type=Path, help="durable state directory (default var/agent)")

    content_cli.add_parser(sub)

    collect = sub.add_parser("collect", help="print one telemetry snapshot as JSON")
    collect.add_argument(
        "--once", action="store_true", required=True, help="one snapshot, then exit"
    )
    collect.add_argument(
        "--fast", action="store_true", help="skip the connectivity probes (a few seconds)"
    )
    collect.add_argument(
        "--state-dir", type=Path, help="durable state directory (default var/agent)"
    )
    collect.add_argument("--profile", help="the kit's profile (default base)")
    collect.add_argument("--mqtt-host", help="broker host to probe (default: from enrolment)")
    collect.add_argument("--mqtt-port", type=int, help="broker port to probe")
    collect.add_argument("--webinar", help="host:port of the lesson's webinar server")
    return parser


def _settings(args: argparse.Namespace) -> AgentSettings:
    given = {
        key: getattr(args, key)
        for key in (
            "kit_id",
            "mqtt_host",
            "mqtt_port",
            "interval",
            "state_dir",
            "plain_mqtt",
            "profile",
            "webinar",
            "web_port",
        )
        if getattr(args, key, None) is not None
    }
    return AgentSettings(**given)


def _run(args: argparse.Namespace) -> int:
    from agent.service import Agent  # noqa: PLC0415 - keeps `collect` free of MQTT

    agent = Agent(_settings(args))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    page = _pupil_page(agent) if agent.settings.web_port else None
    try:
        agent.run(stop)
    finally:
        if page is not None:
            page.stop()
    return EXIT_OK


def _pupil_page(agent: Agent) -> PupilPage:
    """Start the pupil's page (the web stack is imported only here: memory on a kit counts)."""
    from agent.i18n import default_lang  # noqa: PLC0415
    from agent.service import readiness  # noqa: PLC0415
    from agent.web.server import PupilPage  # noqa: PLC0415

    settings = agent.settings
    page = PupilPage(
        state_dir=settings.state_dir,
        port=settings.web_port,
        profile=settings.profile,
        kit_lang=default_lang(),
        checks=lambda: readiness(agent),
    )
    page.start()
    return page


def _enroll(args: argparse.Namespace) -> int:
    from agent.enroll import enroll  # noqa: PLC0415
    from agent.i18n import default_lang, t  # noqa: PLC0415

    settings = _settings(args)
    record = enroll(args.controller, args.token, settings.state_dir)
    said = "enrol.again" if record.get("replaced_serial") else "enrol.done"
    text = t(said, default_lang(), kit_id=record["kit_id"], state_dir=settings.state_dir)
    sys.stdout.write(text + "\n")
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    from agent import doctor  # noqa: PLC0415
    from agent.content.readiness import on_kit  # noqa: PLC0415
    from agent.errors import IdentityError  # noqa: PLC0415
    from agent.i18n import default_lang  # noqa: PLC0415
    from agent.identity import load_identity  # noqa: PLC0415

    settings = _settings(args)
    kit = _kit_view(settings)
    snapshot = SystemCollector().collect(interval_s=settings.interval)
    devices = kit.peripherals()
    try:
        identity = load_identity(settings.state_dir)
    except IdentityError:
        identity = None
    checks = doctor.evaluate(
        peripherals=devices,
        connectivity=kit.probe(count=5),
        disks=snapshot.disks,
        battery=snapshot.battery,
        profile=kit.check_profile(devices),
        certificate_not_after=identity.not_after if identity else None,
        now=datetime.now(UTC),
        content=on_kit(settings.state_dir, now=datetime.now(UTC)),
    )
    if args.json:
        sys.stdout.write(
            json.dumps(
                {
                    "ready": doctor.ready(checks),
                    "checks": [
                        {"what": c.what, "status": c.status, "code": c.code, **c.params}
                        for c in checks
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    else:
        sys.stdout.write(doctor.render(checks, args.lang or default_lang()))
    return EXIT_OK if doctor.ready(checks) else EXIT_FAILURE


def _firmware_hook(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    import psutil  # noqa: PLC0415

    from agent.firmware_guard import load_lessons, may_update  # noqa: PLC0415
    from agent.kit import KitView  # noqa: PLC0415

    settings = _settings(args)
    if args.stage == "pre":
        battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
        known = load_lessons(settings.state_dir)
        ok, why = may_update(
            now=datetime.now(UTC),
            lessons=known.windows,
            guard=known.guard,
            battery_percent=battery.percent if battery else None,
            plugged=battery.power_plugged if battery else None,
        )
        sys.stdout.write(f"{'update allowed' if ok else 'update refused'}: {why}\n")
        return EXIT_OK if ok else EXIT_FAILURE
    kit = KitView(settings, [])
    check = kit.check_profile(kit.peripherals())
    if isinstance(check, Unavailable):
        sys.stdout.write(f"cannot check the kit: {check.unavailable}\n")
        return EXIT_FAILURE
    if check.complete:
        sys.stdout.write(f"every peripheral of profile {check.profile} is back\n")
        return EXIT_OK
    sys.stdout.write(f"missing after the update: {', '.join(check.missing)}\n")
    return EXIT_FAILURE


def _help(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from agent import help as help_request  # noqa: PLC0415
    from agent.i18n import default_lang, t  # noqa: PLC0415

    help_request.ask(_settings(args).state_dir, args.message, datetime.now(UTC))
    sys.stdout.write(t("help.sent", args.lang or default_lang()) + "\n")
    return EXIT_OK


def _content(args: argparse.Namespace) -> int:
    return content_cli.run(args, _settings(args))


def _kit_view(settings: AgentSettings) -> KitView:
    """The kit's view (peripherals, profile, connectivity) towards the endpoints it was given."""
    from agent.enroll import read_enrollment  # noqa: PLC0415
    from agent.kit import KitView, endpoints  # noqa: PLC0415

    recorded = read_enrollment(settings.state_dir)
    broker = (
        settings.mqtt_host or recorded.get("mqtt_host") or "127.0.0.1",
        int(settings.mqtt_port or recorded.get("mqtt_port") or 8883),
    )
    return KitView(
        settings,
        endpoints(settings, broker=broker, controller_url=recorded.get("controller_url")),
    )


def _collect(args: argparse.Namespace) -> int:
    """The whole snapshot the agent sends: the system, peripherals, profile and connectivity."""
    settings = _settings(args)
    kit = _kit_view(settings)
    if args.fast:
        kit.connectivity = Unavailable(unavailable="skipped: --fast")
    else:
        kit.probe(count=5)
    snapshot = SystemCollector().collect(interval_s=settings.interval)
    snapshot = snapshot.model_copy(update=kit.parts())
    sys.stdout.write(snapshot.model_dump_json(indent=2) + "\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kitkeeper-agent`."""
    args = _parser().parse_args(argv)
    quiet = "INFO" if args.command == "run" else "WARNING"
    logging.basicConfig(
        level=(args.log_level or quiet).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        commands = {
            "run": _run,
            "collect": _collect,
            "enroll": _enroll,
            "doctor": _doctor,
            "firmware-hook": _firmware_hook,
            "help": _help,
            "content": _content,
        }
        return commands[args.command](args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            sys.stderr.write(f"kitkeeper-agent: invalid {where}: {err['msg']}\n")
        return EXIT_USAGE
    except EnrollError as exc:
        sys.stderr.write(f"kitkeeper-agent: {exc}\n")
        return EXIT_REFUSED
    except AgentError as exc:
        sys.stderr.write(f"kitkeeper-agent: {exc}\n")
        return EXIT_USAGE
    except Exception as exc:
        logging.getLogger("kitkeeper-agent").exception("failed")
        sys.stderr.write(f"kitkeeper-agent: failed: {exc}\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
