"""Linux authentication lines (sshd, sudo, su, login, PAM, systemd-logind, shadow
utilities) as security events: who (actor), from where (source_ip), on whom
(target), what (category, action) and how it ended (outcome).

Input is the message of a syslog line plus its program name; the syslog envelope is
decoded by syslog.py. Attributes: `protocol` ("ssh" for sshd), `source.port`,
`auth.method`, `ssh.*`, `pam.*`; sudo's `command`, `tty`, `pwd`, `reason` (a failed
sudo says why); `role` (the group of a group_add); `syslog.repeat`. Lines of those programs that say nothing about
authentication ("Server listening on ...") are not matched and stay logs.

| line | category | action | outcome |
|---|---|---|---|
| sshd Accepted/Failed <method> for [invalid user] U from IP | authentication | ssh_login | success/failure |
| sshd Invalid user U from IP, max auth attempts exceeded | authentication | ssh_login | failure |
| sshd Connection closed/reset by authenticating user U IP [preauth] | authentication | ssh_login | unknown |
| sshd Did not receive identification string / bad protocol | network | ssh_connect | failure |
| PAM session opened/closed for user U [by V] | authentication | session_open/session_close | success |
| PAM authentication failure ... rhost=IP user=U | as the service: ssh_login, sudo, su, console_login, else pam_auth | | failure |
| sudo U : ... USER=T ; COMMAND=C | privilege | sudo | success, failure when a reason is given |
| su (to T) U on tty / FAILED SU | privilege | su | success/failure |
| login FAILED LOGIN / ROOT LOGIN | authentication | console_login | failure/success |
| useradd/groupadd/usermod/passwd/chage | configuration or privilege | user_create, group_create, group_add, password_change | success |
| systemd-logind New session N of user U / Removed session N | authentication | session_open/session_close | success |

`parse` in C (`streams/ingest/_syslog.c`, built when a compiler is at hand) takes over
unless SLUICE_PURE_PYTHON=1: the same results, several times faster, for the usual
sshd logins, PAM sessions and sudo lines; it hands every other line to the Python
`parse` below, which stays the reference and the fallback.
"""

from __future__ import annotations

import re

from streams.ingest import accel

_syslog = accel.load("_syslog")

AUTH_PROGRAMS = frozenset((
    "sshd", "sshd-session", "sshd-auth", "sudo", "su", "login", "systemd-logind", "passwd", "useradd",
    "userdel", "usermod", "groupadd", "groupdel", "gpasswd", "chpasswd", "chage", "unix_chkpwd", "cron", "crond",
    "polkitd", "doas",
))

# Optional parts of the hot patterns are written `(?:...|)`, not `(?:...)?`: the same
# matches, but Python's re runs `?` on a group through its general repeat machinery,
# which costs these lines a quarter of their matching time.
_REPEAT = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]\Z", re.S)
_SSH_LOGIN = re.compile(
    r"(Accepted|Failed) (\S+) for (invalid user |)(.*?) from (\S+) port (\d+)(?: (ssh\d?)|)(?:: (\S+) (\S+)|)")
_SSH_INVALID = re.compile(r"[Ii]nvalid user (.*?) from (\S+)(?: port (\d+)|)")
_SSH_MAX = re.compile(
    r"(?:error: )?maximum authentication attempts exceeded for (invalid user )?(.*?) from (\S+) port (\d+)")
_SSH_CLOSED = re.compile(
    r"(?:Connection (?:closed|reset) by|Disconnected from) (?:(invalid|authenticating) user (.*?) )?(\S+) port (\d+)"
    r"(?: \[preauth\])?\Z")
_SSH_NOID = re.compile(
    r"(Did not receive identification string|Bad protocol version identification.*?|"
    r"Unable to negotiate|banner exchange: Connection).*? from (\S+) port (\d+)")
_PAM = re.compile(r"pam_(\w+)\(([^:)]+):(\w+)\): (.*)\Z", re.S)
_PAM_SESSION = re.compile(r"session (opened|closed) for user (\S+?)(?:\(uid=\d+\)|)(?: by (\S*?)(?:\(uid=\d+\)|)|)\s*\Z")
_PAM_KV = re.compile(r"(\w+)=(\S*)")
_SUDO = re.compile(
    r"\s*(\S+) : (?:((?!TTY=|PWD=)[^;]*?) ; |)(?:TTY=(\S+) ; |)PWD=(.*?) ; USER=(\S+) ;(?: GROUP=\S+ ;|)(?: TSID=\S+ ;|)"
    r"(?: ENV=.*? ;|) COMMAND=(.*)\Z", re.S)
