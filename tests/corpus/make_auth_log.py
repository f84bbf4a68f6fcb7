"""Writes tests/corpus/auth_2000.log: 2,000 real-looking lines of a bastion host and a
web front end, as rsyslog forwards them (RFC 3164 with PRI, some RFC 5424, some as
files hold them without PRI) plus Apache error log lines: sshd brute force and
logins, sudo, su, PAM sessions, systemd-logind, cron, kernel noise, a few lines
carrying a card number or a password, and a few broken ones (bad PRI, invalid UTF-8,
NUL bytes, empty) that must become dead letters.

Deterministic: the same seed writes the same bytes (a test checks it).

    python tests/corpus/make_auth_log.py [path]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

SEED = 2025
COUNT = 2000
START = 1767222000.0  # 2025-12-31T23:00:00Z: the hour before the new year
OUT = Path(__file__).resolve().parent / "auth_2000.log"
USERS = ["alice", "bob", "carol", "deploy", "svc-backup", "root"]
INVALID = ["admin", "oracle", "test", "ubuntu", "git", "pi", "postgres", "user1", "ftpuser", ""]
ATTACKERS = ["203.0.113.5", "203.0.113.77", "198.51.100.23", "192.0.2.14", "2001:db8:bad::1"]
INSIDE = ["10.0.0.5", "10.0.4.17", "10.2.0.9", "fe80::1c2:3ff:fe44:5566"]
HOSTS = ["bastion-01", "bastion-02", "web-01"]
COMMANDS = ["/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u payments -n 200", "/bin/cat /etc/shadow",
            "/usr/bin/apt-get upgrade -y", "/usr/local/bin/rotate-keys --env prod"]
APACHE = [
    ("error", "core", "AH00128: File does not exist: /var/www/html/{path}"),
    ("error", "authz_core", "AH01630: client denied by server configuration: /var/www/html/.env"),
    ("warn", "ssl", "AH01909: www.example.com:443:0 server certificate does NOT include an ID which matches the server name"),
    ("error", "proxy_fcgi", "AH01071: Got error 'Primary script unknown'"),
    ("notice", "mpm_event", "AH00489: Apache/2.4.58 (Unix) configured -- resuming normal operations"),
    ("crit", "core", "AH00102: [Wed Dec 31 23:10:00 2025] file worker.c, line 1234, assertion failed"),
]
PATHS = ["wp-login.php", "favicon.ico", ".git/config", "admin/config.php", "robots.txt"]


def _stamp(ts: float) -> str:
    return time.strftime("%b %e %H:%M:%S", time.gmtime(ts))


def _sshd(rnd: random.Random) -> str:
    ip, port = rnd.choice(ATTACKERS), rnd.randrange(1024, 65535)
    roll = rnd.random()
    if roll < 0.35:
        return f"Failed password for invalid user {rnd.choice(INVALID)} from {ip} port {port} ssh2"
    if roll < 0.55:
        return f"Failed password for {rnd.choice(USERS)} from {ip} port {port} ssh2"
    if roll < 0.65:
        return f"Invalid user {rnd.choice(INVALID)} from {ip} port {port}"
    if roll < 0.72:
        return f"Connection closed by authenticating user root {ip} port {port} [preauth]"
    if roll < 0.77:
        return f"Did not receive identification string from {ip} port {port}"
    if roll < 0.82:
        return f"message repeated {rnd.randrange(2, 9)} times: [ Failed password for root from {ip} port {port} ssh2]"
    if roll < 0.90:
        user = rnd.choice(USERS[:5])
        return (f"Accepted publickey for {user} from {rnd.choice(INSIDE)} port {port} ssh2: "
                f"ED25519 SHA256:{rnd.getrandbits(128):032x}")
    if roll < 0.94:
        return f"Accepted password for {rnd.choice(USERS[:3])} from {rnd.choice(INSIDE)} port {port} ssh2"
    if roll < 0.97:
        return f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"
    return f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"


def _auth_line(rnd: random.Random, ts: float) -> str:
    host = rnd.choice(HOSTS[:2])
    stamp = _stamp(ts)
    pid = rnd.randrange(300, 65000)
    roll = rnd.random()
    if roll < 0.62:
        program, msg, pri = f"sshd[{pid}]", _sshd(rnd), 38
    elif roll < 0.72:
        user = rnd.choice(USERS[:5])
        if rnd.random() < 0.8:
            msg = (f"   {user} : TTY=pts/{rnd.randrange(6)} ; PWD=/home/{user} ; USER=root ; "
                   f"COMMAND={rnd.choice(COMMANDS)}")
        else:
            msg = (f"   {user} : 3 incorrect password attempts ; TTY=pts/{rnd.randrange(6)} ; PWD=/home/{user} ; "
                   f"USER=root ; COMMAND={rnd.choice(COMMANDS)}")
        program, pri = "sudo", 85
    elif roll < 0.80:
        user = rnd.choice(USERS[:5])
        state = rnd.choice(["opened", "closed"])
        tail = f"(uid={rnd.randrange(1000, 1010)}) by (uid=0)" if state == "opened" else ""
        program, msg, pri = f"sshd[{pid}]", f"pam_unix(sshd:session): session {state} for user {user}{tail}", 86
    elif roll < 0.85:
        user = rnd.choice(USERS[:5])
        program, pri = f"su[{pid}]", 86
        msg = f"(to root) {user} on pts/{rnd.randrange(6)}" if rnd.random() < 0.7 else \
            f"FAILED SU (to root) {user} on pts/{rnd.randrange(6)}"
    elif roll < 0.90:
        program, pri = f"systemd-logind[{rnd.randrange(400, 600)}]", 38
        msg = f"New session {rnd.randrange(1, 900)} of user {rnd.choice(USERS[:5])}." if rnd.random() < 0.6 else \
            f"Removed session {rnd.randrange(1, 900)}."
    elif roll < 0.94:
        program, pri = f"CRON[{pid}]", 86
        msg = "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)" if rnd.random() < 0.5 else \
            "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"
    else:
        program, pri = "kernel", 4
        msg = f"[{rnd.uniform(1e5, 9e5):.6f}] audit: type=1400 audit({ts:.3f}:{rnd.randrange(999)}): apparmor=\"DENIED\""
    style = rnd.random()
    if style < 0.75:
        return f"<{pri}>{stamp} {host} {program}: {msg}"
    if style < 0.90:
        return f"{stamp} {host} {program}: {msg}"
    name, _, pid_part = program.partition("[")
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1e6) % 1000000:06d}Z"
    return f"<{pri}>1 {iso} {host} {name} {pid_part.rstrip(']') or '-'} - - {msg}"


def _apache(rnd: random.Random, ts: float) -> str:
    level, module, msg = rnd.choice(APACHE)
    stamp = time.strftime("%a %b %d %H:%M:%S", time.gmtime(ts)) + f".{rnd.randrange(1000000):06d} " + \
        time.strftime("%Y", time.gmtime(ts))
    client = f" [client {rnd.choice(ATTACKERS)}:{rnd.randrange(1024, 65535)}]" if "client" in msg or rnd.random() < 0.5 \
        else ""
    return (f"[{stamp}] [{module}:{level}] [pid {rnd.randrange(1000, 9000)}:tid {rnd.getrandbits(40)}]{client} "
            f"{msg.format(path=rnd.choice(PATHS))}")


def _special(rnd: random.Random, ts: float, n: int) -> bytes:
    """The odd lines: secrets to redact and records that must be dead-lettered."""
    stamp = _stamp(ts)
    kind = n % 6
    if kind == 0:
        return f"<38>{stamp} web-01 payments[77]: refund failed for card 4111 1111 1111 1111 (order 1234567812345678)".encode()
    if kind == 1:
        return f"<38>{stamp} web-01 app[78]: db connect postgres://app:hunter2@db-01:5432/pay password=hunter2".encode()
    if kind == 2:
        return f"<999>{stamp} web-01 app[79]: PRI out of range".encode()
    if kind == 3:
        return f"<38>{stamp} web-01 app[80]: caf\xe9 latin-1 bytes".encode("latin-1")
    if kind == 4:
        return f"<38>{stamp} web-01 app[81]: binary\x00payload".encode()
    return b""


def lines(count: int = COUNT, seed: int = SEED) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for n in range(count):
        ts = START + n * (3600.0 / count) + rnd.uniform(0, 1.5)
        roll = rnd.random()
        if roll < 0.015:
            out.append(_special(rnd, ts, n))
        elif roll < 0.17:
            out.append(_apache(rnd, ts).encode())
        else:
            out.append(_auth_line(rnd, ts).encode())
    return out


def main(path: Path = OUT) -> None:
    path.write_bytes(b"\n".join(lines()) + b"\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
