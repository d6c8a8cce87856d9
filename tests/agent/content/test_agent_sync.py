"""The running agent syncs on the controller's retained pointer (`kits/{id}/manifest`)."""

from __future__ import annotations

import json
import os
import ssl
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.content.store import ContentStore
from agent.enroll import CONTENT_KEY_FILE
from protocol.content import ManifestMessage, ManifestPointer
from protocol.models import envelope_kwargs
from protocol.topics import Channel, kit_topic
from tests.agent.content.blobserver import Served, server_context, serving
from tests.agent.content.lab import KIT, Lab, public_pem
from tests.support import Agent, Broker, provision_kit, wait_for


def _retain(broker: Broker, pointer: ManifestPointer) -> None:
    """Publish the pointer retained, as the controller does (with the controller's certificate)."""
    message = ManifestMessage(**envelope_kwargs(KIT, 0, datetime.now(UTC)), body=pointer)
    context = ssl.create_default_context(cafile=str(broker.pki.ca_cert))
    context.load_cert_chain(str(broker.pki.controller_cert), str(broker.pki.controller_key))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.tls_set_context(context)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        topic = kit_topic(KIT, Channel.MANIFEST)
        client.publish(topic, message.to_bytes(), qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_agent_syncs_the_manifest_its_pointer_names(tmp_path: Path, broker: Broker) -> None:
    pki = broker.pki
    tls = server_context(pki.controller_cert, pki.controller_key, pki.ca_cert)
    served = Served(tmp_path / "served")
    with serving(served, tls) as port:
        state = tmp_path / f"agent-{KIT}"
        kit = Lab(pki, served, port, "127.0.0.1", state)
        provision_kit(pki, state, KIT)
        (state / CONTENT_KEY_FILE).write_bytes(public_pem(kit.key))
        (state / "enrollment.json").write_text(json.dumps({"controller_url": kit.url}))
        data = os.urandom(300_000)
        blob = kit.blob(data)
        agent = Agent(tmp_path, broker, KIT, provision=False).start()
        try:
            _retain(broker, kit.publish(kit.manifest(1, [blob])))
            store = ContentStore(state)
            wait_for(store.current, 30, "the agent to sync and serve version 1")
            assert store.blob_path(blob.sha256).read_bytes() == data
        finally:
            agent.stop()
        assert "content version 1 synced" in agent.log()