_SU = re.compile(r"(FAILED SU |Successful su |)\(to (\S+)\) (\S+) on (\S+)")
_SU_OLD = re.compile(r"([+-]) (\S+) (\S+?):(\S+)\Z")
_LOGIN_FAIL = re.compile(r"FAILED LOGIN \((\d+)\) on '([^']*)' FOR '([^']*)', (.*)")
_LOGIN_ROOT = re.compile(r"ROOT LOGIN +on '([^']*)'(?: FROM '([^']*)')?")
_LOGIND_NEW = re.compile(r"New session (\S+) of user (\S+?)\.?\Z")
_LOGIND_REMOVED = re.compile(r"Removed session (\S+?)\.?\Z")
_USERADD = re.compile(r"new user: name=([^,]+),")
_GROUPADD = re.compile(r"new group: name=([^,]+),")
_GROUP_MEMBER = re.compile(r"(?:add|adding user) '?([^' ]+)'? to (?:group|shadow group) '?([^' ]+?)'?\Z")
_PASSWD = re.compile(r"password (?:changed|for '?(\S+?)'? changed)(?: for (\S+))?")


def is_candidate(program: str, message: str) -> bool:
    return program in AUTH_PROGRAMS or message.startswith(("pam_", "PAM "))


def _ev(category: str, action: str, outcome: str, actor: str = "", target: str = "", ip: str = "",
        level: str | None = None) -> dict:
    return {"category": category, "action": action, "outcome": outcome, "actor": actor, "target": target,
            "source_ip": ip, "level": level or ("warn" if outcome == "failure" else "info")}


def _sshd(msg: str) -> tuple[dict, dict] | None:
    m = _SSH_LOGIN.match(msg)
    if m is not None:
        result, method, invalid, user, ip, port, _proto, key_type, key_fp = m.groups()
        outcome = "success" if result == "Accepted" else "failure"
        attrs = {"source.port": port, "auth.method": method}
        if invalid:
            attrs["ssh.invalid_user"] = "true"
        if key_type:
            attrs["ssh.key_type"] = key_type
            attrs["ssh.key_fingerprint"] = key_fp
        return _ev("authentication", "ssh_login", outcome, user, "", ip), attrs
    m = _SSH_INVALID.match(msg)
    if m is not None:
        attrs = {"ssh.invalid_user": "true"}
        if m.group(3):
            attrs["source.port"] = m.group(3)
        return _ev("authentication", "ssh_login", "failure", m.group(1), "", m.group(2)), attrs
    m = _SSH_MAX.match(msg)
    if m is not None:
        attrs = {"source.port": m.group(4), "ssh.reason": "max_auth_tries"}
        if m.group(1):
            attrs["ssh.invalid_user"] = "true"
        return _ev("authentication", "ssh_login", "failure", m.group(2), "", m.group(3)), attrs
    m = _SSH_CLOSED.match(msg)
    if m is not None and m.group(1):
        attrs = {"source.port": m.group(4), "ssh.reason": "closed_preauth"}
        if m.group(1) == "invalid":
            attrs["ssh.invalid_user"] = "true"
        return _ev("authentication", "ssh_login", "unknown", m.group(2), "", m.group(3), "info"), attrs
    m = _SSH_NOID.match(msg)
    if m is not None:
        return _ev("network", "ssh_connect", "failure", "", "", m.group(2)), {"source.port": m.group(3),
                                                                               "ssh.reason": m.group(1)[:80]}
    return None


def _pam(msg: str) -> tuple[dict, dict] | None:
    m = _PAM.match(msg)
    if m is None:
        if msg.startswith("PAM ") and "authentication failure" in msg:
            kv = dict(_PAM_KV.findall(msg))
            return _ev("authentication", "pam_auth", "failure", kv.get("user", ""), "", kv.get("rhost", "")), {}
        return None
    module, service, facility, rest = m.groups()
    attrs = {"pam.module": f"pam_{module}", "pam.service": service}
    s = _PAM_SESSION.match(rest)
    if s is not None:
        opened, user, by = s.groups()
        action = "session_open" if opened == "opened" else "session_close"
        actor = by or user
        return _ev("authentication", action, "success", actor, user), attrs
    if "authentication failure" in rest or "auth could not identify password" in rest:
        kv = dict(_PAM_KV.findall(rest))
        actor = kv.get("user") or kv.get("ruser") or kv.get("logname", "")
        category, action = _PAM_ACTIONS.get(service, ("authentication", "pam_auth"))
        return _ev(category, action, "failure", actor, "", kv.get("rhost", "")), attrs
    if "password changed for" in rest:
        user = rest.rsplit(" ", 1)[-1]
        return _ev("configuration", "password_change", "success", "", user), attrs
    if "account" in rest and ("locked" in rest or "expired" in rest):
        user = re.search(r"user (\S+)", rest)
        return _ev("authentication", "account_locked", "failure", user.group(1) if user else ""), attrs
    return None


