#!/usr/bin/env python3
"""Deterministic generator for the labelled secret / PII evaluation set.

Writes ``labelled.jsonl`` next to this file.  Standard library only; the only
source of randomness is ``random.Random`` seeded from ``SEED`` (one instance
per section, so sections do not disturb each other).  All secret values are
synthetic: they follow the published formats but are drawn from the seeded RNG.

Run from the project root:

    .venv/bin/python data/safety/make_labelled.py

The last section samples real code from the Python standard library of the
interpreter that runs this script (``sysconfig.get_paths()["stdlib"]``), so the
output is byte-identical for a given interpreter installation.
"""
import base64
import collections
import hashlib
import hmac
import json
import os
import re
import random
import string
import struct
import sys
import sysconfig

SEED = 20240611
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "labelled.jsonl")

R = random.Random(SEED)


def section(name):
    """Give each section its own deterministic RNG stream."""
    global R
    R = random.Random("%d:%s" % (SEED, name))


UP = string.ascii_uppercase
LO = string.ascii_lowercase
DIG = string.digits
LET = UP + LO
ALNUM = LET + DIG
B32 = UP + "234567"
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


def rs(chars, n):
    return "".join(R.choice(chars) for _ in range(n))


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


MARKERS = ("example", "your", "placeholder", "changeme", "dummy", "fake", "sample",
           "redacted", "xxx", "<", ">", "${", "{{", "%s", "%(")


def has_marker(v):
    lv = v.lower()
    return any(m in lv for m in MARKERS)


EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
KNOWN_RE = re.compile(r"AKIA|ASIA|ABIA|ACCA|AIza|gh[pousr]_|github_pat_|glpat-|xox[bpars]-|"
                      r"[sr]k_(?:live|test)_|SG\.|npm_|pypi-|sk-|hf_|eyJ|BEGIN|://")


def fresh(fn, ok=None):
    while True:
        v = fn()
        if has_marker(v):
            continue
        if ok is not None and not ok(v):
            continue
        return v


def plain_random(v):
    """For generic values: no accidental specific prefix / e-mail shape."""
    return not KNOWN_RE.search(v) and not EMAIL_RE.search(v)


def mixed(v):
    return any(c.isdigit() for c in v) and any(c.isalpha() for c in v)


# --------------------------------------------------------------------------
# record collection
# --------------------------------------------------------------------------
RECORDS = []
COUNTER = collections.Counter()


def add(prefix, text, labels, note):
    COUNTER[prefix] += 1
    lines = text.split("\n")
    for ln, _ in labels:
        assert 1 <= ln <= len(lines), (prefix, text, labels)
    labels = sorted(set(labels))
    RECORDS.append({
        "id": "%s-%d" % (prefix, COUNTER[prefix]),
        "text": text,
        "labels": [{"line": ln, "kind": k} for ln, k in labels],
        "note": note,
    })


def line_of(text, needle):
    hits = [i + 1 for i, l in enumerate(text.split("\n")) if needle in l]
    assert len(hits) == 1, (needle, text)
    return hits[0]


def add_pos(kind, text, needles, note):
    """needles: list of (substring, kind); each must sit on exactly one line."""
    labels = [(line_of(text, n), k) for n, k in needles]
    add(kind, text, labels, note)


def add_neg(cat, text, note):
    add(cat, text, [], note)


def spread(items, n):
    out = []
    while len(out) < n:
        block = list(items)
        R.shuffle(block)
        out.extend(block)
    return out[:n]


# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------
def forms(words):
    words = list(words)
    snake = "_".join(words)
    return {
        "{N_snake}": snake,
        "{N_UPPER}": snake.upper(),
        "{N_camel}": words[0] + "".join(w.capitalize() for w in words[1:]),
        "{N_kebab}": "-".join(words),
        "{N_flat}": "".join(words),
        "{N_Pascal}": "".join(w.capitalize() for w in words),
    }


def render(tpl, words, value, extra=None):
    out = tpl
    if words is not None:
        f = forms(words)
        out = out.replace("{N}", R.choice([f["{N_snake}"], f["{N_UPPER}"], f["{N_camel}"]]))
        for k, v in f.items():
            out = out.replace(k, v)
    for k, v in (extra or {}).items():
        out = out.replace(k, v)
    return out.replace("{V}", value)


SAFE_RE = re.compile(r"^[A-Za-z0-9_.+/=:@~-]+$")

# Generic assignment contexts: (context, template, value_is_quoted)
ASSIGN = [
    ("python", '{N_snake} = "{V}"', True),
    ("python", "import os\n\n{N_UPPER} = '{V}'  # TODO: move to secrets manager\nclient = Client(timeout=30)", True),
    ("python", 'config = {\n    "host": "0.0.0.0",\n    "port": 8000,\n    "{N_snake}": "{V}",\n    "debug": False,\n}', True),
    ("python", 'def make_client():\n    return ApiClient(\n        base_url=BASE_URL,\n        {N_snake}="{V}",\n        timeout=30,\n    )', True),
    ("python", 'class Settings(BaseSettings):\n    app_name: str = "billing"\n    {N_snake}: str = "{V}"\n    debug: bool = False', True),
    ("python", 'os.environ["{N_UPPER}"] = "{V}"', True),
    ("python", "    def setUp(self):\n        self.{N_snake} = '{V}'\n        self.client = self.app.test_client()", True),
    ("yaml", "service:\n  name: billing\n  {N_snake}: {V}\n  retries: 3", False),
    ("yaml", '{N_kebab}: "{V}"  # rotated in Q2', True),
    ("yaml", 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secrets\ntype: Opaque\nstringData:\n  {N_UPPER}: "{V}"', True),
    ("compose", "services:\n  api:\n    image: acme/api:1.4.2\n    environment:\n      - {N_UPPER}={V}\n      - LOG_LEVEL=info", False),
    ("json", '{\n  "name": "worker",\n  "{N_camel}": "{V}",\n  "region": "eu-west-1"\n}', True),
    ("json", '{"{N_snake}":"{V}","ttl":3600,"enabled":true}', True),
    ("env", "# .env.production\nNODE_ENV=production\n{N_UPPER}={V}\nPORT=8080", False),
    ("env", '{N_UPPER}="{V}"', True),
    ("shell", "export {N_UPPER}='{V}'", True),
    ("shell", "#!/usr/bin/env bash\nset -euo pipefail\n\nexport {N_UPPER}={V}\n./scripts/deploy.sh --env prod", False),
    ("ini", "[default]\nregion = us-east-1\n{N_snake} = {V}\noutput = json", False),
    ("ini", "[service]\n{N_kebab}={V}\ntimeout=30", False),
    ("dockerfile", 'FROM python:3.11-slim\nWORKDIR /app\nENV {N_UPPER}={V}\nCOPY . .\nCMD ["python", "main.py"]', False),
    ("dockerfile", 'ARG {N_UPPER}="{V}"\nRUN pip install --no-cache-dir -r requirements.txt', True),
    ("gha", "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      {N_UPPER}: {V}\n    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy", False),
    ("gha", '      - name: Publish\n        run: ./publish.sh\n        env:\n          {N_UPPER}: "{V}"', True),
    ("markdown", "## Configuration\n\nSet the key before running:\n\n```bash\nexport {N_UPPER}={V}\n```", False),
    ("markdown", "| Variable | Value |\n|---|---|\n| `{N_UPPER}` | `{V}` |", False),
    ("log", "2024-03-14T09:12:44Z DEBUG config loaded: {N_snake}={V} region=us-east-1", False),
    ("log", "[2024-05-02 11:03:17,482] INFO boot: settings={'{N_snake}': '{V}', 'workers': 4}", True),
    ("notebook", '   "source": [\n    "import requests\\n",\n    "{N_snake} = \\"{V}\\"\\n",\n    "resp = requests.get(URL, timeout=10)"\n   ]', True),
    ("notebook", ' {\n   "cell_type": "code",\n   "execution_count": 2,\n   "metadata": {},\n   "outputs": [],\n   "source": [\n    "%env {N_UPPER}={V}"\n   ]\n  }', False),
]


def assign_text(words, value):
    """Pick an ASSIGN template that can hold the value; returns (text, ctx)."""
    for _ in range(100):
        ctx, tpl, quoted = R.choice(ASSIGN)
        if not quoted and not SAFE_RE.match(value):
            continue
        return render(tpl, words, value), ctx
    raise RuntimeError(value)


# --------------------------------------------------------------------------
# value generators
# --------------------------------------------------------------------------
def v_aws_access():
    return fresh(lambda: R.choice(["AKIA"] * 6 + ["ASIA"] * 3 + ["ABIA", "ACCA"]) + rs(B32, 16))


def v_aws_secret():
    return fresh(lambda: rs(ALNUM + "/+", 40), lambda v: "/" in v or "+" in v or R.random() < 0.3)


def v_gcp():
    return fresh(lambda: "AIza" + rs(URLSAFE, 35))


def v_azure_key():
    return fresh(lambda: base64.b64encode(rbytes(64)).decode())


AZ_ACCOUNTS = ["acmeprodstorage", "northwindlogs", "globexbackups01", "contosodatalake", "initechmedia", "fabrikamexports"]


def v_azure_conn():
    key = v_azure_key()
    acct = R.choice(AZ_ACCOUNTS)
    return ("DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, key), "AccountKey=" + key)


def v_github():
    if R.random() < 0.25:
        return fresh(lambda: "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59))
    return fresh(lambda: R.choice(["ghp_"] * 5 + ["gho_", "ghu_", "ghs_", "ghr_"]) + rs(ALNUM, 36))


def v_gitlab():
    return fresh(lambda: "glpat-" + rs(URLSAFE, 20))


def digits(lo, hi):
    n = R.randint(lo, hi)
    return str(R.randint(1, 9)) + rs(DIG, n - 1)


def v_slack_token():
    p = R.choice(["xoxb"] * 4 + ["xoxp"] * 2 + ["xoxa", "xoxr", "xoxs"])
    if p == "xoxb":
        f = lambda: "xoxb-%s-%s-%s" % (digits(10, 13), digits(10, 13), rs(ALNUM, 24))
    elif p == "xoxp":
        f = lambda: "xoxp-%s-%s-%s-%s" % (digits(10, 13), digits(10, 13), digits(10, 13), rs(HEX, 32))
    elif p == "xoxa":
        f = lambda: "xoxa-2-%s-%s-%s-%s" % (digits(10, 13), digits(10, 13), digits(10, 13), rs(HEX, 64))
    else:
        f = lambda: "%s-%s-%s-%s" % (p, digits(10, 13), digits(10, 13), rs(ALNUM, 24))
    return fresh(f)


def v_slack_webhook():
    return fresh(lambda: "https://hooks.slack.com/services/T%s/B%s/%s" % (
        rs(UP + DIG, R.randint(8, 10)), rs(UP + DIG, R.randint(8, 10)), rs(ALNUM, 24)))


def v_telegram():
    return fresh(lambda: "%s:AA%s" % (digits(8, 10), rs(URLSAFE, 33)))


def v_stripe():
    p = R.choice(["sk_live_"] * 4 + ["rk_live_", "sk_test_", "sk_test_", "rk_test_"])
    n = R.choice([24, 34, 99, R.randint(24, 99)])
    return fresh(lambda: p + rs(ALNUM, n))


def v_sendgrid():
    return fresh(lambda: "SG." + rs(URLSAFE, 22) + "." + rs(URLSAFE, 43))


def v_npm():
    return fresh(lambda: "npm_" + rs(ALNUM, 36))


def v_pypi():
    return fresh(lambda: "pypi-AgEIcHlwaS5vcmc" + rs(URLSAFE, R.choice([R.randint(50, 200), R.randint(150, 180)])))


def v_openai():
    if R.random() < 0.4:
        return fresh(lambda: "sk-" + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20))
    return fresh(lambda: "sk-proj-" + rs(URLSAFE, R.randint(40, 160)))


def v_anthropic():
    return fresh(lambda: "sk-ant-api03-" + rs(URLSAFE, 93) + "AA")


def v_hf():
    return fresh(lambda: "hf_" + rs(LET, 34))


FIRST = ["Ana", "Bruno", "Chen", "Dana", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kavya", "Lars",
         "Mei", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tomasz", "Uma", "Viktor", "Wen", "Yara",
         "Zoltan", "Aisha", "Mateo", "Leila", "Niko", "Sofia", "Ravi", "Hannah", "Diego", "Ingrid", "Kofi"]
LAST = ["Souza", "Keller", "Nakamura", "Okafor", "Lindqvist", "Haddad", "Novak", "Fischer", "Moreau", "Kowalski",
        "Iyer", "Petrov", "Tanaka", "Mendes", "Brennan", "Vasquez", "Osei", "Larsen", "Rossi", "Dubois",
        "Yilmaz", "Schmidt", "Castillo", "Fernandes", "Jovanovic", "Nguyen", "Halvorsen", "Abara", "Quinn"]
FREE_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "fastmail.com", "hey.com",
                "gmx.de", "web.de", "hotmail.co.uk", "posteo.de", "mail.ru"]
WORK_DOMAINS = ["acme-corp.io", "northwindtraders.com", "globex.co.uk", "initech.de", "contoso-labs.ai",
                "fabrikam.net", "umbrella-health.org", "cs.uni-tuebingen.de", "stanford.edu", "tyrell-systems.com",
                "hooli.xyz", "piedpiper.dev", "wayne-enterprises.co", "soylent.fr"]


def person():
    return R.choice(FIRST), R.choice(LAST)


def v_email(first=None, last=None):
    if first is None:
        first, last = person()
    f, l = first.lower(), last.lower()
    local = R.choice([f + "." + l, f[0] + l, f + "_" + l, f + l + str(R.randint(1, 99)), f,
                      f + "+" + R.choice(["github", "newsletter", "work", "billing"]), l + "." + f[0]])
    dom = R.choice(FREE_DOMAINS + WORK_DOMAINS)
    return local + "@" + dom


def v_phone():
    kind = R.randint(0, 13)
    a = R.choice(["415", "628", "212", "646", "312", "206", "512", "617", "303", "971"])
    ex = str(R.randint(2, 9)) + rs(DIG, 2)
    sub = rs(DIG, 4)
    if R.random() < 0.5:
        ex, sub = "555", "01" + rs(DIG, 2)
    if kind == 0:
        return "+1 %s %s %s" % (a, ex, sub)
    if kind == 1:
        return "(%s) %s-%s" % (a, ex, sub)
    if kind == 2:
        return "%s-%s-%s" % (a, ex, sub)
    if kind == 3:
        return "%s.%s.%s" % (a, ex, sub)
    if kind == 4:
        return "+1-%s-%s-%s" % (a, ex, sub)
    if kind == 5:
        return "+1 (%s) %s-%s" % (a, ex, sub)
    if kind == 6:
        return "+44 20 7946 0%s" % rs(DIG, 3)
    if kind == 7:
        return "+44 7700 900%s" % rs(DIG, 3)
    if kind == 8:
        return "+49 30 %s" % (str(R.randint(2, 9)) + rs(DIG, 6))
    if kind == 9:
        return "+49 151 %s" % (str(R.randint(1, 9)) + rs(DIG, 7))
    if kind == 10:
        return "+33 1 %s %s %s %s" % tuple(rs(DIG, 2) for _ in range(4))
    if kind == 11:
        return "+61 2 %s %s" % (str(R.randint(8, 9)) + rs(DIG, 3), rs(DIG, 4))
    if kind == 12:
        return "+91 %s %s" % ("9" + rs(DIG, 4), rs(DIG, 5))
    return "+81 3-%s-%s" % (rs(DIG, 4), rs(DIG, 4))


WORDS = ["falcon", "maple", "orbit", "quarry", "lantern", "harbor", "cobalt", "meadow", "tundra", "zephyr",
         "saffron", "granite", "willow", "ember", "pixel", "nimbus", "juniper", "copper", "velvet", "summit",
         "raven", "thistle", "basalt", "cricket", "marlin", "indigo", "pepper", "walnut", "glacier", "orchid"]


def v_password(url_safe=False):
    def gen():
        k = R.randint(0, 4)
        sym = "-_.~" if url_safe else "!#$%&*?@^+=-_."
        if k == 0:
            return R.choice(WORDS).capitalize() + R.choice(sym) + str(R.randint(10, 9999))
        if k == 1:
            return rs(ALNUM + sym, R.randint(10, 20))
        if k == 2:
            return "-".join(R.sample(WORDS, 3)) + str(R.randint(1, 99))
        if k == 3:
            w = R.choice(WORDS).capitalize()
            return w.replace("a", "4").replace("e", "3").replace("o", "0") + R.choice(sym) + rs(DIG, 2) + R.choice(WORDS)
        return rs(ALNUM, R.randint(12, 24))
    return fresh(gen, lambda v: len(v) >= 8 and any(c.isdigit() for c in v) and plain_random(v)
                 and "password" not in v.lower())


DJANGO_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)"


