#!/usr/bin/env python3
"""Casebridge desktop end-to-end: the whole story through two real app windows.

A real agency endpoint (`casebridge agency serve`) runs on 127.0.0.1; two profiles are
prepared and enrolled with the CLI; then two app windows, each driven by its own tauri-driver
(+ WebKitWebDriver) with its own CASEBRIDGE_STORE, play the story through the UI:

  investigator: a wrong passphrase is refused and shows no data; unlock; create a case;
                publish a brief; sync
  volunteer:    sync; see the brief; accept the code of conduct; submit a photo (a real
                JPEG); sync
  investigator: sync; review and accept the submission; sync; the photo is evidence in the
                case; set the idle lock to 1 minute
  volunteer:    sync; sees "Accepted" and a verified receipt
  investigator: the window locks itself after a minute idle, showing no case data; a wrong
                passphrase is refused; the right one reopens the case list
  investigator: locks; a real H.264 MP4, a WAV, a court report PDF and a damaged MP4 are
                imported with the CLI; unlocked again, the viewer plays the video and seeks
                (its current time moves after play and after setting it), plays the audio,
                renders the PDF's first page to a non-blank canvas and turns the page, and shows
                a clear message for the damaged video
  investigator: opens, on the Files screen, a bundle file a field officer exported with the CLI
                to a second (offline) agency: VERIFIED, accepted, the signed receipt written
                next to it, which the officer's profile keeps (`casebridge receipt import`)
  investigator: in Settings a file that is not PMTiles is refused with its message, the test
                PMTiles file (tests/fixtures/make_test_pmtiles.py) is set; the case map, with a
                geotagged photo and the brief's area, fits at street zoom and MapLibre draws the
                file's test road (target/desktop-e2e/screenshots/map-street.png)
  issue 16:     the volunteer withdraws a second, pending submission from My submissions; the
                investigator's queue no longer waits on it; `casebridge retention run` at the
                agency deletes it and the investigator's case shows it deleted (rule, date);
                a supervisor (CLI) takes the investigator off a case's team and her next sync
                says so; the supervisor's own window (a third one, opened only then) shows her
                accesses on the Access log screen, filtered by case, member and time, and its
                export passes `casebridge-verify --access-log`

Run it under a display, always with a timeout (without a display the app cannot start, and
tauri-driver's new-session request would hang):

  timeout 600 xvfb-run -a -s "-screen 0 1280x800x24" python3 tests/desktop/e2e.py

Environment (all optional):
  CASEBRIDGE_DESKTOP_BIN  the app binary        (default target/release/casebridge-desktop)
  CASEBRIDGE_CLI_BIN      the casebridge CLI    (default target/debug/casebridge, else release)
  TAURI_DRIVER            tauri-driver          (default: on PATH, else ~/.cargo/bin)
  SCREENSHOTS_DIR         where the screen PNGs go (default target/desktop-e2e/screenshots);
                          scripts/screenshots points it at docs/screenshots
  E2E_ARTIFACTS           failure screenshots, page sources and logs (default target/desktop-e2e)
  E2E_KEEP=1              keep the temporary stores and agency directory

The last line is `desktop e2e: N passed, M failed`; the exit code is non-zero on any failure.
Every process started here (endpoint, drivers, apps) is stopped on exit, also on Ctrl-C or
SIGTERM (e.g. from `timeout`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webdriver import Session, Timeout, WebDriverError, tid, wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PHOTO = Path(__file__).resolve().parent / "fixtures" / "street.jpg"

INV_PASS = "correct horse battery staple"
VOL_PASS = "volunteer passphrase, long enough"
SUP_PASS = "supervisor passphrase, long enough"
WRONG_PASS = "incorrect donkey battery staple"
AGENCY_PASS = "agency passphrase for the desktop e2e"

OFFICER_PASS = "field officer passphrase, long"
FIELD_CASE = "Hit and run, Alexanderplatz"
CASE_TITLE = "Bike thefts, Mitte"
CASE_REF = "BER-2026-004711"
BRIEF_TITLE = "Dashcam or phone footage wanted"
BRIEF_BODY = "Main St between the bakery and the station, Friday 20 Nov, 22:00-23:00. Photos of people near the bike racks help."
# Issue 16: a supervisor's case the investigator is put on, then taken off.
TEAM_CASE = "Stolen cargo bikes, Wedding"
TEAM_NOTE = "Written after Vera left the team"

# A word only present in one note (issue 17's search check).
NOTE_WORD = "kestrelwing"
# Names only tantivy gives its files (meta.json, .managed.json, segment files): none may appear
# (its `.store` segment files are not listed: the store itself is `casebridge.store`).
INDEX_FILE_ENDINGS = ("meta.json", ".managed.json", ".idx", ".term", ".pos", ".fieldnorm")

# How long one UI step may take (an unlock's key derivation, a sync round) on a slow 2-core CI box.
STEP = 60


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----- processes --------------------------------------------------------------------------------


class Procs:
    """Every process this run starts, each in its own process group, stopped on exit."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen]] = []
        self.logs: list = []

    def start(self, name: str, argv: list[str], env: dict, log_path: Path) -> subprocess.Popen:
        """Starts `argv` with stdout and stderr going to `log_path`."""
        out = open(log_path, "w")
        self.logs.append(out)
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((name, p))
        return p

    def stop_all(self) -> None:
        for name, p in reversed(self.running):
            if p.poll() is not None:
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log(f"{name} ignored SIGTERM; killing it")
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        self.running.clear()
        for f in self.logs:
            f.close()
        self.logs.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def find_bin(env_name: str, candidates: list[Path]) -> Path:
    given = os.environ.get(env_name)
    if given:
        p = Path(given)
        if not p.is_file():
            raise SystemExit(f"desktop e2e: {env_name}={given} is not a file")
        return p.resolve()
    for c in candidates:
        if c.is_file():
            return c
    raise SystemExit(f"desktop e2e: none of {', '.join(map(str, candidates))} exists; build it first or set {env_name}")


def find_driver() -> str:
    given = os.environ.get("TAURI_DRIVER")
    if given:
        return given
    found = shutil.which("tauri-driver") or str(Path.home() / ".cargo" / "bin" / "tauri-driver")
    if not Path(found).is_file():
        raise SystemExit("desktop e2e: tauri-driver not found (cargo install tauri-driver --locked --version 2.1.0)")
    return found


# ----- the world: endpoint and profiles, prepared with the CLI ------------------------------------


