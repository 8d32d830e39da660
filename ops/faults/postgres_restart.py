"""PostgreSQL restarted under load: the site and the workers recover on their own.

1. A PostgreSQL cluster of the script's own (initdb, a spare port), Accord migrated into it (or
   copied from --schema-from); a redis-server of its own, the HubSpot sandbox, gunicorn (2
   workers × 4 threads, gthread) and a Celery worker with beat, all with production's
   persistent database connections (CONN_MAX_AGE 60, health checks on). The sweeper runs every
   2 s and a worker's lease is --lease seconds (production: every 60 s, 300 s).
2. --threads clients over HTTP: writers comment on nominations and sign them off for sales
   through the API (a token each side, an Idempotency-Key on every POST), readers read the
   agreed list, a nomination and the queue page (signed in with a session).
3. After --warm-up seconds, `pg_ctl restart -m fast`; --between seconds later,
   `pg_ctl stop -m immediate` (a crash), --outage seconds down, `pg_ctl start`; --between
   seconds more of load.
4. Every write that failed is sent again with its Idempotency-Key; then the outbox must drain
   (a push cut off by the crash leaves its entries in flight until their lease runs out).

PASS when: no answer was a 500 or had a traceback, and none was refused at the socket (gunicorn
kept answering); what failed, failed with a 503 and a plain message, only while PostgreSQL was
down or within --recover-within seconds of its return; the last seconds of load all succeeded;
gunicorn and the worker are the processes started at the beginning (none restarted); every
accepted write is stored exactly once and nothing that failed was stored; the CRM holds every
account agreed, each once with its tier; `check_invariants` passes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from ops.faults import common, data
from ops.faults.rig import KEY_PROPERTY, PrivatePostgres
from ops.processes import ProcessError, WebServer, eventually, wait_for, worker

PLAIN = ("text/plain", "application/json")


def add_arguments(parser) -> None:
    parser.add_argument("--threads", type=int, default=4, help="clients (half write, half read)")
    parser.add_argument("--warm-up", type=float, default=2, help="seconds of load before")
    parser.add_argument("--between", type=float, default=5, help="seconds of load after each")
    parser.add_argument("--outage", type=float, default=3, help="seconds down after the crash")
    parser.add_argument("--nominations", type=int, default=100, help="in review at the start")
    parser.add_argument(
        "--recover-within", type=float, default=10, help="seconds errors may last after return"
    )
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between a client's")
    parser.add_argument(
        "--lease", type=int, default=15, help="CRM_OUTBOX_LEASE_SECONDS (production: 300)"
    )
    parser.add_argument(
        "--schema-from",
        help="copy this migrated Accord database (pg_dump, pg_restore) into the cluster instead "
        "of running the migrations (quicker; the tests pass their own)",
    )


@dataclass
class Answer:
    kind: str  # comment, decision, read-list, read-nomination, read-page
    started: float  # rig seconds
    ended: float
    status: int | None  # None: no HTTP answer at all
    content_type: str = ""
    body: str = ""
    error: str = ""
    request: tuple = ()  # (method, path, json body, Idempotency-Key, token name) of a write
    replayed: bool = False
    retry: bool = False


class Load:
    """The clients, each a thread with its own HTTP connections, until `stop` is set."""

    def __init__(self, *, rig, url, tokens, nominations, seller, cycle_id, pause):
        self.rig, self.url, self.tokens, self.pause = rig, url, tokens, pause
        self.cycle_id, self.seller = cycle_id, seller
        self.to_decide = list(nominations)
        self.all = list(nominations)
        self.lock = threading.Lock()
        self.answers: list[Answer] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, threads: int) -> None:
        """Start the clients; returns once each is ready (the readers signed in)."""
        self.ready = threading.Barrier(threads + 1, timeout=120)
        for n in range(threads):
            target = self.writer if n % 2 == 0 else self.reader
            thread = threading.Thread(target=target, args=(n,), daemon=True)
            self.threads.append(thread)
            thread.start()
        self.ready.wait()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def client(self, token: str | None = None):
        import httpx

        headers = {"Authorization": f"Token {self.tokens[token]}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def send(self, client, kind: str, method: str, path: str, *, write=None, retry=False):
        """One request, its answer recorded. `write` = (json body, key, token name)."""
        import httpx

        body, key, token = write or (None, "", "")
        started = self.rig.at()
        try:
            response = client.request(
                method, path, json=body, headers={"Idempotency-Key": key} if key else {}
            )
        except httpx.HTTPError as error:
            answer = Answer(kind, started, self.rig.at(), None, error=type(error).__name__)
        else:
            answer = Answer(
                kind,
                started,
                self.rig.at(),
                response.status_code,
                response.headers.get("content-type", ""),
                response.text[:500],
                replayed=response.headers.get("Idempotent-Replayed") == "true",
            )
        if write:
            answer.request = (method, path, body, key, token)
        answer.retry = retry
        with self.lock:
            self.answers.append(answer)
        return answer

    def writer(self, n: int) -> None:
        clients = {"marketer": self.client("marketer"), "seller": self.client("seller")}
        self.ready.wait()
        try:
            i = 0
            while not self.stop.is_set():
                with self.lock:
                    decide = self.to_decide.pop() if self.to_decide else None
                on = decide or self.all[i % len(self.all)]
                i += 1
                body = {"body": f"Comment {uuid.uuid4().hex} by writer {n}"}
                self.send(
                    clients["marketer"],
                    "comment",
                    "POST",
                    f"/api/v1/nominations/{on}/comments/",
                    write=(body, uuid.uuid4().hex, "marketer"),
                )
                time.sleep(self.pause)
                if decide is not None:
                    self.send(
                        clients["seller"],
                        "decision",
                        "POST",
                        f"/api/v1/nominations/{decide}/decisions/",
                        write=({"decision": "approve"}, uuid.uuid4().hex, "seller"),
                    )
                    time.sleep(self.pause)
        finally:
            for client in clients.values():
                client.close()

    def reader(self, n: int) -> None:
        with self.client("seller") as api, self.client() as browser:
            try:
                self.sign_in(browser)
            except Exception:
                self.ready.abort()  # the run stops: it cannot read pages
                raise
            self.ready.wait()
            i = 0
            while not self.stop.is_set():
                i += 1
                self.send(
                    api, "read-list", "GET", f"/api/v1/cycles/{self.cycle_id}/target-accounts/"
                )
                time.sleep(self.pause)
                on = self.all[(n + i) % len(self.all)]
                self.send(api, "read-nomination", "GET", f"/api/v1/nominations/{on}/")
                time.sleep(self.pause)
                self.send(browser, "read-page", "GET", "/")
                time.sleep(self.pause)

    def sign_in(self, browser) -> None:
        browser.get("/login/")
        answer = browser.post(
            "/login/",
            data={
                "username": self.seller.username,
                "password": data.PASSWORD,
                "csrfmiddlewaretoken": browser.cookies.get("csrftoken", ""),
            },
        )
        if answer.status_code != 302:
            raise RuntimeError(f"The reader could not sign in ({answer.status_code}).")

    def retry_failed_writes(self) -> list[Answer]:
        """Every write that got no answer or a 5xx, sent again with its Idempotency-Key (what
        a careful client does once the site is back)."""
        from concurrent.futures import ThreadPoolExecutor

        failed = [a for a in list(self.answers) if a.request and (a.status or 500) >= 500]
        clients = {"marketer": self.client("marketer"), "seller": self.client("seller")}

        def again(a: Answer) -> Answer:
            client = clients[a.request[4]]
            return self.send(client, a.kind, *a.request[:2], write=a.request[2:], retry=True)

        try:
            with ThreadPoolExecutor(max_workers=max(1, len(self.threads))) as pool:
                return list(pool.map(again, failed))
        finally:
            for client in clients.values():
                client.close()


def run(args, rig, checks) -> None:
    from django.db import connection

    if args.database_url:
        raise ProcessError("postgres-restart runs a cluster of its own: leave out --database-url.")
    rig.say("Starting a PostgreSQL cluster of this run's own …")
    pg = rig.add(PrivatePostgres(rig.directory / "pg")).init()
    pg.start()
    url = pg.create_database("accord")
    if args.schema_from:
        rig.say(f"PostgreSQL on port {pg.port}; copying Accord's schema into it …")
        pg.copy_from(args.schema_from, url)
    else:
        rig.say(f"PostgreSQL on port {pg.port}; migrating Accord into it …")
        common.migrate(url)
    args.database_url = url
    # The sweeper takes over a change whose own push failed 5 s after it (production: 60 s).
    s = common.stack(
        args,
        rig,
        label="postgres",
        CRM_OUTBOX_SWEEP_AFTER_SECONDS="5",
        CRM_OUTBOX_LEASE_SECONDS=str(args.lease),
    )
    env, sandbox = s.env, s.sandbox

    from api.services import api_token_issue

    people = data.cast()
    accounts = data.prospects(args.nominations, prefix="prospect")
    nominations = [data.propose(people, a).pk for a in accounts]
    tokens = {
        "marketer": api_token_issue(user=people.marketer),
        "seller": api_token_issue(user=people.seller),
    }
    common.sweeper_every(2)
    connection.close()
    rig.say(
        f"{len(nominations)} nominations in review; starting the worker (with beat) and gunicorn"
    )
    celery = rig.add(worker(env, rig.directory, beat=True)).start()
    web = rig.add(WebServer(env, rig.directory)).start()
    wait_for(lambda: len(web.workers()) == web.count, timeout=30, what="gunicorn's workers")
    celery_pids = (celery.pid, sorted(_children(celery.pid)))
    web_pids = (web.pid, sorted(web.workers()))

    load = Load(
        rig=rig,
        url=web.url,
        tokens=tokens,
        nominations=nominations,
        seller=people.seller,
        cycle_id=people.cycle.pk,
        pause=args.pause,
    )
    load.start(args.threads)
    rig.say(f"{args.threads} clients started")
    time.sleep(args.warm_up)

    outages = []  # (what, down at, back at): rig seconds
    rig.say("pg_ctl restart -m fast …")
    down = rig.at()
    took = pg.restart("fast")
    outages.append(("restart -m fast", down, rig.at()))
    rig.say(f"… PostgreSQL accepts connections again ({took:.1f} s)")
    time.sleep(args.between)

    rig.say("pg_ctl stop -m immediate (a crash) …")
    down = rig.at()
    pg.stop("immediate")
    time.sleep(args.outage)
    rig.say(f"… down for {args.outage:.0f} s; pg_ctl start …")
    took = pg.start()
    outages.append(("stop -m immediate, start", down, rig.at()))
    rig.say(
        f"… PostgreSQL accepts connections again (its start, crash recovery included, took "
        f"{took:.1f} s)"
    )
    log_at_return = len(celery.output())
    time.sleep(args.between)
    load.join()
    ended = rig.at()
    rig.say(f"Load stopped: {len(load.answers)} requests")

    retried = load.retry_failed_writes()
    rig.say(f"{len(retried)} failed writes sent again with their Idempotency-Key")

    # A push cut off by the crash leaves its entries in flight until their lease runs out;
    # the sweeper takes them over then.
    waited = time.monotonic()
    drained = eventually(_all_delivered, timeout=args.lease + 120)
    waited = time.monotonic() - waited
    checks.figure("outbox_drained_s_after_the_retries", round(waited, 1))
    rig.say(f"The outbox drained in {waited:.0f} s" if drained else "The outbox did not drain")
    (rig.directory / "answers.jsonl").write_text(
        "".join(json.dumps(a.__dict__, default=str) + "\n" for a in load.answers)
    )
    _verdict(
        checks,
        args=args,
        load=load,
        outages=outages,
        ended=ended,
        retried=retried,
        people=people,
        sandbox=sandbox,
        celery=celery,
        web=web,
        celery_pids=celery_pids,
        web_pids=web_pids,
        log_at_return=log_at_return,
    )


def _children(pid):
    from ops.processes import children

    return children(pid)


def _all_delivered() -> bool:
    from django.db import connection

    from crm.models import OutboxEntry, OutboxState

    try:
        return not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()
    finally:
        connection.close()


def _verdict(
    checks,
    *,
    args,
    load,
    outages,
    ended,
    retried,
    people,
    sandbox,
    celery,
    web,
    celery_pids,
    web_pids,
    log_at_return,
) -> None:
    from workflow.models import Comment, SignOff

    answers = [a for a in load.answers if not a.retry]
    statuses = Counter(a.status for a in answers)
    checks.figure("requests", len(answers))
    checks.figure("statuses", {str(k): v for k, v in sorted(statuses.items(), key=str)})
    failed = [a for a in answers if a.status is None or a.status >= 500]
    checks.check(
        "no answer is a 500",
        not [a for a in answers if a.status == 500],
        f"{statuses.get(500, 0)} answered 500"
        + (f", e.g. {_first(answers, 500)}" if statuses.get(500) else ""),
    )
    checks.check(
        "gunicorn answered every request (none refused or dropped)",
        not [a for a in answers if a.status is None],
        ", ".join(
            f"{n} × {e}" for e, n in Counter(a.error for a in answers if a.status is None).items()
        )
        or "all answered",
    )
    unclean = [
        a
        for a in failed
        if a.status is not None
        and (a.status != 503 or "Traceback" in a.body or not a.content_type.startswith(PLAIN))
    ]
    checks.check(
        "what failed, failed with a 503 and a plain message",
        not unclean and all(a.status == 503 for a in failed if a.status),
        f"{len(failed)} failed: "
        + ", ".join(f"{n} × {s}" for s, n in Counter(a.status for a in failed).items())
        + (f"; e.g. {failed[0].content_type} {failed[0].body[:160]!r}" if failed else ""),
    )
    # Each failure belongs to an outage: from PostgreSQL going down to --recover-within after
    # it accepted connections again.
    windows = []
    stray = [a for a in failed if _outage_of(a, outages, args.recover_within) is None]
    for n, (what, down, back) in enumerate(outages):
        mine = [a for a in failed if _outage_of(a, outages, args.recover_within) == n]
        first_ok_after = min(
            (
                a.ended
                for a in answers
                if a.started >= back and a.status is not None and a.status < 500
            ),
            default=None,
        )
        window = {
            "outage": what,
            "down_s": round(back - down, 2),
            "failed_requests": len(mine),
            "errors_from_s": round(min((a.started for a in mine), default=down) - down, 2),
            "errors_until_s": round(max((a.ended for a in mine), default=down) - down, 2),
            "errors_after_return_s": round(max((a.ended for a in mine), default=back) - back, 2),
            "first_success_after_return_s": None
            if first_ok_after is None
            else round(first_ok_after - back, 2),
        }
        windows.append(window)
    checks.figure("outages", windows)
    checks.check(
        "failures only while PostgreSQL was down or within "
        f"{args.recover_within:.0f} s of its return",
        not stray,
        f"{len(stray)} outside"
        + (
            f", e.g. {stray[0].kind} at {stray[0].started:.1f} s: {stray[0].status}"
            if stray
            else ""
        )
        + "; "
        + "; ".join(
            f"{w['outage']}: {w['failed_requests']} failed, down {w['down_s']} s, "
            f"errors until {w['errors_after_return_s']} s after its return"
            for w in windows
        ),
    )
    tail = [a for a in answers if a.started >= ended - min(3.0, args.between / 2)]
    checks.check(
        "the last seconds of load all succeeded",
        tail and all(a.status is not None and a.status < 500 for a in tail),
        f"{len(tail)} requests, statuses {dict(Counter(a.status for a in tail))}",
    )
    checks.check(
        "gunicorn was not restarted (same master, same workers)",
        (web.pid, sorted(web.workers())) == web_pids and web.alive(),
        f"before {web_pids}, after {(web.pid, sorted(web.workers()))}",
    )
    checks.check(
        "the worker was not restarted and kept working",
        celery.alive()
        and celery.starts == 1
        and (celery.pid, sorted(_children(celery.pid))) == celery_pids
        and not celery.saw("Unrecoverable error"),
        f"before {celery_pids}, after {(celery.pid, sorted(_children(celery.pid)))}",
    )
    after = celery.output()[log_at_return:]
    resumed = after.count("succeeded in")
    checks.check(
        "the worker's tasks ran after PostgreSQL's return",
        resumed > 0 and "crm.tasks.sweep_outbox" in after,
        f"{resumed} tasks succeeded since; the sweeper was sent "
        f"{after.count('crm: sweep the outbox')} times",
    )

    # Writes: what was accepted is stored once, what failed is not stored.
    retried_ok = [a for a in retried if a.status in (200, 201)]
    accepted = [a for a in answers if a.request and a.status in (200, 201)]
    comments_sent = {a.request[2]["body"] for a in accepted + retried_ok if a.kind == "comment"}
    stored = Counter(
        Comment.objects.filter(nomination__cycle=people.cycle).values_list("body", flat=True)
    )
    doubled = [b for b, n in stored.items() if n > 1]
    checks.check(
        "every accepted comment is stored once, and no other",
        set(stored) == comments_sent and not doubled,
        f"{len(comments_sent)} accepted "
        f"(incl. {sum(1 for a in retried_ok if a.kind == 'comment')} on retry), "
        f"{sum(stored.values())} stored, {len(doubled)} doubled",
    )
    decided = {a.request[1] for a in accepted + retried_ok if a.kind == "decision"}
    sign_offs = SignOff.objects.filter(nomination__cycle=people.cycle, by_submission=False)
    stored_decisions = Counter(sign_offs.values_list("nomination_id", flat=True))
    checks.check(
        "every accepted sign-off is stored once, and no other",
        {f"/api/v1/nominations/{n}/decisions/" for n in stored_decisions} == decided
        and set(stored_decisions.values()) <= {1},
        f"{len(decided)} accepted, {sum(stored_decisions.values())} stored",
    )
    checks.check(
        "every write sent again after the outage was accepted",
        all(a.status in (200, 201) for a in retried),
        f"{len(retried)} sent again: {dict(Counter(a.status for a in retried))}"
        + f", {sum(a.replayed for a in retried)} replayed",
    )
    checks.figure("retried_writes", len(retried))
    expected = data.expected_tiers(people.cycle)
    problems = common.crm_problems(expected, sandbox.companies(), key=KEY_PROPERTY)
    checks.check(
        "the CRM holds every agreed account once, with its tier",
        expected and not problems,
        "; ".join(problems) or f"{len(expected)} accounts",
    )
    passed, said = common.invariants(people.cycle.pk)
    checks.check("check_invariants passes (nothing half-written)", passed, said)


def _outage_of(answer, outages, grace: float) -> int | None:
    """The outage a failed request belongs to: the last one that had begun when it ended, if
    the request started before that one's return + `grace` seconds."""
    for n in range(len(outages) - 1, -1, -1):
        _, down, back = outages[n]
        if answer.ended >= down:
            return n if answer.started <= back + grace else None
    return None


def _first(answers, status) -> str:
    a = next(a for a in answers if a.status == status)
    return f"{a.kind}: {a.content_type} {a.body[:200]!r}"
