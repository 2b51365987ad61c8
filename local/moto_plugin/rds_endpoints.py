"""RDS: Aurora's cluster endpoints, by role, as TCP listeners in front of MariaDB.

moto names every cluster's endpoints (`<id>.cluster-<hex>.<region>.rds.amazonaws.com`) but
nothing listens there, and the local functions were pointed at MariaDB directly: a function
that connects to the wrong endpoint for its Region's role passed locally and failed on AWS.
This "endpoint gateway" gives each aurora-mysql cluster real listeners with Aurora's rules.
It is active only when `MOTO_PLUGIN_MARIADB=HOST:PORT` names the MariaDB standing in for
every cluster (local/up.sh sets it); without it nothing here changes anything.

Addresses. Cluster number N (1, 2, ... in creation order; from 1 again after a reset) gets
127.77.N.1 for its writer (cluster) endpoint and 127.77.N.2 for its reader endpoint (Linux
routes all of 127.0.0.0/8 to lo), on the cluster's Port (3306 by default) if both addresses
can be bound on it, else on a free port, which then becomes the cluster's `port`: the
`Port` of DescribeDBClusters and CloudFormation's `Endpoint.Port` say where to connect.

Roles (Aurora user guide, "Connecting to Amazon Aurora Global Database"): a global
database's writer is reached through the primary cluster's writer (cluster) endpoint, and
every cluster has a reader endpoint. A secondary cluster's writer endpoint is inactive (AWS
Database blog, "Automate Amazon Aurora Global Database endpoint management": "All secondary
Regions also have writer endpoints, but they're inactive"). So DescribeDBClusters answers:
- the writer of its global cluster, or a cluster in none: `Endpoint` = 127.77.N.1 and
  `ReaderEndpoint` = 127.77.N.2, both listening;
- a secondary: `ReaderEndpoint` = 127.77.N.2 (listening) and `Endpoint` = moto's Aurora-style
  DNS name, which resolves nowhere and has no listener: connecting fails as to an
  unresolvable host.

Rules, by the role the endpoint had when the connection was opened, applied to COM_QUERY
(and COM_STMT_PREPARE, judged as its statement would be when executed: stricter than
Aurora, which fails at EXECUTE) by the first keywords after whitespace and comments:
- every endpoint: `SET [SESSION] aurora_replica_read_consistency = ...` is answered here
  (MariaDB lacks the variable) and remembered for the connection; Aurora takes it on the
  writer too. A bad value: ERR 1231.
- the writer endpoint of the writer cluster: everything else passes.
- the reader endpoint of a writer or stand-alone cluster, or of a secondary without write
  forwarding: a write or DDL answers ERR 1290, as any Aurora reader does (Knowledge Center,
  "Why did I get a read only error after an Amazon Aurora DB cluster failed over?":
  "The MySQL server is running with the --read-only option so it cannot execute this
  statement"). Stricter than Aurora: CREATE TEMPORARY TABLE is refused too.
- the reader endpoint of a secondary with write forwarding enabled (Aurora user guide,
  "Using write forwarding in an Aurora MySQL global database"): INSERT, UPDATE, DELETE and
  REPLACE are forwarded only once the session has set a non-empty
  aurora_replica_read_consistency (else ERR 1290); DDL, LOAD DATA, LOCK TABLES, XA,
  SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO, account statements and isolation levels
  other than REPEATABLE READ are refused (ERR 1235, naming the statement).
A COM_QUERY holding several statements (CLIENT_MULTI_STATEMENTS) is judged whole, by its
strictest statement, when it is shorter than PREFIX; a longer one by its first statement.

The gateway removes compression and query attributes from the server's greeting, so every
client speaks a protocol it can read. TLS (Aurora serves it on every endpoint; the
application user has REQUIRE SSL): with `MOTO_PLUGIN_MARIADB_TLS_DIR` (local/up.sh sets it:
the stand-in's CA, `ca.pem` and `ca-key.pem`, which also signed MariaDB's certificate) and a
MariaDB that offers SSL, the greeting keeps CLIENT_SSL. A client that asks for TLS (an
SSLRequest) gets it from the gateway, with a certificate the CA issues for the endpoint's
two addresses (kept in that directory as endpoint-<writer>-<reader>.pem), and the gateway
opens TLS to MariaDB in turn (verifying MariaDB's certificate against the CA), so MariaDB
sees a TLS session and applies REQUIRE SSL as Aurora does; the gateway reads the commands
between the two sessions. A client that does not ask stays plain on both sides (MariaDB
then refuses a REQUIRE SSL user, "Access denied"). Without the variable, or without SSL
in MariaDB, CLIENT_SSL is removed and everything is plain, as before.

A cluster whose DB cluster parameter group sets `require_secure_transport` to ON (the
templates' ClusterParameterGroup) refuses a client that does not ask for TLS, as Aurora
does: ERR 3159, "Connections using insecure transport are prohibited while
--require_secure_transport=ON.", in answer to its handshake response.

Outages. `POST /moto-api/plugin/rds/outage` `{"seconds": N, "global_cluster": ID}` (no
global_cluster: every cluster) closes those clusters' listeners (a connect is refused) and
drops their open connections for N seconds, then listens again with the roles as they are
then; it answers `{"until": <unix time>}`. A switchover or failover of a global cluster
starts one of MOTO_PLUGIN_SWITCHOVER_OUTAGE_SECONDS (default 3; 0 = none) for its members:
on AWS the writer is unavailable for a while (typically under a minute).
`GET /moto-api/plugin/rds/endpoints` lists every cluster's endpoints. `/moto-api/reset` and
deleting a cluster stop its listeners.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import ssl
import threading
import time
from typing import Any, NamedTuple

log = logging.getLogger("moto_plugin.rds_endpoints")

OUTAGE_PATH = "{0}/moto-api/plugin/rds/outage"
ENDPOINTS_PATH = "{0}/moto-api/plugin/rds/endpoints"

ENGINE = "aurora-mysql"
CONSISTENCY_VARIABLE = "aurora_replica_read_consistency"
CONSISTENCY_VALUES = ("EVENTUAL", "SESSION", "GLOBAL", "")

# How much of a command is read before it is judged; the rest is streamed on unread.
PREFIX = 64 * 1024
# recv size; statements are up to ~4 MiB and the demo pushes ~65 MB of INSERTs.
CHUNK = 1024 * 1024
# A command up to this size is read whole and sent on in one write; a larger one streams.
WHOLE = 4 * 1024 * 1024
SOCKET_BUFFER = 4 * 1024 * 1024
MAX_PAYLOAD = 0xFFFFFF

COM_QUERY = 0x03
COM_CHANGE_USER = 0x11
COM_STMT_PREPARE = 0x16
COM_RESET_CONNECTION = 0x1F

# Capability flags (MySQL client/server protocol).
CLIENT_COMPRESS = 0x20
CLIENT_SSL = 0x800
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_ZSTD_COMPRESSION = 1 << 26
CLIENT_QUERY_ATTRIBUTES = 1 << 27
# Taken out of the server's greeting: the gateway must be able to read every command.
# CLIENT_SSL too, unless the gateway terminates TLS itself (see "TLS" above).
STRIPPED_CAPABILITIES = CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION | CLIENT_QUERY_ATTRIBUTES

# A plain connection to a cluster whose parameter group sets require_secure_transport
# (RDS user guide, "Requiring SSL/TLS for all connections to a MySQL DB instance": "MySQL
# Error 3159 (HY000): Connections using insecure transport are prohibited while
# --require_secure_transport=ON."; Aurora MySQL takes the parameter in its cluster group).
INSECURE_TRANSPORT = (
    3159, "HY000",
    "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
)

# Roles of a cluster, and the rules a connection gets.
WRITER, SECONDARY, STANDALONE = "writer", "secondary", "standalone"
MODE_WRITER, MODE_READ_ONLY, MODE_FORWARDING = "writer", "read-only", "forwarding"


# --- Statements: what a command is (pure functions) -------------------------------------


class Statement(NamedTuple):
    """What a statement is, for Aurora's rules.

    kind: READ (passes everywhere), WRITE (DML), DDL (a write that write forwarding does
    not support either), SESSION_ONLY (not a write, but not supported by write forwarding),
    CONSISTENCY (SET aurora_replica_read_consistency, valid `value`), BAD_CONSISTENCY.
    """

    kind: str
    name: str = ""
    value: str = ""


READ, WRITE, DDL, SESSION_ONLY = "read", "write", "ddl", "session-only"
CONSISTENCY, BAD_CONSISTENCY = "consistency", "bad-consistency"

_DML = {"INSERT", "UPDATE", "DELETE", "REPLACE"}
_DDL = {
    "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE", "OPTIMIZE",
    "REPAIR", "IMPORT", "INSTALL", "UNINSTALL",
}
# Words that, after the first, still name the statement ("CREATE TEMPORARY TABLE").
_NAME_WORDS = {
    "TEMPORARY", "TABLE", "TABLES", "DATABASE", "SCHEMA", "INDEX", "UNIQUE", "FULLTEXT",
    "SPATIAL", "VIEW", "USER", "ROLE", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT",
    "SEQUENCE", "SERVER", "TABLESPACE", "OR", "REPLACE", "DATA", "XML", "LOCAL",
    "LOW_PRIORITY", "CONCURRENT", "PLUGIN", "START", "BEGIN", "END", "PREPARE", "COMMIT",
    "ROLLBACK", "RECOVER", "SAVEPOINT", "WORK", "TO", "PASSWORD",
}

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_EXECUTABLE_COMMENT = re.compile(r"/\*M?!\d*")


def skip_ignorable(sql: str, pos: int = 0) -> int:
    """The index of the first character at or after `pos` that is neither whitespace nor
    inside a comment (`/* */`, `-- `, `#`). The marker of an executable comment
    (`/*!50001 ...`, `/*M!100100 ...`) is skipped, not its content: MySQL runs it."""
    n = len(sql)
    while pos < n:
        c = sql[pos]
        if c.isspace():
            pos += 1
        elif sql.startswith("/*", pos):
            executable = _EXECUTABLE_COMMENT.match(sql, pos)
            if executable:
                pos = executable.end()
                continue
            end = sql.find("*/", pos + 2)
            pos = n if end < 0 else end + 2
        elif c == "#" or (sql.startswith("--", pos) and (pos + 2 == n or sql[pos + 2].isspace())):
            end = sql.find("\n", pos)
            pos = n if end < 0 else end + 1
        elif sql.startswith("*/", pos):  # the end of an executable comment
            pos += 2
        else:
            break
    return pos


def leading_words(sql: str, count: int = 4) -> list[str]:
    """Up to `count` leading keywords, upper-cased, skipping whitespace and comments."""
    words: list[str] = []
    pos = 0
    while len(words) < count:
        pos = skip_ignorable(sql, pos)
        match = _WORD.match(sql, pos)
        if not match:
            break
        words.append(match.group().upper())
        pos = match.end()
    return words


def _name(words: list[str]) -> str:
    named = words[:1]
    for word in words[1:]:
        if word not in _NAME_WORDS:
            break
        named.append(word)
    return " ".join(named)


# A lexer good enough for SET statements and for splitting statements at top-level `;`.
_TOKEN = re.compile(
    r"""
      (?P<space>\s+|/\*(?!M?!).*?(?:\*/|\Z)|/\*M?!\d*|\*/|--(?:\s[^\n]*|$)|\#[^\n]*)
    | (?P<str>'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)
    | (?P<ident>`(?:[^`]|``)*`?)
    | (?P<op>@@|:=|[;,=().@])
    | (?P<word>[A-Za-z0-9_$]+)
    | (?P<other>.)
    """,
    re.S | re.X,
)


class Token(NamedTuple):
    kind: str  # str, ident, op, word, other
    text: str  # a word upper-cased; a string or identifier unquoted


def _unquote(quoted: str) -> str:
    quote = quoted[0]
    body = quoted[1:-1] if len(quoted) > 1 and quoted.endswith(quote) else quoted[1:]
    if quote == "`":
        return body.replace("``", "`")
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m.group(1), m.group(1)), body)


