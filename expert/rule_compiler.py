"""Compiles a parsed :class:`expert.rules.Rule` into closures the engine runs.

Expressions are display filters compiled by :class:`expert.filters.Compiler`;
:class:`RuleCompiler` adds what rules read besides packet fields (``conv.*`` and
``server.*`` in conversation scope, ``seq.delay`` and step labels in sequences) and
turns every filter error into a ``file:line:col`` :class:`~expert.rules.RuleError`.

For speed the compiler also works out, from the parse tree:

* the protocols a packet must carry for a condition to hold (``req``): the engine
  only evaluates a rule on packets that have them (``tcp.analysis.retransmission``
  needs ``tcp``);
* for each ``then`` step of a sequence, the equalities between the current packet and
  earlier steps (``dns.id == Q.dns.id``): pending matches are indexed by them, so a
  response finds its request by a dictionary lookup; the conjuncts that read only the
  current packet are a prefilter; the rest is checked per candidate.
"""
from __future__ import annotations

import difflib
import itertools

from lark import Token, Tree

from expert import convstats, filters, stages  # noqa: F401  (stages: annotated fields registered)
from expert.filters import FilterError
from expert.template import TemplateError, compile_template

#: what a sequence rule reads besides its steps' packets
SEQ_FIELDS = {
    "seq.delay": ("float", lambda ctx: [(ctx.pk[-1].frame.ts_ns - ctx.pk[0].frame.ts_ns) / 1e9],
                  "seconds from the first step's packet to the latest step's", False),
    "seq.frames": ("int", lambda ctx: [p.number for p in ctx.pk], "frames of the steps matched so far", True),
}
_CTX_PREFIXES = ("conv", "server", "seq")


def _kind(tree) -> str:
    return str(tree.data).rsplit("__", 1)[-1] if isinstance(tree, Tree) else ""


def _tokens(tree):
    if isinstance(tree, Token):
        yield tree
    elif isinstance(tree, Tree):
        for t in tree.scan_values(lambda v: isinstance(v, Token)):
            yield t


def _absolute_columns(tree):
    """Tokens carry their file offset + 1 as column: filter errors then point into the file."""
    for tok in _tokens(tree):
        if tok.start_pos is not None:
            tok.column = tok.start_pos + 1


class SeqCtx:
    """A sequence match under test: ``pk`` holds the packets of steps 0..i."""

    __slots__ = ("pk",)

    def __init__(self, pk):
        self.pk = pk


