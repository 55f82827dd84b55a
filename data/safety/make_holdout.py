#!/usr/bin/env python3
"""Build data/safety/holdout.jsonl: a held-out secret / PII evaluation set.

Written from the kind names and labelling policy in README.md only, without looking at the
main labelled set or at any detector. Templates imitate how secrets show up in real repositories
(Django settings, Terraform, Kubernetes stringData, compose files, CI configs, notebooks, shell
history, curl, SDK calls, Java properties, .npmrc/.pypirc/.netrc, git remotes, logs, code in
several languages). Negatives cover every negative category of the policy plus real snippets
sampled from the site-packages of the interpreter that runs this script.

Stdlib only. Every random choice comes from random.Random instances seeded with fixed strings,
so two runs give byte-identical output (given the same site-packages).

    .venv/bin/python data/safety/make_holdout.py
"""
import base64
import json
import os
import re
import sysconfig
import textwrap
from random import Random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "holdout.jsonl")
SEED = "holdout-2025"

KINDS = [
    "aws_access_key", "aws_secret_key", "gcp_api_key", "azure_storage_key", "github_token",
    "gitlab_token", "slack_token", "slack_webhook", "telegram_bot_token", "stripe_key",
    "sendgrid_key", "npm_token", "pypi_token", "openai_key", "anthropic_key", "huggingface_token",
    "private_key", "jwt", "url_credentials", "password", "generic_secret", "email", "phone",
]
NEG_CATS = ["placeholder", "env_lookup", "hash_digest", "uuid", "test_vector", "nonsecret_name",
            "near_miss", "pii_near_miss", "library"]

UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LO = "abcdefghijklmnopqrstuvwxyz"
DIG = "0123456789"
ALNUM = UP + LO + DIG
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
PLACEHOLDER_WORDS = ("example", "your", "placeholder", "changeme", "dummy", "fake", "sample",
                     "redacted", "xxx", "test")


def clean(s):
    low = s.lower()
    return not any(w in low for w in PLACEHOLDER_WORDS)


def rs(r, n, alphabet=ALNUM):
    while True:
        s = "".join(r.choice(alphabet) for _ in range(n))
        if clean(s) and (alphabet != ALNUM or (any(c.isdigit() for c in s) and any(c.isupper() for c in s))):
            return s


# ----------------------------------------------------------------------------- value generators

def v_aws_ak(r):
    return "AKIA" + rs(r, 16, UP + "234567")


def v_aws_sk(r):
    return rs(r, 40, B64)


def v_gcp(r):
    return "AIza" + rs(r, 35, URLSAFE)


def v_azure(r):
    while True:
        s = base64.b64encode(bytes(r.getrandbits(8) for _ in range(64))).decode()
        if clean(s):
            return s


def v_github(r):
    k = r.randrange(6)
    if k == 5:
        return "github_pat_11" + rs(r, 20, UP + DIG) + "_" + rs(r, 59)
    return ["ghp_", "ghp_", "gho_", "ghs_", "ghu_"][k] + rs(r, 36)


def v_gitlab(r):
    return "glpat-" + rs(r, 20, URLSAFE)


def v_slack(r):
    if r.random() < 0.6:
        return "xoxb-%d-%d-%s" % (r.randint(10 ** 10, 10 ** 12), r.randint(10 ** 11, 10 ** 13), rs(r, 24))
    return "xoxp-%d-%d-%d-%s" % (r.randint(10 ** 10, 10 ** 12), r.randint(10 ** 10, 10 ** 12),
                                 r.randint(10 ** 11, 10 ** 13), rs(r, 32, HEX))


def v_webhook(r):
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (
        rs(r, r.choice([8, 9, 10]), UP + DIG), rs(r, r.choice([8, 9, 10, 11]), UP + DIG), rs(r, 24))


def v_telegram(r):
    return "%d:AA%s" % (r.randint(10 ** 8, 8 * 10 ** 9), rs(r, 33, URLSAFE))


def v_stripe(r):
    return r.choice(["sk_live_", "sk_live_", "rk_live_"]) + rs(r, r.choice([24, 34, 99]))


def v_sendgrid(r):
    return "SG." + rs(r, 22, URLSAFE) + "." + rs(r, 43, URLSAFE)


def v_npm(r):
    return "npm_" + rs(r, 36)


def v_pypi(r):
    return "pypi-AgEIcHlwaS5vcmc" + rs(r, r.randint(130, 170), URLSAFE)


def v_openai(r):
    k = r.randrange(3)
    if k == 0:
        return "sk-" + rs(r, 20) + "T3BlbkFJ" + rs(r, 20)
    if k == 1:
        return "sk-proj-" + rs(r, 74, URLSAFE) + "T3BlbkFJ" + rs(r, 74, URLSAFE)
    return "sk-svcacct-" + rs(r, 74, URLSAFE) + "T3BlbkFJ" + rs(r, 74, URLSAFE)


def v_anthropic(r):
    return "sk-ant-api03-" + rs(r, 93, URLSAFE) + "AA"


def v_hf(r):
    return "hf_" + rs(r, 34, UP + LO)


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def v_jwt(r):
    alg = r.choice(["HS256", "RS256", "ES256"])
    hdr = {"alg": alg, "typ": "JWT"}
    if alg != "HS256":
        hdr["kid"] = rs(r, 16, URLSAFE)
    now = r.randint(1_690_000_000, 1_740_000_000)
    pl = {"sub": str(r.randint(1000, 999999)), "iat": now, "exp": now + r.choice([900, 3600, 86400]),
          "scope": r.choice(["read write", "openid profile", "admin", "api:read"])}
    if r.random() < 0.5:
        pl["iss"] = r.choice(["https://auth.northwind.io/", "accounts.orbitlabs.dev", "kubernetes/serviceaccount"])
    sig = rs(r, {"HS256": 43, "ES256": 86, "RS256": 342}[alg], URLSAFE)
    return b64url(json.dumps(hdr, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(pl, separators=(",", ":")).encode()) + "." + sig


WORDS = ["harbor", "violet", "quartz", "maple", "falcon", "cobalt", "ember", "tundra", "saffron",
         "orbit", "lantern", "pepper", "glacier", "marble", "juniper", "copper", "meadow", "raven"]


def v_pw(r):
    k = r.randrange(4)
    if k == 0:
        s = r.choice(WORDS).capitalize() + r.choice("#!*&?") + str(r.randint(10, 9999)) + r.choice(WORDS)
    elif k == 1:
        s = rs(r, r.randint(12, 20), ALNUM + "!#*^-_.")
    elif k == 2:
        s = "-".join(r.choice(WORDS) for _ in range(3)) + "-" + str(r.randint(1, 99))
    else:
        s = rs(r, 4, UP + LO) + str(r.randint(100, 999)) + r.choice("!#*") + rs(r, 5, ALNUM)
    return s if clean(s) else v_pw(r)


def v_urlpw(r):  # no characters that need escaping in a URL userinfo
    return rs(r, r.randint(12, 24), ALNUM + "-_.~") if r.random() < 0.6 else \
        r.choice(WORDS) + r.choice(WORDS).capitalize() + str(r.randint(10, 999))


DJ = LO + DIG + "!@#^&*(-_=+)"


def v_generic(r):
    k = r.randrange(4)
    if k == 0:
        return rs(r, r.choice([32, 40, 64]), HEX)
    if k == 1:
        return rs(r, r.randint(24, 48))
    if k == 2:
        return rs(r, 43, URLSAFE)
    return base64.b64encode(bytes(r.getrandbits(8) for _ in range(32))).decode()


FIRST = ["amara", "bastian", "chiara", "dmitri", "elif", "farah", "gustavo", "hana", "ivo", "jolene",
         "kenji", "leontine", "mateus", "nadia", "osric", "priya", "quentin", "rosalind", "soren", "tamsin"]
LAST = ["okafor", "lindqvist", "moreau", "haddad", "novak", "tanaka", "oyelaran", "petrov", "ferreira",
        "kowalczyk", "nakamura", "vasquez", "achterberg", "delacroix", "brennan", "sato"]
DOMAINS = ["gmail.com", "outlook.com", "proton.me", "northwind-logistics.com", "orbitlabs.dev",
           "uni-heidelberg.de", "fastmail.fm", "kestrel-analytics.io", "hollowayhealth.co.uk", "mailbox.org"]


def v_name(r):
    return r.choice(FIRST).capitalize() + " " + r.choice(LAST).capitalize()


def v_email(r):
    f, l = r.choice(FIRST), r.choice(LAST)
    local = r.choice([f + "." + l, f[0] + l, f + "_" + l[:3], f + str(r.randint(1, 99)), l + "." + f[0]])
    return local + "@" + r.choice(DOMAINS)


def v_phone(r):
    k = r.randrange(6)
    n = r.randint(100, 199)
    if k == 0:
        return "+1 (%d) 555-0%d" % (r.choice([212, 312, 415, 617, 646, 206]), n)
    if k == 1:
        return "+1-%d-555-0%d" % (r.choice([303, 404, 512, 702, 919]), n)
    if k == 2:
        return "+44 20 7946 0%03d" % r.randint(0, 999)
    if k == 3:
        return "07700 900%03d" % r.randint(0, 999)
    if k == 4:
        return "+61 491 570 %03d" % r.choice([6, 156, 157, 158, 159, 110, 313, 737, 998])
    return "(%d) %d-%04d" % (r.choice([415, 503, 720, 858]), r.randint(201, 989), r.randint(0, 9999))


def v_pem(r, kind=None):
    kind = kind or r.choice(["RSA", "PKCS8", "EC", "OPENSSH"])
    head, prefix, nlines = {
        "RSA": ("RSA PRIVATE KEY", "MIIEowIBAAKCAQEA", 5),
        "PKCS8": ("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", 5),
        "EC": ("EC PRIVATE KEY", "MHcCAQEEI", 3),
        "OPENSSH": ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", 4),
    }[kind]
    width = 70 if kind == "OPENSSH" else 64
    body = prefix + rs(r, width * nlines - len(prefix) - r.randint(0, 20), B64)
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    return "\n".join(["-----BEGIN %s-----" % head] + lines + ["-----END %s-----" % head])


FILL = {
    "AK": v_aws_ak, "SK": v_aws_sk, "PW": v_pw, "UPW": v_urlpw, "GS": v_generic, "EMAIL": v_email,
    "EMAIL2": v_email, "PHONE": v_phone, "NAME": v_name, "JWT": v_jwt, "PEM": v_pem,
    "USER": lambda r: r.choice(["svc_app", "deploy", "etl", "ci-bot", "reporting", "app", "admin_ro", "jenkins"]),
    "HOST": lambda r: r.choice(["db-prod-1.internal", "10.20.4.17", "pg.orbitlabs.dev", "mysql.corp.lan",
                                "warehouse.c9xkq2.eu-west-1.rds.amazonaws.com", "cache-01"]),
    "DB": lambda r: r.choice(["orders", "analytics", "app_prod", "billing", "inventory"]),
    "ACC": lambda r: r.choice(["stmlartifacts", "prodlogs01", "nwdatalake", "orbitbackups"]) ,
    "N": lambda r: str(r.randint(100, 999)),
    "CHAT": lambda r: "-100" + str(r.randint(10 ** 9, 10 ** 10 - 1)),
    "PK": lambda r: "pk_live_" + rs(r, 24),
    "HEX40": lambda r: rs(r, 40, HEX),
    "DJ": lambda r: rs(r, 50, DJ),
}
VGEN = {
    "aws_access_key": v_aws_ak, "aws_secret_key": v_aws_sk, "gcp_api_key": v_gcp, "azure_storage_key": v_azure,
    "github_token": v_github, "gitlab_token": v_gitlab, "slack_token": v_slack, "slack_webhook": v_webhook,
    "telegram_bot_token": v_telegram, "stripe_key": v_stripe, "sendgrid_key": v_sendgrid, "npm_token": v_npm,
    "pypi_token": v_pypi, "openai_key": v_openai, "anthropic_key": v_anthropic, "huggingface_token": v_hf,
    "private_key": v_pem, "jwt": v_jwt, "password": v_pw, "generic_secret": v_generic, "email": v_email,
    "phone": v_phone, "url_credentials": v_urlpw,
}

# ----------------------------------------------------------------------------- strict formats (self-check)

FORMAT = {
    "aws_access_key": r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Z0-9])",
    "aws_secret_key": r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    "gcp_api_key": r"AIza[0-9A-Za-z_-]{35}",
    "azure_storage_key": r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b",
    "gitlab_token": r"\bglpat-[A-Za-z0-9_-]{20}\b",
    "slack_token": r"\bxox[bpaors]-[0-9]{10,13}-[0-9A-Za-z-]{10,}",
    "slack_webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{24}",
    "telegram_bot_token": r"(?<!\d)\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])",
    "stripe_key": r"\b[sr]k_live_[A-Za-z0-9]{24,}",
    "sendgrid_key": r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    "npm_token": r"\bnpm_[A-Za-z0-9]{36}\b",
    "pypi_token": r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
    "openai_key": r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}",
    "anthropic_key": r"\bsk-ant-api03-[A-Za-z0-9_-]{93}AA\b",
    "huggingface_token": r"\bhf_[A-Za-z]{34}\b",
    "private_key": r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----",
    "jwt": r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}",
    "url_credentials": r"[a-z][a-z0-9+.-]*://[^\s:/@]*:[^\s:/@]{6,}@[^\s/]+",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "phone": r"\+?\(?\d[\d ().-]{7,}\d",
}
FORMAT = {k: re.compile(v) for k, v in FORMAT.items()}
# kinds whose pattern is strict enough that a negative must never contain it
STRICT = [k for k in FORMAT if k not in ("aws_secret_key", "email", "phone", "url_credentials")]


