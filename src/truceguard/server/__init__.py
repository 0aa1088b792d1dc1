"""The mission server: the HTTP API, users and roles, the audit log, live judging, alerts and
Cursor on Target in and out, in one process (``truceguard serve``). Needs the ``server``
extra: ``pip install 'truceguard[server]'``."""
