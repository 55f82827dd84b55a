#!/usr/bin/env python3
"""Build data/safety/outofsample.jsonl: a frozen, out-of-sample evaluation set for a
secret / PII detector.

It was written from the labelling policy in data/safety/README.md alone (its kinds,
its policy for negatives and its further decisions), by an author who never saw the
detector, its tests, or the two earlier sets. See OUTOFSAMPLE.md.

Three parts:
  1. positives: synthetic values in each provider's published format, placed in
     contexts the earlier sets did not use (Ansible, Helm, PowerShell, Nix, ...);
  2. documentation example keys, near-misses, placeholders and lookups (negatives
     unless a decision in OUTOFSAMPLE.md says otherwise);
  3. real code: windows of the installed standard library and site-packages around
     string literals of five kinds, sampled with a seeded sample and NOT filtered;
     each window is labelled by the policy, the decisions written down in
     REAL_DECISIONS below.

Standard library only. Every random choice comes from random.Random instances
seeded with fixed strings, so two runs give byte-identical output on the same
installation (the real-code part depends on the installed interpreter and packages).

    cd /work/main && .venv/bin/python data/safety/make_outofsample.py
"""
import base64
import io
import json
import math
import os
import random
import re
import struct
import sys
import sysconfig
import tokenize
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "outofsample.jsonl")

KINDS = [
    "aws_access_key", "aws_secret_key", "gcp_api_key", "azure_storage_key", "github_token",
    "gitlab_token", "slack_token", "slack_webhook", "telegram_bot_token", "stripe_key",
    "sendgrid_key", "npm_token", "pypi_token", "openai_key", "anthropic_key",
    "huggingface_token", "private_key", "jwt", "url_credentials", "password",
    "generic_secret", "email", "phone",
]

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ALNUM = UPPER + LOWER + DIGITS
B64URL = ALNUM + "-_"
HEXL = "0123456789abcdef"
# words that make a value a placeholder under the policy; generated values never contain them
PLACEHOLDER_WORDS = ("example", "your", "placeholder", "changeme", "dummy", "fake", "sample",
                     "redacted", "xxx", "test")