def is_placeholder_value(s):
    low = s.lower()
    core = re.sub(r"^(ghp_|glpat-|xox[bp]-|sk-|npm_|hf_|pypi-|sk_live_|SG\.)", "", s)
    return any(w in low for w in PLACEHOLDER_WORDS) or len(set(core.replace("-", ""))) <= 2 or \
        s in ("AKIAIOSFODNN7EXAMPLE",)


# ----------------------------------------------------------------------------- record store

records = []
counters = {}


def next_id(prefix):
    counters[prefix] = counters.get(prefix, 0) + 1
    return "%s-%d" % (prefix, counters[prefix])


def find_line(text, needle):
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("needle not found: %r in %r" % (needle, text))


def fill(template, r, values):
    def sub(m):
        key = m.group(1)
        if key not in values:
            values[key] = FILL[key](r)
        return values[key]
    return re.sub(r"«(\w+)»", sub, template)


def add_neg(cat, text, note, ctx):
    records.append({"id": next_id(cat), "text": textwrap.dedent(text).strip("\n"), "labels": [],
                    "note": note + "; " + ctx})


# ----------------------------------------------------------------------------- positive templates
# each entry: (context, template, labels) ; labels default [("V", kind)]

V = None  # marker for "default labels"

POS = {}

POS["aws_access_key"] = [
    ("terraform", '''
        provider "aws" {
          region     = "eu-west-1"
          access_key = "«V»"
          secret_key = "«SK»"
        }''', [("V", "aws_access_key"), ("SK", "aws_secret_key")]),
    ("ini", '''
        [default]
        aws_access_key_id = «V»
        aws_secret_access_key = «SK»
        region = us-east-2''', [("V", "aws_access_key"), ("SK", "aws_secret_key")]),
    ("shell_history", '''
          503  cd infra/
          504  export AWS_ACCESS_KEY_ID=«V»
          505  aws sts get-caller-identity
          506  terraform plan -out=tf.plan''', V),
    ("boto3", '''
        import boto3

        s3 = boto3.client(
            "s3",
            aws_access_key_id="«V»",
            aws_secret_access_key="«SK»",
            region_name="eu-central-1",
        )''', [("V", "aws_access_key"), ("SK", "aws_secret_key")]),
    ("gitlab_ci", '''
        variables:
          AWS_DEFAULT_REGION: eu-central-1
          AWS_ACCESS_KEY_ID: «V»

        deploy:
          stage: deploy
          script:
            - aws ecs update-service --cluster prod --service api --force-new-deployment''', V),
    ("java_properties", '''
        # S3 uploader
        aws.accessKeyId=«V»
        aws.region=ap-southeast-2
        uploader.bucket=nw-invoices''', V),
    ("log", '''
        2024-03-11 08:02:41,113 DEBUG [uploader] using static credentials access_key=«V» region=us-west-2
        2024-03-11 08:02:41,540 INFO [uploader] uploaded 14 objects to s3://nw-invoices/2024/03/'''
     , V),
    ("go", '''
        cfg, err := config.LoadDefaultConfig(ctx,
            config.WithRegion("us-east-1"),
            config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("«V»", "«SK»", "")),
        )''', [("V", "aws_access_key"), ("SK", "aws_secret_key")]),
    ("jenkinsfile", """
        pipeline {
          agent any
          environment {
            AWS_ACCESS_KEY_ID = '«V»'
            AWS_DEFAULT_REGION = 'eu-west-2'
          }
          stages { stage('sync') { steps { sh 'aws s3 sync build/ s3://static-site' } } }
        }""", V),
    ("php", """
        's3' => [
            'driver' => 's3',
            'key' => '«V»',
            'secret' => '«SK»',
            'region' => 'eu-west-1',
            'bucket' => 'orbit-uploads',
        ],""", [("V", "aws_access_key"), ("SK", "aws_secret_key")]),
]

POS["aws_secret_key"] = [
    ("k8s_secret", '''
        apiVersion: v1
        kind: Secret
        metadata:
          name: s3-backup
        type: Opaque
        stringData:
          AWS_SECRET_ACCESS_KEY: "«V»"''', V),
    ("rust", '''
        let creds = Credentials::new("«AK»", "«V»", None, None, "static");
        let config = aws_sdk_s3::Config::builder().credentials_provider(creds).build();''',
     [("AK", "aws_access_key"), ("V", "aws_secret_key")]),
    ("notebook", '''
        {
         "cell_type": "code",
         "execution_count": 3,
         "metadata": {},
         "outputs": [],
         "source": [
          "import os\\n",
          "os.environ['AWS_SECRET_ACCESS_KEY'] = '«V»'\\n",
          "df = pd.read_parquet('s3://nw-datalake/events/')"
         ]
        }''', V),
    ("circleci", '''
        jobs:
          deploy:
            docker:
              - image: cimg/python:3.11
            environment:
              AWS_SECRET_ACCESS_KEY: «V»
            steps:
              - checkout''', V),
    ("ruby", """
        Aws.config.update(
          region: 'us-east-1',
          credentials: Aws::Credentials.new('«AK»', '«V»')
        )""", [("AK", "aws_access_key"), ("V", "aws_secret_key")]),
    ("shell_history", '''
        aws configure set aws_secret_access_key «V» --profile ci
        aws s3 ls --profile ci''', V),
    ("js", '''
        const s3 = new S3Client({
          region: "us-east-1",
          credentials: {
            accessKeyId: "«AK»",
            secretAccessKey: "«V»",
          },
        });''', [("AK", "aws_access_key"), ("V", "aws_secret_key")]),
    ("django", '''
        DEFAULT_FILE_STORAGE = "storages.backends.s3boto3.S3Boto3Storage"
        AWS_STORAGE_BUCKET_NAME = "orbit-media"
        AWS_SECRET_ACCESS_KEY = "«V»"
        AWS_S3_REGION_NAME = "eu-west-1"''', V),
    ("env", '''
        AWS_REGION=us-west-2
        AWS_SECRET_ACCESS_KEY=«V»''', V),
    ("spring_yaml", '''
        cloud:
          aws:
            credentials:
              access-key: «AK»
              secret-key: «V»
            region:
              static: eu-central-1''', [("AK", "aws_access_key"), ("V", "aws_secret_key")]),
]

POS["gcp_api_key"] = [
    ("js", '''
        const firebaseConfig = {
          apiKey: "«V»",
          authDomain: "orbit-notes.firebaseapp.com",
          projectId: "orbit-notes",
        };''', V),
    ("json", '''
        "api_key": [
          {
            "current_key": "«V»"
          }
        ],''', V),
    ("curl", '''
        curl -s "https://maps.googleapis.com/maps/api/geocode/json?address=Alexanderplatz+Berlin&key=«V»" | jq .results[0]''', V),
    ("python", '''
        import google.generativeai as genai

        genai.configure(api_key="«V»")
        model = genai.GenerativeModel("gemini-1.5-flash")''', V),
    ("env", '''
        GOOGLE_API_KEY=«V»
        LOG_LEVEL=info''', V),
    ("html", '''
        <script async
          src="https://maps.googleapis.com/maps/api/js?key=«V»&callback=initMap">
        </script>''', V),
    ("terraform", '''
        variable "maps_api_key" {
          type    = string
          default = "«V»"
        }''', V),
    ("go", '''
        svc, err := youtube.NewService(ctx, option.WithAPIKey("«V»"))
        if err != nil {
            log.Fatal(err)
        }''', V),
    ("k8s_configmap", '''
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: frontend-env
        data:
          YOUTUBE_API_KEY: "«V»"''', V),
    ("log", '''
        127.0.0.1 - - [12/Feb/2024:10:03:22 +0000] "GET /youtube/v3/search?part=snippet&q=lofi&key=«V» HTTP/1.1" 200 5123''', V),
]

POS["azure_storage_key"] = [
    ("appsettings_json", '''
        {
          "ConnectionStrings": {
            "Blob": "DefaultEndpointsProtocol=https;AccountName=«ACC»;AccountKey=«V»;EndpointSuffix=core.windows.net"
          }
        }''', V),
    ("env", '''
        AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=«ACC»;AccountKey=«V»;EndpointSuffix=core.windows.net"''', V),
    ("terraform", '''
        resource "azurerm_function_app" "ingest" {
          name                       = "ingest-fn"
          storage_account_name       = "«ACC»"
          storage_account_access_key = "«V»"
        }''', V),
    ("python", '''
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient(
            account_url="https://«ACC».blob.core.windows.net",
            credential="«V»",
        )''', V),
    ("shell_history", '''
        az storage blob upload --account-name «ACC» --account-key «V» -c backups -f dump.sql.gz''', V),
    ("k8s_secret", '''
        apiVersion: v1
        kind: Secret
        metadata:
          name: azure-files
        stringData:
          azurestorageaccountname: «ACC»
          azurestorageaccountkey: «V»''', V),
    ("csharp", '''
        var credential = new StorageSharedKeyCredential("«ACC»",
            "«V»");
        var service = new BlobServiceClient(new Uri(url), credential);''', V),
    ("java_properties", '''
        azure.storage.account-name=«ACC»
        azure.storage.account-key=«V»''', V),
    ("compose", '''
        services:
          worker:
            image: orbit/worker:1.8
            environment:
              - AZURE_STORAGE_ACCOUNT=«ACC»
              - AZURE_STORAGE_KEY=«V»''', V),
    ("local_settings_json", '''
        {
          "IsEncrypted": false,
          "Values": {
            "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=«ACC»;AccountKey=«V»",
            "FUNCTIONS_WORKER_RUNTIME": "python"
          }
        }''', V),
]

