"""The pupil's page: the kit's local web server on 127.0.0.1 (lessons, tasks, materials, help).

Two origins: the page itself on `--web-port` (default 8765) and the materials on the next port,
served with a sandboxing content security policy so that a package's scripts can reach neither
the page, nor its help button, nor the agent. Imported only when the port is on (`agent/cli.py`):
the web stack costs memory a kit without the page does not spend.
"""