def tokens(sql: str) -> list[Token]:
    found = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind == "space":
            continue
        if kind in ("str", "ident"):
            text = _unquote(text)
        elif kind == "word":
            text = text.upper()
        found.append(Token(kind, text))
    return found


def split_statements(sql: str) -> list[str]:
    """The statements of a multi-statement query, split at `;` outside quotes and comments."""
    parts = []
    start = 0
    for match in _TOKEN.finditer(sql):
        if match.lastgroup == "op" and match.group() == ";":
            parts.append(sql[start:match.start()])
            start = match.end()
    parts.append(sql[start:])
    return [p for p in parts if skip_ignorable(p) < len(p)]


def _split_top_level(toks: list[Token], separator: str = ",") -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "op" and tok.text == "(":
            depth += 1
        elif tok.kind == "op" and tok.text == ")":
            depth -= 1
        if depth == 0 and tok.kind == "op" and tok.text == separator:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


_ISOLATION_VARIABLES = ("TRANSACTION_ISOLATION", "TX_ISOLATION")
_SCOPES = ("GLOBAL", "SESSION", "LOCAL", "PERSIST", "PERSIST_ONLY")


def _classify_set(sql: str) -> Statement:
    toks = tokens(sql)
    while toks and toks[-1].kind == "op" and toks[-1].text == ";":
        toks.pop()
    toks = toks[1:]  # SET
    rest = toks
    if rest and rest[0].kind == "word" and rest[0].text in _SCOPES:
        rest = rest[1:]
    if rest and rest[0].kind == "word" and rest[0].text == "TRANSACTION":
        words = [t.text for t in rest[1:] if t.kind == "word"]
        if "ISOLATION" in words and "LEVEL" in words[words.index("ISOLATION"):]:
            at = words.index("LEVEL", words.index("ISOLATION")) + 1
            level = words[at:at + 2]
            if level[:1] == ["SERIALIZABLE"]:
                level = level[:1]
            level_name = " ".join(level)
            if level_name != "REPEATABLE READ":
                return Statement(SESSION_ONLY, f"SET TRANSACTION ISOLATION LEVEL {level_name}")
        return Statement(READ, "SET TRANSACTION")
    if rest and rest[0].kind == "word" and rest[0].text == "PASSWORD":
        return Statement(DDL, "SET PASSWORD")

    assignments = _split_top_level(toks)
    found = READ
    for assignment in assignments:
        scope = "SESSION"
        part = list(assignment)
        if part and part[0].kind == "word" and part[0].text in _SCOPES:
            scope = part.pop(0).text
        elif part and part[0].kind == "op" and part[0].text == "@@":
            part.pop(0)
            if len(part) > 2 and part[1].kind == "op" and part[1].text == "." and part[0].text.upper() in _SCOPES:
                scope = part[0].text.upper()
                part = part[2:]
        if len(part) < 2 or part[0].kind not in ("word", "ident"):
            continue
        variable = part[0].text.upper()
        if not (part[1].kind == "op" and part[1].text in ("=", ":=")):
            continue
        value = part[2:]
        if variable == CONSISTENCY_VARIABLE.upper() and scope in ("SESSION", "LOCAL"):
            if len(assignments) > 1:
                # Mixed with other assignments: left to MariaDB (which refuses the
                # unknown variable) rather than rewritten here.
                continue
            raw = " ".join(t.text for t in value)
            if len(value) == 1 and value[0].kind in ("str", "word", "ident"):
                wanted = value[0].text.upper()
                if wanted == "DEFAULT" and value[0].kind == "word":
                    wanted = ""
                if wanted in CONSISTENCY_VALUES:
                    return Statement(CONSISTENCY, "SET " + CONSISTENCY_VARIABLE, wanted)
                raw = value[0].text
            return Statement(BAD_CONSISTENCY, "SET " + CONSISTENCY_VARIABLE, raw)
        if variable in _ISOLATION_VARIABLES and len(value) == 1:
            level = value[0].text.upper().replace("_", "-").replace(" ", "-")
            if level not in ("REPEATABLE-READ", "DEFAULT"):
                return Statement(SESSION_ONLY, f"SET {variable.lower()} = '{value[0].text}'")
    return Statement(found, "SET")