POS["github_token"] = [
    ("git_credentials", '''
        https://x-access-token:«V»@github.com''', V),
    ("git_remote", '''
        $ git remote set-url origin https://«V»@github.com/orbitlabs/infra.git
        $ git push origin main''', V),
    ("gha", '''
        - name: Create release
          env:
            GITHUB_TOKEN: «V»
          run: gh release create v${{ steps.ver.outputs.version }} dist/*''', V),
    ("curl", '''
        curl -H "Authorization: token «V»" \\
             -H "Accept: application/vnd.github+json" \\
             https://api.github.com/repos/orbitlabs/infra/pulls''', V),
    ("python", '''
        from github import Github

        gh = Github("«V»")
        repo = gh.get_repo("orbitlabs/infra")''', V),
    ("npmrc", '''
        @orbitlabs:registry=https://npm.pkg.github.com
        //npm.pkg.github.com/:_authToken=«V»''', V),
    ("shell_history", '''
          88  echo «V» | docker login ghcr.io -u orbit-bot --password-stdin
          89  docker push ghcr.io/orbitlabs/api:1.4.2''', V),
    ("go", '''
        ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "«V»"})
        client := github.NewClient(oauth2.NewClient(ctx, ts))''', V),
    ("yaml", '''
        github.com:
        - user: orbit-bot
          oauth_token: «V»
          protocol: https''', V),
    ("env", '''
        # fine-grained token for the release script
        GH_TOKEN=«V»''', V),
]

POS["gitlab_token"] = [
    ("curl", '''
        curl --header "PRIVATE-TOKEN: «V»" "https://gitlab.com/api/v4/projects/4211/pipelines?status=failed"''', V),
    ("python", '''
        import gitlab

        gl = gitlab.Gitlab("https://gitlab.com", private_token="«V»")
        project = gl.projects.get("orbit/backend")''', V),
    ("git_remote", '''
        [remote "origin"]
        	url = https://oauth2:«V»@gitlab.com/orbit/backend.git
        	fetch = +refs/heads/*:refs/remotes/origin/*''', V),
    ("terraform", '''
        provider "gitlab" {
          base_url = "https://gitlab.corp.lan/api/v4/"
          token    = "«V»"
        }''', V),
    ("npmrc", '''
        @orbit:registry=https://gitlab.com/api/v4/projects/4211/packages/npm/
        //gitlab.com/api/v4/projects/4211/packages/npm/:_authToken=«V»''', V),
    ("pip_conf", '''
        [global]
        index-url = https://__token__:«V»@gitlab.com/api/v4/projects/4211/packages/pypi/simple''', V),
    ("shell_history", '''
         1021  glab auth login --hostname gitlab.com --token «V»
         1022  glab mr list''', V),
    ("json", '''
        {
          "platform": "gitlab",
          "endpoint": "https://gitlab.corp.lan/api/v4/",
          "token": "«V»",
          "autodiscover": true
        }''', V),
    ("ruby", """
        Gitlab.configure do |config|
          config.endpoint      = 'https://gitlab.com/api/v4'
          config.private_token = '«V»'
        end""", V),
    ("gitlab_ci", '''
        release:
          stage: release
          variables:
            GITLAB_TOKEN: «V»
          script:
            - npx semantic-release''', V),
]

POS["slack_token"] = [
    ("python", '''
        from slack_sdk import WebClient

        client = WebClient(token="«V»")
        client.chat_postMessage(channel="#deploys", text="build finished")''', V),
    ("env", '''
        SLACK_BOT_TOKEN=«V»
        SLACK_CHANNEL=#alerts''', V),
    ("curl", '''
        curl -X POST https://slack.com/api/chat.postMessage \\
          -H "Authorization: Bearer «V»" \\
          -H "Content-type: application/json" \\
          --data '{"channel":"C024BE91L","text":"hello"}' ''', V),
    ("js", '''
        const app = new App({
          token: "«V»",
          signingSecret: process.env.SLACK_SIGNING_SECRET,
        });''', V),
    ("k8s_secret", '''
        kind: Secret
        apiVersion: v1
        metadata:
          name: alert-bot
        stringData:
          slack-token: «V»''', V),
    ("go", '''
        api := slack.New("«V»")
        _, _, err := api.PostMessage("C024BE91L", slack.MsgOptionText("deploy ok", false))''', V),
    ("jenkinsfile", """
        post {
          failure {
            slackSend(channel: '#ci', token: '«V»', message: "FAILED ${env.JOB_NAME}")
          }
        }""", V),
    ("ini", '''
        [slack]
        token = «V»
        channel = ops''', V),
    ("ruby", """
        Slack.configure do |config|
          config.token = '«V»'
        end""", V),
    ("stacktrace", '''
        Traceback (most recent call last):
          File "/app/notify.py", line 31, in send
            resp = client.chat_postMessage(channel=ch, text=msg)
        slack_sdk.errors.SlackApiError: The request to the Slack API failed. (url: https://slack.com/api/chat.postMessage, token: «V»)
        The server responded with: {'ok': False, 'error': 'channel_not_found'}''', V),
]

POS["slack_webhook"] = [
    ("curl", '''
        curl -X POST -H 'Content-type: application/json' \\
          --data '{"text":"Nightly backup done"}' \\
          «V»''', V),
    ("gha", '''
        - name: Notify
          uses: slackapi/slack-github-action@v1.26.0
          env:
            SLACK_WEBHOOK_URL: «V»''', V),
    ("python", '''
        def notify(msg):
            requests.post("«V»", json={"text": msg}, timeout=5)''', V),
    ("alertmanager", """
        receivers:
          - name: oncall
            slack_configs:
              - api_url: '«V»'
                channel: '#oncall'""", V),
    ("terraform", '''
        resource "datadog_integration_slack_channel" "ops" {
          account_name = "orbit"
          channel_name = "#ops"
        }
        locals { ops_webhook_url = "«V»" }''', V),
    ("jenkinsfile", """
        def hook = '«V»'
        sh "curl -s -X POST -H 'Content-type: application/json' --data @payload.json ${hook}"
        """, V),
    ("env", '''
        SLACK_WEBHOOK=«V»''', V),
    ("js", '''
        await fetch("«V»", {
          method: "POST",
          body: JSON.stringify({ text: `Deploy ${version} done` }),
        });''', V),
    ("grafana_ini", '''
        [alerting]
        enabled = true
        slack_url = «V»''', V),
    ("go", '''
        const alertHook = "«V»"''', V),
]

POS["telegram_bot_token"] = [
    ("python", '''
        import telebot

        bot = telebot.TeleBot("«V»")''', V),
    ("env", '''
        TELEGRAM_BOT_TOKEN=«V»
        TELEGRAM_CHAT_ID=«CHAT»''', V),
    ("curl", '''
        curl -s "https://api.telegram.org/bot«V»/sendMessage?chat_id=«CHAT»&text=backup%20ok"''', V),
    ("python", '''
        from aiogram import Bot, Dispatcher

        bot = Bot(token="«V»")
        dp = Dispatcher()''', V),
    ("yaml", '''
        notifications:
          telegram:
            token: "«V»"
            chat_id: «CHAT»''', V),
    ("log", '''
        2024-06-01 12:00:03,417 - httpx - INFO - HTTP Request: POST https://api.telegram.org/bot«V»/getUpdates "HTTP/1.1 200 OK"''', V),
    ("php", """
        $telegram = new Api('«V»');
        $telegram->sendMessage(['chat_id' => «CHAT», 'text' => 'pong']);""", V),
    ("go", '''
        bot, err := tgbotapi.NewBotAPI("«V»")
        if err != nil {
            log.Panic(err)
        }''', V),
    ("compose", '''
        services:
          bot:
            build: .
            environment:
              BOT_TOKEN: "«V»"''', V),
    ("js", """
        const TelegramBot = require('node-telegram-bot-api');
        const bot = new TelegramBot('«V»', { polling: true });""", V),
]

POS["stripe_key"] = [
    ("python", '''
        import stripe

        stripe.api_key = "«V»"
        session = stripe.checkout.Session.create(mode="payment", line_items=items)''', V),
    ("js", """
        const stripe = require('stripe')('«V»');""", V),
    ("env", '''
        STRIPE_PUBLISHABLE_KEY=«PK»
        STRIPE_SECRET_KEY=«V»''', V),
    ("curl", '''
        curl https://api.stripe.com/v1/charges \\
          -u «V»: \\
          -d amount=2000 -d currency=eur''', V),
    ("php", """
        \\Stripe\\Stripe::setApiKey('«V»');
        $intent = \\Stripe\\PaymentIntent::create(['amount' => 1099, 'currency' => 'eur']);""", V),
    ("ruby", """
        require 'stripe'
        Stripe.api_key = '«V»'""", V),
    ("django", '''
        STRIPE_PUBLISHABLE_KEY = "«PK»"
        STRIPE_SECRET_KEY = "«V»"
        STRIPE_WEBHOOK_TOLERANCE = 300''', V),
    ("k8s_secret", '''
        apiVersion: v1
        kind: Secret
        metadata:
          name: billing
        stringData:
          STRIPE_API_KEY: «V»''', V),
    ("go", '''
        func init() {
            stripe.Key = "«V»"
        }''', V),
    ("shell_history", '''
          77  stripe listen --api-key «V» --forward-to localhost:8000/webhooks/stripe''', V),
]

POS["sendgrid_key"] = [
    ("django", '''
        EMAIL_HOST = "smtp.sendgrid.net"
        EMAIL_HOST_USER = "apikey"
        EMAIL_HOST_PASSWORD = "«V»"
        EMAIL_PORT = 587''', V),
    ("python", '''
        sg = SendGridAPIClient("«V»")
        response = sg.send(message)''', V),
    ("env", '''
        SENDGRID_API_KEY=«V»''', V),
    ("curl", '''
        curl --request POST --url https://api.sendgrid.com/v3/mail/send \\
          --header 'Authorization: Bearer «V»' \\
          --header 'Content-Type: application/json' ''', V),
    ("js", """
        const sgMail = require('@sendgrid/mail');
        sgMail.setApiKey('«V»');""", V),
    ("compose", '''
        services:
          mailer:
            image: orbit/mailer:2.1
            environment:
              SENDGRID_KEY: «V»''', V),
    ("php", """
        $sendgrid = new \\SendGrid('«V»');
        $response = $sendgrid->send($email);""", V),
    ("java", '''
        SendGrid sg = new SendGrid("«V»");
        Request request = new Request();''', V),
    ("ruby", """
        config.action_mailer.smtp_settings = {
          address: 'smtp.sendgrid.net',
          user_name: 'apikey',
          password: '«V»',
          port: 587
        }""", V),
    ("postfix", '''
        # /etc/postfix/sasl_passwd
        [smtp.sendgrid.net]:587 apikey:«V»''', V),
]

