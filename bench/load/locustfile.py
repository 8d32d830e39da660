"""The load of a busy team on Accord, for `locust --headless` (started by bench/load/run.py,
which writes the fixture and reads the samples; see docs/benchmarks.md, "Load").

People use the site as a browser does: the web pages and forms, a session cookie and the CSRF
token of the form they submit; no redirect is followed silently (a POST's 302 is followed by a
GET of its page, counted as that page). Each simulated person is one person of the fixture:

- Members (four in five) browse their queue, the cycle page (the list, the nominations, a
  search), nomination pages and the coverage dashboard and table, comment (some with an
  @mention) and nominate one of their own prospects (search, choose, submit).
- Approvers (one in five) do the same but, instead of nominating, sign off: the oldest page of
  their queue, one nomination's page, then Approve (95%), Request changes (3%) or Reject (2%)
  when the page offers it. A 409 (someone else's sign-off got there first) is a conflict, not
  an error: the person sees the nomination's new state.
- One CRM-side job per multiplier polls the agreed list with its integration token,
  `updated_since` and `If-None-Match`, every ACCORD_LOAD_POLL_SECONDS.

Sign-in: each person signs in once, through the form, when they start (the ramp of the run:
locust's spawn rate is the sign-in burst), and keeps the session. After every
ACCORD_LOAD_SIGN_IN_AGAIN_EVERY-th action on average, a person signs out and in again. The
steady window starts ACCORD_LOAD_SETTLE_SECONDS after the last person has tried to sign in (the
requests queued behind the burst's last password checks are the ramp's, not the steady load's)
and lasts ACCORD_LOAD_STEADY_SECONDS; then the run stops itself.

Environment (run.py sets it): ACCORD_LOAD_FIXTURE (JSON from bench/load/data.py),
ACCORD_LOAD_PEOPLE, ACCORD_LOAD_POLLERS, ACCORD_LOAD_STEADY_SECONDS, ACCORD_LOAD_THINK
("10,30": seconds between two actions of one person), ACCORD_LOAD_SAMPLES (where to write
one JSON line per request), ACCORD_LOAD_STEADY_FILE (written when the steady window starts).
"""

import itertools
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import gevent
from locust import FastHttpUser, HttpUser, between, constant_pacing, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.load.pages import name_of

