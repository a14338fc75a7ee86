"""The X-Ray filter expression grammar: tokens, syntax tree and a parser that names the column of errors.

    expr       := and ( "OR" and )*
    and        := unary ( ["AND"] unary )*            juxtaposition means AND, as in ``ok !partial``
    unary      := "!" unary | "(" expr ")" | call | rootcause | comparison
    call       := "service" "(" [selector] ")" ["{" expr "}"]
                | "edge" "(" selector "," selector ")" ["{" expr "}"]
                | "id" "(" idargs ")"                   (alone: a trace that has that node)
    selector   := STRING | "id" "(" idargs ")"
    idargs     := ("name" | "type") ":" STRING ( "," ... )*
    rootcause  := "rootcause." KIND "." LEVEL "{" expr "}"
                  KIND: fault | error | throttle | responsetime; LEVEL: service | entity | message
    comparison := KEYWORD [ operator value ]
                  KEYWORD also: annotation.KEY, annotation[KEY], attribute.KEY, attribute[KEY] (keys with dots),
                  group.name, group.arn; the root-cause keywords (index, coverage, first, last) only
                  inside a rootcause block

Keywords that need data spanscope does not keep (``json``: X-Ray's root-cause JSON documents) are
rejected with an error that says so.

>>> parse_filter('responsetime > 5 AND service("api") { fault }')
And(items=(Compare(keyword='responsetime', op='>', value=5.0, column=1), \
Service(selector=Selector(name='api', type=None), body=Compare(keyword='fault', op='', value=True, column=39))))
"""

from __future__ import annotations

from dataclasses import dataclass

from spanscope.collectors.errors import FilterSyntaxError

__all__ = [
    "BOOLEAN_KEYWORDS",
    "NUMBER_KEYWORDS",
    "STRING_KEYWORDS",
    "And",
    "Compare",
    "Edge",
    "Node",
    "Not",
    "Or",
    "RootCause",
    "Selector",
    "Service",
    "parse_filter",
]

BOOLEAN_KEYWORDS = frozenset(
    {"ok", "error", "fault", "throttle", "partial", "root", "inferred", "remote", "first", "last"}
)
NUMBER_KEYWORDS = frozenset({"responsetime", "duration", "http.status", "index", "coverage"})
STRING_KEYWORDS = frozenset(
    {
        "http.url",
        "http.method",
        "http.useragent",
        "http.clientip",
        "user",
        "name",
        "type",
        "message",
        "availabilityzone",
        "instance.id",
        "resource.arn",
        "group.name",
        "group.arn",
    }
)
# keywords that describe one element of a root cause (an entity of its path): only inside rootcause.* { }
ROOTCAUSE_ONLY_KEYWORDS = frozenset({"index", "coverage", "first", "last"})
ROOTCAUSE_KINDS = ("fault", "error", "throttle", "responsetime")
ROOTCAUSE_LEVELS = ("service", "entity", "message")
GROUP_KEYWORDS = frozenset({"group.name", "group.arn"})
# prefixes of keywords whose value's type decides the operators: annotation.KEY and attribute.KEY
KEYED_PREFIXES = ("annotation", "attribute")
# keywords of X-Ray's language that need data spanscope does not keep, and what to use instead
UNSUPPORTED_KEYWORDS: dict[str, str] = {
    "json": "X-Ray's root-cause JSON documents (rootcause.json = #[...]), which spanscope does not keep; "
    "use rootcause.fault.service { ... } or rootcause.fault.entity { ... }",
    "rootcause.json": "X-Ray's root-cause JSON documents (rootcause.json = #[...]), which spanscope does not keep; "
    "use rootcause.fault.service { ... } or rootcause.fault.entity { ... }",
}
NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "CONTAINS", "BEGINSWITH", "ENDSWITH")
MAX_NESTING = 40

Value = str | float | bool


@dataclass(frozen=True, slots=True)
class Compare:
    """``keyword op value``; op "" is a bare boolean keyword (or a bare annotation: it is present)."""

    keyword: str
    op: str
    value: Value
    column: int


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Selector:
    """A service node: by name (None: any), and optionally by type (X-Ray origin)."""

    name: str | None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    selector: Selector
    body: Node | None


