"""test_web.py - the web page at / in a real browser.

Three meshq-agent processes form a mesh on loopback; a producer keeps
publishing to a queue on n1 and, after a while, a consumer on n2
drains it. Headless Chromium (driven by Selenium) opens n1's page and
the test reads what a person would see: the three agents drawn and up,
and the queue's row with a depth that moves and a chart of it.

Usage: test_web.py BUILD_DIR [SCREENSHOT.png]
Exit 77 (skipped) only when Selenium or Chromium is not installed.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    print("skipped: python3-selenium is not installed (Makefile PACKAGES)")
    sys.exit(77)

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMEDRIVER) or not os.path.exists(CHROMIUM):
    print("skipped: chromium and chromium-driver are not installed")
    sys.exit(77)

BUILD = sys.argv[1]
SHOT = sys.argv[2] if len(sys.argv) > 2 else None
AGENT = os.path.join(BUILD, "agents", "meshq-agent")
TOOL = os.path.join(BUILD, "tools", "meshq")
QUEUE = "work"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def meshq(control, *args, stdin=None, timeout=30):
    return subprocess.run([TOOL, "--agent", control, *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def wait(what, check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


class Mesh:
    def __init__(self, count):
        self.dir = tempfile.mkdtemp(prefix="meshq-web-")
        self.mesh = "web-%d" % os.getpid()
        self.ports = [free_port() for _ in range(count)]
        self.procs = []
        self.controls = []

    def start(self):
        for i, port in enumerate(self.ports):
            name = "n%d" % (i + 1)
            control = "ipc://%s/%s.ipc" % (self.dir, name)
            seeds = ",".join("tcp://127.0.0.1:%d" % p for p in self.ports
                             if p != port)
            log = open(os.path.join(self.dir, name + ".log"), "w")
            self.procs.append(subprocess.Popen(
                [AGENT, "--name", name, "--data",
                 os.path.join(self.dir, name), "--control", control,
                 "--mesh", self.mesh, "--port", str(port), "--seeds", seeds,
                 "--no-beacon", "--http", "127.0.0.1:0", "--amqp", "",
                 "--metrics", ""],
                stdout=log, stderr=subprocess.STDOUT))
            self.controls.append(control)
        for control in self.controls:
            wait("an agent to answer",
                 lambda: meshq(control, "status").returncode == 0, 20)

    def status(self, i):
        out = meshq(self.controls[i], "--json", "status")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.environ.get("MESHQ_TEST_LOGS"):
            print("logs kept in", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def peers_up(mesh, i):
    out = meshq(mesh.controls[i], "--json", "list_peers")
    if out.returncode:
        return 0
    rows = json.loads(out.stdout)
    rows = rows.get("peers", rows) if isinstance(rows, dict) else rows
    return sum(1 for row in rows if row.get("state") == "up")


def producer(control, stop):
    # About 400 messages a second, in bursts, until told to stop.
    while not stop.is_set():
        meshq(control, "publish", "--routing-key", QUEUE, "--count", "100",
              "x" * 100)
        time.sleep(0.25)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1100,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # The page's fetch() calls carry the same login as the page.
    token = base64.b64encode(b"guest:guest").decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Authorization": "Basic " + token}})
    return driver


def queue_ready(driver):
    # Read in one script: the page redraws the table at each refresh, so
    # a row found by one call may be gone (stale) by the next.
    text = driver.execute_script(
        "const row = document.querySelector("
        "'#queues tr[data-queue=\"%s\"]');"
        "return row ? row.querySelectorAll('td')[2].textContent : null;"
        % QUEUE)
    return None if text is None else int(text)


def main():
    mesh = Mesh(3)
    stop = threading.Event()
    driver = None
    try:
        mesh.start()
        for i in range(3):
            wait("n%d to see both peers up" % (i + 1),
                 lambda i=i: peers_up(mesh, i) == 2, 30)
        out = meshq(mesh.controls[0], "declare_queue", QUEUE)
        assert out.returncode == 0, out.stderr
        http = mesh.status(0)["http"]
        thread = threading.Thread(target=producer,
                                  args=(mesh.controls[0], stop))
        thread.start()

        driver = browser()
        driver.get("http://%s/" % http)
        name = wait("the page to name its agent",
                    lambda: driver.find_element(By.ID, "name").text, 20)
        assert name == "n1", "the page names agent %r" % name

        # The mesh: three agents drawn, all up, n1 marked as this one.
        def drawn():
            labels = [e.text for e in driver.find_elements(
                By.CSS_SELECTOR, "#mesh text.node")]
            return sorted(labels) if len(labels) == 3 else None
        assert wait("three agents drawn", drawn, 20) == ["n1", "n2", "n3"]
        circles = driver.find_elements(By.CSS_SELECTOR, "#mesh circle")
        states = [c.get_attribute("class") for c in circles]
        assert all(s.split()[0] == "up" for s in states), states
        assert sum("self" in s for s in states) == 1, states
        alarms = driver.find_element(By.ID, "alarms").text
        assert alarms == "", "alarms shown: %r" % alarms

        # The queue's depth grows while only the producer runs...
        first = wait("the queue's row", lambda: queue_ready(driver), 20)
        grown = wait("the depth to grow", lambda: (
            queue_ready(driver) or 0) > first + 100 and queue_ready(driver),
            30)
        print("depth on the page: %d, then %d" % (first, grown))

        # ...and falls once a consumer on another agent drains it.
        stop.set()
        thread.join()
        consumer = subprocess.Popen(
            [TOOL, "--agent", mesh.controls[1], "consume", QUEUE,
             "--prefetch", "500"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            low = wait("the depth to fall", lambda: (
                queue_ready(driver) is not None and
                queue_ready(driver) < grown // 2 and
                str(queue_ready(driver))), 60)
        finally:
            consumer.terminate()
            consumer.wait(10)
        print("after a consumer on n2: %s" % low)
        points = driver.find_element(
            By.CSS_SELECTOR, '#queues tr[data-queue="%s"] polyline' % QUEUE
        ).get_attribute("points").split()
        assert len(points) >= 3, "the depth chart has %d points" % len(points)
        if SHOT:
            driver.save_screenshot(SHOT)
            print("screenshot:", SHOT)
        print("ok: the page shows 3 agents up and the depth of '%s' "
              "moving (%d -> %d -> %s)" % (QUEUE, first, grown, low))
    finally:
        stop.set()
        if driver:
            driver.quit()
        mesh.stop()


if __name__ == "__main__":
    main()
