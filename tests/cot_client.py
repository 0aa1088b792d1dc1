"""One real TAK client (pytak) for the CoT listener tests, run as a process of its own:
``python cot_client.py '<json>'`` sends the events the JSON describes through pytak's own
transport and TX worker, then exits. It imports nothing of truceguard, so that a test that
starts several clients does not pay for loading the server's modules in each
(``tests/cot_fixtures.py`` starts them)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


def client_main(spec: dict[str, Any]) -> None:
    import configparser
    import warnings
    from xml.etree import ElementTree as ET

    warnings.simplefilter("ignore")  # pytak warns that an optional aiohttp is missing
    import pytak

    cfg = configparser.ConfigParser()
    cfg["client"] = {"COT_URL": spec["url"], "TAK_PROTO": str(spec.get("proto", 0))}
    for key, value in spec.get("config", {}).items():
        cfg["client"][key] = value
    section = cfg["client"]

    async def run() -> None:
        _reader, writer = await pytak.protocol_factory(section)
        tx = pytak.TXWorker(asyncio.Queue(), section, writer)
        if spec.get("hello"):
            await tx.send_data(pytak.hello_event(f"{spec['prefix']}-ping"))
        for i in range(spec["n"]):
            ev = pytak.cot_event(lat=48.0 + i * 1e-4, lon=37.8, ce=25.0,
                                 uid=f"{spec['prefix']}-{i}",
                                 cot_type=spec.get("type", "a-h-G"), how="h-e",
                                 callsign=f"{spec['prefix']}-{i % 7}", access=spec.get("access"))
            await tx.send_data(pytak.DEFAULT_XML_DECLARATION + b"\n" + ET.tostring(ev))
        if hasattr(writer, "drain"):
            await writer.drain()
        if hasattr(writer, "close"):
            writer.close()
            if hasattr(writer, "wait_closed"):
                await writer.wait_closed()

    asyncio.run(run())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    client_main(json.loads(sys.argv[1]))