POS["npm_token"] = [
    ("npmrc", '''
        registry=https://registry.npmjs.org/
        //registry.npmjs.org/:_authToken=«V»''', V),
    ("gha", '''
        - run: npm publish --access public
          env:
            NODE_AUTH_TOKEN: «V»''', V),
    ("shell_history", '''
          41  npm config set //registry.npmjs.org/:_authToken «V»
          42  npm whoami''', V),
    ("yarnrc", '''
        npmRegistryServer: "https://registry.npmjs.org"
        npmAuthToken: «V»''', V),
    ("dockerfile", '''
        FROM node:20-alpine
        WORKDIR /app
        RUN echo "//registry.npmjs.org/:_authToken=«V»" > ~/.npmrc
        COPY package*.json ./
        RUN npm ci''', V),
    ("circleci", '''
        publish:
          executor: node/default
          environment:
            NPM_TOKEN: «V»
          steps:
            - run: npm publish''', V),
    ("env", '''
        NPM_TOKEN=«V»''', V),
    ("js", '''
        // scripts/publish.js
        const token = "«V»";
        execSync(`npm publish --//registry.npmjs.org/:_authToken=${token}`);''', V),
    ("jenkinsfile", """
        stage('Publish') {
          steps {
            sh 'echo //registry.npmjs.org/:_authToken=«V» > .npmrc && npm publish'
          }
        }""", V),
    ("gitlab_ci", '''
        publish:
          image: node:20
          variables:
            NPM_AUTH_TOKEN: «V»
          script: npm publish''', V),
]

POS["pypi_token"] = [
    ("pypirc", '''
        [distutils]
        index-servers = pypi

        [pypi]
        username = __token__
        password = «V»''', V),
    ("env", '''
        TWINE_USERNAME=__token__
        TWINE_PASSWORD=«V»''', V),
    ("shell_history", '''
          230  python -m build
          231  twine upload -u __token__ -p «V» dist/*''', V),
    ("gha", '''
        - name: Publish to PyPI
          uses: pypa/gh-action-pypi-publish@release/v1
          with:
            password: «V»''', V),
    ("shell_history", '''
        poetry config pypi-token.pypi «V»
        poetry publish --build''', V),
    ("env", '''
        UV_PUBLISH_TOKEN=«V»''', V),
    ("makefile", '''
        release: dist
        	twine upload --username __token__ --password «V» dist/*''', V),
    ("gitlab_ci", '''
        upload:
          stage: deploy
          variables:
            PYPI_API_TOKEN: «V»
          script:
            - hatch publish -u __token__ -a $PYPI_API_TOKEN''', V),
    ("circleci", '''
        environment:
          TWINE_PASSWORD: «V»''', V),
    ("pypirc", '''
        [testpypi]
        repository = https://test.pypi.org/legacy/
        username = __token__
        [pypi]
        username = __token__
        password = «V»''', V),
]

POS["openai_key"] = [
    ("python", '''
        import openai

        openai.api_key = "«V»"''', V),
    ("python", '''
        from openai import OpenAI

        client = OpenAI(api_key="«V»")
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=msgs)''', V),
    ("curl", '''
        curl https://api.openai.com/v1/chat/completions \\
          -H "Content-Type: application/json" \\
          -H "Authorization: Bearer «V»" \\
          -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}' ''', V),
    ("env", '''
        OPENAI_API_KEY=«V»
        OPENAI_MODEL=gpt-4o''', V),
    ("notebook", '''
        {
         "cell_type": "code",
         "metadata": {},
         "source": [
          "%env OPENAI_API_KEY=«V»"
         ]
        }''', V),
    ("js", '''
        const openai = new OpenAI({
          apiKey: "«V»",
        });''', V),
    ("python", '''
        llm = ChatOpenAI(
            model="gpt-4o",
            temperature=0,
            openai_api_key="«V»",
        )''', V),
    ("toml", '''
        # .streamlit/secrets.toml
        OPENAI_API_KEY = "«V»"''', V),
    ("shell_history", '''
          12  export OPENAI_API_KEY=«V»
          13  python eval.py --model gpt-4o''', V),
    ("go", '''
        client := openai.NewClient("«V»")''', V),
]

POS["anthropic_key"] = [
    ("python", '''
        import anthropic

        client = anthropic.Anthropic(api_key="«V»")''', V),
    ("curl", '''
        curl https://api.anthropic.com/v1/messages \\
             --header "x-api-key: «V»" \\
             --header "anthropic-version: 2023-06-01" \\
             --header "content-type: application/json"''', V),
    ("env", '''
        ANTHROPIC_API_KEY=«V»''', V),
    ("js", '''
        const client = new Anthropic({
          apiKey: '«V»',
        });''', V),
    ("notebook", '''
        {
         "cell_type": "code",
         "source": [
          "import os\\n",
          "os.environ[\\"ANTHROPIC_API_KEY\\"] = \\"«V»\\""
         ]
        }''', V),
    ("toml", '''
        [anthropic]
        api_key = "«V»"
        model = "claude-3-5-sonnet-latest"''', V),
    ("yaml", '''
        model_list:
          - model_name: claude
            litellm_params:
              model: anthropic/claude-3-5-haiku-latest
              api_key: «V»''', V),
    ("compose", '''
        services:
          agent:
            image: orbit/agent:0.3
            environment:
              - ANTHROPIC_API_KEY=«V»''', V),
    ("ruby", """
        client = Anthropic::Client.new(access_token: '«V»')""", V),
    ("shell_history", '''
          301  export ANTHROPIC_API_KEY='«V»'
          302  claude-eval run suite.yaml''', V),
]

POS["huggingface_token"] = [
    ("python", '''
        from huggingface_hub import login

        login(token="«V»")''', V),
    ("shell_history", '''
          55  huggingface-cli login --token «V»
          56  huggingface-cli download meta-llama/Llama-3.1-8B''', V),
    ("env", '''
        HF_TOKEN=«V»''', V),
    ("python", '''
        model = AutoModelForCausalLM.from_pretrained(
            "meta-llama/Llama-3.1-8B-Instruct",
            token="«V»",
            torch_dtype=torch.bfloat16,
        )''', V),
    ("git_remote", '''
        git clone https://orbit-ml:«V»@huggingface.co/spaces/orbit-ml/demo''', V),
    ("notebook", '''
        {
         "cell_type": "code",
         "source": [
          "!huggingface-cli login --token «V»"
         ]
        }''', V),
    ("curl", '''
        curl https://api-inference.huggingface.co/models/gpt2 \\
          -H "Authorization: Bearer «V»" \\
          -d '{"inputs": "Once upon a time"}' ''', V),
    ("gha", '''
        env:
          HF_HUB_ENABLE_HF_TRANSFER: 1
          HUGGING_FACE_HUB_TOKEN: «V»''', V),
    ("dockerfile", '''
        FROM python:3.11-slim
        ENV HUGGING_FACE_HUB_TOKEN=«V»
        RUN pip install transformers''', V),
    ("js", '''
        const hf = new HfInference("«V»");''', V),
]

POS["private_key"] = [
    ("k8s_secret", '''
        apiVersion: v1
        kind: Secret
        type: kubernetes.io/tls
        stringData:
          tls.key: |
        «PEMI»''', [("PEMI", "private_key")]),
    ("openssh", '''«PEMO»''', [("PEMO", "private_key")]),
    ("python", '''
        SIGNING_KEY = """«PEMR»"""''', [("PEMR", "private_key")]),
    ("json", '''
        {
          "type": "service_account",
          "project_id": "orbit-prod",
          "private_key_id": "«HEX40»",
          "private_key": "«PEMJ»",
          "client_id": "104958712364019283746"
        }''', [("PEMJ", "private_key")]),
    ("terraform", '''
        resource "tls_locally_signed_cert" "api" {
          ca_private_key_pem = <<EOT
        «PEME»
        EOT
        }''', [("PEME", "private_key")]),
    ("gitlab_ci", '''
        variables:
          SSH_PRIVATE_KEY: |
        «PEMOI»''', [("PEMOI", "private_key")]),
    ("pem", '''«PEME»''', [("PEME", "private_key")]),
    ("go", '''
        const testKey = `«PEMR»`''', [("PEMR", "private_key")]),
    ("env", '''
        JWT_PRIVATE_KEY="«PEMP»"''', [("PEMP", "private_key")]),
    ("ansible", '''
        deploy_user: ansible
        deploy_ssh_key: |
        «PEMOI»''', [("PEMOI", "private_key")]),
]

POS["jwt"] = [
    ("curl", '''
        curl -H "Authorization: Bearer «V»" https://api.orbitlabs.dev/v2/me''', V),
    ("http", '''
        HTTP/1.1 302 Found
        Location: /dashboard
        Set-Cookie: access_token=«V»; Path=/; HttpOnly; Secure''', V),
    ("env", '''
        SERVICE_JWT=«V»''', V),
    ("js", '''
        localStorage.setItem("token", "«V»");''', V),
    ("python", '''
        TOKEN = "«V»"
        resp = requests.get(f"{BASE}/orders", headers={"Authorization": f"Bearer {TOKEN}"})''', V),
    ("log", '''
        10.0.3.7 - - [03/Apr/2024:14:21:09 +0000] "GET /ws?access_token=«V» HTTP/1.1" 101 0''', V),
    ("kubeconfig", '''
        users:
        - name: ci-deployer
          user:
            token: «V»''', V),
    ("postman_json", '''
        {
          "key": "bearerToken",
          "value": "«V»",
          "enabled": true
        }''', V),
    ("go", '''
        req.Header.Set("Authorization", "Bearer «V»")''', V),
    ("notebook", '''
        {
         "cell_type": "code",
         "source": [
          "jwt_token = '«V»'\\n",
          "client = ApiClient(token=jwt_token)"
         ]
        }''', V),
]

POS["url_credentials"] = [
    ("env", '''
        DATABASE_URL=postgres://«USER»:«UPW»@«HOST»:5432/«DB»''', [("UPW", "url_credentials")]),
    ("python", '''
        engine = create_engine("mysql+pymysql://«USER»:«UPW»@«HOST»/«DB»?charset=utf8mb4")''',
     [("UPW", "url_credentials")]),
    ("compose", '''
        services:
          api:
            environment:
              REDIS_URL: redis://:«UPW»@cache:6379/0''', [("UPW", "url_credentials")]),
    ("js", '''
        const uri = "mongodb+srv://«USER»:«UPW»@cluster0.q8fke.mongodb.net/?retryWrites=true&w=majority";
        const client = new MongoClient(uri);''', [("UPW", "url_credentials")]),
    ("git_remote", '''
        [remote "origin"]
        	url = https://«USER»:«UPW»@git.corp.lan/platform/infra.git''', [("UPW", "url_credentials")]),
    ("pip_conf", '''
        [global]
        extra-index-url = https://«USER»:«UPW»@pypi.corp.lan/simple/''', [("UPW", "url_credentials")]),
    ("django", '''
        CELERY_BROKER_URL = "amqp://orders:«UPW»@rabbitmq:5672/prod"''', [("UPW", "url_credentials")]),
    ("stacktrace", '''
        sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "«HOST»", port 5432 failed: timeout expired
        (Background on this error at: https://sqlalche.me/e/20/e3q8)
          engine url: postgresql+psycopg2://«USER»:«UPW»@«HOST»:5432/«DB»''', [("UPW", "url_credentials")]),
    ("shell_history", '''
        export https_proxy=http://«USER»:«UPW»@proxy.corp.lan:3128
        pip install -r requirements.txt''', [("UPW", "url_credentials")]),
    ("java_properties", '''
        spring.rabbitmq.addresses=amqps://«USER»:«UPW»@mq.orbitlabs.dev:5671/billing''', [("UPW", "url_credentials")]),
    ("shell_history", '''
        lftp ftp://backup:«UPW»@ftp.northwind-logistics.com -e "mirror -R /var/backups /nightly; quit"''',
     [("UPW", "url_credentials")]),
]

