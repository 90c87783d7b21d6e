"""What a read costs: Sanlun's opportunity reads against a FastAPI + asyncpg floor (issue 17).

Makes a fresh database on the server of `SANLUN_DATABASE_URL` (dropped at the
end), migrates it, starts the four services and a gateway as real uvicorn
processes with the command line `sanlun up` gives them (one worker each; its
loop, HTTP parser, log config; `--log-level`, default INFO as under `sanlun
up`, so each request writes its access line), and seeds through the APIs: a
rep owning `--rep-deals` opportunities and other reps owning `--other-deals`
(every 50th with the rep on its team), by `POST
/api/v1/opportunities:bulk-upsert`. The gateway runs its shipped settings
except the per-principal rate (raised so one rep may send 600+ req/s; the
limiter still leases its tokens from Postgres).

The reference is `benchmarks/reference_app.py`, started with the same
command line: one primary-key read with plain asyncpg from
`bench_reference.opportunities`, a copy of the opportunity table (same
columns, same rows), answered as JSON.

Cases, each loaded by wrk (`--threads` 1, `--connections` 32, `--duration`
s, on the same cores as the servers) in `--rounds` rounds, order alternating,
medians printed; every answer must be 200 (counted by a wrk Lua script, which
also cycles over the rep's opportunity ids):

    reference          GET /opportunities/{id}                   FastAPI + asyncpg
    get direct         GET /api/v1/opportunities/{id}            to the service, as the rep
    get via gateway    the same through the gateway
    list direct        GET /api/v1/opportunities?limit=20        to the service, as the rep
    list via gateway   the same through the gateway

Per case: req/s, p50/p99 latency, and CPU ms per request of each process
from /proc/<pid>/stat deltas (user + system): the server under test, the
gateway, the other three services, and Postgres (the backends of this
database); then the service's CPU per request over the reference's, and
issue 17's targets beside them. Two cores shared by wrk, the servers and
Postgres: req/s moves with whatever else runs; CPU per request is the
steadier figure.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/perf_reads.py [--duration 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from gateway_common import (
    Processes,
    _start,
    _wait_ready,
    call,
    cpu_seconds,
    ensure_org_unit,
    free_port,
    new_id,
    process_cpu_seconds,
    system,
    token,
)

HERE = Path(__file__).resolve().parent
GATEWAY_ENV = {
    # One principal sends every request: the shipped 50/s would answer 429.
    "SANLUN_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
    "SANLUN_GATEWAY_RATE_LIMIT_BURST": "1000000",
}
TEAM = "/group/bench-reads/team-a"
OTHER_TEAMS = ["/group/bench-reads/team-a", "/group/bench-reads/team-b", "/group/bench-reads/team-c"]
OTHER_REPS = 6
BATCH = 1000
MEMBER_EVERY = 50

# Issue 17's targets, per case: (figure, bound, text). Figures: "service",
# "gateway" (CPU ms per request), "ratio" (service / reference), "rps".
TARGETS: dict[str, list[tuple[str, float, str]]] = {
    "get direct": [("service", 1.2, "service <= 1.2 ms"), ("ratio", 2.0, "<= 2x reference")],
    "get via gateway": [
        ("rps", 600.0, ">= 600 req/s"),
        ("gateway", 1.0, "gateway < 1 ms"),
        ("service", 1.2, "service <= 1.2 ms"),
    ],
    "list direct": [("service", 2.0, "service <= 2 ms")],
    "list via gateway": [("service", 2.0, "service <= 2 ms"), ("gateway", 1.0, "gateway < 1 ms")],
}

LUA = """
-- written by benchmarks/perf_reads.py: cycle over the paths, count every status
local paths = {%(paths)s}
local i = 0
local threads = {}
wrk.headers["Authorization"] = %(authorization)s

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function request()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %%d %%d\\n", status, n))
    end
  end