@dataclass(frozen=True, slots=True)
class Edge:
    source: Selector
    target: Selector
    body: Node | None


@dataclass(frozen=True, slots=True)
class RootCause:
    """``rootcause.KIND.LEVEL { body }``: a root cause of the trace (fault, error, throttle or response time)
    whose service, entity (an element of the path inside the service) or message matches ``body``."""

    kind: str
    level: str
    body: Node


Node = Compare | Not | And | Or | Service | Edge | RootCause


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "(" ")" "{" "}" "," ":" "!" "op" "str" "num" "word" "end"
    text: str
    column: int  # 1-based

    def describe(self) -> str:
        if self.kind == "end":
            return "end of expression"
        if self.kind == "str":
            return f"string {self.text!r}"
        return repr(self.text)


_PUNCT = "(){},:"
_WORD_EXTRA = "._-[]"


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            toks.append(_Tok(ch, ch, col))
            i += 1
        elif ch in "<>=!":
            two = text[i : i + 2]
            if two in ("<=", ">=", "!="):
                toks.append(_Tok("op", two, col))
                i += 2
            elif ch == "!":
                toks.append(_Tok("!", ch, col))
                i += 1
            else:
                toks.append(_Tok("op", ch, col))
                i += 1
        elif ch == '"':
            j = i + 1
            out: list[str] = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            if j >= n:
                raise _error(text, col, "a closing '\"' for the string started here", "end of expression")
            toks.append(_Tok("str", "".join(out), col))
            i = j + 1
        elif ch.isdigit() or (ch in "-." and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] in ".eE" or (text[j] in "+-" and text[j - 1] in "eE")):
                j += 1
            word = text[i:j]
            try:
                float(word)
            except ValueError:
                raise _error(text, col, "a number", repr(word)) from None
            toks.append(_Tok("num", word, col))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in _WORD_EXTRA):
                j += 1
            toks.append(_Tok("word", text[i:j], col))
            i = j
        elif ch == "#" and text[i + 1 : i + 2] == "[":
            raise FilterSyntaxError(
                f"filter expression: column {col}: a JSON value (#[...]) needs {UNSUPPORTED_KEYWORDS['json']}",
                expression=text,
                column=col,
            )
        else:
            raise _error(text, col, "a keyword, '(', '!' or a value", repr(ch))
    toks.append(_Tok("end", "", n + 1))
    return toks