def classify(sql: str) -> Statement:
    """What one statement is, by its first keyword(s)."""
    words = leading_words(sql, 6)
    if not words:
        return Statement(READ)
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    if first in _DML:
        return Statement(WRITE, first)
    if first in _DDL:
        return Statement(DDL, _name(words))
    if first == "LOAD" and second in ("DATA", "XML"):
        return Statement(DDL, f"LOAD {second}")
    if first == "LOCK" and second in ("TABLE", "TABLES"):
        return Statement(SESSION_ONLY, "LOCK TABLES")
    if first == "XA":
        return Statement(SESSION_ONLY, _name(words))
    if first == "SAVEPOINT":
        return Statement(SESSION_ONLY, "SAVEPOINT")
    if first == "RELEASE" and second == "SAVEPOINT":
        return Statement(SESSION_ONLY, "RELEASE SAVEPOINT")
    if first == "ROLLBACK" and "TO" in words[1:3]:
        return Statement(SESSION_ONLY, "ROLLBACK TO SAVEPOINT")
    if first == "SET":
        return _classify_set(sql)
    if first == "PREPARE":
        # PREPARE name FROM 'statement': judged as the statement.
        toks = tokens(sql)
        if len(toks) >= 4 and toks[2].text == "FROM" and toks[3].kind == "str":
            return classify(toks[3].text)
    return Statement(READ, first)


def classify_query(sql: str, complete: bool, multi_statements: bool) -> list[Statement]:
    """The statements of one COM_QUERY: all of them when the text is `complete` and the
    client may send several, else only the first."""
    if complete and multi_statements and ";" in sql:
        return [classify(s) for s in split_statements(sql)] or [Statement(READ)]
    return [classify(sql)]


class Answer(NamedTuple):
    """What the gateway answers itself instead of passing a command on."""

    code: int  # 0: OK
    sqlstate: str = ""
    message: str = ""
    consistency: str | None = None  # the new session value, for an OK to a SET


READ_ONLY_MESSAGE = (
    "The MySQL server is running with the --read-only option so it cannot execute this "
    "statement"
)


def read_only_error() -> Answer:
    return Answer(1290, "HY000", READ_ONLY_MESSAGE)


def not_forwarded_error(name: str) -> Answer:
    return Answer(
        1235, "42000",
        # MySQL's ER_NOT_SUPPORTED_YET, as Aurora answers what forwarding does not support.
        f"This version of MySQL doesn't yet support '{name} with write forwarding'",
    )


