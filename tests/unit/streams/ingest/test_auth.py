from __future__ import annotations

import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import auth, syslog
from streams.ingest.pipeline import IngestConfig
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("auth")


@pytest.mark.parametrize(("program", "message", "expected"), [
    ("sshd", "Failed password for root from 1.2.3.4 port 22 ssh2",
     ("authentication", "ssh_login", "failure", "root", "", "1.2.3.4")),
    ("sshd", "Failed password for invalid user  from 1.2.3.4 port 22 ssh2",
     ("authentication", "ssh_login", "failure", "", "", "1.2.3.4")),
    ("sshd", "Accepted keyboard-interactive/pam for alice from fe80::1%eth0 port 2 ssh2",
     ("authentication", "ssh_login", "success", "alice", "", "fe80::1%eth0")),
    ("sshd-session", "Invalid user oracle from 10.0.0.9", ("authentication", "ssh_login", "failure", "oracle", "", "10.0.0.9")),
    ("sudo", "carol : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
     ("privilege", "sudo", "failure", "carol", "root", "")),
    ("sudo", "dave : PWD=/srv ; USER=postgres ; COMMAND=/usr/bin/psql -c select 1",
     ("privilege", "sudo", "success", "dave", "postgres", "")),
    ("su", "pam_unix(su:session): session opened for user root by alice(uid=1000)",
     ("authentication", "session_open", "success", "alice", "root", "")),
    ("login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure",
     ("authentication", "console_login", "failure", "root", "", "")),
    ("sshd", "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.6.7.8  user=root",
     ("authentication", "pam_auth", "failure", "root", "", "5.6.7.8")),
    ("passwd", "pam_unix(passwd:chauthtok): password changed for alice",
     ("configuration", "password_change", "success", "", "alice", "")),
])
def test_recognised_lines(program, message, expected):
    fields, _ = auth.parse(program, message)
    got = tuple(fields[k] for k in ("category", "action", "outcome", "actor", "target", "source_ip"))
    assert got == expected
    assert fields["message"] == message


@pytest.mark.parametrize(("program", "message"), [
    ("sshd", "Server listening on :: port 22."), ("sshd", "Received SIGHUP; restarting."),
    ("sudo", "unable to resolve host x"), ("nginx", "Failed password for root from 1.2.3.4 port 22 ssh2"),
])
def test_unrelated_lines_are_not_security_events(program, message):
    assert auth.parse(program, message) is None or not auth.is_candidate(program, message)


def test_sudo_command_is_kept(ingest):
    ev = ingest(b"<85>Dec 31 23:59:56 h sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
                b"COMMAND=/usr/bin/id -u").events[0]
    assert ev["kind"] == "security" and ev["attributes"]["command"] == "/usr/bin/id -u"
    assert ev["attributes"]["tty"] == "pts/0" and ev["outcome"] == "success"


def test_routing_can_keep_auth_lines_as_logs(ingest):
    line = b"<38>Dec 31 23:59:50 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2"
    assert list(ingest(line).by_topic) == ["sluice.security"]
    out = ingest(line, cfg=IngestConfig(auth_as_security=False))
    assert list(out.by_topic) == ["sluice.logs"] and out.events[0]["attributes"]["actor"] == "root"


def test_forced_auth_format(ctx):
    (d,) = syslog.decode_auth(b"sshd[9]: Accepted password for bob from 1.1.1.1 port 5 ssh2", ctx)
    assert d.kind == "security" and d.fields["actor"] == "bob" and d.attributes["process.pid"] == "9"
    with pytest.raises(DecodeError):
        syslog.decode_auth(b"<13>Dec 31 23:59:59 h app: nothing about auth", ctx)
