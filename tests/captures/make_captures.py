"""Build the captures this repository ships (deterministic: fixed addresses and clock).

``python tests/captures/make_captures.py`` rewrites them; a test checks that the files
in the repository are what this script produces.  Addresses are from the
documentation ranges (RFC 5737, RFC 3849) and locally administered MACs, apart from
one Huawei OUI so the vendor lookup shows.
"""
from __future__ import annotations

import sys
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from decoder.capture import Frame, write_pcap  # noqa: E402

CLIENT_MAC, ROUTER_MAC, SERVER_MAC = "02:00:00:00:00:01", "00:e0:fc:12:34:56", "02:00:00:00:00:0a"
CLIENT, ROUTER, SERVER, DNS_SERVER = "192.0.2.100", "192.0.2.1", "198.51.100.10", "198.51.100.53"
T0 = 1_700_000_000_000_000_000
SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)), ("NOP", None), ("WScale", 7)]


def sample_frames():
    """A short troubleshooting session: ARP, DNS, a web fetch, a filtered and a closed port,
    traceroute-style errors, a bad IP checksum answered with Parameter Problem, VLAN, IPv6."""
    c2r = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
    r2c = Ether(src=ROUTER_MAC, dst=CLIENT_MAC)
    out = []

    def add(t, pkt):
        out.append((t, bytes(pkt)))

    add(0.000, Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst=ROUTER))
    add(0.001, Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ARP(op=2, hwsrc=ROUTER_MAC, psrc=ROUTER, hwdst=CLIENT_MAC, pdst=CLIENT))
    add(0.010, c2r / IP(src=CLIENT, dst=DNS_SERVER, id=1) / UDP(sport=53001, dport=53) / DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com")))
    add(0.030, r2c / IP(src=DNS_SERVER, dst=CLIENT, id=7) / UDP(sport=53, dport=53001) / DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="www.example.com"), an=DNSRR(rrname="www.example.com", rdata=SERVER, ttl=300)))
    # a web fetch
    add(0.100, c2r / IP(src=CLIENT, dst=SERVER, id=2, flags="DF") / TCP(sport=40000, dport=80, flags="S", seq=1000, window=64240, options=SYN_OPTS))
    add(0.120, r2c / IP(src=SERVER, dst=CLIENT, id=0, flags="DF") / TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001, window=65160, options=[("MSS", 1400), ("SAckOK", b""), ("Timestamp", (7000, 1000)), ("NOP", None), ("WScale", 7)]))
    add(0.121, c2r / IP(src=CLIENT, dst=SERVER, id=3, flags="DF") / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=5001, window=502))
    get = b"GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: protospec-sample\r\n\r\n"
    add(0.122, c2r / IP(src=CLIENT, dst=SERVER, id=4, flags="DF") / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5001, window=502) / get)
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world\n"
    add(0.150, r2c / IP(src=SERVER, dst=CLIENT, id=1, flags="DF") / TCP(sport=80, dport=40000, flags="PA", seq=5001, ack=1001 + len(get), window=509) / body)
    add(0.151, c2r / IP(src=CLIENT, dst=SERVER, id=5, flags="DF") / TCP(sport=40000, dport=80, flags="FA", seq=1001 + len(get), ack=5001 + len(body), window=502))
    add(0.170, r2c / IP(src=SERVER, dst=CLIENT, id=2, flags="DF") / TCP(sport=80, dport=40000, flags="FA", seq=5001 + len(body), ack=1002 + len(get), window=509))
    add(0.171, c2r / IP(src=CLIENT, dst=SERVER, id=6, flags="DF") / TCP(sport=40000, dport=80, flags="A", seq=1002 + len(get), ack=5002 + len(body), window=502))
    # port 8081 filtered: three SYNs, no answer (RTO 1 s, then 2 s)
    for i, t in enumerate((1.000, 2.000, 4.000)):
        add(t, c2r / IP(src=CLIENT, dst=SERVER, id=10 + i, flags="DF") / TCP(sport=40001, dport=8081, flags="S", seq=9000, window=64240, options=SYN_OPTS))
    # port 23 closed: SYN answered by RST
    add(4.500, c2r / IP(src=CLIENT, dst=SERVER, id=20, flags="DF") / TCP(sport=40002, dport=23, flags="S", seq=7000, window=64240, options=SYN_OPTS))
    add(4.520, r2c / IP(src=SERVER, dst=CLIENT, id=0, flags="DF") / TCP(sport=23, dport=40002, flags="RA", seq=0, ack=7001, window=0))
    # traceroute probe: time exceeded from the router, then port unreachable from the server
    probe = IP(src=CLIENT, dst=SERVER, id=30, ttl=1) / UDP(sport=40500, dport=33434) / (b"\0" * 24)
    add(5.000, c2r / probe)
    add(5.001, r2c / IP(src=ROUTER, dst=CLIENT, id=40) / ICMP(type=11, code=0) / bytes(probe)[:28])
    probe2 = IP(src=CLIENT, dst=SERVER, id=31, ttl=64) / UDP(sport=40501, dport=33435) / (b"\0" * 24)
    add(5.100, c2r / probe2)
    add(5.120, r2c / IP(src=SERVER, dst=CLIENT, id=41) / ICMP(type=3, code=3) / bytes(probe2)[:28])
    # echo
    add(6.000, c2r / IP(src=CLIENT, dst=SERVER, id=50) / ICMP(type=8, id=0x77, seq=1) / (b"abcdefgh" * 4))
    add(6.020, r2c / IP(src=SERVER, dst=CLIENT, id=51) / ICMP(type=0, id=0x77, seq=1) / (b"abcdefgh" * 4))
    # a datagram with a bad IP header checksum, answered with Parameter Problem pointer 10
    bad = IP(src=CLIENT, dst=SERVER, id=60, chksum=0xFFFF) / UDP(sport=40600, dport=9) / b"discard me"
    add(7.000, c2r / bad)
    add(7.010, r2c / IP(src=SERVER, dst=CLIENT, id=61) / ICMP(type=12, code=0, ptr=10) / bytes(bad)[:28])
    # a VLAN-tagged frame and IPv6 neighbour discovery + ping
    add(8.000, Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / Dot1Q(vlan=100, prio=5) / IP(src=CLIENT, dst=ROUTER, id=70) / ICMP(type=8, id=1, seq=1))
    c6, r6 = "2001:db8::100", "2001:db8::1"
    add(9.000, Ether(src=CLIENT_MAC, dst="33:33:ff:00:00:01") / IPv6(src=c6, dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=r6) / ICMPv6NDOptSrcLLAddr(lladdr=CLIENT_MAC))
    add(9.001, Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / IPv6(src=r6, dst=c6, hlim=255) / ICMPv6ND_NA(tgt=r6, R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=ROUTER_MAC))
    add(9.010, Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IPv6(src=c6, dst=r6) / ICMPv6EchoRequest(id=5, seq=1, data=b"ping6"))
    add(9.020, Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / IPv6(src=r6, dst=c6) / ICMPv6EchoReply(id=5, seq=1, data=b"ping6"))
    return [Frame(data, 1, T0 + round(t * 1e9), len(data)) for t, data in out]


CAPTURES = {"sample.pcap": sample_frames}


def main():
    for name, make in CAPTURES.items():
        with open(HERE / name, "wb") as f:
            n = write_pcap(f, make())
        print(f"{name}: {n} packets")


if __name__ == "__main__":
    main()