class RuleCompiler(filters.Compiler):
    """A filter compiler for one rule context.

    :param ctx_fields: extra names (``conv.*`` ...) -> (type, getter(ctx), doc, many)
    :param packet_fields: whether packet fields may be used (not in conversation scope)
    :param labels: step labels visible here, in order; ``later``: labels of later steps
    """

    def __init__(self, registry, params, ctx_fields=None, packet_fields=True, scopes=None, default_scope=None,
                 later=(), clock=None, scope_name="packet"):
        super().__init__(registry, params=params, scopes=scopes, default_scope=default_scope, clock=clock)
        self.ctx_fields = ctx_fields or {}
        self.packet_fields = packet_fields
        self.later = set(later)
        self.scope_name = scope_name
        self.many: set[str] = set()

    def resolve_field(self, path, column=None, layers=None):
        parts = path.split(".")
        if len(parts) > 1 and parts[0] in self.later:
            raise FilterError(f"{path}: step {parts[0]} comes later in this sequence; a step can only read "
                              f"itself and the steps before it", column)
        hit = self.ctx_fields.get(path)
        if hit is not None:
            if layers is not None:
                raise FilterError(f"{path}: the layer operator # applies to protocol fields only", column)
            ftype, get, _doc, many = hit
            self.fields.add(path)
            if many:
                self.many.add(path)
            return filters.Field(path, ftype, get)
        if parts[0] in _CTX_PREFIXES:
            if parts[0] in ("conv", "server") and path in convstats.FIELDS:
                raise FilterError(f"{path} is a conversation field: it needs 'scope conversation' "
                                  f"(this rule's scope is {self.scope_name})", column)
            if parts[0] == "seq" and path in SEQ_FIELDS:
                raise FilterError(f"{path} is only known in a sequence rule's 'when' and later steps", column)
            return None
        if not self.packet_fields:
            if super().resolve_field(path, column, layers) is not None:
                raise FilterError(f"{path} is a packet field; a conversation rule reads conv.* and server.* "
                                  f"fields (see protospec expert --list-fields)", column)
            return None
        return super().resolve_field(path, column, layers)

    def _unknown(self, name, column):
        parts = name.split(".")
        prefix = ""
        bare = name
        if len(parts) > 1 and parts[0] in self.scopes:
            prefix, bare = parts[0] + ".", ".".join(parts[1:])
        if len(parts) > 1 and not prefix and parts[0][:1].isupper() and parts[0] not in self.registry.protocols:
            steps = ", ".join(sorted(set(self.scopes) | self.later))
            return FilterError(f"unknown field '{name}': {parts[0]} is not a step of this rule"
                               + (f" (steps: {steps})" if steps else ""), column)
        names = list(self.ctx_fields)
        if self.packet_fields:
            names += filters.known_fields(self.registry)
        elif bare.split(".")[0] not in _CTX_PREFIXES:
            names += list(convstats.FIELDS)
        close = difflib.get_close_matches(bare, names, n=1, cutoff=0.7)
        hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
        return FilterError(f"unknown field '{name}'{hint}", column)

    # -- facts about parse trees -------------------------------------------------------------

    def proto_of(self, path, current_label=None):
        """The protocol a field of the current packet belongs to (None: not a packet field
        of the current packet, or of several protocols)."""
        parts = path.split(".")
        if len(parts) > 1 and parts[0] in self.scopes:
            if parts[0] != current_label:
                return None
            path = ".".join(parts[1:])
            parts = parts[1:]
        if parts[0] in _CTX_PREFIXES or parts[0] == "frame":
            return None
        reg = self.registry
        if path in reg.protocols:
            return path
        owners = reg.resolve_all(path) if hasattr(reg, "resolve_all") else []
        protos = {p.name for p, _ in owners if p is not None}
        if len(protos) == 1:
            return protos.pop()
        if not owners and parts[0] in reg.protocols:     # annotations: tcp.analysis.*, radius.rspframe
            return parts[0]
        return None

    def required(self, tree, current_label=None) -> frozenset:
        """Protocols a packet must carry for ``tree`` to be true (a safe underestimate)."""
        k = _kind(tree)
        ch = tree.children if isinstance(tree, Tree) else []
        if k in ("start", "expr"):
            return self.required(ch[0], current_label)
        if k == "and_test":
            return self.required(ch[0], current_label) | self.required(ch[1], current_label)
        if k == "or_test":
            return self.required(ch[0], current_label) & self.required(ch[1], current_label)
        if k in ("exists", "compare", "contains", "matches", "member"):
            out = set()
            relation = k != "exists"
            for sub in ch:
                for f in self._direct_fields(sub):
                    path = str(f.children[0])
                    if relation and "." not in path:
                        continue           # `ip.proto == tcp`: a protocol name as a value
                    p = self.proto_of(path, current_label)
                    if p is not None:
                        out.add(p)
            return frozenset(out)
        if k == "field":
            p = self.proto_of(str(ch[0]), current_label)
            return frozenset([p]) if p else frozenset()
        return frozenset()

    def any_of(self, tree, current_label=None) -> frozenset:
        """Protocols of which a packet must carry at least one for ``tree`` to be true
        (empty: no such set known): ``tcp.checksum.offload or udp.checksum.offload``."""
        def leaf(t):
            req = self.required(t, current_label)
            return frozenset([min(req)]) if req else frozenset()
        return _one_of(tree, leaf)

    def annotations(self, tree, current_label=None) -> frozenset:
        """Annotations (fields analysis stages attach) of which a packet must carry at
        least one for ``tree`` to be true; empty when none is known.  The engine skips a
        rule on packets without them: ``tcp.analysis.retransmission`` is rare."""
        return _one_of(tree, lambda t: self._annotations_leaf(t, current_label))

    def _annotations_leaf(self, tree, current_label) -> frozenset:
        k = _kind(tree)
        ch = tree.children if isinstance(tree, Tree) else []
        if k in ("exists", "compare", "contains", "matches", "member"):
            extra = filters.extra_fields()
            for sub in ch:
                for f in self._direct_fields(sub):
                    if f.children[1] is not None:
                        continue
                    path = str(f.children[0])
                    parts = path.split(".")
                    if len(parts) > 1 and parts[0] in self.scopes:
                        if parts[0] != current_label:
                            continue
                        path = ".".join(parts[1:])
                    if path in extra and path not in self.registry.fields and path not in self.registry.protocols:
                        return frozenset([path])
        return frozenset()

    def _direct_fields(self, tree):
        """Field nodes a relation needs values of (not inside function calls or sets)."""
        k = _kind(tree)
        if k == "field":
            yield tree
            return
        if k in ("call", "set") or not isinstance(tree, Tree):
            return
        for c in tree.children:
            yield from self._direct_fields(c)

    def labels_in(self, tree, current_label) -> set:
        """Step labels a subtree reads (the current packet counts as ``current_label``)."""
        out = set()
        for tok in _tokens(tree):
            if tok.type.rsplit("__", 1)[-1] != "FIELD":
                continue
            head = str(tok).split(".")[0]
            if "." in str(tok) and head in self.scopes:
                out.add(head)
            elif head == "seq":
                out.add("*")           # reads the whole match
            else:
                out.add(current_label)
        return out


