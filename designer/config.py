"""Small helpers that turn environment values into Django settings (no Django imports)."""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


def read_or_create_secret(path: Path, make=lambda: secrets.token_urlsafe(50)) -> str:
    """Return the secret stored in `path`, creating it (mode 0600) the first time.

    Creation is exclusive, so two processes starting at once agree on one value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    value = make()
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def mailer_from_url(url: str) -> dict:
    """Turn EMAIL_URL into one MAILERS entry.

    console:// (default) prints mail to the terminal; smtp://[user:pass@]host[:port] sends with SMTP,
    smtp+tls:// uses STARTTLS, smtps:// uses implicit TLS; locmem:// and dummy:// are for tests.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    simple = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
    }
    if scheme in simple:
        return {"BACKEND": simple[scheme]}
    if scheme not in ("smtp", "smtp+tls", "smtps", "smtp+ssl"):
        raise ValueError(f"EMAIL_URL: unsupported scheme {scheme!r} (use console://, smtp:// or smtps://)")
    options: dict = {"host": parts.hostname or "localhost"}
    options["port"] = parts.port or (465 if scheme in ("smtps", "smtp+ssl") else 25)
    if parts.username:
        options["username"] = unquote(parts.username)
        options["password"] = unquote(parts.password or "")
    if scheme == "smtp+tls":
        options["use_tls"] = True
    if scheme in ("smtps", "smtp+ssl"):
        options["use_ssl"] = True
    timeout = parse_qs(parts.query).get("timeout")
    options["timeout"] = float(timeout[0]) if timeout else 20
    return {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