POS["password"] = [
    ("django", '''
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "«DB»",
                "USER": "«USER»",
                "PASSWORD": "«V»",
                "HOST": "«HOST»",
            }
        }''', V),
    ("psycopg2", '''
        conn = psycopg2.connect(
            host="«HOST»",
            dbname="«DB»",
            user="«USER»",
            password="«V»",
        )''', V),
    ("compose", '''
        services:
          db:
            image: postgres:16
            environment:
              POSTGRES_USER: «USER»
              POSTGRES_PASSWORD: «V»''', V),
    ("k8s_secret", '''
        apiVersion: v1
        kind: Secret
        metadata:
          name: mysql-auth
        stringData:
          username: «USER»
          password: "«V»"''', V),
    ("java_properties", '''
        spring.datasource.url=jdbc:postgresql://«HOST»:5432/«DB»
        spring.datasource.username=«USER»
        spring.datasource.password=«V»''', V),
    ("netrc", '''
        machine artifacts.corp.lan
          login «USER»
          password «V»''', V),
    ("maven_settings", '''
        <server>
          <id>corp-releases</id>
          <username>«USER»</username>
          <password>«V»</password>
        </server>''', V),
    ("php", """
        $db_host = '«HOST»';
        $db_user = '«USER»';
        $db_password = '«V»';
        $pdo = new PDO("mysql:host=$db_host;dbname=shop", $db_user, $db_password);""", V),
    ("go", '''
        cfg := mysql.Config{
            User:   "«USER»",
            Passwd: "«V»",
            Net:    "tcp",
            Addr:   "«HOST»:3306",
        }''', V),
    ("rails_yaml", '''
        production:
          adapter: postgresql
          database: «DB»
          username: «USER»
          password: «V»''', V),
    ("shell_history", '''
          918  mysqldump -h «HOST» -u «USER» --password=«V» «DB» > dump.sql''', V),
    ("curl", '''
        curl -u «USER»:«V» -X POST https://jenkins.corp.lan/job/deploy/build''', V),
]

POS["generic_secret"] = [
    ("django", '''
        # settings/production.py
        DEBUG = False
        SECRET_KEY = "«DJ»"
        ALLOWED_HOSTS = ["orbitlabs.dev"]''', [("DJ", "generic_secret")]),
    ("python", '''
        app = Flask(__name__)
        app.secret_key = "«V»"''', V),
    ("curl", '''
        curl -s https://internal-api.orbitlabs.dev/v1/reports \\
          -H "Authorization: Bearer «V»"''', V),
    ("http_log", '''
        > GET /v3/metrics HTTP/1.1
        > Host: telemetry.northwind-logistics.com
        > X-API-Key: «V»
        > Accept: */*''', V),
    ("python", '''
        oauth = OAuth2Session(
            client_id="orbit-dashboard",
            client_secret="«V»",
            redirect_uri="https://orbitlabs.dev/callback",
        )''', V),
    ("k8s_secret", '''
        apiVersion: v1
        kind: Secret
        metadata:
          name: github-webhook
        stringData:
          WEBHOOK_SECRET: «V»''', V),
    ("terraform", '''
        provider "datadog" {
          api_key = "«HEX32»"
          app_key = "«V»"
        }''', [("HEX32", "generic_secret"), ("V", "generic_secret")]),
    ("rails_yaml", '''
        production:
          secret_key_base: «HEX128»''', [("HEX128", "generic_secret")]),
    ("go", '''
        var jwtSecret = []byte("«V»")''', V),
    ("java_properties", '''
        security.jwt.secret=«V»
        security.jwt.expiration=3600''', V),
    ("gitlab_ci", '''
        variables:
          SENTRY_AUTH_TOKEN: «HEX64»
          SENTRY_ORG: orbit''', [("HEX64", "generic_secret")]),
]

POS["email"] = [
    ("git_log", '''
        commit «HEX40»
        Author: «NAME» <«V»>
        Date:   Tue Mar 5 14:02:11 2024 +0100

            fix: retry S3 uploads on 503''', V),
    ("json", '''
        {
          "name": "@orbit/ui-kit",
          "version": "3.2.0",
          "author": "«NAME» <«V»>",
          "license": "MIT"
        }''', V),
    ("toml", '''
        [project]
        name = "orbit-etl"
        authors = [{ name = "«NAME»", email = "«V»" }]''', V),
    ("django", '''
        ADMINS = [("«NAME»", "«V»")]
        SERVER_EMAIL = "alerts@localhost"''', V),
    ("log", '''
        2024-04-18 09:12:55 INFO accounts.views password reset link sent to «V» (user_id=48213)''', V),
    ("sql", '''
        INSERT INTO customers (id, full_name, email, created_at)
        VALUES (1042, '«NAME»', '«V»', '2024-01-09 11:22:33');''', V),
    ("csv", '''
        id,name,email,phone
        17,«NAME»,«V»,«PHONE»''', [("V", "email"), ("PHONE", "phone")]),
    ("dockerfile", '''
        FROM python:3.12-slim
        LABEL maintainer="«V»"''', V),
    ("gitconfig", '''
        [user]
        	name = «NAME»
        	email = «V»''', V),
    ("php", """
        $mail->setFrom('«V»', 'Orbit Billing');
        $mail->addAddress('«EMAIL2»');""", [("V", "email"), ("EMAIL2", "email")]),
]

POS["phone"] = [
    ("vcard", '''
        BEGIN:VCARD
        VERSION:3.0
        FN:«NAME»
        TEL;TYPE=cell:«V»
        END:VCARD''', V),
    ("json", '''
        {
          "customer_id": 88123,
          "contact": {"name": "«NAME»", "phone": "«V»"}
        }''', V),
    ("html", '''
        <p class="support">Questions? Call <a href="tel:«V»">«V»</a></p>''', V),
    ("yaml", '''
        oncall:
          primary:
            name: «NAME»
            phone: "«V»"''', V),
    ("sql", '''
        UPDATE users SET phone = '«V»' WHERE id = 5521;''', V),
    ("log", '''
        2024-07-02T18:44:10Z INFO sms.sender verification code sent to «V» (attempt 1/3)''', V),
    ("ruby", """
        User.create!(name: '«NAME»', phone: '«V»', role: :admin)""", V),
    ("go", '''
        var supportContact = Contact{Name: "«NAME»", Phone: "«V»"}''', V),
    ("java_properties", '''
        support.email=«EMAIL»
        support.phone=«V»''', [("EMAIL", "email"), ("V", "phone")]),
    ("markdown", '''
        ## Contact

        For urgent production issues page the on-call engineer at «V».''', V),
]


def pem_variants(r, values):
    """Fill the PEM markers used by the private_key templates."""
    values["PEMR"] = v_pem(r, "RSA")
    values["PEMO"] = v_pem(r, "OPENSSH")
    values["PEME"] = v_pem(r, "EC")
    values["PEMP"] = v_pem(r, "PKCS8")
    values["PEMI"] = textwrap.indent(v_pem(r, r.choice(["PKCS8", "RSA"])), "    ")
    values["PEMOI"] = textwrap.indent(v_pem(r, "OPENSSH"), "    ")
    values["PEMJ"] = v_pem(r, "PKCS8").replace("\n", "\\n") + "\\n"


def build_positives():
    for kind in KINDS:
        r = Random("%s:pos:%s" % (SEED, kind))
        for i, (ctx, tpl, labels) in enumerate(POS[kind]):
            labels = labels or [("V", kind)]
            extra = {}
            if kind == "private_key":
                pem_variants(r, extra)
            extra["HEX32"] = rs(r, 32, HEX)
            extra["HEX64"] = rs(r, 64, HEX)
            extra["HEX128"] = rs(r, 128, HEX)
            # add_pos fills the rest; pre-seeded values go through a small wrapper
            values = {"V": VGEN[kind](r)} if kind != "url_credentials" else {"V": v_urlpw(r)}
            if kind == "url_credentials":
                values["UPW"] = values["V"]
            values.update(extra)
            text = fill(textwrap.dedent(tpl).strip("\n"), r, values)
            labs = []
            for marker, k in labels:
                needle = values[marker].strip().split("\n")[0]
                if "\\n" in needle:
                    needle = needle.split("\\n")[0]
                ln = find_line(text, needle)
                if {"line": ln, "kind": k} not in labs:
                    labs.append({"line": ln, "kind": k})
            labs.sort(key=lambda d: (d["line"], d["kind"]))
            what = "synthetic %s" % kind if len(labs) == 1 else \
                "synthetic " + " + ".join(sorted({d["kind"] for d in labs}))
            records.append({"id": next_id(kind), "text": text, "labels": labs, "note": what + "; " + ctx})


# ----------------------------------------------------------------------------- negatives

