"""The packet list: one tshark-style summary line per packet.

``    1   0.000000 192.0.2.1 → 198.51.100.2 TCP 66 2826 → 80 [SYN] Seq=0 ...`` — No. and
Time right-aligned (widths 5 and 10), Source right-aligned and Destination left-aligned
in 12 columns, as tshark prints them.
"""
from __future__ import annotations

from decoder.fieldfmt import tshark_text
from decoder.fields import ns_text
from decoder.packet import MALFORMED, OK, TRUNCATED


def _visible(pkt):
    """Layers that speak for the packet: a datagram quoted inside ICMP does not."""
    return [layer for layer in pkt.layers if not layer.quoted]


def info_layer(pkt):
    """The layer whose summary is the Info column: the top-most one outside a quoted
    datagram; if it is cut before even its fixed header, its parent says more."""
    layers = _visible(pkt)
    if not layers:
        return None
    top = layers[-1]
    if top.v is None and top.status != OK and len(layers) > 1:
        return layers[-2]
    return top


def addresses(pkt):
    """(Source, Destination) from the top-most layer that declares them."""
    for layer in reversed(_visible(pkt)):
        p = layer.proto
        if p.source and p.destination:
            src, dst = layer.get(p.source), layer.get(p.destination)
            if src is not None or dst is not None:    # a cut header may give only one
                return ("" if src is None else str(src)), ("" if dst is None else str(dst))
    return "", ""


def problem(pkt) -> str:
    """`` [Malformed: why]`` / `` [Truncated]`` for the first damaged layer, else ``""``."""
    for layer in _visible(pkt):
        if layer.status == MALFORMED:
            return f" [Malformed: {layer.error}]"
        if layer.status == TRUNCATED:
            return " [Truncated]"
    return ""


def columns(pkt, clock) -> dict:
    """The packet-list columns by tshark's titles (``_ws.col.<title>`` fields)."""
    frame = pkt.frame
    layers = _visible(pkt)
    src, dst = addresses(pkt)
    shown = info_layer(pkt)
    if shown is None:
        proto, info = "DATA", f"link type {frame.linktype}: no spec decodes it"
    else:
        proto = layers[-1].proto.column
        info = shown.summary(pkt.extra) if shown.v is not None else ""   # no summary from a stub
    info = tshark_text((analysis_labels(pkt) + info + echo_notes(pkt) + problem(pkt)).lstrip(" "))  # one line
    return {
        "No.": str(pkt.number),
        "Time": ns_text(frame.ts_ns - clock.first, 6),
        "Source": src,
        "Destination": dst,
        "Protocol": proto,
        "Length": str(frame.orig_len),
        "Info": info,
    }


#: Wireshark's Info labels for the TCP analysis flags, in the order it shows them: the
#: reverse of the order packet-tcp.c prepends them (tcp_print_sequence_number_analysis);
#: None stands for the ``[TCP Dup ACK frame#n]`` label
ANALYSIS_LABELS = (
    ("tcp.analysis.zero_window_probe_ack", "TCP ZeroWindowProbeAck"),
    ("tcp.analysis.zero_window", "TCP ZeroWindow"),
    ("tcp.analysis.zero_window_probe", "TCP ZeroWindowProbe"),
    ("tcp.analysis.duplicate_ack_num", None),
    ("tcp.analysis.keep_alive_ack", "TCP Keep-Alive ACK"),
    ("tcp.analysis.keep_alive", "TCP Keep-Alive"),
    ("tcp.analysis.window_full", "TCP Window Full"),
    ("tcp.analysis.window_update", "TCP Window Update"),
    ("tcp.analysis.ack_lost_segment", "TCP ACKed unseen segment"),
    ("tcp.analysis.lost_segment", "TCP Previous segment not captured"),
    ("tcp.analysis.out_of_order", "TCP Out-Of-Order"),
    ("tcp.analysis.spurious_retransmission", "TCP Spurious Retransmission"),
    ("tcp.analysis.fast_retransmission", "TCP Fast Retransmission"),
    ("tcp.analysis.retransmission", "TCP Retransmission"),
    ("tcp.analysis.reused_ports", "TCP Port numbers reused"),
)


def analysis_labels(pkt) -> str:
    """``[TCP Retransmission] `` and the like, when the TCP analysis annotated the packet."""
    extra = pkt.extra
    if not extra or "tcp.analysis.flags" not in extra:
        return ""
    out = []
    for name, label in ANALYSIS_LABELS:
        if name not in extra:
            continue
        if label is None:
            frame = extra.get("tcp.analysis.duplicate_ack_frame", [""])[0]
            out.append(f"[TCP Dup ACK {frame}#{extra[name][0]}] ")
        elif name != "tcp.analysis.retransmission" or not (
                "tcp.analysis.fast_retransmission" in extra or "tcp.analysis.spurious_retransmission" in extra):
            out.append(f"[{label}] ")                # Wireshark names only the specific kind
    return "".join(out)


#: Wireshark's Info notes on paired ICMP and ICMPv6 echoes (``(reply in 23)``; the links to
#: later frames come with ``-2``)
ECHO_NOTES = tuple((f"{proto}.{name}", text) for proto in ("icmp", "icmpv6")
                   for name, text in (("resp_in", " (reply in {})"), ("resp_to", " (request in {})"),
                                      ("no_resp", " (no response found!)")))


def echo_notes(pkt) -> str:
    extra = pkt.extra
    if not extra:
        return ""
    return "".join(text.format(extra[name][0]) for name, text in ECHO_NOTES if name in extra)


def summary_line(pkt, clock) -> str:
    c = columns(pkt, clock)
    arrow = "→" if c["Source"] or c["Destination"] else " "
    return (f"{c['No.']:>5} {c['Time']:>10} {c['Source']:>12} {arrow} {c['Destination']:<12} "
            f"{c['Protocol']} {c['Length']} {c['Info']}")
