"""The expert engine: compiled rules run over decoded packets, streaming, with bounded state.

::

    from expert.engine import Engine
    engine = Engine(load_rules(registry), registry)
    findings = engine.run_capture("trace.pcap")     # or engine.process(pkt) ... engine.finish()

Per packet, in capture order:

1. the analysis stages the rules need (:func:`expert.stages.needed`) annotate it —
   conversations, TCP analysis, checksum monitor, ICMP linking, RADIUS/CHAP checks;
2. **packet rules** whose required protocols the packet carries are tested (each rule's
   condition is a compiled display filter; rules are indexed by protocol, so a UDP
   packet never runs a TCP rule);
3. **sequence rules** advance: a packet matching a ``then`` step is looked up among the
   pending matches by the step's equality key (``dns.id == Q.dns.id``), then a packet
   matching ``first`` opens a new pending match.  Pending matches expire ``within`` their
   window (an expired ``absent`` step is a finding: "no answer within 2 s"); at most
   :attr:`Engine.max_pending` per rule are kept (the oldest are dropped first, never
   reported).  A match still inside its window when the capture ends is not reported
   (the answer may simply not have been captured).

**Conversation rules** run when the flow table finishes a conversation (idle timeout,
close, or end of capture), on its record (:mod:`expert.convstats`).

Findings with the same rule and text merge (their frames are collected, up to
:data:`MAX_FRAMES` each).  At the end, precedence: a frame named by a rule that
``overrides`` others is removed from their findings (one frame, one verdict); a finding
left without frames disappears.
"""
from __future__ import annotations

from collections import deque

from expert import stages
from expert.convstats import ConvContext, ConvStats, HostTable, _endpoint
from expert.rule_compiler import SeqCtx, key_of, keys_of
from expert.rules import severity_rank
from expert.template import fill
from expert.tcp_state import ACK, RST, SYN

MAX_FRAMES = 10_000            # frames kept per finding
MAX_FINDINGS_PER_RULE = 10_000  # distinct texts per rule; more are counted, not kept
MAX_PENDING = 100_000          # pending matches per sequence rule
MAX_PER_KEY = 16               # pending matches with the same key (the oldest go first)
SWEEP_NS = 1_000_000_000       # capture time between expiries of every sequence rule


class Finding:
    """One diagnosis: a rule's text for some frames (merged when the text is the same)."""

    __slots__ = ("rule", "text", "cause", "action", "frames", "count", "conversation")

    def __init__(self, rule, text, cause, action, frames, conversation):
        self.rule, self.text, self.cause, self.action = rule, text, cause, action
        self.frames = list(frames)
        self.count = 1
        self.conversation = conversation

    @property
    def id(self):
        return self.rule.id

    @property
    def severity(self):
        return self.rule.severity

    @property
    def group(self):
        return self.rule.group

    @property
    def title(self):
        return self.rule.title

    @property
    def first_frame(self):
        return min(self.frames) if self.frames else None

    def _fill(self, text):
        return fill(text, self.frames, self.count) if text else text

    @property
    def message(self) -> str:
        return self._fill(self.text)

    @property
    def cause_text(self):
        return self._fill(self.cause)

    @property
    def action_text(self):
        return self._fill(self.action)

    def as_dict(self) -> dict:
        out = {"rule": self.id, "severity": self.severity, "group": self.group, "title": self.title,
               "message": self.message, "frames": sorted(set(self.frames)), "count": self.count}
        if self.cause:
            out["cause"] = self.cause_text
        if self.action:
            out["action"] = self.action_text
        out["conversation"] = self.conversation
        return out

    def __repr__(self):
        return f"<Finding {self.id} {self.severity} frames={sorted(set(self.frames))[:8]} {self.message!r}>"


# -- conversations named by findings ------------------------------------------------------------