end
"""


@dataclass
class Case:
    name: str
    base: str  # scheme://host:port
    paths: list[str]
    authorization: str
    server: str  # the process that answers: "reference" or "opportunity"
    logs: list[Path]  # of the processes on the way, quoted when an answer is not 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case (medians are printed)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load per case first")
    parser.add_argument("--rep-deals", type=int, default=60, help="opportunities the rep owns")
    parser.add_argument("--other-deals", type=int, default=3000, help="opportunities other reps own")
    parser.add_argument("--log-level", default="INFO", help="SANLUN_LOG_LEVEL of the servers (INFO: `sanlun up`)")
    parser.add_argument(
        "--profile", type=Path, help="directory for py-spy's collapsed stacks of the server under test in round 1"
    )
    args = parser.parse_args()
    admin_url = os.environ.get("SANLUN_DATABASE_URL")
    if not admin_url:
        print("Set SANLUN_DATABASE_URL to the PostgreSQL server to use (a scratch database is made on it).")
        return 2
    from tests.support import create_database, drop_database, with_database

    wrk = shutil.which("wrk")
    if not wrk:
        print("wrk is not installed (apt-get install wrk).", file=sys.stderr)
        return 2
    name = f"sanlun_bench_reads_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(admin_url, name))
    url = with_database(admin_url, name)
    try:
        env = {"SANLUN_LOG_LEVEL": args.log_level}
        with system(url, {"gateway": GATEWAY_ENV}, env=env, as_sanlun_up=True) as procs:
            print(f"seeding: 1 rep with {args.rep_deals} opportunities, {args.other_deals} of other reps ...")
            rep_auth, ids = seed(procs.services, args.rep_deals, args.other_deals)
            asyncio.run(copy_reference_table(url))
            assert procs.logs is not None
            with reference(url, procs.logs) as (reference_url, reference_pid):
                pids = {**procs.pids, "reference": reference_pid}
                cases = make_cases(reference_url, procs, rep_auth, ids)
                results = measure(wrk, cases, pids, url, args)
        report(results, args)
        return 0
    finally:
        asyncio.run(drop_database(admin_url, name))


# -- seeding ---------------------------------------------------------------------------------------


def seed(services: dict[str, str], rep_deals: int, other_deals: int) -> tuple[str, list[str]]:
    """The rep's token and the ids of the opportunities they own."""
    admin = token(str(uuid.uuid4()), "/group", ["group_admin"])
    employees = services["employee_lifecycle"]

    def employee(i: int, team: str) -> str:
        ensure_org_unit(employees, admin, team)
        body = {"name": f"Reads rep {i}", "email": f"reads-{new_id()}@example.com", "org_unit_path": team}
        return str(call("POST", employees + "/api/v1/employees", admin, body)["id"])

    rep = employee(0, TEAM)
    rep_auth = token(rep, TEAM, ["rep"])
    owned = upsert(services, rep_auth, [row(f"rep-{n}", n) for n in range(rep_deals)])
    # The other reps' deals, entered by their team's manager (a rep may not
    # name a colleague on a team); every MEMBER_EVERY-th in the rep's team has
    # the rep on it: the visibility filter's other half.
    per_rep = -(-other_deals // OTHER_REPS)
    for i in range(OTHER_REPS):
        team = OTHER_TEAMS[i % len(OTHER_TEAMS)]
        other = employee(i + 1, team)
        rows = []
        for n in range(i * per_rep, min(other_deals, (i + 1) * per_rep)):
            rows.append({**row(f"other-{n}", n), "owner_id": other})
            if n % MEMBER_EVERY == 0 and team == TEAM:
                rows[-1]["team"] = [{"employee_id": rep, "role": "presales"}]
        manager = token(str(uuid.uuid4()), team, ["manager"])
        for start in range(0, len(rows), BATCH):
            upsert(services, manager, rows[start : start + BATCH])
    return rep_auth, owned


def row(external_id: str, n: int) -> dict:
    return {
        "external_id": f"reads-{external_id}",
        "name": f"Reads deal {external_id}",
        "amount": {"amount": f"{1000 + n * 7 % 50000}.00", "currency": "CNY"},
        "expected_close_date": f"2027-{n % 12 + 1:02d}-15",
        "stage": "lead",
        "source": "customer_referral",
        "industry": ("retail", "logistics", "manufacturing")[n % 3],
        "size_band": ("smb", "mid", "large")[n % 3],
        "win_probability": "0.3",
    }


def upsert(services: dict[str, str], authorization: str, rows: list[dict]) -> list[str]:
    out = call("POST", services["opportunity"] + "/api/v1/opportunities:bulk-upsert", authorization, {"items": rows})
    failed = [r for r in out["results"] if r["status"] == "failed"]
    if failed:
        raise SystemExit(f"seeding: {len(failed)} rows failed, the first: {failed[0]}")
    return [str(r["id"]) for r in out["results"]]


async def copy_reference_table(url: str) -> None:
    """`bench_reference.opportunities`: the opportunity table's columns and rows, for the reference."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """CREATE SCHEMA bench_reference;
               CREATE TABLE bench_reference.opportunities (LIKE opportunity.opportunities INCLUDING ALL);
               INSERT INTO bench_reference.opportunities SELECT * FROM opportunity.opportunities;
               ANALYZE bench_reference.opportunities; ANALYZE opportunity.opportunities;"""
        )
    finally:
        await conn.close()


@contextmanager
def reference(url: str, logs: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_REFERENCE_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    child = _start("reference_app:create_app", port, env, logs / "reference.log", sanlun_up_name="reference")
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        yield base, child.pid
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def make_cases(reference_url: str, procs: Processes, rep_auth: str, ids: list[str]) -> list[Case]:
    assert procs.logs is not None
    service, gateway = procs.services["opportunity"], procs.gateways["gateway"]
    direct, via = [procs.logs / "opportunity.log"], [procs.logs / "gateway.log", procs.logs / "opportunity.log"]
    get = [f"/api/v1/opportunities/{i}" for i in ids]
    page = ["/api/v1/opportunities?limit=20"]
    reference = [f"/opportunities/{i}" for i in ids]
    return [
        Case("reference", reference_url, reference, rep_auth, "reference", [procs.logs / "reference.log"]),
        Case("get direct", service, get, rep_auth, "opportunity", direct),
        Case("get via gateway", gateway, get, rep_auth, "opportunity", via),
        Case("list direct", service, page, rep_auth, "opportunity", direct),
        Case("list via gateway", gateway, page, rep_auth, "opportunity", via),
    ]


# -- load and CPU ----------------------------------------------------------------------------------


def measure(wrk: str, cases: list[Case], pids: dict[str, int], database_url: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="sanlun-bench-wrk-") as work, postgres_cpu(database_url) as postgres:
        scripts = {case.name: lua_script(Path(work), case) for case in cases}
        for case in cases:  # warm-up: pools filled, lazy imports and caches done
            check(case)
            run_wrk(wrk, case, scripts[case.name], args, args.warmup)
        results: dict[str, list[dict]] = {case.name: [] for case in cases}
        for i in range(args.rounds):
            for case in cases if i % 2 == 0 else reversed(cases):
                before, pg_before = cpu_seconds(pids), postgres()
                with profiled(args.profile if i == 0 else None, case, pids[case.server], args.duration):
                    result = run_wrk(wrk, case, scripts[case.name], args, args.duration)
                after, pg_after = cpu_seconds(pids), postgres()
                n = result["requests"]
                result["cpu_ms"] = {p: (after[p] - before[p]) / n * 1000 for p in pids}
                # A backend that started during the round: all its CPU is the round's.
                pg = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
                result["cpu_ms"]["postgres"] = pg / n * 1000
                results[case.name].append(result)
                print(
                    f"  round {i + 1} {case.name:17} {result['rps']:8.0f} req/s  "
                    f"{result['cpu_ms'][case.server]:.3f} ms {case.server} CPU/request"
                )
        return results


@contextmanager
def profiled(directory: Path | None, case: Case, pid: int, duration: int) -> Iterator[None]:
    """py-spy's collapsed stacks (`<case>.txt`, one line per stack with its sample count) of
    the server under `case` while the block runs; nothing without `directory`."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{case.name.replace(' ', '-')}.txt"
    spy_exe = str(Path(sys.executable).with_name("py-spy"))
    argv = [spy_exe, "record", "--pid", str(pid), "--rate", "500", "--format", "raw", "--nonblocking"]
    spy = subprocess.Popen([*argv, "--duration", str(duration), "--output", str(out)], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.wait(timeout=duration + 30)


def check(case: Case) -> None:
    """One request by hand: 200 and a body of the expected shape, or stop here."""
    body = call("GET", case.base + case.paths[0], case.authorization)
    if case.name.startswith("list") and len(body.get("items", [])) != 20:
        raise SystemExit(f"{case.name}: expected a page of 20 items, got {len(body.get('items', []))}")
    if not case.name.startswith("list") and "id" not in body:
        raise SystemExit(f"{case.name}: no id in the answer {body!r:.300}")


def lua_script(work: Path, case: Case) -> Path:
    path = work / (case.name.replace(" ", "-") + ".lua")
    quoted = ", ".join(lua_string(p) for p in case.paths)
    path.write_text(LUA % {"paths": quoted, "authorization": lua_string(case.authorization)})
    return path


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(wrk: str, case: Case, script: Path, args: argparse.Namespace, duration: int) -> dict:
    argv = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, duration)}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        case.base + case.paths[0],
    ]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    result = parse_wrk(out)
    statuses = result["statuses"]
    bad = {s: n for s, n in statuses.items() if s != 200}
    errors = result["socket_errors"]
    if bad or any(errors.values()) or sum(statuses.values()) != result["requests"] or not result["requests"]:
        raise SystemExit(
            f"{case.name}: not every answer was 200: statuses {statuses}, socket errors {errors}, "
            f"{result['requests']} requests\n{out}\n{error_lines(case.logs)}"
        )
    return result


