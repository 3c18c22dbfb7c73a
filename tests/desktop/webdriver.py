"""A small W3C WebDriver client (Python standard library only) for tauri-driver.

tauri-driver (crates.io, 2.x) sits in front of WebKitWebDriver and starts the app binary named
in the `tauri:options` capability. This module speaks the plain W3C protocol over HTTP: new
session, find elements, click, type, read text and attributes, run scripts, take screenshots.

Every wait here has a timeout, and every HTTP request has one too: a hung app (for example one
started without a display) must fail the run, never stall it.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Optional, TypeVar

# The W3C key of an element reference in responses.
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
# WebDriver "special keys" (W3C section 17.4.2).
KEY_ENTER = "\ue007"
KEY_ESCAPE = "\ue00c"
KEY_CONTROL = "\ue009"
KEY_BACKSPACE = "\ue003"

T = TypeVar("T")


class WebDriverError(Exception):
    """A WebDriver command failed: `error` is the W3C error code (e.g. "no such element")."""

    def __init__(self, error: str, message: str, command: str):
        super().__init__(f"{command}: {error}: {message}")
        self.error = error
        self.message = message


class Timeout(AssertionError):
    """A wait ran out of time. An AssertionError, so a scenario counts it as a failure."""


def tid(name: str, extra: str = "") -> str:
    """The CSS selector of a `data-testid`, optionally with more selector text appended."""
    return f'[data-testid="{name}"]{extra}'


def wait_until(fn: Callable[[], Optional[T]], timeout: float, what: str, interval: float = 0.15) -> T:
    """Calls `fn` until it returns something truthy and returns that, or raises Timeout naming
    `what`. WebDriver errors inside `fn` (an element not there yet, or replaced by a re-render)
    count as "not yet"; the last one is shown in the timeout message."""
    deadline = time.monotonic() + timeout
    last: Optional[BaseException] = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except (WebDriverError, AssertionError) as e:
            last = e
        if time.monotonic() >= deadline:
            hint = f" (last error: {last})" if last else ""
            raise Timeout(f"timed out after {timeout:.0f} s waiting for {what}{hint}")
        time.sleep(interval)


class Element:
    """A reference to one element in the page."""

    def __init__(self, session: "Session", element_id: str, selector: str):
        self.session = session
        self.id = element_id
        self.selector = selector

    def _path(self, tail: str) -> str:
        return f"/element/{self.id}{tail}"

    def click(self) -> None:
        """A real pointer click; falls back to a DOM click when something (a toast) covers it."""
        try:
            self.session.cmd("POST", self._path("/click"), {})
        except WebDriverError as e:
            if e.error not in ("element click intercepted", "element not interactable"):
                raise
            self.session.execute("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", [self.ref()])

    def clear(self) -> None:
        self.session.cmd("POST", self._path("/clear"), {})

    def send_keys(self, text: str) -> None:
        self.session.cmd("POST", self._path("/value"), {"text": text})

    def type(self, text: str) -> None:
        """Replaces the field's value by typing `text` (key events, so the UI's bindings see it)."""
        self.clear()
        if text:
            self.send_keys(text)

    @property
    def text(self) -> str:
        return self.session.cmd("GET", self._path("/text"))

    def attr(self, name: str) -> Optional[str]:
        return self.session.cmd("GET", self._path(f"/attribute/{name}"))

    def prop(self, name: str) -> Any:
        return self.session.cmd("GET", self._path(f"/property/{name}"))

    def displayed(self) -> bool:
        return bool(self.session.cmd("GET", self._path("/displayed")))

    def enabled(self) -> bool:
        return bool(self.session.cmd("GET", self._path("/enabled")))

    def find_all(self, css: str) -> list["Element"]:
        found = self.session.cmd("POST", self._path("/elements"), {"using": "css selector", "value": css})
        return [Element(self.session, f[ELEMENT_KEY], css) for f in found]

    def ref(self) -> dict:
        """The element as a script argument."""
        return {ELEMENT_KEY: self.id}


class Session:
    """One WebDriver session, i.e. one running app window."""

    def __init__(self, driver_url: str, application: str, args: Optional[list[str]] = None, start_timeout: float = 90):
        self.base = driver_url.rstrip("/")
        self.id: Optional[str] = None
        self.retried: list[str] = []  # commands retried after a transport failure (see cmd)
        caps = {"tauri:options": {"application": application, "args": args or []}}
        value = self._http("POST", "/session", {"capabilities": {"alwaysMatch": caps}}, start_timeout, "new session")
        self.id = value["sessionId"]

    # ----- transport ---------------------------------------------------------------------------

    def _http(self, method: str, path: str, body: Any, timeout: float, command: str) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json; charset=utf-8")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                value = json.loads(raw).get("value", {})
            except ValueError:
                value = {"error": f"http {e.code}", "message": raw[:300].decode("utf-8", "replace")}
            raise WebDriverError(value.get("error", f"http {e.code}"), value.get("message", ""), command) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise WebDriverError("transport", str(e), command) from None
        return payload.get("value")

    def cmd(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        """Runs one session command (`path` relative to /session/{id}).

        A transport failure is retried twice: tauri-driver forwards each request to
        WebKitWebDriver over a pooled keep-alive connection, and now and then that connection
        has just been closed by WebKitWebDriver, so the forward fails before the request is
        sent ("connection reset" in tauri-driver's log, "remote end closed connection" here).
        """
        if self.id is None:
            raise WebDriverError("invalid session id", "the session is closed", path)
        for attempt in range(3):
            try:
                return self._http(method, f"/session/{self.id}{path}", body, timeout, f"{method} {path}")
            except WebDriverError as e:
                if e.error != "transport" or attempt == 2:
                    raise
                self.retried.append(f"{method} {path.split('/')[-1] or path}")
                time.sleep(0.3)
        raise AssertionError("unreachable")

    def quit(self) -> None:
        """Ends the session, which closes the app window. Never raises."""
        if self.id is None:
            return
        try:
            self._http("DELETE", f"/session/{self.id}", None, 30, "delete session")
        except WebDriverError:
            pass
        self.id = None

    # ----- finding ----------------------------------------------------------------------------

    def find_all(self, css: str) -> list[Element]:
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, f[ELEMENT_KEY], css) for f in found]

    def find(self, css: str) -> Element:
        """The first element matching `css`; raises WebDriverError("no such element") if none."""
        f = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, f[ELEMENT_KEY], css)

    def exists(self, css: str) -> bool:
        return len(self.find_all(css)) > 0

    def wait(self, css: str, timeout: float = 30) -> Element:
        """Waits until an element matching `css` is displayed and returns it."""

        def visible() -> Optional[Element]:
            for el in self.find_all(css):
                if el.displayed():
                    return el
            return None

        return wait_until(visible, timeout, f"{css} to be displayed")

    def wait_gone(self, css: str, timeout: float = 30) -> None:
        wait_until(lambda: not self.exists(css), timeout, f"{css} to disappear")

    def wait_text(self, css: str, want: str, timeout: float = 30) -> Element:
        """Waits until an element matching `css` shows text containing `want`."""

        def has() -> Optional[Element]:
            for el in self.find_all(css):
                if want in el.text:
                    return el
            return None

        return wait_until(has, timeout, f"{css} to show {want!r}")

    def wait_attr(self, css: str, name: str, want: str, timeout: float = 30) -> Element:
        """Waits until an element matching `css` has attribute `name` equal to `want`."""

        def has() -> Optional[Element]:
            for el in self.find_all(css):
                if el.attr(name) == want:
                    return el
            return None

        return wait_until(has, timeout, f"{css} with {name}={want!r}")

    # ----- acting -----------------------------------------------------------------------------

    def click(self, css: str, timeout: float = 30) -> Element:
        """Waits for `css` to be displayed and enabled, then clicks it."""
        el = wait_until(lambda: next((e for e in self.find_all(css) if e.displayed() and e.enabled()), None), timeout, f"{css} to be clickable")
        el.click()
        return el

    def type(self, css: str, text: str, timeout: float = 30) -> Element:
        el = self.wait(css, timeout)
        el.type(text)
        return el

    def text(self, css: str) -> str:
        return self.find(css).text

    def source(self) -> str:
        return self.cmd("GET", "/source")

    def execute(self, script: str, args: Optional[list] = None) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": script, "args": args or []})

    def execute_async(self, script: str, args: Optional[list] = None, timeout: float = 30) -> Any:
        return self.cmd("POST", "/execute/async", {"script": script, "args": args or []}, timeout=timeout)

    def settle(self) -> None:
        """Waits two animation frames, so what the DOM says has been painted. Without it a
        screenshot taken right after a change can show the previous frame (TAURI.md)."""
        self.execute_async("const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(1)));")

    def screenshot_png(self) -> bytes:
        self.settle()
        return base64.b64decode(self.cmd("GET", "/screenshot"))

    def screenshot(self, path: str) -> None:
        png = self.screenshot_png()
        with open(path, "wb") as f:
            f.write(png)
