#!/usr/bin/env python3
"""mailbox — a test's hands on a real mail server: send by SMTP, read by IMAP.

What it is for: tests/e2e/test_primer.sh delivers trigger mails into Hard-E's
mailbox through the throw-away OpenSMTPD of tests/servers/mail.sh, and reads
what reached the homeowner's mailbox from the throw-away Dovecot, the way a
mail client would (IMAP LOGIN, SELECT, UID FETCH) rather than by peeking at
the server's files. It owns nothing but the connections it opens.

  mailbox.py send --port P --from ADDR --to ADDR --subject S [--body TEXT]
                  [--raw FILE]      (FILE: a whole RFC 5322 message, sent as is)
  mailbox.py dump --port P --user U --password W [--folder F]
      prints a JSON list, one object per message in UID order:
      {"uid", "flags": [...], "from", "to", "subject", "message_id",
       "text", "html", "links": [...]} (links: the http(s) URLs of the text
      and HTML parts)

Design: Python 3 standard library only (smtplib, imaplib, email); every
connection has a timeout; exit status 0 on success, 1 with a message on
stderr otherwise, so a shell test can tell a server problem from an
assertion.
"""

import argparse
import email
import email.policy
import imaplib
import json
import re
import smtplib
import sys
from email.message import EmailMessage

TIMEOUT_S = 15
URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def send(args):
    if args.raw:
        with open(args.raw, "rb") as f:
            data = f.read()
    else:
        msg = EmailMessage()
        msg["From"] = args.sender
        msg["To"] = args.to
        msg["Subject"] = args.subject
        msg.set_content(args.body or "")
        data = msg.as_bytes()
    with smtplib.SMTP("127.0.0.1", args.port, timeout=TIMEOUT_S) as s:
        s.sendmail(args.envelope_from or re.sub(r".*<|>.*", "", args.sender), [args.to], data)


def parts(msg):
    text, html = [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        try:
            body = part.get_content()
        except (LookupError, ValueError):
            body = part.get_payload(decode=True).decode("utf-8", "replace")
        (text if kind == "text/plain" else html).append(body)
    return "\n".join(text), "\n".join(html)


def dump(args):
    imap = imaplib.IMAP4("127.0.0.1", args.port, timeout=TIMEOUT_S)
    try:
        imap.login(args.user, args.password)
        typ, _ = imap.select(args.folder, readonly=True)
        if typ != "OK":
            raise RuntimeError("cannot select %s" % args.folder)
        typ, data = imap.uid("SEARCH", None, "ALL")
        uids = [int(u) for u in (data[0] or b"").split()]
        out = []
        for uid in uids:
            typ, data = imap.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])")
            raw, flags = None, []
            for item in data:
                if isinstance(item, tuple):
                    head = item[0].decode("ascii", "replace")
                    m = re.search(r"FLAGS \(([^)]*)\)", head)
                    if m:
                        flags = m.group(1).split()
                    raw = item[1]
                elif isinstance(item, bytes):
                    m = re.search(rb"FLAGS \(([^)]*)\)", item)
                    if m:
                        flags = m.group(1).decode().split()
            msg = email.message_from_bytes(raw or b"", policy=email.policy.default)
            text, html = parts(msg)
            links = []
            for url in URL_RE.findall(text) + URL_RE.findall(html):
                url = url.rstrip(".,;)")
                if url not in links:
                    links.append(url)
            out.append({"uid": uid, "flags": flags, "from": str(msg.get("From", "")),
                        "to": str(msg.get("To", "")), "subject": str(msg.get("Subject", "")),
                        "message_id": str(msg.get("Message-ID", "")), "text": text,
                        "html": html, "links": links})
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--from", dest="sender", required=True)
    s.add_argument("--envelope-from")
    s.add_argument("--to", required=True)
    s.add_argument("--subject", default="")
    s.add_argument("--body")
    s.add_argument("--raw")
    d = sub.add_parser("dump")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--user", required=True)
    d.add_argument("--password", required=True)
    d.add_argument("--folder", default="INBOX")
    args = ap.parse_args()
    try:
        (send if args.command == "send" else dump)(args)
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, RuntimeError) as e:
        print("mailbox.py %s: %s" % (args.command, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