FIXTURE = json.loads(Path(os.environ["ACCORD_LOAD_FIXTURE"]).read_text())
PEOPLE = int(os.environ.get("ACCORD_LOAD_PEOPLE", "200"))
POLLERS = int(os.environ.get("ACCORD_LOAD_POLLERS", "1"))
STEADY_SECONDS = float(os.environ.get("ACCORD_LOAD_STEADY_SECONDS", "60"))
SETTLE_SECONDS = float(os.environ.get("ACCORD_LOAD_SETTLE_SECONDS", "5"))
THINK = tuple(float(s) for s in os.environ.get("ACCORD_LOAD_THINK", "10,30").split(","))
POLL_SECONDS = float(os.environ.get("ACCORD_LOAD_POLL_SECONDS", "10"))
SIGN_IN_AGAIN_EVERY = int(os.environ.get("ACCORD_LOAD_SIGN_IN_AGAIN_EVERY", "60"))
SAMPLES = os.environ.get("ACCORD_LOAD_SAMPLES", "")
STEADY_FILE = os.environ.get("ACCORD_LOAD_STEADY_FILE", "")

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NOMINATION_LINK = re.compile(r'href="/nominations/(\d+)/')
CYCLE = FIXTURE["cycle"]
LIST_PAGES = max(1, FIXTURE["sizes"]["target accounts"] // 25)  # the cycle page: 25 a page

team = FIXTURE["people"][:PEOPLE]
_approvers = [p for p in team if p["approver"]]
_members = [p for p in team if not p["approver"]]
_next = {True: itertools.cycle(_approvers or team), False: itertools.cycle(_members or team)}


class Run:
    """What the run shares: who has signed in, when the steady window began, the samples."""

    tried_sign_in = 0
    steady_at: float | None = None
    ended_at: float | None = None
    samples: list[tuple] = []
    in_review: list[int] = list(FIXTURE["in_review"])


@events.request.add_listener
def _sample(request_type, name, response_time, response=None, exception=None, **kw):
    started = kw.get("start_time") or time.time() - response_time / 1000
    status = getattr(response, "status_code", 0) if response is not None else 0
    if Run.steady_at is None or started < Run.steady_at:
        phase = "ramp"
    elif Run.ended_at is None or started < Run.ended_at:
        phase = "steady"
    else:
        phase = "after"  # started while the users were being stopped
    error = None if exception is None else str(exception)[:200]
    Run.samples.append((round(started, 3), name, round(response_time, 2), status, error, phase))


@events.quitting.add_listener
def _write_samples(environment, **kw):
    if SAMPLES:
        with open(SAMPLES, "w") as out:
            for started, name, ms, status, error, phase in Run.samples:
                row = {"t": started, "name": name, "ms": ms, "status": status, "phase": phase}
                if error:
                    row["error"] = error
                out.write(json.dumps(row) + "\n")


def _person_ready(environment) -> None:
    Run.tried_sign_in += 1
    if Run.tried_sign_in == PEOPLE:
        gevent.spawn_later(SETTLE_SECONDS, _start_steady, environment)


def _start_steady(environment) -> None:
    Run.steady_at = time.time()
    if STEADY_FILE:
        Path(STEADY_FILE).write_text(f"{Run.steady_at}\n")
    gevent.spawn_later(STEADY_SECONDS, _end, environment)


def _end(environment) -> None:
    Run.ended_at = time.time()
    if STEADY_FILE:
        Path(STEADY_FILE).write_text(f"{Run.steady_at}\n{Run.ended_at}\n")
    environment.runner.quit()


def _why(response, expected: str) -> str:
    if response.status_code == 0:  # no answer: the connection failed
        return f"no answer ({response.error!r})"
    return f"answered {response.status_code}, {expected}"


class Browser(FastHttpUser):
    """A person of the fixture in a browser: session cookie, CSRF tokens, no silent redirects.

    FastHttpUser (geventhttpclient), not HttpUser (requests): the load generator shares the
    machine with the server it loads, and costs several times less CPU per request this way."""

    abstract = True
    wait_time = between(*THINK)
    approver = False

    def on_start(self):
        self.person = next(_next[self.approver])
        self.prospects = list(self.person["prospects"])
        self.known = random.sample(Run.in_review, k=min(20, len(Run.in_review)))
        self.signed_in = self.sign_in()
        _person_ready(self.environment)

    # Requests ---------------------------------------------------------------------------------

    def get(self, url: str):
        with self.client.get(
            url, name=name_of("GET", url), allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(_why(response, "expected 200"))
        return response

    def post(self, url: str, data: dict, *, conflict_ok: bool = False):
        """POST a form; a 302 is followed by a GET of its page (as a browser does)."""
        with self.client.post(
            url, data=data, name=name_of("POST", url), allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 302 or (conflict_ok and response.status_code == 409):
                response.success()
            else:
                response.failure(_why(response, "expected 302"))
        if response.status_code == 302:
            return self.get(response.headers["Location"].split("#", 1)[0])
        return response

    @staticmethod
    def csrf(page) -> str:
        match = CSRF_INPUT.search(page.text or "")
        return match.group(1) if match else ""

    def sign_in(self) -> bool:
        form = self.get("/login/")
        if form.status_code != 200:
            return False
        with self.client.post(
            "/login/",
            data={
                "username": self.person["username"],
                "password": FIXTURE["password"],
                "csrfmiddlewaretoken": self.csrf(form),
            },
            name=name_of("POST", "/login/"),
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in answered {response.status_code}, expected 302")
        if response.status_code != 302:
            return False
        self.get(response.headers["Location"])  # the queue, where the sign-in lands
        return True

    def tick(self) -> None:
        """Before each action: sign in if the last try failed; now and then sign in again."""
        if not self.signed_in:
            self.signed_in = self.sign_in()
        elif random.random() < 1 / SIGN_IN_AGAIN_EVERY:
            page = self.get("/")
            self.post("/logout/", {"csrfmiddlewaretoken": self.csrf(page)})
            self.client.cookiejar.clear()
            self.signed_in = self.sign_in()

    def learn(self, page) -> list[int]:
        ids = [int(i) for i in NOMINATION_LINK.findall(page.text or "")]
        if ids:
            self.known = (ids + self.known)[:40]
        return ids

    # Actions ----------------------------------------------------------------------------------

    @task(4)
    def queue(self):
        self.tick()
        tab = random.choice(["waiting", "waiting", "waiting", "proposals", "mentions"])
        self.learn(self.get(f"/?tab={tab}"))

    @task(3)
    def cycle_page(self):
        self.tick()
        roll = random.random()
        if roll < 0.5:
            url = f"/cycles/{CYCLE}/?page={random.randint(1, LIST_PAGES)}"
        elif roll < 0.8:
            url = f"/cycles/{CYCLE}/?view=nominations&state=in_review"
        else:
            term, tier = f"company+{random.randint(0, 99):02d}", random.randint(1, 3)
            url = f"/cycles/{CYCLE}/?q={term}&tier={tier}"
        self.learn(self.get(url))

    @task(4)
    def nomination_page(self):
        self.tick()
        pool = self.known if random.random() < 0.7 and self.known else FIXTURE["listed"]
        self.get(f"/nominations/{random.choice(pool)}/")

    @task(1)
    def dashboard(self):
        self.tick()
        self.get(f"/cycles/{CYCLE}/coverage/")

    @task(1)
    def coverage_table(self):
        self.tick()
        sort = random.choice(["", "&sort=-coverage", "&gap=missing_role"])
        self.get(f"/cycles/{CYCLE}/coverage/accounts/?page={random.randint(1, 20)}{sort}")

    @task(1)
    def comment(self):
        self.tick()
        if not self.known:
            return
        pk = random.choice(self.known)
        page = self.get(f"/nominations/{pk}/")
        if page.status_code != 200:
            return
        body = "Spoke to their CFO last week; they are evaluating vendors."
        if random.random() < 0.3:
            body += f" @{random.choice(team)['username']} can you confirm?"
        self.post(
            f"/nominations/{pk}/comments/", {"body": body, "csrfmiddlewaretoken": self.csrf(page)}
        )


class Member(Browser):
    fixed_count = len(_members)

    @task(1)
    def nominate(self):
        self.tick()
        if not self.prospects:
            return
        account_id, name = self.prospects.pop(0)
        url = f"/cycles/{CYCLE}/nominate/"
        self.get(f"{url}?q={name.replace(' ', '+')}")
        form = self.get(f"{url}?account={account_id}")
        if form.status_code != 200:
            self.prospects.insert(0, [account_id, name])
            return
        page = self.post(
            url,
            {
                "step": "submit",
                "account": account_id,
                "kind": "add",
                "tier": random.randint(1, 3),
                "rationale": f"{name} matches our profile and has an open evaluation.",
                "evidence_links": "",
                "csrfmiddlewaretoken": self.csrf(form),
            },
        )
        match = re.search(r"/nominations/(\d+)/", getattr(page, "url", "") or "")
        if match:
            Run.in_review.append(int(match.group(1)))
            self.known.insert(0, int(match.group(1)))


class Approver(Browser):
    fixed_count = len(_approvers)
    approver = True

    @task(4)
    def sign_off(self):
        self.tick()
        ids = self.learn(self.get("/?tab=waiting"))
        if not ids:
            return
        pk = random.choice(ids)
        page = self.get(f"/nominations/{pk}/")
        if page.status_code != 200 or 'value="approve"' not in page.text:
            return  # already decided, or this side has reached its quorum meanwhile
        decision = random.choices(["approve", "request_changes", "reject"], [95, 3, 2])[0]
        note = "" if decision == "approve" else "Not this half-year: no budget until Q3."
        self.post(
            f"/nominations/{pk}/decide/",
            {"decision": decision, "note": note, "csrfmiddlewaretoken": self.csrf(page)},
            conflict_ok=True,
        )


class CrmJob(HttpUser):
    """A CRM-side job with an integration token: reads the list once, then polls for changes."""

    fixed_count = POLLERS
    wait_time = constant_pacing(POLL_SECONDS)

    def on_start(self):
        self.client.headers["Authorization"] = f"Token {FIXTURE['token']}"
        self.url = f"/api/v1/cycles/{CYCLE}/target-accounts/"
        self.etag = ""
        self.cursor = None
        self.read(self.url)

    def read(self, url: str, params: dict | None = None):
        """One answer and its next pages; keeps the first page's ETag and the cursor."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        first = True
        while url:
            with self.client.get(
                url, params=params, headers=headers, catch_response=True, name="GET API agreed list"
            ) as response:
                response.request_meta["name"] = name_of("GET", url, response.status_code)
                if response.status_code not in (200, 304):
                    response.failure(f"answered {response.status_code}")
                    return
            if response.status_code == 304:
                return
            body = response.json()
            if first:
                self.etag = response.headers.get("ETag", "")
                self.cursor = body.get("next_updated_since") or self.cursor
            url, params, headers, first = body.get("next"), None, {}, False

    @task
    def poll(self):
        self.read(self.url, {"updated_since": self.cursor} if self.cursor else None)
