"""The GitHub setup page in headless Chromium (Debian's chromium and chromedriver): from the
app's install/start, through the simulated GitHub's install screen, to the setup page, which
lists the installation's repositories and completes the connection with the person's token."""

from __future__ import annotations

import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import local_demo, make_client

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser_demo(tmp_path_factory):
    with local_demo(tmp_path_factory) as d:
        yield d


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM) or not shutil.which(CHROMEDRIVER):
        pytest.fail(
            "headless Chromium is needed: apt-get install chromium chromium-driver", pytrace=False
        )
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_install_start_to_a_connected_app_through_the_setup_page(browser_demo, browser):
    owner = make_client(browser_demo, "owner")
    app = browser_demo["unconnected_app_id"]
    start = owner.deployments.deploy_get_api_v1_apps_by_app_id_git_github_install_start(
        path_params={"appID": app})
    assert start["status"] == 302, start

    # GitHub's install screen (simulated): install on the organisation.
    browser.get(start["location"])
    WebDriverWait(browser, 20).until(ready.element_to_be_clickable((By.ID, "install-axhub-demo")))
    browser.find_element(By.ID, "install-axhub-demo").click()

    # The App's Setup URL: the page of axhub-local, with the installation and the state.
    wait = WebDriverWait(browser, 20)
    wait.until(ready.url_contains("/local/github/setup?installation_id=1"))
    assert "state=" in browser.current_url
    browser.find_element(By.ID, "token").send_keys(browser_demo["users"]["owner"]["token"])
    browser.find_element(By.ID, "load").click()
    wait.until(ready.visibility_of_element_located((By.ID, "repo")))
    repos = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "repo")).options]
    assert repos == ["axhub-demo/hello", "axhub-demo/site"]
    Select(browser.find_element(By.ID, "repo")).select_by_value("axhub-demo/site")
    assert browser.find_element(By.ID, "branch").get_attribute("value") == "main"
    browser.find_element(By.ID, "connect").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "result"), "Connected"))
    assert browser.find_element(By.ID, "result").text == (
        f"Connected axhub-demo/site@main to app {app}")

    status = owner.deployments.deploy_get_api_v1_apps_by_app_id_git_connection(
        path_params={"appID": app})
    assert (status["connected"], status["repoFullName"], status["branch"]) == (
        True, "axhub-demo/site", "main")

    # The state was used: the same page cannot connect again with it.
    browser.find_element(By.ID, "connect").click()
    wait.until(ready.text_to_be_present_in_element((By.ID, "result"), "Could not connect"))
