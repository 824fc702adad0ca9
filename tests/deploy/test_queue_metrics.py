"""The queue and worker metrics on the test Redis (database 10): heartbeat keys expire and are counted,
a stopped heartbeat removes its key, no Redis URL reports nothing, and a Redis that does not answer leaves
the two metrics out while /metrics still answers."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import redis

from portal import metrics
from portal.jobs import queue_metrics, worker_heartbeat
from tests.deploy.prometheus_tools import METRICS_TOKEN, REDIS


@pytest.fixture
def store():
    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    yield client
    client.flushdb()


def _samples(collector) -> dict:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in collector.collect() for sample in family.samples}


def test_the_collector_reports_backlog_and_live_workers(store):
    client = worker_heartbeat.connect(REDIS)
    worker_heartbeat.beat(client, "celery@a")
    worker_heartbeat.beat(client, "celery@b")
    store.set("cancer_alpha:other", "not a heartbeat")
    store.rpush("celery", "one", "two")
    assert 0 < store.ttl(worker_heartbeat.heartbeat_key("celery@a")) <= worker_heartbeat.HEARTBEAT_TTL
    assert _samples(queue_metrics.QueueCollector(REDIS)) == {
        ("cancer_alpha_queue_backlog", (("queue", "celery"),)): 2, ("cancer_alpha_celery_workers", ()): 2}
    store.pexpire(worker_heartbeat.heartbeat_key("celery@b"), 1)
    time.sleep(0.05)
    assert queue_metrics.count_workers(client) == 1  # an expired heartbeat is a worker gone


def test_a_stopped_heartbeat_removes_its_key(store):
    beating = worker_heartbeat.Heartbeat(worker_heartbeat.connect(REDIS), "celery@c", interval=0.05)
    beating.start()
    try:
        deadline = time.monotonic() + 5
        while not store.exists(worker_heartbeat.heartbeat_key("celery@c")):  # the thread's first beat
            assert time.monotonic() < deadline, "the heartbeat thread never wrote its key"
            time.sleep(0.02)
        assert queue_metrics.count_workers(store) == 1
    finally:
        beating.stop()
    assert queue_metrics.count_workers(store) == 0


def test_without_redis_there_is_nothing_to_report():
    assert list(queue_metrics.QueueCollector(None).collect()) == []


@pytest.fixture
def silent_redis():
    """A port that takes connections and never answers: a Redis that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def test_a_silent_redis_leaves_the_metrics_out_and_metrics_still_answers(make_portal, silent_redis):
    app = make_portal(metrics_token=METRICS_TOKEN)
    metrics.add_scrape_collector(app.server, queue_metrics.QueueCollector(silent_redis))
    answers = []
    scrape = threading.Thread(target=lambda: answers.append(app.server.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})))
    scrape.start()
    scrape.join(timeout=15)  # a hang, not a speed bound: the Redis timeout is half a second
    assert not scrape.is_alive(), "/metrics hung on a Redis that does not answer"
    (answer,) = answers
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "cancer_alpha_http_requests_total" in text
    assert "cancer_alpha_celery_workers" not in text and "cancer_alpha_queue_backlog" not in text