class World:
    def __init__(self, procs: Procs, cli: Path, tmp: Path, artifacts: Path):
        self.procs, self.cli, self.tmp, self.artifacts = procs, cli, tmp, artifacts
        self.agency = tmp / "agency"
        self.inv_store = tmp / "investigator"
        self.vol_store = tmp / "volunteer"
        self.sup_store = tmp / "supervisor"
        self.member_ids: dict[str, str] = {}
        self.field_agency = tmp / "field-agency"
        self.officer_store = tmp / "officer"
        self.field_bundle = tmp / "usb" / "field.cbb"
        self.url = ""

    def run(self, args: list[str], passphrase: Optional[str] = None, store: Optional[Path] = None) -> str:
        env = dict(os.environ, CASEBRIDGE_AGENCY_PASSPHRASE=AGENCY_PASS, NO_COLOR="1")
        env.pop("CASEBRIDGE_PASSPHRASE_FILE", None)
        if passphrase:
            env["CASEBRIDGE_PASSPHRASE"] = passphrase
        argv = [str(self.cli)] + (["--store", str(store)] if store else []) + args
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"casebridge {' '.join(args[:3])} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def prepare(self) -> None:
        self.run(["agency", "init", "--dir", str(self.agency), "--name", "Berlin Police (test)"])
        env = dict(os.environ, CASEBRIDGE_AGENCY_PASSPHRASE=AGENCY_PASS, CASEBRIDGE_LOG="info", NO_COLOR="1")
        self.procs.start(
            "endpoint",
            [str(self.cli), "agency", "serve", "--dir", str(self.agency), "--listen", "127.0.0.1:0"],
            env,
            self.artifacts / "endpoint.log",
        )
        serve_json = self.agency / "serve.json"

        def started() -> Optional[str]:
            if not serve_json.is_file():
                return None
            try:
                return json.loads(serve_json.read_text()).get("url")
            except ValueError:
                return None

        self.url = wait_until(started, 90, "the agency endpoint to listen (serve.json)")
        assert self.url.startswith("https://127.0.0.1:"), f"the endpoint must listen on loopback: {self.url}"
        log(f"endpoint at {self.url}")
        for store, name, role, pw in (
            (self.inv_store, "Vera Brandt", "investigator", INV_PASS),
            (self.vol_store, "Mila Jansen", "volunteer", VOL_PASS),
            (self.sup_store, "Sam Keller", "supervisor", SUP_PASS),
        ):
            self.run(["init", "--name", name, "--role", role], pw, store)
            code = self.run(["agency", "invite", "--dir", str(self.agency), "--role", role, "--name", name]).strip().splitlines()[-1]
            assert code.startswith("cbinv1."), "the invite code is alone on the last line"
            self.run(["enrol", code], pw, store)
            self.member_ids[role] = json.loads(self.run(["whoami", "--json"], pw, store))["member_id"]
            log(f"{role} profile ready and enrolled")

    def prepare_field_bundle(self) -> None:
        """Issue 17: a field officer (a CLI profile enrolled offline at a second agency, which
        no endpoint serves: an agency directory is locked while served) exports a case to a
        bundle file, for the Files step. Done before the windows open, so no window idles."""
        fa, pub, officer = self.field_agency, self.tmp / "field-agency-public.json", self.officer_store
        self.run(["agency", "init", "--dir", str(fa), "--name", "Field office (test)"])
        self.run(["agency", "export-public", "--dir", str(fa), "--out", str(pub)])
        self.run(["init", "--name", "Tom Streife", "--role", "investigator"], OFFICER_PASS, officer)
        req, cred = self.tmp / "officer-request.json", self.tmp / "officer-credential.json"
        self.run(["credential", "request", "--out", str(req)], OFFICER_PASS, officer)
        self.run(["agency", "issue", "--dir", str(fa), str(req), "--role", "investigator", "--valid-for", "30d", "--out", str(cred)])
        self.run(["credential", "install", str(cred), "--agency-public", str(pub)], OFFICER_PASS, officer)
        case = self.run(["case", "new", "--title", FIELD_CASE], OFFICER_PASS, officer).strip()
        bundle = self.field_bundle
        bundle.parent.mkdir(parents=True, exist_ok=True)
        self.run(["bundle", "export", "--case", case, "--to", str(pub), "--out", str(bundle)], OFFICER_PASS, officer)


# ----- app windows ----------------------------------------------------------------------------------


class Window:
    """One app window: its own tauri-driver (+ WebKitWebDriver) and profile."""

    def __init__(self, who: str, procs: Procs, driver: str, app: Path, store: Path, tmp: Path, artifacts: Path):
        self.who = who
        port, native = free_port(), free_port()
        home = tmp / f"{who}-home"
        for d in ("data", "cache", "config"):
            (home / d).mkdir(parents=True, exist_ok=True)
        # The app inherits this environment through tauri-driver and WebKitWebDriver. Separate
        # XDG directories keep the two windows' WebKit data apart.
        env = dict(
            os.environ,
            CASEBRIDGE_STORE=str(store),
            XDG_DATA_HOME=str(home / "data"),
            XDG_CACHE_HOME=str(home / "cache"),
            XDG_CONFIG_HOME=str(home / "config"),
            # The UI follows the system's language (navigator.languages, from GLib's LANGUAGE first);
            # the story reads English texts, so the windows start in English on any desktop.
            LANGUAGE="en",
        )
        for k in ("CASEBRIDGE_PASSPHRASE", "CASEBRIDGE_PASSPHRASE_FILE"):
            env.pop(k, None)
        self.log_path = artifacts / f"tauri-driver-{who}.log"
        procs.start(f"tauri-driver ({who})", [driver, "--port", str(port), "--native-port", str(native)], env, self.log_path)
        # tauri-driver listens at once; WebKitWebDriver behind it a moment later.
        wait_until(lambda: port_open(port) and port_open(native), 30, f"tauri-driver ({who}) and WebKitWebDriver to listen on {port}, {native}")
        t0 = time.monotonic()
        self.s = Session(f"http://127.0.0.1:{port}", str(app), start_timeout=90)
        log(f"{who}: window open ({time.monotonic() - t0:.1f} s)")

    def close(self) -> None:
        self.s.quit()


# ----- the story ------------------------------------------------------------------------------------


