"""What the agent and the controller share beyond the wire contract: texts, files, keys, MQTT."""
