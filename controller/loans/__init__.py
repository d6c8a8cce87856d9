"""Loans of equipment kits: the contract of free temporary use, imports, checks against the kit.

Pure functions over plain data: no database, no clock reads, no I/O. The API and the CLI call them.
"""