def judge(mode: str, statement: Statement, consistency: str) -> Answer | None:
    """Aurora's answer to `statement` on an endpoint with rules `mode` in a session whose
    aurora_replica_read_consistency is `consistency`; None: pass it on."""
    if statement.kind == CONSISTENCY:
        return Answer(0, consistency=statement.value)
    if statement.kind == BAD_CONSISTENCY:
        return Answer(
            1231, "42000",
            f"Variable '{CONSISTENCY_VARIABLE}' can't be set to the value of '{statement.value}'",
        )
    if mode == MODE_WRITER:
        return None
    if mode == MODE_READ_ONLY:
        return read_only_error() if statement.kind in (WRITE, DDL) else None
    # MODE_FORWARDING
    if statement.kind in (DDL, SESSION_ONLY):
        return not_forwarded_error(statement.name)
    if statement.kind == WRITE and not consistency:
        return read_only_error()
    return None


def judge_all(mode: str, statements: list[Statement], consistency: str) -> Answer | None:
    if len(statements) == 1:
        return judge(mode, statements[0], consistency)
    # Several statements: the first refusal refuses the whole query (stricter than Aurora,
    # which runs those before it); a SET of the consistency among others is MariaDB's.
    for statement in statements:
        if statement.kind in (CONSISTENCY, BAD_CONSISTENCY):
            continue
        answer = judge(mode, statement, consistency)
        if answer is not None:
            return answer
    return None


# --- The protocol -------------------------------------------------------------------------


def packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq & 0xFF]) + payload


def ok_payload(session_track: bool) -> bytes:
    # OK, 0 rows, no insert id, SERVER_STATUS_AUTOCOMMIT, no warnings (+ empty info).
    return b"\x00\x00\x00\x02\x00\x00\x00" + (b"\x00" if session_track else b"")


def err_payload(code: int, sqlstate: str, message: str) -> bytes:
    return (
        b"\xff" + code.to_bytes(2, "little") + b"#" + sqlstate.encode("ascii")[:5]
        + message.encode("utf-8")
    )


def greeting_capabilities(payload: bytes) -> int:
    """The lower 16 capability bits of a server greeting (0 for anything else)."""
    if not payload or payload[0] != 10:
        return 0
    nul = payload.find(b"\x00", 1)
    at = nul + 1 + 4 + 8 + 1
    if nul < 0 or len(payload) < at + 2:
        return 0
    return int.from_bytes(payload[at:at + 2], "little")


def patch_greeting(payload: bytes, keep_ssl: bool = False) -> bytes:
    """The server's initial handshake without the capabilities the gateway cannot read
    through (compression, query attributes; SSL unless the gateway terminates it)."""
    if not payload or payload[0] != 10:
        return payload  # an ERR (e.g. too many connections) or an unknown protocol
    nul = payload.find(b"\x00", 1)
    if nul < 0:
        return payload
    at = nul + 1 + 4 + 8 + 1  # server version, connection id, scramble part 1, filler
    data = bytearray(payload)
    stripped = STRIPPED_CAPABILITIES | (0 if keep_ssl else CLIENT_SSL)
    if len(data) >= at + 2:
        lower = int.from_bytes(data[at:at + 2], "little") & ~stripped & 0xFFFF
        data[at:at + 2] = lower.to_bytes(2, "little")
    upper_at = at + 2 + 1 + 2  # charset, status flags
    if len(data) >= upper_at + 2:
        upper = int.from_bytes(data[upper_at:upper_at + 2], "little")
        upper &= ~(stripped >> 16) & 0xFFFF
        data[upper_at:upper_at + 2] = upper.to_bytes(2, "little")
    return bytes(data)


# --- TLS ------------------------------------------------------------------------------


def tls_directory() -> str | None:
    """The stand-in's CA directory (MOTO_PLUGIN_MARIADB_TLS_DIR), when TLS is on."""
    directory = os.environ.get("MOTO_PLUGIN_MARIADB_TLS_DIR", "").strip()
    if not directory or not os.path.isfile(os.path.join(directory, "ca.pem")):
        return None
    return directory


_tls_lock = threading.Lock()
_endpoint_contexts: dict[tuple[str, ...], ssl.SSLContext] = {}


def _issue_certificate(directory: str, addresses: tuple[str, ...]) -> tuple[str, str]:
    """A server certificate for `addresses` (IP SANs) from the stand-in's CA, made once and
    kept beside it. Aurora's endpoint certificates name the endpoints the same way."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    stem = os.path.join(directory, "endpoint-" + "-".join(addresses))
    cert_path, key_path = stem + ".pem", stem + "-key.pem"
    if os.path.isfile(cert_path) and os.path.isfile(key_path):
        return cert_path, key_path
    with open(os.path.join(directory, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(directory, "ca-key.pem"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def endpoint_context(addresses: tuple[str, ...]) -> ssl.SSLContext | None:
    """The TLS server context of an endpoint with these addresses (None: TLS is off)."""
    directory = tls_directory()
    if directory is None:
        return None
    with _tls_lock:
        context = _endpoint_contexts.get(addresses)
        if context is None:
            cert_path, key_path = _issue_certificate(directory, addresses)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert_path, key_path)
            _endpoint_contexts[addresses] = context
        return context


def upstream_context() -> ssl.SSLContext:
    """TLS to MariaDB, whose certificate the stand-in's CA signed (for 127.0.0.1)."""
    directory = tls_directory()
    assert directory is not None
    return ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))