def _error(text: str, column: int, expected: str, found: str) -> FilterSyntaxError:
    return FilterSyntaxError(
        f"filter expression: column {column}: expected {expected}, found {found}",
        expression=text,
        column=column,
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.pos = 0
        self.depth = 0
        self.rootcause_depth = 0

    # helpers -----------------------------------------------------------------------------------
    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        if tok.kind != "end":
            self.pos += 1
        return tok

    def expect(self, kind: str, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != kind:
            raise _error(self.text, tok.column, what, tok.describe())
        return self.take()

    def is_word(self, tok: _Tok, *words: str) -> bool:
        return tok.kind == "word" and tok.text.upper() in words

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _error(self.text, tok.column, f"at most {MAX_NESTING} levels of nesting", "deeper nesting")

    # grammar -----------------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise _error(self.text, 1, "a filter expression", "nothing")
        node = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            what = "'AND', 'OR' or end of expression"
            if tok.kind == ")":
                what = "end of expression (unbalanced ')')"
            raise _error(self.text, tok.column, what, tok.describe())
        return node

    def expr(self) -> Node:
        items = [self.and_()]
        while self.is_word(self.peek(), "OR"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while True:
            tok = self.peek()
            if self.is_word(tok, "AND"):
                self.take()
                items.append(self.unary())
            elif tok.kind in ("!", "(") or (tok.kind == "word" and not self.is_word(tok, "OR")):
                items.append(self.unary())
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "!":
            self.take()
            self.nest(tok)
            item = self.unary()
            self.depth -= 1
            return Not(item)
        if tok.kind == "(":
            self.take()
            self.nest(tok)
            node = self.expr()
            self.depth -= 1
            self.expect(")", f"')' to close the '(' at column {tok.column}")
            return node
        if tok.kind != "word" or self.is_word(tok, "AND", "OR"):
            raise _error(self.text, tok.column, "a keyword, '(', '!', service(), edge() or id()", tok.describe())
        lower = tok.text.lower()
        if lower in ("service", "edge", "id") and self.toks[self.pos + 1].kind == "(":
            return self.call(lower)
        if lower.startswith("rootcause.") and lower != "rootcause.json":
            return self.rootcause()
        return self.comparison()

    def rootcause(self) -> Node:
        tok = self.take()
        parts = tok.text.lower().split(".")
        if len(parts) != 3 or parts[1] not in ROOTCAUSE_KINDS or parts[2] not in ROOTCAUSE_LEVELS:
            kinds, levels = "|".join(ROOTCAUSE_KINDS), "|".join(ROOTCAUSE_LEVELS)
            raise _error(self.text, tok.column, f"rootcause.{{{kinds}}}.{{{levels}}}", repr(tok.text))
        if self.peek().kind != "{":
            raise _error(self.text, self.peek().column, f"'{{' after {tok.text}", self.peek().describe())
        self.rootcause_depth += 1
        body = self.body()
        self.rootcause_depth -= 1
        if body is None:  # unreachable: the '{' was checked above
            raise _error(self.text, tok.column, f"'{{' after {tok.text}", "nothing")
        return RootCause(parts[1], parts[2], body)

    def call(self, which: str) -> Node:
        self.take()
        self.expect("(", f"'(' after {which}")
        if which == "id":
            selector = self.id_args()
            return Service(selector, None)
        if which == "service":
            selector = Selector(None) if self.peek().kind == ")" else self.selector()
            self.expect(")", "')' to close service(")
            return Service(selector, self.body())
        source = self.selector()
        self.expect(",", "',' between the two services of edge(")
        target = self.selector()
        self.expect(")", "')' to close edge(")
        return Edge(source, target, self.body())

    def selector(self) -> Selector:
        tok = self.peek()
        if tok.kind == "str":
            self.take()
            return Selector(tok.text)
        if self.is_word(tok, "ID") and self.toks[self.pos + 1].kind == "(":
            self.take()
            self.take()
            return self.id_args()
        raise _error(self.text, tok.column, 'a quoted service name or id(name: "...", type: "...")', tok.describe())

    def id_args(self) -> Selector:
        fields: dict[str, str] = {}
        while True:
            tok = self.peek()
            if not self.is_word(tok, "NAME", "TYPE"):
                raise _error(self.text, tok.column, "'name:' or 'type:' in id(", tok.describe())
            self.take()
            self.expect(":", f"':' after {tok.text}")
            value = self.expect("str", f"a quoted string for {tok.text}")
            fields[tok.text.lower()] = value.text
            if self.peek().kind == ",":
                self.take()
                continue
            self.expect(")", "',' or ')' to close id(")
            return Selector(fields.get("name"), fields.get("type"))

    def body(self) -> Node | None:
        tok = self.peek()
        if tok.kind != "{":
            return None
        self.take()
        self.nest(tok)
        node = self.expr()
        self.depth -= 1
        self.expect("}", f"'}}' to close the '{{' at column {tok.column}")
        return node

    def comparison(self) -> Node:
        tok = self.take()
        keyword = tok.text.lower()
        prefix = next((p for p in KEYED_PREFIXES if keyword.startswith((p + ".", p + "["))), "")
        is_keyed = bool(prefix)
        if is_keyed:
            key = tok.text[len(prefix) :]
            key = key[1:] if key.startswith(".") else key.strip("[]")
            if not key:
                raise _error(self.text, tok.column + len(prefix) + 1, f"a key after '{prefix}.'", "nothing")
            keyword = f"{prefix}.{key}"
        elif keyword in UNSUPPORTED_KEYWORDS:
            raise FilterSyntaxError(
                f"filter expression: column {tok.column}: {tok.text} needs {UNSUPPORTED_KEYWORDS[keyword]}",
                expression=self.text,
                column=tok.column,
            )
        elif keyword not in BOOLEAN_KEYWORDS | NUMBER_KEYWORDS | STRING_KEYWORDS:
            known = ", ".join(sorted(BOOLEAN_KEYWORDS | NUMBER_KEYWORDS | STRING_KEYWORDS))
            raise _error(
                self.text,
                tok.column,
                f"a keyword ({known}, annotation.KEY, attribute.KEY, rootcause.KIND.LEVEL {{ }})",
                repr(tok.text),
            )
        elif keyword in ROOTCAUSE_ONLY_KEYWORDS and not self.rootcause_depth:
            raise _error(
                self.text,
                tok.column,
                f"{keyword} inside a root-cause block (e.g. rootcause.fault.entity {{ {keyword} ... }})",
                repr(tok.text),
            )
        op_tok = self.peek()
        op = ""
        if op_tok.kind == "op":
            op = op_tok.text
        elif op_tok.kind == "word" and op_tok.text.upper() in STRING_OPS:
            op = op_tok.text.upper()
        if not op:
            if keyword in BOOLEAN_KEYWORDS or is_keyed:
                return Compare(keyword, "", True, tok.column)
            ops = NUMBER_OPS if keyword in NUMBER_KEYWORDS else STRING_OPS
            raise _error(self.text, op_tok.column, f"an operator after {tok.text} ({' '.join(ops)})", op_tok.describe())
        self.take()
        if keyword in BOOLEAN_KEYWORDS:
            return Compare(keyword, self.bool_op(tok, op_tok), self.bool_value(tok), tok.column)
        if keyword in NUMBER_KEYWORDS:
            if op not in NUMBER_OPS:
                raise _error(self.text, op_tok.column, f"a number operator ({' '.join(NUMBER_OPS)})", repr(op))
            val = self.expect("num", f"a number after {tok.text} {op}")
            return Compare(keyword, op, float(val.text), tok.column)
        if keyword in GROUP_KEYWORDS:
            if op not in ("=", "!="):
                raise _error(self.text, op_tok.column, f"'=' or '!=' after {tok.text}", repr(op))
            gval = self.expect("str", f"a quoted group {keyword[6:]} after {tok.text} {op}")
            return Compare(keyword, op, gval.text, tok.column)
        if keyword in STRING_KEYWORDS:
            if op not in STRING_OPS:
                raise _error(self.text, op_tok.column, f"a string operator ({' '.join(STRING_OPS)})", repr(op))
            sval = self.expect("str", f"a quoted string after {tok.text} {op}")
            return Compare(keyword, op, sval.text, tok.column)
        # annotation / attribute: the value's type decides which operators apply
        vtok = self.peek()
        if vtok.kind == "str":
            self.take()
            if op not in STRING_OPS:
                raise _error(self.text, op_tok.column, f"a string operator ({' '.join(STRING_OPS)})", repr(op))
            return Compare(keyword, op, vtok.text, tok.column)
        if vtok.kind == "num":
            self.take()
            if op not in NUMBER_OPS:
                raise _error(self.text, op_tok.column, f"a number operator ({' '.join(NUMBER_OPS)})", repr(op))
            return Compare(keyword, op, float(vtok.text), tok.column)
        if self.is_word(vtok, "TRUE", "FALSE"):
            self.take()
            if op not in ("=", "!="):
                raise _error(self.text, op_tok.column, "'=' or '!=' before true/false", repr(op))
            return Compare(keyword, op, vtok.text.upper() == "TRUE", tok.column)
        raise _error(
            self.text, vtok.column, f"a value after {tok.text} {op} (string, number, true or false)", vtok.describe()
        )

    def bool_op(self, tok: _Tok, op_tok: _Tok) -> str:
        if op_tok.text not in ("=", "!="):
            raise _error(self.text, op_tok.column, f"'=' or '!=' after {tok.text}", repr(op_tok.text))
        return op_tok.text

    def bool_value(self, tok: _Tok) -> bool:
        vtok = self.peek()
        if not self.is_word(vtok, "TRUE", "FALSE"):
            raise _error(self.text, vtok.column, f"true or false after {tok.text}", vtok.describe())
        self.take()
        return vtok.text.upper() == "TRUE"


def parse_filter(text: str) -> Node:
    """The syntax tree of a filter expression; FilterSyntaxError names the column and what was expected."""
    if not isinstance(text, str):
        raise FilterSyntaxError("filter expression must be text", expression=repr(text), column=0)
    return _Parser(text).parse()
