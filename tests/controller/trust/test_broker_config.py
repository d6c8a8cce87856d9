"""The generated Mosquitto configuration loads the subscription guard (pure: files only)."""

from __future__ import annotations

from pathlib import Path

from controller.trust import broker
from controller.trust.pki import CONTROLLER_CN, PkiPaths


def test_the_guard_confines_kits_and_trusts_the_controller_and_acl_local(tmp_path: Path) -> None:
    (tmp_path / broker.LOCAL_ACL_FILE).write_text(
        "# a site's own tool\nuser bench-counter\ntopic read kits/+/telemetry\nuser\n"
    )
    config = broker.BrokerConfig(port=8883, data_dir=tmp_path / "data", pki=PkiPaths(tmp_path))
    lines = broker.render(config, tmp_path).splitlines()
    assert f"plugin {tmp_path.resolve() / broker.PLUGIN_FILE}" in lines
    assert f"plugin_opt_controller {CONTROLLER_CN} bench-counter" in lines
    assert "plugin_opt_subscribe kits/%u/cmd kits/%u/schedule kits/%u/manifest kits/%u/ack" in lines
    assert f"plugin_opt_revoked_file {tmp_path.resolve() / broker.REVOKED_FILE}" in lines
    broker.write_acl(tmp_path, revoked_kits=["kit-1", "kit-2"])
    assert (tmp_path / broker.REVOKED_FILE).read_text() == "kit-1\nkit-2\n"
