"""Slack sink: recording, failure modes, slowness; render_text on Block Kit payloads."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from braket_sandbox.slack_sink import SlackSink, render_text, start_slack_sink


def test_records_json_posts_on_any_path(sink):
    url = sink.url_for()
    assert url == sink.url + "/services/T000/B000/XXXX"
    response = requests.post(url, json={"text": "hello"}, timeout=5)
    assert (response.status_code, response.text) == (200, "ok")
    requests.post(sink.url_for("other/path"), json={"blocks": [{"type": "divider"}]}, timeout=5)
    messages = sink.messages
    assert [m["path"] for m in messages] == ["/services/T000/B000/XXXX", "/other/path"]
    assert messages[0]["payload"] == {"text": "hello"}
    assert sink.payloads()[1] == {"blocks": [{"type": "divider"}]}
    assert isinstance(messages[0]["received_at"], float)
    messages[0]["payload"]["text"] = "changed"  # a copy
    assert sink.messages[0]["payload"]["text"] == "hello"


def test_form_encoded_payload_like_legacy_clients(sink):
    response = requests.post(sink.url_for(), data={"payload": '{"text": "form"}'}, timeout=5)
    assert response.status_code == 200
    assert sink.payloads() == [{"text": "form"}]


@pytest.mark.parametrize(
    "body,headers,answer",
    [
        (b"not json", {"Content-Type": "application/json"}, "invalid_payload"),
        (b"[1, 2]", {"Content-Type": "application/json"}, "invalid_payload"),
        (b'{"username": "guard"}', {"Content-Type": "application/json"}, "no_text"),
    ],
)
def test_rejects_bad_payloads_like_slack(sink, body, headers, answer):
    response = requests.post(sink.url_for(), data=body, headers=headers, timeout=5)
    assert (response.status_code, response.text) == (400, answer)
    assert sink.messages == []
    assert sink.requests == [{"path": "/services/T000/B000/XXXX", "status": 400, "body": body.decode()}]


def test_fail_with_a_number_of_times_then_recover(sink):
    sink.fail_with(500, times=2)
    codes = [requests.post(sink.url_for(), json={"text": f"try {i}"}, timeout=5) for i in range(3)]
    assert [(r.status_code, r.text) for r in codes] == [(500, "rollup_error"), (500, "rollup_error"), (200, "ok")]
    assert sink.payloads() == [{"text": "try 2"}]
    assert [r["status"] for r in sink.requests] == [500, 500, 200]


def test_fail_with_forever_rate_limit_and_custom_body(sink):
    sink.fail_with(429)
    for _ in range(3):
        response = requests.post(sink.url_for(), json={"text": "x"}, timeout=5)
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        assert response.text == "rate_limited"
    sink.fail_with(404, body="no_team")
    assert requests.post(sink.url_for(), json={"text": "x"}, timeout=5).text == "no_team"
    assert sink.messages == []
    sink.reset()
    assert requests.post(sink.url_for(), json={"text": "x"}, timeout=5).status_code == 200
    assert len(sink.messages) == 1 and len(sink.requests) == 1


def test_delay_makes_clients_time_out(sink):
    sink.delay(0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(sink.url_for(), json={"text": "slow"}, timeout=0.2)
    # The post still lands once the sink answers (as with a slow real Slack).
    assert sink.wait_for(1, timeout=3)[0]["payload"] == {"text": "slow"}
    sink.delay(0)
    assert requests.post(sink.url_for(), json={"text": "fast"}, timeout=1).status_code == 200


def test_stop_does_not_wait_for_a_delayed_answer():
    sink = start_slack_sink()
    sink.delay(30)
    errors = []

    def slow_post():
        try:
            requests.post(sink.url_for(), json={"text": "x"}, timeout=10)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=slow_post)
    thread.start()
    time.sleep(0.2)  # let the request reach the sleeping handler
    started = time.monotonic()
    sink.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 3


def test_concurrent_posts_are_all_recorded(sink):
    def post(i):
        requests.post(sink.url_for(), json={"text": str(i)}, timeout=5)

    pool = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(10)
    assert sorted(int(p["text"]) for p in sink.payloads()) == list(range(20))


def test_messages_over_http_for_subprocess_users(sink):
    requests.post(sink.url_for(), json={"text": "x"}, timeout=5)
    listed = requests.get(f"{sink.url}/_sandbox/messages", timeout=5).json()
    assert [m["payload"] for m in listed] == [{"text": "x"}]
    assert requests.get(sink.url_for(), timeout=5).status_code == 405


def test_url_requires_start():
    sink = SlackSink()
    with pytest.raises(RuntimeError):
        sink.url_for()


def test_render_block_kit_message():
    payload = {
        "text": "fallback only",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Braket guard: cap reached"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*3 tasks cancelled* on <https://x.example/d|Forte-1> &amp; more"},
                "fields": [
                    {"type": "mrkdwn", "text": "*Shots:* 1200 / 1000"},
                    {"type": "mrkdwn", "text": "*Cost:* $96.90"},
                ],
                "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Open"}},
            },
            {"type": "divider"},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "region us-east-1"},
                    {"type": "image", "image_url": "https://x.example/i.png", "alt_text": "logo"},
                    {"type": "plain_text", "text": "<!here> cc <@U123>"},
                ],
            },
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Ack"}}]},
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "see "},
                            {"type": "link", "url": "https://docs.example", "text": "runbook"},
                        ],
                    }
                ],
            },
        ],
    }
    assert render_text(payload) == "\n".join(
        [
            "Braket guard: cap reached",
            "=========================",
            "*3 tasks cancelled* on Forte-1 (https://x.example/d) & more",
            "*Shots:* 1200 / 1000",
            "*Cost:* $96.90",
            "[Open]",
            "-" * 40,
            "region us-east-1 | logo | @here cc @U123",
            "[Ack]",
            "see runbook (https://docs.example)",
        ]
    )


def test_render_text_only_and_attachments():
    assert render_text({"text": "plain <https://a.example> &lt;b&gt;"}) == "plain https://a.example <b>"
    payload = {
        "text": "Budget warning",
        "attachments": [
            {
                "color": "#ff0000",
                "pretext": "80% used",
                "fields": [{"title": "Device", "value": "Garnet"}, {"value": "no title"}],
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "in a block"}}],
            },
            {"fallback": "only fallback"},
        ],
    }
    assert render_text(payload) == "\n".join(
        ["Budget warning", "80% used", "Device: Garnet", "no title", "in a block", "only fallback"]
    )
    assert render_text({}) == ""