def v_generic():
    k = R.randint(0, 6)
    if k == 0:
        f = lambda: rs(ALNUM, R.choice([32, 40, 48, 64]))
    elif k == 1:
        f = lambda: rs(HEX, R.choice([32, 40, 64]))
    elif k == 2:
        f = lambda: base64.b64encode(rbytes(R.choice([24, 32, 48]))).decode()
    elif k == 3:
        f = lambda: b64url(rbytes(32))
    elif k == 4:
        f = lambda: rs(DJANGO_CHARS, 50)
    elif k == 5:
        f = lambda: rs(ALNUM, 8) + "-" + rs(ALNUM, 8) + "-" + rs(ALNUM, 16)
    else:
        f = lambda: rs(ALNUM, 24)
    return fresh(f, lambda v: mixed(v) and plain_random(v) and len(v) >= 20)


def v_jwt():
    hdr = R.choice([{"alg": "HS256", "typ": "JWT"}, {"typ": "JWT", "alg": "HS256"}, {"alg": "HS512", "typ": "JWT"},
                    {"alg": "RS256", "typ": "JWT", "kid": rs(HEX, 16)}, {"alg": "ES256", "kid": rs(ALNUM, 10)},
                    {"alg": "HS256"}])
    now = R.randint(1_680_000_000, 1_720_000_000)
    k = R.randint(0, 3)
    if k == 0:
        pl = {"sub": str(R.randint(10 ** 6, 10 ** 9)), "name": " ".join(person()), "iat": now}
    elif k == 1:
        pl = {"user_id": R.randint(1, 99999), "role": R.choice(["admin", "editor", "viewer"]), "iat": now, "exp": now + 3600}
    elif k == 2:
        pl = {"iss": "https://auth.%s/" % R.choice(WORK_DOMAINS), "sub": "auth0|" + rs(HEX, 24), "aud": "api",
              "iat": now, "exp": now + 86400, "scope": "read:orders write:orders"}
    else:
        pl = {"sub": rs(HEX, 8) + "-" + rs(HEX, 4), "tenant": R.choice(["acme", "globex", "initech"]), "exp": now + 900}
    h = b64url(json.dumps(hdr, separators=(",", ":")).encode())
    p = b64url(json.dumps(pl, separators=(",", ":")).encode())
    siglen = {"RS256": 256, "ES256": 64, "HS512": 64}.get(hdr["alg"], 32)
    return h + "." + p + "." + b64url(rbytes(siglen))


USERS = ["app", "svc_orders", "admin", "deploy", "etl_user", "root", "readonly", "analytics", "billing_rw", "ci"]
DBS = ["orders", "analytics", "shop", "app_prod", "inventory", "crm"]


def v_url():
    pw = v_password(url_safe=True)
    u = R.choice(USERS)
    k = R.randint(0, 11)
    if k in (0, 1):
        host = R.choice(["db.internal.acme-corp.io", "10.0.3.12", "prod-db-1.cluster-c7xk2ab.eu-west-1.rds.amazonaws.com", "pg.northwind.local"])
        url = "%s://%s:%s@%s:5432/%s" % (R.choice(["postgres", "postgresql", "postgresql+psycopg2"]), u, pw, host, R.choice(DBS))
    elif k == 2:
        url = "%s://%s:%s@%s:3306/%s" % (R.choice(["mysql", "mysql+pymysql"]), u, pw, R.choice(["mysql.internal", "10.1.0.7", "db.globex.co.uk"]), R.choice(DBS))
    elif k == 3:
        url = "redis://%s:%s@%s:6379/0" % (R.choice(["default", ""]), pw, R.choice(["cache.internal", "redis-master.svc.cluster.local", "10.2.0.4"]))
    elif k == 4:
        url = "%s://%s:%s@%s:5672/%s" % (R.choice(["amqp", "amqps"]), u, pw, R.choice(["rabbitmq.svc.cluster.local", "mq.acme-corp.io"]), R.choice(["%2F", "prod", ""]))
    elif k == 5:
        url = "mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority" % (u, pw, rs(LO + DIG, 5), R.choice(DBS))
    elif k == 6:
        url = "mongodb://%s:%s@mongo-0.mongo:27017,mongo-1.mongo:27017/%s?replicaSet=rs0" % (u, pw, R.choice(DBS))
    elif k == 7:
        url = "https://%s:%s@%s" % (u, pw, R.choice(["pypi.acme-corp.io/simple/", "nexus.globex.co.uk/repository/pypi/simple", "git.acme-corp.io/platform/api.git"]))
    elif k == 8:
        url = "ftp://%s:%s@%s" % (u, pw, R.choice(["ftp.northwind.co/outgoing/report.csv", "files.initech.de/pub/export.zip"]))
    elif k == 9:
        url = "http://%s:%s@proxy.corp.acme-corp.io:3128" % (u, pw)
    elif k == 10:
        url = "amqp://%s:%s@broker.internal:5672//" % (u, pw)
    else:
        url = "postgres://%s:%s@localhost:5432/%s" % (u, pw, R.choice(DBS))
    return url, pw


# PEM ---------------------------------------------------------------------
def der_body(kind):
    if kind == "RSA PRIVATE KEY":
        b = bytes.fromhex("308204a40201000282010100") + rbytes(1180)
    elif kind == "PRIVATE KEY":
        b = bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8") + rbytes(1180)
    elif kind == "EC PRIVATE KEY":
        b = bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a144034200") + b"\x04" + rbytes(64)
    elif kind == "DSA PRIVATE KEY":
        b = bytes.fromhex("308201bb02010002818100") + rbytes(430)
    elif kind == "ENCRYPTED PRIVATE KEY":
        b = bytes.fromhex("3082051c304e06092a864886f70d01050d3041") + rbytes(1300)
    elif kind == "OPENSSH PRIVATE KEY":
        def s(x):
            return struct.pack(">I", len(x)) + x
        pub = s(b"ssh-ed25519") + s(rbytes(32))
        b = b"openssh-key-v1\x00" + s(b"none") + s(b"none") + s(b"") + struct.pack(">I", 1) + s(pub) + rbytes(300)
    else:  # PGP
        b = bytes.fromhex("9503c60466") + rbytes(1200)
    return base64.b64encode(b).decode()


PEM_KINDS = ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY",
             "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"]


