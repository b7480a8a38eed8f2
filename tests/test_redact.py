"""Redaction against a corpus of secrets and personal data, and of look-alikes that must pass."""

import html

import pytest

from workbench.errors import ConfigError
from workbench.redact import ENV_FILE, ENV_PATTERNS, Redactor, load_patterns, marker, redactor

# Fake but well-formed values, assembled so that no scanner takes this file for a leak.
SECRETS = [
    ("openai_key", "sk-" + "Abc123XyZ789" * 4),
    ("openai_key", "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 3 + "_-xY"),
    ("anthropic_key", "sk-ant-api03-" + "Zx9Y8w7V6u5T4s3R2q1P" * 4 + "-AA"),
    ("langfuse_key", "sk-lf-" + "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"),
    ("langfuse_key", "pk-lf-" + "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"),
    ("aws_access_key", "AKIA" + "IOSFODNN7EXAMPLE"),
    ("github_token", "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("github_token", "github_pat_" + "11ABCDEFG0123456789_abcdefghij" + "K" * 40),
    ("google_api_key", "AIza" + "SyD-1234567890abcdefghijklmnopqrstu"),
    ("slack_token", "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("slack_webhook", "https://hooks.slack.com/services/" + "T0001/B0002/XyZ123abc"),
    ("stripe_key", "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe_key", "rk_" + "test_" + "51HxYz2eZvKYlo2C0123abcd"),
    ("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikp"
     "vaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    ("private_key", "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n"
     "kNe5Yd8q0w==\n-----END RSA PRIVATE KEY-----"),
    ("email", "jane.doe+test@example.co.uk"),
    ("email", "ops@agents.example.com"),
    ("phone", "+1 (415) 555-0100"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+33 1 23 45 67 89"),
    ("phone", "(415) 555-0199"),
    ("phone", "415-555-0123"),
    ("card_number", "4111 1111 1111 1111"),
    ("card_number", "5555-5555-5555-4444"),
    ("card_number", "378282246310005"),
    ("card_number", "6011111111111117"),
    ("ip_address", "203.0.113.42"),
    ("ip_address", "10.1.2.3"),
    ("ip_address", "2001:db8:85a3::8a2e:370:7334"),
    ("ip_address", "fe80::1ff:fe23:4567:890a"),
]

# Secrets recognised by what stands before them: that context stays readable.
IN_CONTEXT = [
    ("aws_secret_key", "aws_secret_access_key = ", "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"),
    ("aws_secret_key", '"AWS_SECRET_ACCESS_KEY": "', "abcdEFGH1234/ijklMNOP5678+qrstUVWX90yzAB"),
    ("bearer_token", "Authorization: Bearer ", "abc123DEF456ghi789JKL"),
    ("basic_credentials", "Authorization: Basic ", "dXNlcjpodW50ZXIyMDI2"),
    ("credential", "password=", "Sup3rS3cret!"),
    ("credential", "client_secret: ", "9f8e7d6c5b4a"),
    ("credential", "api_key=&quot;", "internal-abc-123"),
]

NEAR_MISSES = [
    "4bf92f3577b34da6a3ce929d0e0e4736",            # W3C / OTel trace id
    "00f067aa0ba902b7",                            # span id
    "550e8400-e29b-41d4-a716-446655440000",        # UUID
    "e83c5163316f89bfbde7d9ab23ca2e25604af290",    # git sha
    "release 1.9.0", "plotly.js v3.0.1", "v1.2.3.4", "python 3.11.9",
    "2026-11-06T09:00:00+00:00", "2026-11-06 09:00", "2026-11-06T09:00:00.123456Z", "12:30:45",
    "($0.1757 vs $0.0136)", "$1,234.56", "+0.5%", "-12.5%", "+12.3456789",
    "4111111111111112",                            # a card-like number failing Luhn
    "1730000000000", "12345678901234", "1,234,567", "9999999999999999",
    "127.0.0.1", "::1", "0.0.0.0", "x[::2]", "00:1A:2B:3C:4D:5E", "255.255.255.255.0",
    "sk-learn-pipeline-version-2", "task-force-alpha-bravo-charlie", "risk-score-2026",
    "token_waste_ratio: 0.12", "cost_per_request", "p95 latency 12.5 s",
    "user-0003", "sess-0003-0003cd44", "chat gpt-4o", "invoke_agent tool-agent",
    "Bearer of bad news", "password: none", "secret: the answer",
    "rgba(214, 39, 40, 0.10)", "#d62728", "border: 1px solid #ddd",
    "@jupyter-widgets/html-manager@8.1.5", "plotly@3.0.1",
]


@pytest.mark.parametrize("kind, value", SECRETS, ids=[f"{k}-{i}" for i, (k, _) in
                                                        enumerate(SECRETS)])
def test_each_secret_is_replaced_by_its_kind_in_running_text(kind, value):
    r = Redactor()
    text = f"tool said: {value}. Then it stopped."
    out = r.text(text)
    assert value not in out
    assert out == f"tool said: {marker(kind)}. Then it stopped."
    assert r.counts == {kind: 1} and r.total == 1


@pytest.mark.parametrize("kind, context, value", IN_CONTEXT)
def test_secrets_next_to_their_name_keep_the_name(kind, context, value):
    r = Redactor()
    out = r.text(f"{context}{value}")
    assert value not in out and out.startswith(context)
    assert marker(kind) in out and r.counts == {kind: 1}


def test_a_password_in_a_url_goes_but_host_and_user_stay():
    out = Redactor().text("postgres://app:hunter2pass@db.internal:5432/x")
    assert out == "postgres://app:[redacted:url_password]@db.internal:5432/x"


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_look_alikes_are_left_alone(text):
    r = Redactor()
    assert r.text(f"value {text} here") == f"value {text} here"
    assert r.total == 0


def test_the_corpus_in_one_prompt_counts_every_kind():
    r = Redactor()
    prompt = "\n".join(v for _, v in SECRETS) + "\n" + "\n".join(NEAR_MISSES)
    out = r.text(prompt)
    expected = {}
    for kind, _ in SECRETS:
        expected[kind] = expected.get(kind, 0) + 1
    assert dict(r.counts) == expected
    for text in NEAR_MISSES:
        assert text in out


def test_html_escaped_text_is_redacted_and_stays_valid_html():
    r = Redactor()
    cell = html.escape("<b>Contact</b> jane@example.com, key sk-" + "Abc123XyZ789" * 4)
    out = r.text(f"<td>{cell}</td>")
    assert out == ("<td>&lt;b&gt;Contact&lt;/b&gt; [redacted:email], key "
                   "[redacted:openai_key]</td>")


def test_redacting_twice_changes_and_counts_nothing_more():
    r = Redactor()
    once = r.text("mail jane@example.com, call +44 20 7946 0958, password=Sup3rS3cret!")
    again = Redactor()
    assert again.text(once) == once and again.total == 0
    assert r.total == 3


def test_data_redacts_strings_everywhere_but_binary_arrays():
    r = Redactor()
    fig = {"data": [{"y": ["jane@example.com", 3.5], "x": {"dtype": "f8", "bdata": "AKIA"
                     + "IOSFODNN7EXAMPLE"}, "name": "10.1.2.3"}],
           "layout": {"title": {"text": "for ops@example.com"}}, "n": 3}
    out = r.data(fig)
    assert out["data"][0]["y"] == ["[redacted:email]", 3.5]
    assert out["data"][0]["x"]["bdata"] == "AKIAIOSFODNN7EXAMPLE"  # numbers, not text
    assert out["data"][0]["name"] == "[redacted:ip_address]"
    assert out["layout"]["title"]["text"] == "for [redacted:email]" and out["n"] == 3
    assert fig["data"][0]["y"][0] == "jane@example.com"  # the input is not changed
    assert r.stats() == {"enabled": True, "count": 3,
                         "by_kind": {"email": 2, "ip_address": 1}}


def test_disabled_passes_everything_and_says_so():
    r = redactor(enabled=False, environ={ENV_PATTERNS: "(unbalanced"})
    assert r.text("jane@example.com") == "jane@example.com"
    assert r.data({"a": ["jane@example.com"]}) == {"a": ["jane@example.com"]}
    assert r.stats() == {"enabled": False, "count": 0, "by_kind": {}}


def test_configured_patterns_from_the_environment_and_a_yaml_file(tmp_path):
    path = tmp_path / "redact.yaml"
    path.write_text("patterns:\n  - name: employee_id\n    regex: 'EMP-\\d{6}'\n"
                    "  - regex: 'project-(?:falcon|osprey)'\n")
    r = redactor(environ={ENV_PATTERNS: "ACME-[0-9]{4}\n\n  order #\\d+ ", ENV_FILE: str(path)})
    out = r.text("EMP-123456 asked about ACME-2026 and order #991 on project-falcon; EMP-12")
    assert out == ("[redacted:employee_id] asked about [redacted:custom] and "
                   "[redacted:custom] on [redacted:custom]; EMP-12")
    assert r.counts == {"employee_id": 1, "custom": 3}


def test_a_plain_list_in_the_yaml_file_is_read_as_patterns(tmp_path):
    path = tmp_path / "redact.yaml"
    path.write_text("- 'TICKET-\\d+'\n")
    assert [r.kind for r in load_patterns({ENV_FILE: str(path)})] == ["custom"]


@pytest.mark.parametrize("env, message", [
    ({ENV_PATTERNS: "ok\n(unbalanced"}, "WORKBENCH_REDACT_PATTERNS line 2: redaction pattern "
                                        "'\\(unbalanced' is not a valid regular expression"),
    ({ENV_PATTERNS: "a*"}, "matches the empty string"),
    ({ENV_FILE: "/no/such/redact.yaml"}, "WORKBENCH_REDACT_FILE=/no/such/redact.yaml: cannot "
                                         "read it"),
])
def test_bad_configuration_names_what_is_wrong(env, message):
    with pytest.raises(ConfigError, match=message):
        redactor(environ=env)


@pytest.mark.parametrize("text, message", [
    ("patterns: [", "not valid YAML"),
    ("patterns: {a: 1}", "expected a list of patterns"),
    ("patterns:\n  - {name: x}\n", "pattern 1: expected keys 'regex'"),
    ("patterns:\n  - {regex: 'a', name: 'bad name'}\n", "name 'bad name' may hold"),
    ("- 42\n", "pattern 1: redaction pattern must be a non-empty string, got 42"),
])
def test_bad_pattern_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "redact.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        redactor(environ={ENV_FILE: str(path)})
    assert str(path) in str(info.value)
