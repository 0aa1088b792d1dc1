"""The server: live Cursor on Target in (``server.cot``) and out (``server.cot_out``), and the
durable ingest sink between the listeners and the store (``server.sink``)."""