def pem(kind, nbody):
    body = der_body(kind)
    w = 70 if kind == "OPENSSH PRIVATE KEY" else 64
    lines = [body[i:i + w] for i in range(0, len(body), w)]
    if kind == "EC PRIVATE KEY":
        lines = lines[:3]
    else:
        lines = lines[:nbody - 1] + [lines[-1][-R.randint(20, 60):]]
    head = ["-----BEGIN %s-----" % kind]
    if kind == "PGP PRIVATE KEY BLOCK":
        head.append("")
        lines = lines[:-1] + ["=" + rs(B64, 4)]
    if kind == "ENCRYPTED PRIVATE KEY" and False:
        pass
    return head + lines + ["-----END %s-----" % kind]


# --------------------------------------------------------------------------
# kind-specific templates: functions v -> text (needle is v unless returned)
# --------------------------------------------------------------------------
def T(s):
    return lambda v: s.replace("{V}", v)


def gen_kind(kind, n, valuef, names, specific, note, extra_needles=None, assign_ok=True):
    """Generate n positives.  specific: list of callables (v -> text or (text, needles))."""
    nspec = len(specific)
    plan = [("spec", s) for s in specific]
    if assign_ok:
        plan += [("assign", None)] * max(0, n - nspec)
    else:
        plan = [("spec", s) for s in spread(specific, n)]
    R.shuffle(plan)
    for how, fn in plan[:n] if assign_ok else plan:
        val = valuef()
        needle = val
        if isinstance(val, tuple):
            val, needle = val
        if how == "spec":
            out = fn(val)
            ctx = "specific"
        else:
            out, ctx = assign_text(R.choice(names(val) if callable(names) else names), val)
        needles = [(needle, kind)]
        if isinstance(out, dict):  # template generated its own value
            out, needles = out["text"], out["needles"]
        elif isinstance(out, tuple):
            out, more = out
            needles += more
        add_pos(kind, out, needles, "%s (%s)" % (note, ctx))


def UT(prefixes, tpl):
    """url_credentials template that only fits some schemes: draws its own URL."""
    def f(_unused):
        while True:
            url, pw = v_url()
            if url.startswith(prefixes) and (prefixes != ("https://",) or "/simple" in url):
                return {"text": tpl.replace("{V}", url), "needles": [(pw, "url_credentials")]}
    return f


def aws_pair(tpl):
    def f(v):
        s = v_aws_secret()
        return tpl.replace("{V}", v).replace("{S}", s), [(s, "aws_secret_key")]
    return f


def aws_pair_rev(tpl):
    def f(s):
        v = v_aws_access()
        return tpl.replace("{V}", v).replace("{S}", s), [(v, "aws_access_key")]
    return f