class _TlsStream:
    """A TLS session over a socket that one thread reads while another writes: an
    SSLObject over memory BIOs behind a lock (one OpenSSL SSL object must not be used by
    two threads at once), the socket I/O outside it. `recv` and `sendall` as a socket's."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_side: bool,
                 server_hostname: str | None = None, received: bytes = b""):
        self.sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side,
            server_hostname=server_hostname,
        )
        self._lock = threading.Lock()  # the SSLObject and its BIOs
        self._send_lock = threading.Lock()  # records go out in the order they were made
        # Where socket reads and decrypted reads land: one thread reads a stream (the client
        # loop the client's, the relay MariaDB's), so a buffer each is enough.
        self._ciphertext = memoryview(bytearray(CHUNK))
        self._plaintext = memoryview(bytearray(CHUNK))
        if received:
            self._incoming.write(received)

    def _flush(self) -> None:
        """Send what TLS has made; the caller holds _send_lock."""
        with self._lock:
            data = self._outgoing.read()
        if data:
            self.sock.sendall(data)

    def _feed(self) -> bool:
        size = self.sock.recv_into(self._ciphertext)
        with self._lock:
            if size:
                self._incoming.write(self._ciphertext[:size])
            else:
                self._incoming.write_eof()
        return bool(size)

    def handshake(self) -> None:
        while True:
            with self._send_lock:
                with self._lock:
                    try:
                        self._tls.do_handshake()
                        done = True
                    except ssl.SSLWantReadError:
                        done = False
                self._flush()
            if done:
                return
            if not self._feed():
                raise EOFError

    def recv(self, n: int) -> bytes:
        """Up to n bytes: all that the records received so far hold (a TLS record holds at
        most 16 KiB, so one read a record made the relay loop 16 times a statement of 256
        KiB); waits only when there is nothing."""
        limit = min(n, len(self._plaintext))
        while True:
            size = 0
            ended = False
            with self._lock:
                while size < limit:
                    try:
                        got = self._tls.read(limit - size, self._plaintext[size:limit])
                    except ssl.SSLWantReadError:
                        break
                    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                        ended = True
                        break
                    if not got:
                        ended = True
                        break
                    size += got
                pending = self._outgoing.pending
            if pending:  # e.g. an answer to the peer's key update
                with self._send_lock:
                    self._flush()
            if size:
                return bytes(self._plaintext[:size])
            if ended or not self._feed():
                return b""

    def sendall(self, data: bytes) -> None:
        with self._send_lock:
            view = memoryview(data)
            while view:
                with self._lock:
                    written = self._tls.write(view)
                view = view[written:]
                self._flush()


class _PlainStream:
    """A socket's `recv` without its cost: `socket.recv(CHUNK)` allocates CHUNK bytes for
    each read, however few arrive (malloc was 2 % of make demo-large's CPU); this reads
    into one buffer and copies out what came. One thread reads it."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._scratch = memoryview(bytearray(CHUNK))

    def recv(self, n: int) -> bytes:
        size = self.sock.recv_into(self._scratch[:min(n, CHUNK)])
        return bytes(self._scratch[:size])

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)


class _Reader:
    """Buffered reads of exact sizes from a socket (a _PlainStream or a _TlsStream)."""

    def __init__(self, sock: Any):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(CHUNK)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def _pop(self, n: int) -> bytes:
        """The first n buffered bytes, taken out."""
        with memoryview(self.buf) as view:  # one copy, not a slice's and then bytes'
            data = bytes(view[:n])
        del self.buf[:n]
        return data

    def take(self, n: int) -> bytes:
        self._fill(n)
        return self._pop(n)

    def take_some(self, n: int) -> bytes:
        """Between 1 and n bytes: what is buffered, else one recv."""
        if not self.buf:
            chunk = self.sock.recv(min(n, CHUNK))
            if not chunk:
                raise EOFError
            if len(chunk) <= n:
                return chunk
            self.buf += chunk[n:]
            return chunk[:n]
        return self._pop(n)

    def stream(self, n: int, send) -> None:
        """Pass the next n bytes to `send` (or drop them when send is None)."""
        while n > 0:
            data = self.take_some(n)
            n -= len(data)
            if send is not None:
                send(data)


def _read_packet(reader: _Reader) -> tuple[bytes, bytes]:
    header = reader.take(4)
    return header, reader.take(int.from_bytes(header[:3], "little"))


def _tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
        except OSError:
            pass


def mariadb_address() -> tuple[str, int] | None:
    address = os.environ.get("MOTO_PLUGIN_MARIADB")
    if not address:
        return None
    host, port = address.rsplit(":", 1)
    return host, int(port)


