"""E-mail against a real SMTP server (aiosmtpd) on loopback: plain, AUTH, STARTTLS, implicit TLS.

TLS uses a throw-away self-signed certificate made with the openssl command for the
test session; the notifier trusts it through ``smtp_ca_file``, as a deployment trusts a
private mail server's CA.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.model import Outcome
from alerts.notifiers.delivery import RetryPolicy, deliver
from alerts.notifiers.email import EmailNotifier, SmtpConfig
from tests.alerts.notifiers.support import (
    ACK_URL,
    INCIDENT_URL,
    FakeTime,
    FixedRng,
    closed_port,
    frozen_clock,
    make_notification,
    notify_settings,
    recipient,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SENDER = "citybrain@ops.example.cn"
TO = "wangwei@dept07.example.cn"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated_as: str | None


@dataclass
class Mailbox:
    """The aiosmtpd handler: records each accepted message; optionally refuses recipients."""

    rcpt_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, login))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def accept_only(user: str, password: str) -> Any:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            user.encode(), password.encode())
        # handled=False: let the server answer 535 itself on a failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
    return authenticator


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """Start an aiosmtpd server with the given options; every started server is stopped after the test."""
    started: list[Controller] = []

    def start(mailbox: Mailbox, **options: Any) -> int:
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def notifier(port: int, **config: Any) -> EmailNotifier:
    values: dict[str, Any] = {"host": "127.0.0.1", "port": port, "sender": SENDER, "timeout": 5.0}
    values.update(config)
    return EmailNotifier(SmtpConfig(**values), SHANGHAI, frozen_clock)


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


async def test_mail_carries_subject_times_in_the_zone_and_both_links(smtp_server: Any) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox)
    outcome = await notifier(port).send(make_notification(), recipient("email", TO))

    assert outcome == Outcome(delivered=True, retryable=False, detail=f"accepted by 127.0.0.1:{port}")
    (mail,) = mailbox.received
    assert mail.mail_from == SENDER and mail.rcpt_tos == [TO]
    message = mail.message
    assert message["Subject"] == ("【告警】II级(重大) 市数据局 · 市政务服务网："
                                  "门户网站不可用 portal-07（事件 #42）")
    assert message["From"] == SENDER and message["To"] == TO
    assert message["Date"] == "Sun, 01 Mar 2026 18:05:30 +0800"        # the frozen clock, in the zone
    assert message["References"] == "<incident-42@ops.example.cn>"
    assert message["X-Citybrain-Incident"] == "42" and message["X-Citybrain-Severity"] == "II"
    assert message["Content-Language"] == "zh-CN"
    message_id = str(message["Message-ID"]).strip()     # long enough to be folded onto a second line
    assert message_id.startswith("<") and message_id.endswith(".incident-42-step-1@ops.example.cn>")

    plain, html = parts(message)
    assert plain.splitlines() == [
        "【告警】II级(重大) 市数据局 · 市政务服务网",
        "门户网站不可用 portal-07",
        "",
        "事件：#42",
        "级别：II级(重大)",
        "状态：待响应",
        "资产：市政务服务网 (portal-07)",
        "部门：市数据局 (dept-07)",
        "开始时间：2026-03-01 18:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)",
        "响应时限：2026-03-01 18:30 前（开启后 30 分钟内）",
        "升级步骤：第 1 级升级，通知值班人员、负责人、部门群",
        "通知对象：王伟（值班人员）",
        "",
        "探测连续 3 次失败",
        "最近一次: HTTP 503",
        "",
        f"查看事件：{INCIDENT_URL}",
        f"确认接单：{ACK_URL}",
        "",
        "本邮件由 Citybrain 城市运行平台就事件 #42 自动发送。确认链接仅供您本人使用，请勿转发本邮件。",
    ]
    assert '<html lang="zh-CN">' in html
    assert f'<a href="{INCIDENT_URL}" style="' in html and ">查看事件</a>" in html
    assert f'<a href="{ACK_URL}" style="' in html and ">确认接单</a>" in html
    # The acknowledge button comes first: it is what the mail asks for.
    assert html.index(f'href="{ACK_URL}"') < html.index(f'href="{INCIDENT_URL}"')
    assert "市政务服务网 (portal-07)</td>" in html and "市数据局 (dept-07)</td>" in html
    assert ">2026-03-01 18:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)</td>" in html
    assert ">2026-03-01 18:30 前（开启后 30 分钟内）</td>" in html


async def test_html_part_escapes_the_title(smtp_server: Any) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox)
    await notifier(port).send(make_notification(title="<script>x</script>\r\nBcc: all@example.cn"),
                              recipient("email", TO))
    message = mailbox.received[0].message
    _, html = parts(message)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert message["Bcc"] is None                       # a line break in a title cannot add a header
    assert mailbox.received[0].rcpt_tos == [TO]


# A plain-text AUTH is what this test is about; the server warns about it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_auth_with_the_configured_user(smtp_server: Any) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox, authenticator=accept_only("alerts", "s3cret"), auth_required=True,
                       auth_require_tls=False)
    outcome = await notifier(port, user="alerts", password="s3cret").send(make_notification(),
                                                                          recipient("email", TO))
    assert outcome.delivered
    assert mailbox.received[0].authenticated_as == "alerts"

    refused = await notifier(port, user="alerts", password="wrong").send(make_notification(),
                                                                         recipient("email", TO))
    assert not refused.delivered and not refused.retryable
    assert refused.detail.startswith("authentication failed: 535")
    assert len(mailbox.received) == 1


async def test_starttls_then_auth(smtp_server: Any, certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox, tls_context=server_tls(certificate), require_starttls=True,
                       authenticator=accept_only("alerts", "s3cret"), auth_required=True)
    outcome = await notifier(port, security="starttls", ca_file=certificate[0], user="alerts",
                             password="s3cret").send(make_notification(), recipient("email", TO))
    assert outcome.delivered, outcome.detail
    assert mailbox.received[0].authenticated_as == "alerts"


async def test_starttls_with_an_untrusted_certificate_is_not_retried(smtp_server: Any,
                                                                    certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox, tls_context=server_tls(certificate), require_starttls=True)
    outcome = await notifier(port, security="starttls").send(make_notification(), recipient("email", TO))
    assert not outcome.delivered and not outcome.retryable
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.detail
    assert mailbox.received == []


async def test_a_server_requiring_starttls_refuses_a_plain_session(smtp_server: Any,
                                                                   certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox, tls_context=server_tls(certificate), require_starttls=True)
    outcome = await notifier(port).send(make_notification(), recipient("email", TO))
    # 530 "Must issue a STARTTLS command first": permanent until settings change.
    assert not outcome.delivered and not outcome.retryable
    assert "530" in outcome.detail


async def test_implicit_tls(smtp_server: Any, certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    port = smtp_server(mailbox, ssl_context=server_tls(certificate))
    outcome = await notifier(port, security="ssl", ca_file=certificate[0]).send(make_notification(),
                                                                                recipient("email", TO))
    assert outcome.delivered, outcome.detail
    assert len(mailbox.received) == 1


@pytest.mark.parametrize(("reply", "retryable"), [
    ("451 4.3.0 mailbox temporarily unavailable", True),
    ("550 5.1.1 no such user", False),
])
async def test_recipient_refusals_follow_the_reply_class(smtp_server: Any, reply: str,
                                                          retryable: bool) -> None:
    port = smtp_server(Mailbox(rcpt_reply=reply))
    outcome = await notifier(port).send(make_notification(), recipient("email", TO))
    assert not outcome.delivered and outcome.retryable is retryable
    assert outcome.detail == f"recipient refused: {reply}"


async def test_connection_refused_is_retryable_not_a_crash() -> None:
    fake = FakeTime()
    attempts: list[Any] = []
    port = closed_port()
    outcome = await deliver(notifier(port), make_notification(), recipient("email", TO),
                            policy=RetryPolicy(attempts=3), sleep=fake.sleep, audit=attempts.append,
                            rng=FixedRng(), monotonic=fake.monotonic)
    assert not outcome.delivered and outcome.retryable and outcome.attempts == 3
    assert outcome.detail.startswith(f"connection error to 127.0.0.1:{port}: [Errno 111] Connection refused")
    assert [a.kind for a in attempts] == ["notification.retrying", "notification.retrying",
                                          "notification.failed"]


async def test_a_missing_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    outcome = await notifier(closed_port(), security="starttls", ca_file=tmp_path / "absent.pem").send(
        make_notification(), recipient("email", TO))
    assert not outcome.delivered and not outcome.retryable
    assert outcome.detail.startswith("cannot load the CA file")


def test_smtp_config_from_settings() -> None:
    assert SmtpConfig.from_settings(notify_settings()) is None
    config = SmtpConfig.from_settings(notify_settings(
        smtp_host="mail.example.cn", smtp_port=587, smtp_user="alerts", smtp_password="s3cret",
        smtp_from=SENDER, smtp_security="starttls", notify_timeout_seconds=7.5))
    assert config == SmtpConfig(host="mail.example.cn", port=587, sender=SENDER, security="starttls",
                                user="alerts", password="s3cret", ca_file=None, timeout=7.5)
    assert "s3cret" not in repr(notify_settings(smtp_password="s3cret"))