def positives():
    section("aws_access_key")
    gen_kind("aws_access_key", 24, v_aws_access,
             [("aws", "access", "key", "id"), ("access", "key", "id"), ("aws", "access", "key")],
             [aws_pair("[default]\naws_access_key_id = {V}\naws_secret_access_key = {S}\nregion = us-west-2"),
              aws_pair('s3 = boto3.client(\n    "s3",\n    aws_access_key_id="{V}",\n    aws_secret_access_key="{S}",\n)'),
              aws_pair("AWS_ACCESS_KEY_ID={V} AWS_SECRET_ACCESS_KEY={S} aws s3 sync ./dist s3://acme-static-prod"),
              aws_pair('provider "aws" {\n  region     = "us-east-1"\n  access_key = "{V}"\n  secret_key = "{S}"\n}'),
              aws_pair("    env:\n      AWS_ACCESS_KEY_ID: {V}\n      AWS_SECRET_ACCESS_KEY: {S}\n      AWS_REGION: eu-central-1"),
              aws_pair("aws.accessKeyId={V}\naws.secretKey={S}\naws.region=us-east-2"),
              T("2024-01-09 10:11:12,004 DEBUG botocore.credentials: using static credentials, access key {V}"),
              T('{\n  "Credentials": {\n    "AccessKeyId": "{V}",\n    "Expiration": "2024-06-01T12:00:00Z"\n  }\n}'),
              T("# ~/.s3cfg\n[default]\naccess_key = {V}\nhost_base = s3.amazonaws.com")],
             "AWS access key id")

    section("aws_secret_key")
    gen_kind("aws_secret_key", 24, v_aws_secret,
             [("aws", "secret", "access", "key"), ("aws", "secret", "key")],
             [aws_pair_rev("[prod]\naws_access_key_id = {V}\naws_secret_access_key = {S}"),
              T('{\n  "AccessKeyId": "ASIA' + "Q5ZJ3KXW7M2D4F6H" + '",\n  "SecretAccessKey": "{V}",\n  "Expiration": "2024-06-01T12:00:00Z"\n}'),
              T('session = boto3.Session(\n    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],\n    aws_secret_access_key="{V}",\n)'),
              T("aws configure set aws_secret_access_key {V} --profile ci"),
              T("Credentials:\n  AccessKeyId: !Ref DeployUserKey\n  SecretAccessKey: {V}"),
              aws_pair_rev("# ~/.s3cfg\n[default]\naccess_key = {V}\nsecret_key = {S}\nuse_https = True"),
              T("AWS_SECRET_KEY={V}")],
             "AWS secret access key assigned to an AWS secret name")
    # the ASIA literal above is itself an access key: relabel that record
    for r in RECORDS:
        if "ASIAQ5ZJ3KXW7M2D4F6H" in r["text"]:
            ln = line_of(r["text"], "ASIAQ5ZJ3KXW7M2D4F6H")
            r["labels"] = sorted(r["labels"] + [{"line": ln, "kind": "aws_access_key"}], key=lambda d: (d["line"], d["kind"]))

    section("gcp_api_key")
    gen_kind("gcp_api_key", 24, v_gcp,
             [("google", "api", "key"), ("gcp", "api", "key"), ("maps", "api", "key"), ("api", "key"), ("gemini", "api", "key"), ("youtube", "api", "key")],
             [T('const firebaseConfig = {\n  apiKey: "{V}",\n  authDomain: "acme-shop.firebaseapp.com",\n  projectId: "acme-shop",\n  storageBucket: "acme-shop.appspot.com",\n};'),
              T('curl "https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={V}"'),
              T('<script src="https://maps.googleapis.com/maps/api/js?key={V}&callback=initMap" async></script>'),
              T('import google.generativeai as genai\n\ngenai.configure(api_key="{V}")\nmodel = genai.GenerativeModel("gemini-1.5-flash")'),
              T('<resources>\n    <string name="google_api_key" translatable="false">{V}</string>\n</resources>'),
              T('youtube = build("youtube", "v3", developerKey="{V}")'),
              T("GET /maps/api/place/nearbysearch/json?location=52.52,13.40&radius=500&key={V} HTTP/1.1")],
             "Google API key (AIza...)")

    section("azure_storage_key")
    gen_kind("azure_storage_key", 22, v_azure_conn,
             [("azure", "storage", "connection", "string"), ("storage", "connection", "string"), ("connection", "string"), ("azure", "blob", "conn")],
             [T('{\n  "ConnectionStrings": {\n    "Storage": "{V}"\n  },\n  "Logging": { "LogLevel": { "Default": "Warning" } }\n}'),
              T('{\n  "IsEncrypted": false,\n  "Values": {\n    "AzureWebJobsStorage": "{V}",\n    "FUNCTIONS_WORKER_RUNTIME": "python"\n  }\n}'),
              T('from azure.storage.blob import BlobServiceClient\n\nsvc = BlobServiceClient.from_connection_string("{V}")'),
              T('az storage blob upload --connection-string "{V}" -c backups -f db.bak -n db.bak'),
              T('<add key="StorageConnectionString" value="{V}" />')],
             "Azure storage connection string with AccountKey")

    section("github_token")
    gen_kind("github_token", 26, v_github,
             [("github", "token"), ("gh", "token"), ("github", "pat"), ("personal", "access", "token"), ("token",), ("access", "token")],
             [T("git clone https://{V}@github.com/acme/infra.git"),
              T('curl -H "Authorization: token {V}" https://api.github.com/user/repos'),
              T('curl -sSL -H "Authorization: Bearer {V}" -H "Accept: application/vnd.github+json" https://api.github.com/repos/acme/api/releases'),
              T('from github import Github\n\ng = Github("{V}")\nrepo = g.get_repo("acme/api")'),
              T("https://octo-deploy:{V}@github.com"),
              T("      - uses: actions/checkout@v4\n        with:\n          repository: acme/private-config\n          token: {V}"),
              T("//npm.pkg.github.com/:_authToken={V}\n@acme:registry=https://npm.pkg.github.com"),
              T("git remote set-url origin https://x-access-token:{V}@github.com/acme/api.git")],
             "GitHub token (URL forms labelled github_token, the most specific kind)")

    section("gitlab_token")
    gen_kind("gitlab_token", 22, v_gitlab,
             [("gitlab", "token"), ("gl", "token"), ("private", "token"), ("gitlab", "private", "token")],
             [T('curl --header "PRIVATE-TOKEN: {V}" "https://gitlab.com/api/v4/projects?membership=true"'),
              T('import gitlab\n\ngl = gitlab.Gitlab("https://gitlab.com", private_token="{V}")\ngl.auth()'),
              T("git clone https://oauth2:{V}@gitlab.com/acme/backend.git"),
              T("variables:\n  GITLAB_TOKEN: {V}\n  DOCKER_DRIVER: overlay2"),
              T('provider "gitlab" {\n  token = "{V}"\n}')],
             "GitLab personal access token")

    section("slack_token")
    gen_kind("slack_token", 22, v_slack_token,
             [("slack", "bot", "token"), ("slack", "token"), ("slack", "user", "token"), ("bot", "token"), ("slack", "api", "token")],
             [T('from slack_sdk import WebClient\n\nclient = WebClient(token="{V}")\nclient.chat_postMessage(channel="#deploys", text="done")'),
              T('curl -X POST -H "Authorization: Bearer {V}" -H "Content-type: application/json" https://slack.com/api/chat.postMessage'),
              T('app = App(\n    token="{V}",\n    signing_secret=os.environ["SLACK_SIGNING_SECRET"],\n)'),
              T("slack:\n  bot_token: {V}\n  channel: alerts")],
             "Slack API token")

    section("slack_webhook")
    gen_kind("slack_webhook", 22, v_slack_webhook,
             [("slack", "webhook", "url"), ("webhook", "url"), ("slack", "webhook"), ("slack", "hook")],
             [T('requests.post(\n    "{V}",\n    json={"text": "Nightly build finished"},\n    timeout=5,\n)'),
              T("curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"Deploy done\"}' {V}"),
              T("receivers:\n  - name: team-alerts\n    slack_configs:\n      - api_url: '{V}'\n        channel: '#alerts'\n        send_resolved: true"),
              T('{\n  "notifications": {\n    "webhook_url": "{V}"\n  }\n}')],
             "Slack incoming webhook URL")

    section("telegram_bot_token")
    gen_kind("telegram_bot_token", 22, v_telegram,
             [("telegram", "bot", "token"), ("bot", "token"), ("tg", "token"), ("telegram", "token")],
             [T('import telebot\n\nbot = telebot.TeleBot("{V}")'),
              T('updater = Updater("{V}", use_context=True)\ndispatcher = updater.dispatcher'),
              T('curl -s "https://api.telegram.org/bot{V}/sendMessage?chat_id=-1001234567890&text=backup%20ok"'),
              T('application = ApplicationBuilder().token("{V}").build()'),
              T("2024-04-18 07:55:10 ERROR telegram.ext: Conflict for bot {V}: terminated by other getUpdates request")],
             "Telegram bot token")

    section("stripe_key")
    gen_kind("stripe_key", 22, v_stripe,
             [("stripe", "secret", "key"), ("stripe", "api", "key"), ("stripe", "key"), ("secret", "key"), ("stripe", "restricted", "key")],
             [T('import stripe\n\nstripe.api_key = "{V}"\nstripe.Charge.list(limit=3)'),
              T("curl https://api.stripe.com/v1/charges \\\n  -u {V}: \\\n  -d amount=2000 \\\n  -d currency=usd"),
              T("const stripe = require('stripe')('{V}');"),
              T("\\Stripe\\Stripe::setApiKey('{V}');")],
             "Stripe secret / restricted key")

    section("sendgrid_key")
    gen_kind("sendgrid_key", 22, v_sendgrid,
             [("sendgrid", "api", "key"), ("sendgrid", "key"), ("sg", "api", "key")],
             [T('from sendgrid import SendGridAPIClient\n\nsg = SendGridAPIClient("{V}")'),
              T('curl --request POST --url https://api.sendgrid.com/v3/mail/send --header "Authorization: Bearer {V}"'),
              T('EMAIL_HOST = "smtp.sendgrid.net"\nEMAIL_HOST_USER = "apikey"\nEMAIL_HOST_PASSWORD = "{V}"\nEMAIL_PORT = 587'),
              T("[smtp.sendgrid.net]:587 apikey:{V}")],
             "SendGrid API key (most specific even under a password name)")

    section("npm_token")
    gen_kind("npm_token", 22, v_npm,
             [("npm", "token"), ("node", "auth", "token"), ("npm", "auth", "token")],
             [T("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={V}"),
              T("npm config set //registry.npmjs.org/:_authToken {V}"),
              T('npmRegistryServer: "https://registry.npmjs.org"\nnpmAuthToken: "{V}"'),
              T("      - run: npm publish --access public\n        env:\n          NODE_AUTH_TOKEN: {V}")],
             "npm access token")

    section("pypi_token")
    gen_kind("pypi_token", 22, v_pypi,
             [("pypi", "token"), ("pypi", "api", "token"), ("twine", "password"), ("uv", "publish", "token")],
             [T("[distutils]\nindex-servers = pypi\n\n[pypi]\n  username = __token__\n  password = {V}"),
              T("twine upload -u __token__ -p {V} dist/*"),
              T("poetry config pypi-token.pypi {V}"),
              T("uv publish --token {V}"),
              T("      - uses: pypa/gh-action-pypi-publish@release/v1\n        with:\n          password: {V}")],
             "PyPI API token (most specific even under a password name)")

    section("openai_key")
    gen_kind("openai_key", 24, v_openai,
             [("openai", "api", "key"), ("openai", "key"), ("api", "key"), ("llm", "api", "key")],
             [T('from openai import OpenAI\n\nclient = OpenAI(api_key="{V}")'),
              T('import openai\nopenai.api_key = "{V}"'),
              T('curl https://api.openai.com/v1/chat/completions \\\n  -H "Content-Type: application/json" \\\n  -H "Authorization: Bearer {V}" \\\n  -d \'{"model": "gpt-4o-mini", "messages": []}\''),
              T('llm = ChatOpenAI(model="gpt-4o", temperature=0, openai_api_key="{V}")'),
              T('   "source": [\n    "%env OPENAI_API_KEY={V}"\n   ]')],
             "OpenAI API key")

    section("anthropic_key")
    gen_kind("anthropic_key", 22, v_anthropic,
             [("anthropic", "api", "key"), ("claude", "api", "key"), ("anthropic", "key")],
             [T('import anthropic\n\nclient = anthropic.Anthropic(api_key="{V}")'),
              T('curl https://api.anthropic.com/v1/messages \\\n  -H "x-api-key: {V}" \\\n  -H "anthropic-version: 2023-06-01"'),
              T('llm = ChatAnthropic(model="claude-3-5-sonnet-latest", anthropic_api_key="{V}")')],
             "Anthropic API key")

    section("huggingface_token")
    gen_kind("huggingface_token", 22, v_hf,
             [("hf", "token"), ("huggingface", "token"), ("hugging", "face", "hub", "token"), ("hf", "api", "token")],
             [T('from huggingface_hub import login\n\nlogin(token="{V}")'),
              T("huggingface-cli login --token {V}"),
              T('model = AutoModelForCausalLM.from_pretrained(\n    "meta-llama/Llama-2-7b-hf",\n    token="{V}",\n)'),
              T('pipe = pipeline("text-generation", model="mistralai/Mistral-7B-v0.1", use_auth_token="{V}")'),
              T("git clone https://ml-bot:{V}@huggingface.co/acme/private-model"),
              T('curl -H "Authorization: Bearer {V}" https://huggingface.co/api/whoami-v2')],
             "Hugging Face user access token")

    section("private_key")
    pk_templates = []

    def pk_raw(kind):
        return "\n".join(pem(kind, R.randint(5, 9)))
    pk_templates.append(("raw PEM file", lambda k: pk_raw(k)))
    pk_templates.append(("Python triple-quoted, BEGIN on assignment line", lambda k: 'PRIVATE_KEY = """' + "\n".join(pem(k, R.randint(4, 7))) + '"""'))
    pk_templates.append(("Python triple-quoted, BEGIN on next line", lambda k: 'signing_key = """\n' + "\n".join(pem(k, R.randint(4, 6))) + '\n"""\nsigner = load_key(signing_key)'))

    def sa_json(k):
        body = "\\n".join(pem("PRIVATE KEY", R.randint(12, 26))) + "\\n"
        return ('{\n  "type": "service_account",\n  "project_id": "acme-analytics-%d",\n  "private_key": "%s",\n  "token_uri": "https://oauth2.googleapis.com/token"\n}' % (R.randint(100000, 999999), body))
    pk_templates.append(("GCP service-account JSON, one line with \\n escapes", sa_json))

    def yaml_block(k):
        lines = pem(k, R.randint(4, 7))
        return "deploy:\n  ssh_private_key: |\n" + "\n".join("    " + l if l else "" for l in lines)
    pk_templates.append(("YAML block scalar", yaml_block))

    def env_escaped(k):
        return 'JWT_PRIVATE_KEY="' + "\\n".join(pem(k, R.randint(6, 12))) + '"'
    pk_templates.append((".env with \\n escapes", env_escaped))

    def md_fence(k):
        return "Use this key for the staging box:\n\n```\n" + "\n".join(pem(k, R.randint(3, 5))) + "\n```"
    pk_templates.append(("Markdown fence", md_fence))

    def shell_heredoc(k):
        return "cat > ~/.ssh/id_deploy <<'EOF'\n" + "\n".join(pem(k, R.randint(3, 6))) + "\nEOF\nchmod 600 ~/.ssh/id_deploy"
    pk_templates.append(("shell heredoc", shell_heredoc))
    kinds_cycle = spread(PEM_KINDS, 30)
    for i, (ctx, fn) in enumerate(spread(pk_templates, 30)):
        k = kinds_cycle[i]
        if ctx.startswith("GCP"):
            k = "PRIVATE KEY"
        if ctx == "YAML block scalar" and k == "PGP PRIVATE KEY BLOCK":
            k = "OPENSSH PRIVATE KEY"
        text = fn(k)
        if len(text.split("\n")) > 12:
            continue
        add_pos("private_key", text, [("-----BEGIN", "private_key")], "%s %s (body truncated)" % (k, ctx))

    section("jwt")
    gen_kind("jwt", 24, v_jwt,
             [("jwt", "token"), ("id", "token"), ("jwt",), ("session", "token")],
             [T('headers = {"Authorization": "Bearer {V}", "Accept": "application/json"}'),
              T('curl -H "Authorization: Bearer {V}" https://api.acme-corp.io/v1/me'),
              T('{"access_token": "{V}", "token_type": "Bearer", "expires_in": 3600}'),
              T("HTTP/1.1 200 OK\nContent-Type: text/html\nSet-Cookie: session={V}; Path=/; HttpOnly; Secure"),
              T("localStorage.setItem('authToken', '{V}');"),
              T('{\n  "key": "authToken",\n  "value": "{V}",\n  "enabled": true\n}'),
              T('def test_decode():\n    token = "{V}"\n    claims = jwt.decode(token, options={"verify_signature": False})'),
              T("192.168.4.17 - - [11/Mar/2024:10:02:44 +0000] \"GET /api/orders?access_token={V} HTTP/1.1\" 200 512")],
             "JWT (base64url JSON header/payload)")

    def url_names(val):
        scheme = val.split("://", 1)[0]
        if scheme.startswith(("postgres", "mysql")):
            return [("database", "url"), ("db", "url"), ("sqlalchemy", "database", "uri"), ("dsn",)]
        if scheme == "redis":
            return [("redis", "url"), ("cache", "url"), ("celery", "result", "backend")]
        if scheme.startswith("amqp"):
            return [("amqp", "url"), ("broker", "url"), ("celery", "broker", "url")]
        if scheme.startswith("mongodb"):
            return [("mongo", "uri"), ("mongodb", "url"), ("database", "url")]
        if scheme == "ftp":
            return [("ftp", "url"), ("export", "source")]
        if "proxy" in val:
            return [("https", "proxy"), ("http", "proxy")]
        return [("pip", "index", "url"), ("repo", "url"), ("remote", "url")]

    section("url_credentials")
    gen_kind("url_credentials", 44, v_url,
             url_names,
             [UT(("postgres", "mysql"), 'engine = create_engine("{V}", pool_pre_ping=True)'),
              UT(("amqp", "redis"), 'celery_app = Celery("tasks", broker="{V}")'),
              UT(("mongodb",), 'client = MongoClient("{V}")'),
              UT(("postgres", "mysql"), "[alembic]\nscript_location = migrations\nsqlalchemy.url = {V}"),
              UT(("http://",), 'proxies = {"https": "{V}"}'),
              T("2024-02-11 03:00:01 INFO worker: connecting to {V}"),
              UT(("ftp",), "wget -q '{V}' -O /tmp/payload"),
              UT(("postgres", "mysql", "mongodb"), "services:\n  web:\n    build: .\n    environment:\n      DATABASE_URL: \"{V}\""),
              UT(("https://",), "pip install --extra-index-url '{V}' acme-utils==2.3.1"),
              T('{\n  "datasource": {\n    "url": "{V}",\n    "pool": 10\n  }\n}')],
             "URL with embedded user:password", assign_ok=True)
    # url_credentials needles: the password-bearing URL; v_url returns (url, pw) -> needle is the pw

    section("password")
    gen_kind("password", 44, v_password,
             [("password",), ("passwd",), ("db", "pwd"), ("db", "password"), ("admin", "password"), ("postgres", "password"),
              ("mysql", "root", "password"), ("smtp", "password"), ("redis", "password"), ("keystore", "password"),
              ("email", "host", "password"), ("db", "pass")],
             [T('conn = psycopg2.connect(\n    host="db.internal",\n    user="app",\n    password="{V}",\n    dbname="orders",\n)'),
              T('db = mysql.connector.connect(host="10.0.0.7", user="root", passwd="{V}")'),
              T("mysqldump --user=backup --password='{V}' --single-transaction shop > shop.sql"),
              T("docker run -d -e 'POSTGRES_PASSWORD={V}' -p 5432:5432 postgres:16"),
              T("spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.username=app\nspring.datasource.password={V}"),
              T("<servers>\n  <server>\n    <id>nexus-releases</id>\n    <username>deploy</username>\n    <password>{V}</password>\n  </server>\n</servers>"),
              T("psql \"host=db.internal port=5432 user=report password='{V}' dbname=analytics\""),
              T('all:\n  vars:\n    ansible_user: ops\n    ansible_become_pass: "{V}"'),
              T('resp = session.post(LOGIN_URL, data={"username": "ops", "password": "{V}"})'),
              T("DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n        'NAME': 'shop',\n        'USER': 'shop',\n        'PASSWORD': '{V}',\n    }\n}"),
              T("rabbitmqadmin --host=mq.internal --username=admin --password='{V}' list queues"),
              T('influx setup --username admin --password "{V}" --org acme --bucket metrics --force'),
              T('{\n  "username": "svc-backup",\n  "password": "{V}"\n}'),
              T("smtp:\n  host: smtp.mailgun.org\n  port: 587\n  user: postmaster\n  password: '{V}'")],
             "string literal assigned to a password-like name")

    section("generic_secret")
    gen_kind("generic_secret", 44, v_generic,
             [("secret",), ("secret", "key"), ("api", "key"), ("apikey",), ("access", "token"), ("auth", "token"),
              ("client", "secret"), ("token",), ("private", "key"), ("app", "secret"), ("signing", "secret"),
              ("webhook", "secret"), ("jwt", "secret"), ("session", "secret"), ("encryption", "key"), ("api", "secret")],
             [T('headers = {"Authorization": "Bearer {V}"}'),
              T('curl -sS -H "Authorization: Bearer {V}" https://api.internal.acme-corp.io/v2/reports'),
              T("GET /v1/orders HTTP/1.1\nHost: api.acme-corp.io\nAuthorization: Bearer {V}\nAccept: application/json"),
              T('curl -H "X-API-Key: {V}" https://api.northwindtraders.com/v3/products'),
              T("SECRET_KEY = '{V}'\n\nDEBUG = False\nALLOWED_HOSTS = ['shop.acme-corp.io']"),
              T('app = Flask(__name__)\napp.secret_key = "{V}"'),
              lambda v: 'CLIENT_ID = "%s"\nCLIENT_SECRET = "%s"\nREDIRECT_URI = "https://app.acme-corp.io/oauth/callback"' % (uuid4(), v),
              T("github:\n  webhook_secret: '{V}'\n  app_id: 318822"),
              T('private_key = "{V}"\naccount = Account.from_key(private_key)'),
              T('const apiKey = "{V}";\nfetch(`${BASE}/search?q=${q}`, { headers: { "x-api-key": apiKey } });'),
              T('{\n  "auth_token": "{V}",\n  "refresh_interval": 300\n}')],
             "random-looking secret under a secret-ish name / bearer header")

    section("email")
    email_tpls = [
        lambda v, n: '[project]\nname = "tidy-ledger"\nauthors = [\n  {name = "%s", email = "%s"},\n]' % (n, v),
        lambda v, n: 'setup(\n    name="tidy-ledger",\n    version="0.4.2",\n    author="%s",\n    author_email="%s",\n)' % (n, v),
        lambda v, n: "commit %s\nAuthor: %s <%s>\nDate:   Tue Mar 12 14:03:55 2024 +0100\n\n    Fix retry logic in uploader" % (rs(HEX, 40), n, v),
        lambda v, n: "Add pagination to export endpoint\n\nSigned-off-by: %s <%s>" % (n, v),
        lambda v, n: '__author__ = "%s"\n__email__ = "%s"\n__version__ = "1.3.0"' % (n, v),
        lambda v, n: "## Support\n\nFor questions contact %s (%s)." % (n, v),
        lambda v, n: "id,name,email,signup_date\n1042,%s,%s,2023-11-02" % (n, v),
        lambda v, n: '{"id": 1042, "name": "%s", "email": "%s", "plan": "pro"}' % (n, v),
        lambda v, n: "maintainers:\n  - name: %s\n    email: %s" % (n, v),
        lambda v, n: "2024-02-19 08:14:02,113 INFO notifications: password reset link sent to %s" % v,
        lambda v, n: "BEGIN:VCARD\nVERSION:3.0\nFN:%s\nEMAIL;TYPE=work:%s\nEND:VCARD" % (n, v),
        lambda v, n: '<p>Questions? <a href="mailto:%s">%s</a></p>' % (v, n),
        lambda v, n: 'FROM node:20-alpine\nLABEL maintainer="%s"\nWORKDIR /srv' % v,
        lambda v, n: "Source: tidy-ledger\nSection: python\nPriority: optional\nMaintainer: %s <%s>" % (n, v),
        lambda v, n: 'user = User.objects.create(username="%s", email="%s")' % (n.split()[0].lower(), v),
        lambda v, n: "# Owner: %s (data platform team)\ndef rebuild_index():" % v,
        lambda v, n: "/billing/  %s\n/docs/     @acme/docs-team" % v,
        lambda v, n: "[user]\n\tname = %s\n\temail = %s" % (n, v),
        lambda v, n: "   \"source\": [\n    \"notify(\\\"%s\\\", report)\"\n   ]" % v,
        lambda v, n: "Hi team,\n\nplease cc %s on the incident report.\n\nThanks" % v,
    ]
    for fn in spread(email_tpls, 44):
        first, last = person()
        v = v_email(first, last)
        text = fn(v, first + " " + last)
        add_pos("email", text, [(v, "email")], "personal/work e-mail address")
    # a couple of headers with two addresses on different lines
    for _ in range(2):
        a, b = v_email(), v_email()
        while b == a:
            b = v_email()
        add_pos("email", "From: %s\nTo: %s\nSubject: Q3 invoices" % (a, b), [(a, "email"), (b, "email")], "mail headers, two addresses")

    section("phone")
    phone_tpls = [
        lambda v, n, e: "BEGIN:VCARD\nVERSION:3.0\nFN:%s\nTEL;TYPE=cell:%s\nEND:VCARD" % (n, v),
        lambda v, n, e: '{"name": "%s", "phone": "%s", "active": true}' % (n, v),
        lambda v, n, e: 'contact = {"name": "%s", "phone": "%s"}' % (n, v),
        lambda v, n, e: "# On-call escalation: %s, %s" % (n, v),
        lambda v, n, e: 'support:\n  phone: "%s"\n  hours: "9-17 CET"' % v,
        lambda v, n, e: "**Phone:** %s  \n**Office:** Building 4, room 210" % v,
        lambda v, n, e: "--\n%s\nSenior Engineer, Globex\nTel: %s" % (n, v),
        lambda v, n, e: "2024-04-01 10:22:01 INFO sms: verification code sent to %s" % v,
        lambda v, n, e: "| %s | Support lead | %s |" % (n, v),
        lambda v, n, e: "INSERT INTO customers (name, phone) VALUES ('%s', '%s');" % (n, v),
        lambda v, n, e: '<phone type="mobile">%s</phone>' % v,
        lambda v, n, e: "Call me at %s if the deploy fails tonight." % v,
        lambda v, n, e: 'customer:\n  name: %s\n  mobile: "%s"' % (n, v),
        lambda v, n, e: '   "source": [\n    "# escalate to %s\\n",\n    "page(team=\\"sre\\")"\n   ]' % v,
    ]
    for fn in spread(phone_tpls, 40):
        first, last = person()
        v = v_phone()
        add_pos("phone", fn(v, first + " " + last, None), [(v, "phone")], "phone number written as a phone number")
    for _ in range(4):  # e-mail and phone on the same line
        first, last = person()
        v, e = v_phone(), v_email(first, last)
        add_pos("phone", "name,email,phone\n%s %s,%s,%s" % (first, last, e, v), [(v, "phone"), (e, "email")], "CSV row with e-mail and phone on one line")


