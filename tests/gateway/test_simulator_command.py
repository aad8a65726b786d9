import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_it_runs_the_simulator_command_until_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "gateway_simulator",
            "--port",
            "0",
            "--keys",
            "k-one,k-two",
            "--rpm",
            "100",
            "--moderation-style",
            "sensitive_words",
            "--seed",
            "3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        base_url = line.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1"), line

        listed = requests.get(
            f"{base_url}/models", headers={"Authorization": "Bearer k-two"}, timeout=5
        )
        refused = requests.get(
            f"{base_url}/models", headers={"Authorization": "Bearer k-three"}, timeout=5
        )

        assert listed.json()["data"][0]["id"] == "grok-build-0.1"
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_it_serves_the_usage_log_with_the_log_token_option():
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "gateway_simulator",
            "--port",
            "0",
            "--log-token",
            "drill-log-token-01",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base_url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        log_url = f"{base_url.removesuffix('/v1')}/api/log/self"

        granted = requests.get(
            log_url, headers={"Authorization": "Bearer drill-log-token-01"}, timeout=5
        )
        default = requests.get(
            log_url, headers={"Authorization": "Bearer sim-log-token-grokweb"}, timeout=5
        )

        assert granted.json() == {
            "success": True,
            "message": "",
            "data": {"items": [], "total": 0, "page": 1, "page_size": 10},
        }
        assert default.json()["success"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