def build_negatives():
    r = Random(SEED + ":neg")
    h = lambda n: rs(r, n, HEX)  # noqa: E731

    P = "placeholder"
    for ctx, t, why in [
        ("terraform", '''
            provider "aws" {
              access_key = "AKIAIOSFODNN7EXAMPLE"
              secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            }''', "AWS documented example keys"),
        ("compose", '''
            environment:
              POSTGRES_PASSWORD: changeme
              POSTGRES_USER: app''', "changeme"),
        ("env", '''
            OPENAI_API_KEY=sk-...your-key-here
            ANTHROPIC_API_KEY=<your-anthropic-key>''', "your / angle brackets"),
        ("npmrc", '''
            //registry.npmjs.org/:_authToken=${NPM_TOKEN}''', "${ interpolation"),
        ("k8s_secret", '''
            stringData:
              password: "********"
              api-token: REDACTED''', "masked / redacted"),
        ("python", '''
            password = "password"
            username = "username"''', "value equals its name"),
        ("curl", '''
            curl -u admin:<password> https://jenkins.local/api/json''', "angle-bracket placeholder"),
        ("markdown", '''
            Set the token in your shell:

                export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx''', "ghp_ followed by x"),
        ("helm", '''
            env:
              - name: DB_PASSWORD
                value: {{ .Values.db.password | quote }}''', "{{ template"),
        ("python", '''
            DATABASE_URL = "postgresql://%s:%s@%s/%s" % (user, pw, host, name)''', "%s format fields"),
        ("yaml", '''
            slack:
              webhook_url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX''',
         "Slack documentation webhook"),
        ("django", '''
            SECRET_KEY = "dev-secret"
            DEBUG = True''', "short non-random secret"),
        ("php", """
            define('DB_PASSWORD', 'pass');""", "password shorter than 6"),
        ("ini", '''
            [database]
            user = app
            password =''', "empty value"),
        ("env", '''
            STRIPE_SECRET_KEY=sk_live_placeholder
            STRIPE_WEBHOOK_SECRET=whsec_placeholder''', "placeholder word"),
        ("gha", '''
            - uses: pypa/gh-action-pypi-publish@release/v1
              with:
                password: "pypi-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"''', "pypi- with X"),
        ("pem", '''
            -----BEGIN PRIVATE KEY-----
            <paste your private key here>
            -----END PRIVATE KEY-----''', "PEM with placeholder body"),
        ("js", '''
            const client = new OpenAI({ apiKey: "YOUR_API_KEY" });''', "YOUR_"),
        ("env", '''
            HF_TOKEN=hf_dummytokenfordocs
            WANDB_API_KEY=dummy''', "dummy"),
        ("python", '''
            client = Anthropic(api_key="sk-ant-api03-sample")''', "sample"),
        ("java_properties", '''
            spring.datasource.password=%(db_password)s''', "%( format field"),
        ("pypirc", '''
            [pypi]
            username = __token__
            password = <pypi-token>''', "angle brackets"),
        ("sql", '''
            CREATE USER reporting WITH PASSWORD 'xxxxxxxx';''', "repeated character"),
        ("log", '''
            INFO auth ok user=alice token=[REDACTED] ip=10.0.0.4''', "redacted"),
        ("curl", '''
            curl -H "Authorization: Bearer $TOKEN" -H "X-API-Key: {{api_key}}" https://api.local/v1''',
         "shell var and template"),
        ("go", '''
            const apiKey = "AIzaSy-EXAMPLE-KEY-DO-NOT-USE"''', "EXAMPLE"),
        ("netrc", '''
            machine api.heroku.com
              login me@example.com
              password fakepassword123''', "fake + example.com"),
        ("terraform", '''
            variable "db_password" {
              type      = string
              sensitive = true
              default   = "changeme123"
            }''', "changeme"),
    ]:
        add_neg(P, t, why, ctx)

    E = "env_lookup"
    for ctx, t in [
        ("python", 'aws_secret = os.environ["AWS_SECRET_ACCESS_KEY"]\nregion = os.getenv("AWS_REGION", "us-east-1")'),
        ("psycopg2", 'conn = psycopg2.connect(host=cfg.host, user=cfg.user, password=os.getenv("PGPASSWORD"))'),
        ("gha", '- run: twine upload dist/*\n  env:\n    TWINE_PASSWORD: ${{ secrets.PYPI_TOKEN }}'),
        ("gitlab_ci", 'script:\n  - docker login -u $CI_REGISTRY_USER -p $CI_REGISTRY_PASSWORD $CI_REGISTRY'),
        ("jenkinsfile", "withCredentials([string(credentialsId: 'slack-token', variable: 'SLACK_TOKEN')]) {\n  sh 'notify.sh'\n}"),
        ("jenkinsfile", "environment {\n  AWS_ACCESS_KEY_ID = credentials('aws-access-key-id')\n  AWS_SECRET_ACCESS_KEY = credentials('aws-secret-access-key')\n}"),
        ("k8s", 'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: pg-auth\n        key: password'),
        ("terraform", 'resource "aws_db_instance" "main" {\n  username = "app"\n  password = var.db_password\n}'),
        ("terraform", 'password = data.aws_secretsmanager_secret_version.db.secret_string'),
        ("compose", 'environment:\n  POSTGRES_PASSWORD_FILE: /run/secrets/db_password\nsecrets:\n  - db_password'),
        ("django", 'SECRET_KEY = env("DJANGO_SECRET_KEY")\nDATABASES = {"default": env.db("DATABASE_URL")}'),
        ("ruby", 'secret = Rails.application.credentials.dig(:aws, :secret_access_key)'),
        ("php", "$password = getenv('DB_PASSWORD');\n$token = $_ENV['API_TOKEN'] ?? null;"),
        ("go", 'token := os.Getenv("GITHUB_TOKEN")\nif token == "" {\n    log.Fatal("GITHUB_TOKEN not set")\n}'),
        ("rust", 'let api_key = std::env::var("OPENAI_API_KEY").expect("OPENAI_API_KEY must be set");'),
        ("js", 'const stripe = require("stripe")(process.env.STRIPE_SECRET_KEY);'),
        ("java", 'String password = System.getenv("KEYSTORE_PASSWORD");'),
        ("java_properties", 'spring.datasource.password=${DB_PASSWORD}\napp.jwt.secret=${JWT_SECRET:}'),
        ("python", 'password = keyring.get_password("pypi", username)\nif password is None:\n    password = getpass.getpass("PyPI password: ")'),
        ("python", 'def connect(user, password=None, token=None):\n    token = token or settings.API_TOKEN'),
        ("python", 'auth = request.headers["Authorization"]\nscheme, _, credentials = auth.partition(" ")'),
        ("shell", 'export VAULT_TOKEN=$(vault login -token-only -method=oidc)\nDB_PASS=$(vault kv get -field=password secret/prod/db)'),
        ("shell", 'aws ssm get-parameter --name /prod/api/key --with-decryption --query Parameter.Value --output text'),
        ("circleci", 'workflows:\n  deploy:\n    jobs:\n      - deploy:\n          context: aws-prod-creds'),
        ("python", 'session = boto3.Session(profile_name="prod")\nsecret = session.client("secretsmanager").get_secret_value(SecretId="prod/db")'),
        ("notebook", '{\n "cell_type": "code",\n "source": [\n  "from google.colab import userdata\\n",\n  "HF_TOKEN = userdata.get(\'HF_TOKEN\')"\n ]\n}'),
        ("dockerfile", 'ARG NPM_TOKEN\nRUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci'),
    ]:
        add_neg(E, t, "lookup, not a literal", ctx)

    H = "hash_digest"
    sha = lambda: h(64)  # noqa: E731
    for ctx, t in [
        ("compose", "services:\n  web:\n    image: nginx@sha256:%s" % sha()),
        ("requirements", "requests==2.32.3 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s" % (sha(), sha())),
        ("package_lock", '"node_modules/left-pad": {\n  "version": "1.3.0",\n  "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",\n  "integrity": "sha512-%s=="\n}' % rs(r, 86, B64)),
        ("git_log", "commit %s\nMerge: %s %s" % (h(40), h(7), h(7))),
        ("cargo_lock", '[[package]]\nname = "serde"\nversion = "1.0.203"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"' % sha()),
        ("terraform_lock", 'provider "registry.terraform.io/hashicorp/aws" {\n  version = "5.54.1"\n  hashes = [\n    "h1:%s=",\n    "zh:%s",\n  ]\n}' % (rs(r, 43, B64), sha())),
        ("dockerfile", 'ARG KUBECTL_SHA256=%s\nRUN echo "${KUBECTL_SHA256}  kubectl" | sha256sum -c -' % sha()),
        ("shell", "$ md5sum backup.tar.gz\n%s  backup.tar.gz" % h(32)),
        ("http", 'HTTP/1.1 200 OK\nETag: "%s"\nContent-Length: 5120' % h(32)),
        ("wheel_record", "requests/__init__.py,sha256=%s,5165" % rs(r, 43, URLSAFE)),
        ("gha", "- uses: actions/checkout@%s # v4.1.7\n- uses: actions/setup-python@%s # v5" % (h(40), h(40))),
        ("html", '<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js"\n  integrity="sha384-%s"\n  crossorigin="anonymous"></script>' % rs(r, 64, B64)),
        ("go_sum", "github.com/google/uuid v1.6.0 h1:%s=\ngithub.com/google/uuid v1.6.0/go.mod h1:%s=" % (rs(r, 43, B64), rs(r, 43, B64))),
        ("python", 'EXPECTED_SHA256 = "%s"\nif hashlib.sha256(data).hexdigest() != EXPECTED_SHA256:\n    raise ValueError("checksum mismatch")' % sha()),
        ("k8s", "containers:\n  - name: api\n    image: ghcr.io/orbitlabs/api@sha256:%s" % sha()),
        ("log", "2024-02-01 10:00:01 INFO build cache hit key=deps-%s" % sha()),
        ("json", '{\n  "file": "model.safetensors",\n  "sha256": "%s",\n  "size": 4943162240\n}' % sha()),
        ("yaml", "checksums:\n  linux-amd64: sha256:%s\n  darwin-arm64: sha256:%s" % (sha(), sha())),
        ("shell", "$ git rev-parse HEAD\n%s" % h(40)),
        ("python", 'password_hash = "pbkdf2_sha256$600000$%s$%s="' % (rs(r, 22, ALNUM), rs(r, 43, B64))),
        ("sql", "INSERT INTO files (path, sha1) VALUES ('/srv/a.bin', '%s');" % h(40)),
        ("conda_lock", "  - name: numpy\n    version: 1.26.4\n    hash:\n      md5: %s\n      sha256: %s" % (h(32), sha())),
        ("java_properties", "artifact.sha512=%s" % h(128)),
        ("dvc", "outs:\n- md5: %s\n  size: 104857600\n  path: data/train.parquet" % h(32)),
        ("docker", "$ docker images --digests\nREPOSITORY   TAG    DIGEST                                                                    IMAGE ID\npostgres     16     sha256:%s   %s" % (sha(), h(12))),
    ]:
        add_neg(H, t, "digest under a digest-like name", ctx)

    U = "uuid"
    import uuid as _uuid  # only for formatting; bytes come from r
    u = lambda: str(_uuid.UUID(int=r.getrandbits(128), version=4))  # noqa: E731
    for ctx, t in [
        ("terraform", 'provider "azurerm" {\n  features {}\n  subscription_id = "%s"\n  tenant_id       = "%s"\n  client_id       = "%s"\n}' % (u(), u(), u())),
        ("python", 'API_KEY = "%s"  # tenant identifier issued by the partner portal' % u()),
        ("json", '{\n  "token": "%s",\n  "expires_in": 3600,\n  "token_type": "bearer"\n}' % u()),
        ("log", "2024-05-09 11:02:03 INFO request_id=%s path=/api/v1/orders status=200" % u()),
        ("k8s", "metadata:\n  name: api-7d9f\n  uid: %s\n  resourceVersion: \"48213\"" % u()),
        ("notebook", '{\n "cell_type": "markdown",\n "id": "%s",\n "metadata": {},\n "source": ["## Results"]\n}' % u()),
        ("java", 'private static final UUID CLIENT_ID = UUID.fromString("%s");' % u()),
        ("env", "AZURE_CLIENT_ID=%s\nAZURE_TENANT_ID=%s" % (u(), u())),
        ("sql", "SELECT * FROM sessions WHERE session_token = '%s';" % u()),
        ("yaml", "datadog:\n  site: datadoghq.eu\n  org_id: %s" % u()),
        ("js", 'const correlationId = "%s";' % u()),
        ("csharp", '[Guid("%s")]\npublic interface IOrbitPlugin { }' % u().upper()),
        ("shell", "curl -H 'X-Request-ID: %s' http://localhost:8080/healthz" % u()),
        ("go", 'var installID = uuid.MustParse("%s")' % u()),
        ("compose", "environment:\n  LICENSE_KEY: %s" % u()),
    ]:
        add_neg(U, t, "UUID treated as identifier", ctx)

    T = "test_vector"
    for ctx, t in [
        ("python", '# RFC 4231 test case 1\nkey = b"\\x0b" * 20\ndata = b"Hi There"\nexpected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"'),
        ("python", 'assert hashlib.sha256(b"abc").hexdigest() == (\n    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"\n)'),
        ("python", '# FIPS-197 C.1\nkey = bytes.fromhex("000102030405060708090a0b0c0d0e0f")\npt = bytes.fromhex("00112233445566778899aabbccddeeff")\nct = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")'),
        ("python", 'assert base64.b64decode("SGVsbG8sIFdvcmxkIQ==") == b"Hello, World!"'),
        ("python", 'KEY = "0123456789abcdef" * 2\nIV = b"\\x00" * 16'),
        ("python", '# RFC 6238 appendix B seed\nsecret = b"12345678901234567890"\nassert totp(secret, 59, digits=8) == "94287082"'),
        ("python", '@pytest.mark.parametrize("raw,encoded", [\n    (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"),\n    (b"foobar", "Zm9vYmFy"),\n])'),
        ("python", '# RFC 6070 PBKDF2-HMAC-SHA1\nassert pbkdf2(b"password", b"salt", 1, 20).hex() == "0c60c80f961f0e71f3a9b524af6012062fe037a6"'),
        ("python", 'EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"\nEMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"'),
        ("python", '# RFC 8439 2.4.2\nkey = bytes(range(32))\nnonce = bytes.fromhex("000000000000004a00000000")'),
        ("python", '# RFC 2202 HMAC-MD5 test case 2\nkey = b"Jefe"\ndata = b"what do ya want for nothing?"\ndigest = "750c783e6ab0b503eaa86e310a5db738"'),
        ("go", 'func TestSHA1(t *testing.T) {\n\twant := "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"\n\tgot := sum("The quick brown fox jumps over the lazy dog")'),
        ("js", 'test("decodes", () => {\n  expect(atob("dGVzdCBkYXRh")).toBe("test data");\n});'),
        ("rust", '#[test]\nfn crc32_check() {\n    assert_eq!(crc32(b"123456789"), 0xCBF43926);\n}'),
        ("python", 'FIXTURE_SECRET = bytes(32)  # all-zero key for deterministic tests'),
        ("python", '# RFC 4648 section 10\nassert base64.b32encode(b"foobar") == b"MZXW6YTBOI======"'),
        ("java", '@Test\nvoid sha256Empty() {\n  assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sha256(""));\n}'),
        ("python", 'iv = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")  # NIST SP 800-38A F.5.1 counter'),
        ("python", 'SALT = b"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08"\nITERATIONS = 1000'),
        ("python", 'sample_b64 = base64.b64encode(b"lorem ipsum dolor sit amet").decode()'),
    ]:
        add_neg(T, t, "test vector / test data", ctx)

    N = "nonsecret_name"
    for ctx, t in [
        ("python", 'token_type = "bearer"\nmax_tokens = 4096'),
        ("python", 'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")\ntokens = tokenizer("hello world")["input_ids"]'),
        ("python", 'secret_name = "prod/db/credentials"\nresp = sm.get_secret_value(SecretId=secret_name)'),
        ("django", 'PASSWORD_MIN_LENGTH = 12\nPASSWORD_RESET_TIMEOUT = 259200'),
        ("python", 'api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)'),
        ("yaml", 'auth:\n  type: oauth2\n  token_url: https://login.orbitlabs.dev/oauth/token\n  scopes: [read, write]'),
        ("sqlalchemy", 'id = Column(Integer, primary_key=True)\napi_key_id = Column(String(64), index=True)'),
        ("terraform", 'resource "aws_iam_account_password_policy" "strict" {\n  minimum_password_length = 14\n  require_symbols         = true\n}'),
        ("k8s", 'volumes:\n  - name: tls\n    secret:\n      secretName: api-tls\n      defaultMode: 0400'),
        ("nginx", 'ssl_certificate     /etc/nginx/certs/server.crt;\nssl_certificate_key /etc/nginx/certs/server.key;'),
        ("ts", 'interface LoginForm {\n  email: string;\n  password: string;\n  rememberMe: boolean;\n}'),
        ("python", 'def rotate(secret_id: str, token: str | None = None) -> None:\n    ...'),
        ("django", 'AUTH_USER_MODEL = "accounts.User"\nPASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]'),
        ("env", 'GITHUB_TOKEN_SCOPES=repo,read:org\nTOKEN_TTL_SECONDS=900'),
        ("python", 'kms_key_id = "alias/orbit-prod"\nssh_key_name = "deploy-2024"'),
        ("html", '<input type="password" name="password" id="password" autocomplete="current-password">'),
        ("js", 'const passwordInput = document.querySelector("input#password");\npasswordInput.type = "text";'),
        ("python", 'if key == "password":\n    value = "***"\nsecret_keys = ("password", "token", "api_key")'),
        ("yaml", 'keycloak:\n  realm: orbit\n  client-id: dashboard\n  public-client: true'),
        ("go", 'type Config struct {\n\tAPIKey   string `json:"api_key"`\n\tPassword string `json:"password"`\n}'),
        ("python", 'parser.add_argument("--password", help="database password (prompted if omitted)")'),
        ("java", 'public static final String AUTH_HEADER = "Authorization";\npublic static final String TOKEN_PREFIX = "Bearer ";'),
        ("log", 'INFO tokenizer: loaded 50257 tokens, pad_token=<|endoftext|>'),
        ("python", 'SECRET_KEY_FALLBACKS = []\nSESSION_COOKIE_NAME = "orbit_session"'),
        ("php", "$passwordField = 'user_password';\n$tokenLength = 32;"),
        ("ruby", "has_secure_password\nvalidates :password, length: { minimum: 10 }"),
    ]:
        add_neg(N, t, "secret-ish name, non-secret value", ctx)

    M = "near_miss"
    for ctx, t, why in [
        ("python", 'key_id = "AKIA%s"' % rs(r, 10, UP + DIG), "AKIA + too few chars"),
        ("python", 'ref = "AKIB%s"' % rs(r, 16, UP + "234567"), "wrong AWS prefix"),
        ("log", "object key akia%s not found" % rs(r, 16, LO + "234567"), "lowercase akia"),
        ("markdown", "Personal access tokens start with `ghp_`, e.g. `ghp_123abc` (truncated).", "ghp_ too short"),
        ("python", 'prefix = "xoxz-%d-%s"' % (r.randint(10 ** 10, 10 ** 11), rs(r, 12)), "wrong slack prefix"),
        ("js", 'const label = "glpat-" + scope;', "glpat- without body"),
        ("html", '<div class="sk-toggleable__content sk-toggleable__content-fitted"><pre>LogisticRegression()</pre></div>', "sklearn sk- CSS classes"),
        ("css", '#sk-container-id-1 { color: black; }\n.sk-estimator-doc-link { margin-left: 0.5em; }', "sk- CSS ids"),
        ("python", 'from huggingface_hub import hf_hub_download\nhf_config = hf_hub_download(repo_id="gpt2", filename="config.json")', "hf_ identifiers"),
        ("env", "STRIPE_PUBLISHABLE_KEY=pk_live_%s" % rs(r, 24), "Stripe publishable key"),
        ("js", 'const version = "v2.%d.%d.%s";' % (r.randint(0, 9), r.randint(0, 9), rs(r, 7, HEX)), "dotted version"),
        ("python", 'span = "abc123.def456.ghi789"  # span path, not a JWT', "JWT-like without eyJ"),
        ("pem", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n%s\n-----END CERTIFICATE-----" % rs(r, 64, B64), "certificate"),
        ("pem", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA%s\n-----END PUBLIC KEY-----" % rs(r, 20, B64), "public key"),
        ("pem", "-----BEGIN CERTIFICATE REQUEST-----\nMIICijCCAXICAQAwRTELMAkGA1UEBhMCQVUx%s\n-----END CERTIFICATE REQUEST-----" % rs(r, 28, B64), "CSR"),
        ("authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s deploy@build-runner-3" % rs(r, 43, B64), "ssh public key"),
        ("git", "git clone git@github.com:orbitlabs/infra.git\ncd infra", "git@github.com"),
        ("shell", "scp dist/app.tar.gz deploy@10.0.4.12:/srv/releases/", "user@host scp"),
        ("git", "git remote add upstream https://jdoe@bitbucket.org/orbit/api.git", "user without password"),
        ("env", "DATABASE_URL=postgres://localhost/orbit_dev", "URL without credentials"),
        ("log", "2024-03-01 12:00:00 INFO request_id=%s build_id=%s" % (rs(r, 26, UP + DIG), rs(r, 20)), "random ids under non-secret names"),
        ("python", 'trace_id = "%s"' % h(32), "32 hex under trace_id"),
        ("json", '{"commit": "%s", "build_number": 4812}' % h(40), "git sha under commit"),
        ("python", 'MODEL = "sk-roberta-large"\nDATASET = "hf_internal_testing"', "sk-/hf_ names"),
        ("shell", "npm_config_cache=/tmp/.npm npm_package_version=1.4.2 npm run build", "npm_ env names"),
        ("python", 'msg_id = "SG.%s"' % rs(r, 10), "SG. too short"),
        ("python", 'bot_id = "%d:%s"' % (r.randint(10000, 99999), rs(r, 8)), "telegram-like but short"),
        ("python", 'prefix = "AIza"  # Google API keys start with this', "AIza alone"),
        ("markdown", "Create an incoming webhook at https://api.slack.com/messaging/webhooks and paste its URL.", "slack docs URL"),
        ("toml", '[project]\ndependencies = ["pypi-attestations>=0.0.11", "npm-check>=1"]', "pypi-/npm- package names"),
        ("ssh_config", "Host bastion\n  HostName 52.18.4.10\n  User ec2-user\n  IdentityFile ~/.ssh/id_ed25519", "ssh config with key path"),
        ("python", 'b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="', "base64 PNG pixel under non-secret name"),
        ("shell", "ssh -i ~/.ssh/deploy_key ubuntu@ec2-3-120-4-7.eu-central-1.compute.amazonaws.com", "user@host ssh"),
        ("git_log", "Merge pull request #4821 from orbitlabs/feature/token-refresh", "branch name with token"),
        ("yaml", "image: redis:7-alpine\ncommand: redis-server --appendonly yes\nports:\n  - \"6379:6379\"", "redis without password"),
        ("python", 'openai_model = "gpt-4o-2024-08-06"\nanthropic_model = "claude-3-5-sonnet-20241022"', "model names"),
        ("js", 'const chunk = "webpack-chunk-%s";' % rs(r, 20, HEX), "chunk hash"),
        ("python", 'ANON_KEY_LEN = 40\nKEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"', "key alphabet"),
        ("log", "GET /static/js/main.%s.js 200" % h(8), "asset hash"),
        ("python", 'pattern = re.compile(r"ghp_[A-Za-z0-9]{36}")', "token regex, not a token"),
    ]:
        add_neg(M, t, why, ctx)

    Q = "pii_near_miss"
    for ctx, t in [
        ("git_log", "Author: Jane Doe <jane.doe@example.com>\nDate:   Mon Jan 8 09:00:00 2024 +0000"),
        ("python", 'DEFAULT_FROM_EMAIL = "noreply@localhost"\nTEST_USER = "user@test"'),
        ("python", "@dataclass(frozen=True)\nclass Point:\n    x: float\n    y: float"),
        ("python", '@app.route("/login", methods=["POST"])\ndef login():\n    ...'),
        ("json", '"devDependencies": {\n  "@types/node": "^20.11.0",\n  "@vitejs/plugin-react": "4.3.1"\n}'),
        ("requirements", "orbit-utils @ git+https://github.com/orbitlabs/orbit-utils@v1.4.2"),
        ("java", "@Override\npublic String toString() {\n  return \"Order#\" + id;\n}"),
        ("log", "2024-03-15T10:22:31.123Z 192.168.10.24 GET /api/v1/items 200 12ms"),
        ("markdown", "ISBN 978-0-306-40615-7, 3rd edition (2019), pp. 112-148."),
        ("python", 'employee_id = "123-45-6789"  # internal id format'),
        ("css", ":root {\n  --brand: #1a2b3c;\n  --accent: #ff6600;\n}"),
        ("compose", 'ports:\n  - "8080:80"\n  - "5432:5432"'),
        ("python", "TIMESTAMP_MS = 1700000000000\nMAX_INT64 = 9223372036854775807"),
        ("c", "#define MAGIC 0xDEADBEEF\n#define MASK  0x00FF00FF"),
        ("yaml", "replicas: 3\nresources:\n  limits: {cpu: 500m, memory: 512Mi}\nport_range: 30000-32767"),
        ("csv", "date,amount,currency\n2024-01-31,$1,234.56,USD\n2024-02-29,\u20ac987.00,EUR"),
        ("json", '{"lat": 52.520008, "lon": 13.404954, "zoom": 12}'),
        ("markdown", "Contact the maintainers at security@example.org or open an issue."),
        ("rust", "#[derive(Debug, Clone, Serialize)]\n#[serde(rename_all = \"camelCase\")]\nstruct Event { id: u64 }"),
        ("python", "version = \"2024.03.15.1234\"\nbuild = 20240315"),
        ("log", "Uptime 12:34:56, load 0.42 0.35 0.30, pid 48213"),
        ("shell", "ssh admin@192.168.1.1\nping -c 4 10.0.0.1"),
        ("twitter", "Follow us @orbitlabs and @orbit_status for updates."),
        ("git", "$ git config user.email \"ci@localhost.invalid\""),
        ("markdown", "ORCID: 0000-0002-1825-0097"),
        ("python", "amount_cents = 1234567890\nratio = 0.3333333333"),
        ("go", 'const defaultAddr = "0.0.0.0:8080"\nconst timeout = 30 * time.Second'),
        ("html", '<a href="mailto:someone@example.net">Email us</a>'),
        ("python", 'assert parse_range("100-200") == range(100, 201)\nassert parse_range("1-1") == range(1, 2)'),
        ("yaml", "schedule: \"0 3 * * 1-5\"\ntimezone: Europe/Berlin"),
        ("python", "NPM_SCOPE = \"@orbit\"\nDOCKER_IMAGE = \"ghcr.io/orbitlabs/api:1.8.0\""),
        ("js", "import { foo } from '@/components/foo';\nimport bar from '@orbit/bar';"),
    ]:
        add_neg(Q, t, "not PII by policy", ctx)


# ----------------------------------------------------------------------------- library snippets

LIB_PKGS = ["requests", "urllib3", "httpx", "mlflow", "transformers", "sqlalchemy", "huggingface_hub",
            "docker", "werkzeug", "jupyter_server", "databricks", "git", "aiohttp", "tornado"]
SEC_WORDS = re.compile(r"passw|passwd|token|secret|api_?key|auth|credential", re.I)
OTHER_WORDS = re.compile(r"@|://")
AMBIG = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}"),          # any e-mail-like string
    re.compile(r"://[^\s/'\"]*:[^\s/'\"]*@"),                            # URL userinfo with password
    re.compile(r"(?:pass|pwd|secret|token|key|auth)\w*['\"]?\s*[:=]\s*[bfr]?['\"][^'\"]{6,}['\"]", re.I),
    re.compile(r"['\"][A-Za-z0-9+/=_-]{20,}['\"]"),                      # long quoted token-like literal
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),
    re.compile(r"\+?\(?\d[\d ().-]{8,}\d"),
    re.compile(r"BEGIN [A-Z ]*(?:KEY|CERTIFICATE)|eyJ[A-Za-z0-9_-]{5}"),
    re.compile(r"\b(?:AKIA|AIza|ghp_|gho_|glpat-|xox[bpa]-|sk-|sk_live|SG\.|npm_|pypi-|hf_[A-Za-z]{10})"),
]