def rs(rng, n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def clean(value):
    low = value.lower()
    return not any(w in low for w in PLACEHOLDER_WORDS)


def draw(rng, make):
    """Draw values until one contains no placeholder word (deterministic)."""
    while True:
        v = make()
        if clean(v):
            return v


def mixed(rng, n, alphabet=ALNUM):
    """Random string with at least one upper, one lower and one digit."""
    while True:
        v = rs(rng, n, alphabet)
        if re.search("[A-Z]", v) and re.search("[a-z]", v) and re.search("[0-9]", v) and clean(v):
            return v


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def rbytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


# ---------------------------------------------------------------------------
# value generators, one per published format
# ---------------------------------------------------------------------------

def v_aws_id(rng, prefix="AKIA"):
    return prefix + draw(rng, lambda: rs(rng, 16, UPPER + "234567"))


def v_aws_secret(rng):
    return mixed(rng, 40, ALNUM + "+/")


def v_gcp(rng):
    return "AIzaSy" + draw(rng, lambda: rs(rng, 33, B64URL))


def v_azure(rng):
    return draw(rng, lambda: base64.b64encode(rbytes(rng, 64)).decode())


def v_github(rng, prefix="ghp_"):
    if prefix == "github_pat_":
        return "github_pat_" + mixed(rng, 22) + "_" + mixed(rng, 59)
    return prefix + mixed(rng, 36)


def v_gitlab(rng, prefix="glpat-"):
    return prefix + mixed(rng, 20, B64URL)


def v_slack(rng, prefix="xoxb-"):
    def digits(n):
        return str(rng.randint(1, 9)) + rs(rng, n - 1, DIGITS)
    if prefix == "xoxb-":
        return "xoxb-%s-%s-%s" % (digits(rng.choice([11, 12, 13])), digits(13), mixed(rng, 24))
    if prefix == "xoxp-":
        return "xoxp-%s-%s-%s-%s" % (digits(11), digits(12), digits(13), rs(rng, 32, HEXL))
    # app-level token
    return "xapp-1-A%s-%s-%s" % (rs(rng, 10, UPPER + DIGITS), digits(13), rs(rng, 64, HEXL))


def v_slack_webhook(rng):
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (
        rs(rng, rng.choice([8, 10]), UPPER + DIGITS), rs(rng, rng.choice([8, 10]), UPPER + DIGITS),
        mixed(rng, 24))


def v_telegram(rng):
    return "%d:AA%s" % (rng.randint(10 ** 8, 7 * 10 ** 9), mixed(rng, 33, B64URL))


def v_stripe(rng, prefix="sk_live_"):
    if rng.random() < 0.5:
        return prefix + mixed(rng, 24)
    return prefix + "51" + mixed(rng, 97)


def v_sendgrid(rng):
    return "SG." + mixed(rng, 22, B64URL) + "." + mixed(rng, 43, B64URL)


def v_npm(rng):
    return "npm_" + mixed(rng, 36)


def v_pypi(rng, test=False):
    head = "pypi-AgENdGVzdC5weXBpLm9yZwIk" if test else "pypi-AgEIcHlwaS5vcmcCJ"
    return head + draw(rng, lambda: rs(rng, rng.randint(120, 160), B64URL))


def v_openai(rng, style="proj"):
    if style == "legacy":
        return "sk-" + mixed(rng, 20) + "T3BlbkFJ" + mixed(rng, 20)
    if style == "svcacct":
        return "sk-svcacct-" + mixed(rng, 74, B64URL) + "T3BlbkFJ" + mixed(rng, 74, B64URL)
    return "sk-proj-" + mixed(rng, 74, B64URL) + "T3BlbkFJ" + mixed(rng, 74, B64URL)


def v_anthropic(rng):
    return "sk-ant-api03-" + mixed(rng, 93, B64URL) + "AA"


def v_hf(rng):
    while True:
        v = "hf_" + rs(rng, 34, UPPER + LOWER)
        if clean(v) and re.search("[A-Z]", v[3:]) and re.search("[a-z]", v[3:]):
            return v


def v_jwt(rng, payload, alg="HS256"):
    header = {"alg": alg, "typ": "JWT"}
    if alg == "RS256":
        header["kid"] = rs(rng, 16, HEXL)
    enc = lambda d: b64url(json.dumps(d, separators=(",", ":")).encode())
    sig = rbytes(rng, 256 if alg == "RS256" else 32)
    return enc(header) + "." + enc(payload) + "." + b64url(sig)


def v_generic(rng, style="alnum"):
    if style == "hex32":
        return rs(rng, 32, HEXL)
    if style == "hex64":
        return rs(rng, 64, HEXL)
    if style == "hex128":
        return rs(rng, 128, HEXL)
    if style == "b64":
        return draw(rng, lambda: base64.b64encode(rbytes(rng, 32)).decode())
    if style == "discord":
        uid = str(rng.randint(10 ** 17, 10 ** 18))
        return b64url(uid.encode()) + "." + mixed(rng, 6, B64URL) + "." + mixed(rng, 38, B64URL)
    return mixed(rng, rng.choice([24, 32, 40]))


SYLL = ["ka", "ro", "mi", "tel", "ven", "dor", "sa", "lu", "qua", "pe", "zin", "bar", "nok",
        "fi", "gra", "hol", "jet", "mar", "ost", "riv", "syl", "tam", "ul", "wex"]


def v_password(rng):
    style = rng.randrange(3)
    if style == 0:
        w1 = "".join(rng.choice(SYLL) for _ in range(2)).capitalize()
        w2 = "".join(rng.choice(SYLL) for _ in range(2))
        return draw(rng, lambda: w1 + rng.choice("!*+-=?^_.~") + str(rng.randint(10, 9999)) + w2)
    if style == 1:
        return mixed(rng, rng.randint(12, 18), ALNUM + "!*+-=?^_.~")
    return draw(rng, lambda: "".join(rng.choice(SYLL) for _ in range(3)) + str(rng.randint(100, 99999)) + rng.choice("!?*#"))


def v_url_password(rng):
    return mixed(rng, rng.randint(12, 24), ALNUM + "-_.~")


FIRST = ["amara", "bjorn", "chiara", "dmitri", "elena", "farid", "greta", "hiro", "ines", "jonas",
         "kalani", "lucia", "mateo", "nadia", "oskar", "priya", "quentin", "rosa", "soren", "tamsin",
         "umar", "valentina", "wen", "ximena", "yusuf", "zofia"]
LAST = ["abara", "bergstrom", "castellano", "delacroix", "eriksen", "fontaine", "gallagher",
        "hashemi", "iwasaki", "jankowski", "kowalczyk", "lindqvist", "moreau", "nakamura",
        "okafor", "petrovic", "quiroga", "rahman", "sandoval", "takahashi", "urquhart", "vasquez",
        "whitfield", "yamamoto", "zielinski"]
DOMAINS = ["brightlane.io", "kestrel-analytics.com", "hofmann-bau.de", "northwindlabs.co.uk",
           "quantumleaf.ai", "sorrel.dev", "atelier-moreau.fr", "tidewater-logistics.com",
           "mailhaven.net", "corvid-systems.eu", "lakeshore-clinic.org", "pinecrest.school.nz"]


def v_name(rng):
    return rng.choice(FIRST).capitalize() + " " + rng.choice(LAST).capitalize()


def v_email(rng, name=None):
    if name is None:
        first, last = rng.choice(FIRST), rng.choice(LAST)
    else:
        first, last = name.lower().split()[0], name.lower().split()[-1]
    local = rng.choice([first + "." + last, first[0] + last, first + "_" + last,
                        first + str(rng.randint(1, 99)), last + "." + first[0]])
    return local + "@" + rng.choice(DOMAINS)


def v_role_email(rng, role):
    return role + "@" + rng.choice(DOMAINS)


def v_phone(rng, style=None):
    d = lambda n: rs(rng, n, DIGITS)
    area = lambda: str(rng.randint(2, 9)) + d(2)
    style = style if style is not None else rng.randrange(9)
    if style == 0:
        return "+1 (%s) 555-01%s" % (area(), d(2))
    if style == 1:
        return "(%s) %s-%s" % (area(), str(rng.randint(2, 9)) + d(2), d(4))
    if style == 2:
        return "+1-%s-%s-%s" % (area(), str(rng.randint(2, 9)) + d(2), d(4))
    if style == 3:
        return "+44 20 7946 0%s" % d(3)
    if style == 4:
        return "07700 900%s" % d(3)
    if style == 5:
        return "+49 30 %s %s" % (d(4), d(4))
    if style == 6:
        return "+33 6 %s %s %s %s" % (d(2), d(2), d(2), d(2))
    if style == 7:
        return "+61 2 5550 %s" % d(4)
    return "+91 9%s %s" % (d(4), d(5))


# --- PEM private keys: real DER / openssh-key-v1 prefixes followed by random bytes ---

PEM_PREFIX = {
    "RSA PRIVATE KEY": bytes.fromhex("308204a4020100028201010000"),
    "PRIVATE KEY": bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8308204a40201000282010100"),
    "EC PRIVATE KEY": bytes.fromhex("30770201010420"),
    "PRIVATE KEY/EC": bytes.fromhex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420"),
    "ENCRYPTED PRIVATE KEY": bytes.fromhex("3082051c304e06092a864886f70d01050d3041302906092a864886f70d01050c301c0408"),
    "DSA PRIVATE KEY": bytes.fromhex("308201bb02010002818100"),
}


def ssh_string(b):
    return struct.pack(">I", len(b)) + b


def v_pem(rng, label="RSA PRIVATE KEY", body_lines=4):
    if label == "OPENSSH PRIVATE KEY":
        pub = ssh_string(b"ssh-ed25519") + ssh_string(rbytes(rng, 32))
        raw = (b"openssh-key-v1\x00" + ssh_string(b"none") + ssh_string(b"none") + ssh_string(b"")
               + struct.pack(">I", 1) + ssh_string(pub) + rbytes(rng, 70 * body_lines))
        text = base64.b64encode(raw).decode()
        body = [text[i:i + 70] for i in range(0, 70 * body_lines, 70)]
    elif label == "PGP PRIVATE KEY BLOCK":
        raw = b"\x95\x03\xc6\x04" + rbytes(rng, 48 * body_lines)
        text = base64.b64encode(raw).decode()
        body = [""] + [text[i:i + 64] for i in range(0, 64 * body_lines, 64)] + ["=" + b64url(rbytes(rng, 3))]
    else:
        prefix = PEM_PREFIX[label]
        label = label.split("/")[0]
        raw = prefix + rbytes(rng, 48 * body_lines)
        text = base64.b64encode(raw).decode()
        body = [text[i:i + 64] for i in range(0, 64 * body_lines, 64)]
    return ["-----BEGIN %s-----" % label] + body + ["-----END %s-----" % label]


# ---------------------------------------------------------------------------
# Part 1: positives
# ---------------------------------------------------------------------------

def T(ctx, why, template, **vals):
    """A record from a template. §NAME§ is replaced by vals[NAME]; a value given as
    (value, kind) is labelled with that kind on every line that holds it (a PEM, on its
    BEGIN line). Plain strings are filler and get no label."""
    text = template
    secrets = []
    for key, val in vals.items():
        if isinstance(val, tuple):
            value, kind = val
            secrets.append((value, kind))
        else:
            value = val
        text = text.replace("§%s§" % key, value)
    assert "§" not in text, (ctx, text)
    lines = text.split("\n")
    labels = []
    for value, kind in secrets:
        first = value.split("\n")[0]
        if kind == "private_key":
            first = first[first.index("-----BEGIN"):]
        hits = [i + 1 for i, ln in enumerate(lines) if first in ln]
        assert hits, (ctx, kind, value, text)
        for h in hits:
            if {"line": h, "kind": kind} not in labels:
                labels.append({"line": h, "kind": kind})
    labels.sort(key=lambda d: (d["line"], KINDS.index(d["kind"])))
    return {"text": text, "labels": labels, "note": why + "; " + ctx, "_values": secrets}


def pem_text(lines, indent="", join="\n"):
    return join.join(indent + ln if ln else ln for ln in lines)


def pos_aws_access_key(rng):
    A = lambda p="AKIA": (v_aws_id(rng, p), "aws_access_key")
    S = lambda: (v_aws_secret(rng), "aws_secret_key")
    yield T("ansible", "access key id under aws_access_key in Ansible group vars",
            "# group_vars/backup_servers.yml\nbackup_bucket: acme-nightly-backups\naws_region: eu-central-1\n"
            "aws_access_key: §A§\nbackup_retention_days: 30", A=A())
    yield T("powershell", "Set-AWSCredential with key id and secret on one line: two secrets of two kinds",
            "Import-Module AWS.Tools.Common\nSet-AWSCredential -AccessKey §A§ -SecretKey §S§ -StoreAs deploy\n"
            "Set-DefaultAWSRegion -Region us-west-2\nWrite-Host \"profile 'deploy' stored\"", A=A(), S=S())
    yield T("bat", "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in a Windows batch file",
            "@echo off\nrem upload the nightly build\nset AWS_ACCESS_KEY_ID=§A§\nset AWS_SECRET_ACCESS_KEY=§S§\n"
            "set AWS_DEFAULT_REGION=us-west-2\naws s3 cp dist\\ s3://builds-win/%DATE:~-4%/ --recursive", A=A(), S=S())
    yield T("aws-cli-output", "output of aws iam create-access-key pasted into a ticket",
            '{\n    "AccessKey": {\n        "UserName": "ci-uploader",\n        "AccessKeyId": "§A§",\n'
            '        "Status": "Active",\n        "SecretAccessKey": "§S§",\n'
            '        "CreateDate": "2024-03-11T09:42:17+00:00"\n    }\n}', A=A(), S=S())
    yield T("r", "Sys.setenv with both AWS keys in an R script (aws.s3)",
            'library(aws.s3)\nSys.setenv(\n  "AWS_ACCESS_KEY_ID" = "§A§",\n  "AWS_SECRET_ACCESS_KEY" = "§S§",\n'
            '  "AWS_DEFAULT_REGION" = "eu-west-1"\n)\nbucketlist()', A=A(), S=S())
    yield T("rails-credentials", "aws block of a decrypted Rails credentials.yml",
            "# config/credentials.yml.enc (decrypted)\naws:\n  access_key_id: §A§\n  secret_access_key: §S§\n"
            "  region: eu-central-1\n  bucket: storefront-uploads", A=A(), S=S())
    yield T("helm", "external-dns Helm values with aws.credentials accessKey / secretKey (an AWS block)",
            "provider: aws\naws:\n  region: us-east-1\n  zoneType: public\n  credentials:\n"
            '    accessKey: "§A§"\n    secretKey: "§S§"\ndomainFilters:\n  - shop.internal', A=A(), S=S())
    yield T("postman", "access key id as a Postman environment variable",
            '{\n  "name": "staging",\n  "values": [\n    {"key": "baseUrl", "value": "https://api.staging.tidewater-logistics.com", "enabled": true},\n'
            '    {"key": "aws_access_key_id", "value": "§A§", "type": "default", "enabled": true},\n'
            '    {"key": "region", "value": "eu-west-2", "enabled": true}\n  ]\n}', A=A())
    yield T("kotlin", "access key id constant handed to BasicAWSCredentials in Kotlin",
            "object S3Config {\n    private const val ACCESS_KEY_ID = \"§A§\"\n    private const val BUCKET = \"field-photos\"\n"
            "    val credentials = BasicAWSCredentials(ACCESS_KEY_ID, BuildConfig.S3_SECRET)\n}", A=A())
    yield T("crash-report", "temporary ASIA key id in an environment dump of a crash report",
            "--- crash report: worker-7 (SIGABRT) ---\nPython 3.11.7, boto3 1.34.2\nEnvironment:\n  AWS_REGION = 'eu-west-1'\n"
            "  AWS_ACCESS_KEY_ID = '§A§'\n  AWS_SESSION_EXPIRES = '2024-05-02T11:00:00Z'\nThread 0 crashed:",
            A=A("ASIA"))
    yield T("chat", "key id pasted into a chat transcript kept as a code comment",
            "# [09:14] <dmitri> the sync job still fails, try the new key id §A§\n"
            "# [09:15] <farid> and the secret?\n# [09:15] <dmitri> it's in the team vault, not pasting that here",
            A=A())
    yield T("lua", "access key id in an OpenResty Lua signing module",
            'local aws_signer = require "resty.aws-signature"\nlocal access_key = "§A§"\n'
            'local region = "us-east-2"\nlocal service = "s3"', A=A())


def pos_aws_secret_key(rng):
    A = lambda: (v_aws_id(rng), "aws_access_key")
    S = lambda: (v_aws_secret(rng), "aws_secret_key")
    yield T("ansible", "aws_secret_key in Ansible vars; the key id comes from an env lookup",
            "aws_access_key: \"{{ lookup('env', 'AWS_ACCESS_KEY_ID') }}\"\naws_secret_key: \"§S§\"\n"
            "ec2_region: ap-southeast-2\ninstance_type: t3.medium", S=S())
    yield T("envrc", "direnv .envrc exporting both AWS keys",
            "# .envrc -- loaded by direnv\nexport AWS_ACCESS_KEY_ID=§A§\nexport AWS_SECRET_ACCESS_KEY=§S§\n"
            "export AWS_REGION=eu-north-1\nlayout python3", A=A(), S=S())
    yield T("scala", "S3A access and secret key set on a Spark session (fs.s3a.secret.key counts as an AWS secret name)",
            'val spark = SparkSession.builder()\n  .appName("daily-rollup")\n'
            '  .config("spark.hadoop.fs.s3a.access.key", "§A§")\n'
            '  .config("spark.hadoop.fs.s3a.secret.key", "§S§")\n  .getOrCreate()', A=A(), S=S())
    yield T("swift", "AWSStaticCredentialsProvider with both keys on one line",
            "import AWSS3\n\nlet credentialsProvider = AWSStaticCredentialsProvider(accessKey: \"§A§\", secretKey: \"§S§\")\n"
            "let configuration = AWSServiceConfiguration(region: .EUWest1, credentialsProvider: credentialsProvider)",
            A=A(), S=S())
    yield T("perl", "Net::Amazon::S3 client built with both keys in Perl",
            "use Net::Amazon::S3;\nmy $aws_access_key_id     = '§A§';\nmy $aws_secret_access_key = '§S§';\n"
            "my $s3 = Net::Amazon::S3->new(\n    aws_access_key_id     => $aws_access_key_id,\n"
            "    aws_secret_access_key => $aws_secret_access_key,\n    retry                 => 1,\n);", A=A(), S=S())
    yield T("rclone", "rclone.conf S3 remote with both keys",
            "[archive]\ntype = s3\nprovider = AWS\naccess_key_id = §A§\nsecret_access_key = §S§\n"
            "region = eu-west-1\nstorage_class = GLACIER", A=A(), S=S())
    yield T("makefile", "Makefile default for AWS_SECRET_ACCESS_KEY",
            "REGION ?= us-east-1\nAWS_SECRET_ACCESS_KEY ?= §S§\nexport AWS_SECRET_ACCESS_KEY\n\n"
            "deploy:\n\tsam deploy --region $(REGION) --no-confirm-changeset", S=S())
    yield T("elixir", "ex_aws config with both keys",
            "config :ex_aws,\n  access_key_id: \"§A§\",\n  secret_access_key: \"§S§\",\n  region: \"eu-west-1\"\n\n"
            "config :ex_aws, :s3, scheme: \"https://\", host: \"s3.eu-west-1.amazonaws.com\"", A=A(), S=S())
    yield T("dart", "AWS secret constant in a Flutter app",
            "// lib/config/aws.dart\nconst awsRegion = 'eu-central-1';\nconst awsSecretAccessKey = '§S§';\n"
            "const uploadBucket = 'mobile-uploads';", S=S())
    yield T("crash-report", "AWS secret in the environment section of a crash report",
            "Exception in thread \"uploader\" java.io.IOException: 403 Forbidden\n\tat com.amazonaws.http.AmazonHttpClient.execute\n"
            "System environment:\n  AWS_SECRET_ACCESS_KEY=§S§\n  JAVA_HOME=/usr/lib/jvm/java-17\n  LANG=en_US.UTF-8", S=S())
    yield T("nix", "AWS secret as a NixOS environment variable",
            "{ config, pkgs, ... }:\n{\n  environment.variables = {\n    AWS_DEFAULT_REGION = \"eu-west-1\";\n"
            "    AWS_SECRET_ACCESS_KEY = \"§S§\";\n  };\n}", S=S())


def pos_gcp_api_key(rng):
    G = lambda: (v_gcp(rng), "gcp_api_key")
    yield T("google-services", "current_key in an Android google-services.json",
            '{\n  "project_info": {"project_number": "418273645102", "project_id": "fieldnotes-app"},\n  "client": [{\n'
            '    "client_info": {"mobilesdk_app_id": "1:418273645102:android:7c1e2f3a4b5d6e7f"},\n'
            '    "api_key": [{"current_key": "§G§"}]\n  }]\n}', G=G())
    yield T("plist", "API_KEY in GoogleService-Info.plist; the value is on the <string> line",
            "<dict>\n\t<key>API_KEY</key>\n\t<string>§G§</string>\n\t<key>GCM_SENDER_ID</key>\n\t<string>418273645102</string>\n"
            "\t<key>BUNDLE_ID</key>\n\t<string>com.brightlane.fieldnotes</string>\n</dict>", G=G())
    yield T("local-properties", "MAPS_API_KEY in Android local.properties",
            "## This file must *NOT* be checked into Version Control Systems,\nsdk.dir=/Users/hiro/Library/Android/sdk\n"
            "MAPS_API_KEY=§G§", G=G())
    yield T("android-manifest", "geo API key in AndroidManifest meta-data",
            '<application android:label="@string/app_name">\n    <meta-data\n        android:name="com.google.android.geo.API_KEY"\n'
            '        android:value="§G§" />\n</application>', G=G())
    yield T("dart", "apiKey in FlutterFire firebase_options.dart",
            "static const FirebaseOptions android = FirebaseOptions(\n    apiKey: '§G§',\n"
            "    appId: '1:418273645102:android:7c1e2f3a4b5d6e7f',\n    messagingSenderId: '418273645102',\n"
            "    projectId: 'fieldnotes-app',\n);", G=G())
    yield T("swift", "bare GMSServices.provideAPIKey call in Swift",
            "func application(_ application: UIApplication, didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]?) -> Bool {\n"
            '    GMSServices.provideAPIKey("§G§")\n    return true\n}', G=G())
    yield T("har", "key= query parameter of a recorded Geocoding request in a HAR file",
            '{"log": {"entries": [{\n  "request": {\n    "method": "GET",\n'
            '    "url": "https://maps.googleapis.com/maps/api/geocode/json?address=Harbour+St+4&key=§G§",\n'
            '    "httpVersion": "HTTP/2"\n  },\n  "response": {"status": 200}\n}]}}', G=G())
    yield T("r", "register_google in an R (ggmap) script",
            'library(ggmap)\nregister_google(key = "§G§")\nmap <- get_googlemap(center = c(lon = 9.19, lat = 45.46), zoom = 12)',
            G=G())
    yield T("front-matter", "Maps key in the YAML front matter of a blog post",
            "---\nlayout: map\ntitle: \"Cycling routes around the lake\"\ngoogle_maps_api_key: §G§\ntags: [cycling, maps]\n---",
            G=G())
    yield T("vercel", "public Maps key in vercel.json env",
            '{\n  "buildCommand": "next build",\n  "env": {\n    "NEXT_PUBLIC_GOOGLE_MAPS_KEY": "§G§",\n'
            '    "NEXT_PUBLIC_SITE": "https://routes.sorrel.dev"\n  }\n}', G=G())
    yield T("gradle-kts", "buildConfigField with a Places key in build.gradle.kts",
            'android {\n    defaultConfig {\n        applicationId = "com.sorrel.routes"\n'
            '        buildConfigField("String", "PLACES_API_KEY", "\\"§G§\\"")\n    }\n}', G=G())


def pos_azure_storage_key(rng):
    K = lambda: (v_azure(rng), "azure_storage_key")
    yield T("ansible", "azure_storage_account_key in Ansible vars",
            "storage_account_name: stbackup01\nazure_storage_account_key: \"§K§\"\ncontainer: nightly", K=K())
    yield T("powershell", "New-AzStorageContext with -StorageAccountKey",
            '$ctx = New-AzStorageContext -StorageAccountName "stbackup01" -StorageAccountKey "§K§"\n'
            'Set-AzStorageBlobContent -File ".\\db.bak" -Container "sql" -Context $ctx', K=K())
    yield T("bat", "set AZURE_STORAGE_KEY in a batch file",
            "@echo off\nset AZURE_STORAGE_ACCOUNT=stmedia02\nset AZURE_STORAGE_KEY=§K§\naz storage blob upload-batch -d media -s .\\out",
            K=K())
    yield T("rclone", "rclone.conf azureblob remote key",
            "[azure-media]\ntype = azureblob\naccount = stmedia02\nkey = §K§\naccess_tier = Cool", K=K())
    yield T("helm", "Velero Helm values with an Azure storage account key",
            "configuration:\n  backupStorageLocation:\n    - name: default\n      provider: azure\n      bucket: velero\n"
            "      config:\n        storageAccount: stvelero01\n        storageAccountKeyEnvVar: AZURE_STORAGE_ACCOUNT_ACCESS_KEY\n"
            "credentials:\n  secretContents:\n    cloud: |\n      AZURE_STORAGE_ACCOUNT_ACCESS_KEY=§K§", K=K())
    yield T("azure-functions", "AccountKey in the AzureWebJobsStorage connection string of local.settings.json",
            '{\n  "IsEncrypted": false,\n  "Values": {\n    "FUNCTIONS_WORKER_RUNTIME": "python",\n'
            '    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=stfuncs03;AccountKey=§K§;EndpointSuffix=core.windows.net"\n'
            '  }\n}', K=K())
    yield T("scala", "fs.azure.account.key set on a Spark conf",
            'spark.conf.set(\n  "fs.azure.account.key.stlake04.dfs.core.windows.net",\n  "§K§")\n'
            'val df = spark.read.parquet("abfss://raw@stlake04.dfs.core.windows.net/events/")', K=K())
    yield T("azure-cli-output", "az storage account keys list output",
            '[\n  {\n    "creationTime": "2024-01-09T08:14:55.112233+00:00",\n    "keyName": "key1",\n'
            '    "permissions": "FULL",\n    "value": "§K§"\n  }\n]', K=K())
    yield T("makefile", "AZURE_STORAGE_KEY in a Makefile",
            "AZURE_STORAGE_ACCOUNT := stsite05\nAZURE_STORAGE_KEY := §K§\n\npublish:\n\taz storage blob sync -c '$$web' -s public",
            K=K())
    yield T("env-local", "connection string in .env.local",
            "NEXT_PUBLIC_CDN=https://cdn.quantumleaf.ai\n"
            "AZURE_STORAGE_CONNECTION_STRING=\"DefaultEndpointsProtocol=https;AccountName=stqleaf;AccountKey=§K§;EndpointSuffix=core.windows.net\"",
            K=K())
    yield T("desktop-ini", "account key in a desktop sync tool's .ini",
            "[Account]\nName=stphotos06\nKey=§K§\n[Sync]\nLocalFolder=C:\\Users\\ines\\Pictures\nInterval=15", K=K())


def pos_github_token(rng):
    G = lambda p="ghp_": (v_github(rng, p), "github_token")
    yield T("envrc", "GITHUB_TOKEN exported by direnv",
            "export GITHUB_TOKEN=§G§\nexport GOPRIVATE=github.com/brightlane/*", G=G())
    yield T("makefile", "token inline in a Makefile release recipe",
            "VERSION := $(shell git describe --tags)\n\nrelease:\n\tGITHUB_TOKEN=§G§ goreleaser release --clean", G=G("gho_"))
    yield T("powershell", "fine-grained PAT in $env:GH_TOKEN",
            '$env:GH_TOKEN = "§G§"\ngh release create v$Version .\\dist\\*.zip --generate-notes', G=G("github_pat_"))
    yield T("ansible", "github_token in role defaults used to download release assets",
            "---\n# roles/node_exporter/defaults/main.yml\nnode_exporter_version: 1.7.0\ngithub_token: §G§\n"
            "node_exporter_arch: amd64", G=G())
    yield T("helm", "actions-runner-controller Helm values with authSecret.github_token",
            "authSecret:\n  create: true\n  github_token: \"§G§\"\nreplicaCount: 1\nsyncPeriod: 1m", G=G())
    yield T("postman", "github_pat in a Postman environment",
            '{"id": "5e0c9a1b-6f0d-4b53-9c4e-2b7f1d3a8e60", "name": "GitHub", "values": [\n'
            '  {"key": "api", "value": "https://api.github.com", "enabled": true},\n'
            '  {"key": "github_pat", "value": "§G§", "type": "secret", "enabled": true}\n]}', G=G("github_pat_"))
    yield T("har", "Authorization: token … header captured in a HAR file",
            '"headers": [\n  {"name": "Accept", "value": "application/vnd.github+json"},\n'
            '  {"name": "Authorization", "value": "token §G§"},\n  {"name": "User-Agent", "value": "octo-sync/2.3"}\n],',
            G=G())
    yield T("lua", "token in a Neovim plugin config (Lua)",
            'require("octo").setup({\n  default_remote = { "upstream", "origin" },\n  github_token = "§G§",\n})',
            G=G())
    yield T("chat", "short-lived installation token pasted in a chat log comment",
            "// 2024-02-07 #deploy\n// <oskar> use §G§ for the app installation, it expires in an hour\n// <greta> thanks",
            G=G("ghs_"))
    yield T("dart", "GitHub token given to a Dart client",
            "import 'package:github/github.dart';\n\nfinal github = GitHub(auth: Authentication.withToken('§G§'));",
            G=G())
    yield T("gitconfig", "token as URL userinfo in a .gitconfig insteadOf rule (token kind only)",
            '[url "https://x-access-token:§G§@github.com/"]\n\tinsteadOf = https://github.com/\n[user]\n\tname = CI Bot',
            G=G())
    yield T("crash-report", "refresh token ghr_ in a crash report's environment",
            "Crash in sync-daemon 0.9.4 (pid 4121)\nRUST_BACKTRACE=1\nGH_REFRESH_TOKEN=§G§\nthread 'main' panicked at src/auth.rs:88:14",
            G=G("ghr_"))


def pos_gitlab_token(rng):
    G = lambda p="glpat-": (v_gitlab(rng, p), "gitlab_token")
    yield T("envrc", "GITLAB_TOKEN exported by direnv", "export GITLAB_TOKEN=§G§\nexport GITLAB_HOST=gitlab.corvid-systems.eu", G=G())
    yield T("helm", "gitlab-runner Helm values runnerToken (glrt-)",
            "gitlabUrl: https://gitlab.corvid-systems.eu/\nrunnerToken: \"§G§\"\nconcurrent: 4\nrbac:\n  create: true",
            G=G("glrt-"))
    yield T("powershell", "PRIVATE-TOKEN header hashtable in PowerShell",
            '$headers = @{ "PRIVATE-TOKEN" = "§G§" }\n'
            'Invoke-RestMethod -Headers $headers -Uri "https://gitlab.corvid-systems.eu/api/v4/projects"', G=G())
    yield T("ansible", "gitlab_api_token in Ansible vars", "gitlab_url: https://gitlab.corvid-systems.eu\ngitlab_api_token: §G§\ngitlab_group: platform",
            G=G())
    yield T("toml", "runner token in gitlab-runner config.toml",
            'concurrent = 2\n\n[[runners]]\n  name = "build-02"\n  url = "https://gitlab.corvid-systems.eu/"\n'
            '  token = "§G§"\n  executor = "docker"', G=G("glrt-"))
    yield T("postman", "PRIVATE-TOKEN header in a Postman collection",
            '"header": [\n  {"key": "PRIVATE-TOKEN", "value": "§G§", "type": "text"}\n],\n'
            '"url": {"raw": "{{gitlab}}/api/v4/merge_requests?state=opened"}', G=G())
    yield T("makefile", "glab login in a Makefile", "login:\n\tglab auth login --hostname gitlab.corvid-systems.eu --token §G§", G=G())
    yield T("perl", "private_token given to GitLab::API::v4",
            "use GitLab::API::v4;\nmy $api = GitLab::API::v4->new(\n    url           => 'https://gitlab.corvid-systems.eu/api/v4',\n"
            "    private_token => '§G§',\n);", G=G())
    yield T("chat", "deploy token pasted in a chat transcript comment",
            "# [16:02] <mara> registry pull works with the deploy token §G§ (read_registry only)\n# [16:03] <jonas> ok",
            G=G("gldt-"))
    yield T("gradle-properties", "gitLabPrivateToken in gradle.properties for a Maven repo",
            "org.gradle.jvmargs=-Xmx2g\ngitLabPrivateToken=§G§\nandroid.useAndroidX=true", G=G())
    yield T("bat", "set GITLAB_TOKEN in a batch file", "@echo off\nset GITLAB_TOKEN=§G§\npython tools\\sync_labels.py", G=G())


def pos_slack_token(rng):
    S = lambda p="xoxb-": (v_slack(rng, p), "slack_token")
    yield T("elixir", "Slack bot token in Elixir config", "config :slack,\n  api_token: \"§S§\",\n  default_channel: \"#alerts\"", S=S())
    yield T("helm", "Botkube Helm values with a bot token and an app token on two lines",
            "communications:\n  default-group:\n    socketSlack:\n      enabled: true\n      botToken: '§B§'\n      appToken: '§P§'\n"
            "      channels:\n        default:\n          name: k8s-alerts", B=S(), P=S("xapp-"))
    yield T("env-local", "SLACK_BOT_TOKEN in .env.local", "SLACK_BOT_TOKEN=§S§\nSLACK_CHANNEL=C05QKJ2L7TR", S=S())
    yield T("lua", "user token in a Lua script", 'local http = require("socket.http")\nlocal SLACK_TOKEN = "§S§"\nlocal channel = "C02AB3CD4EF"',
            S=S("xoxp-"))
    yield T("r", "Slack token via Sys.setenv in R", 'Sys.setenv(SLACK_TOKEN = "§S§")\nslackr::slackr_msg("model retrained", channel = "#ml")',
            S=S("xoxp-"))
    yield T("powershell", "PSSlack Send-SlackMessage with -Token",
            'Send-SlackMessage -Token "§S§" -Channel "#ops" -Text "Backup finished on $env:COMPUTERNAME"', S=S())
    yield T("perl", "WebService::Slack::WebApi client in Perl",
            "use WebService::Slack::WebApi;\nmy $slack = WebService::Slack::WebApi->new(token => '§S§');\n"
            "$slack->chat->post_message(channel => '#builds', text => 'green');", S=S("xoxp-"))
    yield T("scala", "Slack methods client in Scala", 'val slack = Slack.getInstance()\nval methods = slack.methods("§S§")', S=S())
    yield T("chat", "app-level token pasted into a chat log comment",
            "// pasted from #dev-bots:\n// <wen> socket mode needs SLACK_APP_TOKEN=§S§\n// <wen> bot token is in the vault", S=S("xapp-"))
    yield T("ansible", "bot token given to community.general.slack",
            "- name: Notify Slack\n  community.general.slack:\n    token: §S§\n    channel: '#deploys'\n    msg: \"{{ inventory_hostname }} deployed\"",
            S=S())
    yield T("bat", "set SLACK_BOT_TOKEN in a batch file", "@echo off\nset SLACK_BOT_TOKEN=§S§\nnode bot.js", S=S())


def pos_slack_webhook(rng):
    W = lambda: (v_slack_webhook(rng), "slack_webhook")
    yield T("alertmanager", "slack_api_url in Alertmanager's global section",
            "global:\n  resolve_timeout: 5m\n  slack_api_url: '§W§'\nroute:\n  receiver: slack-ops\n"
            "receivers:\n  - name: slack-ops\n    slack_configs:\n      - channel: '#ops'", W=W())
    yield T("grafana", "Slack contact point in Grafana provisioning",
            "apiVersion: 1\ncontactPoints:\n  - orgId: 1\n    name: slack-oncall\n    receivers:\n      - uid: slk01\n"
            "        type: slack\n        settings:\n          url: §W§", W=W())
    yield T("helm", "kube-prometheus-stack values with an Alertmanager Slack receiver",
            "alertmanager:\n  config:\n    receivers:\n      - name: slack\n        slack_configs:\n"
            "          - api_url: §W§\n            send_resolved: true", W=W())
    yield T("ansible", "slack_webhook_url in Ansible vars", "notify_on_failure: true\nslack_webhook_url: \"§W§\"", W=W())
    yield T("powershell", "Invoke-RestMethod posting to a webhook",
            '$payload = @{ text = "Disk C: below 10%" } | ConvertTo-Json\n'
            'Invoke-RestMethod -Uri "§W§" -Method Post -Body $payload -ContentType "application/json"', W=W())
    yield T("env-local", "SLACK_WEBHOOK_URL in .env.local", "SLACK_WEBHOOK_URL=§W§\nLOG_LEVEL=info", W=W())
    yield T("makefile", "notify target in a Makefile",
            "SLACK_HOOK = §W§\n\nnotify:\n\t@python3 scripts/notify.py --hook $(SLACK_HOOK) --msg 'build $(VERSION) done'", W=W())
    yield T("netlify-toml", "webhook input of a Netlify build plugin",
            '[build]\n  command = "npm run build"\n\n[[plugins]]\n  package = "netlify-plugin-slack"\n  [plugins.inputs]\n'
            '    webhook = "§W§"', W=W())
    yield T("kotlin", "webhook URL constant in Kotlin", 'private val webhookUrl = "§W§"\n\nfun notify(text: String) = client.post(webhookUrl) { setBody(text) }',
            W=W())
    yield T("perl", "webhook in a Perl cron script", "use HTTP::Tiny;\nmy $hook = '§W§';\nHTTP::Tiny->new->post_form($hook, { payload => $json });", W=W())
    yield T("dart", "webhook in a Dart CLI", "const slackHook = '§W§';\n\nFuture<void> notify(String msg) => http.post(Uri.parse(slackHook), body: msg);",
            W=W())


def pos_telegram_bot_token(rng):
    B = lambda: (v_telegram(rng), "telegram_bot_token")
    yield T("env-local", "TELEGRAM_BOT_TOKEN in .env.local", "TELEGRAM_BOT_TOKEN=§B§\nTELEGRAM_CHAT_ID=-1001234567890", B=B())
    yield T("lua", "bot token in a Lua bot", 'local bot_token = "§B§"\nlocal api = "https://api.telegram.org/bot" .. bot_token', B=B())
    yield T("powershell", "token variable interpolated into the Bot API URL",
            '$token = "§B§"\n$uri = "https://api.telegram.org/bot$token/sendMessage"\n'
            'Invoke-RestMethod -Uri $uri -Body @{ chat_id = 48213377; text = "done" }', B=B())
    yield T("bat", "set TG_TOKEN in a batch file", "@echo off\nset TG_TOKEN=§B§\npython notifier.py", B=B())
    yield T("ansible", "token given to community.general.telegram",
            "- name: Send notification\n  community.general.telegram:\n    token: '§B§'\n    api_args:\n      chat_id: 48213377\n      text: deploy done",
            B=B())
    yield T("dart", "TeleDart constructed with a token", "final username = (await Telegram(token).getMe()).username;\n"
            "var teledart = TeleDart('§B§', Event(username!));\nteledart.start();", B=B())
    yield T("elixir", "ex_gram token in Elixir config", "config :ex_gram,\n  token: \"§B§\",\n  adapter: ExGram.Adapter.Tesla", B=B())
    yield T("kotlin", "kotlin-telegram-bot builder", 'val bot = bot {\n    token = "§B§"\n    dispatch { command("start") { bot.sendMessage(ChatId.fromId(message.chat.id), "hi") } }\n}',
            B=B())
    yield T("crash-report", "token in a Bot API URL inside a crash report",
            "Unhandled exception in poller (attempt 5/5)\nrequests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.telegram.org', port=443):\n"
            "  Max retries exceeded with url: /bot§B§/getUpdates?timeout=30", B=B())
    yield T("grafana", "Telegram contact point in Grafana provisioning",
            "contactPoints:\n  - orgId: 1\n    name: telegram\n    receivers:\n      - uid: tg01\n        type: telegram\n"
            "        settings:\n          bottoken: §B§\n          chatid: '-1001234567890'", B=B())
    yield T("alertmanager", "telegram_configs bot_token in Alertmanager",
            "receivers:\n  - name: tg\n    telegram_configs:\n      - bot_token: '§B§'\n        chat_id: -1001234567890\n        parse_mode: HTML",
            B=B())


def pos_stripe_key(rng):
    K = lambda p="sk_live_": (v_stripe(rng, p), "stripe_key")
    pk = lambda: "pk_live_" + mixed(rng, 24)
    yield T("env-local", "STRIPE_SECRET_KEY in .env.local", "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=§P§\nSTRIPE_SECRET_KEY=§K§", K=K(), P=pk())
    yield T("rails-credentials", "stripe block in decrypted Rails credentials (pk_live_ stays unlabelled)",
            "stripe:\n  publishable_key: §P§\n  secret_key: §K§\n  webhook_tolerance: 300", K=K(), P=pk())
    yield T("powershell", "Bearer header with a restricted key",
            '$headers = @{ Authorization = "Bearer §K§" }\nInvoke-RestMethod -Uri https://api.stripe.com/v1/balance -Headers $headers',
            K=K("rk_live_"))
    yield T("netlify-toml", "STRIPE_SECRET_KEY in netlify.toml production environment",
            '[context.production.environment]\n  STRIPE_SECRET_KEY = "§K§"\n  NODE_VERSION = "20"', K=K())
    yield T("elixir", "stripity_stripe api_key in Elixir config", "config :stripity_stripe,\n  api_key: \"§K§\",\n  json_library: Jason", K=K())
    yield T("kotlin", "Stripe.apiKey in Kotlin", "fun main() {\n    Stripe.apiKey = \"§K§\"\n    val balance = Balance.retrieve()\n}", K=K("rk_live_"))
    yield T("postman", "stripe_secret in a Postman environment",
            '{"name": "billing", "values": [\n  {"key": "stripe_secret", "value": "§K§", "type": "secret", "enabled": true}\n]}', K=K())
    yield T("swift", "server-side Swift StripeClient", 'let stripe = StripeClient(httpClient: app.http.client.shared, apiKey: "§K§")', K=K())
    yield T("env-local", "test-mode secret key (sk_test_) in .env.development: a secret key by decision D2",
            "# .env.development\nSTRIPE_SECRET_KEY=§K§\nSTRIPE_WEBHOOK_TOLERANCE=300", K=K("sk_test_"))
    yield T("ansible", "test-mode secret key in Ansible vars (decision D2)", "billing_env: staging\nstripe_api_key: §K§", K=K("sk_test_"))
    yield T("perl", "Net::Stripe client in Perl", "use Net::Stripe;\nmy $stripe = Net::Stripe->new(api_key => '§K§');", K=K())
    yield T("vercel", "STRIPE_SECRET_KEY in vercel.json env", '{\n  "env": {\n    "STRIPE_SECRET_KEY": "§K§",\n    "SHOP_CURRENCY": "eur"\n  }\n}',
            K=K())


def pos_sendgrid_key(rng):
    S = lambda: (v_sendgrid(rng), "sendgrid_key")
    yield T("env-local", "SENDGRID_API_KEY in .env.local", "SENDGRID_API_KEY=§S§\nMAIL_FROM=no-reply", S=S())
    yield T("rails-credentials", "SMTP password holding a SendGrid key (format wins over password)",
            "smtp:\n  address: smtp.sendgrid.net\n  user_name: apikey\n  password: §S§\n  port: 587", S=S())
    yield T("ansible", "postfix relay password holding a SendGrid key",
            "postfix_relayhost: \"[smtp.sendgrid.net]:587\"\npostfix_sasl_user: apikey\npostfix_sasl_password: \"§S§\"", S=S())
    yield T("powershell", "SendGrid key turned into a PSCredential",
            '$key = ConvertTo-SecureString "§S§" -AsPlainText -Force\n$cred = New-Object PSCredential ("apikey", $key)\n'
            'Send-MailMessage -SmtpServer smtp.sendgrid.net -Port 587 -UseSsl -Credential $cred -To $to -From $from -Subject "report"', S=S())
    yield T("elixir", "Swoosh SendGrid adapter api_key",
            "config :shop, Shop.Mailer,\n  adapter: Swoosh.Adapters.Sendgrid,\n  api_key: \"§S§\"", S=S())
    yield T("helm", "Grafana Helm values smtp password holding a SendGrid key",
            "grafana.ini:\n  smtp:\n    enabled: true\n    host: smtp.sendgrid.net:587\n    user: apikey\n    password: §S§", S=S())
    yield T("grafana", "[smtp] password in grafana.ini", "[smtp]\nenabled = true\nhost = smtp.sendgrid.net:587\nuser = apikey\npassword = §S§",
            S=S())
    yield T("kotlin", "SendGrid client constructed in Kotlin", 'val sg = SendGrid("§S§")\nval request = Request().apply { method = Method.POST; endpoint = "mail/send" }',
            S=S())
    yield T("netlify-toml", "SENDGRID_API_KEY in netlify.toml", '[build.environment]\n  SENDGRID_API_KEY = "§S§"', S=S())
    yield T("makefile", "SENDGRID_API_KEY exported from a Makefile", "export SENDGRID_API_KEY = §S§\n\nmail-test:\n\tpython -m newsletter.send --dry-run", S=S())
    yield T("bat", "set SENDGRID_API_KEY in a batch file", "@echo off\nset SENDGRID_API_KEY=§S§\ncall send_invoices.cmd", S=S())


def pos_npm_token(rng):
    N = lambda: (v_npm(rng), "npm_token")
    yield T("envrc", "NPM_TOKEN exported by direnv", "export NPM_TOKEN=§N§\nuse node 20", N=N())
    yield T("makefile", "NPM_TOKEN in a Makefile publish target", "NPM_TOKEN := §N§\n\npublish:\n\tNODE_AUTH_TOKEN=$(NPM_TOKEN) npm publish --access public", N=N())
    yield T("powershell", "NODE_AUTH_TOKEN in PowerShell", '$env:NODE_AUTH_TOKEN = "§N§"\nnpm publish --access public', N=N())
    yield T("bat", "set NPM_TOKEN in a batch file", "@echo off\nset NPM_TOKEN=§N§\nnpm ci && npm run release", N=N())
    yield T("ansible", "npm_auth_token in Ansible vars", "node_version: 20\nnpm_auth_token: \"§N§\"\nnpm_registry: https://registry.npmjs.org/", N=N())
    yield T("postman", "npm token in a Postman environment", '{"key": "npm_token", "value": "§N§", "type": "secret", "enabled": true}', N=N())
    yield T("nix", "NPM_TOKEN in a Nix devShell", "pkgs.mkShell {\n  buildInputs = [ pkgs.nodejs_20 ];\n  NPM_TOKEN = \"§N§\";\n}", N=N())
    yield T("chat", "npm token pasted into a chat transcript comment",
            "/* chat log 2024-06-03\n * <tamsin> CI can't publish, here's the automation token: §N§\n * <umar> rotate it after please\n */", N=N())
    yield T("toml", "scoped registry token in bunfig.toml",
            '[install.scopes]\nbrightlane = { token = "§N§", url = "https://registry.npmjs.org/" }', N=N())
    yield T("vercel", "NPM_TOKEN in vercel.json build env", '{\n  "build": {\n    "env": {\n      "NPM_TOKEN": "§N§"\n    }\n  }\n}', N=N())
    yield T("crash-report", "token in the environment section of a crash report",
            "npm-publish-action crashed: E401 Unable to authenticate\nenv:\n  CI=true\n  NPM_TOKEN=§N§\n  NODE_VERSION=20.11.1", N=N())


def pos_pypi_token(rng):
    P = lambda test=False: (v_pypi(rng, test), "pypi_token")
    yield T("envrc", "TWINE_PASSWORD holding a PyPI token (format wins)", "export TWINE_USERNAME=__token__\nexport TWINE_PASSWORD=§P§", P=P())
    yield T("makefile", "poetry config pypi-token in a Makefile", "publish:\n\tpoetry config pypi-token.pypi §P§\n\tpoetry publish --build", P=P())
    yield T("toml", "password in Poetry's auth.toml holding a PyPI token",
            '[http-basic.pypi]\nusername = "__token__"\npassword = "§P§"', P=P())
    yield T("powershell", "TWINE_PASSWORD in PowerShell", '$env:TWINE_USERNAME = "__token__"\n$env:TWINE_PASSWORD = "§P§"\ntwine upload dist\\*', P=P())
    yield T("bat", "set TWINE_PASSWORD in a batch file (TestPyPI token)", "@echo off\nset TWINE_USERNAME=__token__\nset TWINE_PASSWORD=§P§\n"
            "twine upload --repository testpypi dist\\*", P=P(True))
    yield T("ansible", "pypi_upload_token in Ansible vars", "pypi_upload_token: \"§P§\"\npackage_name: kestrel-tools", P=P())
    yield T("toml", "auth in Hatch's config.toml publish section", '[publish.index]\nrepo = "main"\nuser = "__token__"\nauth = "§P§"', P=P())
    yield T("env-local", "UV_PUBLISH_TOKEN in .env.local", "UV_PUBLISH_TOKEN=§P§\nUV_INDEX_URL=https://pypi.org/simple", P=P())
    yield T("envrc", "TestPyPI token exported by direnv", "# release dry-runs go to TestPyPI\nexport TEST_PYPI_TOKEN=§P§", P=P(True))
    yield T("chat", "PyPI token pasted into a chat transcript comment",
            "# <nadia> upload fails with 403\n# <quentin> use the project-scoped one: §P§\n# <nadia> works, thanks", P=P())
    yield T("tox-ini", "TWINE_PASSWORD in tox.ini setenv", "[testenv:release]\nskip_install = true\nsetenv =\n    TWINE_USERNAME = __token__\n"
            "    TWINE_PASSWORD = §P§\ncommands = twine upload dist/*", P=P())


def pos_openai_key(rng):
    O = lambda s="proj": (v_openai(rng, s), "openai_key")
    yield T("env-local", "OPENAI_API_KEY in .env.local", "OPENAI_API_KEY=§O§\nOPENAI_MODEL=gpt-4o-mini", O=O())
    yield T("lua", "legacy-format key in a Neovim plugin config", 'require("chatgpt").setup({\n  api_key = "§O§",\n  openai_params = { model = "gpt-4o" },\n})',
            O=O("legacy"))
    yield T("powershell", "OPENAI_API_KEY in PowerShell", '$env:OPENAI_API_KEY = "§O§"\npython .\\summarise.py --in notes.md', O=O())
    yield T("r", "Sys.setenv(OPENAI_API_KEY=…) in R", 'Sys.setenv(OPENAI_API_KEY = "§O§")\nlibrary(ellmer)\nchat <- chat_openai(model = "gpt-4o")', O=O())
    yield T("helm", "open-webui Helm values openaiApiKey", "ollama:\n  enabled: false\nopenaiApiKey: \"§O§\"\npersistence:\n  enabled: true", O=O())
    yield T("swift", "OpenAI Swift client token", 'let openAI = OpenAI(apiToken: "§O§")', O=O("legacy"))
    yield T("kotlin", "openai-kotlin client token", 'val openAI = OpenAI(\n    token = "§O§",\n    timeout = Timeout(socket = 60.seconds),\n)', O=O("svcacct"))
    yield T("dart", "dart_openai apiKey", "void main() {\n  OpenAI.apiKey = '§O§';\n  runApp(const App());\n}", O=O())
    yield T("har", "Bearer header of a captured completions request", '"headers": [\n  {"name": "authorization", "value": "Bearer §O§"},\n'
            '  {"name": "content-type", "value": "application/json"}\n]', O=O())
    yield T("postman", "openai key in a Postman environment", '{"key": "openai_key", "value": "§O§", "type": "secret", "enabled": true}', O=O("legacy"))
    yield T("continue", "apiKey in a Continue config.yaml", "models:\n  - name: GPT-4o\n    provider: openai\n    model: gpt-4o\n    apiKey: §O§", O=O())
    yield T("elixir", "openai_ex api_key in Elixir config", "config :openai,\n  api_key: \"§O§\",\n  http_options: [recv_timeout: 30_000]", O=O())


def pos_anthropic_key(rng):
    A = lambda: (v_anthropic(rng), "anthropic_key")
    yield T("env-local", "ANTHROPIC_API_KEY in .env.local", "ANTHROPIC_API_KEY=§A§\nDEFAULT_MODEL=claude-3-5-sonnet-latest", A=A())
    yield T("continue", "Anthropic provider in a Continue config.yaml", "models:\n  - name: Claude\n    provider: anthropic\n    model: claude-3-5-sonnet-latest\n    apiKey: §A§", A=A())
    yield T("powershell", "ANTHROPIC_API_KEY in PowerShell", '$env:ANTHROPIC_API_KEY = "§A§"', A=A())
    yield T("helm", "LiteLLM Helm values envVars", "envVars:\n  ANTHROPIC_API_KEY: \"§A§\"\n  LITELLM_LOG: INFO", A=A())
    yield T("lua", "Anthropic key in a Lua editor plugin config", 'local providers = {\n  claude = {\n    endpoint = "https://api.anthropic.com",\n    api_key = "§A§",\n  },\n}', A=A())
    yield T("r", "ANTHROPIC_API_KEY via Sys.setenv in R", 'Sys.setenv(ANTHROPIC_API_KEY = "§A§")\nchat <- ellmer::chat_anthropic()', A=A())
    yield T("har", "x-api-key header of a captured request (format wins)", '"headers": [\n  {"name": "x-api-key", "value": "§A§"},\n  {"name": "anthropic-version", "value": "2023-06-01"}\n]', A=A())
    yield T("postman", "Anthropic key in a Postman environment", '{"key": "anthropic_api_key", "value": "§A§", "type": "secret", "enabled": true}', A=A())
    yield T("kotlin", "Anthropic client built in Kotlin", 'val client = AnthropicOkHttpClient.builder()\n    .apiKey("§A§")\n    .build()', A=A())
    yield T("bat", "set ANTHROPIC_API_KEY in a batch file", "@echo off\nset ANTHROPIC_API_KEY=§A§\naider --model sonnet", A=A())
    yield T("aider", "anthropic-api-key in .aider.conf.yml", "model: sonnet\nanthropic-api-key: §A§\nauto-commits: false", A=A())


def pos_huggingface_token(rng):
    H = lambda: (v_hf(rng), "huggingface_token")
    yield T("envrc", "HF_TOKEN exported by direnv", "export HF_TOKEN=§H§\nexport HF_HOME=$PWD/.hf", H=H())
    yield T("makefile", "huggingface-cli login in a Makefile", "login:\n\thuggingface-cli login --token §H§ --add-to-git-credential", H=H())
    yield T("powershell", "HF_TOKEN in PowerShell", '$env:HF_TOKEN = "§H§"\npython .\\finetune.py --push-to-hub', H=H())
    yield T("helm", "TGI Helm values env entry", "env:\n  - name: MODEL_ID\n    value: mistralai/Mistral-7B-Instruct-v0.3\n  - name: HUGGING_FACE_HUB_TOKEN\n    value: §H§", H=H())
    yield T("r", "HF_TOKEN via Sys.setenv in R", 'Sys.setenv(HF_TOKEN = "§H§")\nhfhub::hub_download("gpt2", "config.json")', H=H())
    yield T("har", "Bearer header of a captured Hub request", '"headers": [\n  {"name": "authorization", "value": "Bearer §H§"},\n  {"name": "user-agent", "value": "huggingface_hub/0.23"}\n]', H=H())
    yield T("swift", "HubApi token in Swift", 'let hub = HubApi(hfToken: "§H§")\nlet config = try await hub.configuration(from: "openai/whisper-tiny")', H=H())
    yield T("postman", "hf token in a Postman environment", '{"key": "hf_token", "value": "§H§", "type": "secret", "enabled": true}', H=H())
    yield T("bat", "set HF_TOKEN in a batch file", "@echo off\nset HF_TOKEN=§H§\npython download_weights.py", H=H())
    yield T("chat", "token pasted into a chat transcript comment", "# <priya> gated model download needs a token, use mine for now: §H§\n# <soren> ok", H=H())
    yield T("ansible", "hf_token in Ansible vars", "model_repo: meta-llama/Llama-3.1-8B-Instruct\nhf_token: §H§\ngpu_count: 2", H=H())


def pos_private_key(rng):
    K = lambda label="RSA PRIVATE KEY", n=4: v_pem(rng, label, n)
    yield T("ansible", "OpenSSH private key in an Ansible vars block scalar",
            "deploy_user: ansible\ndeploy_ssh_private_key: |\n§K§", K=(pem_text(K("OPENSSH PRIVATE KEY", 4), "  "), "private_key"))
    yield T("helm", "TLS key in Helm values", "ingress:\n  tls:\n    crt: LS0tLS1CRUdJTi...\n    key: |\n§K§",
            K=(pem_text(K("RSA PRIVATE KEY", 4), "      "), "private_key"))
    yield T("firebase", "private_key of a Firebase Admin SDK JSON, one line with \\n escapes",
            '{\n  "type": "service_account",\n  "project_id": "fieldnotes-app",\n  "private_key_id": "§I§",\n'
            '  "private_key": "§K§\\n",\n  "client_id": "104839201746352918273"\n}',
            K=(pem_text(K("PRIVATE KEY", 3), "", "\\n"), "private_key"), I=rs(rng, 40, HEXL))
    yield T("rails-credentials", "APNs .p8 key (PKCS#8 EC) in Rails credentials",
            "apns:\n  key_id: 9QX4PL2M7T\n  team_id: 5RTZ8K2W1A\n  key: |\n§K§", K=(pem_text(K("PRIVATE KEY/EC", 2), "    "), "private_key"))
    yield T("swift", "PEM in a Swift multi-line string literal", 'let signingKeyPEM = """\n§K§\n"""', K=(pem_text(K("EC PRIVATE KEY", 2)), "private_key"))
    yield T("kotlin", "PEM in a Kotlin raw string", 'private val PRIVATE_KEY = """\n§K§\n""".trimIndent()', K=(pem_text(K("PRIVATE KEY", 4)), "private_key"))
    yield T("c", "EC key as concatenated C string constants", 'static const char *kClientKey =\n§K§',
            K=(pem_text(['"' + ln + '\\n"' for ln in K("EC PRIVATE KEY", 2)], "    ") + ";", "private_key"))
    yield T("env-local", "RSA key on one line with \\n in .env.local", 'JWT_ISSUER=auth.brightlane.io\nJWT_PRIVATE_KEY="§K§"',
            K=(pem_text(K("RSA PRIVATE KEY", 3), "", "\\n"), "private_key"))
    yield T("specific", "a bare id_ed25519 file", "§K§", K=(pem_text(K("OPENSSH PRIVATE KEY", 5)), "private_key"))
    yield T("perl", "PEM in a Perl heredoc", "my $key_pem = <<'PEM';\n§K§\nPEM\nmy $rsa = Crypt::OpenSSL::RSA->new_private_key($key_pem);",
            K=(pem_text(K("RSA PRIVATE KEY", 4)), "private_key"))
    yield T("specific", "encrypted PKCS#8 key (still a private key, decision D6)", "§K§", K=(pem_text(K("ENCRYPTED PRIVATE KEY", 5)), "private_key"))
    yield T("specific", "armored PGP private key block (decision D6)", "§K§", K=(pem_text(K("PGP PRIVATE KEY BLOCK", 5)), "private_key"))
    yield T("nix", "DSA key written by a Nix expression", 'environment.etc."legacy/dsa.key".text = \'\'\n§K§\n\'\';',
            K=(pem_text(K("DSA PRIVATE KEY", 3), "  "), "private_key"))


def pos_jwt(rng):
    now = lambda: rng.randint(1_700_000_000, 1_760_000_000)

    def J(payload, alg="HS256"):
        return (v_jwt(rng, payload, alg), "jwt")
    user = lambda: rs(rng, 8, HEXL) + "-" + rs(rng, 4, HEXL)
    t = now()
    yield T("har", "Bearer JWT in a captured request header", '"headers": [\n  {"name": "Authorization", "value": "Bearer §J§"},\n  {"name": "Accept", "value": "application/json"}\n]',
            J=J({"sub": user(), "iat": t, "exp": t + 3600, "scope": "read:orders"}, "RS256"))
    t = now()
    yield T("postman", "access_token value in a Postman environment", '{"key": "access_token", "value": "§J§", "type": "secret", "enabled": true}',
            J=J({"sub": "42187", "name": "api-tester", "iat": t, "exp": t + 900}))
    t = now()
    yield T("supabase", "Supabase service_role key (a JWT) in .env.local", "NEXT_PUBLIC_SUPABASE_URL=https://qzkfjrmtwplxvbnc.supabase.co\nSUPABASE_SERVICE_ROLE_KEY=§J§",
            J=J({"iss": "supabase", "ref": "qzkfjrmtwplxvbnc", "role": "service_role", "iat": t, "exp": t + 315360000}))
    t = now()
    yield T("kotlin", "hard-coded auth token constant in Kotlin", 'private const val AUTH_TOKEN = "§J§"', J=J({"sub": "device-7731", "iat": t, "exp": t + 86400 * 365}))
    t = now()
    yield T("crash-report", "request headers dumped in a crash report", "Fatal error while syncing (HTTP 500)\nRequest headers:\n  Host: api.tidewater-logistics.com\n  Authorization: Bearer §J§\n  X-Request-Id: 7f3c2a91",
            J=J({"sub": user(), "roles": ["dispatcher"], "iat": t, "exp": t + 7200}, "RS256"))
    t = now()
    yield T("chat", "JWT pasted in a chat transcript comment", "# [11:20] <lucia> this token reproduces the 403: §J§\n# [11:21] <mateo> looking",
            J=J({"sub": user(), "aud": "billing", "iat": t, "exp": t + 600}))
    t = now()
    yield T("lua", "OpenResty sets an Authorization header", 'ngx.req.set_header("Authorization", "Bearer §J§")', J=J({"sub": "edge-proxy", "iat": t}))
    t = now()
    yield T("powershell", "Bearer JWT in a PowerShell header hashtable", '$headers = @{ Authorization = "Bearer §J§" }\nInvoke-RestMethod -Uri "https://api.kestrel-analytics.com/v2/reports" -Headers $headers',
            J=J({"sub": user(), "iat": t, "exp": t + 3600}))
    t = now()
    yield T("grafana", "JWT in a Grafana datasource header value", "datasources:\n  - name: Metrics API\n    type: prometheus\n    url: https://metrics.quantumleaf.ai\n    jsonData:\n      httpHeaderName1: Authorization\n    secureJsonData:\n      httpHeaderValue1: 'Bearer §J§'",
            J=J({"sub": "grafana", "iat": t, "exp": t + 86400 * 90}))
    t = now()
    yield T("prometheus", "service-account JWT as bearer_token in a scrape config", "scrape_configs:\n  - job_name: kubelet\n    scheme: https\n    bearer_token: §J§\n    static_configs:\n      - targets: ['10.0.3.14:10250']",
            J=J({"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "monitoring", "sub": "system:serviceaccount:monitoring:prometheus"}, "RS256"))
    t = now()
    yield T("desktop-ini", "session token in a desktop app's .ini", "[Session]\nServer=https://sync.mailhaven.net\nToken=§J§\nLastSync=2024-04-18T07:55:02Z",
            J=J({"sub": user(), "iat": t, "exp": t + 2592000}))


def pos_url_credentials(rng):
    P = v_url_password
    def U(fmt):
        return (fmt.replace("PW", P(rng)), "url_credentials")
    yield T("redis", "redis.from_url with a password in the URL (Python)", "import redis\n\ncache = redis.from_url(\"§U§\")\ncache.ping()",
            U=U("rediss://default:PW@redis-14231.c256.us-east-1-3.ec2.cloud.redislabs.com:14231/0"))
    yield T("mongo", "MongoClient with an SRV URI holding user and password", 'from pymongo import MongoClient\n\nclient = MongoClient("§U§")\ndb = client["inventory"]',
            U=U("mongodb+srv://inventory_app:PW@cluster0.ab1cd.mongodb.net/?retryWrites=true&w=majority"))
    yield T("helm", "externalDatabase url in Helm values", "externalDatabase:\n  enabled: true\n  url: §U§",
            U=U("postgresql://keycloak:PW@pg-main.db.svc.cluster.local:5432/keycloak"))
    yield T("ansible", "db_url in Ansible vars", "app_env: production\ndb_url: \"§U§\"", U=U("mysql://shop:PW@10.20.0.15:3306/shop"))
    yield T("env-local", "DATABASE_URL with a password (url_credentials even in DATABASE_URL)", "DATABASE_URL=§U§\nSHADOW_DATABASE_URL=postgres://localhost/shadow",
            U=U("postgresql://app_user:PW@ep-cool-river-123456.eu-central-1.aws.neon.tech/neondb?sslmode=require"))
    yield T("elixir", "Ecto repo url with credentials", 'config :shop, Shop.Repo,\n  url: "§U§",\n  pool_size: 10', U=U("ecto://shop:PW@db.internal.brightlane.io/shop_prod"))
    yield T("hocon", "amqps URL in a Scala/Akka HOCON config", 'rabbitmq {\n  uri = "§U§"\n  prefetch = 50\n}', U=U("amqps://orders:PW@rabbit.tidewater-logistics.com:5671/orders"))
    yield T("powershell", "ftp URL with credentials in PowerShell", '$uri = "§U§"\n$wc = New-Object System.Net.WebClient\n$wc.UploadFile($uri, ".\\report.csv")',
            U=U("ftp://reports:PW@ftp.hofmann-bau.de/upload/report.csv"))
    yield T("nix", "DATABASE_URL in a NixOS systemd service environment", 'systemd.services.api.environment = {\n  DATABASE_URL = "§U§";\n  PORT = "8080";\n};',
            U=U("postgres://api:PW@127.0.0.1:5432/api"))
    yield T("kotlin", "AMQP URI string in Kotlin", 'val factory = ConnectionFactory().apply {\n    setUri("§U§")\n}', U=U("amqp://telemetry:PW@mq.corvid-systems.eu:5672/%2F"))
    yield T("r", "mongolite connection URL in R", 'library(mongolite)\nm <- mongo(collection = "visits", url = "§U§")',
            U=U("mongodb://analyst:PW@mongo-1.lakeshore-clinic.org:27017/stats?authSource=admin"))
    yield T("dart", "Mongo Db URI in Dart", "final db = await Db.create('§U§');\nawait db.open();", U=U("mongodb://mobile:PW@mongo.sorrel.dev:27017/app"))


def pos_password(rng):
    W = lambda: (v_password(rng), "password")
    yield T("ansible-inventory", "ansible_password in an INI inventory line",
            "[web]\nweb1 ansible_host=10.0.4.11 ansible_user=deploy ansible_password=§W§\nweb2 ansible_host=10.0.4.12 ansible_user=deploy", W=W())
    yield T("helm", "Bitnami MySQL Helm values auth.rootPassword", "auth:\n  rootPassword: \"§W§\"\n  database: shop\n  username: shop", W=W())
    yield T("grafana", "admin_password in grafana.ini", "[security]\nadmin_user = admin\nadmin_password = §W§\ncookie_secure = true", W=W())
    yield T("desktop-ini", "Password= in a desktop mail client's .ini", "[Account1]\nServer=imap.mailhaven.net\nUser=priya\nPassword=§W§\nPort=993", W=W())
    yield T("powershell", "$Password string assigned in PowerShell", '$User = "svc-backup"\n$Password = "§W§"\n$sec = ConvertTo-SecureString $Password -AsPlainText -Force', W=W())
    yield T("bat", "set DB_PASSWORD in a batch file", "@echo off\nset DB_USER=report\nset DB_PASSWORD=§W§\nsqlcmd -S db01 -U %DB_USER% -P %DB_PASSWORD% -i nightly.sql", W=W())
    yield T("prometheus", "basic_auth password in a Prometheus scrape config", "scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      password: §W§\n    static_configs:\n      - targets: ['10.0.5.20:9100']", W=W())
    yield T("lua", "local password in Lua", 'local mysql = require "resty.mysql"\nlocal user = "ledger"\nlocal password = "§W§"', W=W())
    yield T("perl", "$password in a Perl DBI script", "my $dsn = 'DBI:Pg:dbname=ledger;host=db02';\nmy $user = 'ledger';\nmy $password = '§W§';\nmy $dbh = DBI->connect($dsn, $user, $password);", W=W())
    yield T("gradle-properties", "keystore password in gradle.properties", "RELEASE_STORE_FILE=release.jks\nRELEASE_STORE_PASSWORD=§W§\nRELEASE_KEY_ALIAS=upload", W=W())
    yield T("mongo", "password= keyword of a Mongo client (assigned keyword)", 'client = MongoClient("mongo-2.internal", 27017, username="reporting", password="§W§", authSource="admin")', W=W())
    yield T("swift", "password constant in Swift", 'let username = "kiosk"\nlet password = "§W§"', W=W())
    yield T("elixir", "Repo password in Elixir config", 'config :ledger, Ledger.Repo,\n  username: "ledger",\n  password: "§W§",\n  hostname: "db03"', W=W())


def pos_generic_secret(rng):
    G = lambda style="alnum": (v_generic(rng, style), "generic_secret")
    yield T("rails-credentials", "128-hex secret_key_base in Rails credentials", "secret_key_base: §G§", G=G("hex128"))
    yield T("discord", "Discord bot token (no listed format) under DISCORD_TOKEN", 'import discord\n\nDISCORD_TOKEN = "§G§"\nclient = discord.Client(intents=discord.Intents.default())', G=G("discord"))
    yield T("env-local", "NEXTAUTH_SECRET in .env.local", "NEXTAUTH_URL=https://app.sorrel.dev\nNEXTAUTH_SECRET=§G§", G=G("b64"))
    yield T("helm", "jwtSecret in Helm values", "backend:\n  replicas: 2\n  jwtSecret: \"§G§\"", G=G())
    yield T("powershell", "X-API-Key header with a random value", '$headers = @{ "X-API-Key" = "§G§" }\nInvoke-RestMethod -Uri "https://api.kestrel-analytics.com/v1/usage" -Headers $headers', G=G())
    yield T("har", "X-Api-Key header in a HAR file", '"headers": [\n  {"name": "X-Api-Key", "value": "§G§"},\n  {"name": "Accept", "value": "*/*"}\n]', G=G())
    yield T("ansible", "32-hex datadog_api_key in Ansible vars", "datadog_site: datadoghq.eu\ndatadog_api_key: \"§G§\"", G=G("hex32"))
    yield T("grafana", "[security] secret_key in grafana.ini", "[security]\nsecret_key = §G§\ndisable_gravatar = true", G=G())
    yield T("postman", "client_secret in a Postman environment", '{"key": "client_secret", "value": "§G§", "type": "secret", "enabled": true}', G=G())
    yield T("lua", "api_secret in a Lua module", 'local M = {}\nM.api_secret = "§G§"\nreturn M', G=G())
    yield T("dart", "apiKey constant in Dart with no provider format", "const weatherApiKey = '§G§';", G=G("hex32"))
    yield T("nix", "grafana secret_key in a NixOS module", 'services.grafana.settings.security = {\n  admin_user = "admin";\n  secret_key = "§G§";\n};', G=G())


def pos_email(rng):
    E = lambda: (v_email(rng), "email")
    name = v_name(rng)
    yield T("front-matter", "author e-mail in a post's YAML front matter", "---\ntitle: Migrating our queue to NATS\nauthor: §N§\nemail: §E§\ndate: 2024-03-02\n---",
            N=name, E=(v_email(rng, name), "email"))
    name = v_name(rng)
    yield T("toml", "authors entry in pyproject.toml", '[project]\nname = "tidewater-etl"\nversion = "0.4.1"\nauthors = [{ name = "§N§", email = "§E§" }]',
            N=name, E=(v_email(rng, name), "email"))
    name = v_name(rng)
    yield T("toml", "authors in Cargo.toml", '[package]\nname = "kestrel-cli"\nversion = "1.2.0"\nauthors = ["§N§ <§E§>"]\nedition = "2021"',
            N=name, E=(v_email(rng, name), "email"))
    yield T("ansible", "letsencrypt_email in Ansible vars", "letsencrypt_email: §E§\nletsencrypt_domains:\n  - shop.brightlane.io", E=(v_role_email(rng, "ops"), "email"))
    name = v_name(rng)
    yield T("helm", "maintainers in a Helm Chart.yaml", "apiVersion: v2\nname: ledger\nversion: 0.3.7\nmaintainers:\n  - name: §N§\n    email: §E§",
            N=name, E=(v_email(rng, name), "email"))
    name = v_name(rng)
    yield T("desktop-ini", "Email= in a desktop app's .ini", "[Identity]\nFullName=§N§\nEmail=§E§\nSignature=Sent from my desk",
            N=name, E=(v_email(rng, name), "email"))
    yield T("chat", "addresses in a pasted chat transcript, one label per line", "# <greta> who owns the billing alerts?\n# <bjorn> mail §E1§\n# <bjorn> or the on-call list, §E2§",
            E1=E(), E2=(v_role_email(rng, "billing-oncall"), "email"))
    yield T("crash-report", "reporter address in a crash report", "Crash ID: 3b6c0e7d\nApp: Fieldnotes 2.8.1 (iOS 17.4)\nReporter: §E§\nException Type: EXC_BAD_ACCESS (SIGSEGV)", E=E())
    name = v_name(rng)
    yield T("perl", "author header comment of a Perl module", "package Ledger::Export;\n# Author: §N§ <§E§>\nuse strict;\nuse warnings;",
            N=name, E=(v_email(rng, name), "email"))
    yield T("r", "person() in an R DESCRIPTION (Authors@R is not an e-mail)", 'Package: tidyledger\nAuthors@R: person("Ana", "Silva", email = "§E§", role = c("aut", "cre"))\nLicense: MIT',
            E=(v_email(rng, "Ana Silva"), "email"))
    yield T("codeowners", "e-mail owners in CODEOWNERS", "# infra\n*.tf   §E1§\n/docs/ §E2§", E1=E(), E2=E())
    yield T("grafana", "two addresses on one line make one label", "receivers:\n  - uid: mail01\n    type: email\n    settings:\n      addresses: §E1§;§E2§",
            E1=E(), E2=E())


def pos_phone(rng):
    Ph = lambda style=None: (v_phone(rng, style), "phone")
    yield T("front-matter", "phone in a staff page's YAML front matter", "---\nname: Front desk\nphone: \"§P§\"\nhours: Mon-Fri 9-17\n---", P=Ph(3))
    yield T("desktop-ini", "Phone= in a desktop app's .ini", "[Support]\nCompany=Tidewater Logistics\nPhone=§P§\nHours=24/7", P=Ph(0))
    yield T("chat", "mobile number in a pasted chat transcript", "# <tamsin> if the pager fails call me on §P§\n# <oskar> noted", P=Ph(4))
    yield T("ansible", "oncall_phone in Ansible vars", "oncall_name: Rosa\noncall_phone: \"§P§\"", P=Ph(2))
    yield T("plist", "support phone in an iOS Info.plist", "<key>SupportPhone</key>\n<string>§P§</string>\n<key>SupportURL</key>\n<string>https://help.fieldnotes.app</string>", P=Ph(5))
    yield T("rails-seeds", "phone in a Rails seeds YAML fixture", "clinic_paris:\n  name: Cabinet Moreau\n  phone: \"§P§\"\n  city: Paris", P=Ph(6))
    em = v_email(rng)
    yield T("csv", "CSV row with an e-mail and a phone: two labels on one line", "id,name,email,phone\n17,§N§,§E§,§P§",
            N=v_name(rng), E=(em, "email"), P=Ph(1))
    yield T("kotlin", "SUPPORT_PHONE constant in Kotlin", 'object Contact {\n    const val SUPPORT_PHONE = "§P§"\n}', P=Ph(0))
    yield T("env-local", "Twilio sender number in E.164 in .env.local", "TWILIO_FROM_NUMBER=§P§\nSMS_ENABLED=true",
            P=("+1%d55501%s" % (rng.randint(201, 989), rs(rng, 2, DIGITS)), "phone"))
    yield T("json", "contact object with an Australian number", '{\n  "contact": {\n    "name": "Sydney office",\n    "phone": "§P§"\n  }\n}', P=Ph(7))
    yield T("dart", "support phone constant in Dart", "const supportPhone = '§P§';", P=Ph(8))


# ---------------------------------------------------------------------------
# Part 2: documentation example keys, placeholders, lookups and near-misses
# ---------------------------------------------------------------------------

AWS_DOC_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_DOC_ID2 = "AKIAI44QH8DHBEXAMPLE"
AWS_DOC_SECRET2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
# Stripe's API reference examples (decision D1: a provider's published example value is a placeholder)
STRIPE_DOC_SK = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_DOC_SK2 = "sk_test_BQokikJOvBiI2HlWgH4olfQ2"
STRIPE_DOC_PK = "pk_test_TYooMQauvdEDq54NiTphI7jx"
# the token shown by default on jwt.io (HS256, secret "your-256-bit-secret")
JWT_IO = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
          "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
# the example token in Telegram's Bot API documentation
TELEGRAM_DOC = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SLACK_DOC_HOOK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def N(category, ctx, why, text):
    return {"_cat": category, "text": text, "labels": [], "note": why + "; " + ctx, "_values": []}


def negatives_doc(rng):
    out = []
    a = out.append
    # --- AWS documented keys: placeholders by the README ---
    a(N("placeholder", "shell", "aws configure session with AWS's documented example keys",
        "$ aws configure\nAWS Access Key ID [None]: %s\nAWS Secret Access Key [None]: %s\nDefault region name [None]: us-west-2\n"
        "Default output format [None]: json" % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "ansible", "AWS documented keys in Ansible vars",
        "aws_access_key: %s\naws_secret_key: %s\naws_region: us-east-1" % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "envrc", "AWS documented keys exported by direnv",
        "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s" % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "powershell", "Set-AWSCredential with AWS documented keys",
        "Set-AWSCredential -AccessKey %s -SecretKey %s -StoreAs MyProfileName" % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "rclone", "rclone.conf with AWS documented keys",
        "[s3]\ntype = s3\nprovider = AWS\naccess_key_id = %s\nsecret_access_key = %s\nregion = us-east-1" % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "helm", "external-dns Helm values with AWS documented keys",
        'aws:\n  credentials:\n    accessKey: "%s"\n    secretKey: "%s"' % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "r", "Sys.setenv with AWS documented keys in R",
        'Sys.setenv("AWS_ACCESS_KEY_ID" = "%s",\n           "AWS_SECRET_ACCESS_KEY" = "%s")' % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "rails-credentials", "AWS's second documented key pair (both contain EXAMPLE)",
        "aws:\n  access_key_id: %s\n  secret_access_key: %s" % (AWS_DOC_ID2, AWS_DOC_SECRET2)))
    a(N("placeholder", "swift", "AWSStaticCredentialsProvider with AWS documented keys",
        'let provider = AWSStaticCredentialsProvider(accessKey: "%s", secretKey: "%s")' % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "bat", "batch file with AWS documented keys",
        "set AWS_ACCESS_KEY_ID=%s\nset AWS_SECRET_ACCESS_KEY=%s\naws s3 ls" % (AWS_DOC_ID, AWS_DOC_SECRET)))
    a(N("placeholder", "markdown", "AWS documented key id in prose",
        "Access key IDs look like `%s`; the matching secret looks like `%s`." % (AWS_DOC_ID, AWS_DOC_SECRET)))
    # --- other providers' published example values (decision D1) ---
    a(N("placeholder", "powershell", "Stripe's API-reference example test key (decision D1)",
        '$env:STRIPE_API_KEY = "%s"\nstripe customers list --limit 3' % STRIPE_DOC_SK))
    a(N("placeholder", "elixir", "Stripe's older documented example test key (decision D1)",
        'config :stripity_stripe, api_key: "%s"' % STRIPE_DOC_SK2))
    a(N("placeholder", "dart", "Stripe's documented publishable test key (pk_ keys are never secrets)",
        "Stripe.publishableKey = '%s';" % STRIPE_DOC_PK))
    a(N("placeholder", "har", "jwt.io's default example token in a HAR header (decision D1)",
        '"headers": [\n  {"name": "Authorization", "value": "Bearer %s"}\n]' % JWT_IO))
    a(N("placeholder", "postman", "jwt.io's default example token as a Postman variable (decision D1)",
        '{"key": "token", "value": "%s", "enabled": true}' % JWT_IO))
    a(N("placeholder", "kotlin", "jwt.io's example token in a parser unit test (decision D1)",
        'val sample = "%s"\nassertEquals("John Doe", JwtParser.parse(sample).claims["name"])' % JWT_IO))
    a(N("placeholder", "lua", "Telegram's Bot API documentation token (decision D1)",
        'local token = "%s"  -- from the Bot API docs' % TELEGRAM_DOC))
    a(N("placeholder", "alertmanager", "Slack's documented webhook with zeros and XXXX",
        "global:\n  slack_api_url: '%s'" % SLACK_DOC_HOOK))
    # --- textual placeholders ---
    a(N("placeholder", "env-local", "truncated sk-... and sk-ant-... placeholders",
        "OPENAI_API_KEY=sk-...\nANTHROPIC_API_KEY=sk-ant-...\nHF_TOKEN=hf_..."))
    a(N("placeholder", "envrc", "ghp_ followed by x's", "export GITHUB_TOKEN=ghp_" + "x" * 36))
    a(N("placeholder", "helm", "angle-bracket placeholder", 'openaiApiKey: "<YOUR_OPENAI_API_KEY>"\nanthropicApiKey: "<anthropic-key>"'))
    a(N("placeholder", "ansible", "changeme and empty passwords", "mysql_root_password: changeme\nmysql_replication_password: \"\"\nmysql_user_password: \"{{ vault_mysql_password }}\""))
    a(N("placeholder", "desktop-ini", "masked password", "[Account1]\nUser=priya\nPassword=********"))
    a(N("placeholder", "env-local", "REDACTED in a pasted config", "STRIPE_SECRET_KEY=sk_live_REDACTED\nSENDGRID_API_KEY=SG.REDACTED"))
    a(N("placeholder", "nix", "npm token of x's", 'NPM_TOKEN = "npm_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";'))
    a(N("placeholder", "env-local", "connection string with an empty AccountKey and ${} DSN",
        'AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=devstore;AccountKey=;EndpointSuffix=core.windows.net"\n'
        "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app"))
    a(N("placeholder", "continue", "your-key-here placeholder", "models:\n  - provider: anthropic\n    apiKey: sk-ant-api03-your-key-here"))
    a(N("placeholder", "powershell", "password equal to its own name, and a short password",
        '$Password = "Password"\n$PinCode = "1234"'))
    a(N("placeholder", "grafana", "short non-random secret under a secret name", "[security]\nadmin_password = admin\nsecret_key = secret"))
    # --- environment / config lookups ---
    a(N("env_lookup", "powershell", "env var interpolated into a header", '$headers = @{ Authorization = "Bearer $env:OPENAI_API_KEY" }'))
    a(N("env_lookup", "bat", "%VAR% expansion", "set TOKEN=%GITHUB_TOKEN%\ngh auth login --with-token < token.txt"))
    a(N("env_lookup", "kotlin", "System.getenv lookup", 'Stripe.apiKey = System.getenv("STRIPE_SECRET_KEY")'))
    a(N("env_lookup", "r", "Sys.getenv lookup", 'token <- Sys.getenv("HF_TOKEN")\nif (token == "") stop("set HF_TOKEN")'))
    a(N("env_lookup", "lua", "os.getenv lookup", 'local bot_token = os.getenv("TELEGRAM_BOT_TOKEN")'))
    a(N("env_lookup", "helm", "secretKeyRef", "env:\n  - name: HF_TOKEN\n    valueFrom:\n      secretKeyRef:\n        name: hf-credentials\n        key: token"))
    a(N("env_lookup", "ansible", "hashi_vault lookup",
        "gitlab_api_token: \"{{ lookup('community.hashi_vault.hashi_vault', 'secret=kv/data/ci:gitlab_token') }}\""))
    a(N("env_lookup", "elixir", "System.fetch_env!", 'secret_key_base = System.fetch_env!("SECRET_KEY_BASE")'))
    a(N("env_lookup", "swift", "ProcessInfo environment lookup", 'let apiKey = ProcessInfo.processInfo.environment["API_KEY"] ?? ""'))
    a(N("env_lookup", "nix", "passwordFile reference", 'services.grafana.settings.security.admin_password = "$__file{/run/secrets/grafana-admin}";\n'
        'users.users.deploy.hashedPasswordFile = "/run/secrets/deploy-hash";'))
    a(N("env_lookup", "makefile", "token read from pass", "NPM_TOKEN := $(shell pass show ci/npm-token)"))
    a(N("env_lookup", "perl", "%ENV lookup", "my $secret = $ENV{AWS_SECRET_ACCESS_KEY} or die 'no secret';"))
    a(N("env_lookup", "dart", "Platform.environment lookup", "final key = Platform.environment['OPENAI_API_KEY'];"))
    # --- near-misses of the formats ---
    a(N("near_miss", "python", "AKIB prefix under a neutral name", 'bucket_label = "AKIB%s"' % rs(rng, 16, UPPER + "234567")))
    a(N("near_miss", "yaml", "lowercase akia under a neutral name", "trace_label: akia%s" % rs(rng, 16, LOWER + "234567")))
    a(N("near_miss", "kotlin", "ghp_ with too few characters in a fixture id", 'val fixtureId = "ghp_%s"' % mixed(rng, 12)))
    a(N("near_miss", "markdown", "token prefixes named in prose", "Personal access tokens start with `ghp_`, fine-grained ones with `github_pat_`,\n"
        "GitLab ones with `glpat-` and npm ones with `npm_`."))
    a(N("near_miss", "lua", "xoxz- is not a Slack prefix", 'local channel_ref = "xoxz-%s-%s"' % (rs(rng, 11, DIGITS), mixed(rng, 24))))
    a(N("near_miss", "html", "sk- CSS classes from an estimator repr",
        '<div class="sk-toggleable"><input class="sk-toggleable__control sk-hidden--visually" id="sk-estimator-id-1" type="checkbox">\n'
        '<label for="sk-estimator-id-1" class="sk-toggleable__label sk-toggleable__label-arrow">Pipeline</label></div>'))
    a(N("near_miss", "css", "sk- spinner classes", ".sk-circle { width: 40px; height: 40px; }\n.sk-circle .sk-child:before { animation: sk-circleBounceDelay 1.2s infinite; }"))
    a(N("near_miss", "python", "hf_ identifiers", 'from huggingface_hub import hf_hub_download\nhf_model_id = "mistralai/Mistral-7B-v0.1"\npath = hf_hub_download(hf_model_id, "config.json")'))
    a(N("near_miss", "yaml", "three dotted parts that do not start with eyJ",
        "span_ref: %s.%s.%s" % (mixed(rng, 20, B64URL), mixed(rng, 30, B64URL), mixed(rng, 22, B64URL))))
    cert_b64 = base64.b64encode(bytes.fromhex("308203b9308202a1a003020102021400") + rbytes(rng, 128)).decode()
    pem_cert = ["-----BEGIN CERTIFICATE-----"] + [cert_b64[i:i + 64] for i in range(0, 192, 64)] + ["-----END CERTIFICATE-----"]
    a(N("near_miss", "helm", "CA certificate in Helm values", "tls:\n  caCert: |\n" + "\n".join("    " + ln for ln in pem_cert)))
    pub_b64 = base64.b64encode(bytes.fromhex("30820122300d06092a864886f70d01010105000382010f003082010a0282010100") + rbytes(rng, 96)).decode()
    pem_pub = ["-----BEGIN PUBLIC KEY-----"] + [pub_b64[i:i + 64] for i in range(0, 128, 64)] + ["-----END PUBLIC KEY-----"]
    a(N("near_miss", "kotlin", "public key in a Kotlin raw string", 'private val VERIFY_KEY = """\n' + "\n".join(pem_pub) + '\n"""'))
    a(N("near_miss", "ansible", "ssh public key in authorized_key",
        "- name: Add deploy key\n  ansible.posix.authorized_key:\n    user: deploy\n    key: \"ssh-ed25519 %s deploy@ci\"" % base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + rbytes(rng, 32)).decode()))
    a(N("near_miss", "ansible", "git@github.com remote in the git module", "- ansible.builtin.git:\n    repo: git@github.com:brightlane/infra.git\n    dest: /srv/infra\n    version: main"))
    a(N("near_miss", "makefile", "https user@host without a password, scp user@host",
        "clone:\n\tgit clone https://jdoe@bitbucket.org/brightlane/site.git\nship:\n\tscp site.tar.gz deploy@bastion.internal:/srv/releases/"))
    a(N("near_miss", "env-local", "DSN without credentials", "DATABASE_URL=postgres://localhost/app_dev\nREDIS_URL=redis://localhost:6379/0"))
    a(N("near_miss", "dart", "Stripe live publishable key (pk_ is public)", "Stripe.publishableKey = 'pk_live_%s';" % mixed(rng, 24)))
    a(N("near_miss", "yaml", "AIza with too few characters under a neutral name", "widget_ref: AIzaSy%s" % mixed(rng, 12, B64URL)))
    a(N("near_miss", "python", "random strings under non-secret names", 'request_id = "%s"\nbuild_id = "%s"\netag = "%s"' % (mixed(rng, 26), mixed(rng, 24), rs(rng, 32, HEXL))))
    a(N("near_miss", "lua", "prefix checks, not keys", 'if key:sub(1, 7) == "sk-ant-" then provider = "anthropic"\nelseif key:sub(1, 3) == "sk-" then provider = "openai" end'))
    a(N("near_miss", "javascript", "npm_ environment names", "const version = process.env.npm_package_version;\nconst registry = process.env.npm_config_registry;"))
    a(N("near_miss", "toml", "pypi-named index, not a token", '[[tool.uv.index]]\nname = "pypi-simple"\nurl = "https://pypi.org/simple"'))
    a(N("near_miss", "python", "Telegram-like value that is too short", 'chat_ref = "12345:AbCd"'))
    a(N("near_miss", "python", "SendGrid-like value with wrong part lengths", 'template_ref = "SG.%s.%s"' % (mixed(rng, 8), mixed(rng, 10))))
    a(N("near_miss", "kotlin", "Slack webhook base URL without a path", 'private const val SLACK_HOOKS_BASE = "https://hooks.slack.com/services/"'))
    a(N("near_miss", "bat", "glpat- with too few characters in a comment", "rem tokens look like glpat-1a2b3c; never commit real ones\nset GITLAB_HOST=gitlab.corvid-systems.eu"))
    a(N("hash_digest", "yarn-lock", "sha512 integrity string (a digest, even though it looks like an Azure key)",
        '"left-pad@^1.3.0":\n  version "1.3.0"\n  integrity sha512-%s' % base64.b64encode(rbytes(rng, 64)).decode()))
    a(N("hash_digest", "helm", "image pinned by sha256 digest", "image:\n  repository: ghcr.io/brightlane/api\n  digest: sha256:%s" % rs(rng, 64, HEXL)))
    # --- PII near-misses ---
    a(N("pii_near_miss", "front-matter", "e-mail at example.com", "---\nauthor: Jane Roe\nemail: jane.roe@example.com\n---"))
    a(N("pii_near_miss", "desktop-ini", "e-mail at localhost / .invalid", "[Mail]\nFrom=noreply@localhost\nBounce=bounces@mail.invalid"))
    a(N("pii_near_miss", "kotlin", "annotations are not e-mails", "@Composable\nfun Greeting(@StringRes name: Int) = Text(stringResource(name))"))
    a(N("pii_near_miss", "toml", "git+ssh dependency and @scope package", 'dependencies = ["ledger-core @ git+ssh://git@github.com/brightlane/ledger-core.git@v1.4.0"]\n'
        '# JS side uses "@brightlane/ui": "^2.1.0"'))
    a(N("pii_near_miss", "yaml", "dates, versions, IPs and ports", "release: 2024-05-17\nversion: 3.11.7\nlisten: 10.0.4.11:8080\nbuild: 20240517.3"))
    a(N("pii_near_miss", "csv", "ISBN, SSN-style test id and a hex colour", "isbn,test_id,colour\n978-3-16-148410-0,123-45-6789,#1e90ff"))
    a(N("pii_near_miss", "python", "floats, money, coordinates and large integers",
        "tolerance = 1.5e-3\nprice = 1299.99\ncoords = (45.464211, 9.191383)\nmax_rows = 2147483647"))
    a(N("pii_near_miss", "r", "Authors@R field name and a person without e-mail", 'Authors@R: person("Ana", "Silva", role = c("aut", "cre"))'))
    return out


# ---------------------------------------------------------------------------
# Part 3: real code, sampled without filtering
# ---------------------------------------------------------------------------

HEX_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")
UUID_RUN = re.compile(
    r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z])")
B64_RUN = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/_=-])")
SECRETISH_NAME = re.compile(r"password|token|secret|key|auth|credential", re.I)
STRING_PREFIX = re.compile(r"^[A-Za-z]*('''|\"\"\"|'|\")(.*)\1$", re.S)
# characters that str.splitlines() treats as line breaks besides \n; they are
# replaced by a space so that a record's line numbers mean the same to any reader
ODD_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
REAL_CATEGORIES = ["uuid", "hash_digest", "test_vector", "high_entropy", "nonsecret_name"]
PER_CATEGORY = 76      # windows per category
STDLIB_QUOTA = 14      # of which from the standard library, where it has enough
PER_FILE_CAP = {"uuid": 5}  # windows per file and category (default 2)