def uuid4():
    b = bytearray(rbytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


# --------------------------------------------------------------------------
# negatives
# --------------------------------------------------------------------------
SECRET_NAMES = [("password",), ("db", "password"), ("api", "key"), ("secret", "key"), ("access", "token"), ("auth", "token"),
                ("client", "secret"), ("token",), ("secret",), ("github", "token"), ("openai", "api", "key"),
                ("aws", "secret", "access", "key"), ("stripe", "secret", "key"), ("slack", "bot", "token"), ("hf", "token")]


def negatives():
    section("placeholder")
    ph_values = ["", "****", "********", "xxxxxxxx", "XXXXXXXXXXXXXXXXXXXX", "YOUR_API_KEY", "your-token-here",
                 "<your-secret>", "<PASSWORD>", "${SECRET}", "{{ secret }}", "%s", "%(password)s", "changeme",
                 "CHANGEME", "dummy", "dummy-token-for-tests", "fake_secret_for_unit_tests", "sample-key",
                 "example", "EXAMPLE_KEY_123", "redacted", "[REDACTED]", "placeholder", "replace-with-your-key",
                 "<changeme>", "sk-your-key-here", "ghp_" + "x" * 36, "hf_" + "x" * 34, "sk_live_" + "x" * 24,
                 "xoxb-your-bot-token", "glpat-xxxxxxxxxxxxxxxxxxxx", "AIzaSy-your-key", "npm_" + "X" * 36,
                 "{{ vault_db_password }}", "${{ env.TOKEN }}", "0000000000000000000000000000", "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                 "SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "pypi-AgEIcHlwaS5vcmc<your-token>"]
    i = 0
    for val in ph_values:
        words = R.choice(SECRET_NAMES)
        text, ctx = assign_text(words, val) if SAFE_RE.match(val or "x") else assign_quoted(words, val)
        add_neg("placeholder", text, "placeholder value %r (%s)" % (val, ctx))
        i += 1
    fixed = [
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS documented example keys"),
        ('s3 = boto3.client("s3", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",\n                  aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")', "AWS documented example keys"),
        ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nexport AWS_DEFAULT_REGION=us-west-2", "AWS documented example keys"),
        ('password = "password"', "value equals the name"),
        ("passwd = 'passwd'", "value equals the name"),
        ('PASSWORD="PASSWORD"', "value equals the name"),
        ('pwd = "pwd"', "value equals the name"),
        ('db_password: db_password', "value equals the name"),
        ('password = "pass"', "password shorter than 6"),
        ("DB_PASSWORD=1234", "password shorter than 6"),
        ('conn = connect(user="root", password="root")', "password shorter than 6"),
        ("mysql:\n  user: admin\n  password: admin", "password shorter than 6"),
        ('SECRET_KEY = "secret"', "not random, too short for generic_secret"),
        ('password = ""', "empty"),
        ("PASSWORD=", "empty"),
        ('token = ""', "empty"),
        ("api_key: ''", "empty"),
        ("slack_webhook: https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX", "xxx placeholder webhook"),
        ("-----BEGIN RSA PRIVATE KEY-----\n<paste your key here>\n-----END RSA PRIVATE KEY-----", "PEM with placeholder body"),
        ('DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app', "${ in password"),
        ('url = "postgresql://%s:%s@%s/%s" % (user, password, host, name)', "%s format placeholders"),
        ('DSN = "mysql://{user}:{password}@{host}/{db}"', "format-string fields; not a real password"),
        ('headers = {"Authorization": "Bearer <token>"}', "<token> placeholder"),
        ('curl -H "Authorization: Bearer $TOKEN" https://api.acme-corp.io/v1/me', "shell variable"),
        ('curl -H "Authorization: Bearer YOUR_ACCESS_TOKEN" https://api.github.com/user', "your placeholder"),
        ('OPENAI_API_KEY="sk-..."', "elided key"),
        ("# Set GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX in your shell", "xxx placeholder"),
        ("stripe.api_key = 'sk_test_your_key_here'", "your placeholder"),
        ('ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', "xxx placeholder"),
        ('  password: "{{ .Values.db.password }}"', "helm template"),
        ("      POSTGRES_PASSWORD: '**********'", "masked"),
        ('password_hash = "REDACTED"', "redacted"),
        ("2024-05-01 12:00:00 INFO login ok user=alice password=******** ip=10.0.0.4", "masked in log"),
        ('client = OpenAI(api_key="<OPENAI_API_KEY>")', "<> placeholder"),
        ("HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxx placeholder"),
        ('"apiKey": "YOUR_FIREBASE_API_KEY",', "your placeholder"),
        ("token: changeme", "changeme"),
        ('auth_token = "dummy"', "dummy"),
        ('SECRET_KEY = "fake-secret-key-for-tests-only-1234567890"', "fake"),
        ('API_KEY = "sample_api_key_0123456789abcdef"', "sample"),
        ('api_key = "example-key-0c8f3b9d2a61e7f4"', "example"),
        ('webhook_secret = "placeholder-webhook-secret-1f9e"', "placeholder"),
        ("password = 'x'", "one char"),
        ('token = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"', "all one character"),
    ]
    for text, why in fixed:
        add_neg("placeholder", text, "placeholder: " + why)

    section("env_lookup")
    env_tpls = [
        'aws_secret_access_key = os.environ["AWS_SECRET_ACCESS_KEY"]',
        'token = os.getenv("GITHUB_TOKEN")',
        'api_key = os.environ.get("OPENAI_API_KEY", "")',
        "SECRET_KEY = settings.SECRET_KEY",
        'password = config["db"]["password"]',
        'api_key = cfg.get("api", "key")',
        "    env:\n      NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}",
        "      - run: twine upload dist/*\n        env:\n          TWINE_PASSWORD: ${{ secrets.PYPI_API_TOKEN }}",
        'password = getpass.getpass("Password: ")',
        'password = keyring.get_password("acme-api", username)',
        "password = None",
        'token = request.headers["Authorization"]',
        'token = request.headers.get("Authorization", "").removeprefix("Bearer ")',
        "api_key = args.api_key",
        'conn = psycopg2.connect(host=HOST, user=USER, password=os.environ["PGPASSWORD"])',
        "export AWS_SECRET_ACCESS_KEY=$(vault kv get -field=secret aws/prod)",
        'client_secret = sm.get_secret_value(SecretId="prod/oauth")["SecretString"]',
        'ARG NPM_TOKEN\nRUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci',
        "        env:\n          - name: DB_PASSWORD\n            valueFrom:\n              secretKeyRef:\n                name: db-credentials\n                key: password",
        "    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n      POSTGRES_USER: app",
        "password = self.password",
        'token = auth_token or os.environ.get("HF_TOKEN")',
        'psql --host db.internal --username app --password "$DB_PASSWORD"',
        "API_KEY=$API_KEY",
        'api_key = Variable.get("partner_api_key")',
        'db_password = dbutils.secrets.get(scope="prod", key="db-password")',
        "from google.colab import userdata\nHF_TOKEN = userdata.get('HF_TOKEN')",
        "stripe.api_key = os.environ['STRIPE_SECRET_KEY']",
        'openai.api_key = os.getenv("OPENAI_API_KEY")',
        "client = OpenAI()  # reads OPENAI_API_KEY from the environment",
        "SLACK_BOT_TOKEN = env.str('SLACK_BOT_TOKEN')",
        'secret = Path("/run/secrets/app_secret").read_text().strip()',
        "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  ...",
        "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}",
        'login(token=os.environ["HF_TOKEN"])',
        "github_token = context.secrets.get('github_token')",
        'access_token = resp.json()["access_token"]',
        "auth = (username, password)",
        "password = input('DB password: ')",
        "token = credentials.token",
        'secret_key = app.config["SECRET_KEY"]',
        'DATABASE_URL = os.environ["DATABASE_URL"]',
        "redis_url = f\"redis://:{os.environ['REDIS_PASSWORD']}@cache:6379/0\"",
        "export GITHUB_TOKEN=\"$(gh auth token)\"",
        "api_key = st.secrets[\"api_key\"]",
        "creds = service_account.Credentials.from_service_account_file(KEY_PATH)",
        "password=${MYSQL_PASSWORD:-}",
        "token = await get_token(client_id, client_secret)",
        "self.api_key = api_key or os.environ.get(\"ANTHROPIC_API_KEY\")",
        "if not password:\n    password = getpass.getpass()",
    ]
    for t in spread(env_tpls, 60):
        add_neg("env_lookup", t, "value comes from an environment / config lookup")

    section("hash_digest")
    def h(n):
        return rs(HEX, n)
    hash_tpls = [
        lambda: 'sha256 = "%s"' % h(64),
        lambda: 'EXPECTED_SHA256 = "%s"' % h(64),
        lambda: '      "integrity": "sha512-%s",' % base64.b64encode(rbytes(64)).decode(),
        lambda: "digest: sha256:%s" % h(64),
        lambda: "    image: ghcr.io/acme/api@sha256:%s" % h(64),
        lambda: 'commit = "%s"' % h(40),
        lambda: "commit %s\nMerge: %s %s" % (h(40), h(7), h(7)),
        lambda: "etag = '\"%s\"'" % h(32),
        lambda: "checksum: md5:%s" % h(32),
        lambda: 'fingerprint = "SHA256:%s"' % b64url(rbytes(32)),
        lambda: "requests==2.31.0 \\\n    --hash=sha256:%s" % h(64),
        lambda: 'files = [\n    {file = "attrs-23.2.0-py3-none-any.whl", hash = "sha256:%s"},\n]' % h(64),
        lambda: '[[package]]\nname = "serde"\nversion = "1.0.197"\nchecksum = "%s"' % h(64),
        lambda: "%s  apache-maven-3.9.6-bin.tar.gz" % h(128),
        lambda: 'assert hashlib.sha256(data).hexdigest() == "%s"' % h(64),
        lambda: 'model = AutoModel.from_pretrained("bert-base-uncased", revision="%s")' % h(40),
        lambda: "GIT_SHA=%s" % h(40),
        lambda: "md5sum = '%s'" % h(32),
        lambda: '{"sha1": "%s", "size": 48213}' % h(40),
        lambda: "ENV NODE_SHA256=%s" % h(64),
        lambda: "hash: %s" % h(64),
        lambda: "    rev: %s  # v0.3.4" % h(40),
        lambda: '  "ETag": "\\"%s\\""' % h(32),
        lambda: "content_hash = \"%s\"" % h(64),
        lambda: "golang.org/x/net v0.21.0 h1:%s=" % base64.b64encode(rbytes(32)).decode()[:43],
        lambda: "Fingerprint: %s" % ":".join(h(2).upper() for _ in range(20)),
        lambda: 'cache_key = "deps-%s"' % h(64),
        lambda: "Checking out %s (refs/heads/main)" % h(40),
    ]
    for fn in spread(hash_tpls, 56):
        add_neg("hash_digest", fn(), "hash / digest under a digest-like name")

    section("uuid")
    uuid_tpls = [
        'client_id = "{U}"', 'api_key = "{U}"', '"tenant_id": "{U}",', "request_id={U} status=200 duration_ms=41",
        "AZURE_CLIENT_ID={U}", "subscription_id: {U}", 'token = "{U}"', "X-Api-Key: {U}", "AUTH_TOKEN={U}",
        ' {\n   "cell_type": "markdown",\n   "id": "{U}",\n   "metadata": {},', "secret = uuid.UUID(\"{U}\")",
        "ARM_TENANT_ID: {U}", "session_id = '{U}'", 'trace = {"correlation_id": "{U}"}', 'apiKey: "{U}"',
        "INSERT INTO orders (id, status) VALUES ('{U}', 'paid');",
    ]
    for t in spread(uuid_tpls, 34):
        u = uuid4()
        if R.random() < 0.2:
            u = u.upper()
        add_neg("uuid", t.replace("{U}", u), "UUID (policy: identifier, not secret)")

    section("test_vector")
    sentences = [b"Hello, world!", b"The quick brown fox jumps over the lazy dog", b"fixture: user profile v2",
                 b'{"id": 1, "name": "widget"}', b"lorem ipsum dolor sit amet", b"GET / HTTP/1.1\r\n\r\n"]
    tv_tpls = [
        lambda: 'data = base64.b64decode("%s")' % base64.b64encode(R.choice(sentences)).decode(),
        lambda: 'key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")',
        lambda: 'KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")',
        lambda: 'TEST_KEY = "0123456789abcdef" * 2',
        lambda: 'key = b"\\x00" * 32\niv = bytes(range(16))',
        lambda: '# RFC 4231 test case 1\nkey = b"\\x0b" * 20\ndata = b"Hi There"\nexpected = "%s"' % hmac.new(b"\x0b" * 20, b"Hi There", hashlib.sha256).hexdigest(),
        lambda: '# RFC 4231 test case 2\nkey = b"Jefe"\nmsg = b"what do ya want for nothing?"\nassert hmac.new(key, msg, "sha256").hexdigest() == "%s"' % hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest(),
        lambda: '@pytest.mark.parametrize("raw,encoded", [\n    (b"foo", "Zm9v"),\n    (b"foobar", "Zm9vYmFy"),\n])',
        lambda: '# FIPS-197 C.1\nkey = bytes.fromhex("000102030405060708090a0b0c0d0e0f")\npt = bytes.fromhex("00112233445566778899aabbccddeeff")\nct = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")',
        lambda: '# RFC 6070\ndk = hashlib.pbkdf2_hmac("sha1", b"password", b"salt", 1, 20)\nassert dk.hex() == "%s"' % hashlib.pbkdf2_hmac("sha1", b"password", b"salt", 1, 20).hex(),
        lambda: 'PNG_1PX = base64.b64decode(\n    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="\n)',
        lambda: 'TEST_SECRET = b"YELLOW SUBMARINE"',
        lambda: 'nonce = bytes(12)\nkey = bytes(32)\nct = ChaCha20Poly1305(key).encrypt(nonce, b"", None)',
        lambda: 'def test_roundtrip():\n    blob = base64.b64encode(b"%s")\n    assert base64.b64decode(blob) == b"%s"' % ((R.choice(sentences).decode().replace('"', "'"),) * 2),
        lambda: 'SEED = bytes.fromhex("%s")  # sequential test seed' % "".join("%02x" % (i % 256) for i in range(R.choice([16, 32]))),
        lambda: 'hmac_key = b"\\xaa" * 131  # RFC 4231 case 6',
        lambda: 'expected_md5 = hashlib.md5(b"").hexdigest()  # d41d8cd98f00b204e9800998ecf8427e',
        lambda: '    ("%s", "%s"),' % ((lambda s: (s.decode(), base64.b64encode(s).decode()))(R.choice(sentences[:5]))),
        lambda: 'secret = base64.b32encode(b"12345678901234567890")  # RFC 6238 test secret',
        lambda: 'test_key = "deadbeef" * 8',
    ]
    for fn in spread(tv_tpls, 44):
        add_neg("test_vector", fn(), "test vector / innocuous test data")

    section("nonsecret_name")
    ns = [
        'token_type = "bearer"', "max_tokens = 4096", 'tokenizer = "gpt2"',
        'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")', 'secret_name = "prod/db"',
        "PASSWORD_MIN_LENGTH = 8", 'password_field = "password"', 'api_key_header = "X-API-Key"',
        'auth_type = "oauth2"', 'AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]',
        'key = "user_id"', 'sort_key = "created_at"', 'cache_key = f"user:{user_id}:profile"', "primary_key=True",
        'user_id = Column(Integer, ForeignKey("users.id"))', 'token_url = "https://oauth2.googleapis.com/token"',
        'secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"',
        "PASSWORD_RESET_TIMEOUT = 3600",
        '"password": {"type": "string", "minLength": 12, "writeOnly": true}',
        '<input type="password" name="password" autocomplete="current-password">',
        'KEY_FILE = "/etc/ssl/private/server.key"', 'private_key_path = "~/.ssh/id_ed25519"',
        "SECRET_KEY_FALLBACKS = []", 'credentials_file = "credentials.json"', "ACCESS_TOKEN_EXPIRE_MINUTES = 30",
        '"usage": {"prompt_tokens": 1532, "completion_tokens": 211, "total_tokens": 1743}',
        "token_count = len(tokens)", 'pad_token = "<pad>"\neos_token = "</s>"\nbos_token_id = 1',
        "components:\n  securitySchemes:\n    ApiKeyAuth:\n      type: apiKey\n      in: header\n      name: X-API-Key",
        "secret = False", 'SECRET_KEY_ENV_VAR = "DJANGO_SECRET_KEY"', 'api_key_name = "OPENAI_API_KEY"',
        'GITHUB_TOKEN_SCOPES = "repo,read:org,workflow"', 'key_algorithm = "RSA_2048"', 'hash_key = "pk"',
        'PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]', '"auth": "none",',
        "token_budget = 128_000", 'keyboard_layout = "us"', 'monkey = "george"',
        "if token.type == tokenize.NAME:", "password_validators: [length, common, numeric]",
        "def check_password(self, raw_password):\n    return check_hash(raw_password, self.password_hash)",
        'parser.add_argument("--password", help="database password (prompted if omitted)")',
        'secrets_dir = "/run/secrets"', "API_KEY_LENGTH = 40", "use_auth_token=True",
        'TOKEN_PATTERN = r"ghp_[A-Za-z0-9]{36}"', 'key_id = "primary"', 'keys = sorted(d.keys())',
        "tokens = text.split()", 'passphrase_prompt = "Enter passphrase for key: "',
        "      secrets: inherit", 'auth_header_name = "Authorization"',
        "password_changed_at = models.DateTimeField(null=True)", "is_secret = field.metadata.get('secret', False)",
    ]
    for t in spread(ns, 56):
        add_neg("nonsecret_name", t, "secret-ish name holding a non-secret")

    section("near_miss")
    nm = [
        lambda: 'token = "ghp_abc123"', lambda: "# Classic tokens start with ghp_ and fine-grained ones with github_pat_",
        lambda: 'prefix = "gho_"', lambda: "key = \"AKIB%s\"" % rs(B32, 16), lambda: "bucket_label = '%s'" % ("akia" + rs(LO + "234567", 16)),
        lambda: 'AWS_ACCESS_KEY_ID = "AKIA%s"' % rs(B32, 10), lambda: 'region_group = "ASIA_PACIFIC"',
        lambda: 'key = "AIza%s"' % rs(URLSAFE, 12), lambda: 'slack_token = "xoxb-123"', lambda: 'channel_ref = "xoxz-%s-%s"' % (digits(10, 12), rs(ALNUM, 24)),
        lambda: '<div class="sk-spinner sk-spinner-pulse"></div>', lambda: ".sk-circle .sk-child { width: 100%; }",
        lambda: '<button id="sk-nav-toggle" class="sk-btn-primary">Menu</button>', lambda: "import sklearn  # pip install scikit-learn (not sk-learn)",
        lambda: 'hf_model = "distilbert-base-uncased"', lambda: 'path = hf_hub_download(repo_id="gpt2", filename="config.json")',
        lambda: 'hf_dataset = load_dataset("imdb", split="train")', lambda: "hf_api = HfApi()\nhf_api.list_models(author=\"google\")",
        lambda: 'version = "1.2.3"', lambda: 'build = "a1b2c3.d4e5f6.g7h8i9"', lambda: 'header = "eyJhbGciOiJIUzI1NiJ9"',
        lambda: 'trace_label = "%s.%s.%s"' % (rs(ALNUM, 12), rs(ALNUM, 20), rs(ALNUM, 16)),
        lambda: "-----BEGIN CERTIFICATE-----\n%s\n%s\n-----END CERTIFICATE-----" % (("MIID" + rs(B64, 60)), rs(B64, 40) + "=="),
        lambda: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE%s\n%s\n-----END PUBLIC KEY-----" % (rs(B64, 28), rs(B64, 60)[:56] + "=="),
        lambda: "-----BEGIN CERTIFICATE REQUEST-----\nMIIC%s\n-----END CERTIFICATE REQUEST-----" % rs(B64, 60),
        lambda: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s deploy@build-01" % rs(B64, 43),
        lambda: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ%s ci@runner" % rs(B64, 80),
        lambda: "git clone git@github.com:acme/infra.git", lambda: 'url = "https://github.com/acme/api/pull/%d"' % R.randint(10, 9999),
        lambda: "ssh deploy@10.0.%d.%d 'sudo systemctl restart app'" % (R.randint(0, 9), R.randint(2, 250)),
        lambda: "scp dist/app.tar.gz ops@bastion.internal:/tmp/", lambda: "git clone https://jdoe@bitbucket.org/acme/mobile.git",
        lambda: 'DATABASE_URL = "postgres://localhost/app_dev"', lambda: "REDIS_URL=redis://localhost:6379/0",
        lambda: 'MONGO_URI = "mongodb://mongo:27017/app"', lambda: "BROKER_URL=amqp://guest:guest@localhost:5672//",
        lambda: 'token = "glpat-abc"', lambda: "npm_config_cache=/tmp/.npm", lambda: 'version = os.environ["npm_package_version"]',
        lambda: 'name = "pypi-simple"', lambda: "pip install --index-url https://pypi-mirror.internal/simple/ requests",
        lambda: 'stripe.api_key = "sk_live_123"', lambda: 'publishable_key = "pk_live_%s"' % rs(ALNUM, 24),
        lambda: 'STRIPE_PUBLISHABLE_KEY = "pk_test_%s"' % rs(ALNUM, 34), lambda: 'key = "SG.abc.def"', lambda: 'ANTHROPIC_MODEL = "sk-ant-model-test"',
        lambda: 'openai_key_prefix = "sk-proj-"', lambda: 'meeting = "12:30"', lambda: "bot_id = 123456:ABC",
        lambda: "SLACK_URL = https://hooks.slack.com/services/", lambda: "webhook: https://hooks.zapier.com/hooks/catch/",
        lambda: "AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true",
        lambda: 'conn = "DefaultEndpointsProtocol=https;AccountName=acmelogs;EndpointSuffix=core.windows.net"',
        lambda: 'request_id = "%s"' % rs(ALNUM, 32), lambda: 'build_id = "%s"' % rs(ALNUM, 24), lambda: 'css_class = "c-%s"' % rs(LO + DIG, 20),
        lambda: 's3_object_key = "uploads/2024/05/%s.png"' % rs(HEX, 16), lambda: 'nonce_attr = "nonce-%s"' % rs(ALNUM, 22),
        lambda: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAA",
        lambda: 'avatar_url = "https://avatars.githubusercontent.com/u/%d?v=4"' % R.randint(10 ** 5, 10 ** 8),
        lambda: 'docker pull registry.acme-corp.io/team/api:%s' % rs(HEX, 12),
        lambda: "ghp = 42  # ground heat pump count", lambda: "AKIA_PREFIX = 'AKIA'",
        lambda: 'bearer = "Bearer"', lambda: "Authorization: Basic", lambda: "Authorization: Bearer",
        lambda: 'jwt_header = {"alg": "HS256", "typ": "JWT"}', lambda: 'ISSUER = "https://login.microsoftonline.com/common/v2.0"',
        lambda: '"repository": {"type": "git", "url": "git+https://github.com/acme/ui-kit.git"}',
        lambda: "https://user@host/path", lambda: 'sk = "sk-%s"' % R.choice(["button", "header", "footer", "grid", "card"]),
        lambda: 'telegram_chat = "@acme_release_notes"', lambda: 'XOXB_PREFIX = "xoxb-"',
        lambda: "tag = 'v2.14.0-rc.1+build.%s'" % rs(HEX, 7), lambda: "commit_short = '%s'" % rs(HEX, 7),
    ]
    for fn in spread(nm, 100):
        add_neg("near_miss", fn(), "near-miss of a secret format")

    section("pii_near_miss")
    pm = [
        lambda: 'email = "%s@example.com"' % R.choice(["jane.doe", "admin", "alice", "bob", "user"]),
        lambda: '{"email": "%s@example.org", "name": "Test User"}' % R.choice(["jdoe", "ops", "qa"]),
        lambda: "Author: A U Thor <author@example.com>", lambda: "reply_to = 'noreply@example.net'",
        lambda: 'user = User(email="alice@test")', lambda: 'ADMIN = "root@localhost"', lambda: 'to = "bounce@mail.invalid"',
        lambda: 'EMAIL = "dev@acme.test"', lambda: "@property\ndef name(self):\n    return self._name",
        lambda: "@dataclass(frozen=True)\nclass Point:\n    x: float\n    y: float", lambda: '@app.route("/login", methods=["POST"])',
        lambda: "pip install tidy-ledger@git+https://github.com/acme/tidy-ledger.git@v0.4.2",
        lambda: '"@types/node": "^20.11.5",', lambda: "import { Button } from '@acme/ui';", lambda: "Thanks @octocat for the review!",
        lambda: '__version__ = "%d.%d.%d"' % (R.randint(0, 9), R.randint(0, 30), R.randint(0, 30)),
        lambda: "released = date(2023, 10, 11)  # 2023-10-11", lambda: "2024-01-15 10:22:31,457 INFO worker started pid=%d" % R.randint(1000, 99999),
        lambda: 'start_time = "%02d:%02d:%02d"' % (R.randint(0, 23), R.randint(0, 59), R.randint(0, 59)),
        lambda: "HOST = '%d.%d.%d.%d'" % (R.choice([10, 172, 192]), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)),
        lambda: "isbn = '978-0-13-235088-4'", lambda: "ISBN 0-306-40615-2", lambda: 'ssn_mask = "123-45-6789"  # format example in docs',
        lambda: 'color = "#%s"' % rs(HEX, 6), lambda: "PORT = %d" % R.choice([5432, 6379, 8080, 8443, 27017, 9092]),
        lambda: "MAX_ID = 1234567890", lambda: "INT_MAX = 0x7fffffff", lambda: "| 100-200 | 300-400 | 500-999 |",
        lambda: "pi = 3.14159265358979", lambda: 'total = "$1,234,567.89"', lambda: "order_id = %d" % R.randint(10 ** 9, 10 ** 10 - 1),
        lambda: "created_at = %d  # unix seconds" % R.randint(1_600_000_000, 1_720_000_000), lambda: "timeout = 86400",
        lambda: 'zip_code = "%05d"' % R.randint(10000, 99999), lambda: 'EMAIL_RE = re.compile(r"[^@\\s]+@[^@\\s]+\\.[a-z]{2,}")',
        lambda: "git config user.email \"ci@example.com\"", lambda: "mailto:someone@example.com",
        lambda: "ranges = [(1000, 1999), (2000, 2999)]", lambda: "| 2019-2021 | 415 | 555 |", lambda: "lat, lon = 37.7749, -122.4194",
        lambda: 'date_str = "%02d/%02d/%d"' % (R.randint(1, 12), R.randint(1, 28), R.randint(2000, 2030)),
        lambda: "duration = '01:23:45.678'", lambda: "MAC = '00:1a:2b:3c:4d:5e'", lambda: "ipv6 = '2001:db8::8a2e:370:7334'",
        lambda: "assert parse_version('10.4.15') > parse_version('10.4.9')", lambda: "docker run -p 8080:80 nginx:1.25",
        lambda: "  - uses: actions/setup-python@v5", lambda: "npx create-react-app@5.0.1 my-app", lambda: "FROM node@sha256",
        lambda: "name: ${{ github.actor }}@users.noreply.github.com", lambda: 'sender = f"{user}@{domain}"',
        lambda: "cron: '0 3 * * 1-5'", lambda: 'window = "2024-05-01..2024-05-31"', lambda: "weights = [0.125, 0.25, 0.5]",
        lambda: "price_cents = 129900", lambda: "range(415, 555)", lambda: "%d,%d,%d" % (R.randint(100, 999), R.randint(100, 999), R.randint(1000, 9999)),
        lambda: "CHUNK = 1024 * 1024 * 16", lambda: "seq = '0123456789'", lambda: "uid=1000(ubuntu) gid=1000(ubuntu)",
        lambda: 'version: "3.9"\nservices:\n  db:\n    image: postgres:16.2\n    ports:\n      - "5432:5432"',
        lambda: "Tel: n/a", lambda: "phone = None", lambda: "phone: \"\"", lambda: "email: \"\"",
    ]
    for fn in spread(pm, 76):
        add_neg("pii_near_miss", fn(), "PII near-miss (example domain / decorator / number that is not a phone)")