# Real library lines reviewed by hand that do hold PII or a credential-like literal by the policy.
LIB_POSITIVES = [
    ("requests/__version__.py", "__author_email__", "email", "author e-mail header"),
    ("urllib3/__init__.py", "__author__ = ", "email", "author e-mail header"),
    ("sqlalchemy/engine/processors.py", "Gaetan de Menten", "email", "copyright e-mail"),
    ("git/objects/commit.py", "Michael Trier", "email", "copyright e-mail"),
    ("huggingface_hub/_hot_reload/sse_client.py", "__email__", "email", "author e-mail header"),
    ("mlflow/server/auth/client.py", 'current_password="anotherpassword"', "password",
     "docstring example: keyword current_password= with a 15-char literal that is not a placeholder "
     "word nor the variable's own name, so a password by the letter of the policy"),
]


def site_packages():
    return sysconfig.get_paths()["purelib"]


def py_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in ("tests", "test", "testing", "__pycache__"))
        for f in sorted(files):
            if f.endswith(".py") and not f.startswith("test_"):
                out.append(os.path.join(d, f))
    return out


def window(lines, i, r):
    before, after = r.randint(1, 4), r.randint(1, 4)
    lo, hi = max(0, i - before), min(len(lines), i + after + 1)
    w = [x.rstrip() for x in lines[lo:hi]]
    while w and not w[0].strip():
        w.pop(0)
    while w and not w[-1].strip():
        w.pop()
    return textwrap.dedent("\n".join(w)), lo + 1


