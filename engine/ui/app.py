"""The viewer's web app: FastAPI routes rendering Jinja2 templates (server side, no JS build).

Every page is a GET over read-only data, so links and the browser's back button just work. Model
text is untrusted: the templates' environment autoescapes everything (a completion holding
``<script>`` or ``</textarea>`` renders as text), and the only markup built in Python is the SVG
of :mod:`engine.ui.plots`, which escapes its labels.

Access: bound to loopback, requests must name a loopback ``Host`` (a DNS-rebinding page cannot
read the lake); with a token (``--allow-remote --token T``), every request must carry it, as
``?token=T`` once (it is then kept in a cookie) or ``Authorization: Bearer T``.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.errors import UserError
from engine.lake import Lake
from engine.ui.plots import line_svg
from engine.ui.readonly import ReadOnlySQL
from engine.ui.store import PROMPT_SORTS, Filters, Store

__all__ = ["COOKIE", "LOOPBACK_HOSTS", "TEMPLATES", "create_app"]

TEMPLATES = Path(__file__).parent / "templates"
COOKIE = "rlvr_ui_token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}


def create_app(
    lake: Lake, *, token: str | None = None, sql_timeout_s: float = 10.0, loopback: bool = True
) -> FastAPI:
    """The app over ``lake``. ``token``: required on every request when given. ``loopback``:
    refuse requests whose Host header is not a loopback name."""
    store = Store(lake)
    box = _SQLBox(store, sql_timeout_s)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    env.filters["pretty_json"] = _pretty_json
    env.filters["fromjson"] = _from_json
    env.filters["show"] = _show
    env.globals["qs"] = lambda **kw: urlencode(
        {k: v for k, v in kw.items() if v not in (None, "", False)}
    )
    app = FastAPI(title="rlvr ui", docs_url=None, redoc_url=None, openapi_url=None)

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        started = context.pop("_started", None)
        page = env.get_template(name).render(lake=str(lake.root), **context)
        if started is not None:
            page = page.replace("%RENDER_MS%", f"{(time.perf_counter() - started) * 1000:.0f}")
        return HTMLResponse(page, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if loopback and host not in LOOPBACK_HOSTS:
            return Response("forbidden host — open the viewer as http://127.0.0.1:PORT/", 403)
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given, token):
            url = request.url.remove_query_params("token")
            response = RedirectResponse(str(url), status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        cookie = request.cookies.get(COOKIE, "")
        if any(hmac.compare_digest(x, token) for x in (bearer, cookie) if x):
            return await call_next(request)
        return Response("unauthorized — open the URL with ?token=… that `rlvr ui` printed", 401)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return render("error.html", 400, message=str(exc))

    @app.get("/", response_class=HTMLResponse)
    def runs_page():
        started = time.perf_counter()
        return render("runs.html", runs=store.runs(), _started=started)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(
        run_id: str, sort: str = "pass_rate", desc: bool = False, page: int = 1, dataset: str = ""
    ):
        started = time.perf_counter()
        run = _need(store.run(run_id), f"no run {run_id!r}")
        prompts = store.prompts(run_id, sort=sort, desc=desc, page=page, dataset=dataset)
        plots = _step_plots(store.steps(run_id)) if run["steps"] else []
        return render(
            "run.html",
            run=run,
            prompts=prompts,
            sort=sort,
            desc=desc,
            dataset=dataset,
            datasets=store.datasets(run_id),
            sorts=list(PROMPT_SORTS),
            plots=plots,
            _started=started,
        )

    @app.get("/runs/{run_id}/prompts/{prompt_id}", response_class=HTMLResponse)
    def prompt_page(run_id: str, prompt_id: str):
        started = time.perf_counter()
        found = _need(store.prompt(run_id, prompt_id), f"no prompt {prompt_id!r}")
        found["tests"] = _tests(found["prompt"].get("tests"))
        return render("prompt.html", run_id=run_id, **found, _started=started)

    @app.get("/rollouts/{rollout_id}", response_class=HTMLResponse)
    def rollout_page(rollout_id: str):
        started = time.perf_counter()
        found = _need(store.rollout(rollout_id), f"no rollout {rollout_id!r}")
        tests = _tests((found["prompt"] or {}).get("tests"))
        return render("rollout.html", **found, tests=tests, _started=started)

    @app.get("/runs/{run_id}/rollouts", response_class=HTMLResponse)
    def rollouts_page(run_id: str, request: Request, page: int = 1):
        started = time.perf_counter()
        _need(store.run(run_id), f"no run {run_id!r}")
        filters = _filters(dict(request.query_params))
        found = store.search(run_id, filters, page)
        return render(
            "rollouts.html",
            run_id=run_id,
            filters=filters,
            found=found,
            datasets=store.datasets(run_id),
            _started=started,
        )

    @app.get("/sql", response_class=HTMLResponse)
    def sql_page(q: str = "", page: int = 1):
        started = time.perf_counter()
        result, error = None, None
        if q.strip():
            try:
                result = box.get().query(q, page=page)
            except UserError as exc:
                error = str(exc)
        return render(
            "sql.html",
            q=q,
            result=result,
            error=error,
            status=400 if error else 200,
            _started=started,
        )

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(a: str = "", b: str = "", flipped: bool = False, page: int = 1):
        started = time.perf_counter()
        runs = [r for r in store.runs() if r.get("rollouts")]
        rows = summary = None
        if a and b:
            summary = store.compare_summary(a, b)
            rows = store.compare(a, b, flipped=flipped, page=page)
        return render(
            "compare.html",
            runs=runs,
            a=a,
            b=b,
            flipped=flipped,
            rows=rows,
            summary=summary,
            _started=started,
        )

    def warm_up() -> dict[str, float]:
        """Make the first pages as fast as the next ones: build the cache, read every data
        file's footer, open the SQL box and compile the templates. Seconds taken, by part."""
        started = time.perf_counter()
        store.warm_up()
        box.get()
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)
        return {"cache_build_s": store.build_s, "warm_up_s": time.perf_counter() - started}

    app.state.store = store
    app.state.warm_up = warm_up
    return app


