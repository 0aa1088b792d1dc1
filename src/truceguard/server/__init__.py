"""The mission server, in one process (``truceguard serve``): the HTTP API (``api``), users and
roles (``truceguard.users``), live judging (``live``), alerts and their durable outbox
(``alerts``), plan runs (``plans``), and live Cursor on Target in (``cot``, through the durable
ingest sink ``sink``) and out (``cot_out``), wired together by ``serve``. Needs the ``server``
extra: ``pip install 'truceguard[server]'``."""