def _one_of(tree, leaf) -> frozenset:
    """Things of which a packet must carry at least one for ``tree`` to be true (empty:
    no such set known), from ``leaf(subtree)`` for everything but ``and``/``or``."""
    k = _kind(tree)
    ch = tree.children if isinstance(tree, Tree) else []
    if k in ("start", "expr"):
        return _one_of(ch[0], leaf)
    if k == "or_test":
        a, b = _one_of(ch[0], leaf), _one_of(ch[1], leaf)
        return a | b if a and b else frozenset()
    if k == "and_test":
        a, b = _one_of(ch[0], leaf), _one_of(ch[1], leaf)
        if a and b:
            return a if len(a) <= len(b) else b
        return a or b
    return leaf(tree)


def _conjuncts(tree):
    k = _kind(tree)
    if k in ("start", "expr"):
        return _conjuncts(tree.children[0])
    if k == "and_test":
        return _conjuncts(tree.children[0]) + _conjuncts(tree.children[1])
    return [tree]


def _and_tree(parts):
    if not parts:
        return None
    tree = parts[0]
    for p in parts[1:]:
        tree = Tree("and_test", [tree, p])
    return tree


# -- compiled rules ---------------------------------------------------------------------------

class _Gated:
    """A rule or a sequence step: ``req`` (protocols all needed) and ``any_of`` (one of
    them needed, when not empty) decide which packets it can match at all."""

    __slots__ = ()

    def fits(self, names) -> bool:
        """Whether a packet with these layer names can match: every required protocol
        and, when some are named, one of ``any_of``."""
        return self.req <= names and (not self.any_of or bool(self.any_of & names))


class CompiledStep(_Gated):
    __slots__ = ("index", "label", "within", "within_ns", "absent", "local", "req", "any_of", "ann", "cross",
                 "key_cur", "key_prev")

    def __init__(self, index, label):
        self.index, self.label = index, label
        self.within = None
        self.within_ns = 0
        self.absent = False
        self.local = None          # fn(packet) -> bool, or None (always)
        self.req = frozenset()
        self.any_of = frozenset()
        self.ann = ()              # annotations of which one must be present
        self.cross = None          # fn(SeqCtx) -> bool, or None
        self.key_cur = ()          # getters on the current packet
        self.key_prev = ()         # getters on a SeqCtx of the earlier steps