class _SQLBox:
    """The SQL box's read-only database, rebuilt when the store sees a new state of the lake."""

    def __init__(self, store: Store, timeout_s: float) -> None:
        self._store, self._timeout_s = store, timeout_s
        self._lock = threading.Lock()
        self._box: ReadOnlySQL | None = None
        self._signature: tuple | None = None

    def get(self) -> ReadOnlySQL:
        self._store.cursor().close()  # refreshes the store's view of the lake
        with self._lock:
            if self._box is None or self._signature != self._store.signature:
                self._box = ReadOnlySQL(self._store.lake, timeout_s=self._timeout_s)
                self._signature = self._store.signature
            return self._box


def _need(value: Any, message: str) -> Any:
    if value is None:
        raise UserError(f"{message} — go back to the list of runs")
    return value


def _filters(params: dict[str, str]) -> Filters:
    status = params.get("status", "")
    if status not in ("", "correct", "incorrect", "unverifiable"):
        raise UserError(f"status {status!r} — use correct, incorrect or unverifiable")
    return Filters(
        status=status,
        truncated=params.get("truncated") in ("1", "on", "true"),
        mixed=params.get("mixed") in ("1", "on", "true"),
        min_tokens=_int(params, "min_tokens"),
        max_tokens=_int(params, "max_tokens"),
        dataset=params.get("dataset", ""),
        text=params.get("q", "").strip(),
    )


def _int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name}={value!r} is not a whole number — give a token count") from None


def _tests(text: str | None) -> list[dict[str, Any]]:
    """The prompt's test cases in judge order (cases, then asserts), for the failing test."""
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    tests = []
    for case in doc.get("cases") or []:
        if isinstance(case, dict):
            tests.append(
                {"input": case.get("stdin", case.get("call")), "expected": case.get("expected")}
            )
    for line in doc.get("asserts") or []:
        tests.append({"input": line, "expected": None})
    return tests


def _step_plots(steps: list[dict[str, Any]]) -> list[str]:
    xs = [row["step"] for row in steps]
    return [
        line_svg(xs, [row["reward"] for row in steps], title="mean reward by step"),
        line_svg(xs, [row["accuracy"] for row in steps], title="accuracy by step", color="#16a34a"),
        line_svg(
            xs,
            [row["mean_tokens"] for row in steps],
            title="completion length (tokens)",
            color="#d97706",
        ),
    ]


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pretty_json(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _from_json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _show(value: Any) -> str:
    """A test's expected or actual value as text: lists one per line, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    return str(value)