class _Connection:
    """One client connection through an endpoint: a thread reading the client (judging
    each command) and one relaying the server's bytes back untouched."""

    def __init__(self, listener: _Listener, client: socket.socket, mode: str):
        self.listener = listener
        self.client = client
        self.mode = mode
        self.upstream: socket.socket | None = None
        # What the threads read and write: the sockets, or TLS sessions over them.
        self.client_io: Any = client
        self.upstream_io: Any = None
        # TLS offered to the client (the gateway can terminate it, MariaDB offers it).
        self.tls_offered = False
        self.client_lock = threading.Lock()
        self.consistency = ""
        self.capabilities = 0
        self.closed = False
        self.relay_thread: threading.Thread | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"rds-endpoint-{listener.address}-conn", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def drop(self) -> None:
        """Cut the connection (both sides see it closed); the threads end and close."""
        self.closed = True
        for sock in (self.client, self.upstream):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _send_client(self, data: bytes) -> None:
        with self.client_lock:
            self.client_io.sendall(data)

    def _run(self) -> None:
        try:
            address = mariadb_address()
            if address is None or self.closed:
                return
            self.upstream = socket.create_connection(address, timeout=10)
            self.upstream.settimeout(None)
            if self.closed:
                return
            _tune(self.upstream)
            self.upstream_io = _PlainStream(self.upstream)
            upstream_reader = _Reader(self.upstream_io)
            header, greeting = _read_packet(upstream_reader)
            self.tls_offered = bool(
                greeting_capabilities(greeting) & CLIENT_SSL and tls_directory()
            )
            greeting = patch_greeting(greeting, keep_ssl=self.tls_offered)
            self._send_client(packet(header[3], greeting))
            # MariaDB says nothing more until the client answers: the relay starts once
            # the answer (and TLS, if asked for) has gone up.
            self._client_loop(bytes(upstream_reader.buf))
        except (OSError, EOFError, ValueError):
            pass
        except Exception:  # never let a connection thread's error go unseen
            log.exception("endpoint gateway connection failed")
        finally:
            self.drop()
            if self.relay_thread is not None and self.relay_thread is not threading.current_thread():
                self.relay_thread.join(timeout=5)
            for sock in (self.client, self.upstream):
                if sock is not None:
                    sock.close()
            self.listener.forget(self)

    def _start_relay(self, pending: bytes) -> None:
        self.relay_thread = threading.Thread(
            target=self._relay, args=(pending,),
            name=f"rds-endpoint-{self.listener.address}-relay", daemon=True,
        )
        self.relay_thread.start()

    def _relay(self, pending: bytes) -> None:
        try:
            if pending:
                self._send_client(pending)
            upstream = self.upstream_io
            while True:
                data = upstream.recv(CHUNK)
                if not data:
                    break
                self._send_client(data)
        except OSError:
            pass
        finally:
            self.drop()

    def _start_tls(self, reader: _Reader) -> _Reader:
        """After the client's SSLRequest (passed on to MariaDB): TLS to MariaDB, then TLS
        with the client; the reader of the client's TLS session."""
        host = self.upstream.getpeername()[0]
        upstream = _TlsStream(self.upstream, upstream_context(), server_side=False,
                              server_hostname=host)
        upstream.handshake()
        gateway = self.listener.gateway
        context = endpoint_context((gateway.writer_address, gateway.reader_address))
        # The client's first TLS bytes may already sit in the reader's buffer.
        client = _TlsStream(self.client, context, server_side=True, received=bytes(reader.buf))
        client.handshake()
        self.upstream_io, self.client_io = upstream, client
        return _Reader(client)

    def _client_loop(self, upstream_pending: bytes) -> None:
        reader = _Reader(_PlainStream(self.client))
        # The handshake response, or an SSLRequest (32 bytes, CLIENT_SSL set) first.
        header, payload = _read_packet(reader)
        self.capabilities = int.from_bytes(payload[:4].ljust(4, b"\x00"), "little")
        if not self.capabilities & CLIENT_SSL and self.listener.gateway.requires_secure_transport():
            self._send_client(packet(header[3] + 1, err_payload(*INSECURE_TRANSPORT)))
            return
        self.upstream_io.sendall(header + payload)
        if self.capabilities & CLIENT_SSL and len(payload) <= 32:
            if not self.tls_offered:
                # Not offered, yet asked for: relay the bytes unread.
                self._start_relay(upstream_pending)
                reader.stream(1 << 62, self.upstream_io.sendall)
                return
            reader = self._start_tls(reader)
            header, payload = _read_packet(reader)
            self.capabilities = int.from_bytes(payload[:4].ljust(4, b"\x00"), "little")
            self.upstream_io.sendall(header + payload)
        self._start_relay(upstream_pending)
        send_up = self.upstream_io.sendall
        # The answer to a refused command longer than one packet (0xFFFFFF bytes), sent
        # once its last packet is read, with the sequence id after that packet's.
        pending: bytes | None = None
        while True:
            header = reader.take(4)
            length = int.from_bytes(header[:3], "little")
            seq = header[3]
            if pending is not None:
                reader.stream(length, None)
                if length < MAX_PAYLOAD:
                    self._send_client(packet(seq + 1, pending))
                    pending = None
                continue
            if seq != 0:
                # The rest of a command, authentication or a LOAD DATA LOCAL file.
                send_up(header)
                reader.stream(length, send_up)
                continue
            prefix = reader.take(min(length, PREFIX))
            answer = self._judge(prefix, complete=length <= PREFIX)
            if answer is None:
                rest = length - len(prefix)
                if rest <= WHOLE:  # one TLS write and one send for the whole command
                    send_up(b"".join((header, prefix, reader.take(rest))))
                else:
                    send_up(header + prefix)
                    reader.stream(rest, send_up)
                continue
            reader.stream(length - len(prefix), None)
            if answer.code == 0:
                if answer.consistency is not None:
                    self.consistency = answer.consistency
                reply = ok_payload(bool(self.capabilities & CLIENT_SESSION_TRACK))
            else:
                reply = err_payload(answer.code, answer.sqlstate, answer.message)
            if length == MAX_PAYLOAD:
                pending = reply
            else:
                self._send_client(packet(1, reply))

    def _judge(self, prefix: bytes, complete: bool) -> Answer | None:
        if not prefix:
            return None
        command = prefix[0]
        if command in (COM_RESET_CONNECTION, COM_CHANGE_USER):
            self.consistency = ""
            return None
        if command not in (COM_QUERY, COM_STMT_PREPARE):
            return None
        body = prefix[1:]
        if self.mode == MODE_WRITER and CONSISTENCY_VARIABLE.encode() not in body.lower():
            return None  # the writer passes all but the consistency SET: no need to parse
        sql = body.decode("utf-8", errors="replace")
        statements = classify_query(
            sql, complete, bool(self.capabilities & CLIENT_MULTI_STATEMENTS)
        )
        if command == COM_STMT_PREPARE:
            # A prepared SET of the variable is MariaDB's to refuse.
            statements = [s for s in statements if s.kind not in (CONSISTENCY, BAD_CONSISTENCY)]
            if not statements:
                return None
        return judge_all(self.mode, statements, self.consistency)


class _Listener:
    """One endpoint's listening socket and the connections it accepted."""

    def __init__(self, gateway: Gateway, kind: str, address: str, port: int):
        self.gateway = gateway
        self.kind = kind  # "writer" or "reader"
        self.address = address
        self.port = port
        self.connections: set[_Connection] = set()
        self.lock = threading.Lock()
        self.stopped = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((address, port))
            self.sock.listen(128)
        except OSError:
            self.sock.close()
            raise
        self.thread = threading.Thread(
            target=self._accept, name=f"rds-endpoint-{address}:{port}", daemon=True
        )
        self.thread.start()

    def _accept(self) -> None:
        try:
            while not self.stopped:
                try:
                    client, _ = self.sock.accept()
                except OSError:
                    break
                if self.stopped:
                    client.close()
                    break
                try:
                    mode = self.gateway.mode_for(self.kind)
                except Exception:  # a cluster moto no longer knows well: refuse, keep listening
                    log.exception("endpoint gateway: no role for %s", self.address)
                    client.close()
                    continue
                if mode is None:
                    # This endpoint is no longer active for the cluster's role.
                    client.close()
                    # Not here: ensure() may be stopping this very listener, joining this thread.
                    threading.Thread(target=self.gateway.ensure, daemon=True).start()
                    continue
                _tune(client)
                connection = _Connection(self, client, mode)
                with self.lock:
                    if self.stopped:
                        client.close()
                        break
                    self.connections.add(connection)
                connection.start()
        finally:
            self.sock.close()

    def forget(self, connection: _Connection) -> None:
        with self.lock:
            self.connections.discard(connection)

    def stop(self) -> None:
        """Stop listening (a connect is refused once this returns) and drop every
        connection it accepted."""
        self.stopped = True
        try:
            # Wakes the accept() (EINVAL on Linux); the accept thread closes the socket.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=5)
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            connection.drop()


def _roles_module():
    from . import rds

    return rds


def _retrying(function, *args):
    # moto's request threads may change the backends' dicts while a listener thread
    # looks at them.
    for attempt in range(5):
        try:
            return function(*args)
        except RuntimeError:
            if attempt == 4:
                raise
            time.sleep(0.001)
    return None


