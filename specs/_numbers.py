"""Assigned numbers shared by several specs (IANA / IEEE registries).

Only the numbers a spec dispatches on or names live here; the dispatch tables
themselves are filled by each spec's ``Bind``.
"""
from enum import IntEnum


class EtherType(IntEnum):
    """IEEE 802 EtherType (IEEE Registration Authority; RFC 7042 Appendix B)."""
    IPv4 = 0x0800
    ARP = 0x0806
    WOL = 0x0842
    RARP = 0x8035
    VLAN = 0x8100
    IPX = 0x8137
    IPv6 = 0x86DD
    Slow_Protocols = 0x8809
    MPLS = 0x8847
    MPLS_multicast = 0x8848
    PPPoE_Discovery = 0x8863
    PPPoE_Session = 0x8864
    EAPOL = 0x888E
    QinQ = 0x88A8
    LLDP = 0x88CC
    Loopback = 0x9000
    QinQ_old = 0x9100


class IpProto(IntEnum):
    """IP protocol numbers (IANA "Assigned Internet Protocol Numbers"; RFC 8200 next header)."""
    HOPOPT = 0
    ICMP = 1
    IGMP = 2
    IPIP = 4
    TCP = 6
    UDP = 17
    IPv6 = 41
    IPv6_Route = 43
    IPv6_Frag = 44
    GRE = 47
    ESP = 50
    AH = 51
    ICMPv6 = 58
    IPv6_NoNxt = 59
    IPv6_Opts = 60
    OSPF = 89
    PIM = 103
    VRRP = 112
    L2TP = 115
    SCTP = 132


class HardwareType(IntEnum):
    """ARP hardware types (IANA "Hardware Types"; RFC 826, RFC 5494) and the Linux ARPHRD_
    values above 255 that Linux cooked captures carry (linux/if_arp.h)."""
    NETROM = 0
    Ethernet = 1
    Experimental_Ethernet = 2
    AX25 = 3
    ProNET = 4
    Chaos = 5
    IEEE802 = 6
    ARCNET = 7
    Frame_Relay = 15
    ATM = 16
    HDLC = 17
    Fibre_Channel = 18
    ATM_RFC2225 = 19
    Serial_Line = 20
    IEEE1394 = 24
    EUI64 = 27
    InfiniBand = 32
    PPP = 512
    Cisco_HDLC = 513
    LAPB = 516
    Raw_IP = 519
    IPIP_Tunnel = 768
    IP6IP6_Tunnel = 769
    FRAD = 770
    Loopback = 772
    FDDI = 774
    SIT = 776
    IPGRE = 778
    IEEE80211 = 801
    IEEE80211_Prism = 802
    IEEE80211_Radiotap = 803
    IEEE802154 = 804
    IP6GRE = 823
    Netlink = 824
    Void = 0xFFFF
    No_Header = 0xFFFE
