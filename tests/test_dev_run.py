"""`python3 dev.py run PORT` serves on PORT and every link it prints or e-mails points there:
the run's environment carries SITE_URL for that port (unless SITE_URL is set already)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_dev():
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_run_on_a_port_links_that_port():
    env = load_dev().site_env("8123", {"PATH": "/bin"})

    assert env == {"SITE_URL": "http://127.0.0.1:8123", "PATH": "/bin"}


def test_a_site_url_given_by_the_environment_wins():
    env = load_dev().site_env("8123", {"SITE_URL": "https://accord.example.com"})

    assert env["SITE_URL"] == "https://accord.example.com"


@pytest.mark.parametrize("port", ["80a", "0", "70000", "-1"])
def test_it_refuses_what_is_not_a_port_before_doing_anything(port):
    result = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "run", port],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )

    assert result.returncode == 1
    assert f"“{port}” is not a port number" in result.stderr


def test_the_site_started_with_that_environment_links_the_port():
    environ = {k: v for k, v in os.environ.items() if k != "SITE_URL"}
    env = load_dev().site_env("8123", environ)
    script = (
        "import django; django.setup(); "
        "from django.conf import settings; from django.urls import reverse; "
        "print(settings.SITE_URL + reverse('workflow:nomination', args=[7]))"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:8123/nominations/7/"