def parse_wrk(out: str) -> dict:
    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not requests or not rps:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    names = ("connect", "read", "write", "timeout")
    percentiles = {int(p): ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE)}
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        "p50_ms": percentiles.get(50, float("nan")),
        "p99_ms": percentiles.get(99, float("nan")),
        "statuses": {int(s): int(n) for s, n in re.findall(r"^STATUS (\d+) (\d+)$", out, re.MULTILINE)},
        "socket_errors": dict(zip(names, map(int, errors.groups()), strict=True)) if errors else {},
    }


def error_lines(logs: list[Path], most: int = 5) -> str:
    """The last lines of each log that tell of an error, to explain a non-200."""
    out = []
    for log in logs:
        lines = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if re.search(r"error|exception", line, re.IGNORECASE)
        ]
        out += [f"{log.name}: {line[:500]}" for line in lines[-most:]]
    return "\n".join(out) or "(no error in the servers' logs)"


@contextmanager
def postgres_cpu(database_url: str) -> Iterator[Callable[[], dict[int, float]]]:
    """A function answering the CPU seconds so far of each backend serving the
    database, asked over one kept connection (itself left out); it answers
    nothing when Postgres runs where /proc cannot see its processes."""
    with asyncio.Runner() as runner:
        conn = runner.run(asyncpg.connect(database_url))

        def read() -> dict[int, float]:
            rows = runner.run(
                conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            out = {}
            for r in rows:
                try:
                    out[r["pid"]] = process_cpu_seconds(r["pid"])
                except OSError:
                    continue
            return out

        try:
            yield read
        finally:
            runner.run(conn.close())


# -- report ----------------------------------------------------------------------------------------


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    def med(name: str, pick) -> float:  # type: ignore[no-untyped-def]
        return statistics.median(pick(r) for r in results[name])

    peers = ("employee_lifecycle", "key_account", "resource_share")
    reference_ms = med("reference", lambda r: r["cpu_ms"]["reference"])
    print()
    print(
        f"Reads, wrk {args.threads} thread(s) x {args.connections} connections x {args.duration} s, "
        f"medians of {args.rounds} round(s), {os.cpu_count()} CPUs shared by wrk, servers and Postgres, "
        f"SANLUN_LOG_LEVEL={args.log_level}"
    )
    print("CPU ms per request of each process (user + system, /proc); ratio = server CPU / reference's")
    print(
        f"{'case':18}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'server':>9}{'gateway':>9}{'peers':>8}"
        f"{'postgres':>10}{'ratio':>7}  issue 17 targets"
    )
    figures: dict[str, dict[str, float]] = {}
    for name in results:
        server = "reference" if name == "reference" else "opportunity"
        f = {
            "rps": med(name, lambda r: r["rps"]),
            "service": med(name, lambda r, s=server: r["cpu_ms"][s]),
            "gateway": med(name, lambda r: r["cpu_ms"]["gateway"]),
            "peers": med(name, lambda r: sum(r["cpu_ms"][p] for p in peers)),
            "postgres": med(name, lambda r: r["cpu_ms"]["postgres"]),
        }
        f["ratio"] = f["service"] / reference_ms if reference_ms else float("nan")
        figures[name] = f
        targets = "  ".join(verdict(f, t) for t in TARGETS.get(name, [])) or "(the floor)"
        print(
            f"{name:18}{f['rps']:>8.0f}{med(name, lambda r: r['p50_ms']):>8.2f}{med(name, lambda r: r['p99_ms']):>8.2f}"
            f"{f['service']:>9.3f}{f['gateway']:>9.3f}{f['peers']:>8.3f}{f['postgres']:>10.3f}{f['ratio']:>7.2f}"
            f"  {targets}"
        )
    direct, via = figures["get direct"], figures["get via gateway"]
    print(
        f"get by id through the gateway: {via['rps'] / direct['rps']:.2f} of direct throughput, "
        f"{via['gateway']:.3f} ms gateway CPU per request"
    )
    print("server = the reference app for `reference`, else the opportunity service; peers = the other three services")


def verdict(figures: dict[str, float], target: tuple[str, float, str]) -> str:
    key, bound, text = target
    value = figures[key]
    ok = value >= bound if key == "rps" else (value < bound if key == "gateway" else value <= bound)
    return f"[{'ok' if ok else 'MISS'}: {text}]"


if __name__ == "__main__":
    sys.exit(main())
