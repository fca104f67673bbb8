"""``-T json`` / ``-T jsonl``: packets as JSON objects.

One object per packet::

    {"frame": {"number": 1, "ts_ns": 1262893114341715000, "time_epoch": 1262893114.341715,
               "time_relative": 0.0, "len": 66, "cap_len": 66, "interface": 0,
               "linktype": 1, "protocols": "eth:ethertype:ip:tcp"},
     "layers": [{"protocol": "ip", "status": "ok", "offset": 14, "length": 20,
                 "fields": {"ip.src": "192.0.2.1", "ip.proto": 6, "ip.flags.df": 1, ...},
                 "names": {"ip.proto": "TCP"}}, ...],
     "data": {"offset": 54, "length": 12, "hex": "..."}}

* ``fields`` are keyed by the full filter name.  A field that occurs once is a scalar; a
  repeated one (TCP option kinds, SACK edges) is a list in packet order.
* Values are JSON-native: integers (enumerations give their number), address text,
  ``bytes`` as a plain hex string; ``*.checksum.status`` is "good"/"bad"/"unverified"/
  "not present".  The names of enumerated values are in ``names`` (same shape), so
  ``fields`` stays numeric.
* A layer that is not ``ok`` has ``"error"``; a datagram quoted inside ICMP has
  ``"quoted": true``.  ``frame.comment`` and ``data``/``trailer`` appear when present;
  context annotations (``pkt.extra``) appear under ``"annotations"``.

``-T json`` writes a JSON array (like tshark), one packet per element; ``-T jsonl``
writes one compact object per line (JSON Lines), for streaming into ``jq -c`` or pandas.
"""
from __future__ import annotations

import json
from enum import IntEnum

from decoder.fields import protocols_text
from decoder.packet import OK


def _safe(value):
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    return str(value)


def _one_or_list(values):
    return values[0] if len(values) == 1 else values


def layer_json(layer) -> dict:
    ns = layer.proto.namespace
    fields, names = {}, {}
    try:
        flat = layer.flat()
    except Exception:  # a damaged layer still reports what it has
        flat = {}
    for rel, values in flat.items():
        if rel.startswith("_") or not values:
            continue
        key = f"{ns}.{rel}"
        fields[key] = _one_or_list([_safe(v) for v in values])
        if any(isinstance(v, IntEnum) for v in values):
            names[key] = _one_or_list([v.name if isinstance(v, IntEnum) else None for v in values])
    out = {"protocol": layer.proto.name, "status": layer.status, "offset": layer.off,
           "length": layer.hlen}
    if layer.status != OK:
        out["error"] = layer.error
    if layer.quoted:
        out["quoted"] = True
    out["fields"] = fields
    if names:
        out["names"] = names
    return out


def packet_json(pkt, clock, ethertype_protos=()) -> dict:
    f = pkt.frame
    frame = {"number": pkt.number, "ts_ns": f.ts_ns, "time_epoch": f.ts_ns / 1e9,
             "time_relative": (f.ts_ns - clock.first) / 1e9, "len": f.orig_len,
             "cap_len": len(f.data), "interface": f.interface, "linktype": f.linktype,
             "protocols": protocols_text([l.proto for l in pkt.layers], bool(pkt.data), ethertype_protos)}
    if f.comment:
        frame["comment"] = f.comment
    out = {"frame": frame, "layers": [layer_json(layer) for layer in pkt.layers]}
    data = pkt.data
    if data:
        out["data"] = {"offset": pkt.data_off, "length": len(data), "hex": data.hex()}
    trailer = pkt.trailer
    if trailer:
        out["trailer"] = {"offset": len(pkt.frame.data) - len(trailer), "length": len(trailer), "hex": trailer.hex()}
    extra = pkt.extra
    if extra:
        out["annotations"] = {k: _one_or_list([_safe(v) for v in vals]) for k, vals in extra.items()}
    return out


def dumps(obj, pretty: bool) -> str:
    if pretty:
        return json.dumps(obj, indent=2, ensure_ascii=False)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