# A PAM authentication failure reads as the action the service was attempting.
_PAM_ACTIONS = {"sshd": ("authentication", "ssh_login"), "sudo": ("privilege", "sudo"), "su": ("privilege", "su"),
                "su-l": ("privilege", "su"), "login": ("authentication", "console_login")}


def _sudo(msg: str) -> tuple[dict, dict] | None:
    m = _SUDO.match(msg)
    if m is None:
        return None
    user, reason, tty, pwd, target, command = m.groups()
    attrs = {"command": command, "pwd": pwd}
    if tty:
        attrs["tty"] = tty
    if reason:
        attrs["reason"] = reason
    return _ev("privilege", "sudo", "failure" if reason else "success", user, target), attrs


def _su(msg: str) -> tuple[dict, dict] | None:
    m = _SU.match(msg)
    if m is not None:
        failed, target, user, tty = m.groups()
        return _ev("privilege", "su", "failure" if failed.startswith("FAILED") else "success", user,
                   target), {"tty": tty}
    m = _SU_OLD.match(msg)
    if m is not None:
        ok, tty, user, target = m.groups()
        return _ev("privilege", "su", "success" if ok == "+" else "failure", user, target), {"tty": tty}
    return None


def _login(msg: str) -> tuple[dict, dict] | None:
    m = _LOGIN_FAIL.match(msg)
    if m is not None:
        return _ev("authentication", "console_login", "failure", m.group(3)), {"tty": m.group(2),
                                                                               "reason": m.group(4)}
    m = _LOGIN_ROOT.match(msg)
    if m is not None:
        return _ev("authentication", "console_login", "success", "root", "", m.group(2) or ""), {
            "tty": m.group(1)}
    return None


def _logind(msg: str) -> tuple[dict, dict] | None:
    m = _LOGIND_NEW.match(msg)
    if m is not None:
        return _ev("authentication", "session_open", "success", m.group(2), m.group(2)), {"session.id": m.group(1)}
    m = _LOGIND_REMOVED.match(msg)
    if m is not None:
        return _ev("authentication", "session_close", "success"), {"session.id": m.group(1)}
    return None


def _accounts(msg: str) -> tuple[dict, dict] | None:
    m = _USERADD.match(msg)
    if m is not None:
        return _ev("configuration", "user_create", "success", "", m.group(1)), {}
    m = _GROUPADD.match(msg)
    if m is not None:
        return _ev("configuration", "group_create", "success", "", m.group(1)), {}
    m = _GROUP_MEMBER.match(msg)
    if m is not None:
        return _ev("privilege", "group_add", "success", "", m.group(1)), {"role": m.group(2)}
    m = _PASSWD.search(msg)
    if m is not None:
        user = m.group(1) or m.group(2) or ""
        return _ev("configuration", "password_change", "success", "", user), {}
    return None


_BY_PROGRAM = {
    "sshd": _sshd, "sshd-session": _sshd, "sshd-auth": _sshd, "sudo": _sudo, "doas": _sudo, "su": _su,
    "login": _login, "systemd-logind": _logind, "useradd": _accounts, "groupadd": _accounts,
    "usermod": _accounts, "gpasswd": _accounts, "passwd": _accounts, "chpasswd": _accounts,
}


def accelerated() -> bool:
    """Whether the C forms of auth.parse and syslog.decode are in use."""
    return _syslog is not None and accel.wanted()


def _py_parse(program: str, message: str) -> tuple[dict, dict] | None:
    """(fields, attributes) of a security event, or None when the line is not about auth."""
    msg = message
    repeat = None
    if message.startswith("message repeated "):
        rep = _REPEAT.match(message)
        if rep is not None:
            repeat, msg = rep.groups()
    hit = _pam(msg) if msg.startswith(("pam_", "PAM ")) else None
    if hit is None:
        specific = _BY_PROGRAM.get(program)
        if specific is None:
            return None
        hit = specific(msg)
        if hit is None:
            return None
    fields, attrs = hit
    fields["message"] = message
    if repeat is not None:
        attrs["syslog.repeat"] = repeat
    if program.startswith("sshd") or attrs.get("pam.service") == "sshd":
        attrs["protocol"] = "ssh"  # what the rules of rules/security select SSH events by
    return hit


parse = _py_parse
if _syslog is not None:
    # The C form copies the program tables once, here, and learns which programs _sshd and
    # _sudo read; it calls _py_parse for every line it does not read itself.
    _syslog.bind_auth(_py_parse, AUTH_PROGRAMS, _BY_PROGRAM, _sshd, _sudo)
    if accelerated():
        parse = _syslog.auth_parse