def assign_quoted(words, val):
    for _ in range(100):
        ctx, tpl, quoted = R.choice(ASSIGN)
        if quoted:
            return render(tpl, words, val), ctx
    raise RuntimeError


# --------------------------------------------------------------------------
# stdlib snippets
# --------------------------------------------------------------------------
TRICKY = re.compile(r"password|passwd|token|secret|\bkey\b|auth|credential|@|http://|https://", re.I)
STRONG = re.compile(r"password|passwd|token|secret|credential|auth", re.I)
MEDIUM = re.compile(r"\bkey\b|https?://", re.I)
ATTRIB_RE = re.compile(r"author|written|copyright|contact|e-?mail:|maintainer|mailto:|contributed|credits", re.I)
NOT_EMAIL_TLDS = {"utf", "iso8859", "euc", "latin"}
REJECT = [
    re.compile(r"://[^\s/'\"@:]*:[^\s/'\"@]+@"),                   # url with password
    re.compile(r"PRIVATE KEY|eyJ[A-Za-z0-9_-]{5,}"),
    re.compile(r"\b(AKIA|ASIA|AIza|ghp_|gho_|glpat-|xox[bpars]-|sk_live|sk-|hf_[A-Za-z]{10}|npm_[A-Za-z0-9]{10}|SG\.)"),
    re.compile(r"\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b"),              # phone-ish
    re.compile(r"\+\d{1,3}[ -]\d"),
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),
]
LONGTOK = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
PW_ASSIGN = re.compile(r"""\b(\w*(?:password|passwd|pwd)\w*)['"]?\s*[:=]\s*[rbuRBU]?(['"])(.*?)\2""", re.I)
SECRET_ASSIGN = re.compile(r"""\b(\w*(?:secret|token|api_?key|auth)\w*)['"]?\s*[:=]\s*[rbuRBU]?(['"])(.*?)\2""", re.I)