def packet_conversation(packet):
    """The conversation a packet belongs to, for a finding: its transport endpoints and
    ``tcp.stream``/``udp.stream`` when known; an ICMP error names the conversation of the
    datagram it quotes."""
    net = transport = None
    quoted_net = quoted_transport = None
    for layer in packet.layers:
        name = layer.proto.name
        if name in ("ip", "ipv6"):
            if layer.quoted:
                quoted_net = quoted_net or layer
            elif net is None:
                net = layer
        elif name in ("tcp", "udp"):
            if layer.quoted:
                if quoted_transport is None:
                    quoted_transport = layer
            elif transport is None:
                transport = layer
    if transport is None and quoted_transport is not None:
        net, transport = quoted_net, quoted_transport
    if net is None:
        return None
    src, dst = net.get("src"), net.get("dst")
    out = {"proto": transport.proto.name if transport is not None else "ip"}
    ex = packet.extra
    if transport is not None:
        key = f"{transport.proto.name}.stream"
        if ex is not None and key in ex:
            out["stream"] = ex[key][-1] if transport.quoted else ex[key][0]
        sp, dp = transport.get("srcport"), transport.get("dstport")
        out["src"], out["dst"] = _endpoint(src, sp), _endpoint(dst, dp)
    else:
        out["src"], out["dst"] = str(src), str(dst)
    return out


def record_conversation(conv):
    out = {"proto": conv.kind, "stream": conv.index}
    if conv.kind in ("tcp", "udp"):
        out["client"] = _endpoint(conv.orig_host, conv.orig_port)
        out["server"] = _endpoint(conv.resp_host, conv.resp_port)
    else:
        out["client"], out["server"] = conv.orig_host, conv.resp_host
    if conv.kind == "tcp":
        out["conn_state"] = conv.conn_state
    return out


# -- sequences -----------------------------------------------------------------------------------

class _Pending:
    __slots__ = ("pk", "deadline", "step", "key", "alive")

    def __init__(self, pk, deadline, step, key):
        self.pk, self.deadline, self.step, self.key = pk, deadline, step, key
        self.alive = True


class _SeqState:
    """Pending matches of one sequence rule: per step, a key -> deque index and a
    deadline-ordered queue."""

    __slots__ = ("rule", "steps", "waiting", "queues", "alive", "dropped", "first_ann", "_first_ok")

    def __init__(self, rule):
        self.rule = rule
        self.steps = rule.steps
        self.first_ann = rule.steps[0].ann
        self._first_ok = {}
        n = len(rule.steps)
        self.waiting = [None] + [{} for _ in range(n - 1)]
        self.queues = [None] + [deque() for _ in range(n - 1)]
        self.alive = 0
        self.dropped = 0

    def first_ok(self, names) -> bool:
        """Whether a packet with these protocols can match the first step."""
        hit = self._first_ok.get(names)
        if hit is None:
            s = self.steps[0]
            hit = self._first_ok[names] = s.fits(names)
        return hit

    def add(self, pk, i, now):
        step = self.steps[i]
        key = key_of(step.key_prev, SeqCtx(pk)) if step.key_prev else ()
        inst = _Pending(pk, now + step.within_ns, i, key)
        if key is not None:
            bucket = self.waiting[i].get(key)
            if bucket is None:
                bucket = self.waiting[i][key] = deque()
            elif len(bucket) >= MAX_PER_KEY:
                self.kill(bucket[0])          # the oldest of many identical openings
                self.dropped += 1
            bucket.append(inst)
        self.queues[i].append(inst)
        self.alive += 1
        return inst

    def kill(self, inst):
        inst.alive = False
        self.alive -= 1
        if inst.key is None:
            return
        table = self.waiting[inst.step]
        bucket = table.get(inst.key)
        if bucket is None:
            return
        if bucket and bucket[0] is inst:
            bucket.popleft()
        else:
            try:
                bucket.remove(inst)
            except ValueError:
                pass
        if not bucket:
            del table[inst.key]


# -- the engine ----------------------------------------------------------------------------------

