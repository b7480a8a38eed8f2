"""Redaction of secrets and personal data from everything rendered for sharing.

Reports, their summaries and the executed notebooks beside them are mailed, pasted into chat and
attached to tickets; trace content (prompts, tool arguments, error messages) routinely carries API
keys, tokens, e-mail addresses and phone numbers. :class:`Redactor` replaces each one with a
marker such as ``[redacted:email]`` and counts what it replaced, by kind, so a report can say how
much was taken out.

What is found:

- provider API keys: OpenAI (``sk-``, ``sk-proj-``), Anthropic (``sk-ant-``), Langfuse
  (``sk-lf-``, ``pk-lf-``), AWS access key ids (``AKIA...``) and secret keys (next to their
  name), GitHub (``ghp_``, ``github_pat_``, ...), Google (``AIza...``), Slack (``xox?-`` tokens and
  webhook URLs), Stripe (``sk_live_``, ``rk_test_``, ...);
- bearer tokens and basic credentials, JWTs, PEM private keys, passwords in URLs and values
  assigned to ``password``/``secret``/``api_key``-like names;
- e-mail addresses, phone numbers (international ``+...`` and North American), card numbers
  (Luhn-checked, with a card network's prefix and length, so trace ids and long counts pass),
  IPv4 and IPv6 addresses (loopback and unspecified addresses are left: they reveal nothing);
- user-configured patterns: regular expressions in ``$WORKBENCH_REDACT_PATTERNS`` (one per line)
  and in the YAML file ``$WORKBENCH_REDACT_FILE`` names (see :func:`load_patterns`).

Redaction is on by default wherever something is rendered for sharing; ``enabled=False`` (the
command line's ``--no-redact``) turns it off, and the summary still says it was off.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

__all__ = ["BUILTIN_RULES", "ENV_FILE", "ENV_PATTERNS", "Redactor", "Rule", "load_patterns",
           "marker", "redactor", "tally"]

ENV_PATTERNS = "WORKBENCH_REDACT_PATTERNS"
ENV_FILE = "WORKBENCH_REDACT_FILE"

#: Keys of JSON documents (plotly figures) whose strings are encoded numbers, never text.
BINARY_KEYS = frozenset({"bdata", "dtype", "shape"})


def marker(kind: str) -> str:
    """What a redacted value is replaced with."""
    return f"[redacted:{kind}]"


@dataclass(frozen=True)
class Rule:
    """One kind of sensitive value: ``pattern`` finds candidates, ``group`` is the part replaced
    (so a name in front, ``Bearer`` or ``password=``, stays readable), ``check`` (when given)
    confirms a candidate: a Luhn sum, a valid address."""

    kind: str
    pattern: re.Pattern[str]
    group: int = 0
    check: Callable[[str], bool] | None = None
    #: Literal strings one of which any match contains (lower case: looked for in the lowered
    #: text): a text holding none of them is not scanned, which keeps redaction fast.
    hints: tuple[str, ...] = ()


# -- checks ---------------------------------------------------------------------------------------

def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_network(d: str) -> bool:
    """A card network issues numbers of this prefix and length (Visa, Mastercard, Amex,
    Discover, Diners, JCB, UnionPay, Maestro)."""
    n, p2, p3, p4 = len(d), int(d[:2]), int(d[:3]), int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 3528 <= p4 <= 3589 or p2 == 62:
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    if p2 in (50, 56, 57, 58, 63, 67):
        return 13 <= n <= 19
    return False


def _card(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    seps = set(re.findall(r"[ -]", text))
    return len(seps) <= 1 and 13 <= len(digits) <= 19 and _card_network(digits) \
        and _luhn(digits)


def _intl_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 8 <= len(digits) <= 15 and not re.fullmatch(r"\+\d+\.\d+", text)


def _public_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified)


def _ipv6(text: str) -> bool:
    """A valid IPv6 address with at least two written groups (``x[::2]`` is not one), compressed
    or in full."""
    groups = [g for g in re.split(r"[:.]", text.split("%", 1)[0]) if g]
    return len(groups) >= 2 and ("::" in text or text.count(":") == 7 or "." in text) \
        and _public_ip(text)


def _random_key(text: str) -> bool:
    """A generated key has a long run of letters mixed with digits; ``sk-learn-pipeline-2``
    does not."""
    return any(len(run) >= 16 and re.search(r"\d", run) and re.search(r"[A-Za-z]", run)
               for run in re.split(r"[-_]", text))


# -- rules ----------------------------------------------------------------------------------------

_L = r"(?<![A-Za-z0-9_-])"  # a token starts here: no key character before it
_R = r"(?![A-Za-z0-9_-])"   # and ends here
_QUOTE = r"(?:&quot;|&#x27;|&#39;|[\"'])?"  # plain or HTML-escaped quote around a value
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


def _rule(kind: str, pattern: str, group: int = 0, check: Callable[[str], bool] | None = None,
          hints: tuple[str, ...] = ()) -> Rule:
    return Rule(kind, re.compile(pattern), group, check, hints)


#: Specific kinds first: a Langfuse or Anthropic key is named as such, not as an OpenAI key, and a
#: JWT inside ``Bearer ...`` is counted once, as a JWT.
BUILTIN_RULES: tuple[Rule, ...] = (
    _rule("private_key", r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----(?:[\s\S]{0,20000}?"
          r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|(?:[A-Za-z0-9+/=\s]|\\[nr])*)",
          hints=("private key",)),
    _rule("jwt", _L + r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*" + _R,
          hints=("eyj",)),
    _rule("anthropic_key", _L + r"sk-ant-[A-Za-z0-9_-]{20,}" + _R, hints=("sk-ant-",)),
    _rule("langfuse_key", _L + r"[sp]k-lf-[0-9A-Fa-f-]{8,}" + _R, hints=("k-lf-",)),
    _rule("openai_key", _L + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}" + _R, 0,
          _random_key, hints=("sk-",)),
    _rule("stripe_key", _L + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _R,
          hints=("k_live_", "k_test_")),
    _rule("aws_access_key", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])",
          hints=("akia", "asia", "abia", "acca")),
    _rule("aws_secret_key", r"(?i:aws_?secret(?:_?access)?_?key|secret_?access_?key)" + _QUOTE
          + r"\s*[:=]\s*" + _QUOTE + r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", 1,
          hints=("secret",)),
    _rule("github_token", _L + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
          + _R, hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _rule("google_api_key", _L + r"AIza[0-9A-Za-z_-]{35}" + _R, hints=("aiza",)),
    _rule("slack_token", _L + r"xox[abposre]-[A-Za-z0-9-]{10,}" + _R, hints=("xox",)),
    _rule("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+",
          hints=("hooks.slack.com",)),
    _rule("url_password", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@<>\"']+:([^\s/@<>\"']+)@", 1,
          hints=("://",)),
    _rule("bearer_token", r"(?i:\bbearer)\s+([A-Za-z0-9._~+/-]{12,}=*)", 1,
          hints=("bearer",)),
    _rule("basic_credentials", r"(?i:\bauthorization)" + _QUOTE + r"\s*[:=]\s*" + _QUOTE
          + r"(?i:basic)\s+([A-Za-z0-9+/]{8,}=*)", 1, hints=("authorization",)),
    _rule("credential", r"(?i:\b(?:pass(?:word|wd)?|secret|client_?secret|api[_-]?key|"
          r"access[_-]?token|auth[_-]?token|private[_-]?key))" + _QUOTE + r"\s*[:=]\s*" + _QUOTE
          + r"(?!\[redacted:)([^\s\"'<>&,;]{6,})", 1,
          hints=("pass", "secret", "api", "token", "private")),
    _rule("email", r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
          r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])",
          hints=("@",)),
    _rule("card_number", r"(?<![\w.,-])(?<!\d[.,])\d(?:[ -]?\d){12,18}(?!\w|[.,]\d)", 0, _card),
    _rule("phone", r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\w|[.,]\d)", 0,
          _intl_phone, hints=("+",)),
    _rule("phone", r"(?<![\w.+-])(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|[.,]\d)"),
    _rule("ip_address", rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)", 0, _public_ip),
    _rule("ip_address", r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|"
          r"(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?:%[A-Za-z0-9_.]+)?(?![\w:])", 0, _ipv6,
          hints=(":",)),
)


# -- configured patterns ------------------------------------------------------------------------

def _compile(kind: str, pattern: Any, where: str) -> Rule:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: redaction pattern must be a non-empty string, got "
                          f"{pattern!r}")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: redaction pattern {pattern!r} is not a valid regular "
                          f"expression: {exc}") from None
    if compiled.match(""):
        raise ConfigError(f"{where}: redaction pattern {pattern!r} matches the empty string")
    return Rule(kind, compiled)


def _from_file(path: Path) -> list[Rule]:
    import yaml

    from workbench.yaml_file import parse_yaml

    try:
        doc = parse_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{ENV_FILE}={path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{ENV_FILE}={path}: not valid YAML: {exc}") from None
    items = doc.get("patterns") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        raise ConfigError(f"{ENV_FILE}={path}: expected a list of patterns or a mapping with a "
                          "'patterns' list")
    rules = []
    for i, item in enumerate(items):
        where = f"{ENV_FILE}={path} pattern {i + 1}"
        if isinstance(item, Mapping):
            unknown = set(item) - {"name", "regex"}
            if unknown or "regex" not in item:
                raise ConfigError(f"{where}: expected keys 'regex' and optional 'name', got "
                                  f"{sorted(item)}")
            name = str(item.get("name") or "custom")
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise ConfigError(f"{where}: name {name!r} may hold letters, digits, '_', '.', "
                                  "'-' only")
            rules.append(_compile(name, item["regex"], where))
        else:
            rules.append(_compile("custom", item, where))
    return rules


def load_patterns(environ: Mapping[str, str] | None = None) -> list[Rule]:
    """The user's own patterns: ``$WORKBENCH_REDACT_PATTERNS`` holds regular expressions, one
    per line (counted as ``custom``); ``$WORKBENCH_REDACT_FILE`` names a YAML file holding a
    list of regular expressions, or ``patterns:`` entries with ``regex`` and an optional
    ``name`` (the kind they are counted as). A bad pattern or file is a ConfigError naming it."""
    env = os.environ if environ is None else environ
    rules = [_compile("custom", line.strip(), f"{ENV_PATTERNS} line {i + 1}")
             for i, line in enumerate(env.get(ENV_PATTERNS, "").splitlines()) if line.strip()]
    if path := env.get(ENV_FILE, "").strip():
        rules += _from_file(Path(path))
    return rules


# -- the redactor -------------------------------------------------------------------------------

class Redactor:
    """Replaces sensitive values in text and JSON-like data, counting what it replaced by kind.

    One redactor serves one rendered artefact (or a set of them), so :meth:`stats` is that
    artefact's count. Disabled, it passes everything through and counts nothing.
    """

    def __init__(self, rules: Iterable[Rule] = BUILTIN_RULES, *, enabled: bool = True) -> None:
        self.rules = tuple(rules)
        self.enabled = enabled
        self.counts: Counter[str] = Counter()

    def text(self, text: str) -> str:
        """``text`` with every sensitive value replaced by its :func:`marker`."""
        if not self.enabled or not text:
            return text
        lower = text.lower()
        for rule in self.rules:
            if rule.hints and not any(h in lower for h in rule.hints):
                continue
            new = rule.pattern.sub(lambda m, r=rule: self._replace(r, m), text)
            if new != text:
                text, lower = new, new.lower()
        return text

    def _replace(self, rule: Rule, m: re.Match[str]) -> str:
        value = m.group(rule.group)
        if value is None or (rule.check is not None and not rule.check(value)):
            return m.group(0)
        self.counts[rule.kind] += 1
        s, e = m.start(rule.group) - m.start(), m.end(rule.group) - m.start()
        whole = m.group(0)
        return whole[:s] + marker(rule.kind) + whole[e:]

    def data(self, obj: Any, skip: frozenset[str] = BINARY_KEYS) -> Any:
        """A copy of ``obj`` (dicts, lists, strings, numbers) with every string redacted; values
        under the keys in ``skip`` (plotly's binary arrays) are kept as they are."""
        if not self.enabled:
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {k: v if k in skip else self.data(v, skip) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.data(v, skip) for v in obj]
        return obj

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def stats(self) -> dict[str, Any]:
        """``{"enabled", "count", "by_kind"}``: what the summary JSON and the HTML report."""
        return {"enabled": self.enabled, "count": self.total,
                "by_kind": dict(sorted(self.counts.items()))}


def redactor(enabled: bool = True, environ: Mapping[str, str] | None = None) -> Redactor:
    """The built-in rules plus the user's configured patterns (see :func:`load_patterns`);
    disabled when ``enabled`` is False (the configuration is then not read)."""
    if not enabled:
        return Redactor((), enabled=False)
    return Redactor((*BUILTIN_RULES, *load_patterns(environ)))


def tally(enabled: bool, parts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One count over the parts of a report (``{"summary": stats, "report": stats}``, each
    :meth:`Redactor.stats`-shaped): ``{"enabled", "count", "by_kind", "parts"}``."""
    by_kind: Counter[str] = Counter()
    for part in parts.values():
        by_kind.update(part.get("by_kind", {}))
    return {"enabled": enabled, "count": sum(by_kind.values()),
            "by_kind": dict(sorted(by_kind.items())),
            "parts": {name: {"count": sum(p.get("by_kind", {}).values()),
                             "by_kind": dict(sorted(p.get("by_kind", {}).items()))}
                      for name, p in parts.items()}}