def pw_policy_positive(name, val):
    if not val or len(set(val)) == 1 or has_marker(val) or val.lower() == name.lower() or len(val) < 6:
        return False
    return True


def classify_stdlib(lines):
    """Return (labels, rejected) for a window of stdlib lines."""
    labels = []
    for i, l in enumerate(lines, 1):
        for rx in REJECT:
            if rx.search(l):
                return None
        for tok in LONGTOK.findall(l):
            if mixed(tok) and any(c.isupper() for c in tok) and any(c.islower() for c in tok) and "_" not in tok:
                return None
        for m in EMAIL_RE.finditer(l):
            dom = m.group(0).split("@", 1)[1].lower()
            tld = dom.rsplit(".", 1)[1]
            if tld in NOT_EMAIL_TLDS or re.search(r"(^|\.)(example\.(com|org|net)|test|invalid|localhost|example)$", dom):
                continue
            if m.group(0).startswith(("%", "+")):
                return None
            # only attribution / contact lines count; doc examples such as
            # "one@one.org" in a doctest are ambiguous, so the window is dropped
            if not (ATTRIB_RE.search(l) or re.match(r"^\s*#\s*[\w.+-]+@[\w.-]+\s*$", l)):
                return None
            labels.append((i, "email"))
        for m in PW_ASSIGN.finditer(l):
            if pw_policy_positive(m.group(1), m.group(3)):
                labels.append((i, "password"))
        for m in SECRET_ASSIGN.finditer(l):
            v = m.group(3)
            if len(v) >= 20 and mixed(v) and not has_marker(v):
                return None
    return labels