class CompiledRule(_Gated):
    """What the engine runs for one rule."""

    __slots__ = ("rule", "id", "scope", "test", "req", "any_of", "ann", "kind", "steps", "post", "message", "cause", "action",
                 "frames", "fields", "params", "overrides")

    def __init__(self, rule):
        self.rule = rule
        self.id = rule.id
        self.scope = rule.scope
        self.test = None
        self.req = frozenset()
        self.any_of = frozenset()
        self.ann = ()              # packet scope: annotations of which one must be present
        self.kind = None           # conversation scope: conv.proto required, if any
        self.steps = []
        self.post = None
        self.message = self.cause = self.action = None
        self.frames = None
        self.fields: set[str] = set()
        self.params = {n: p.value for n, p in rule.params.items()}
        self.overrides = [rid for rid, _ in rule.overrides]

    @property
    def severity(self):
        return self.rule.severity

    @property
    def group(self):
        return self.rule.group

    @property
    def title(self):
        return self.rule.title

    def __repr__(self):
        return f"<CompiledRule {self.id} {self.scope} {self.severity}>"


def _field_label(registry):
    from decoder.fieldfmt import field_doc, label_of

    def label(name):
        hit = registry.resolve(name)
        if hit is not None:
            proto, rel = hit
            doc = field_doc(proto, rel) if rel else proto.title
            return label_of(doc, name, limit=60) if doc else name
        ctx = convstats.FIELDS.get(name)
        return ctx[2] if ctx else name
    return label


def compile_rule(rule, registry, clock=None) -> CompiledRule:
    """Compile a rule; raises :class:`RuleError` pointing at the offending text."""
    src = rule.source
    cr = CompiledRule(rule)
    params = dict(cr.params)

    def err(e, default_tok=None):
        if isinstance(e, FilterError):
            if e.column:
                return src.error(e.message, offset=e.column - 1)
            return rule.error(e.message, default_tok)
        return e

    def compile_test(comp, tree, tok):
        _absolute_columns(tree)
        try:
            return comp.compile(tree)
        except FilterError as e:
            raise err(e, tok) from None

    def compile_value(comp, tree, tok):
        _absolute_columns(tree)
        try:
            v = comp.value(tree if _kind(tree) != "exists" else tree.children[0])
        except FilterError as e:
            raise err(e, tok) from None
        if isinstance(v, filters.Const):
            if v.shaped:
                raise err(comp._unknown(v.text, v.column), tok)
            raise rule.error(f"{v.text!r} is a value; name a field here", tok)
        return v

    label_fn = _field_label(registry)

    def templates(comp):
        def one(tokens):
            if tokens is None:
                return None
            from expert.template import Template
            parts = []
            for tok in tokens:
                raw = str(tok)[1:-1]
                base = tok.start_pos + 1

                def value_of(text, lead, base=base):
                    try:
                        tree = _parse_expr(text)
                    except FilterError as e:
                        raise src.error(f"in {{{text}}}: {e.message}", offset=base + lead + (e.column or 1) - 1) \
                            from None
                    k = _kind(tree)
                    if k != "exists":
                        raise src.error(f"{{{text}}} is a test; a text shows a field or a value", offset=base + lead)
                    for t in _tokens(tree):
                        t.column = base + lead + t.column     # absolute offset + 1
                    try:
                        v = comp.value(tree.children[0])
                    except FilterError as e:
                        raise err(e) from None
                    if isinstance(v, filters.Const):
                        if v.shaped:
                            raise err(comp._unknown(v.text, v.column))
                        raise src.error(f"{{{text}}} is a constant; name a field", offset=base + lead)
                    return v.get, v.text in comp.many
                try:
                    parts.append(compile_template(raw, value_of, params, label_fn))
                except TemplateError as e:
                    raise src.error(e.message, offset=base + e.offset) from None
            if len(parts) == 1:
                return parts[0]
            return Template([p for t in parts for p in t.parts], "".join(t.text for t in parts))
        cr.message = one(rule.message)
        cr.cause = one(rule.cause)
        cr.action = one(rule.action)

    if rule.scope == "packet":
        comp = RuleCompiler(registry, params, clock=clock, scope_name="packet")
        cr.test = compile_test(comp, rule.when, rule.stmt_tokens.get("when"))
        cr.req = comp.required(rule.when)
        cr.any_of = comp.any_of(rule.when)
        cr.ann = tuple(sorted(comp.annotations(rule.when)))
        if rule.frames is not None:
            cr.frames = _frames_getter([compile_value(comp, t, rule.stmt_tokens.get("frames")) for t in rule.frames])
        templates(comp)
        cr.fields = set(comp.fields)
    elif rule.scope == "conversation":
        comp = RuleCompiler(registry, params, ctx_fields=convstats.FIELDS, packet_fields=False,
                            scope_name="conversation")
        cr.test = compile_test(comp, rule.when, rule.stmt_tokens.get("when"))
        cr.kind = _conv_kind(rule.when)
        if rule.frames is not None:
            cr.frames = _frames_getter([compile_value(comp, t, rule.stmt_tokens.get("frames")) for t in rule.frames])
        templates(comp)
        cr.fields = set(comp.fields)
    else:
        _compile_sequence(rule, cr, registry, params, clock, compile_test, compile_value, templates)
    return cr