class Story:
    def __init__(self, world: World, inv: Window, vol: Window, shots: Path, open_window: Optional[Callable[[str, Path], Window]] = None):
        self.w, self.inv, self.vol, self.shots = world, inv.s, vol.s, shots
        self.case_id = ""
        # Issue 16: the supervisor's window is opened only for its steps (a third window costs a
        # WebKit process for the whole run otherwise).
        self.open_window = open_window
        self.sup: Optional[Session] = None
        self.withdrawn_sub = ""

    def shot(self, s: Session, name: str) -> None:
        # Toasts are transient: dismiss them so the picture shows the screen itself.
        for b in s.find_all(tid("toast", " button")):
            try:
                b.click()
            except WebDriverError:
                pass  # already gone
        s.wait_gone(tid("toast"), 10)
        path = self.shots / f"{name}.png"
        s.screenshot(str(path))
        log(f"screenshot {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    # -- helpers --

    def unlock(self, s: Session, passphrase: str) -> None:
        s.type(tid("unlock-passphrase"), passphrase, STEP)
        s.click(tid("unlock-submit"))

    def sync(self, s: Session, screenshot: Optional[str] = None) -> None:
        """Opens the sync panel, presses Sync now, waits until the round ends without an error."""
        self.open_sync_panel(s)
        before = s.find(tid("sync-last-success")).attr("title") or ""
        if screenshot:
            self.shot(s, screenshot)
        s.click(tid("sync-now"))

        def finished() -> bool:
            if s.exists(tid("sync-last-error")):
                # Not an AssertionError: wait_until would keep waiting; this ends the step at once.
                raise RuntimeError(f"sync failed: {s.text(tid('sync-last-error'))}")
            st = s.find(tid("sync-status"))
            after = s.find(tid("sync-last-success")).attr("title") or ""
            return st.attr("data-running") == "false" and after != "" and after != before

        wait_until(finished, STEP, "a sync round to finish")
        self.close_sync_panel(s)

    def open_sync_panel(self, s: Session) -> None:
        """Opens the sync panel (the indicator toggles it), however many clicks that takes."""

        def is_open() -> bool:
            if s.exists(tid("sync-panel")):
                return True
            s.click(tid("sync-status"))
            time.sleep(0.3)
            return s.exists(tid("sync-panel"))

        wait_until(is_open, 15, "the sync panel to open", interval=0.5)

    def close_sync_panel(self, s: Session) -> None:
        def is_closed() -> bool:
            if not s.exists(tid("sync-panel")):
                return True
            s.click(tid("sync-status"))
            time.sleep(0.3)
            return not s.exists(tid("sync-panel"))

        wait_until(is_closed, 15, "the sync panel to close", interval=0.5)

    def no_data_shown(self, s: Session) -> None:
        """The window shows the unlock screen and nothing of the profile's data."""
        src = s.source()
        for secret in (CASE_TITLE, CASE_REF, BRIEF_TITLE, "street.jpg", "Vera Brandt"):
            assert secret not in src, f"the locked window's page contains {secret!r}"
        for el in ("nav-cases", "case-row", "whoami", "lock-now"):
            assert not s.exists(tid(el)), f"the locked window shows {el}"

    # -- scenarios, in order --

    def wrong_passphrase(self) -> None:
        s = self.inv
        s.wait(tid("unlock-passphrase"), STEP)
        self.shot(s, "unlock")
        self.unlock(s, WRONG_PASS)
        err = s.wait(tid("unlock-error"), STEP)
        assert err.text.strip(), "the error says something"
        assert "passphrase" in err.text.lower(), f"the error names the passphrase: {err.text!r}"
        self.no_data_shown(s)

    def unlock_investigator(self) -> None:
        s = self.inv
        self.unlock(s, INV_PASS)
        s.wait(tid("nav-cases"), STEP)
        s.wait(tid("cases-empty"), STEP)
        assert "Vera Brandt" in s.text(tid("whoami"))

    def german_ui(self) -> None:
        """Settings switches the whole window to German at once, and back to the system's language (English here)."""
        s = self.inv
        pick = "const e = document.querySelector('[data-testid=\"language-select\"]'); e.value = arguments[0]; e.dispatchEvent(new Event('change', { bubbles: true }));"
        s.click(tid("nav-settings"))
        s.wait(tid("language-select"), STEP)
        s.execute(pick, ["de"])
        s.wait_text(tid("nav-settings"), "Einstellungen", STEP)
        s.wait_text(tid("nav-cases"), "Fälle", STEP)
        s.wait_text("h1", "Einstellungen", STEP)
        s.settle()
        self.shot(s, "settings-de")
        s.execute(pick, ["system"])
        s.wait_text(tid("nav-settings"), "Settings", STEP)
        s.click(tid("nav-cases"))
        s.wait(tid("case-new"), STEP)

    def create_case(self) -> None:
        s = self.inv
        s.click(tid("case-new"))
        s.type(tid("case-title-input"), CASE_TITLE)
        s.type(tid("case-reference-input"), CASE_REF)
        s.type(tid("case-summary-input"), "A series of bike thefts around Main St since October; two witnesses saw a white van.")
        s.type(tid("case-tags-input"), "theft, mitte")
        s.click(tid("case-create"))
        s.wait_text(tid("case-title"), CASE_TITLE, STEP)
        # Its team (issue 16): the opener leads it, and is on it (no "off the team" notice).
        team = s.wait(tid("case-assigned"), STEP)
        assert "lead" in team.text, f"the opener leads the case's team: {team.text!r}"
        assert not s.exists(tid("case-off-team")), "the opener is on the team"
        s.click(tid("back-to-cases"))
        row = s.wait(tid("case-row"), STEP)
        self.case_id = row.attr("data-id") or ""
        assert self.case_id, "the case row carries its id"
        assert CASE_TITLE in row.text

    def publish_brief(self) -> None:
        s = self.inv
        s.click(tid("case-open"))
        s.click(tid("case-tab-briefs"))
        s.click(tid("brief-new"))
        s.type(tid("brief-title-input"), BRIEF_TITLE)
        s.type(tid("brief-body-input"), BRIEF_BODY)
        s.type(tid("brief-lat"), "52.5200")
        s.type(tid("brief-lon"), "13.4050")
        s.type(tid("brief-radius"), "500")
        # For the picture: the page from its top (typing scrolled the last field into view).
        s.execute("window.scrollTo(0, 0); document.querySelectorAll('*').forEach((e) => { if (e.scrollTop > 0) e.scrollTop = 0; });")
        self.shot(s, "brief-compose")
        s.click(tid("brief-publish"))
        s.wait(tid("brief-row"), STEP)
        s.wait_gone(tid("brief-compose"), STEP)
        self.sync(s)

    def volunteer_sees_brief(self) -> None:
        s = self.vol
        s.wait(tid("unlock-passphrase"), STEP)
        self.unlock(s, VOL_PASS)
        s.wait(tid("nav-vol-briefs"), STEP)
        self.sync(s)
        # The list is read when the screen opens: reopen it after the sync.
        s.click(tid("nav-my-submissions"))
        s.click(tid("nav-vol-briefs"))
        s.wait_text(tid("vol-brief-row"), BRIEF_TITLE, STEP)
        assert not s.exists(tid("nav-cases")), "a volunteer has no cases screen"
        self.shot(s, "volunteer-briefs")

    def volunteer_submits(self) -> None:
        s = self.vol
        s.click(tid("vol-brief-open"))
        s.wait_text(tid("vol-brief-title"), BRIEF_TITLE, STEP)
        box = s.wait(tid("conduct-checkbox"))
        wait_until(lambda: box.prop("checked") or box.click(), 10, "the conduct checkbox to be ticked", interval=0.5)
        s.click(tid("conduct-accept"))
        s.wait(tid("conduct-accepted"), STEP)
        s.type(tid("submit-paths"), str(PHOTO))
        s.type(tid("submit-description"), "From my balcony at 22:14; the bike racks are bottom centre.")
        self.shot(s, "submit-form")
        s.click(tid("submit-send"))
        s.wait(tid("submit-done"), STEP)
        s.click(tid("goto-my-submissions"))
        s.wait_attr(tid("submission-state"), "data-state", "pending", STEP)
        # The indicator reads the outbox when it polls (every 20 s), not on submit.
        s.wait_text(tid("sync-pending"), "1 pending", 30)

    def volunteer_delivers(self) -> None:
        s = self.vol
        self.sync(s, screenshot="sync-panel")
        wait_until(lambda: not self.vol.exists(tid("sync-pending")), STEP, "the outbox to be empty")

    def investigator_accepts(self) -> None:
        s = self.inv
        self.sync(s)
        s.click(tid("nav-queue"))
        item = s.wait(tid("queue-item"), STEP)
        item.click()
        s.wait(tid("submission-detail"), STEP)
        s.wait_text(tid("submission-item"), "street.jpg", STEP)
        s.wait(tid("review-accept"))
        self.shot(s, "review")
        s.click(tid("review-accept"))
        s.wait_text(tid("submission-state"), "ccepted", STEP)
        self.sync(s)

    def evidence_in_case(self) -> None:
        s = self.inv
        s.click(tid("nav-cases"))
        s.click(tid("case-open"))
        s.click(tid("case-tab-evidence"))
        row = s.wait_text(tid("evidence-row"), "street.jpg", STEP)
        state = row.find_all(tid("evidence-review-state"))
        assert state and "ccepted" in state[0].text, f"the evidence row says accepted: {row.text!r}"
        # The thumbnail loads in the background; wait for it so the picture has it (not a check).
        try:
            wait_until(lambda: s.exists(tid("evidence-thumb")) and s.execute(
                "const i = document.querySelector('[data-testid=\"evidence-thumb\"]'); return !!i && i.complete && i.naturalWidth > 0;"
            ), 10, "the evidence thumbnail")
        except Timeout:
            log("no evidence thumbnail within 10 s; taking the screenshot without it")
        self.shot(s, "case-evidence")

    def court_package(self) -> None:
        """Issue 17: a court package written from the desktop, which casebridge-verify accepts
        with the agency root fingerprint obtained from the agency itself (agency show)."""
        s = self.inv
        s.click(tid("case-tab-court"))
        shown = s.wait(tid("court-fingerprint"), STEP).text.strip()
        root = json.loads(self.w.run(["agency", "show", "--dir", str(self.w.agency), "--json"]))["root_fingerprint"]
        assert shown == root, f"the desktop shows the agency's root fingerprint: {shown!r} vs {root!r}"
        pkg = self.w.tmp / "court-package"
        s.type(tid("court-reason"), "disclosure to the prosecutor")
        s.type(tid("court-package-dir"), str(pkg))
        s.click(tid("court-package-start"))
        s.wait_attr(tid("court-job"), "data-state", "done", STEP)
        s.wait_text(tid("court-message"), f"--agency-root {root}", STEP)
        self.shot(s, "court-package")
        verify = self.w.cli.parent / "casebridge-verify"
        r = subprocess.run([str(verify), str(pkg), "--agency-root", root], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"casebridge-verify accepts the desktop's package ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        assert "VERIFIED" in r.stdout, r.stdout

    def search_finds_a_note(self) -> None:
        """Issue 17: the cases list's search finds a word only present in a note, ranked and
        highlighted, and opens the case on its notes tab; no index file lands in the profile."""
        s = self.inv
        s.click(tid("case-tab-notes"))
        s.type(tid("note-input"), f"The caretaker, {NOTE_WORD}, saw the van twice.")
        s.click(tid("note-add"))
        s.wait_text(tid("note"), NOTE_WORD, STEP)
        s.click(tid("nav-cases"))
        s.type(tid("cases-search"), NOTE_WORD)
        hit = s.wait(tid("search-hit"), STEP)
        assert hit.attr("data-kind") == "note", f"the hit is the note: {hit.attr('data-kind')!r}"
        marks = hit.find_all("mark")
        assert [m.text for m in marks] == [NOTE_WORD], f"the note's word is highlighted: {[m.text for m in marks]!r}"
        self.shot(s, "search")
        hit.find_all(tid("search-hit-open"))[0].click()
        s.wait_text(tid("note"), NOTE_WORD, STEP)
        assert s.wait(tid("case-tab-notes")).attr("aria-selected") == "true", "the case opens on its notes tab"
        # The index lives in memory: no search index file, and no file holds the word.
        for f in self.w.inv_store.rglob("*"):
            if not f.is_file():
                continue
            assert not f.name.endswith(INDEX_FILE_ENDINGS), f"a search index file in the profile: {f}"
            assert NOTE_WORD.encode() not in f.read_bytes(), f"{f} holds the note's word in plaintext"
        s.click(tid("nav-cases"))

    def set_idle_lock(self) -> None:
        s = self.inv
        s.click(tid("nav-settings"))
        s.type(tid("idle-lock-minutes"), "1")
        self.saved_at = time.monotonic()
        s.click(tid("idle-lock-save"))
        s.wait_text(tid("toast"), "1 minute", STEP)
        # Back to the cases list: what must vanish when the window locks.
        s.click(tid("nav-cases"))
        s.wait_text(tid("case-row"), CASE_TITLE, STEP)
        self.idle_from = time.monotonic()  # no input after this

    def volunteer_sees_accepted(self) -> None:
        s = self.vol
        self.sync(s)

        def accepted() -> bool:
            s.click(tid("my-submissions-refresh"))
            el = s.wait(tid("submission-state"), 10)
            return el.attr("data-state") == "accepted"

        wait_until(accepted, STEP, "the volunteer's submission to show accepted", interval=1.0)
        assert "ccepted" in s.text(tid("submission-item-state"))
        s.wait(tid("receipt-verified"), STEP)
        assert not s.exists(tid("receipt-unverified")), "every receipt verifies"
        self.shot(s, "my-submissions")

    def idle_lock(self) -> None:
        s = self.inv
        # 60 s idle, checked every 5 s: locked within about 65 s of the last activity.
        left = 60 + 5 + 30 - (time.monotonic() - self.idle_from)
        notice = s.wait(tid("unlock-notice"), max(left, 5))
        locked_after = time.monotonic() - self.idle_from
        since_save = time.monotonic() - self.saved_at
        log(f"investigator window locked itself {locked_after:.0f} s after the last input ({since_save:.0f} s after saving the setting)")
        assert since_save >= 58, f"locked too early ({since_save:.0f} s after the 1-minute setting was saved)"
        assert "without activity" in notice.text, f"the notice says why: {notice.text!r}"
        self.no_data_shown(s)

    def media_evidence(self) -> None:
        """Locks, imports real media with the CLI (the app holds no store while locked), unlocks."""
        s = self.inv
        s.click(tid("lock-now"))
        s.wait(tid("unlock-passphrase"), STEP)
        media = make_media(self.w.tmp / "media")
        report = self.w.tmp / "media" / "report.pdf"
        self.w.run(["report", self.case_id, "--out", str(report), "--reason", "desktop e2e: a real PDF"], INV_PASS, self.w.inv_store)
        self.w.run(["evidence", "add", self.case_id, *map(str, media), str(report)], INV_PASS, self.w.inv_store)
        self.unlock(s, INV_PASS)
        s.wait_text(tid("case-row"), CASE_TITLE, STEP)
        s.click(tid("case-open"))
        s.click(tid("case-tab-evidence"))
        s.wait_text(tid("evidence-row"), "report.pdf", STEP)

    def open_item(self, name: str) -> None:
        s = self.inv
        for b in s.find_all(tid("evidence-open")):
            if b.text.strip() == name:
                b.click()
                s.wait(tid("evidence-viewer"), STEP)
                return
        raise AssertionError(f"no evidence row named {name!r}")

    def close_viewer(self) -> None:
        self.inv.click(tid("viewer-close"))
        self.inv.wait_gone(tid("evidence-viewer"), STEP)

    def video_plays_and_seeks(self) -> None:
        s = self.inv
        self.open_item("dashcam.mp4")
        s.wait(tid("viewer-video"), STEP)
        src = s.execute("return document.querySelector('[data-testid=\"viewer-video\"]').src;")
        # WebKitGTK's media player cannot load a custom scheme: video streams from the desktop's
        # loopback stream (crates/app/src/media_stream.rs), same token as the cbmedia URL.
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/([0-9a-f]{64})", src)
        assert m, f"the video streams from the loopback stream: {src!r}"
        # From outside the window: a rebound host name and a foreign origin get no content.
        port, token = int(m.group(1)), m.group(2)
        for headers, want in (({"Host": "evil.example"}, (421, "host_refused")),
                              ({"Host": f"127.0.0.1:{port}", "Origin": "https://evil.example"}, (403, "origin_refused"))):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", f"/{token}", headers={**headers, "Range": "bytes=0-15"})
            r = conn.getresponse()
            got = (r.status, r.getheader("X-Casebridge-Reason"))
            body = r.read()
            conn.close()
            assert got == want and b"ftyp" not in body, f"{headers}: {got} {body[:40]!r}"
        duration = wait_until(lambda: s.execute(
            "const v = document.querySelector('[data-testid=\"viewer-video\"]');"
            "if (v.error) throw new Error('media error ' + v.error.code + ': ' + v.error.message);"
            "return v.readyState >= 1 && isFinite(v.duration) ? v.duration : null;"), STEP, "the video's metadata")
        assert duration > 4, f"the 6 s test video's duration: {duration}"
        s.execute("const v = document.querySelector('[data-testid=\"viewer-video\"]'); v.muted = true; v.play().catch(() => {});")
        played = wait_until(lambda: s.execute(
            "const v = document.querySelector('[data-testid=\"viewer-video\"]');"
            "if (v.error) throw new Error('media error ' + v.error.code);"
            "return v.currentTime > 0.3 ? v.currentTime : null;"), STEP, "the current time to move after play")
        log(f"video playing: currentTime {played:.2f} s of {duration:.2f} s")
        self.shot(s, "viewer-video")
        s.execute("const v = document.querySelector('[data-testid=\"viewer-video\"]'); v.pause(); v.currentTime = 4.0;")
        seeked = wait_until(lambda: s.execute(
            "const v = document.querySelector('[data-testid=\"viewer-video\"]');"
            "return !v.seeking && v.currentTime >= 3.9 ? v.currentTime : null;"), STEP, "the seek to 4 s")
        s.execute("const v = document.querySelector('[data-testid=\"viewer-video\"]'); v.play().catch(() => {});")
        wait_until(lambda: s.execute(
            "return document.querySelector('[data-testid=\"viewer-video\"]').currentTime > arguments[0] + 0.2;", [seeked]),
            STEP, "the current time to move on after the seek")
        assert not s.exists(tid("viewer-media-error")), "no error is shown for a playable video"
        self.close_viewer()

    def audio_plays(self) -> None:
        s = self.inv
        self.open_item("interview.wav")
        s.wait(tid("viewer-audio"), STEP)
        s.execute("const a = document.querySelector('[data-testid=\"viewer-audio\"]'); a.muted = true; a.play().catch(() => {});")
        wait_until(lambda: s.execute(
            "const a = document.querySelector('[data-testid=\"viewer-audio\"]');"
            "if (a.error) throw new Error('media error ' + a.error.code);"
            "return a.currentTime > 0.2;"), STEP, "the audio's current time to move")
        self.close_viewer()

    def pdf_renders(self) -> None:
        s = self.inv
        self.open_item("report.pdf")
        page = s.wait(tid("viewer-pdf-page"), STEP)
        wait_until(lambda: page.attr("data-rendered") == "1" or (s.exists(tid("viewer-media-error")) and (_ for _ in ()).throw(
            RuntimeError(s.text(tid("viewer-media-error"))))), STEP, "the PDF's first page to render")
        # Non-blank: some pixels of the page are neither white nor transparent.
        inked = s.execute(
            "const c = document.querySelector('[data-testid=\"viewer-pdf-canvas\"]');"
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
            "for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;"
            "return [n, c.width, c.height];")
        log(f"PDF page 1: {inked[0]} inked pixels on a {inked[1]}x{inked[2]} canvas")
        assert inked[1] > 100 and inked[2] > 100 and inked[0] > 500, f"the rendered page has ink: {inked}"
        self.shot(s, "viewer-pdf")
        pages = s.text(tid("viewer-pdf-page"))
        if not pages.endswith(" of 1"):
            s.click(tid("viewer-pdf-next"))
            s.wait_attr(tid("viewer-pdf-page"), "data-rendered", "2", STEP)
        self.close_viewer()

    def damaged_video_says_so(self) -> None:
        s = self.inv
        self.open_item("damaged.mp4")
        msg = s.wait(tid("viewer-media-error"), STEP)
        assert "video/mp4" in msg.text and ("damaged" in msg.text or "cannot be played" in msg.text), f"the message: {msg.text!r}"
        self.shot(s, "viewer-damaged")
        self.close_viewer()
        # The window still works after it.
        s.wait_text(tid("evidence-row"), "dashcam.mp4", STEP)

    def bundle_file_opened(self) -> None:
        """Issue 17: a bundle file opened on the agency side from the Files screen. A field
        officer (a CLI profile enrolled offline at a second agency, which no endpoint serves:
        an agency directory is locked while served) exports a case to a file; the investigator
        verifies it and opens it with that agency's directory and passphrase; the receipt
        written next to it is kept by the officer's profile."""
        w, s = self.w, self.inv
        fa, bundle, officer = w.field_agency, w.field_bundle, w.officer_store
        s.click(tid("nav-files"))
        s.type(tid("files-agency-dir"), str(fa))
        s.type(tid("files-agency-pass"), AGENCY_PASS)
        s.type(tid("files-bundle"), str(bundle))
        s.click(tid("files-verify"))
        verdict = s.wait(tid("files-verdict"), STEP)
        assert verdict.attr("data-verdict") == "verified", f"the verdict: {verdict.text!r}"
        assert "Tom Streife" in verdict.text, f"the agency's record names the sender: {verdict.text!r}"
        s.click(tid("files-open"))
        s.wait_attr(tid("files-opened"), "data-outcome", "accepted", STEP)
        receipt = Path(f"{bundle}.receipt")
        assert receipt.is_file(), f"the signed receipt is written next to the bundle: {receipt}"
        self.shot(s, "files")
        kept = w.run(["receipt", "import", str(receipt)], OFFICER_PASS, officer)
        assert "kept the receipt" in kept, kept
        s.click(tid("nav-cases"))
        s.wait_text(tid("case-row"), FIELD_CASE, STEP)

    def reopen_after_lock(self) -> None:
        s = self.inv
        self.unlock(s, WRONG_PASS)
        s.wait(tid("unlock-error"), STEP)
        self.no_data_shown(s)
        self.unlock(s, INV_PASS)
        row = s.wait_text(tid("case-row"), CASE_TITLE, STEP)
        assert "1" in [td.text.strip() for td in row.find_all("td.num")], f"the case counts its evidence: {row.text!r}"
        self.shot(s, "cases")

    def street_map(self) -> None:
        """Issue 17: the investigator sets the test PMTiles file in Settings (a file that is not one is
        refused first), and the case map at street zoom over the test area draws its tiles."""
        s = self.inv
        d = self.w.tmp / "map"
        d.mkdir(parents=True, exist_ok=True)
        tiles = d / "berlin-test.pmtiles"
        subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "make_test_pmtiles.py"), str(tiles)], check=True, capture_output=True, timeout=60)
        not_tiles = d / "photo.pmtiles"
        shutil.copy(PHOTO, not_tiles)
        # A located evidence item in the test area (GPS in its EXIF), imported with the CLI while locked.
        photo = geotagged(PHOTO, d / "mitte.jpg", 52.52, 13.405)
        s.click(tid("lock-now"))
        s.wait(tid("unlock-passphrase"), STEP)
        self.w.run(["evidence", "add", self.case_id, str(photo)], INV_PASS, self.w.inv_store)
        self.unlock(s, INV_PASS)
        s.wait_text(tid("case-row"), CASE_TITLE, STEP)
        s.click(tid("nav-settings"))
        s.type(tid("pmtiles-path"), str(not_tiles), STEP)
        s.click(tid("pmtiles-save"))
        err = s.wait(tid("pmtiles-error"), STEP).text
        assert "not a PMTiles file" in err and "photo.pmtiles" in err, f"the refusal names the file and what is wrong: {err!r}"
        s.type(tid("pmtiles-path"), str(tiles))
        s.click(tid("pmtiles-save"))
        s.wait_text(tid("pmtiles-now"), "zoom 0 to 15", STEP)
        assert not s.exists(tid("pmtiles-error"))
        s.click(tid("nav-cases"))
        s.wait_text(tid("case-row"), CASE_TITLE, STEP)
        s.click(tid("case-open"))
        s.click(tid("case-tab-map"))
        s.wait(tid("map-marker"), STEP)
        m = s.wait_attr(tid("map"), "data-tiles-loaded", "true", STEP)
        roads = m.attr("data-roads") or ""
        zoom = float(m.attr("data-zoom") or 0)
        log(f"street map: zoom {zoom:.2f}, {m.attr('data-street-features')} street features drawn, roads {roads!r}")
        assert zoom >= 14, f"fitted at street zoom: {zoom}"
        assert "Teststrasse" in roads.split(","), f"the test road was drawn from the file: {roads!r}"
        self.shot(s, "map-street")

    # -- issue 16: withdrawal, retention, team removal, the supervisor's access log --

    def open_case(self, s: Session, case_id: str) -> None:
        """Opens the case `case_id` from the cases list (the list holds several by now)."""
        s.click(tid("nav-queue") if s.exists(tid("nav-queue")) else tid("nav-settings"))
        s.click(tid("nav-cases"))
        row = s.wait(f'[data-testid="case-row"][data-id="{case_id}"]', STEP)
        row.find_all(tid("case-open"))[0].click()
        s.wait(tid("case-title"), STEP)

    def volunteer_withdraws(self) -> None:
        """The volunteer sends a second photo, the investigator sees it waiting, the volunteer
        withdraws it from My submissions; after both sync, it waits for no decision."""
        v, s = self.vol, self.inv
        photo = self.w.tmp / "balcony.jpg"
        # Another photo: the street picture with bytes after its end marker (still a JPEG).
        photo.write_bytes(PHOTO.read_bytes() + b"withdrawn later" * 8)
        v.click(tid("nav-vol-briefs"))
        v.click(tid("vol-brief-open"))
        v.wait_text(tid("vol-brief-title"), BRIEF_TITLE, STEP)
        v.wait(tid("conduct-accepted"), STEP)
        v.type(tid("submit-paths"), str(photo))
        v.type(tid("submit-description"), "A second one, from the other balcony.")
        v.click(tid("submit-send"))
        v.wait(tid("submit-done"), STEP)
        v.click(tid("goto-my-submissions"))
        pending = v.wait_attr(tid("submission-state"), "data-state", "pending", STEP)
        card = [c for c in v.find_all(tid("my-submission")) if c.find_all(tid("submission-withdraw"))]
        assert len(card) == 1, f"only the pending submission can be withdrawn: {len(card)} offer it"
        self.withdrawn_sub = card[0].attr("data-id") or ""
        assert self.withdrawn_sub and pending.text, "the pending submission carries its id"
        self.sync(v)
        # The investigator sees it waiting for a decision.
        self.sync(s)
        s.click(tid("nav-cases"))
        s.click(tid("nav-queue"))
        s.wait(f'[data-testid="queue-item"][data-id="{self.withdrawn_sub}"]', STEP)
        # The volunteer withdraws it; the withdrawal travels at the next sync.
        v.click(f'[data-testid="my-submission"][data-id="{self.withdrawn_sub}"] [data-testid="submission-withdraw"]')
        v.wait(f'[data-testid="my-submission"][data-id="{self.withdrawn_sub}"] [data-testid="submission-withdrawn"]', STEP)
        assert not v.exists(tid("withdraw-error")), v.text(tid("withdraw-error"))
        self.shot(v, "my-submissions-withdrawn")
        self.sync(v)
        self.sync(s)
        s.click(tid("nav-cases"))
        s.click(tid("nav-queue"))
        s.wait(tid("queue-empty"), STEP)
        assert not s.exists(f'[data-testid="queue-item"][data-id="{self.withdrawn_sub}"]'), "a withdrawn submission waits for no decision"
        s.execute("const e = document.querySelector('[data-testid=\"queue-filter\"]'); e.value = 'all'; e.dispatchEvent(new Event('change', { bubbles: true }));")
        item = s.wait(f'[data-testid="queue-item"][data-id="{self.withdrawn_sub}"]', STEP)
        assert item.find_all(tid("queue-item-withdrawn")), f"the queue marks it withdrawn: {item.text!r}"
        item.click()
        s.wait_attr(tid("submission-state"), "data-state", "withdrawn", STEP)
        s.wait(tid("submission-withdrawn"), STEP)
        assert not s.exists(tid("review-accept")), "a withdrawn submission cannot be accepted"
        self.shot(s, "queue-withdrawn")

    def retention_deletes_withdrawn(self) -> None:
        """The agency operator runs retention (the CLI, through the running endpoint): the
        withdrawn item goes; at the investigator's next sync her case shows it deleted, with its
        rule and date, not as a broken item, and the queue shows it deleted, not 'Not synced'."""
        w, s = self.w, self.inv
        dry = json.loads(w.run(["retention", "run", "--dir", str(w.agency), "--dry-run", "--json"]))
        assert dry["via"] == "endpoint" and dry["dry_run"] is True, dry
        assert [d["submission_id"] for d in dry["deleted"]] == [self.withdrawn_sub], f"the dry run names the withdrawn item only: {dry}"
        done = json.loads(w.run(["retention", "run", "--dir", str(w.agency), "--json"]))
        assert len(done["deleted"]) == 1 and done["deleted"][0]["rule"] == "withdrawn", done
        item = done["deleted"][0]["evidence_id"]
        assert done["deleted"][0]["submission_id"] == self.withdrawn_sub, done
        again = json.loads(w.run(["retention", "run", "--dir", str(w.agency), "--json"]))
        assert again["deleted"] == [], f"a second run has nothing left to delete: {again}"
        self.sync(s)
        self.open_case(s, self.case_id)
        s.click(tid("case-tab-evidence"))
        row = s.wait(f'[data-testid="evidence-row"][data-id="{item}"]', STEP)
        gone = wait_until(lambda: row.find_all(tid("evidence-deleted")) or None, STEP, "the deleted item to show as deleted")[0]
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert gone.attr("data-rule") == "withdrawn", f"the rule: {gone.attr('data-rule')!r}"
        assert "withdrawn" in gone.text and today[:7] in gone.text, f"what, when, which rule: {gone.text!r}"
        assert not row.find_all(tid("evidence-open")), "a deleted item cannot be opened"
        state = row.find_all(tid("evidence-review-state"))
        assert state and state[0].text.strip() == "Deleted", f"no review is pending on a deleted item: {row.text!r}"
        # The accepted photo is still there and opens.
        s.wait_text(tid("evidence-open"), "street.jpg", STEP)
        s.execute("arguments[0].scrollIntoView({ block: 'center' });", [row.ref()])
        self.shot(s, "case-deleted")
        s.click(tid("nav-queue"))
        s.execute("const e = document.querySelector('[data-testid=\"queue-filter\"]'); e.value = 'all'; e.dispatchEvent(new Event('change', { bubbles: true }));")
        s.click(f'[data-testid="queue-item"][data-id="{self.withdrawn_sub}"]', STEP)
        s.wait_text(tid("submission-item-deleted"), "withdrawn", STEP)

    def removed_from_team(self) -> None:
        """A supervisor (CLI) puts the investigator on a case of theirs, then takes her off and
        writes a note; her next sync says so, the case list marks the case, the case tells
        why, and the note never reaches her."""
        w, s = self.w, self.inv
        sup = lambda args: w.run(args, SUP_PASS, w.sup_store)  # noqa: E731
        inv_id = w.member_ids["investigator"]
        case = sup(["case", "new", "--title", TEAM_CASE]).strip()
        sup(["case", "assign", case, inv_id])
        sup(["sync"])
        self.sync(s)
        s.click(tid("nav-queue"))
        s.click(tid("nav-cases"))
        row = s.wait(f'[data-testid="case-row"][data-id="{case}"]', STEP)
        assert not row.find_all(tid("case-row-off-team")), "on the team: no mark"
        sup(["case", "unassign", case, inv_id])
        sup(["note", "add", case, TEAM_NOTE])
        sup(["sync"])
        self.sync(s)
        toast = s.wait_text(tid("toast"), "taken off the team", STEP)
        assert TEAM_CASE in toast.text, f"the message names the case: {toast.text!r}"
        s.click(tid("nav-queue"))
        s.click(tid("nav-cases"))
        row = s.wait(f'[data-testid="case-row"][data-id="{case}"]', STEP)
        assert row.find_all(tid("case-row-off-team")), f"the case list marks the case: {row.text!r}"
        mine = s.find(f'[data-testid="case-row"][data-id="{self.case_id}"]')
        assert not mine.find_all(tid("case-row-off-team")), "her own case is not marked"
        self.shot(s, "cases-off-team")
        row.find_all(tid("case-open"))[0].click()
        s.wait(tid("case-off-team"), STEP)
        s.click(tid("case-tab-notes"))
        s.settle()
        assert TEAM_NOTE not in s.source(), "nothing written after the removal reaches her"
        s.click(tid("nav-cases"))

    def supervisor_access_log(self) -> None:
        """The supervisor's window: sync, the Access log screen with the investigator's views of
        her case (filters: case, member, since), exported for the data-protection officer and
        checked offline by casebridge-verify."""
        assert self.open_window, "the story opens the supervisor's window"
        w = self.w
        self.sup = s = self.open_window("supervisor", w.sup_store).s
        s.wait(tid("unlock-passphrase"), STEP)
        self.unlock(s, SUP_PASS)
        s.wait(tid("nav-access-log"), STEP)
        self.sync(s)
        s.click(tid("nav-access-log"))
        inv_id = w.member_ids["investigator"]
        s.type(tid("access-case"), CASE_REF)
        s.type(tid("access-member"), inv_id)
        s.click(tid("access-apply"))

        def rows() -> Optional[list]:
            if s.exists(tid("access-error")):
                raise RuntimeError(f"the access log: {s.text(tid('access-error'))}")
            got = s.find_all(tid("access-row"))
            return got if got and not s.exists(tid("access-empty")) else None

        shown = wait_until(rows, STEP, "the investigator's access entries")
        actions = [r.find_all("td[data-action]")[0].attr("data-action") for r in shown]
        assert "viewed" in actions, f"her views of the case's items are listed: {actions}"
        # Only hers: each row's "who" cell carries the actor's member id (its title).
        who = [r.find_all("td")[1].attr("title") for r in shown]
        assert set(who) == {inv_id}, f"only her entries: {who}"
        assert not s.exists(tid("access-gap")), "no gap in her access chain"
        assert all(r.attr("data-status") == "chained" for r in shown), [r.attr("data-status") for r in shown]
        self.shot(s, "access-log")
        # Since tomorrow: nothing; cleared: her entries again.
        since = "const e = document.querySelector('[data-testid=\"access-since\"]'); e.value = arguments[0]; e.dispatchEvent(new Event('input', { bubbles: true }));"
        tomorrow = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + 86400))
        s.execute(since, [tomorrow])
        s.click(tid("access-apply"))
        s.wait(tid("access-empty"), STEP)
        s.execute(since, [""])
        s.click(tid("access-apply"))
        wait_until(rows, STEP, "her entries again without 'since'")
        # The export for the data-protection officer, checked offline.
        out = w.tmp / "dpo" / "access-log.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        s.click(tid("access-export"))
        s.type(tid("access-export-path"), str(out))
        s.click(tid("access-export-start"))
        msg = s.wait(tid("access-export-message"), STEP)
        assert f"casebridge-verify --access-log {out}" in msg.text, msg.text
        verify = w.cli.parent / "casebridge-verify"
        r = subprocess.run([str(verify), "--json", "--access-log", str(out)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"casebridge-verify accepts the desktop's export ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        report = json.loads(r.stdout)
        assert report["entries"] >= len(shown) and not report.get("problems"), report
        # A second export to the same file is refused and the first stays as written.
        before = out.read_bytes()
        s.click(tid("access-export-start"))
        err = s.wait(tid("access-export-error"), STEP)
        assert err.text.strip(), "the refusal says why"
        assert out.read_bytes() == before, "the export already written is unchanged"


def geotagged(src: Path, out: Path, lat: float, lon: float) -> Path:
    """A copy of the JPEG `src` with GPS coordinates in an EXIF segment (north and east only)."""

    def rationals(v: float) -> bytes:
        d = int(v)
        m = int((v - d) * 60)
        sec = round(((v - d) * 60 - m) * 60 * 100)
        return struct.pack(">IIIIII", d, 1, m, 1, sec, 100)

    gps_ifd = 26  # after the TIFF header (8) and IFD0 (2 + 12 + 4)
    data = gps_ifd + 2 + 5 * 12 + 4
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x8825, 4, 1, gps_ifd) + struct.pack(">I", 0)
    tiff += struct.pack(">H", 5)
    tiff += struct.pack(">HHI", 0x0000, 1, 4) + bytes([2, 2, 0, 0])
    tiff += struct.pack(">HHI", 0x0001, 2, 2) + b"N\x00\x00\x00"
    tiff += struct.pack(">HHII", 0x0002, 5, 3, data)
    tiff += struct.pack(">HHI", 0x0003, 2, 2) + b"E\x00\x00\x00"
    tiff += struct.pack(">HHII", 0x0004, 5, 3, data + 24)
    tiff += struct.pack(">I", 0) + rationals(lat) + rationals(lon)
    app1 = b"Exif\x00\x00" + tiff
    jpeg = src.read_bytes()
    assert jpeg[:2] == b"\xff\xd8"
    at = 2
    if jpeg[2:4] == b"\xff\xe0":  # after a JFIF APP0
        at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    out.write_bytes(jpeg[:at] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[at:])
    return out


def make_media(out: Path) -> list[Path]:
    """Real media made with GStreamer (scripts/setup installs it): a 6 s H.264/AAC MP4 of noise
    (about 12 MB, so the player reads it in more than one 8 MiB range), a 3 s
    WAV, and a damaged MP4 (the video's `ftyp` box, so it is still taken for an MP4, then
    200 kB of noise instead of its index and frames)."""
    out.mkdir(parents=True, exist_ok=True)
    video, wav, damaged = out / "dashcam.mp4", out / "interview.wav", out / "damaged.mp4"
    gst = shutil.which("gst-launch-1.0")
    if not gst:
        raise RuntimeError("gst-launch-1.0 is missing (scripts/setup installs gstreamer1.0-tools)")
    run = lambda *pipeline: subprocess.run([gst, "-q", *pipeline], check=True, capture_output=True, timeout=120)
    run("videotestsrc", "num-buffers=180", "pattern=snow", "!", "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc", "pass=quant", "quantizer=30", "speed-preset=ultrafast",
        "key-int-max=30", "!", "h264parse", "!", "mux.", "audiotestsrc", "num-buffers=260", "!", "audioconvert", "!", "avenc_aac", "!",
        "aacparse", "!", "mux.", "mp4mux", "name=mux", "faststart=true", "!", "filesink", f"location={video}")
    run("audiotestsrc", "num-buffers=130", "freq=440", "!", "audioconvert", "!", "wavenc", "!", "filesink", f"location={wav}")
    head = video.read_bytes()
    size = int.from_bytes(head[:4], "big")
    assert head[4:8] == b"ftyp" and 8 <= size <= 64, "mp4mux starts with its ftyp box"
    noise = bytes((i * 7919 + (i >> 3) * 31) % 251 for i in range(200_000))
    damaged.write_bytes(head[:size] + noise)
    return [video, wav, damaged]


def main() -> int:
    app = find_bin("CASEBRIDGE_DESKTOP_BIN", [ROOT / "target/release/casebridge-desktop", ROOT / "target/debug/casebridge-desktop"])
    cli = find_bin("CASEBRIDGE_CLI_BIN", [ROOT / "target/debug/casebridge", ROOT / "target/release/casebridge"])
    driver = find_driver()
    if not os.environ.get("DISPLAY"):
        raise SystemExit("desktop e2e: no DISPLAY; run under xvfb-run (see the header of this file)")
    artifacts = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "target/desktop-e2e")).resolve()
    shots = Path(os.environ.get("SCREENSHOTS_DIR", artifacts / "screenshots")).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    shots.mkdir(parents=True, exist_ok=True)
    log(f"app {app}, cli {cli}, driver {driver}")

    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="casebridge-desktop-e2e-"))
    passed: list[str] = []
    failed: list[str] = []
    windows: list[Window] = []

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        world = World(procs, cli, tmp, artifacts)
        t0 = time.monotonic()
        world.prepare()
        world.prepare_field_bundle()
        log(f"prepared endpoint and profiles in {time.monotonic() - t0:.1f} s")
        inv = Window("investigator", procs, driver, app, world.inv_store, tmp, artifacts)
        windows.append(inv)
        vol = Window("volunteer", procs, driver, app, world.vol_store, tmp, artifacts)
        windows.append(vol)
        story = Story(world, inv, vol, shots, lambda who, store: windows.append(Window(who, procs, driver, app, store, tmp, artifacts)) or windows[-1])
        steps: list[tuple[str, Callable[[], None]]] = [
            ("a wrong passphrase shows an error and no data", story.wrong_passphrase),
            ("the right passphrase opens the investigator's cases", story.unlock_investigator),
            ("the German UI: Settings switches the window to Deutsch and back", story.german_ui),
            ("the investigator creates a case", story.create_case),
            ("the investigator publishes a brief and syncs it", story.publish_brief),
            ("the volunteer syncs and sees the brief", story.volunteer_sees_brief),
            ("the volunteer submits a photo (a real JPEG)", story.volunteer_submits),
            ("sync delivers the submission to the endpoint", story.volunteer_delivers),
            ("the investigator syncs, reviews and accepts it", story.investigator_accepts),
            ("the accepted photo is evidence in the case", story.evidence_in_case),
            ("a court package written from the desktop passes casebridge-verify --agency-root", story.court_package),
            ("a search finds a word only present in a note", story.search_finds_a_note),
            ("the investigator sets a 1-minute idle lock in Settings", story.set_idle_lock),
            ("the volunteer sees 'accepted' and a verified receipt", story.volunteer_sees_accepted),
            ("the idle window locks itself and shows no data", story.idle_lock),
            ("after the lock a wrong passphrase is refused, the right one reopens", story.reopen_after_lock),
            ("real media imported with the CLI shows in the case", story.media_evidence),
            ("a video plays and seeks in the viewer (the current time moves)", story.video_plays_and_seeks),
            ("a WAV recording plays in the viewer", story.audio_plays),
            ("a court report PDF renders page by page (canvas non-blank)", story.pdf_renders),
            ("a damaged video shows a clear message, the window keeps working", story.damaged_video_says_so),
            ("a bundle file is verified and opened on the agency side (Files), its receipt kept", story.bundle_file_opened),
            ("the case map draws street tiles from the test PMTiles file set in Settings", story.street_map),
            ("the volunteer withdraws a pending submission; the investigator's queue no longer waits on it", story.volunteer_withdraws),
            ("retention run deletes the withdrawn item; the case shows it deleted (rule, date), not broken", story.retention_deletes_withdrawn),
            ("taken off a case's team by a supervisor, the investigator's next sync says so", story.removed_from_team),
            ("the supervisor's Access log shows her views (case, member, since); its export verifies", story.supervisor_access_log),
        ]
        broken = ""
        for name, step in steps:
            if broken:
                print(f"SKIP {name} (after the failure of: {broken})", flush=True)
                failed.append(name)
                continue
            t = time.monotonic()
            try:
                step()
                passed.append(name)
                print(f"ok   {name} ({time.monotonic() - t:.1f} s)", flush=True)
            except (AssertionError, Timeout, WebDriverError, RuntimeError) as e:
                failed.append(name)
                broken = name
                print(f"FAIL {name} ({time.monotonic() - t:.1f} s)\n     {e}", flush=True)
                traceback.print_exc(limit=4)
                for w in windows:
                    save_failure(w, artifacts)
    except KeyboardInterrupt as e:
        failed.append(f"interrupted ({e})")
        print(f"FAIL interrupted: {e}", flush=True)
    except (AssertionError, Timeout, WebDriverError, RuntimeError, OSError) as e:
        failed.append(f"set-up: {e}")
        print(f"FAIL set-up: {e}", flush=True)
        traceback.print_exc(limit=6)
        for w in windows:
            save_failure(w, artifacts)
        for f in sorted(artifacts.glob("*.log")):
            print(f"--- {f.name} (last lines) ---\n" + "\n".join(f.read_text(errors="replace").splitlines()[-15:]), flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for w in windows:
            if w.s.retried:
                print(f"note: {w.who}: retried after a transport failure (see webdriver.Session.cmd): {', '.join(w.s.retried)}", flush=True)
        for w in windows:
            w.close()
        procs.stop_all()
        if os.environ.get("E2E_KEEP") == "1":
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print(f"failure artifacts (screenshots, page sources, logs): {artifacts}", flush=True)
    print(f"desktop e2e: {len(passed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


def save_failure(w: Window, artifacts: Path) -> None:
    """The window as it was at the failure: a screenshot and the page source."""
    try:
        w.s.screenshot(str(artifacts / f"failure-{w.who}.png"))
        (artifacts / f"failure-{w.who}.html").write_text(w.s.source())
    except (WebDriverError, OSError) as e:
        print(f"     (could not save the {w.who} window: {e})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
