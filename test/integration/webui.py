#!/usr/bin/python3
"""webui.py - drive mamorid's admin web UI in headless Chromium (t-webui.sh).

    webui.py STEP BASE_URL TOKEN SHOT_DIR [ARGS...]

Prints one line per check, "check ok|fail LABEL [detail]", for the shell
to turn into TAP, and writes screenshots into SHOT_DIR.  Every wait is
bounded (WAIT seconds).  Steps (one browser session each, signed in with
the token through the page's form):

  inspect RESTRICTED HOSTILE HOSTILE_REASON EML
        pages and checks before the release: the restricted account and
        its evidence, the hostile login escaped, CSRF refusals, every page
        shown (screenshots), an address blocked from the Logins page, a
        scan of EML
  release LOGIN
        record a password change and release LOGIN with its held mail
        released, with the mouse
"""
import json
import os
import sys
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT = 15


def check(ok, label, detail=""):
    print("check %s %s%s" % ("ok" if ok else "fail", label,
                             (" :: " + detail.replace("\n", " ")[:300]) if detail and not ok else ""),
          flush=True)
    return ok


class UI:
    def __init__(self, base, token, shots):
        self.base, self.token, self.shots = base, token, shots
        o = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--window-size=1280,1300",
                  "--lang=en-GB", "--no-first-run", "--disable-extensions"):
            o.add_argument(a)
        o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        self.d = webdriver.Chrome(service=Service(os.environ.get(
            "CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)
        self.d.set_page_load_timeout(WAIT)
        self.d.set_script_timeout(WAIT)
        self.w = WebDriverWait(self.d, WAIT)

    def quit(self):
        self.d.quit()

    def wait(self, fn, label):
        try:
            self.w.until(lambda d: fn())
            return True
        except TimeoutException:
            return check(False, label, "timed out after %ds" % WAIT)

    def page_is(self, name):
        return self.d.execute_script("return document.body.dataset.page") == name

    def go(self, frag, name):
        """Open #/frag and wait until the page named name is drawn."""
        self.d.execute_script("document.body.dataset.page = ''; location.hash = arguments[0];", frag)
        return self.wait(lambda: self.page_is(name), "page %s shown" % frag)

    def shot(self, name):
        self.d.save_screenshot(os.path.join(self.shots, "webui-%s.png" % name))

    def text(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css).text

    def sign_in(self):
        self.d.get(self.base + "/ui/")
        if not self.wait(lambda: self.d.find_element(By.ID, "token").is_displayed(),
                         "sign-in form shown"):
            return False
        self.shot("signin")
        self.d.find_element(By.ID, "token").send_keys(self.token)
        self.d.find_element(By.CSS_SELECTOR, "#login-form button").click()
        return check(self.wait(lambda: self.page_is("overview"), "overview after sign-in"),
                     "signed in with the token through the form")

    def fetch(self, method, path, body, csrf):
        """A fetch from the page; returns the HTTP status."""
        return self.d.execute_async_script("""
            const [m, p, b, csrf, done] = arguments;
            const h = {'Content-Type': 'application/json'};
            if (csrf) h['X-Mamori-CSRF'] = csrf;
            fetch(p, {method: m, headers: h, body: b, credentials: 'same-origin'})
              .then(r => done(r.status)).catch(e => done(String(e)));""",
            method, path, body, csrf)


def headers_of(url):
    with urllib.request.urlopen(url, timeout=WAIT) as r:
        return dict(r.headers)


def step_inspect(ui, restricted, hostile, hostile_reason, eml):
    csp = headers_of(ui.base + "/ui/").get("Content-Security-Policy", "")
    check(csp == "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'",
          "Content-Security-Policy on /ui/", csp)
    if not ui.sign_in():
        return
    ui.wait(lambda: len(ui.d.find_elements(By.CSS_SELECTOR, "#cards .card")) > 0, "overview cards")
    time.sleep(0.5)  # let the charts draw for the screenshot
    heads = [h.text for h in ui.d.find_elements(By.CSS_SELECTOR, "#page .chart h2")]
    check(len(heads) == 6 and "Inbound verdicts, by scam label" in heads,
          "overview charts inbound verdicts by action, label and DMARC", repr(heads))
    ui.shot("overview")

    # Accounts: the hijacked account in the restricted list.
    ui.go("#/accounts", "accounts")
    links = [a.text for a in ui.d.find_elements(By.CSS_SELECTOR, "#list-restricted a.login")]
    check(restricted in links, "accounts page lists %s as restricted" % restricted, repr(links))
    # The hostile login: shown as text, no element made of it.
    check(hostile in links, "hostile login shown verbatim as text in the list", repr(links))
    imgs = ui.d.find_elements(By.CSS_SELECTOR, "#page img, #page script")
    check(len(imgs) == 0, "no <img> or <script> element made from the hostile login",
          "%d found" % len(imgs))
    pwned = ui.d.execute_script("return window.__pwned === undefined ? 'none' : String(window.__pwned)")
    check(pwned == "none", "no script of the hostile login ran", pwned)
    ui.shot("accounts")

    # The restricted account with its evidence.
    ui.go("#/account/" + urllib.parse.quote(restricted, safe=""), "account")
    body = ui.text("#page")
    check(ui.text("#account-login") == restricted, "account page names %s" % restricted)
    events = ui.d.find_elements(By.CSS_SELECTOR, "#timeline .event")
    tl = ui.text("#timeline") if events else ""
    check(any("restricted" in e.text for e in events), "timeline shows the restriction", tl[:200])
    check("client_ips" in tl and "127.1.0.1" in tl and "recipient_domains" in tl,
          "restriction evidence: client addresses and recipient domains", tl[:300])
    check("msgs_hour" in tl and "score" in tl, "restriction evidence: counters with numbers")
    notices = [n.text for n in ui.d.find_elements(By.CSS_SELECTOR, "#timeline .event.notice")]
    check(any("notice sent" in n for n in notices), "timeline shows the notices sent", repr(notices)[:200])
    nheld = len(ui.d.find_elements(By.XPATH, "//h2[contains(., 'Held mail')]/following-sibling::table[1]//tbody/tr"))
    check(nheld > 0, "account page lists held queue IDs", body[:200])
    ui.shot("account")

    # The hostile account's page: login and reason as text.
    ui.go("#/account/" + urllib.parse.quote(hostile, safe=""), "account")
    check(ui.text("#account-login") == hostile, "hostile account page: login as text")
    reasons = [r.text for r in ui.d.find_elements(By.CSS_SELECTOR, "#timeline .reason")]
    check(hostile_reason in reasons, "hostile reason shown verbatim as text", repr(reasons))
    imgs = ui.d.find_elements(By.CSS_SELECTOR, "#page img, #page script")
    pwned = ui.d.execute_script("return window.__pwned === undefined ? 'none' : String(window.__pwned)")
    check(len(imgs) == 0 and pwned == "none", "hostile account page: no element, no script ran",
          "imgs=%d pwned=%s" % (len(imgs), pwned))
    ui.shot("hostile")

    # CSRF: the same session without the token (and with a wrong one).
    path = "/v1/accounts/" + urllib.parse.quote(restricted, safe="") + "/credential-changed"
    st = ui.fetch("POST", path, '{"source":"csrf test"}', "")
    check(st == 403, "POST without the CSRF token refused with 403", str(st))
    st = ui.fetch("POST", path, '{"source":"csrf test"}', "0" * 64)
    check(st == 403, "POST with a wrong CSRF token refused with 403", str(st))

    # Held mail, by account.
    ui.go("#/held", "held")
    rows = ui.d.find_elements(By.CSS_SELECTOR, "#page tbody tr")
    check(len(rows) > 0, "held mail page lists the held messages", str(len(rows)))
    ui.shot("held")

    # Logins: the incident with the accounts entered, its CSV export.
    ui.go("#/logins", "logins")
    links = ui.d.find_elements(By.CSS_SELECTOR, "#page table a[href^='#/logins/']")
    check(bool(links) and "192.0.2.77" in ui.text("#page"),
          "logins page lists the incident with the attacking address")
    if links:
        ui.go(links[0].get_attribute("href").split("#", 1)[1], "logins")
        t = ui.text("#page")
        check("user07@example.test" in t and "user19@example.test" in t,
              "incident lists the accounts whose password was right", t[:300])
        csv = ui.d.find_elements(By.PARTIAL_LINK_TEXT, "CSV")
        check(bool(csv) and "/export?format=csv" in csv[0].get_attribute("href"),
              "incident offers its CSV export")
        ui.shot("incident")
        # The account whose password the attacker had: its logins section.
        ui.go("#/account/user07%40example.test", "account")
        inc = ui.d.find_elements(By.CSS_SELECTOR, "#account-incidents a")
        check(bool(inc) and inc[0].text.startswith("inc-"),
              "an entered account's page names its incident")

    # Logins: block an address from the page, see it with its expiry.
    ui.go("#/logins", "logins")
    f = ui.d.find_element(By.ID, "block-form")
    f.find_element(By.NAME, "ip").send_keys("198.51.100.0/24")
    f.find_element(By.NAME, "reason").send_keys("web UI test <b>ticket</b>")
    f.find_element(By.NAME, "seconds").send_keys("3600")
    f.find_element(By.CSS_SELECTOR, "button").click()
    ok = ui.wait(lambda: "198.51.100.0/24" in ui.text("#page"), "blocked address listed")
    check(ok and "web UI test <b>ticket</b>" in ui.text("#page"),
          "address blocked from the Logins page, listed with its reason as text")
    ui.shot("logins")

    # Logins: add a range to the allowlist with an expiry, then remove it.
    f = ui.d.find_element(By.ID, "allow-form")
    f.find_element(By.NAME, "net").send_keys("192.0.2.7/24")
    f.find_element(By.NAME, "reason").send_keys("office <i>NAT</i>")
    f.find_element(By.NAME, "expires").send_keys("3600")
    f.find_element(By.CSS_SELECTOR, "button").click()
    ok = ui.wait(lambda: "192.0.2.0/24" in ui.text("#allowlist"), "allowlisted range listed")
    check(ok and "office <i>NAT</i>" in ui.text("#allowlist"),
          "range allowlisted from the Logins page, listed with its reason as text")
    if ok:
        ui.d.find_element(By.CSS_SELECTOR, "#allowlist button").click()
        check(ui.wait(lambda: not ui.d.find_elements(By.ID, "allowlist"), "allowlist emptied"),
              "allowlist entry removed from the Logins page")

    # Domains: the inbound counts and the DMARC sources view.
    ui.go("#/domains/example.test", "domains")
    check("example.test" in ui.text("#domain-result"), "domains page shows the DMARC sources view")
    ui.d.find_element(By.ID, "domain-check-run").click()
    ok = ui.wait(lambda: "example.test:" in ui.text("#domain-check"), "domain check shown")
    check(ok and ui.d.find_elements(By.CSS_SELECTOR, "#domain-check .msg.err") and
          ui.d.find_elements(By.CSS_SELECTOR, "#domain-check li.finding .sev"),
          "domain check: findings with severity, incomplete state shown (no DNS)",
          ui.text("#domain-check")[:300])
    ui.shot("domains")

    # Scan: upload an .eml, see the verdict.
    ui.go("#/scan", "scan")
    ui.d.find_element(By.ID, "eml").send_keys(eml)
    ui.d.find_element(By.ID, "scan-ip").send_keys("127.0.0.1")
    ui.d.find_element(By.CSS_SELECTOR, "#page form button").click()
    ok = ui.wait(lambda: "dmarc" in ui.text("#scan-result"), "scan verdict shown")
    t = ui.text("#scan-result") if ok else ""
    check(ok and "link-text-mismatch" in t and "phishing" in t,
          "scan page shows the verdict of the uploaded message with its reasons", t[:300])
    ui.shot("scan")

    # Japanese.
    Select(ui.d.find_element(By.ID, "lang")).select_by_value("ja")
    ui.go("#/overview", "overview")
    check("概要" in ui.text("#page h1"), "language switch: the overview in Japanese")
    time.sleep(0.5)
    ui.shot("overview-ja")
    ui.go("#/account/" + urllib.parse.quote(restricted, safe=""), "account")
    ui.shot("account-ja")
    Select(ui.d.find_element(By.ID, "lang")).select_by_value("en")


def step_release(ui, login):
    if not ui.sign_in():
        return
    ui.go("#/account/" + urllib.parse.quote(login, safe=""), "account")
    f = ui.d.find_element(By.ID, "cred-form")
    f.find_element(By.NAME, "source").send_keys("helpdesk call (web UI test)")
    f.find_element(By.CSS_SELECTOR, "button").click()
    ok = ui.wait(lambda: "Password change recorded" in ui.text("#flash"), "credential change recorded")
    check(ok, "password change recorded with the mouse")
    ui.wait(lambda: ui.page_is("account") and ui.d.find_elements(By.ID, "release-form"), "page back")
    time.sleep(0.3)
    f = ui.d.find_element(By.ID, "release-form")
    Select(f.find_element(By.NAME, "held")).select_by_value("release")
    f.find_element(By.NAME, "reason").send_keys("customer changed the password")
    f.find_element(By.CSS_SELECTOR, "button").click()
    ok = ui.wait(lambda: "Released" in ui.text("#flash"), "release answered")
    check(ok, "released with the mouse", ui.text("#flash"))
    ui.wait(lambda: ui.d.find_elements(By.CSS_SELECTOR, "h1 .state.probation"), "probation shown")
    check(bool(ui.d.find_elements(By.CSS_SELECTOR, "h1 .state.probation")),
          "the page shows the account on probation")
    ui.shot("released")


def main():
    step, base, token, shots = sys.argv[1:5]
    os.makedirs(shots, exist_ok=True)
    ui = None
    try:
        ui = UI(base, token, shots)
        if step == "inspect":
            step_inspect(ui, *sys.argv[5:9])
        elif step == "release":
            step_release(ui, sys.argv[5])
        errs = [e for e in ui.d.get_log("browser")
                if e.get("level") == "SEVERE" and "favicon" not in e.get("message", "")
                and "/ui/session" not in e.get("message", "")
                and "403" not in e.get("message", "")]
        check(not errs, "%s: no script errors in the browser console" % step, json.dumps(errs)[:300])
    except WebDriverException as e:
        check(False, "%s: the browser ran" % step, str(e))
    finally:
        if ui:
            ui.quit()


if __name__ == "__main__":
    main()