def stdlib_section(n_neg=170, n_pos_max=20):
    section("stdlib")
    root = sysconfig.get_paths()["stdlib"]
    files = []
    for dp, dns, fns in os.walk(root):
        dns[:] = sorted(d for d in dns if d not in ("site-packages", "__pycache__", "test", "tests", "idle_test",
                                                     "config-3.11-x86_64-linux-gnu") and not d.startswith("config-"))
        for fn in sorted(fns):
            if fn.endswith(".py") and not fn.startswith("test_"):
                files.append(os.path.join(dp, fn))
    files.sort()
    cands = []
    texts = {}
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                src = fh.read()
        except (UnicodeDecodeError, OSError):
            continue
        lines = src.split("\n")
        texts[f] = lines
        for i, line in enumerate(lines):
            if TRICKY.search(line) and len(line) < 160:
                cands.append((f, i))
    order = list(range(len(cands)))
    R.shuffle(order)
    # interleave tiers: two windows around security words (password, token,
    # secret, credential, auth), one around "key"/URLs, one around a bare "@"
    def tier(j):
        line = texts[cands[j][0]][cands[j][1]]
        return 0 if STRONG.search(line) else 1 if MEDIUM.search(line) else 2
    tiers = [[j for j in order if tier(j) == t] for t in range(3)]
    order = []
    while any(tiers):
        order.extend(tiers[0][:2] + tiers[1][:1] + tiers[2][:1])
        tiers = [tiers[0][2:], tiers[1][1:], tiers[2][1:]]
    used = collections.defaultdict(list)
    per_file = collections.Counter()
    n_neg_done = n_pos_done = 0
    per_addr = collections.Counter()
    # pass 1 keeps only labelled (positive) windows, pass 2 only negatives, so
    # the rare labelled windows are not crowded out by the per-file cap
    for want_pos, idx in [(True, j) for j in order] + [(False, j) for j in order]:
        f, i = cands[idx]
        lines = texts[f]
        wr = random.Random("%d:stdlib:%d:%d" % (SEED, idx, want_pos))
        start = max(0, i - wr.randint(0, 3))
        end = min(len(lines), i + 1 + wr.randint(0, 4))
        win = [l.rstrip() for l in lines[start:end]]
        while win and not win[0].strip():
            win.pop(0)
            start += 1
        while win and not win[-1].strip():
            win.pop()
        if not win or len(win) > 12 or any(len(l) > 160 for l in win):
            continue
        text = "\n".join(win)
        if len(text.splitlines()) != len(win) or "\r" in text:
            continue
        if any(not (s >= end or e <= start) for s, e in used[f]):
            continue
        labels = classify_stdlib(win)
        if labels is None or bool(labels) != want_pos:
            continue
        rel = os.path.relpath(f, root)
        if labels:
            addrs = [m.group(0) for l in win for m in EMAIL_RE.finditer(l)]
            only_email = all(k == "email" for _, k in labels)
            if only_email and (n_pos_done >= n_pos_max or any(per_addr[a] >= 2 for a in addrs)):
                continue
            if per_file[f] >= 2:
                continue
            for a in addrs:
                per_addr[a] += 1
            kinds = sorted(set(k for _, k in labels))
            what = {"email": "author/contact e-mail address", "password": "docstring example password literal"}
            add(kinds[0], text, labels, "stdlib %s:%d: real library code; %s labelled per policy" % (
                rel, start + 1, " + ".join(what[k] for k in kinds)))
            n_pos_done += only_email
        else:
            if n_neg_done >= n_neg or per_file[f] >= 3:
                continue
            add_neg("stdlib", text, "stdlib %s:%d: real library code, tricky words but no secret/PII" % (rel, start + 1))
            n_neg_done += 1
        used[f].append((start, end))
        per_file[f] += 1
    assert n_neg_done >= n_neg, n_neg_done


# --------------------------------------------------------------------------
# self-check
# --------------------------------------------------------------------------
FORMAT_RE = {
    "aws_access_key": r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    "aws_secret_key": r"[A-Za-z0-9/+]{40}",
    "gcp_api_key": r"AIza[0-9A-Za-z_-]{35}",
    "azure_storage_key": r"AccountKey=[A-Za-z0-9+/]{86}==",
    "github_token": r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
    "gitlab_token": r"glpat-[0-9A-Za-z_-]{20}",
    "slack_token": r"xox[bpars]-[0-9A-Za-z-]{20,}",
    "slack_webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24}",
    "telegram_bot_token": r"(?<!\d)\d{8,10}:AA[0-9A-Za-z_-]{33}",
    "stripe_key": r"[sr]k_(live|test)_[0-9a-zA-Z]{24,99}",
    "sendgrid_key": r"SG\.[\w-]{22}\.[\w-]{43}",
    "npm_token": r"npm_[A-Za-z0-9]{36}",
    "pypi_token": r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,200}",
    "openai_key": r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-proj-[A-Za-z0-9_-]{40,160}",
    "anthropic_key": r"sk-ant-api03-[A-Za-z0-9_-]{93}AA",
    "huggingface_token": r"hf_[A-Za-z]{34}",
    "private_key": r"-----BEGIN (RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY",
    "jwt": r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}",
    "url_credentials": r"[a-z][a-z0-9+.-]*://[^\s:/@]*:[^\s/@]+@",
    "password": r"",
    "generic_secret": r"",
    "email": EMAIL_RE.pattern,
    "phone": r"\+?\(?\d[\d ().-]{7,}\d",
}
STRICT_NEG = ["aws_access_key", "gcp_api_key", "azure_storage_key", "github_token", "gitlab_token", "slack_webhook",
              "telegram_bot_token", "sendgrid_key", "npm_token", "pypi_token", "openai_key", "anthropic_key",
              "huggingface_token", "private_key", "jwt"]


def check(path):
    recs = [json.loads(l) for l in open(path, encoding="utf-8")]
    ids = set()
    lab = collections.Counter()
    by_prefix = collections.Counter()
    for r in recs:
        assert set(r) == {"id", "text", "labels", "note"}, r
        assert r["id"] not in ids, r["id"]
        ids.add(r["id"])
        lines = r["text"].split("\n")
        assert len(r["text"].splitlines()) == len(lines) or r["text"].endswith("\n"), r["id"]
        assert 1 <= len(lines) <= 12, (r["id"], len(lines))
        by_prefix[r["id"].rsplit("-", 1)[0]] += 1
        seen = set()
        for L in r["labels"]:
            assert 1 <= L["line"] <= len(lines), r["id"]
            assert L["kind"] in FORMAT_RE, r["id"]
            assert (L["line"], L["kind"]) not in seen, r["id"]
            seen.add((L["line"], L["kind"]))
            lab[L["kind"]] += 1
            line = lines[L["line"] - 1]
            if L["kind"] not in ("password", "generic_secret"):
                assert re.search(FORMAT_RE[L["kind"]], line), (r["id"], L, line)
        if not r["labels"]:
            for k in STRICT_NEG:
                m = re.search(FORMAT_RE[k], r["text"])
                assert (not m or has_marker(m.group(0)) or "EXAMPLE" in r["text"]
                        or (k == "private_key" and "<paste your key here>" in r["text"])), (r["id"], k, m.group(0))
    return recs, lab, by_prefix


def main():
    positives()
    negatives()
    stdlib_section()
    with open(OUT, "w", encoding="utf-8", newline="\n") as fh:
        for r in RECORDS:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    recs, lab, by_prefix = check(OUT)
    kinds = list(FORMAT_RE)
    print("records: %d (positive %d, negative %d)" % (len(recs), sum(1 for r in recs if r["labels"]),
                                                       sum(1 for r in recs if not r["labels"])))
    print("labels per kind (records with that id prefix):")
    for k in kinds:
        print("  %-20s %4d  (%d)" % (k, lab[k], by_prefix[k]))
    print("negative categories:")
    for k, v in sorted(by_prefix.items()):
        if k not in kinds:
            print("  %-20s %4d" % (k, v))


if __name__ == "__main__":
    main()