class Gateway:
    """The endpoints of one cluster."""

    def __init__(self, number: int, cluster: Any):
        self.number = number
        self.cluster = cluster
        self.account_id = cluster.account_id
        self.region = cluster.region
        second = 77 + (number >> 8)
        self.writer_address = f"127.{second}.{number & 0xFF}.1"
        self.reader_address = f"127.{second}.{number & 0xFF}.2"
        self.lock = threading.RLock()
        self.listeners: dict[str, _Listener] = {}
        self.outage_until = 0.0
        self.timer: threading.Timer | None = None
        self.stopped = False
        self.port = self._choose_port(cluster.__dict__.get("port") or 3306)

    # Roles -------------------------------------------------------------------------

    def global_cluster(self) -> Any:
        return _retrying(_roles_module().global_cluster_of, self.cluster)

    def role(self) -> str:
        if self.global_cluster() is None:
            return STANDALONE
        return WRITER if self.cluster.is_writer else SECONDARY

    def mode_for(self, kind: str) -> str | None:
        """The rules for a connection to endpoint `kind` now; None: not active."""
        role = self.role()
        if kind == "writer":
            return None if role == SECONDARY else MODE_WRITER
        if role != SECONDARY:
            return MODE_READ_ONLY
        forwarding = _retrying(_roles_module()._forwarding_status, self.cluster)
        return MODE_FORWARDING if forwarding == "enabled" else MODE_READ_ONLY

    def requires_secure_transport(self) -> bool:
        """The cluster's parameter group sets require_secure_transport ON."""
        value = _retrying(_roles_module().cluster_parameter, self.cluster,
                          "require_secure_transport")
        return str(value).strip().upper() in ("ON", "1", "TRUE")

    def in_outage(self) -> bool:
        return time.time() < self.outage_until

    # Listeners -------------------------------------------------------------------------

    def _choose_port(self, wanted: int) -> int:
        candidates = [int(wanted)] + [0] * 20
        for candidate in candidates:
            probes = []
            try:
                for address in (self.writer_address, self.reader_address):
                    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    probes.append(probe)
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind((address, candidate))
                    candidate = probe.getsockname()[1]
                return candidate
            except OSError:
                continue
            finally:
                for probe in probes:
                    probe.close()
        raise RuntimeError(f"no port for {self.writer_address} and {self.reader_address}")

    def _wanted(self) -> set[str]:
        if self.stopped or self.in_outage():
            return set()
        return {"reader"} if self.role() == SECONDARY else {"writer", "reader"}

    def ensure(self) -> None:
        """Listen on exactly the endpoints active for the cluster's role now."""
        with self.lock:
            wanted = self._wanted()
            for kind in list(self.listeners):
                if kind not in wanted:
                    self.listeners.pop(kind).stop()
            for kind in sorted(wanted - set(self.listeners)):
                address = self.writer_address if kind == "writer" else self.reader_address
                try:
                    self.listeners[kind] = _Listener(self, kind, address, self.port)
                except OSError as error:
                    log.warning("cannot listen on %s:%s: %s", address, self.port, error)

    def close_all(self) -> None:
        with self.lock:
            for kind in list(self.listeners):
                self.listeners.pop(kind).stop()

    def restart(self) -> None:
        """Drop every connection and listen again for the roles as they are now."""
        with self.lock:
            self.close_all()
            self.ensure()

    def rebind(self, port: int) -> None:
        with self.lock:
            self.close_all()
            self.port = self._choose_port(port)
            self.cluster.__dict__["port"] = self.port
            self.ensure()

    def start_outage(self, seconds: float) -> float:
        with self.lock:
            self.outage_until = max(self.outage_until, time.time() + seconds)
            self.close_all()
            self._schedule()
            return self.outage_until

    def _schedule(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        delay = max(0.0, self.outage_until - time.time())
        self.timer = threading.Timer(delay, self._outage_over)
        self.timer.daemon = True
        self.timer.start()

    def _outage_over(self) -> None:
        with self.lock:
            if self.stopped:
                return
            if self.in_outage():
                self._schedule()
                return
            self.timer = None
            self.ensure()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.close_all()

    # What DescribeDBClusters says ------------------------------------------------------

    def endpoint(self, moto_name: str) -> str:
        self.ensure()
        return moto_name if self.role() == SECONDARY else self.writer_address

    def reader_endpoint(self) -> str:
        self.ensure()
        return self.reader_address

    def describe(self) -> dict[str, Any]:
        role = self.role()
        with self.lock:
            listening = sorted(self.listeners)
            connections = sum(len(l.connections) for l in self.listeners.values())
        global_cluster = self.global_cluster()
        return {
            "account_id": self.account_id,
            "region": self.region,
            "cluster": self.cluster.db_cluster_identifier,
            "global_cluster": global_cluster.global_cluster_identifier if global_cluster else None,
            "role": role,
            "endpoint": _moto_endpoint(self.cluster) if role == SECONDARY else self.writer_address,
            "reader_endpoint": self.reader_address,
            "writer_address": self.writer_address,
            "reader_address": self.reader_address,
            "port": self.port,
            "listening": listening,
            "outage": self.in_outage(),
            "outage_until": self.outage_until if self.in_outage() else None,
            "connections": connections,
        }


# --- The registry: which cluster has which gateway ------------------------------------------

_ATTRIBUTE = "_endpoint_gateway"  # on a DBCluster: its gateway's number (copies share it)
_gateways: dict[int, Gateway] = {}
_registry_lock = threading.RLock()
# Numbers are not reused while moto runs (a stale client of a deleted cluster must not reach
# another one); a reset starts again from 1, so a seeded run gets the same addresses.
_next_number = 1


def active() -> bool:
    return mariadb_address() is not None


def gateway_for(cluster: Any) -> Gateway | None:
    number = cluster.__dict__.get(_ATTRIBUTE)
    if number is None:
        return None
    gateway = _gateways.get(number)
    if gateway is None or gateway.stopped:
        return None
    return gateway


def register(cluster: Any) -> Gateway | None:
    """Give an aurora-mysql cluster its endpoints (when the gateway is active)."""
    if not active() or getattr(cluster, "engine", None) != ENGINE:
        return None
    global _next_number
    with _registry_lock:
        existing = gateway_for(cluster)
        if existing is not None and existing.cluster is cluster:
            return existing
        number = _next_number
        _next_number += 1
        if number >= (256 - 77) * 256:
            raise RuntimeError("the endpoint gateway ran out of loopback addresses")
        gateway = Gateway(number, cluster)
        _gateways[number] = gateway
        cluster.__dict__[_ATTRIBUTE] = number
        cluster.__dict__["port"] = gateway.port
    gateway.ensure()
    return gateway


def unregister(cluster: Any) -> None:
    gateway = gateway_for(cluster)
    if gateway is None or gateway.cluster is not cluster:
        return
    gateway.stop()
    with _registry_lock:
        _gateways.pop(gateway.number, None)


def stop_region(account_id: str, region: str) -> None:
    """A reset of one Region's backend: its clusters are gone."""
    global _next_number
    with _registry_lock:
        doomed = [g for g in _gateways.values() if (g.account_id, g.region) == (account_id, region)]
        for gateway in doomed:
            _gateways.pop(gateway.number, None)
        if not _gateways:
            _next_number = 1
    for gateway in doomed:
        gateway.stop()


def stop_all() -> None:
    global _next_number
    with _registry_lock:
        doomed = list(_gateways.values())
        _gateways.clear()
        _next_number = 1
    for gateway in doomed:
        gateway.stop()


def _members(global_cluster: Any) -> list[Gateway]:
    return [g for g in (gateway_for(m) for m in list(global_cluster.members)) if g is not None]


def roles_changed(global_cluster: Any | None = None, cluster: Any | None = None) -> None:
    """After a change of roles that is not a switchover (a member leaving or joining):
    listen for the new roles, dropping connections to an endpoint that is no longer active."""
    gateways = _members(global_cluster) if global_cluster is not None else []
    if cluster is not None and gateway_for(cluster) is not None:
        gateways.append(gateway_for(cluster))
    for gateway in gateways:
        gateway.ensure()


def switchover_outage_seconds() -> float:
    return float(os.environ.get("MOTO_PLUGIN_SWITCHOVER_OUTAGE_SECONDS", "3"))


def writer_changed(global_cluster: Any) -> float:
    """A switchover or failover: its members' endpoints are unavailable for
    MOTO_PLUGIN_SWITCHOVER_OUTAGE_SECONDS, then serve the new roles. The end of the
    outage (unix time), 0 when there is none."""
    gateways = _members(global_cluster)
    seconds = switchover_outage_seconds()
    if not gateways:
        return 0.0
    if seconds <= 0:
        for gateway in gateways:
            gateway.restart()
        return 0.0
    return max(gateway.start_outage(seconds) for gateway in gateways)


# --- DBCluster attributes (what DescribeDBClusters and GetAtt render) ------------------------

_moto_endpoint_property = None
_moto_reader_endpoint_property = None


def _moto_endpoint(cluster: Any) -> str:
    return _moto_endpoint_property.fget(cluster)


def _endpoint(cluster: Any) -> str:
    gateway = gateway_for(cluster)
    if gateway is None:
        return _moto_endpoint(cluster)
    return gateway.endpoint(_moto_endpoint(cluster))


def _reader_endpoint(cluster: Any) -> str:
    gateway = gateway_for(cluster)
    if gateway is None:
        return _moto_reader_endpoint_property.fget(cluster)
    return gateway.reader_endpoint()


def _get_port(cluster: Any) -> Any:
    gateway = gateway_for(cluster)
    if gateway is not None:
        return gateway.port
    return cluster.__dict__.get("port")


def _set_port(cluster: Any, value: Any) -> None:
    # Kept in the instance's __dict__ under its own name, so moto's copies of a cluster's
    # attributes (restore, get_cfg) still carry it.
    cluster.__dict__["port"] = value
    gateway = gateway_for(cluster)
    if gateway is not None and gateway.cluster is cluster and value and int(value) != gateway.port:
        gateway.rebind(int(value))


# --- moto-api URLs -----------------------------------------------------------------------


def _body(request: Any) -> dict[str, Any]:
    if hasattr(request, "get_data"):
        raw = request.get_data()
    else:
        raw = getattr(request, "body", None) or b""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw) if raw and raw.strip() else {}