def shannon(s):
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def has_mixed(s):
    return bool(re.search(r"[A-Z]", s) and re.search(r"[a-z]", s) and re.search(r"[0-9]", s))


def source_files(root, stdlib):
    """Sorted .py files under root. stdlib: skip test folders, test_*.py and the
    site-packages folder. purelib: skip only the project's own editable-install
    shim and the detect_secrets package (a secret scanner, kept out on purpose)."""
    out = []
    for d, dirs, names in os.walk(root):
        top = os.path.relpath(d, root) == "."
        keep = []
        for x in dirs:
            if x == "__pycache__":
                continue
            if stdlib and x in ("test", "tests", "idle_test", "site-packages"):
                continue
            if not stdlib and top and (x.startswith("detect_secrets") or "codex_nb" in x):
                continue
            keep.append(x)
        dirs[:] = sorted(keep)
        for f in sorted(names):
            if not f.endswith(".py") or "codex_nb" in f:
                continue
            if stdlib and f.startswith("test_"):
                continue
            out.append(os.path.join(d, f))
    return out


def scan_file(rel, src, cands):
    """Add (rel, line) candidates of each category for one file's source."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return
    name_lines, string_lines = set(), set()
    for tk in toks:
        if tk.type == tokenize.NAME and SECRETISH_NAME.search(tk.string):
            name_lines.add(tk.start[0])
    for tk in toks:
        if tk.type != tokenize.STRING:
            continue
        string_lines.add(tk.start[0])
        for i, seg in enumerate(tk.string.split("\n")):
            key = (rel, tk.start[0] + i)
            if UUID_RUN.search(seg):
                cands["uuid"].add(key)
            elif any(re.search(r"[0-9]", m.group()) and re.search(r"[a-fA-F]", m.group())
                     for m in HEX_RUN.finditer(seg)):
                cands["hash_digest"].add(key)
            elif any(has_mixed(m.group()) for m in B64_RUN.finditer(seg)):
                cands["test_vector"].add(key)
        if "\n" not in tk.string:
            m = STRING_PREFIX.match(tk.string)
            if m:
                body = m.group(2)
                if len(body) >= 20 and not re.search(r"\s", body) and shannon(body) >= 4.0:
                    cands["high_entropy"].add((rel, tk.start[0]))
    for line in name_lines & string_lines:
        cands["nonsecret_name"].add((rel, line))


def scan_candidates():
    paths = sysconfig.get_paths()
    cands = {c: set() for c in REAL_CATEGORIES}
    sources = {}
    for tag, root, stdlib in (("stdlib", paths["stdlib"], True), ("purelib", paths["purelib"], False)):
        for p in source_files(root, stdlib):
            rel = tag + "/" + os.path.relpath(p, root).replace(os.sep, "/")
            try:
                with tokenize.open(p) as fh:
                    src = fh.read()
            except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
                continue
            sources[rel] = p
            scan_file(rel, src, cands)
    # a line belongs to the first category that claims it
    seen = set()
    out = {}
    for c in REAL_CATEGORIES:
        out[c] = sorted(k for k in cands[c] if k not in seen)
        seen.update(out[c])
    return out, sources


def read_lines(path):
    with tokenize.open(path) as fh:
        text = fh.read()
    lines = text.split("\n")
    return ["".join(" " if ch in ODD_BREAKS else ch for ch in ln) for ln in lines]


def sample_real(cands, sources):
    """Seeded sample of windows per category; nothing is dropped for its content.
    Skips only: a file that already gave its cap of windows to the category, and a
    candidate line already inside a window taken before (so windows do not repeat)."""
    taken = {}      # rel -> list of (start, end) 1-based inclusive
    cache = {}
    picked = []
    for cat in REAL_CATEGORIES:
        rng = random.Random("outofsample/real/" + cat)
        cap = PER_FILE_CAP.get(cat, 2)
        per_file = Counter()
        got = []
        for src_tag, quota in (("stdlib", STDLIB_QUOTA), ("purelib", None)):
            pool = [k for k in cands[cat] if k[0].startswith(src_tag + "/")]
            order = rng.sample(pool, len(pool))
            want = (quota if quota is not None else PER_CATEGORY - len(got))
            n = 0
            for rel, line in order:
                if n >= want:
                    break
                if per_file[rel] >= cap:
                    continue
                if any(a <= line <= b for a, b in taken.get(rel, ())):
                    continue
                if rel not in cache:
                    cache[rel] = read_lines(sources[rel])
                lines = cache[rel]
                size = rng.randint(1, 12)
                before = rng.randint(0, size - 1)
                start = max(1, line - before)
                end = min(len(lines), start + size - 1)
                start = max(1, min(start, end - size + 1))
                # trim blank lines at the edges (never the candidate line)
                while start < line and not lines[start - 1].strip():
                    start += 1
                while end > line and not lines[end - 1].strip():
                    end -= 1
                taken.setdefault(rel, []).append((start, end))
                per_file[rel] += 1
                got.append((cat, rel, line, start, end, lines[start - 1:end]))
                n += 1
        picked.extend(got)
    return picked


# Labelling decisions for sampled real-code windows, keyed by the sampled line
# ("stdlib/..." or "purelib/..." relative path, then the candidate line). Labels give
# absolute line numbers in that file. Every sampled window not listed here was read and
# holds no secret or PII by the policy; windows listed with no labels were judged
# negative for the reason given.
REAL_DECISIONS = {
    "stdlib/logging/__init__.py:45": (
        [(45, "email")], "__author__ header holds a personal e-mail address (vinay_sajip@red-dove.com)"),
    "purelib/ghapi/gh_spec.py:6075": (
        [(6076, "email")], "service_account 'dependabot@my-project.iam.gserviceaccount.com' in GitHub's API example is an "
        "e-mail address at a non-example domain, so email by the policy (it names a GCP service account, not a person)"),
    "purelib/ghapi/gh_spec.py:269": (
        [], "40-hex access_token in the body_examples of GitHub's published API description: a provider's documented "
        "example value is a placeholder (decision D1); read strictly it would be generic_secret"),
    "purelib/ghapi/gh_spec.py:385": (
        [], "ghu_/ghr_ values in GitHub's published API examples are '1234567890abcdef' filler of the wrong length "
        "(40 and 76 characters after the prefix, not 36), and documented examples (D1)"),
    "purelib/huggingface_hub/_eval_results.py:67": (
        [], "verify_token=\"eyJhbGci...J9...\" is a JWT header cut off with '...': no payload or signature, a doc placeholder"),
    "purelib/huggingface_hub/hf_api.py:11374": ([], "secret=\"my-secret\" is short and not random"),
    "purelib/huggingface_hub/hf_api.py:11365": ([], "secret=\"my-secret\" is short and not random"),
    "purelib/huggingface_hub/hf_api.py:11225": ([], "secret=\"my-secret\" is short and not random"),
    "purelib/huggingface_hub/hf_api.py:11097": ([], "secret=\"my-secret\" is short and not random"),
    "purelib/huggingface_hub/constants.py:331": ([], "OAuth client id is a UUID, and header-name constants are not secrets"),
    "purelib/huggingface_hub/utils/_git_credential.py:74": (
        [], "password={token} is a format field; 'hf_user' is an identifier"),
    "purelib/jupyter_server/auth/security.py:104": (
        [], "doctest passes 'mypassword' positionally (positional passwords are not labelled) and a sha1 hash"),
    "purelib/mlflow/utils/uri.py:230": ([], "password read from a parsed URL at run time"),
    "purelib/starlette/datastructures.py:125": ([], "password taken from kwargs at run time"),
    "purelib/tornado/test/web_test.py:3421": ([], "signed-cookie test vector (value|timestamp|hmac)"),
    "purelib/tornado/test/web_test.py:3504": ([], "HMAC signature test vector"),
    "stdlib/secrets.py:56": ([], "doctest output of token_hex(16), under no name"),
    "stdlib/multiprocessing/process.py:405": ([], "authkey generated with os.urandom at run time"),
    "stdlib/locale.py:1341": ([], "locale alias sd_in@devanagari.utf8 is not an e-mail address"),
    "purelib/huggingface_hub/hf_api.py:11149": ([], "webhook.site URL with a UUID path, no credentials"),
}

REAL_DEFAULT_REASON = {
    "uuid": "UUID literal; UUIDs are identifiers",
    "hash_digest": "32+ hex digits (digest, commit SHA, run id or test data); no secret or PII",
    "test_vector": "base64-looking literal (identifiers, data, URLs); no secret or PII",
    "high_entropy": "high-entropy literal under no secret name; no secret or PII",
    "nonsecret_name": "secret-ish name holding no secret value",
}


def real_records():
    cands, sources = scan_candidates()
    picked = sample_real(cands, sources)
    used = set()
    recs = []
    for cat, rel, line, start, end, lines in picked:
        key = "%s:%d" % (rel, line)
        labels, reason = REAL_DECISIONS.get(key, ([], REAL_DEFAULT_REASON[cat]))
        if key in REAL_DECISIONS:
            used.add(key)
        out = []
        for abs_line, kind in labels:
            assert start <= abs_line <= end, (key, abs_line, start, end)
            out.append({"line": abs_line - start + 1, "kind": kind})
        ctx = "stdlib" if rel.startswith("stdlib/") else "library"
        note = "real code sampled as %s from %s:%d (lines %d-%d); %s; %s" % (cat, rel, line, start, end, reason, ctx)
        recs.append({"_cat": cat, "text": "\n".join(lines), "labels": out, "note": note, "_values": [], "_real": True})
    unused = sorted(set(REAL_DECISIONS) - used)
    return recs, unused


# ---------------------------------------------------------------------------
# checks and output
# ---------------------------------------------------------------------------

# strict shapes of the format kinds, used to check every generated label
FORMATS = {
    "aws_access_key": r"(?:AKIA|ASIA)[A-Z2-7]{16}",
    "aws_secret_key": r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/])",
    "gcp_api_key": r"AIza[0-9A-Za-z_-]{35}",
    "azure_storage_key": r"[A-Za-z0-9+/]{86}==",
    "github_token": r"(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})",
    "gitlab_token": r"(?:glpat|glrt|gldt)-[A-Za-z0-9_-]{20}",
    "slack_token": r"(?:xox[bp]-[0-9]{10,13}-[0-9]{10,13}(?:-[0-9]{10,13})?-[A-Za-z0-9]{24,32}|xapp-1-A[A-Z0-9]+-[0-9]+-[a-f0-9]{64})",
    "slack_webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24}",
    "telegram_bot_token": r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}",
    "stripe_key": r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,99}",
    "sendgrid_key": r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
    "npm_token": r"npm_[A-Za-z0-9]{36}",
    "pypi_token": r"pypi-AgE[A-Za-z0-9_-]{50,}",
    "openai_key": r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}",
    "anthropic_key": r"sk-ant-api03-[A-Za-z0-9_-]{93}AA",
    "huggingface_token": r"hf_[A-Za-z]{34}",
    "private_key": r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----",
    "jwt": r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
    "url_credentials": r"[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s/@]+@[^\s/]+",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "phone": r"\+?[0-9][0-9 ()-]{8,}[0-9]",
}
STRICT_NEGATIVE = [FORMATS[k] for k in ("aws_access_key", "gcp_api_key", "github_token", "gitlab_token",
                                         "slack_token", "slack_webhook", "telegram_bot_token", "stripe_key",
                                         "sendgrid_key", "npm_token", "pypi_token", "openai_key", "anthropic_key",
                                         "huggingface_token", "private_key", "jwt")]


def check(records):
    problems = []
    seen = set()
    for r in records:
        if r["id"] in seen:
            problems.append("duplicate id " + r["id"])
        seen.add(r["id"])
        lines = r["text"].split("\n")
        if not 1 <= len(lines) <= 12:
            problems.append("%s: %d lines" % (r["id"], len(lines)))
        if len(r["text"].splitlines()) != len(lines):
            problems.append("%s: text holds a line break other than \\n" % r["id"])
        if not r["note"]:
            problems.append(r["id"] + ": empty note")
        for lab in r["labels"]:
            if lab["kind"] not in KINDS:
                problems.append("%s: unknown kind %s" % (r["id"], lab["kind"]))
                continue
            if not 1 <= lab["line"] <= len(lines):
                problems.append("%s: label line %d outside text" % (r["id"], lab["line"]))
                continue
            pat = FORMATS.get(lab["kind"])
            if pat and not re.search(pat, lines[lab["line"] - 1]):
                problems.append("%s: line %d does not show a %s" % (r["id"], lab["line"], lab["kind"]))
        if len({(d["line"], d["kind"]) for d in r["labels"]}) != len(r["labels"]):
            problems.append(r["id"] + ": repeated label")
        prefix = r["id"].rsplit("-", 1)[0]
        if prefix in KINDS and not any(d["kind"] == prefix for d in r["labels"]):
            problems.append(r["id"] + ": positive id without a label of its kind")
        if prefix not in KINDS and r["labels"]:
            problems.append(r["id"] + ": negative id with labels")
        if r.get("_cat") in ("near_miss", "env_lookup", "pii_near_miss") and not r.get("_real"):
            for pat in STRICT_NEGATIVE:
                m = re.search(pat, r["text"])
                if m:
                    problems.append("%s: negative holds a strict-format value %r" % (r["id"], m.group()))
        for value, kind in r.get("_values", []):
            first = value.split("\n")[0]
            if kind == "private_key":
                first = first[first.index("-----BEGIN"):]
            if not any(first in lines[d["line"] - 1] for d in r["labels"] if d["kind"] == kind):
                problems.append("%s: %s value not on a labelled line" % (r["id"], kind))
    return problems


def main():
    records = []
    counters = Counter()

    def add(prefix, rec):
        counters[prefix] += 1
        rec["id"] = "%s-%d" % (prefix, counters[prefix])
        records.append(rec)

    for kind in KINDS:
        rng = random.Random("outofsample/positive/" + kind)
        for rec in globals()["pos_" + kind](rng):
            add(kind, rec)
    for rec in negatives_doc(random.Random("outofsample/negative/doc")):
        add(rec["_cat"], rec)
    real, unused = real_records()
    for rec in real:
        add(rec["labels"][0]["kind"] if rec["labels"] else rec["_cat"], rec)

    with open(OUT, "w", encoding="utf-8", newline="\n") as fh:
        for r in records:
            fh.write(json.dumps({"id": r["id"], "text": r["text"], "labels": r["labels"], "note": r["note"]},
                                ensure_ascii=False) + "\n")

    # re-read the written file and check it
    with open(OUT, encoding="utf-8") as fh:
        written = [json.loads(line) for line in fh]
    assert [w["id"] for w in written] == [r["id"] for r in records]
    for w, r in zip(written, records):
        w.update({k: v for k, v in r.items() if k.startswith("_")})
    problems = check(written)
    for key in unused:
        problems.append("REAL_DECISIONS key not sampled (different installation?): " + key)

    label_counts = Counter(d["kind"] for r in written for d in r["labels"])
    id_counts = Counter(r["id"].rsplit("-", 1)[0] for r in written)
    n_pos = sum(1 for r in written if r["labels"])
    print("%d records: %d positive, %d negative" % (len(written), n_pos, len(written) - n_pos))
    print("\n| kind | labels | records |\n|---|---:|---:|")
    for k in KINDS:
        print("| %s | %d | %d |" % (k, label_counts[k], id_counts[k]))
    cats = [c for c in ["placeholder", "env_lookup", "near_miss", "pii_near_miss", "hash_digest", "uuid",
                        "test_vector", "high_entropy", "nonsecret_name", "library"] if id_counts[c]]
    print("\n| negative category | records |\n|---|---:|")
    for c in cats:
        print("| %s | %d |" % (c, id_counts[c]))
    real_all = Counter(r["_cat"] for r in written if r.get("_real"))
    real_pos = Counter(r["_cat"] for r in written if r.get("_real") and r["labels"])
    real_src = Counter((r["_cat"], "stdlib" if r["note"].endswith("; stdlib") else "library")
                       for r in written if r.get("_real"))
    print("\n| real-code sampling category | windows | stdlib | site-packages | of which labelled |\n|---|---:|---:|---:|---:|")
    for c in REAL_CATEGORIES:
        print("| %s | %d | %d | %d | %d |" % (c, real_all[c], real_src[(c, "stdlib")], real_src[(c, "library")], real_pos[c]))
    if problems:
        print("\nPROBLEMS:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print("\nchecks passed: unique ids, 1-12 lines, label lines inside texts, kinds from the README, "
          "labelled values on their lines")


if __name__ == "__main__":
    main()
