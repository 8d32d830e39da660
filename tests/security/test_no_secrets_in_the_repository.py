"""No secret is committed: every tracked file is scanned for the shapes real credentials
take. A test key or example value is written so that it cannot be mistaken for one (it says
"example", "test" or "insecure"), which is also what a reader needs to see."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

PATTERNS = {
    "a private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "an AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "a Slack token": re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),
    "a Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/\w+"),
    "a HubSpot private-app token": re.compile(r"\bpat-(?:na|eu)\d-[0-9a-f]{8}-[0-9a-f-]{27}\b"),
    "a Salesforce session id": re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{40,}"),
    "a password in a URL": re.compile(
        r"\b(?:postgres|postgresql|redis|amqp)://[^:/\s@]+:[^@\s]{6,}@"
    ),
    # SECRET_KEY = "…" written out: settings read it from the environment.
    "a literal SECRET_KEY": re.compile(r"""SECRET_KEY\s*=\s*["'][^"'\s]{30,}["']"""),
}
# Values that say what they are.
HARMLESS = re.compile(
    r"example|test|insecure|dummy|placeholder|not-a-secret|<[a-z_-]+>", re.IGNORECASE
)


def _tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def _findings(text: str) -> list[str]:
    found = []
    for what, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            line = text[text.rfind("\n", 0, match.start()) + 1 : text.find("\n", match.end())]
            if not HARMLESS.search(line):
                found.append(f"{what}: {match.group(0)[:40]}…")
    return found


def test_the_scan_recognises_each_kind_of_secret():
    # Each sample is put together here, so that this file itself holds none of them.
    samples = [
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "key = AKIA" + "IOSFODNN7ABCDEFG",
        "token: ghp_" + "a1B2" * 9,
        "SLACK=xoxb-" + "1234567890-abcdefghij",
        "https://hooks.slack.com/services/" + "T0ABCDEF/B0ABCDEF/aBcDeFgHiJkLmNoP",
        "HUBSPOT_ACCESS_TOKEN=pat-na1-" + "0123abcd-0123-4567-89ab-0123456789ab",
        "DATABASE_URL=postgres://accord:" + "s3cr3tpassw0rd@db.internal/accord",
        "SECRET_KEY = " + '"q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1"',
    ]
    for sample in samples:
        assert _findings(sample), sample
    assert not _findings('SECRET_KEY = "django-insecure-accord-embedded-default-do-not-deploy"')


def test_no_tracked_file_holds_a_secret():
    files = _tracked()
    assert len(files) > 100
    found = {}
    for path in files:
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        if hits := _findings(text):
            found[str(path.relative_to(ROOT))] = hits
    assert not found, found
