"""What each `kitkeeper-controller` command does, by domain; `controller.cli` parses the options.

`server` (serve, db, pki), `trust` (broker-config, enroll-token, kit, user), `loans` (keys,
import) and `schedules` (schedule): each command calls the same service functions as the API, so
it is checked and audited the same way, and writes what it did for the person at the terminal.
"""
