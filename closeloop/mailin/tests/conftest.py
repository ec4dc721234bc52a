"""A real IMAP server (pymap, in-memory backend) on 127.0.0.1 for the polling tests, and mail builders."""

import imaplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Imap:
    user = "desk@example.com"
    password = "imap-pw-123"

    def __init__(self):
        self.port = free_port()
        exe = Path(sys.executable).with_name("pymap")
        self.proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(self.port), "--no-tls", "dict",
                                      "--demo-user", self.user, "--demo-password", self.password],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pymap did not start")

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        m = imaplib.IMAP4("127.0.0.1", self.port)
        m.login(self.user, self.password)
        typ, _d = m.append(folder, None, None, raw)
        assert typ == "OK"
        m.logout()

    def unseen(self, folder: str = "INBOX") -> list[bytes]:
        m = imaplib.IMAP4("127.0.0.1", self.port)
        m.login(self.user, self.password)
        m.select(folder)
        _t, data = m.uid("SEARCH", None, "UNSEEN")
        m.logout()
        return (data[0] or b"").split()

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def imap_server():
    s = Imap()
    yield s
    s.close()


def mail(*, frm="wang@hospital-a.cn", name="王护士", to="service@closeloop.test", subject="呼吸机报警",
         body="3 楼 ICU 的呼吸机一直报警。", mid="<m1@hospital-a.cn>", headers=None, attachments=()) -> bytes:
    m = EmailMessage()
    m["From"] = f"{name} <{frm}>" if name else frm
    m["To"] = to
    m["Subject"] = subject
    if mid:
        m["Message-ID"] = mid
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(m)