def _json(status: int, body: Any):
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def outage(request: Any, full_url: str, headers: Any):
    if request.method != "POST":
        return _json(405, {"error": "POST {\"seconds\": N, \"global_cluster\": ID}"})
    try:
        body = _body(request)
        seconds = float(body["seconds"])
    except (ValueError, KeyError, TypeError):
        return _json(400, {"error": "POST {\"seconds\": N, \"global_cluster\": ID}"})
    wanted = body.get("global_cluster")
    with _registry_lock:
        gateways = list(_gateways.values())
    if wanted:
        chosen = []
        for gateway in gateways:
            global_cluster = gateway.global_cluster()
            if global_cluster is not None and wanted.lower() in (
                global_cluster.global_cluster_identifier,
                global_cluster.global_cluster_arn.lower(),
            ):
                chosen.append(gateway)
        if not chosen:
            return _json(404, {"error": f"no cluster with endpoints in global cluster {wanted}"})
        gateways = chosen
    until = time.time() + seconds
    for gateway in gateways:
        until = max(until, gateway.start_outage(seconds))
    return _json(200, {"until": until})


def endpoints(request: Any, full_url: str, headers: Any):
    with _registry_lock:
        gateways = sorted(_gateways.values(), key=lambda g: g.number)
    return _json(200, {"active": active(), "endpoints": [g.describe() for g in gateways]})


# --- install ---------------------------------------------------------------------------------


def install() -> None:
    global _moto_endpoint_property, _moto_reader_endpoint_property
    from moto.moto_api._internal import urls
    from moto.rds import models as rds_models
    from moto.rds.models import DBCluster

    if _moto_endpoint_property is not None:
        return
    _moto_endpoint_property = DBCluster.__dict__["endpoint"]
    _moto_reader_endpoint_property = DBCluster.__dict__["reader_endpoint"]
    DBCluster.endpoint = property(_endpoint)
    DBCluster.reader_endpoint = property(_reader_endpoint)
    DBCluster.port = property(_get_port, _set_port)

    backend = rds_models.RDSBackend
    moto_create = backend.create_db_cluster

    def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster = moto_create(self, kwargs)
        register(cluster)
        return cluster

    moto_reset = backend.reset

    def reset(self: Any) -> None:
        stop_region(self.account_id, self.region_name)
        moto_reset(self)

    backend.create_db_cluster = create_db_cluster
    backend.reset = reset
    # Read when moto's server builds its moto-api app, i.e. after install().
    urls.url_paths[OUTAGE_PATH] = outage
    urls.url_paths[ENDPOINTS_PATH] = endpoints