def build_library():
    sp = site_packages()
    r = Random(SEED + ":lib")
    # hand-reviewed positives first
    for rel, needle, kind, why in LIB_POSITIVES:
        path = os.path.join(sp, rel)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        idx = next(i for i, x in enumerate(lines) if needle in x)
        lo, hi = max(0, idx - 2), min(len(lines), idx + 3)
        text = textwrap.dedent("\n".join(x.rstrip() for x in lines[lo:hi])).strip("\n")
        labs = []
        for j, line in enumerate(text.split("\n"), 1):
            if kind == "email" and FORMAT["email"].search(line):
                labs.append({"line": j, "kind": "email"})
            elif kind == "password" and needle in line:
                labs.append({"line": j, "kind": "password"})
        assert labs, rel
        records.append({"id": next_id(kind), "text": text, "labels": labs,
                        "note": "real library code (%s:%d): %s; library" % (rel, lo + 1, why)})

    excluded = 0
    for pkg in LIB_PKGS:
        root = os.path.join(sp, pkg)
        if not os.path.isdir(root):
            continue
        sec, other = [], []
        for path in py_files(root):
            try:
                with open(path, encoding="utf-8") as fh:
                    lines = fh.read().split("\n")
            except (UnicodeDecodeError, OSError):
                continue
            rel = os.path.relpath(path, sp)
            for i, line in enumerate(lines):
                if len(line) > 160:
                    continue
                if SEC_WORDS.search(line):
                    sec.append((rel, i))
                elif OTHER_WORDS.search(line):
                    other.append((rel, i))
        quota = 8
        picks = [(rel, i, True) for rel, i in r.sample(sec, min(len(sec), 60))] + \
            [(rel, i, False) for rel, i in r.sample(other, min(len(other), 20))]
        r.shuffle(picks)
        taken, used_files = 0, set()
        n_sec = 0
        for rel, i, is_sec in picks:
            if taken >= quota:
                break
            if not is_sec and taken - n_sec >= 2:   # at most 2 of 8 from the bare @ / :// pool
                continue
            if rel in used_files:
                continue
            with open(os.path.join(sp, rel), encoding="utf-8") as fh:
                lines = fh.read().split("\n")
            text, start = window(lines, i, r)
            if not text.strip() or len(text.split("\n")) > 12:
                continue
            if any(p.search(text) for p in AMBIG):
                excluded += 1
                continue
            used_files.add(rel)
            taken += 1
            n_sec += is_sec
            records.append({"id": next_id("library"), "text": text, "labels": [],
                            "note": "real library code %s:%d, no secret or PII; library" % (rel, start)})
    return excluded


# ----------------------------------------------------------------------------- checks and output

def check():
    ids = [x["id"] for x in records]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for rec in records:
        lines = rec["text"].split("\n")
        assert 1 <= len(lines) <= 12, (rec["id"], len(lines))
        assert "«" not in rec["text"], rec["id"]
        for lab in rec["labels"]:
            assert 1 <= lab["line"] <= len(lines), (rec["id"], lab)
            assert lab["kind"] in KINDS, (rec["id"], lab)
            line = lines[lab["line"] - 1]
            k = lab["kind"]
            if k in FORMAT:
                assert FORMAT[k].search(line), (rec["id"], k, line)
        if not rec["labels"]:
            for k in STRICT:
                for m in FORMAT[k].finditer(rec["text"]):
                    val = m.group(0)
                    if k == "azure_storage_key" and rec["text"][:m.start()].endswith(("sha512-", "sha384-")):
                        continue  # an SRI / npm integrity digest has the same shape; policy: digest
                    if k == "private_key":  # judge the PEM by its body line
                        val = rec["text"][m.end():].strip("\n").split("\n")[0]
                    assert is_placeholder_value(val), (rec["id"], k, val)
        if not rec["labels"]:
            for line in lines:
                for m in FORMAT["email"].finditer(line):
                    dom = m.group(0).split("@", 1)[1].lower()
                    ok = re.search(r"(^|\.)example\.(com|org|net)$|localhost|\.test$|\.invalid$", dom) or \
                        any(w in line for w in ("ssh ", "scp ", "git ", "://"))
                    assert ok, (rec["id"], m.group(0))
        if rec["labels"]:  # nothing format-shaped may sit unlabelled in a positive
            labelled = {(x["line"], x["kind"]) for x in rec["labels"]}
            for j, line in enumerate(lines, 1):
                for k in STRICT + ["email"]:
                    if k == "email" and ("://" in line or "@localhost" in line):
                        continue  # URL userinfo is never an e-mail (policy)
                    if FORMAT[k].search(line) and (j, k) not in labelled:
                        raise AssertionError((rec["id"], j, k, line))
        prefix = rec["id"].rsplit("-", 1)[0]
        assert prefix in KINDS or prefix in NEG_CATS, rec["id"]
        if prefix in NEG_CATS:
            assert not rec["labels"], rec["id"]
        else:
            assert rec["labels"] and prefix in {x["kind"] for x in rec["labels"]}, rec["id"]


def main():
    build_positives()
    build_negatives()
    excluded = build_library()
    check()
    with open(OUT, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=True, sort_keys=False) + "\n")
    pos = [x for x in records if x["labels"]]
    print("%d records: %d positive, %d negative" % (len(records), len(pos), len(records) - len(pos)))
    print("%-20s %6s %7s" % ("kind", "labels", "records"))
    for k in KINDS:
        nl = sum(1 for x in records for lab in x["labels"] if lab["kind"] == k)
        nr = sum(1 for x in records if x["id"].rsplit("-", 1)[0] == k)
        print("%-20s %6d %7d" % (k, nl, nr))
    for c in NEG_CATS:
        print("%-20s %6s %7d" % (c, "", sum(1 for x in records if x["id"].rsplit("-", 1)[0] == c)))
    lib_pos = sum(1 for x in records if x["labels"] and x["note"].startswith("real library code"))
    print("library positives: %d; library windows dropped as ambiguous: %d" % (lib_pos, excluded))


if __name__ == "__main__":
    main()
