"""The ``protospec`` command line, modelled on tshark.

::

    protospec decode FILE                      # packet list, one summary line per packet
    protospec decode FILE -V [-x]              # detail tree (and hex dump)
    protospec decode FILE -x                   # summary line + hex/ASCII dump
    protospec decode FILE -T json|jsonl        # JSON array / JSON Lines (see decoder.jsonout)
    protospec decode FILE -T fields -e ip.src -e tcp.srcport [-E separator=,] [-E occurrence=f]
    protospec decode FILE -Y 'tcp.port == 80'  # only the packets a display filter matches
    protospec fields [PATTERN]                 # list the field names -e accepts
    protospec docs [--specs DIR] [-o OUT]      # build the HTML documentation (Sphinx)

FILE is a pcap or pcapng capture, gzip-compressed or not, or ``-`` for standard input.
``-c N`` stops after N packets; ``-l`` flushes after every packet (output is written in
batches otherwise); ``--specs DIR`` (repeatable) adds a directory of spec modules.  A
progress bar (tqdm, by bytes read) appears on stderr when stderr is a terminal, stdout is
not, and FILE is a regular file of 4 MiB or more; ``--no-progress`` turns it off.

Exit status: 0 ok, 1 unreadable capture or spec (every complete packet before the damage
is printed first), 2 usage errors such as an unknown field.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import stat
import sys

PROG = "protospec"
PROGRESS_MIN_BYTES = 4 * 1024 * 1024


class UsageError(Exception):
    """Bad command-line input found after parsing (exit 2)."""


def _e_option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or key not in ("separator", "occurrence", "aggregator", "quote", "header"):
        raise argparse.ArgumentTypeError(
            f"bad -E option {text!r}: use separator=, occurrence=f|l|a, aggregator=, quote=d|s|n, header=y|n")
    return key, value


def _special(value: str) -> str:
    return {"/t": "\t", "/s": " "}.get(value, value)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Decode captures with declarative protocol specs.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = sub.add_parser("decode", help="decode a capture (tshark-like output)",
                       description="Decode a pcap/pcapng capture (gzip ok; '-' = stdin).")
    d.add_argument("file", metavar="FILE", help="capture file, or - for standard input")
    d.add_argument("-V", dest="verbose", action="store_true", help="packet detail tree")
    d.add_argument("-x", dest="hex", action="store_true", help="hex and ASCII dump of each frame")
    d.add_argument("-T", dest="format", choices=("text", "json", "jsonl", "fields"),
                   help="output format (default text; fields when -e is given)")
    d.add_argument("-e", dest="fields", action="append", default=[], metavar="FIELD",
                   help="field to print with -T fields (repeatable)")
    d.add_argument("-E", dest="field_opts", action="append", default=[], type=_e_option, metavar="OPT=VALUE",
                   help="-T fields option: separator=/t|/s|CHAR, occurrence=f|l|a, aggregator=CHAR, "
                        "quote=d|s|n, header=y|n")
    d.add_argument("-c", dest="count", type=int, metavar="N", help="stop after N packets")
    d.add_argument("-l", dest="line_buffered", action="store_true",
                   help="flush the output after each packet (live captures through a pipe)")
    d.add_argument("-Y", "--display-filter", dest="display_filter", metavar="FILTER",
                   help="show only the packets this display filter matches (Wireshark syntax, "
                        "e.g. 'tcp.port == 80 and ip.addr == 192.0.2.0/24'); -c counts shown packets")
    d.add_argument("-2", dest="two_pass", action="store_true",
                   help="two passes, as tshark -2: run every analysis stage, and also give the links "
                        "to later frames (dns.response_in, icmp.resp_in, icmp.no_resp, http.response_in, "
                        "radius.rspframe ...); FILE is read twice, so not standard input")
    d.add_argument("--no-reassembly", dest="reassemble", action="store_false",
                   help="show IPv4 fragments as they are, without decoding the datagrams they "
                        "complete (tshark -o ip.defragment:FALSE)")
    d.add_argument("--specs", action="append", default=[], metavar="DIR",
                   help="also load the spec modules in DIR (repeatable)")
    from expert.radius_check import add_arguments as secret_arguments
    secret_arguments(d)
    d.add_argument("--no-progress", action="store_true",
                   help="never show a progress bar (shown on a terminal for large files)")
    f = sub.add_parser("fields", help="list the field names -e accepts",
                       description="List field names (PATTERN: a substring to filter on).")
    f.add_argument("pattern", nargs="?", default="")
    f.add_argument("--specs", action="append", default=[], metavar="DIR")
    from expert.report import add_arguments as expert_arguments
    expert_arguments(sub.add_parser("expert", help="diagnose a capture with expert rules (causes, actions)",
                                    description="Expert diagnosis: built-in and user rules over a capture "
                                                "(see expert/report.py for the exit status)."))
    from expert.stats import add_arguments as stats_arguments
    stats_arguments(sub.add_parser("stats", help="statistics: hierarchy, conversations, endpoints, ART, io",
                                   description="tshark -z like statistics (see expert/stats.py)."))
    o = sub.add_parser("docs", help="build the HTML documentation (decode reference, rules, guides)",
                       description="Build the HTML documentation with Sphinx (warnings are errors). With "
                                   "--specs, only the decode reference, including the protocols of DIR.")
    o.add_argument("--specs", action="append", default=[], metavar="DIR",
                   help="also document the spec modules in DIR (repeatable; builds the decode reference only)")
    o.add_argument("-o", dest="out", default=os.path.join("docs", "_build", "html"), metavar="OUT",
                   help="output directory (default docs/_build/html)")
    return ap


# -- progress ---------------------------------------------------------------------------

class _Progress:
    """A tqdm bar by bytes read, for a regular file we opened ourselves."""

    def __init__(self, fileobj, size, name):
        from tqdm import tqdm
        self.f = fileobj
        self.bar = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                        desc=os.path.basename(name), leave=False, dynamic_ncols=True)

    def tick(self):
        try:
            pos = self.f.tell()
        except (OSError, ValueError):
            return
        self.bar.update(pos - self.bar.n)

    def close(self):
        self.bar.close()


def _open_input(path: str, allow_progress: bool):
    """``(source for open_capture, progress or None)``: a bar only when stderr is a
    terminal, stdout is not (the bar would tear the output), and FILE is a regular file
    of a few MB or more — never for pipes or stdin."""
    if path == "-" or not allow_progress:
        return path, None
    try:
        if not (sys.stderr.isatty() and not sys.stdout.isatty()):
            return path, None
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size < PROGRESS_MIN_BYTES:
            return path, None
        fileobj = open(path, "rb", buffering=1 << 16)
    except (OSError, ValueError):
        return path, None            # let open_capture report it
    try:
        return fileobj, _Progress(fileobj, st.st_size, path)
    except Exception:  # tqdm unusable: decode without a bar
        return fileobj, None


# -- the decode command -----------------------------------------------------------------

def _field_options(args):
    opts = {"separator": "\t", "occurrence": "a", "aggregator": ",", "quote": "", "header": False}
    for key, value in args.field_opts:
        if key == "separator":
            opts[key] = _special(value)
        elif key == "aggregator":
            opts[key] = _special(value)
        elif key == "occurrence":
            if value not in ("f", "l", "a"):
                raise UsageError(f"bad -E occurrence={value}: use f, l or a")
            opts[key] = value
        elif key == "quote":
            if value not in ("d", "s", "n"):
                raise UsageError(f"bad -E quote={value}: use d, s or n")
            opts[key] = {"d": '"', "s": "'", "n": ""}[value]
        elif key == "header":
            if value not in ("y", "n"):
                raise UsageError(f"bad -E header={value}: use y or n")
            opts[key] = value == "y"
    return opts


def decode(args, out) -> int:
    from decoder.fields import FieldError, FieldsWriter
    from decoder.packet import Decoder
    from decoder.registry import Registry

    fmt = args.format or ("fields" if args.fields else "text")
    if fmt == "fields" and not args.fields:
        raise UsageError("-T fields needs at least one -e FIELD")
    if args.fields and fmt != "fields":
        raise UsageError("-e needs -T fields")
    if args.count is not None and args.count < 0:
        raise UsageError("-c needs a count of 0 or more")
    if args.two_pass and args.file == "-":
        raise UsageError("-2 reads the capture twice: give a file, not standard input")

    from expert.radius_check import passwords_from_args, secrets_from_args
    try:
        secrets = secrets_from_args(args.radius_secret)
        passwords = passwords_from_args(args.chap_password)
    except ValueError as e:
        raise UsageError(str(e)) from None

    reg = Registry.default(extra_dirs=args.specs)
    stages = AnalysisStages(secrets, passwords)
    writer = None
    if fmt == "fields":
        try:
            from decoder.reassembly import REASSEMBLY_FIELDS
            writer = FieldsWriter(reg, args.fields, annotations=stages.fields | set(REASSEMBLY_FIELDS),
                                  **_field_options(args))
        except FieldError as e:
            raise UsageError(str(e)) from None
    flt = _display_filter(args, reg)
    wanted = set(args.fields or ()) | set(flt.fields if flt is not None else ())
    if fmt != "fields" or "_ws.col.Info" in wanted:
        # the Info column shows [TCP Retransmission] ... and (request in 22)
        wanted |= {"tcp.analysis.flags", "icmp.resp_to"}
    def base(links=None):
        from decoder.reassembly import Defragmenter
        return Defragmenter(Decoder(reg), links=links) if args.reassemble else Decoder(reg)

    links = None
    if args.two_pass:
        wanted |= stages.fields
        links = _first_pass(args, stages, base, wanted, flt)
    decoder = stages.decoder(base(links), wanted, links)

    if args.line_buffered:
        def write(text, _write=out.write, _flush=out.flush):
            _write(text)
            _flush()
    else:
        write = out.write
    with _reading(args) as (reader, tick):
        frames = _limited(reader, args, flt)
        if writer is not None:
            writer.run(frames, write, decoder, tick=tick, batch=1 if args.line_buffered else 2048,
                       flt=flt, count=args.count if flt is not None else None)
        else:
            _decode_packets(frames, fmt, args, reg, decoder, write, tick, flt)
    return 0


@contextlib.contextmanager
def _reading(args):
    """``(reader, progress tick or None)`` for the capture ``args.file``."""
    from decoder.capture import open_capture
    source, progress = _open_input(args.file, not args.no_progress)
    try:
        with open_capture(source) as reader:
            yield reader, (progress.tick if progress is not None else None)
    finally:
        if progress is not None:
            progress.close()
        if source is not args.file:
            source.close()


def _limited(frames, args, flt):
    """The frames ``-c`` lets through: the first N, or all of them when a display filter
    decides (then -c counts the packets shown)."""
    if args.count is not None and (flt is None or args.count == 0):
        return itertools.islice(frames, args.count)
    return iter(frames)


def _first_pass(args, stages, base, wanted, flt):
    """tshark's first pass of ``-2``: run the stages over the frames the second pass will
    read, for the links to later frames.  A capture that breaks off ends the pass
    quietly: the second one reports it after the packets before it."""
    from decoder.capture import CaptureError
    from expert.pairing import ForwardLinks
    links = ForwardLinks()
    first = stages.decoder(base(links), wanted, links)
    try:
        with _reading(args) as (reader, tick):
            for n, frame in enumerate(_limited(reader, args, flt), 1):
                first.decode(frame, n)
                if tick is not None and n % 4096 == 0:
                    tick()
    except CaptureError:
        pass
    links.complete = True
    return links


class AnalysisStages:
    """The analysis that fields such as ``tcp.stream``, ``tcp.analysis.retransmission``,
    ``dns.time`` or ``radius.rspframe`` need: run over the decoded packets only when a
    ``-e`` field or the ``-Y`` filter asks for one of them (tshark always runs it; it
    costs a few µs a packet).  The RADIUS/CHAP checks also run whenever a secret or a
    password is given, so ``-T json`` shows their verdicts."""

    def __init__(self, secrets=None, passwords=None):
        from expert import pairing, radius_check, tcp_analysis
        self.forced = bool(secrets or passwords)

        def access(run, links):
            return radius_check.AccessCheck(secrets or None, passwords or None, links=links)

        def pairs(run, links):       # RADIUS pairs come from the access stage when it runs
            return pairing.Pairing(radius="access" not in run, links=links)

        self.groups = {"analysis": (set(tcp_analysis.ANALYSIS_FIELDS), lambda run, links: tcp_analysis.Analysis()),
                       "pairing": (set(pairing.PAIRING_FIELDS), pairs),
                       "access": (set(radius_check.ACCESS_FIELDS), access)}
        self.fields = set().union(*(names for names, _ in self.groups.values()))

    def decoder(self, decoder, wanted: set, links=None):
        """``decoder`` itself, or a wrapper whose ``decode`` also runs the stages needed
        (``links``: :class:`expert.pairing.ForwardLinks`, filled by these stages in a
        first pass, annotated on the packets once complete)."""
        run = {name for name, (names, _) in self.groups.items()
               if names & wanted or (name == "access" and self.forced)}
        if not run:
            return decoder
        return _AnalysingDecoder(decoder, [make(run, links).process for name, (_, make) in self.groups.items()
                                           if name in run], links)


class _AnalysingDecoder:
    def __init__(self, decoder, steps, links=None):
        self.inner, self.steps = decoder, steps
        self.registry, self.linktypes = decoder.registry, decoder.linktypes
        self.is_fragment = getattr(decoder, "is_fragment", None)
        self.links = links if links is not None and links.complete else None

    def decode(self, frame, number=0):
        pkt = self.inner.decode(frame, number)
        for step in self.steps:
            step(pkt)
        if self.links is not None:
            self.links.annotate(pkt)
        return pkt


def _display_filter(args, reg):
    """The compiled ``-Y`` filter, or None; a bad filter is a usage error (exit 2)."""
    if not getattr(args, "display_filter", None):
        return None
    from expert.filters import FilterError, compile_filter
    try:
        return compile_filter(args.display_filter, reg)
    except FilterError as e:
        raise UsageError(f"display filter {args.display_filter!r}: {e}") from None


def _decode_packets(frames, fmt, args, reg, decoder, write, tick, flt=None) -> None:
    from decoder.fields import Clock
    from decoder.hexdump import hexdump

    clock = Clock()
    batch = 1 if args.line_buffered else 256
    chunks: list[str] = []
    ethertype = reg.ethertype_protos
    if fmt in ("json", "jsonl"):
        from decoder.jsonout import dumps, packet_json
        pretty = fmt == "json"
        if pretty:
            write("[\n")
    else:
        from decoder.summary import summary_line
        from decoder.tree import packet_tree
    n = 0
    first = True
    shown = 0
    try:
        for n, frame in enumerate(frames, 1):
            clock.tick(frame.ts_ns)
            pkt = decoder.decode(frame, n)
            if flt is not None:                  # -Y: -c counts the packets shown
                if not flt(pkt):
                    continue
                shown += 1
            if fmt == "json":
                chunks.append(("" if first else ",\n") + _indent(dumps(packet_json(pkt, clock, ethertype), True)))
                first = False
            elif fmt == "jsonl":
                chunks.append(dumps(packet_json(pkt, clock, ethertype), False) + "\n")
            elif args.verbose:
                chunks.append(packet_tree(pkt, clock, reg))
                if args.hex:
                    chunks.append(hexdump(frame.data))
                chunks.append("\n")
            else:
                chunks.append(summary_line(pkt, clock) + "\n")
                if args.hex:
                    chunks.append(hexdump(frame.data) + "\n")
            if n % batch == 0:
                write("".join(chunks))
                chunks.clear()
                if tick is not None and n % 4096 == 0:
                    tick()
            if flt is not None and args.count is not None and shown >= args.count:
                break
    finally:
        if fmt == "json":
            chunks.append("\n]\n" if not first else "]\n")
        if chunks:
            write("".join(chunks))


def _indent(text: str) -> str:
    return "  " + text.replace("\n", "\n  ")


def list_fields(args, out) -> int:
    from decoder.fieldfmt import field_doc, label_of
    from decoder.registry import Registry

    from expert.stages import annotated_fields

    reg = Registry.default(extra_dirs=args.specs)
    docs = {}
    for name in reg.fields:
        proto, rel = reg.resolve(name)
        docs[name] = label_of(field_doc(proto, rel), "", limit=80)
    # the fields analysis stages compute (tcp.stream, tcp.analysis.*, dns.time ...)
    for name, source, kind in annotated_fields():
        docs.setdefault(name, f"[{source}] {kind}")
    rows = [f"{name}\t{doc}" for name, doc in sorted(docs.items()) if args.pattern in name]
    out.write("\n".join(rows) + ("\n" if rows else ""))
    return 0


# -- entry point ------------------------------------------------------------------------

def main(argv=None) -> int:
    """Run the command line; returns the exit status (also when called from tests)."""
    from decoder.capture import CaptureError
    from decoder.registry import SpecError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    out = sys.stdout
    try:
        try:
            if args.command == "decode":
                return decode(args, out)
            if args.command == "expert":
                from expert.report import main as expert_main
                return expert_main(args, out)
            if args.command == "stats":
                import expert.stats
                return expert.stats.main(args, out)
            if args.command == "docs":
                from decoder.reference import build_docs
                path = build_docs(args.out, extra_spec_dirs=args.specs or (), reference_only=bool(args.specs))
                print(f"documentation written to {path}", file=out)
                return 0
            return list_fields(args, out)
        finally:
            out.flush()
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except (CaptureError, SpecError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, and keep Python's exit-time
        # flush of stdout from raising again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