class Engine:
    """Runs a :class:`expert.rules.RuleSet` over packets.

    :param radius_secrets: ``{server or None: [secret]}`` for RADIUS authenticator checks
    :param chap_passwords: ``{user: password}`` for CHAP and RADIUS CHAP-Password checks
    :param settings: :class:`expert.tcp_analysis.AnalysisSettings` (flow timeouts, TCP thresholds)
    """

    max_pending = MAX_PENDING

    def __init__(self, ruleset, registry=None, *, radius_secrets=None, chap_passwords=None, settings=None):
        self.ruleset = ruleset
        self.registry = registry if registry is not None else ruleset.registry
        rules = list(ruleset)
        self.rules = rules
        self.clock = getattr(ruleset, "clock", None)
        if self.clock is not None:       # a rule set may serve several captures in turn
            self.clock.reset()
        self.packet_rules = [r for r in rules if r.scope == "packet"]
        self.conv_rules = [r for r in rules if r.scope == "conversation"]
        self.seq_rules = [_SeqState(r) for r in rules if r.scope == "sequence"]
        # which rules can apply to a packet depends only on its protocols: worked out once
        # per combination of layers met (a capture has a handful)
        self._plans: dict = {}
        self.stages = stages.needed(rules, force_access=bool(radius_secrets or chap_passwords))
        self.protocols = stages.protocols(rules, self.stages, self.registry)
        self._build_stages(settings, radius_secrets, chap_passwords)
        self.findings: dict = {}
        self._per_rule: dict[str, int] = {}
        self.overflow: dict[str, int] = {}
        self.packets = 0
        self.first_ns = None
        self.last_ns = None
        self.errors: list[str] = []      # rules that raised at run time (first occurrence each)
        self._failed: set[str] = set()
        self._finished = False
        self._next_sweep = 0

    # -- stages --------------------------------------------------------------------------------
    def _build_stages(self, settings, radius_secrets, chap_passwords):
        from expert.tcp_analysis import AnalysisSettings, TcpAnalyzer
        s = settings or AnalysisSettings()
        self.tracker = self.analyzer = self.monitor = self.linker = self.access = None
        self.stats: dict = {}
        self.hosts = HostTable()
        want = self.stages
        if "conversations" in want:
            from expert.conversations import ConversationTracker
            if "tcp_analysis" in want:
                self.analyzer = TcpAnalyzer(s.tcp)
            if "checksums" in want:
                self.monitor = stages.CheckedChecksums(s.checksums)
            self.tracker = ConversationTracker(s.conversations, on_finish=self._conversation_done,
                                               analyzer=self.analyzer, checksums=self.monitor)
        self._conv_stats = "conv_stats" in want
        self.ip_checksums = stages.IpChecksums() if "ip_checksums" in want else None
        if "icmp_link" in want:
            from expert.pairing import QuoteLinker
            self.linker = QuoteLinker()
        elif "pairing" in want:
            from expert.pairing import Pairing
            self.linker = Pairing(radius="access" not in want)
        if "access" in want:
            from expert.radius_check import AccessCheck
            self.access = AccessCheck(radius_secrets, chap_passwords)

    # -- the per-packet entry point -------------------------------------------------------------
    def process(self, packet) -> None:
        ts = packet.frame.ts_ns
        if self.first_ns is None:
            self.first_ns = ts
        self.last_ns = ts
        self.packets += 1
        if self.clock is not None:
            self.clock.tick(ts)
        conv = None
        if self.tracker is not None:
            if self.monitor is not None:
                self.monitor.packet = packet
            conv = self.tracker.process(packet)
            if conv is not None and self._conv_stats and conv.kind == "tcp":
                self._tcp_stats(packet, conv, ts)
        if self.ip_checksums is not None:
            self.ip_checksums.process(packet)
        if self.linker is not None:
            self.linker.process(packet)
        key = tuple([layer.proto.name for layer in packet.layers])
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(key)
        if self.access is not None and plan[3]:
            self.access.process(packet)
        prules, srules, names, _, gated, gate = plan
        ex = packet.extra
        for r in prules:
            self._packet_rule(r, packet)
        if ex is not None and not gate.isdisjoint(ex):
            # rules that need an annotation (a tcp.analysis flag ...): most packets have none
            for r in gated:
                for a in r.ann:
                    if a in ex:
                        self._packet_rule(r, packet)
                        break
        for st in srules:
            if not st.alive:
                # nothing pending: only a first step can do something (cheap gates first)
                ann = st.first_ann
                if ann:
                    if ex is None:
                        continue
                    for a in ann:
                        if a in ex:
                            break
                    else:
                        continue
                if not st.first_ok(names):
                    continue
            self._sequence(st, packet, names, ts)
        if ts >= self._next_sweep:
            self._sweep(ts)

    def _plan(self, key):
        names = frozenset(key)
        rules = [r for r in self.packet_rules if r.fits(names)]
        srules = [st for st in self.seq_rules if any(s.fits(names) for s in st.steps)]
        # (rules to test, sequences, layer names, access checks?, rules gated by an
        # annotation, every annotation that opens one of those gates); rule order is kept
        # within each group, and rules only emit findings, so the split changes nothing else
        prules = [r for r in rules if not r.ann]
        gated = [r for r in rules if r.ann]
        gate = frozenset(a for r in gated for a in r.ann)
        plan = self._plans[key] = (prules, srules, names, bool(names & {"radius", "chap"}), gated, gate)
        return plan

    def _sweep(self, ts):
        """Expire the pending matches of every sequence rule (unanswered ones are findings)."""
        self._next_sweep = ts + SWEEP_NS
        for st in self.seq_rules:
            if st.alive:
                self._expire(st, ts)

    def _packet_rule(self, r, packet):
        try:
            hit = r.test(packet)
        except Exception as e:          # a rule must never stop the analysis
            self._rule_failed(r, e)
            return
        if hit:
            frames = r.frames(packet) if r.frames is not None else [packet.number]
            self._emit(r, packet, frames or [packet.number], lambda: packet_conversation(packet))

    def _rule_failed(self, r, e):
        if r.id not in self._failed:
            self._failed.add(r.id)
            self.errors.append(f"rule {r.id}: {type(e).__name__}: {e}")

    def _tcp_stats(self, packet, conv, ts):
        seg = self.tracker.segment
        if seg is None:
            return
        d, flags, seglen, win = seg
        st = self.stats.get(conv)
        if st is None:
            st = self.stats[conv] = ConvStats()
        st.segment(d, flags, seglen, win, packet.number, ts)
        if d == 1 and (flags & (SYN | ACK) == (SYN | ACK) or (flags & RST and st.syn_frames)):
            self.hosts.answer(conv.addr[1], conv.port[1])
            if flags & RST and not st.synack_frames:
                self.hosts.refuse(conv.addr[1], conv.port[1])

    # -- sequences -----------------------------------------------------------------------------
    def _sequence(self, st: _SeqState, packet, names, ts):
        steps = st.steps
        last = len(steps) - 1
        if st.alive:
            self._expire(st, ts)
        # later steps first: one packet advances a match one step at most
        if st.alive:
            for i in range(last, 0, -1):
                table = st.waiting[i]
                if not table:
                    continue
                step = steps[i]
                if not step.fits(names):
                    continue
                try:
                    if step.local is not None and not step.local(packet):
                        continue
                    keys = keys_of(step.key_cur, packet) if step.key_cur else ((),)
                    for key in keys:
                        bucket = table.get(key)
                        if not bucket:
                            continue
                        matched = []
                        for inst in bucket:
                            if inst.alive and inst.deadline >= ts and (
                                    step.cross is None or step.cross(SeqCtx(inst.pk + [packet]))):
                                matched.append(inst)
                        if not matched:
                            continue
                        # every match is answered; the oldest one goes on (a retransmitted
                        # request answered once is one exchange, timed from its first copy)
                        for inst in matched:
                            st.kill(inst)
                        if step.absent:
                            continue
                        pk = matched[0].pk + [packet]
                        if i == last:
                            self._sequence_found(st.rule, pk, packet)
                        else:
                            st.add(pk, i + 1, ts)
                except Exception as e:
                    self._rule_failed(st.rule, e)
        # a new match
        if not st.first_ok(names):
            return
        first = steps[0]
        try:
            if first.local(packet):
                if st.alive >= self.max_pending:
                    self._drop_oldest(st)
                st.add([packet], 1, ts)
        except Exception as e:
            self._rule_failed(st.rule, e)

    def _expire(self, st, ts):
        """Pending matches whose window has passed: gone, or findings for an absent step."""
        steps = st.steps
        for i in range(1, len(steps)):
            q = st.queues[i]
            while q and q[0].deadline < ts:
                inst = q.popleft()
                if inst.alive:
                    st.kill(inst)
                    if steps[i].absent:
                        self._sequence_found(st.rule, inst.pk, None)

    def _drop_oldest(self, st):
        for q in st.queues[1:]:
            while q:
                inst = q.popleft()
                if inst.alive:
                    st.kill(inst)
                    st.dropped += 1
                    return

    def _sequence_found(self, r, pk, last_packet):
        ctx = SeqCtx(pk)
        if r.post is not None:
            try:
                if not r.post(ctx):
                    return
            except Exception as e:
                self._rule_failed(r, e)
                return
        frames = r.frames(ctx) if r.frames is not None else [p.number for p in pk]
        self._emit(r, ctx, frames or [pk[0].number], lambda: packet_conversation(pk[0]))

    # -- conversations -------------------------------------------------------------------------
    def _conversation_done(self, conv):
        st = self.stats.pop(conv, None)
        if st is not None:
            st.finish(conv)
        if not self.conv_rules:
            return
        ctx = ConvContext(conv, st, self.hosts, self.first_ns, self.last_ns)
        kind = conv.kind
        for r in self.conv_rules:
            if r.kind is not None and r.kind != kind:
                continue
            try:
                hit = r.test(ctx)
            except Exception as e:
                self._rule_failed(r, e)
                continue
            if hit:
                frames = r.frames(ctx) if r.frames is not None else [conv.first_frame]
                self._emit(r, ctx, frames or [conv.first_frame], lambda: record_conversation(conv))

    # -- findings ------------------------------------------------------------------------------
    def _emit(self, r, ctx, frames, conversation):
        try:
            text = r.message.render(ctx)
        except Exception as e:
            self._rule_failed(r, e)
            return
        key = (r.id, text)
        f = self.findings.get(key)
        if f is not None:
            f.count += 1
            if len(f.frames) < MAX_FRAMES:
                f.frames.extend(frames)
            return
        n = self._per_rule.get(r.id, 0)
        if n >= MAX_FINDINGS_PER_RULE:
            self.overflow[r.id] = self.overflow.get(r.id, 0) + 1
            return
        self._per_rule[r.id] = n + 1
        cause = r.cause.render(ctx) if r.cause is not None else None
        action = r.action.render(ctx) if r.action is not None else None
        self.findings[key] = Finding(r, text, cause, action, frames, conversation())

    def finish(self) -> list[Finding]:
        """End of the capture: finish conversations, settle sequences, apply precedence;
        returns the findings, most severe first."""
        if not self._finished:
            self._finished = True
            if self.tracker is not None:
                self.tracker.finish()
            last = self.last_ns
            for st in self.seq_rules:
                # a window that closed exactly at the last packet still counts; later ones
                # are unknown (the answer may come after the capture ends)
                for i in range(1, len(st.steps)):
                    if not st.steps[i].absent:
                        continue
                    for inst in list(st.queues[i]):
                        if inst.alive and last is not None and inst.deadline <= last:
                            st.kill(inst)
                            self._sequence_found(st.rule, inst.pk, None)
            self._precedence()
        return self.results()

    def _precedence(self):
        """One frame, one verdict: frames named by a rule are taken from the findings of
        the rules it overrides.  A conversation or sequence finding describes one event:
        it goes as a whole when it shares a frame with an overriding finding; a packet
        finding (merged frames) keeps the frames nobody else named."""
        claims: dict[str, set] = {}
        for f in self.findings.values():
            for target in f.rule.overrides:
                claims.setdefault(target, set()).update(f.frames)
        if not claims:
            return
        for key, f in list(self.findings.items()):
            taken = claims.get(f.id)
            if not taken:
                continue
            before = len(f.frames)
            keep = [x for x in f.frames if x not in taken]
            if len(keep) == before:
                continue
            if f.rule.scope != "packet":
                keep = []
            if f.count == before:          # one frame per firing: the count follows the frames
                f.count = len(keep)
            f.frames = keep
            if not keep:
                del self.findings[key]

    def results(self) -> list[Finding]:
        out = list(self.findings.values())
        out.sort(key=lambda f: (-severity_rank(f.severity), f.group, f.first_frame or 0, f.id))
        return out

    # -- driving ---------------------------------------------------------------------------------
    def run(self, packets) -> list[Finding]:
        process = self.process
        for packet in packets:
            process(packet)
        return self.finish()

    def run_frames(self, frames, decoder=None) -> list[Finding]:
        if decoder is None:
            from decoder.packet import Decoder
            from decoder.reassembly import Defragmenter
            decoder = Defragmenter(Decoder(self.registry, want=self.protocols))
        decode = decoder.decode
        process = self.process
        for n, frame in enumerate(frames, 1):
            process(decode(frame, n))
        return self.finish()

    def run_capture(self, source) -> list[Finding]:
        from decoder.capture import open_capture
        with open_capture(source) as reader:
            return self.run_frames(reader)
