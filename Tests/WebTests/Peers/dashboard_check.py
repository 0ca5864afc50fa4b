"""Opens the dashboard in headless Chromium (selenium, chromium-driver) and
checks that it shows the line, its slave and a value that changes on the
slave, without the page being loaded again. Saves a screenshot.

usage: dashboard_check.py URL DEVICE MEMBER SCREENSHOT.png
prints a JSON object: what it saw.
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


# Read in the page, in one script: the page rebuilds its tables every second,
# so an element found first and read after may be gone by then.
def value_of(driver, device, member):
    return driver.execute_script(
        "const cell = document.querySelector(arguments[0]); return cell ? cell.textContent : null",
        f'tr[data-device="{device}"][data-member="{member}"] td.value')


def attributes(driver, selector, name):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.getAttribute(arguments[1]))", selector, name)


def count(driver, selector):
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def wait_for(condition, seconds):
    end = time.time() + seconds
    while time.time() < end:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    return None


def main():
    url, device, member, screenshot = sys.argv[1:5]
    seen = {}
    driver = browser(1280, 1000)
    try:
        driver.get(url)
        driver.execute_script("window.loadedOnce = 'yes'")
        first = wait_for(lambda: (v := value_of(driver, device, member)) not in (None, "–") and v, 45)
        seen["first"] = first
        seen["changed"] = wait_for(lambda: (v := value_of(driver, device, member)) not in (None, "–", first) and v, 45)
        seen["same_page"] = driver.execute_script("return window.loadedOnce") == "yes"
        seen["lines"] = attributes(driver, "section.line", "data-line")
        seen["slaves"] = attributes(driver, "tr[data-slave]", "data-slave")
        seen["line_up"] = count(driver, "section.line .pill.up") > 0
        seen["chart"] = count(driver, "section.line svg")
        seen["console_errors"] = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        driver.save_screenshot(screenshot)
        # A phone's width: nothing wider than the screen but the tables' own scrolling.
        driver.set_window_size(390, 844)
        time.sleep(0.5)
        seen["phone_overflow"] = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
    finally:
        driver.quit()
    print(json.dumps(seen))


main()