def _parse_expr(text):
    """A filter expression on its own (template fields), with the rule parser."""
    from lark.exceptions import UnexpectedInput

    from expert.rules import parser
    if not text.strip():
        raise FilterError("empty expression", 1, text)
    try:
        return parser().parse(text, start="expr")
    except UnexpectedInput as e:
        raise filters._syntax_error(e, text) from None


def _frames_getter(values):
    """The frames a finding names, from the ``frames`` expressions (numbers only)."""
    gets = [v.get for v in values]

    def get(ctx):
        out = []
        for g in gets:
            for x in g(ctx):
                if isinstance(x, int) and not isinstance(x, bool):
                    out.append(int(x))
        return out
    return get


def _conv_kind(tree):
    """``conv.proto == "tcp"`` as a top-level conjunct: the kind of conversation required."""
    for c in _conjuncts(tree):
        if _kind(c) != "compare":
            continue
        quant, left, op, right = c.children
        if str(op.children[0] if isinstance(op, Tree) else op) not in ("==", "eq"):
            continue
        if _kind(left) == "field" and str(left.children[0]) == "conv.proto" and _kind(right) == "string":
            return filters.unescape(str(right.children[0])[1:-1])[0]
    return None


def _compile_sequence(rule, cr, registry, params, clock, compile_test, compile_value, templates):
    labels = [s.label for s in rule.steps]
    for lab in labels:
        if lab in registry.protocols or lab in _CTX_PREFIXES or lab == "frame":
            step = rule.steps[labels.index(lab)]
            raise rule.error(f"step label {lab!r} is also a protocol or field prefix; use another name "
                             f"(A, B, Q, R ...)", step.token)
    getters = {lab: (lambda ctx, j=j: ctx.pk[j] if j < len(ctx.pk) else None) for j, lab in enumerate(labels)}
    all_fields = set()
    for i, step in enumerate(rule.steps):
        cs = CompiledStep(i, step.label)
        cs.absent = step.absent
        if i > 0:
            within = step.within
            if isinstance(within, Token):
                name = str(within)[1:]
                if name not in params:
                    raise rule.source.at(within, filters.unknown_param(name, params))
                value = params[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise rule.source.at(within, f"${name} = {value!r} is not a duration")
                within = float(value)
            cs.within = within
            cs.within_ns = int(within * 1e9)
        later = labels[i + 1:]
        # the current packet on its own: the prefilter
        direct = RuleCompiler(registry, params, scopes={step.label: lambda p: p}, later=later, clock=clock,
                              scope_name="sequence")
        # the whole match so far
        seq = RuleCompiler(registry, params, ctx_fields=SEQ_FIELDS if i > 0 else None,
                           scopes={lab: getters[lab] for lab in labels[:i + 1]},
                           default_scope=getters[step.label], later=later, clock=clock, scope_name="sequence")
        if i == 0:
            cs.local = compile_test(direct, step.expr, step.token)
            cs.req = direct.required(step.expr, step.label)
            cs.any_of = direct.any_of(step.expr, step.label)
            cs.ann = tuple(sorted(direct.annotations(step.expr, step.label)))
            all_fields |= direct.fields
            cr.steps.append(cs)
            continue
        # validate the whole step once (positions, fields, labels)
        compile_test(seq, step.expr, step.token)
        local, keys, cross = [], [], []
        for c in _conjuncts(step.expr):
            used = seq.labels_in(c, step.label)
            if used <= {step.label}:
                local.append(c)
                continue
            key = _key_pair(c, seq, step.label)
            if key is not None:
                keys.append(key)
            else:
                cross.append(c)
        if local:
            cs.local = compile_test(direct, _and_tree(local), step.token)
        cs.req = seq.required(step.expr, step.label)
        cs.any_of = seq.any_of(step.expr, step.label)
        cur, prev = [], []
        for cur_tree, prev_tree in keys:
            vc = compile_value(direct, cur_tree, step.token)
            vp = compile_value(seq, prev_tree, step.token)
            hashable = ("int", "bool", "str", "ipv4", "ipv6", "mac", "any")
            if not (vc.type == vp.type or "any" in (vc.type, vp.type)) or vc.type not in hashable \
                    or vp.type not in hashable:
                cross.append(Tree("compare", [None, cur_tree, Tree("cmp_op", [Token("EQ", "==")]), prev_tree]))
                continue
            cur.append(vc.get)
            prev.append(vp.get)
        cs.key_cur, cs.key_prev = tuple(cur), tuple(prev)
        if cross:
            cs.cross = compile_test(seq, _and_tree(cross), step.token)
        all_fields |= direct.fields | seq.fields
        cr.steps.append(cs)
    # the completed match: `when`, texts and frames see every step
    final = RuleCompiler(registry, params, ctx_fields=SEQ_FIELDS, scopes=dict(getters),
                         default_scope=getters[labels[-1]] if not rule.steps[-1].absent else getters[labels[0]],
                         clock=clock, scope_name="sequence")
    if rule.when is not None:
        if rule.steps[-1].absent:
            raise rule.error("a sequence ending with an 'absent' step has no match for 'when' to test; "
                             "put the conditions into the steps", rule.stmt_tokens.get("when"))
        cr.post = compile_test(final, rule.when, rule.stmt_tokens.get("when"))
    if rule.frames is not None:
        cr.frames = _frames_getter([compile_value(final, t, rule.stmt_tokens.get("frames")) for t in rule.frames])
    if rule.steps[-1].absent:
        # texts of an unanswered sequence cannot name the step that never came
        final.later = {labels[-1]}
    templates(final)
    cr.fields = all_fields | final.fields


def _key_pair(c, comp, current):
    """``(current side, earlier side)`` subtrees of an ``==`` between the current packet
    and earlier steps, or None."""
    if _kind(c) != "compare":
        return None
    quant, left, op, right = c.children
    if quant is not None and comp._quant(quant, "any") != "any":
        return None
    if str(op.children[0] if isinstance(op, Tree) else op) not in ("==", "eq"):
        return None
    lu, ru = comp.labels_in(left, current), comp.labels_in(right, current)
    if not lu or not ru or "*" in lu | ru:
        return None
    if lu == {current} and current not in ru:
        return left, right
    if ru == {current} and current not in lu:
        return right, left
    return None


def key_of(getters, ctx):
    """The index key from earlier steps (first values), or None when a value is missing."""
    out = []
    for g in getters:
        vals = g(ctx)
        if not vals:
            return None
        out.append(vals[0])
    return tuple(out)


def keys_of(getters, packet):
    """Every key the current packet can match (all combinations of its occurrences)."""
    lists = []
    for g in getters:
        vals = g(packet)
        if not vals:
            return ()
        lists.append(vals)
    if all(len(v) == 1 for v in lists):
        return (tuple(v[0] for v in lists),)
    return tuple(itertools.islice(itertools.product(*lists), 64))
